//! The whole pipeline on the CPU backend with the generated tiny YOLOv9-style detector
//! (`yolo_onnx::testgen::tiny_detector`: a square of side s aligned to the stride-s grid is
//! detected as its own cell, class = its pure colour channel R/G/B).

use std::ops::ControlFlow;

use yolo_rt::{
    CpuBackend, CpuOptions, Detection, Detector, DetectorOptions, Error, Image, Layout, PixelFormat,
};

fn model_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("tiny.onnx");
    yolo_onnx::testgen::tiny_detector(64, 3)
        .save(&path)
        .unwrap();
    path
}

/// 256x192 RGB frame, grey background. Letterbox to 64: scale 1/4, 8 rows of padding on top.
/// A blue square at (128, 32) side 64 lands on the stride-16 cell (2, 1) of the network input;
/// a green square at (32, 128) side 32 on the stride-8 cell (1, 5).
fn scene(format: PixelFormat) -> Image {
    let mut img = Image::filled(256, 192, PixelFormat::Rgb, [128, 128, 128]);
    let mut paint = |x0: usize, y0: usize, side: usize, rgb: [u8; 3]| {
        for y in y0..y0 + side {
            for x in x0..x0 + side {
                let o = (y * 256 + x) * 3;
                img.data[o..o + 3].copy_from_slice(&rgb);
            }
        }
    };
    paint(128, 32, 64, [0, 0, 255]);
    paint(32, 128, 32, [0, 255, 0]);
    img.to_format(format)
}

fn expected() -> Vec<([f32; 4], u32)> {
    vec![
        ([128.0, 32.0, 192.0, 96.0], 2),
        ([32.0, 128.0, 64.0, 160.0], 1),
    ]
}

fn check(dets: &[Detection]) {
    let mut dets = dets.to_vec();
    dets.sort_by_key(|d| std::cmp::Reverse(d.class_id));
    assert_eq!(dets.len(), 2, "{dets:?}");
    for (d, (b, c)) in dets.iter().zip(expected()) {
        assert_eq!(d.class_id, c, "{d:?}");
        assert!(d.score > 0.9, "{d:?}");
        for (x, y) in d.bbox.iter().zip(b) {
            assert!((x - y).abs() < 0.5, "{:?} vs {b:?}", d.bbox);
        }
    }
}

#[test]
fn detects_generated_squares_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut det = Detector::from_onnx(model_file(dir.path()), DetectorOptions::default()).unwrap();
    assert!(matches!(
        det.decoder().layout(),
        Layout::V9 { classes: 3, .. }
    ));
    assert_eq!(
        (det.backend().input().width, det.backend().input().height),
        (64, 64)
    );
    // BGR frames (camera order) and RGB frames give the same result: channels are swapped on the fly.
    check(&det.detect(&scene(PixelFormat::Bgr).view()).unwrap());
    check(&det.detect(&scene(PixelFormat::Rgb).view()).unwrap());
    // An empty frame is an error, not a panic; the detector stays usable.
    let empty = Image::from_raw(vec![], 0, 0, PixelFormat::Rgb).unwrap();
    assert!(matches!(
        det.detect(&empty.view()),
        Err(Error::EmptyImage { .. })
    ));
    // Batched form (the model's batch is 1: run in chunks) with a frame without objects.
    let blank = Image::filled(100, 100, PixelFormat::Rgb, [128, 128, 128]);
    let s = scene(PixelFormat::Rgb);
    let all = det
        .detect_batch(&[s.view(), blank.view(), s.view()])
        .unwrap();
    assert_eq!(all.len(), 3);
    check(&all[0]);
    assert!(all[1].is_empty(), "{:?}", all[1]);
    check(&all[2]);
}

