//! Every decode layout against hand-computed boxes, plus layout detection and bad outputs.

use yolo_rt::{
    detect_layout, DecodeConfig, Decoder, Detection, Error, Layout, LayoutKind, LetterboxConfig,
    LetterboxTransform, NmsConfig, OutputInfo, RawHeadConfig, Tensor,
};

fn infos(ts: &[Tensor]) -> Vec<OutputInfo> {
    ts.iter()
        .map(|t| OutputInfo {
            name: t.name.clone(),
            shape: t.shape.clone(),
        })
        .collect()
}

fn decode(
    ts: &[Tensor],
    cfg: DecodeConfig,
    item: usize,
    t: &LetterboxTransform,
) -> (Decoder, Vec<Detection>) {
    let mut d = Decoder::new(cfg, &infos(ts), (t.out_width, t.out_height)).unwrap();
    let views: Vec<_> = ts.iter().map(Tensor::view).collect();
    let dets = d.decode(&views, item, t).unwrap();
    (d, dets)
}

/// 1280x720 frame into a 640x640 input: scale 0.5, 140 rows of padding on top.
fn frame_transform() -> LetterboxTransform {
    let t = LetterboxConfig::square(640)
        .transform_for(1280, 720)
        .unwrap();
    assert_eq!((t.pad_top, t.pad_left, t.resized_width), (140, 0, 640));
    t
}

fn identity(size: usize) -> LetterboxTransform {
    LetterboxConfig::square(size)
        .transform_for(size, size)
        .unwrap()
}

fn assert_dets(got: &[Detection], want: &[([f32; 4], f32, u32)]) {
    assert_eq!(got.len(), want.len(), "got {got:?}");
    for (g, (b, s, c)) in got.iter().zip(want) {
        assert_eq!(g.class_id, *c, "{g:?}");
        assert!((g.score - s).abs() < 1e-5, "score {g:?} vs {s}");
        for (x, y) in g.bbox.iter().zip(b) {
            assert!((x - y).abs() < 1e-3, "box {:?} vs {b:?}", g.bbox);
        }
    }
}

/// [B, 4+nc, N] data from per-anchor rows `cx, cy, w, h, cls…`, padded with empty anchors to
/// `n` (real models have many more anchors than channels, which is how the layout is recognised).
fn channels_first(rows: &[Vec<f32>], n: usize) -> Vec<f32> {
    let c = rows[0].len();
    let mut rows = rows.to_vec();
    rows.resize(n, vec![0.0; c]);
    let rows = &rows;
    (0..c)
        .flat_map(|k| (0..n).map(move |i| rows[i][k]))
        .collect()
}

#[test]
fn v9_channels_first() {
    // Anchors: two overlapping class-1 boxes (IoU 0.6 > 0.45), one class-0 box, one below threshold.
    let rows = vec![
        vec![100.0, 200.0, 40.0, 20.0, 0.1, 0.9, 0.0], // kept: class 1, 0.9
        vec![104.0, 200.0, 40.0, 20.0, 0.0, 0.8, 0.1], // IoU 36*20/(2*800-720)=0.818 with the first -> suppressed
        vec![300.0, 400.0, 10.0, 10.0, 0.7, 0.2, 0.0], // class 0, 0.7
        vec![500.0, 500.0, 10.0, 10.0, 0.2, 0.1, 0.25], // best 0.25, not > 0.25 -> dropped
        vec![104.0, 200.0, 40.0, 20.0, 0.0, 0.0, 0.6], // same place, class 2 -> kept (class-aware)
    ];
    let out = Tensor::f32("output0", vec![1, 7, 12], channels_first(&rows, 12)).unwrap();
    let t = frame_transform();
    let (d, dets) = decode(std::slice::from_ref(&out), DecodeConfig::default(), 0, &t);
    assert!(matches!(
        d.layout(),
        Layout::V9 {
            output: 0,
            classes: 3
        }
    ));
    // Network (80,190)-(120,210) -> frame x*2, (y-140)*2.
    assert_dets(
        &dets,
        &[
            ([160.0, 100.0, 240.0, 140.0], 0.9, 1),
            ([590.0, 510.0, 610.0, 530.0], 0.7, 0),
            ([168.0, 100.0, 248.0, 140.0], 0.6, 2),
        ],
    );
    // Agnostic NMS removes the class-2 box too (IoU 0.818 with the class-1 box).
    let cfg = DecodeConfig {
        nms: NmsConfig {
            agnostic: true,
            ..NmsConfig::default()
        },
        ..DecodeConfig::default()
    };
    let (_, dets) = decode(std::slice::from_ref(&out), cfg, 0, &t);
    assert_eq!(dets.iter().map(|d| d.class_id).collect::<Vec<_>>(), [1, 0]);
    // max_det 1 keeps only the best.
    let cfg = DecodeConfig {
        nms: NmsConfig {
            max_det: 1,
            ..NmsConfig::default()
        },
        ..DecodeConfig::default()
    };
    assert_eq!(decode(std::slice::from_ref(&out), cfg, 0, &t).1.len(), 1);
}

