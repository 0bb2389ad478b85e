//! `trt-onnx quantize` and `trt-build --int8 --calib` on generated YOLO-style models and generated image sets.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use yolo_onnx::quant::CalibrationCache;
use yolo_onnx::{fuse, FuseOptions, Model};

mod common;

use common::{calib_images as images, stderr};

fn onnx(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trt-onnx"))
        .args(args)
        .output()
        .expect("run trt-onnx")
}

/// `trt-onnx quantize <model> --calib <calib> -o <out> <extra>...`.
fn quantize(
    model: impl AsRef<Path>,
    calib: &Path,
    out: impl AsRef<Path>,
    extra: &[&str],
) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trt-onnx"))
        .arg("quantize")
        .arg(model.as_ref())
        .arg("--calib")
        .arg(calib)
        .arg("-o")
        .arg(out.as_ref())
        .args(extra)
        .output()
        .expect("run trt-onnx")
}

fn stdout_has(o: &Output, needle: &str) -> bool {
    String::from_utf8_lossy(&o.stdout).contains(needle)
}

fn fused_v7(dir: &Path) -> PathBuf {
    let mut m = yolo_onnx::testgen::yolov7_tiny_slice(4, 7);
    fuse(&mut m, &FuseOptions::default()).unwrap();
    let p = dir.join("v7.onnx");
    m.save(&p).unwrap();
    p
}

#[test]
fn quantize_writes_a_qdq_model_a_cache_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let model = fused_v7(dir.path());
    let calib = images(dir.path(), 10, 1);
    std::fs::write(calib.join("broken.png"), b"definitely not a png").unwrap();
    let (out, cache) = (dir.path().join("q.onnx"), dir.path().join("q.cache"));
    let args = [
        model.to_str().unwrap(),
        "--calib",
        calib.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--cache-trt",
        "8.5.3",
        "--held-out",
        "2",
        "--json",
    ];
    let o = onnx(&[
        "quantize", args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7],
        args[8], args[9], args[10], args[11],
    ]);
    common::assert_ok(&o);
    assert!(
        stderr(&o).contains("broken.png"),
        "skipped file is warned about: {}",
        stderr(&o)
    );
    let r = common::json(&o);
    assert_eq!(r["data"]["files_found"], 11);
    assert_eq!(r["data"]["skipped"].as_array().unwrap().len(), 1);
    assert_eq!(r["data"]["held_out_samples"], 2);
    let calibrated = r["data"]["calibration_samples"].as_u64().unwrap();
    assert!((8..=9).contains(&calibrated), "{calibrated}");
    assert_eq!(r["report"]["samples"], calibrated);
    let drift = &r["report"]["drift"][0];
    assert!(drift["cosine"].as_f64().unwrap() > 0.99, "{drift}");

    // The model: Q/DQ nodes, runs on the CPU executor.
    let q = Model::load(&out).unwrap();
    let n_q = q
        .graph()
        .nodes()
        .iter()
        .filter(|n| n.op_type == "QuantizeLinear")
        .count();
    assert!(n_q > 20, "{n_q} QuantizeLinear nodes");
    yolo_onnx::exec::Executor::new(&q, &Default::default()).unwrap();

    // The cache: TensorRT header, parses, one scale per tensor in the report, same values.
    let text = std::fs::read(&cache).unwrap();
    assert!(text.starts_with(b"TRT-8503-MinMaxCalibration\n"));
    let c = CalibrationCache::parse(&text, "q.cache").unwrap();
    let tensors = r["report"]["tensors"].as_array().unwrap();
    assert_eq!(c.scales.len(), tensors.len());
    for t in tensors {
        let s = c.scale(t["name"].as_str().unwrap()).unwrap();
        assert_eq!(s as f64, t["scale"].as_f64().unwrap() as f32 as f64);
        let amax = t["max"]
            .as_f64()
            .unwrap()
            .abs()
            .max(t["min"].as_f64().unwrap().abs());
        assert!(
            t["amax"].as_f64().unwrap() >= amax * 0.999,
            "minmax covers the range: {t}"
        );
    }

    // Same seed → byte-identical outputs.
    let (out2, cache2) = (dir.path().join("q2.onnx"), dir.path().join("q2.cache"));
    let o = onnx(&[
        "quantize",
        args[0],
        args[1],
        args[2],
        args[3],
        out2.to_str().unwrap(),
        args[5],
        cache2.to_str().unwrap(),
        args[7],
        args[8],
        args[9],
        args[10],
    ]);
    common::assert_ok(&o);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&out2).unwrap());
    assert_eq!(
        std::fs::read(&cache).unwrap(),
        std::fs::read(&cache2).unwrap()
    );
}

