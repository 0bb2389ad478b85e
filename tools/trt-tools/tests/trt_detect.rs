//! `trt-detect` end to end on the CPU backend with the generated tiny YOLOv9-style detector.

use assert_cmd::Command;
use predicates::prelude::*;

mod common;

fn cmd() -> Command {
    Command::cargo_bin("trt-detect").unwrap()
}

/// `trt-detect --model <model> <input>`.
fn detect(model: impl AsRef<std::ffi::OsStr>, input: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = cmd();
    c.arg("--model").arg(model).arg(input);
    c
}

/// Grey 256x192 frame with a blue square (class 2) at (128,32) side 64 and a green one (class 1)
/// at (32,128) side 32; both land exactly on grid cells of the 64x64 model input.
fn write_scene(path: &std::path::Path) {
    let mut img = yolo_rt::Image::filled(256, 192, yolo_rt::PixelFormat::Rgb, [128, 128, 128]);
    for (x0, y0, side, rgb) in [
        (128usize, 32usize, 64usize, [0u8, 0, 255]),
        (32, 128, 32, [0, 255, 0]),
    ] {
        for y in y0..y0 + side {
            for x in x0..x0 + side {
                let o = (y * 256 + x) * 3;
                img.data[o..o + 3].copy_from_slice(&rgb);
            }
        }
    }
    std::fs::write(path, img.encode_png().unwrap()).unwrap();
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.onnx");
    yolo_onnx::testgen::tiny_detector(64, 3)
        .save(&model)
        .unwrap();
    std::fs::create_dir(dir.path().join("imgs")).unwrap();
    write_scene(&dir.path().join("imgs/scene.png"));
    std::fs::write(dir.path().join("classes.txt"), "red\ngreen\nblue\n").unwrap();
    (dir, model)
}

#[test]
fn json_detections_and_annotated_image() {
    let (dir, model) = setup();
    let out = dir.path().join("out");
    let assert = detect(&model, dir.path().join("imgs"))
        .arg("--classes")
        .arg(dir.path().join("classes.txt"))
        .arg("--json")
        .arg("--save-dir")
        .arg(&out)
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(json["layout"], "v9");
    let images = json["images"].as_array().unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(
        (images[0]["width"].as_u64(), images[0]["height"].as_u64()),
        (Some(256), Some(192))
    );
    let mut dets = images[0]["detections"].as_array().unwrap().clone();
    dets.sort_by_key(|d| std::cmp::Reverse(d["class_id"].as_u64().unwrap()));
    let want = [
        ("blue", 2, [128.0, 32.0, 192.0, 96.0]),
        ("green", 1, [32.0, 128.0, 64.0, 160.0]),
    ];
    assert_eq!(dets.len(), want.len(), "{json:#}");
    for (d, (name, id, bbox)) in dets.iter().zip(want) {
        assert_eq!(d["class_name"], name);
        assert_eq!(d["class_id"], id);
        assert!(d["score"].as_f64().unwrap() > 0.9);
        let b: Vec<f64> = d["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        for (x, y) in b.iter().zip(bbox) {
            assert!((x - y).abs() < 0.5, "{b:?} vs {bbox:?}");
        }
    }
    // The annotated image exists, has the frame's size, and shows the blue box's outline in the
    // class colour where the frame was grey, while the inside of the square is untouched.
    let saved = out.join("scene.png");
    assert_eq!(images[0]["annotated"], saved.display().to_string());
    let img = yolo_rt::Image::open(&saved).unwrap();
    assert_eq!((img.width, img.height), (256, 192));
    let px = |x: usize, y: usize| img.view().pixel(x, y);
    assert_eq!(
        px(160, 95),
        yolo_rt::draw::class_colour(2),
        "bottom edge of the blue box"
    );
    assert_eq!(px(160, 60), [0, 0, 255], "inside the blue square");
    assert_eq!(px(10, 180), [128, 128, 128], "background");
}