#[test]
fn v7_grid_objectness_times_class() {
    // [B, N, 5+nc] with nc = 2; batch of 2, the second item has its own box.
    #[rustfmt::skip]
    let data = vec![
        // item 0
        320.0, 320.0, 64.0, 32.0, 0.9, 0.5, 0.8,   // score 0.72, class 1
        10.0, 10.0, 4.0, 4.0, 0.2, 0.9, 0.9,       // obj 0.2 <= 0.25 -> skipped
        50.0, 60.0, 20.0, 20.0, 0.5, 0.6, 0.4,     // 0.30 class 0
        50.0, 60.0, 20.0, 20.0, 0.5, 0.4, 0.45,    // 0.225 -> below threshold
        // item 1
        100.0, 100.0, 10.0, 10.0, 0.8, 0.1, 0.5,   // 0.4 class 1
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    ];
    // Pad each item with empty anchors to N = 8 > 5+nc.
    let mut data: Vec<f32> = data
        .chunks(28)
        .flat_map(|item| item.iter().copied().chain(std::iter::repeat_n(0.0, 28)))
        .collect();
    data.truncate(2 * 8 * 7);
    let out = Tensor::f32("output", vec![2, 8, 7], data).unwrap();
    let t = identity(640);
    let (d, dets) = decode(std::slice::from_ref(&out), DecodeConfig::default(), 0, &t);
    assert!(matches!(
        d.layout(),
        Layout::V7Grid {
            output: 0,
            classes: 2
        }
    ));
    assert_dets(
        &dets,
        &[
            ([288.0, 304.0, 352.0, 336.0], 0.72, 1),
            ([40.0, 50.0, 60.0, 70.0], 0.3, 0),
        ],
    );
    let (_, dets) = decode(std::slice::from_ref(&out), DecodeConfig::default(), 1, &t);
    assert_dets(&dets, &[([95.0, 95.0, 105.0, 105.0], 0.4, 1)]);
}

fn logit(p: f32) -> f32 {
    (p / (1.0 - p)).ln()
}