#[test]
fn npy_tensors_and_percentile() {
    let dir = tempfile::tempdir().unwrap();
    let model = fused_v7(dir.path());
    let calib = dir.path().join("npy");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for i in 0..3 {
        let a = yolo_onnx::exec::image_like(&[1, 3, 128, 128], &mut rng);
        trt_tools::calib_data::write_npy(&calib.join(format!("t{i}.npy")), &a).unwrap();
    }
    let back = trt_tools::calib_data::read_npy(&calib.join("t0.npy")).unwrap();
    assert_eq!(back.shape(), &[1, 3, 128, 128]);
    let out = dir.path().join("q.onnx");
    let o = quantize(
        &model,
        &calib,
        &out,
        &["--algo", "percentile", "--percentile", "99.9", "--json"],
    );
    common::assert_ok(&o);
    let r = common::json(&o);
    assert_eq!(r["report"]["algorithm"], "percentile 99.9");
    // Entropy in a debug build costs ~0.4 s per tensor: it is tested in yolo-onnx (tests/quant.rs).
    assert_eq!(r["data"]["calibration_samples"], 3);
    assert!(out.is_file());
}

fn assert_fails_cleanly(o: &Output, out: &Path, needles: &[&str]) {
    assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
    let e = stderr(o);
    for n in needles {
        assert!(e.contains(n), "`{n}` missing from: {e}");
    }
    assert!(!e.contains("panicked"), "{e}");
    assert!(
        !out.exists(),
        "nothing may be written at {} on failure",
        out.display()
    );
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bad_inputs_fail_with_clear_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = fused_v7(dir.path());
    let m = model.to_str().unwrap();
    let out = dir.path().join("out").join("q.onnx");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let o_s = out.to_str().unwrap();

    // Empty directory.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(empty.join("nested")).unwrap();
    let o = quantize(m, &empty, o_s, &[]);
    assert_fails_cleanly(&o, &out, &["empty", "no images"]);

    // Only unreadable images.
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("a.jpg"), b"\xff\xd8 truncated").unwrap();
    std::fs::write(bad.join("b.png"), b"").unwrap();
    let o = quantize(m, &bad, o_s, &[]);
    assert_fails_cleanly(&o, &out, &["none of the 2 files could be used", "a.jpg"]);

    // Tensor of the wrong size.
    let npy = dir.path().join("npy");
    trt_tools::calib_data::write_npy(
        &npy.join("x.npy"),
        &ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 3, 64, 64])),
    )
    .unwrap();
    let o = quantize(m, &npy, o_s, &[]);
    assert_fails_cleanly(&o, &out, &["x.npy", "[1, 3, 64, 64]", "[1, 3, 128, 128]"]);

    // --input-size that does not match the model.
    let imgs = images(dir.path(), 2, 5);
    let o = quantize(m, &imgs, o_s, &["--input-size", "640x640"]);
    assert_fails_cleanly(&o, &out, &["640x640", "128x128"]);

    // A model without quantizable operators.
    let g = tract_onnx::pb::GraphProto {
        name: "sig".into(),
        node: vec![yolo_onnx::graph::make_node(
            "Sigmoid",
            "s",
            &["images"],
            &["y"],
            vec![],
        )],
        input: vec![yolo_onnx::graph::make_value_info(
            "images",
            yolo_onnx::graph::DataType::Float,
            &[1, 3, 32, 32],
        )],
        output: vec![yolo_onnx::graph::make_value_info(
            "y",
            yolo_onnx::graph::DataType::Float,
            &[1, 3, 32, 32],
        )],
        ..Default::default()
    };
    let plain = dir.path().join("plain.onnx");
    Model::new(g, 13).save(&plain).unwrap();
    let o = quantize(&plain, &imgs, o_s, &[]);
    assert_fails_cleanly(&o, &out, &["no quantizable operator", "Sigmoid"]);
}

