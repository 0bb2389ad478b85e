//! The process-wide, environment-driven path (`loader::tensorrt()`, `loader::cudart()`,
//! `cuda::check_device_usable()`), as `trt-inspect system` and the shim use it. Its own test binary, because the
//! search configuration is read from the environment once per process.
//!
//! Needs `TRT_TEST_LEAN_LIB` (TensorRT 11.x lean runtime) and `TRT_TEST_CUDART_DIR` (libcudart directory) on a
//! machine without a GPU: `cargo test -p trt-sys --test process_wide_loading -- --ignored`.

use std::path::PathBuf;

use trt_sys::loader::{self, RuntimeFlavor};
use trt_sys::Error;

fn required_env(var: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => panic!("{var} is not set: this test needs the real library; .ci/run sets it"),
    }
}

#[test]
#[ignore = "needs TRT_TEST_LEAN_LIB and TRT_TEST_CUDART_DIR (real libraries, no GPU)"]
fn reallib_lean_runtime_from_trt_library_and_cuda_check_without_gpu() {
    let lean = required_env("TRT_TEST_LEAN_LIB");
    let cudart_dir = required_env("TRT_TEST_CUDART_DIR");
    // The only test in this binary: nothing else reads the environment concurrently.
    std::env::set_var("TRT_LIBRARY", &lean);
    std::env::set_var("CUDA_LIB_DIR", &cudart_dir);
    std::env::remove_var("TRT_LIB_DIR");

    let trt = loader::tensorrt().expect("TRT_LIBRARY names the lean runtime");
    assert_eq!(trt.flavor, RuntimeFlavor::Lean);
    assert_eq!(trt.version.to_string(), "11.4.0");
    assert_eq!(trt.nvinfer.path(), lean.as_path());
    assert!(trt.entry.create_infer_builder.is_none());
    // Cached: the same object every time.
    assert!(std::ptr::eq(trt, loader::tensorrt().unwrap()));

    // The parser needs the full runtime: a clear error, not a dlopen failure.
    let err = loader::onnx_parser().unwrap_err();
    assert!(
        matches!(&err, Error::Unsupported { what, .. } if what.contains("lean")),
        "{err:?}"
    );

    let rt = loader::cudart().expect("libcudart from CUDA_LIB_DIR");
    assert_eq!(rt.path().parent(), Some(cudart_dir.as_path()));
    let err = trt_sys::cuda::check_device_usable().expect_err("no GPU on this machine");
    let Error::NoCudaDevice { reason } = &err else {
        panic!("unexpected {err:?}")
    };
    assert!(reason.contains("driver"), "{reason}");
    // Repeatable, never a crash.
    assert_eq!(trt_sys::cuda::check_device_usable().unwrap_err(), err);

    // Without a driver, the result layer's calls that need one fail with a CUDA error, never a crash.
    // SAFETY: a plain allocation request; nothing is dereferenced.
    let err = unsafe { trt_sys::cuda::memory::alloc(16) }.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Cuda {
                call: "cudaMalloc",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(trt_sys::cuda::stream::create(trt_sys::cuda::stream::flags::NON_BLOCKING).is_err());
}