#[test]
fn v7_raw_heads_with_anchors_and_strides() {
    // Input 64x64; levels 4x4 (stride 16) and 2x2 (stride 32), 2 anchors each, nc = 2.
    let nc = 2;
    let c = 5 + nc;
    let mut fine = vec![-10.0f32; 2 * 4 * 4 * c];
    let mut coarse = vec![-10.0f32; 2 * 2 * 2 * c];
    // Fine level, anchor 1, cell (x=2, y=1): xy logits 0 -> sigmoid 0.5 -> offset 0.5;
    // wh sigmoid 0.75 -> (1.5)^2 = 2.25 x anchor (10, 6); obj 0.9, class 1 p 0.8 -> 0.72.
    let o = (16 + 4 + 2) * c; // anchor 1, y 1, x 2: a*H*W + y*W + x
    fine[o..o + c].copy_from_slice(&[
        0.0,
        0.0,
        logit(0.75),
        logit(0.75),
        logit(0.9),
        logit(0.1),
        logit(0.8),
    ]);
    // Coarse level, anchor 0, cell (0, 1): xy sigmoid 0.25 -> 0.5*.. = 0 offset; wh sigmoid 0.5 -> 1 x anchor (30, 40).
    let o = 2 * c; // anchor 0, y 1, x 0: 0*H*W + 1*W + 0
    coarse[o..o + c].copy_from_slice(&[
        logit(0.25),
        logit(0.25),
        0.0,
        0.0,
        logit(0.5),
        logit(0.9),
        logit(0.2),
    ]);
    // The coarse head comes first in the model: detection must sort levels by resolution.
    let outs = vec![
        Tensor::f32("p5", vec![1, 2, 2, 2, c], coarse).unwrap(),
        Tensor::f32("p4", vec![1, 2, 4, 4, c], fine).unwrap(),
    ];
    let cfg = DecodeConfig {
        raw_heads: RawHeadConfig {
            strides: None,
            anchors: vec![vec![4.0, 4.0, 10.0, 6.0], vec![30.0, 40.0, 50.0, 50.0]],
        },
        ..DecodeConfig::default()
    };
    let (d, dets) = decode(&outs, cfg, 0, &identity(64));
    assert!(matches!(d.layout(), Layout::V7RawHeads { classes: 2, .. }));
    // Fine: cx = (0.5*2-0.5+2)*16 = 40, cy = (0.5+1)*16 = 24, w = 22.5, h = 13.5.
    // Coarse: cx = (0.25*2-0.5+0)*32 = 0, cy = (0+1)*32 = 32, w = 30, h = 40, score 0.5*0.9 = 0.45 (clipped at 0).
    assert_dets(
        &dets,
        &[
            ([28.75, 17.25, 51.25, 30.75], 0.72, 1),
            ([0.0, 12.0, 15.0, 52.0], 0.45, 0),
        ],
    );
    // Explicit strides override the inferred ones.
    let cfg = DecodeConfig {
        raw_heads: RawHeadConfig {
            strides: Some(vec![8.0, 16.0]),
            anchors: vec![vec![4.0, 4.0, 10.0, 6.0], vec![30.0, 40.0, 50.0, 50.0]],
        },
        ..DecodeConfig::default()
    };
    let (_, dets) = decode(&outs, cfg, 0, &identity(64));
    assert_dets(
        &dets,
        &[
            ([8.75, 5.25, 31.25, 18.75], 0.72, 1),
            ([0.0, 0.0, 15.0, 36.0], 0.45, 0),
        ],
    );
    // A config for the wrong number of levels is an error, not a panic.
    let bad = DecodeConfig {
        raw_heads: RawHeadConfig::yolov7(),
        ..DecodeConfig::default()
    };
    let err = Decoder::new(bad, &infos(&outs), (64, 64)).unwrap_err();
    assert!(err.to_string().contains("2 raw heads"), "{err}");
}

#[test]
fn v9_dual_head_uses_main_branch_and_says_so() {
    let aux = channels_first(&[vec![100.0, 100.0, 10.0, 10.0, 0.95, 0.0]], 8);
    let main = channels_first(
        &[vec![0.0; 6], vec![200.0, 300.0, 20.0, 40.0, 0.0, 0.85]],
        8,
    );
    let outs = vec![
        Tensor::f32("output0", vec![1, 6, 8], aux).unwrap(),
        Tensor::f32("1263", vec![1, 6, 8], main).unwrap(),
    ];
    let (d, dets) = decode(&outs, DecodeConfig::default(), 0, &identity(640));
    assert!(matches!(
        d.layout(),
        Layout::V9Dual {
            main: 1,
            aux: 0,
            classes: 2
        }
    ));
    assert!(d.ignores_aux_branch());
    assert!(
        d.warnings()[0].contains("main branch `1263`")
            && d.warnings()[0].contains("auxiliary branch `output0`")
    );
    assert_dets(&dets, &[([190.0, 280.0, 210.0, 320.0], 0.85, 1)]);
}

