//! CPU tests with the real libcudart and the real TensorRT lean runtime, on a machine without a GPU: every entry
//! point returns a clear error, nothing crashes. Run with `TRT_TEST_CUDART_DIR=… TRT_TEST_LEAN_LIB=… cargo test -p
//! trt --test real_libs -- --ignored`.

mod common;

use trt::cuda::Device;
use trt::{Library, LoadOptions};

fn assert_no_device(e: &trt::Error) {
    assert!(e.is_no_device(), "expected NoCudaDevice, got: {e:?}");
    let msg = e.to_string();
    assert!(msg.contains("no usable CUDA device"), "{msg}");
}

#[test]
#[ignore = "needs TRT_TEST_* libraries"]
fn reallib_cuda_versions_load_without_a_gpu() {
    common::setup(Some("TRT_TEST_LEAN_LIB"));
    let v = Device::versions().expect("libcudart loads");
    assert!(v.runtime >= 11000, "runtime version {}", v.runtime);
    assert!(
        v.runtime_path.to_string_lossy().contains("libcudart"),
        "{}",
        v.runtime_path.display()
    );
}

#[test]
#[ignore = "needs TRT_TEST_* libraries"]
fn reallib_device_queries_give_no_cuda_device() {
    common::setup(Some("TRT_TEST_LEAN_LIB"));
    assert_no_device(&Device::count().unwrap_err());
    assert_no_device(&Device::new(0).unwrap_err());
    assert_no_device(&Device::new(3).unwrap_err());
}

#[test]
#[ignore = "needs TRT_TEST_* libraries"]
fn reallib_library_over_lean_runtime_errors_cleanly() {
    common::setup(Some("TRT_TEST_LEAN_LIB"));
    let e = Library::load().unwrap_err();
    assert_no_device(&e);
    let e = Library::load_with(LoadOptions {
        init_plugins: true,
        ..LoadOptions::default()
    })
    .unwrap_err();
    assert_no_device(&e);
}
