//! The one error type of `trt-sys`: every loader, CUDA and shim failure is an [`Error`].
//!
//! Each variant carries what a user needs to act on it (the library and every path tried, both versions of a
//! mismatch, the CUDA call and its error name), and its message says what to do.

use std::fmt::Write as _;
use std::path::PathBuf;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong below the safe `trt` crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No candidate file for a shared library could be found. `tried` lists every path (or bare name handed
    /// to the dynamic loader) in the order it was tried.
    #[error("{library} not found; tried:{}\n{hint}", list_paths(tried))]
    LibraryNotFound {
        /// File name looked for, e.g. `libnvinfer.so.10`.
        library: String,
        /// Every candidate tried, in order.
        tried: Vec<PathBuf>,
        /// What to set or install to fix it.
        hint: String,
    },

    /// A library file exists but the dynamic loader refused it (missing dependency, wrong architecture, …).
    #[error("cannot open {}: {message}", path.display())]
    LibraryOpen {
        /// The file handed to the dynamic loader.
        path: PathBuf,
        /// The dynamic loader's message (and context added by the loader).
        message: String,
    },

    /// A library opened but lacks an exported symbol that we need.
    #[error("{} does not export `{symbol}`: is it the right library and release?", library.display())]
    SymbolMissing {
        /// The library that was searched.
        library: PathBuf,
        /// The missing symbol.
        symbol: String,
    },

    /// The loaded TensorRT library's version is not the one the shim was compiled for.
    #[error(
        "TensorRT version mismatch: {} is TensorRT {loaded}, expected TensorRT {compiled}; point TRT_LIBRARY or \
         TRT_LIB_DIR at a matching library, or rebuild trt-sys against the TensorRT {loaded} headers \
         (TENSORRT_INCLUDE_DIR)",
        path.display()
    )]
    VersionMismatch {
        /// What was expected, e.g. `10.3.0` or `10.3.0 (compiled headers)` or `11.x (from the file name)`.
        compiled: String,
        /// What the library reports about itself.
        loaded: String,
        /// The library file.
        path: PathBuf,
    },

    /// The standard plugin library (`libnvinfer_plugin`) reports a version that cannot serve the loaded runtime or the
    /// compiled headers.
    #[error(
        "{} is the TensorRT plugin library of {plugin}, which cannot serve {expected}; point TRT_LIB_DIR at the \
         libnvinfer_plugin that ships with the loaded TensorRT",
        path.display()
    )]
    PluginVersionMismatch {
        /// What the plugin library reports (its own `getInferLibVersion`), e.g. `TensorRT 8.5.3`.
        plugin: String,
        /// What it had to serve, e.g. `TensorRT 8.6.0 (the compiled headers)`.
        expected: String,
        /// The plugin library file.
        path: PathBuf,
    },

    /// A version integer reported by a library (or given to [`crate::version::Version::decode`]) is not a
    /// valid TensorRT version encoding.
    #[error(
        "{origin} returned {value}, which is not a TensorRT version \
         (8.x encodes M*1000+m*100+p, 10 and later M*10000+m*100+p)"
    )]
    InvalidVersion {
        /// The raw integer.
        value: i64,
        /// Where it came from, e.g. `getInferLibVersion() of /usr/lib/libnvinfer.so.10`.
        origin: String,
    },

    /// This build of `trt-sys` has no TensorRT shim because no TensorRT headers were found at build time.
    #[error(
        "trt-sys was built without TensorRT headers, so TensorRT cannot be used; \
         set TENSORRT_INCLUDE_DIR (or TENSORRT_ROOT) and CUDA_INCLUDE_DIR and rebuild"
    )]
    TensorRtNotCompiled,

    /// The feature is not available in this TensorRT release.
    #[error("{what} is not supported by TensorRT {version}")]
    Unsupported {
        /// The feature.
        what: String,
        /// The TensorRT version that lacks it.
        version: String,
    },

    /// A CUDA runtime call failed.
    #[error("{call} failed: {name} ({code}): {message}")]
    Cuda {
        /// The CUDA runtime function, e.g. `cudaMalloc`.
        call: &'static str,
        /// The raw `cudaError_t` value.
        code: i32,
        /// `cudaGetErrorName`, e.g. `cudaErrorMemoryAllocation`.
        name: String,
        /// `cudaGetErrorString`.
        message: String,
    },

    /// No usable CUDA driver or device: checked before any TensorRT factory is called.
    #[error("no usable CUDA device: {reason}")]
    NoCudaDevice {
        /// What is wrong with CUDA here (names the CUDA error or the missing driver) and what to do.
        reason: String,
    },

    /// A custom plugin library cannot be used (not a shared library, another architecture or TensorRT major, refused
    /// by the dynamic loader or the plugin registry).
    #[error("plugin library {}: {message}", path.display())]
    PluginLibrary {
        /// The file named by the user.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },

    /// A TensorRT call failed; `message` carries the last error(s) TensorRT logged.
    #[error("TensorRT {call} failed: {message}")]
    TensorRt {
        /// The TensorRT method or factory.
        call: String,
        /// TensorRT's own logged error(s).
        message: String,
    },
}

fn list_paths(tried: &[PathBuf]) -> String {
    if tried.is_empty() {
        return " (no candidate paths)".to_owned();
    }
    let mut s = String::new();
    for p in tried {
        let _ = write!(s, "\n  {}", p.display());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_lists_every_path_in_order() {
        let e = Error::LibraryNotFound {
            library: "libnvinfer.so.10".into(),
            tried: vec![
                "/a/libnvinfer.so.10".into(),
                "libnvinfer.so.10".into(),
                "/b/libnvinfer.so.10".into(),
            ],
            hint: "set TRT_LIB_DIR".into(),
        };
        let msg = e.to_string();
        let a = msg.find("/a/libnvinfer.so.10").expect("first path listed");
        let bare = msg.find("\n  libnvinfer.so.10").expect("bare name listed");
        let b = msg.find("/b/libnvinfer.so.10").expect("last path listed");
        assert!(a < bare && bare < b, "{msg}");
        assert!(msg.ends_with("set TRT_LIB_DIR"), "{msg}");
    }

    #[test]
    fn version_mismatch_names_both_versions_and_the_file() {
        let e = Error::VersionMismatch {
            compiled: "10.3.0".into(),
            loaded: "11.4.0".into(),
            path: "/x/libnvinfer.so.11".into(),
        };
        let msg = e.to_string();
        for needle in ["10.3.0", "11.4.0", "/x/libnvinfer.so.11"] {
            assert!(msg.contains(needle), "{needle} missing from {msg}");
        }
    }

    #[test]
    fn not_compiled_names_the_variables_to_set() {
        let msg = Error::TensorRtNotCompiled.to_string();
        for var in ["TENSORRT_INCLUDE_DIR", "TENSORRT_ROOT", "CUDA_INCLUDE_DIR"] {
            assert!(msg.contains(var), "{var} missing from {msg}");
        }
    }

    #[test]
    fn error_is_send_sync_and_cloneable_for_caching() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<Error>();
    }
}