#[test]
fn pipelined_mode_keeps_order_and_reports_bad_frames() {
    let dir = tempfile::tempdir().unwrap();
    let mut det = Detector::from_onnx(model_file(dir.path()), DetectorOptions::default()).unwrap();
    let frames: Vec<Image> = (0..5)
        .map(|i| {
            if i == 2 {
                Image::from_raw(vec![], 0, 5, PixelFormat::Bgr).unwrap()
            } else {
                scene(PixelFormat::Bgr)
            }
        })
        .collect();
    let mut seen = Vec::new();
    det.detect_pipelined(frames, |r| {
        match (r.index, &r.detections) {
            (2, Err(Error::EmptyImage { .. })) => {}
            (_, Ok(d)) => check(d),
            (i, other) => panic!("frame {i}: {other:?}"),
        }
        seen.push(r.index);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(seen, [0, 1, 2, 3, 4]);
    // Early stop: the worker winds down and the detector keeps working afterwards.
    let mut n = 0;
    det.detect_pipelined((0..50).map(|_| scene(PixelFormat::Rgb)), |_| {
        n += 1;
        if n == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(n, 3);
    check(&det.detect(&scene(PixelFormat::Rgb).view()).unwrap());
}

#[test]
fn backend_errors_name_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.onnx");
    let err = CpuBackend::load(&missing, &CpuOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("none.onnx") && err.to_string().contains("not found"),
        "{err}"
    );
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"definitely not protobuf").unwrap();
    let err = CpuBackend::load(&junk, &CpuOptions::default()).unwrap_err();
    assert!(err.to_string().contains("junk.onnx"), "{err}");
    // A classifier-shaped model fits no detection layout.
    let mut b = yolo_onnx::testgen::GraphBuilder::new("cls", 1);
    let x = b.input("images", &[1, 3, 32, 32]);
    let y = b.conv(&x, 8, 3, 2);
    b.output(&y);
    let path = dir.path().join("cls.onnx");
    b.finish().save(&path).unwrap();
    let err = Detector::from_onnx(&path, DetectorOptions::default()).unwrap_err();
    assert!(matches!(err, Error::UnknownLayout { .. }), "{err}");
}

#[test]
fn corrupt_and_empty_image_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.png");
    let mut png = scene(PixelFormat::Rgb).encode_png().unwrap();
    png.truncate(png.len() / 2);
    std::fs::write(&bad, &png).unwrap();
    let err = Image::open(&bad).unwrap_err();
    assert!(
        matches!(err, Error::Image { .. }) && err.to_string().contains("bad.png"),
        "{err}"
    );
    let txt = dir.path().join("notes.jpg");
    std::fs::write(&txt, b"hello").unwrap();
    assert!(matches!(Image::open(&txt), Err(Error::Image { .. })));
    let empty = dir.path().join("empty.bmp");
    std::fs::write(&empty, b"").unwrap();
    assert!(Image::open(&empty).is_err());
    // A round trip through PNG keeps the pixels.
    let ok = dir.path().join("ok.png");
    std::fs::write(&ok, scene(PixelFormat::Bgr).encode_png().unwrap()).unwrap();
    assert_eq!(Image::open(&ok).unwrap(), scene(PixelFormat::Rgb));
}

/// Writes the tiny detector with `names` metadata (when given).
fn model_with_names(dir: &std::path::Path, names: Option<&str>) -> std::path::PathBuf {
    let path = dir.join("named.onnx");
    let mut model = yolo_onnx::testgen::tiny_detector(64, 3);
    if let Some(v) = names {
        let props = &mut model.header_mut().metadata_props;
        props.push(Default::default());
        let e = props.last_mut().unwrap();
        e.key = "names".into();
        e.value = v.into();
    }
    model.save(&path).unwrap();
    path
}

/// Class names: the caller's, else the ONNX `names` metadata (Ultralytics dict), else none; a
/// malformed entry falls back to ids instead of failing the model.
#[test]
fn class_names_come_from_the_caller_then_the_onnx_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let meta = "{0: 'red', 2: \"it's blue\", 1: 'green'}";
    let det = Detector::from_onnx(
        model_with_names(dir.path(), Some(meta)),
        DetectorOptions::default(),
    )
    .unwrap();
    assert_eq!(det.class_names(), ["red", "green", "it's blue"]);
    assert_eq!(det.class_name(2), Some("it's blue"));
    // The backend reports them too, and the detections are named in drawing / JSON through it.
    let mut det = det;
    let dets = det.detect(&scene(PixelFormat::Rgb).view()).unwrap();
    check(&dets);
    let blue = dets.iter().find(|d| d.class_id == 2).unwrap();
    assert_eq!(det.class_name(blue.class_id), Some("it's blue"));

    // A names file given by the caller wins.
    let given = DetectorOptions {
        class_names: vec!["a".into(), "b".into(), "c".into()],
        ..Default::default()
    };
    let det = Detector::from_onnx(model_with_names(dir.path(), Some(meta)), given).unwrap();
    assert_eq!(det.class_names(), ["a", "b", "c"]);

    // No metadata, or malformed metadata (a gap in the ids): numeric ids.
    for meta in [None, Some("{0: 'red', 2: 'blue'}"), Some("not a dict")] {
        let det = Detector::from_onnx(
            model_with_names(dir.path(), meta),
            DetectorOptions::default(),
        )
        .unwrap();
        assert!(det.class_names().is_empty(), "{meta:?}");
        assert_eq!(det.class_name(0), None);
    }
    // A JSON list works too, even when its length disagrees with the model's 3 classes (warned).
    let det = Detector::from_onnx(
        model_with_names(dir.path(), Some(r#"["x", "y"]"#)),
        DetectorOptions::default(),
    )
    .unwrap();
    assert_eq!(det.class_names(), ["x", "y"]);
}