/// Without `--classes`, names come from the ONNX `names` metadata (Ultralytics-style dict);
/// `--classes` overrides them.
#[test]
fn class_names_from_onnx_metadata() {
    let (dir, _) = setup();
    let model = dir.path().join("named.onnx");
    let mut m = yolo_onnx::testgen::tiny_detector(64, 3);
    let props = &mut m.header_mut().metadata_props;
    props.push(Default::default());
    let e = props.last_mut().unwrap();
    e.key = "names".into();
    e.value = "{0: 'rouge', 1: 'vert', 2: \"l'azur\"}".into();
    m.save(&model).unwrap();
    let names_of = |assert: assert_cmd::assert::Assert| -> Vec<String> {
        let json: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
        let mut dets = json["images"][0]["detections"].as_array().unwrap().clone();
        dets.sort_by_key(|d| d["class_id"].as_u64().unwrap());
        dets.iter()
            .map(|d| d["class_name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let scene = dir.path().join("imgs/scene.png");
    let got = names_of(detect(&model, &scene).arg("--json").assert().success());
    assert_eq!(got, ["vert", "l'azur"]);
    let got = names_of(
        detect(&model, &scene)
            .arg("--classes")
            .arg(dir.path().join("classes.txt"))
            .arg("--json")
            .assert()
            .success(),
    );
    assert_eq!(got, ["green", "blue"]);
}

#[test]
fn text_output_and_threshold() {
    let (dir, model) = setup();
    detect(&model, dir.path().join("imgs/scene.png"))
        .assert()
        .success()
        .stdout(
            predicate::str::contains("2 detection(s)")
                .and(predicate::str::contains("class 2 0.99")),
        );
    // A threshold above every score leaves nothing.
    detect(&model, dir.path().join("imgs/scene.png"))
        .args(["--conf", "0.9999"])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 detection(s)"));
}

#[test]
fn exit_codes() {
    let (dir, model) = setup();
    // Corrupt image: reported, exit 1, the good image is still processed.
    let bad = dir.path().join("imgs/bad.jpg");
    std::fs::write(&bad, b"not a jpeg").unwrap();
    detect(&model, dir.path().join("imgs"))
        .arg("--json")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("\"error\"").and(predicate::str::contains("scene.png")))
        .stderr(predicate::str::contains("bad.jpg"));
    // Engine without its sidecar: refused before any library is loaded (exit 1, names the sidecar).
    let engine = dir.path().join("m.engine");
    std::fs::write(&engine, b"x").unwrap();
    detect(&engine, dir.path().join("imgs/scene.png"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("m.engine.json"));
    // A plugin library that is not a shared library: refused before TensorRT is needed (exit 1, names it).
    std::fs::write(dir.path().join("yolo_layer.cu"), "__global__ void k() {}\n").unwrap();
    detect(&engine, dir.path().join("imgs/scene.png"))
        .arg("--plugins")
        .arg(dir.path().join("yolo_layer.cu"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "yolo_layer.cu: is not a shared library",
        ));
    // Usage errors.
    cmd().arg("--model").arg(&model).assert().code(2);
    cmd().args(["--bogus"]).assert().code(2);
    detect(&model, "x.png")
        .args(["--layout", "v10"])
        .assert()
        .code(2);
    // Missing model / input, model that is no detector.
    detect(dir.path().join("nope.onnx"), dir.path().join("imgs"))
        .assert()
        .code(1);
    detect(&model, dir.path().join("missing.png"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing.png"));
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"junk").unwrap();
    detect(&junk, dir.path().join("imgs/scene.png"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("junk.onnx"));
}

// ---- TensorRT engines (EngineBackend) ----

/// A bogus engine file with a valid, sealed sidecar written by the `trt` sidecar API (TensorRT 11.4.0 lean, the
/// release of the PyPI lean runtime), plus the scene image. Returns (dir, engine).
fn bogus_engine_with_sidecar() -> (tempfile::TempDir, std::path::PathBuf) {
    use trt::sidecar::{self, GpuInfo, HardwareCompatibility, Precision, Sidecar, TensorRtInfo};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("imgs")).unwrap();
    write_scene(&dir.path().join("imgs/scene.png"));
    let engine = dir.path().join("bogus.engine");
    let mut s = Sidecar::new(
        TensorRtInfo {
            version: "11.4.0".parse().unwrap(),
            version_compatible: true,
            hardware_compatibility: HardwareCompatibility::None,
            exclude_lean_runtime: false,
            compute_capabilities: Vec::new(),
        },
        GpuInfo {
            name: "NVIDIA H100".into(),
            compute_capability: "9.0".parse().unwrap(),
        },
        Precision::Fp16,
    );
    sidecar::write_engine(&engine, b"not a serialized TensorRT engine", &mut s).unwrap();
    // The pair verifies as far as the sidecar goes (what trt-detect checks before loading any library).
    sidecar::read_sidecar(&engine).expect("valid sidecar");
    (dir, engine)
}

#[test]
fn engine_with_corrupt_sidecar_exits_1() {
    let (dir, engine) = bogus_engine_with_sidecar();
    let side = trt::sidecar::sidecar_path(&engine);
    // One edited value: the sidecar's own checksum no longer matches.
    let text = std::fs::read_to_string(&side).unwrap();
    let edited = text.replacen("\"fp16\"", "\"fp32\"", 1);
    assert_ne!(text, edited);
    std::fs::write(&side, edited).unwrap();
    detect(&engine, dir.path().join("imgs/scene.png"))
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("bogus.engine.json")
                .and(predicate::str::contains("corrupt"))
                .and(predicate::str::contains("rebuild")),
        );
    // Not JSON at all.
    std::fs::write(&side, b"\x00\x01garbage").unwrap();
    detect(&engine, dir.path().join("imgs/scene.png"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("corrupt"));
}

#[test]
#[ignore = "needs TRT_TEST_* libraries"]
fn reallib_engine_without_cuda_device_exits_3() {
    let (lean, cudart) = common::real_libs();
    let (dir, engine) = bogus_engine_with_sidecar();
    let o = cmd()
        .env("TRT_LIBRARY", &lean)
        .env("CUDA_LIB_DIR", &cudart)
        .arg("--model")
        .arg(&engine)
        .arg(dir.path().join("imgs/scene.png"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!("trt-detect said: {err}");
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("bogus.engine"), "{err}");
    assert!(
        err.contains("no usable CUDA device"),
        "the message must name the CUDA problem: {err}"
    );
    assert!(err.contains("--model model.onnx"), "{err}");
}

/// The engine named by `TRT_TEST_ENGINE` (fails loudly when unset).
fn test_engine() -> std::path::PathBuf {
    let p = std::env::var_os("TRT_TEST_ENGINE")
        .map(std::path::PathBuf::from)
        .expect(
            "TRT_TEST_ENGINE must name a YOLO engine (with its .json sidecar) built for this GPU",
        );
    assert!(
        p.is_file(),
        "TRT_TEST_ENGINE={} does not exist",
        p.display()
    );
    p
}

#[test]
#[ignore = "needs GPU"]
fn gpu_trt_detect_runs_an_engine_end_to_end() {
    let engine = test_engine();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("imgs")).unwrap();
    write_scene(&dir.path().join("imgs/scene.png"));
    let out = dir.path().join("out");
    let o = detect(&engine, dir.path().join("imgs"))
        .arg("--json")
        .arg("--save-dir")
        .arg(&out)
        .output()
        .unwrap();
    common::assert_ok(&o);
    let v = common::json(&o);
    assert!(
        v["backend"].as_str().unwrap().starts_with("tensorrt "),
        "{v}"
    );
    let img = &v["images"][0];
    assert_eq!(img["width"], 256);
    assert_eq!(img["height"], 192);
    for d in img["detections"].as_array().expect("detections") {
        let b: Vec<f64> = d["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        // Boxes are mapped back to and clipped into the 256x192 image.
        assert!(
            b[0] >= 0.0
                && b[1] >= 0.0
                && b[2] <= 256.0
                && b[3] <= 192.0
                && b[0] <= b[2]
                && b[1] <= b[3]
        );
    }
    assert!(out.join("scene.png").is_file());
}

#[test]
fn annotated_copies_never_replace_each_other() {
    let (dir, model) = setup();
    // street.png and street.bmp share a name; they are saved as street.png.png and street.bmp.png, and scene.png
    // keeps its plain name.
    let scene = std::fs::read(dir.path().join("imgs/scene.png")).unwrap();
    std::fs::write(dir.path().join("imgs/street.png"), &scene).unwrap();
    let img = image_bmp(dir.path());
    std::fs::rename(img, dir.path().join("imgs/street.bmp")).unwrap();
    let out = dir.path().join("out");
    detect(&model, dir.path().join("imgs"))
        .arg("--save-dir")
        .arg(&out)
        .assert()
        .success();
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["scene.png", "street.bmp.png", "street.png.png"]);
    // The same file name in two directories cannot be told apart: refused before anything is written.
    std::fs::create_dir(dir.path().join("other")).unwrap();
    std::fs::write(dir.path().join("other/scene.png"), &scene).unwrap();
    let out2 = dir.path().join("out2");
    detect(&model, dir.path().join("imgs/scene.png"))
        .arg(dir.path().join("other/scene.png"))
        .arg("--save-dir")
        .arg(&out2)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("would both be saved as"));
    assert!(!out2.join("scene.png").exists());
}

/// Writes the scene as a BMP (through the image crate's encoder via yolo-rt's PNG → decode → BMP is not available:
/// write a minimal 24-bit BMP by hand).
fn image_bmp(dir: &std::path::Path) -> std::path::PathBuf {
    let (w, h) = (64u32, 48u32);
    let row = (w * 3).div_ceil(4) * 4;
    let size = 54 + row * h;
    let mut b = Vec::with_capacity(size as usize);
    b.extend_from_slice(b"BM");
    b.extend_from_slice(&size.to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&54u32.to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&(w as i32).to_le_bytes());
    b.extend_from_slice(&(h as i32).to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 24]);
    for _ in 0..h {
        for _ in 0..w {
            b.extend_from_slice(&[90, 120, 150]);
        }
        b.resize(b.len() + (row - w * 3) as usize, 0);
    }
    let p = dir.join("img.bmp");
    std::fs::write(&p, b).unwrap();
    p
}

#[test]
fn dynamic_inputs_take_imgsz_and_a_missing_op_is_named() {
    let (dir, _) = setup();
    // The tiny detector with dynamic height and width (its head is fully convolutional: any multiple of 32 runs).
    let mut m = yolo_onnx::testgen::tiny_detector(64, 3);
    m.graph_mut().edit_proto(|g| {
        let name = g.input[0].name.clone();
        g.input[0] = yolo_onnx::graph::make_value_info(
            &name,
            yolo_onnx::graph::DataType::Float,
            &[1, 3, -1, -1],
        );
    });
    let dynamic = dir.path().join("dyn.onnx");
    m.save(&dynamic).unwrap();
    let scene = dir.path().join("imgs/scene.png");
    detect(&dynamic, &scene)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--imgsz 640"));
    for size in ["64", "64,64", "64x64"] {
        detect(&dynamic, &scene)
            .args(["--imgsz", size])
            .assert()
            .success()
            .stdout(predicate::str::contains("2 detection(s)"));
    }
    detect(&dynamic, &scene)
        .args(["--input-size", "64"])
        .assert()
        .success();
    detect(&dynamic, &scene)
        .args(["--imgsz", "0"])
        .assert()
        .code(2);
    // A static model with an op the CPU executor lacks: the error names the op, not the input size.
    let custom = common::custom_op_model(dir.path(), "custom.onnx");
    detect(&custom, &scene).assert().code(1).stderr(
        predicate::str::contains("YoloMysteryOp")
            .and(predicate::str::contains("height/width").not()),
    );
}

#[test]
fn a_model_directory_is_named_as_such() {
    let (dir, _) = setup();
    detect(dir.path(), dir.path().join("imgs"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is a directory"));
}

#[test]
fn class_name_counts_and_anchors_that_do_not_fit_are_warned_about() {
    let (dir, model) = setup();
    // The tiny detector has 3 classes; two names given.
    std::fs::write(dir.path().join("two.txt"), "a\nb\n").unwrap();
    let o = detect(&model, dir.path().join("imgs"))
        .arg("--classes")
        .arg(dir.path().join("two.txt"))
        .arg("--json")
        .assert()
        .success();
    let out = o.get_output();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the model has 3 classes but 2 class names were given"),
        "{err}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["warnings"].to_string().contains("3 classes"), "{json}");
    // An Ultralytics {id: name} mapping is read as one.
    std::fs::write(
        dir.path().join("map.json"),
        "{0: 'red', 1: 'green', 2: 'blue'}",
    )
    .unwrap();
    detect(&model, dir.path().join("imgs"))
        .arg("--classes")
        .arg(dir.path().join("map.json"))
        .assert()
        .success()
        .stdout(predicate::str::contains("blue"))
        .stderr(predicate::str::contains("class names").not());
    // --anchors on a v9 layout.
    std::fs::write(
        dir.path().join("anchors.json"),
        r#"{"strides": [8, 16, 32], "anchors": [[10,13,16,30,33,23],[30,61,62,45,59,119],[116,90,156,198,373,326]]}"#,
    )
    .unwrap();
    detect(&model, dir.path().join("imgs"))
        .arg("--anchors")
        .arg(dir.path().join("anchors.json"))
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "--anchors applies to YOLOv7 raw heads only",
        ));
}

#[test]
fn ultralytics_habits_class_filter_labels_and_speed() {
    let (dir, model) = setup();
    // --classes 2 keeps the blue square only; --names gives the names; the speed line is printed.
    let o = detect(&model, dir.path().join("imgs/scene.png"))
        .args(["--classes", "2", "--names"])
        .arg(dir.path().join("classes.txt"))
        .assert()
        .success();
    let out = String::from_utf8_lossy(&o.get_output().stdout).to_string();
    assert!(
        out.contains("1 detection(s)") && out.contains("blue") && !out.contains("green"),
        "{out}"
    );
    assert!(
        out.contains("ms preprocess")
            && out.contains("ms inference")
            && out.contains("ms postprocess"),
        "{out}"
    );
    // The names file under --classes still works (earlier releases' spelling).
    detect(&model, dir.path().join("imgs/scene.png"))
        .arg("--classes")
        .arg(dir.path().join("classes.txt"))
        .assert()
        .success()
        .stdout(predicate::str::contains("green"));
    detect(&model, dir.path().join("imgs/scene.png"))
        .args(["--classes", "one,two"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("expected class ids like 0,2"));
    // --save-txt: YOLO labels normalized to the 256x192 image: blue square (128,32)-(192,96), green (32,128)-(64,160).
    let save = dir.path().join("out");
    detect(&model, dir.path().join("imgs/scene.png"))
        .arg("--save-dir")
        .arg(&save)
        .args(["--save-txt", "--save-conf", "--json"])
        .assert()
        .success();
    let text = std::fs::read_to_string(save.join("labels/scene.txt")).unwrap();
    let mut lines: Vec<Vec<f64>> = text
        .lines()
        .map(|l| l.split_whitespace().map(|v| v.parse().unwrap()).collect())
        .collect();
    lines.sort_by(|a, b| b[0].total_cmp(&a[0]));
    assert_eq!(lines.len(), 2, "{text}");
    let want = [
        [2.0, 160.0 / 256.0, 64.0 / 192.0, 64.0 / 256.0, 64.0 / 192.0],
        [1.0, 48.0 / 256.0, 144.0 / 192.0, 32.0 / 256.0, 32.0 / 192.0],
    ];
    for (got, want) in lines.iter().zip(want) {
        assert_eq!(got.len(), 6, "class, box and confidence: {got:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 0.02, "{got:?} vs {want:?}");
        }
        assert!(got[5] > 0.9);
    }
    // --save-txt without --save-dir is a usage error.
    detect(&model, dir.path().join("imgs/scene.png"))
        .arg("--save-txt")
        .assert()
        .code(2);
}

#[test]
fn directory_scans_say_what_they_skipped() {
    let (dir, model) = setup();
    std::fs::write(dir.path().join("imgs/notes.txt"), b"x").unwrap();
    std::fs::write(dir.path().join("imgs/frame.gif"), b"GIF89a").unwrap();
    detect(&model, dir.path().join("imgs"))
        .assert()
        .success()
        .stderr(
            predicate::str::contains("skipped 2 file(s)")
                .and(predicate::str::contains("frame.gif, notes.txt")),
        );
}

/// WebP and TIFF frames (Ultralytics reads both) are found in a directory and decoded like the PNG they were made
/// from: the same detections, box for box.
#[test]
fn webp_and_tiff_inputs_detect_like_png() {
    let (dir, model) = setup();
    let scene = yolo_rt::Image::open(dir.path().join("imgs/scene.png")).unwrap();
    scene.save(dir.path().join("imgs/scene_w.webp")).unwrap();
    scene.save(dir.path().join("imgs/scene_t.tiff")).unwrap();
    // Lossless encodings: the pixels are the PNG's.
    for f in ["scene_w.webp", "scene_t.tiff"] {
        let back = yolo_rt::Image::open(dir.path().join("imgs").join(f)).unwrap();
        assert_eq!(
            (back.width, back.height, &back.data),
            (scene.width, scene.height, &scene.data),
            "{f}"
        );
    }
    let out = detect(&model, dir.path().join("imgs"))
        .arg("--json")
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let images = json["images"].as_array().unwrap();
    let names: Vec<&str> = images.iter().map(|i| i["path"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        names.iter().any(|n| n.ends_with("scene_w.webp"))
            && names.iter().any(|n| n.ends_with("scene_t.tiff"))
    );
    for i in images {
        assert_eq!(i["detections"], images[0]["detections"], "{}", i["path"]);
        assert_eq!(
            i["detections"].as_array().unwrap().len(),
            2,
            "{}",
            i["path"]
        );
    }
}

#[test]
fn a_corrupt_model_is_named_once() {
    let (dir, _) = setup();
    let bad = dir.path().join("bad.onnx");
    std::fs::write(&bad, b"garbage").unwrap();
    let o = detect(&bad, dir.path().join("imgs")).assert().code(1);
    let err = String::from_utf8_lossy(&o.get_output().stderr).to_string();
    assert_eq!(err.matches("bad.onnx").count(), 1, "{err}");
    assert!(err.contains("not a valid ONNX model"), "{err}");
}

/// A closed stdout loses only the report: an image that failed is still named on stderr and the exit code is 1
/// (a closed stdout alone is not an error).
#[test]
fn a_closed_stdout_still_reports_failed_images() {
    let (dir, model) = setup();
    std::fs::write(dir.path().join("imgs/bad.jpg"), b"not a jpeg").unwrap();
    for (failing, code) in [(true, 1), (false, 0)] {
        let input = if failing {
            dir.path().join("imgs")
        } else {
            dir.path().join("imgs/scene.png")
        };
        let o = common::run_with_closed_stdout(
            std::process::Command::new(env!("CARGO_BIN_EXE_trt-detect"))
                .arg("--model")
                .arg(&model)
                .arg(&input),
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{err}"
        );
        assert_eq!(err.contains("bad.jpg"), failing, "{err}");
    }
}

#[test]
fn engines_without_a_sidecar_need_no_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_scene(&d.join("scene.png"));
    std::fs::write(
        d.join("yolov8n.engine"),
        common::ultralytics_engine(b"not a TensorRT engine", &["person"]),
    )
    .unwrap();
    let run = |args: &[&str]| {
        common::no_trt_cmd(env!("CARGO_BIN_EXE_trt-detect"), d)
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["--model", "yolov8n.engine", "scene.png"]);
    common::assert_fails(&o, "trt-detect", 1, "--no-sidecar");
    // With the flag the engine goes to TensorRT (none here: exit 3), after one warning that checks are off.
    let o = run(&["--no-sidecar", "--model", "yolov8n.engine", "scene.png"]);
    assert_eq!(o.status.code(), Some(3), "{}", common::stderr(&o));
    let err = common::stderr(&o);
    assert!(err.contains("provenance checks are off"), "{err}");
    // An ONNX model has no sidecar to skip.
    yolo_onnx::testgen::tiny_detector(64, 3)
        .save(d.join("tiny.onnx"))
        .unwrap();
    let o = run(&["--no-sidecar", "--model", "tiny.onnx", "scene.png"]);
    common::assert_fails(
        &o,
        "trt-detect",
        1,
        "--no-sidecar applies to TensorRT engines",
    );
}