#[test]
fn efficient_nms_end_to_end() {
    // K = 3, batch 2; item 0 has 2 detections (third slot is padding), item 1 has 1.
    let outs = vec![
        Tensor::i32("num_dets", vec![2, 1], vec![2, 1]).unwrap(),
        Tensor::f32(
            "det_boxes",
            vec![2, 3, 4],
            vec![
                10., 150., 50., 190., 0., 140., 640., 500., 9., 9., 9., 9., 100., 200., 300., 400.,
                0., 0., 0., 0., 0., 0., 0., 0.,
            ],
        )
        .unwrap(),
        Tensor::f32(
            "det_scores",
            vec![2, 3],
            vec![0.9, 0.2, 0.99, 0.6, 0.0, 0.0],
        )
        .unwrap(),
        Tensor::i32("det_classes", vec![2, 3], vec![3, 1, 7, 5, 0, 0]).unwrap(),
    ];
    let t = frame_transform();
    let (d, dets) = decode(&outs, DecodeConfig::default(), 0, &t);
    assert!(matches!(d.layout(), Layout::EfficientNms { .. }));
    // Score 0.2 is under the threshold; the padded slot is beyond num_dets.
    assert_dets(&dets, &[([20.0, 20.0, 100.0, 100.0], 0.9, 3)]);
    let (_, dets) = decode(
        &outs,
        DecodeConfig {
            conf: 0.1,
            ..DecodeConfig::default()
        },
        0,
        &t,
    );
    assert_dets(
        &dets,
        &[
            ([20.0, 20.0, 100.0, 100.0], 0.9, 3),
            ([0.0, 0.0, 1280.0, 720.0], 0.2, 1),
        ],
    );
    let (_, dets) = decode(&outs, DecodeConfig::default(), 1, &t);
    assert_dets(&dets, &[([200.0, 120.0, 600.0, 520.0], 0.6, 5)]);
}

#[test]
fn onnx_nms_rows() {
    // [K, 7]: batch, x1, y1, x2, y2, class, score.
    #[rustfmt::skip]
    let rows = vec![
        0.0, 10.0, 20.0, 30.0, 40.0, 2.0, 0.8,
        1.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.9,
        0.0, 50.0, 60.0, 70.0, 80.0, 1.0, 0.95,
        0.0, 5.0, 5.0, 6.0, 6.0, 1.0, 0.1,
    ];
    let outs = vec![Tensor::f32("output", vec![4, 7], rows).unwrap()];
    let (d, dets) = decode(&outs, DecodeConfig::default(), 0, &identity(640));
    assert!(matches!(d.layout(), Layout::OnnxNms { output: 0 }));
    assert_dets(
        &dets,
        &[
            ([50.0, 60.0, 70.0, 80.0], 0.95, 1),
            ([10.0, 20.0, 30.0, 40.0], 0.8, 2),
        ],
    );
    let (_, dets) = decode(&outs, DecodeConfig::default(), 1, &identity(640));
    assert_dets(&dets, &[([1.0, 2.0, 3.0, 4.0], 0.9, 0)]);
}

fn info(name: &str, shape: &[usize]) -> OutputInfo {
    OutputInfo {
        name: name.into(),
        shape: shape.to_vec(),
    }
}