#[test]
fn trt_build_int8_calibrates_for_each_release() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = yolo_onnx::testgen::yolov7_tiny_slice(4, 2);
    // trt-build re-parameterizes itself: give it the unfused model.
    let p = dir.path().join("v7.onnx");
    m.save(&p).unwrap();
    let calib = images(dir.path(), 4, 9);
    let build = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_trt-build"))
            .current_dir(dir.path())
            .env("TRT_LIBRARY", dir.path().join("none/libnvinfer.so.10"))
            .env("CUDA_LIB_DIR", dir.path().join("none"))
            .env_remove("TRT_LIB_DIR")
            .args(args)
            .output()
            .unwrap()
    };
    // TensorRT 11: the Q/DQ model goes into the pipeline.
    let emitted = dir.path().join("emitted.onnx");
    let o = build(&[
        "v7.onnx",
        "--int8",
        "--calib",
        calib.to_str().unwrap(),
        "--dry-run",
        "--json",
        "--trt-release",
        "11.1",
        "--emit-onnx",
        emitted.to_str().unwrap(),
    ]);
    common::assert_ok(&o);
    let r = common::json(&o);
    let steps = common::step_names(&r);
    assert!(steps.iter().any(|s| s == "int8-qdq"), "{steps:?}");
    let q = Model::load(&emitted).unwrap();
    assert!(q
        .graph()
        .nodes()
        .iter()
        .any(|n| n.op_type == "DequantizeLinear"));

    // TensorRT 10.3: the cache is written for the builder's calibrator.
    let cache = dir.path().join("c.cache");
    let o = build(&[
        "v7.onnx",
        "--int8",
        "--calib",
        calib.to_str().unwrap(),
        "--calib-cache",
        cache.to_str().unwrap(),
        "--dry-run",
        "--json",
        "--trt-release",
        "10.3",
    ]);
    common::assert_ok(&o);
    let c = CalibrationCache::parse(&std::fs::read(&cache).unwrap(), "c.cache").unwrap();
    assert!(c.scales.len() > 20);
    m = Model::load(&p).unwrap();
    assert!(
        c.scale(&m.graph().inputs()[0].name).is_some(),
        "the input has a scale"
    );
}

#[test]
fn dynamic_input_size_is_chosen_or_given() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = yolo_onnx::testgen::yolov7_tiny_slice(4, 7);
    fuse(&mut m, &FuseOptions::default()).unwrap();
    // Make H and W dynamic (the outputs keep their declared dims; tract infers the real ones).
    m.graph_mut().edit_proto(|p| {
        let name = p.input[0].name.clone();
        p.input[0] = yolo_onnx::graph::make_value_info(
            &name,
            yolo_onnx::graph::DataType::Float,
            &[1, 3, -1, -1],
        );
        for o in &mut p.output {
            let n = o.name.clone();
            *o = yolo_onnx::graph::make_value_info(
                &n,
                yolo_onnx::graph::DataType::Float,
                &[1, -1, -1],
            );
        }
    });
    let model = dir.path().join("dyn.onnx");
    m.save(&model).unwrap();
    let calib = images(dir.path(), 4, 4);
    let out = dir.path().join("q.onnx");
    // No size given: 640x640 is chosen and said; this head is built for 128x128, so calibration fails and says how
    // to give the size.
    let o = quantize(&model, &calib, &out, &[]);
    assert!(
        stderr(&o).contains("images:1x3x640x640"),
        "the chosen shape is said: {}",
        stderr(&o)
    );
    assert_fails_cleanly(&o, &out, &["chosen shape", "--shapes"]);
    let o = quantize(&model, &calib, &out, &["--shapes", "images:1x3x128x128"]);
    common::assert_ok(&o);
    let o = quantize(&model, &calib, &out, &["--input-size", "128x128"]);
    common::assert_ok(&o);
    assert!(
        stdout_has(&o, "drift of"),
        "one held-out image is compared: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(Model::load(&out)
        .unwrap()
        .graph()
        .nodes()
        .iter()
        .any(|n| n.op_type == "QuantizeLinear"));
}

/// Every value name of a graph's float activations, computed here from the graph alone: the input and every node
/// output (the generated YOLO models have no integer-valued node outputs).
fn activation_names(m: &Model) -> std::collections::BTreeSet<String> {
    let g = m.graph();
    let mut names: std::collections::BTreeSet<String> =
        g.inputs().iter().map(|v| v.name.clone()).collect();
    for n in g.nodes() {
        names.extend(n.output.iter().filter(|o| !o.is_empty()).cloned());
    }
    names
}

