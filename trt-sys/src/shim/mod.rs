//! TensorRT through the C++ shim (`trt-sys/cpp/`), one module and one cxx bridge per area, as in `cpp/`: `common`
//! (the shared enums and what the release offers), `logger`, `host_memory`, `builder`, `parser` and `runtime`. Every public item is re-exported here (`trt_sys::shim::Logger`, `trt_sys::shim::DataType`, ...).
//!
//! Plain Rust handles over the shim's objects, every fallible call returning [`Result`]. The same API exists in
//! every build: without TensorRT headers at build time (no `cfg(trt_shim)`) the handle types are uninhabited and
//! every constructor returns [`Error::TensorRtNotCompiled`], which names the variables to set.
//!
//! Before any TensorRT factory ([`Builder::new`], [`Runtime::new`], [`Parser::new`], [`init_plugins`]) the shim
//! loads the library ([`crate::loader`]), checks that its major equals the compiled headers' major
//! ([`Error::VersionMismatch`]) and that a CUDA driver and device are usable ([`crate::cuda::check_device_usable`]);
//! any error TensorRT logs while creating an object fails the creation even if a pointer came back.
//!
//! Lifetimes: every handle keeps what it was created from alive (an engine its runtime, a context its engine, all
//! of them their [`Logger`]), so drop order never matters. Thread safety follows TensorRT's rules: [`Runtime`] and
//! [`Engine`] are `Send + Sync`, [`ExecutionContext`] is `Send` only, builder-side objects are neither.
//!
//! The bridges (`<area>::ffi`, compiled only with `cfg(trt_shim)`) take shared types over from each other with
//! `type X = crate::shim::<area>::ffi::X;`: the enums from `common`, `ShimLogger` from `logger`, `ShimHostMemory`
//! from `host_memory`, `ShimNetwork` from `builder`. Raw TensorRT integers never cross: they differ between majors. Object
//! handles cross as `UniquePtr`, CUDA pointers/streams/events and loader entry points as `usize` addresses.

#![allow(clippy::missing_errors_doc)]

use std::path::Path;

use crate::error::{Error, Result};
use crate::version::Version;

/// `impl Debug` (the type name only: a native object has no printable state) and, with the shim, `Native` for a
/// handle type: `handle!(Engine => ffi::ShimEngine, |s| &s.inner.ptr)` names the shim type and where the handle
/// keeps its pointer.
macro_rules! handle {
    ($ty:ident => $shim:ty, |$s:ident| $ptr:expr) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }

        #[cfg(trt_shim)]
        impl $crate::shim::Native for $ty {
            type Shim = $shim;
            fn ptr(&self) -> &cxx::UniquePtr<$shim> {
                let $s = self;
                $ptr
            }
        }
    };
}

mod builder;
#[cfg(trt_shim)]
mod callbacks;
mod common;
mod host_memory;
mod logger;
mod parser;
mod runtime;
#[cfg(test)]
mod tests;

pub use builder::{
    Builder, BuilderConfig, Int8Calibrator, LayerDesc, Network, NetworkTensorDesc,
    OptimizationProfile, ProgressMonitor, TimingCache, COMPUTE_CAPABILITY_CURRENT,
};
pub use common::{
    builder_flag_available, capabilities, compute_capability_targets, tactic_source_available,
    BuilderFlag, CalibrationAlgorithm, Capabilities, DataType, DeviceType, HardwareCompatibility,
    MemoryPool, ParserErrorCode, ProfileSelector, ProfilingVerbosity, Severity, TacticSource,
    TensorFormat, TensorIoMode,
};
pub use host_memory::HostMemory;
pub use logger::Logger;
pub use parser::{Parser, ParserError};
pub use runtime::{
    init_plugins, load_plugin_library_via_registry, plugin_loggers_kept, Engine, EngineValidity,
    ExecutionContext, LayerTime, LayerTimes, Runtime, TensorDesc,
};