#[test]
fn layout_detection_from_names_and_shapes() {
    let kind = |o: &[OutputInfo]| detect_layout(o, None).map(|d| d.layout.kind());
    assert_eq!(
        kind(&[info("output", &[1, 25200, 85])]).unwrap(),
        LayoutKind::V7Grid
    );
    assert_eq!(
        kind(&[info("output0", &[1, 84, 8400])]).unwrap(),
        LayoutKind::V9
    );
    assert_eq!(
        kind(&[info("a", &[1, 84, 8400]), info("b", &[1, 84, 8400])]).unwrap(),
        LayoutKind::V9Dual
    );
    assert_eq!(
        kind(&[
            info("o1", &[1, 3, 80, 80, 85]),
            info("o2", &[1, 3, 40, 40, 85]),
            info("o3", &[1, 3, 20, 20, 85])
        ])
        .unwrap(),
        LayoutKind::V7RawHeads
    );
    assert_eq!(
        kind(&[info("output", &[0, 7])]).unwrap(),
        LayoutKind::OnnxNms
    );
    // EfficientNMS found by name in any order.
    let e2e = [
        info("det_scores", &[1, 100]),
        info("num_dets", &[1, 1]),
        info("det_classes", &[1, 100]),
        info("det_boxes", &[1, 100, 4]),
    ];
    let d = detect_layout(&e2e, None).unwrap();
    assert_eq!(
        d.layout,
        Layout::EfficientNms {
            num_dets: 1,
            boxes: 3,
            scores: 0,
            classes: 2
        }
    );
    // The dual head's aux branch is recognised by name when it comes second.
    let d = detect_layout(
        &[
            info("main", &[1, 84, 8400]),
            info("aux_out", &[1, 84, 8400]),
        ],
        None,
    )
    .unwrap();
    assert_eq!(
        d.layout,
        Layout::V9Dual {
            main: 0,
            aux: 1,
            classes: 80
        }
    );
    // Forcing a layout that does not fit is an error explaining why.
    let err =
        detect_layout(&[info("output0", &[1, 84, 8400])], Some(LayoutKind::V7Grid)).unwrap_err();
    assert!(err.to_string().contains("not v7-grid"), "{err}");
    assert_eq!("v9-dual".parse::<LayoutKind>().unwrap(), LayoutKind::V9Dual);
    assert!("v10".parse::<LayoutKind>().is_err());
}

#[test]
fn unknown_layouts_and_bad_tensors_are_errors() {
    for bad in [
        vec![info("logits", &[1, 1000])],
        vec![info("feat", &[1, 256, 20, 20])],
        vec![info("x", &[1, 4, 4])],
        vec![],
    ] {
        let err = detect_layout(&bad, None).unwrap_err();
        assert!(matches!(err, Error::UnknownLayout { .. }), "{err}");
        assert!(err.to_string().contains("Known layouts"), "{err}");
    }
    // A tensor that no longer matches the detected layout at decode time.
    let mut d = Decoder::new(
        DecodeConfig::default(),
        &[info("output0", &[1, 84, 8400])],
        (640, 640),
    )
    .unwrap();
    let wrong = Tensor::f32("output0", vec![1, 85, 10], vec![0.0; 850]).unwrap();
    let err = d.decode(&[wrong.view()], 0, &identity(640)).unwrap_err();
    assert!(
        matches!(err, Error::Tensor { ref tensor, .. } if tensor == "output0"),
        "{err}"
    );
    // Batch item out of range.
    let ok = Tensor::f32("output0", vec![1, 84, 10], vec![0.0; 840]).unwrap();
    assert!(d.decode(&[ok.view()], 1, &identity(640)).is_err());
    // Missing output.
    assert!(d.decode(&[], 0, &identity(640)).is_err());
    // num_dets larger than K.
    let outs = vec![
        Tensor::i32("num_dets", vec![1, 1], vec![5]).unwrap(),
        Tensor::f32("det_boxes", vec![1, 2, 4], vec![0.0; 8]).unwrap(),
        Tensor::f32("det_scores", vec![1, 2], vec![0.0; 2]).unwrap(),
        Tensor::i32("det_classes", vec![1, 2], vec![0; 2]).unwrap(),
    ];
    let mut d = Decoder::new(DecodeConfig::default(), &infos(&outs), (640, 640)).unwrap();
    let views: Vec<_> = outs.iter().map(Tensor::view).collect();
    let err = d.decode(&views, 0, &identity(640)).unwrap_err();
    assert!(err.to_string().contains("num_dets = 5"), "{err}");
    // Element count not matching the shape.
    assert!(Tensor::f32("t", vec![2, 3], vec![0.0; 5]).is_err());
}
