//! Raw FFI to TensorRT and the CUDA runtime, for the `trt` crate (the safe API and the only crate that uses this one).
//! Besides the raw bindings it holds the policy that must sit next to them: which library files are accepted
//! (product, major and minor against the compiled headers), the shim's safe wrappers over the cxx bridges
//! (`Result` for every call, panics never unwinding into C++), and the plugin-library checks made before `dlopen`.
//!
//! - [`loader`] finds and opens `libnvinfer` (full, lean or dispatch runtime), `libnvonnxparser`,
//!   `libnvinfer_plugin` and `libcudart` at run time and resolves their C entry points; nothing links them.
//! - [`cuda`] holds the bindgen CUDA runtime bindings (committed, dynamically loaded) and the one result layer,
//!   grouped by area (`device`, `memory`, `stream`, `event`, `graph`).
//! - [`version`] is the one TensorRT [`Version`] type.
//! - `shim` holds the cxx bridges to the C++ TensorRT shim (compiled only when TensorRT headers were found).
//! - [`plugin_lib`] loads custom plugin libraries (`--plugins`) into the loaded TensorRT.
//! - [`error`] is the one error type.

pub mod cuda;
pub mod error;
pub mod loader;
pub mod plugin_lib;
pub mod shim;
pub mod version;

pub use error::{Error, Result};
pub use version::{Product, Version};
