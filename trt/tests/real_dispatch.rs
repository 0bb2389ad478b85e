//! Like `real_libs.rs` with the TensorRT dispatch runtime (separate process: the loader caches the library).

mod common;

#[test]
#[ignore = "needs TRT_TEST_* libraries"]
fn reallib_library_over_dispatch_runtime_errors_cleanly() {
    common::setup(Some("TRT_TEST_DISPATCH_LIB"));
    let e = trt::Library::load().unwrap_err();
    assert!(e.is_no_device(), "expected NoCudaDevice, got: {e:?}");
    let libs = trt_sys::loader::tensorrt().expect("dispatch runtime loads");
    assert_eq!(libs.flavor, trt_sys::loader::RuntimeFlavor::Dispatch);
}
