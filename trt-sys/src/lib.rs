//! Raw FFI to TensorRT and the CUDA runtime. No policy lives here: see the `trt` crate for the safe API.
//!
//! - [`loader`] finds and opens `libnvinfer` (full, lean or dispatch runtime), `libnvonnxparser`,
//!   `libnvinfer_plugin` and `libcudart` at run time and resolves their C entry points; nothing links them.
//! - [`cuda`] holds the bindgen CUDA runtime bindings (committed, dynamically loaded) and a thin result layer.
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
