//! onnxruntime asked for but not there (or not built in): a clear error naming where it looked and the fix; `auto`
//! runs on tract.
//! (Its own test binary: the library is looked up once per process, and this one points it at nothing.)

use yolo_onnx::exec::{make_inputs, onnxruntime_status, Backend, ExecOptions, Executor, InputKind};
use yolo_onnx::testgen;

#[test]
fn missing_onnxruntime_is_an_error_for_onnxruntime_and_tract_for_auto() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("libonnxruntime.so.1.32.0");
    // The only test in this binary, before any lookup: nothing else reads the environment concurrently.
    std::env::set_var("ORT_DYLIB_PATH", &missing);
    let why = onnxruntime_status().unwrap_err();
    // Without the `onnxruntime` feature the build says so instead of looking.
    let built_in = cfg!(feature = "onnxruntime");
    let needle = if built_in {
        missing.display().to_string()
    } else {
        "feature is off".to_string()
    };
    assert!(why.contains(&needle), "{why}");
    assert!(
        !built_in || why.contains("pip install onnxruntime") && why.contains("ORT_DYLIB_PATH"),
        "{why}"
    );
    let m = testgen::sample("repconv", 1).unwrap();
    let options = |backend| ExecOptions {
        backend,
        ..Default::default()
    };
    let e = Executor::new(&m, &options(Backend::OnnxRuntime))
        .unwrap_err()
        .to_string();
    assert!(e.contains("onnxruntime") && e.contains(&needle), "{e}");
    let auto = Executor::new(&m, &options(Backend::Auto)).unwrap();
    assert_eq!(auto.backend(), Backend::Tract);
    let feed = make_inputs(auto.inputs(), InputKind::Image, 1).unwrap();
    let tract = Executor::new(&m, &options(Backend::Tract)).unwrap();
    assert_eq!(auto.run(&feed).unwrap(), tract.run(&feed).unwrap());
}
