//! Greedy non-maximum suppression, class-aware or class-agnostic.

use std::cmp::Ordering;

/// A scored box before suppression, in network-input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
    /// Confidence.
    pub score: f32,
    /// Class index.
    pub class_id: u32,
    /// Position in the decoder's output (anchor index); breaks score ties deterministically.
    pub index: u32,
}

/// NMS settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NmsConfig {
    /// Suppress a box whose IoU with a kept box (of the same class unless agnostic) exceeds this.
    pub iou: f32,
    /// Keep at most this many boxes.
    pub max_det: usize,
    /// Consider only the `top_k` highest-scoring candidates (YOLO's `max_nms`).
    pub top_k: usize,
    /// Suppress across classes.
    pub agnostic: bool,
}

impl Default for NmsConfig {
    fn default() -> Self {
        Self {
            iou: 0.45,
            max_det: 300,
            top_k: 30_000,
            agnostic: false,
        }
    }
}

/// Intersection over union of two `[x1, y1, x2, y2]` boxes (0 for empty unions).
#[inline]
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = area(a) + area(b) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

#[inline]
fn area(b: &[f32; 4]) -> f32 {
    (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
}

/// Descending score, then ascending index: the order NMS visits candidates in.
#[inline]
pub fn rank(a: &Candidate, b: &Candidate) -> Ordering {
    b.score.total_cmp(&a.score).then(a.index.cmp(&b.index))
}

/// Reusable NMS scratch space (per-class lists of kept boxes), so steady-state calls do not allocate.
#[derive(Debug, Default, Clone)]
pub struct Nms {
    buckets: Vec<Vec<([f32; 4], f32)>>,
    touched: Vec<u32>,
}

impl Nms {
    /// Empty scratch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs NMS on `cands` (reordered in place) and appends the kept candidates, best first, to `keep`.
    pub fn run(&mut self, cands: &mut Vec<Candidate>, cfg: &NmsConfig, keep: &mut Vec<Candidate>) {
        if cfg.max_det == 0 || cfg.top_k == 0 {
            return;
        }
        if cands.len() > cfg.top_k {
            cands.select_nth_unstable_by(cfg.top_k - 1, rank);
            cands.truncate(cfg.top_k);
        }
        cands.sort_unstable_by(rank);
        for &t in &self.touched {
            self.buckets[t as usize].clear();
        }
        self.touched.clear();
        let start = keep.len();
        for c in cands.iter() {
            let key = if cfg.agnostic { 0 } else { c.class_id as usize };
            if key >= self.buckets.len() {
                self.buckets.resize_with(key + 1, Vec::new);
            }
            let a = area(&c.bbox);
            let bucket = &mut self.buckets[key];
            let suppressed = bucket.iter().any(|(k, ka)| {
                let iw = (k[2].min(c.bbox[2]) - k[0].max(c.bbox[0])).max(0.0);
                let ih = (k[3].min(c.bbox[3]) - k[1].max(c.bbox[1])).max(0.0);
                let inter = iw * ih;
                let union = a + ka - inter;
                union > 0.0 && inter / union > cfg.iou
            });
            if suppressed {
                continue;
            }
            if bucket.is_empty() {
                self.touched.push(key as u32);
            }
            bucket.push((c.bbox, a));
            keep.push(*c);
            if keep.len() - start >= cfg.max_det {
                break;
            }
        }
    }
}

/// One-shot NMS: returns the kept candidates, best first.
pub fn nms(mut cands: Vec<Candidate>, cfg: &NmsConfig) -> Vec<Candidate> {
    let mut keep = Vec::new();
    Nms::new().run(&mut cands, cfg, &mut keep);
    keep
}