#[test]
fn quantize_and_trt_build_calibrate_the_same_fused_graph() {
    let dir = tempfile::tempdir().unwrap();
    // An unfused export: BatchNorms, RepConvs (whose merge creates `….merged*` tensors).
    let model = common::sample(dir.path(), "yolov9", "v9.onnx");
    let calib = images(dir.path(), 4, 5);
    let (q, cache) = (dir.path().join("q.onnx"), dir.path().join("q.cache"));
    let o = quantize(
        &model,
        &calib,
        &q,
        &["--cache", cache.to_str().unwrap(), "--cache-trt", "10.3"],
    );
    common::assert_ok(&o);
    // Fused first: no BatchNormalization is left between a Conv and its Q/DQ; the ranges are summarized.
    let qm = Model::load(&q).unwrap();
    assert!(!qm
        .graph()
        .nodes()
        .iter()
        .any(|n| n.op_type == "BatchNormalization"));
    assert!(qm
        .graph()
        .nodes()
        .iter()
        .any(|n| n.op_type == "QuantizeLinear"));
    assert!(
        stdout_has(&o, "tensor ranges computed (--verbose lists them)")
            && !stdout_has(&o, "saturated"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let c = CalibrationCache::parse(&std::fs::read(&cache).unwrap(), "q.cache").unwrap();
    let cached: std::collections::BTreeSet<String> =
        c.scales.iter().map(|(n, _)| n.clone()).collect();
    assert!(cached.iter().any(|n| n.contains(".merged")), "{cached:?}");

    let build = |cache: &Path, emit: &Path| {
        Command::new(env!("CARGO_BIN_EXE_trt-build"))
            .current_dir(dir.path())
            .env("TRT_LIBRARY", dir.path().join("none/libnvinfer.so.10"))
            .env("CUDA_LIB_DIR", dir.path().join("none"))
            .env_remove("TRT_LIB_DIR")
            .args(["v9.onnx", "--int8", "--calib-cache"])
            .arg(cache)
            .args([
                "--trt-release",
                "10.3",
                "--dry-run",
                "--json",
                "--emit-onnx",
            ])
            .arg(emit)
            .output()
            .unwrap()
    };
    // trt-build fuses the same way: the cache covers exactly the tensors of the graph it would hand TensorRT.
    let emitted = dir.path().join("emitted.onnx");
    let o = build(&cache, &emitted);
    common::assert_ok(&o);
    let r = common::json(&o);
    let e = Model::load(&emitted).unwrap();
    assert_eq!(cached, activation_names(&e));
    assert_eq!(r["calibration_cache"]["tensors"], cached.len());
    assert_eq!(r["calibration_cache"]["unused"], 0);

    // A cache of the unfused graph (quantize --no-fuse) misses the merged tensors: refused before TensorRT, naming
    // them and the fix, in the dry run.
    let (q2, cache2) = (dir.path().join("q2.onnx"), dir.path().join("q2.cache"));
    common::assert_ok(&quantize(
        &model,
        &calib,
        &q2,
        &[
            "--no-fuse",
            "--cache",
            cache2.to_str().unwrap(),
            "--cache-trt",
            "10.3",
        ],
    ));
    let emitted2 = dir.path().join("emitted2.onnx");
    let o = build(&cache2, &emitted2);
    common::assert_fails(&o, "trt-build", 1, "has no range for");
    let err = stderr(&o);
    assert!(
        err.contains(".merged") && err.contains("trt-onnx quantize"),
        "{err}"
    );
    assert!(!emitted2.exists(), "nothing is emitted for a refused build");

    // Random bytes, and a cache of another release (its header is rewritten; said in the notes).
    let junk = dir.path().join("junk.cache");
    std::fs::write(&junk, [0x89u8, 0x50, 0xff, 0x00, 0x13]).unwrap();
    common::assert_fails(
        &build(&junk, &emitted2),
        "trt-build",
        1,
        "calibration cache",
    );
    let (q3, cache3) = (dir.path().join("q3.onnx"), dir.path().join("q3.cache"));
    common::assert_ok(&quantize(
        &model,
        &calib,
        &q3,
        &["--cache", cache3.to_str().unwrap(), "--cache-trt", "8.6.1"],
    ));
    let o = build(&cache3, &emitted2);
    common::assert_ok(&o);
    let notes = common::json(&o)["notes"].to_string();
    assert!(
        notes.contains("written for TensorRT 8.6.1") && notes.contains("10.3.0"),
        "{notes}"
    );

    // A Q/DQ model is not quantized again.
    let again = dir.path().join("again.onnx");
    let o = quantize(&q, &calib, &again, &[]);
    assert_fails_cleanly(&o, &again, &["already quantized", "FP32 model"]);
}
