//! NMS against a brute-force reference on thousands of random cases.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use yolo_rt::nms::{iou, nms};
use yolo_rt::{Candidate, Nms, NmsConfig};

/// Textbook greedy NMS: visit candidates best-first (score, then index), mark every later
/// candidate of the same class (any class if agnostic) whose IoU exceeds the threshold.
fn brute_force(cands: &[Candidate], cfg: &NmsConfig) -> Vec<Candidate> {
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by(|&a, &b| {
        cands[b]
            .score
            .partial_cmp(&cands[a].score)
            .unwrap()
            .then(cands[a].index.cmp(&cands[b].index))
    });
    order.truncate(cfg.top_k);
    let mut suppressed = vec![false; cands.len()];
    let mut keep = Vec::new();
    for (pos, &i) in order.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        if keep.len() == cfg.max_det {
            break;
        }
        keep.push(cands[i]);
        for &j in &order[pos + 1..] {
            let same = cfg.agnostic || cands[i].class_id == cands[j].class_id;
            if same && overlap(&cands[i].bbox, &cands[j].bbox) > cfg.iou {
                suppressed[j] = true;
            }
        }
    }
    keep
}

/// Independent IoU (written out again on purpose).
fn overlap(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let x1 = a[0].max(b[0]);
    let y1 = a[1].max(b[1]);
    let x2 = a[2].min(b[2]);
    let y2 = a[3].min(b[3]);
    let inter = (x2 - x1).max(0.0) * (y2 - y1).max(0.0);
    let aa = (a[2] - a[0]).max(0.0) * (a[3] - a[1]).max(0.0);
    let ab = (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0);
    let u = aa + ab - inter;
    if u > 0.0 {
        inter / u
    } else {
        0.0
    }
}

fn random_case(rng: &mut ChaCha8Rng) -> (Vec<Candidate>, NmsConfig) {
    let n = rng.random_range(0..120);
    let classes = rng.random_range(1..5);
    // Clustered boxes so that suppression actually happens; coarse scores so ties happen too.
    let centres: Vec<(f32, f32)> = (0..4)
        .map(|_| (rng.random_range(0.0..200.0), rng.random_range(0.0..200.0)))
        .collect();
    let cands = (0..n)
        .map(|i| {
            let (cx, cy) = centres[rng.random_range(0..centres.len())];
            let (x, y) = (
                cx + rng.random_range(-15.0..15.0),
                cy + rng.random_range(-15.0..15.0),
            );
            let (w, h) = (rng.random_range(0.0..60.0), rng.random_range(0.0..60.0));
            Candidate {
                bbox: [x, y, x + w, y + h],
                score: (rng.random_range(1..40) as f32) / 40.0,
                class_id: rng.random_range(0..classes),
                index: i,
            }
        })
        .collect();
    let cfg = NmsConfig {
        iou: [0.0, 0.3, 0.45, 0.7, 1.0][rng.random_range(0..5)],
        max_det: rng.random_range(0..40),
        top_k: if rng.random_bool(0.3) {
            rng.random_range(1..60)
        } else {
            30_000
        },
        agnostic: rng.random_bool(0.5),
    };
    (cands, cfg)
}

#[test]
fn matches_brute_force_on_random_cases() {
    let mut rng = ChaCha8Rng::seed_from_u64(1234);
    let mut scratch = Nms::new();
    let mut suppressed_total = 0;
    for case in 0..5000 {
        let (cands, cfg) = random_case(&mut rng);
        let want = brute_force(&cands, &cfg);
        // One-shot and reused-scratch paths must both agree with the reference.
        let got = nms(cands.clone(), &cfg);
        assert_eq!(got, want, "case {case}: cfg {cfg:?}");
        let mut keep = Vec::new();
        scratch.run(&mut cands.clone(), &cfg, &mut keep);
        assert_eq!(keep, want, "case {case} (reused scratch)");
        suppressed_total +=
            cands.len().min(cfg.top_k).min(cfg.max_det.max(1)) - want.len().min(cands.len());
    }
    assert!(
        suppressed_total > 1000,
        "random cases barely exercise suppression ({suppressed_total})"
    );
}

#[test]
fn iou_of_known_boxes() {
    assert_eq!(
        iou(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 15.0, 10.0]),
        50.0 / 150.0
    );
    assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[20.0, 20.0, 30.0, 30.0]), 0.0);
    assert_eq!(iou(&[0.0, 0.0, 0.0, 0.0], &[0.0, 0.0, 0.0, 0.0]), 0.0);
    assert_eq!(iou(&[1.0, 1.0, 3.0, 3.0], &[1.0, 1.0, 3.0, 3.0]), 1.0);
}

#[test]
fn class_aware_keeps_overlapping_boxes_of_other_classes() {
    let b = [0.0, 0.0, 10.0, 10.0];
    let cands = vec![
        Candidate {
            bbox: b,
            score: 0.9,
            class_id: 0,
            index: 0,
        },
        Candidate {
            bbox: b,
            score: 0.8,
            class_id: 1,
            index: 1,
        },
        Candidate {
            bbox: b,
            score: 0.7,
            class_id: 0,
            index: 2,
        },
    ];
    let aware = nms(cands.clone(), &NmsConfig::default());
    assert_eq!(aware.iter().map(|c| c.index).collect::<Vec<_>>(), [0, 1]);
    let agnostic = nms(
        cands,
        &NmsConfig {
            agnostic: true,
            ..NmsConfig::default()
        },
    );
    assert_eq!(agnostic.iter().map(|c| c.index).collect::<Vec<_>>(), [0]);
}
