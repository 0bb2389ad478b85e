//! Shared setup for tests that use the real NVIDIA libraries named by `TRT_TEST_*` variables.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Once;

/// Reads a required variable; panics (fails the test loudly) when it is missing.
pub fn required(var: &str, what: &str) -> PathBuf {
    let v = std::env::var_os(var).unwrap_or_else(|| panic!("{var} is not set: point it at {what}"));
    let p = PathBuf::from(v);
    assert!(p.exists(), "{var}={} does not exist", p.display());
    p
}

static INIT: Once = Once::new();

/// Points the trt-sys loader at the test libraries (once per process, before any library is opened).
/// `trt_library_var` names the variable holding the libnvinfer file to use, if any.
pub fn setup(trt_library_var: Option<&str>) {
    INIT.call_once(|| {
        let cudart = required(
            "TRT_TEST_CUDART_DIR",
            "the directory holding libcudart.so.<N>",
        );
        // SAFETY-free in edition 2021; done once before any other thread of this test binary reads the environment
        // through the loader (all tests call setup() first).
        std::env::set_var("CUDA_LIB_DIR", cudart);
        if let Some(var) = trt_library_var {
            let lib = required(var, "a libnvinfer*.so file");
            std::env::set_var("TRT_LIBRARY", lib);
        }
    });
}