/// Uninhabited: stands in for the native handle when the shim is not compiled.
#[cfg(not(trt_shim))]
#[derive(Clone, Copy)]
enum Never {}

/// The native shim object behind a handle (implemented through `handle!`).
#[cfg(trt_shim)]
trait Native {
    /// The cxx opaque type.
    type Shim: cxx::memory::UniquePtrTarget;
    /// Where the handle keeps it.
    fn ptr(&self) -> &cxx::UniquePtr<Self::Shim>;
    /// The shim object. Never null: a factory that hands back null fails before a handle exists.
    fn shim(&self) -> &Self::Shim {
        self.ptr()
            .as_ref()
            .expect("shim factories never hand back null")
    }
}

/// The TensorRT version of the headers the shim was compiled against; `None` without a shim.
pub fn compiled_version() -> Option<Version> {
    crate::loader::compiled_version()
}

/// The full header version including the build number ("10.3.0.26"), `None` without a shim.
pub fn compiled_version_string() -> Option<&'static str> {
    option_env!("TRT_SYS_TENSORRT_VERSION")
}

#[cfg_attr(not(trt_shim), allow(dead_code))]
fn compiled_version_text() -> String {
    compiled_version().map_or_else(|| "(not compiled)".to_owned(), |v| v.to_string())
}

/// Turns a shim exception into an [`Error`]: "unsupported: ..." messages become [`Error::Unsupported`].
#[cfg(trt_shim)]
fn map_exception(call: &str, e: &cxx::Exception) -> Error {
    let msg = e.what();
    if let Some(what) = msg.strip_prefix("unsupported: ") {
        return Error::Unsupported {
            what: what.to_owned(),
            version: compiled_version_text(),
        };
    }
    Error::TensorRt {
        call: call.to_owned(),
        message: msg.to_owned(),
    }
}

/// What a TensorRT factory is for: building (builder, parser) or running (runtime, plugins).
#[cfg(trt_shim)]
#[derive(Clone, Copy, PartialEq, Eq)]
enum FactoryUse {
    Build,
    Run,
    /// A runtime used only to judge engines (`getEngineValidity`), never to deserialize them.
    Inspect,
}

/// Loads TensorRT and runs the checks every factory needs: the loaded library serves the compiled headers
/// ([`check_compiled`]) and CUDA is usable (a factory called without a usable driver or device can hand back an
/// unusable object). Exception: TensorRT-RTX builds ahead of time without a GPU, so its builder and parser need only
/// libcudart opened (TensorRT-RTX opens it by its soname, and finds the one already loaded).
#[cfg(trt_shim)]
fn prepare_factory(purpose: FactoryUse) -> Result<&'static crate::loader::TensorRtLibs> {
    let libs = crate::loader::tensorrt()?;
    check_compiled(compiled_version(), libs.version, libs.nvinfer.path())?;
    if purpose != FactoryUse::Run && libs.version.is_rtx() {
        crate::loader::cudart()?;
    } else {
        crate::cuda::check_device_usable()?;
    }
    Ok(libs)
}

/// Error unless the loaded library can serve the compiled headers: same product and major, minor not older
/// ([`Version::serves`]). An older minor would be called through vtable slots it does not have.
#[cfg_attr(not(trt_shim), allow(dead_code))]
fn check_compiled(compiled: Option<Version>, loaded: Version, path: &Path) -> Result<()> {
    let Some(compiled) = compiled else {
        return Err(Error::TensorRtNotCompiled);
    };
    if !loaded.serves(compiled) {
        return Err(Error::VersionMismatch {
            compiled: format!(
                "{} (compiled headers; the library must be {} {}.x with a minor of at least {})",
                compiled.label(),
                compiled.product,
                compiled.major,
                compiled.minor
            ),
            loaded: loaded.label(),
            path: path.to_path_buf(),
        });
    }
    Ok(())
}
