//! Decoding YOLO outputs into detections: layout detection from output names and shapes,
//! per-layout candidate extraction, NMS, and mapping back through the letterbox.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::letterbox::LetterboxTransform;
use crate::nms::{Candidate, Nms, NmsConfig};
use crate::tensor::TensorView;

/// A detection in source-image pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Detection {
    /// `[x1, y1, x2, y2]`, clipped to the image.
    pub bbox: [f32; 4],
    /// Confidence (YOLOv7: objectness × class probability).
    pub score: f32,
    /// Class index.
    pub class_id: u32,
}

/// Which family of output a model has (without tensor positions); used to override detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LayoutKind {
    /// YOLOv7 exported with `--grid`: `[B, N, 5+nc]`, `cx, cy, w, h, obj, cls…`, score = obj·cls.
    V7Grid,
    /// YOLOv7 raw heads (no `--grid`): per level `[B, 3, H, W, 5+nc]` before sigmoid.
    V7RawHeads,
    /// YOLOv9/YOLOv8 style `[B, 4+nc, N]`: `cx, cy, w, h, cls…`, no objectness.
    V9,
    /// Unconverted YOLOv9 dual head: two `[B, 4+nc, N]` outputs, auxiliary then main.
    V9Dual,
    /// TensorRT EfficientNMS end-to-end outputs `num_dets, det_boxes, det_scores, det_classes`.
    EfficientNms,
    /// YOLOv7 `--max-wh` ONNX NMS output `[K, 7]`: `batch, x1, y1, x2, y2, class, score`.
    OnnxNms,
}

impl LayoutKind {
    /// All kinds, for help texts.
    pub const ALL: [LayoutKind; 6] = [
        LayoutKind::V7Grid,
        LayoutKind::V7RawHeads,
        LayoutKind::V9,
        LayoutKind::V9Dual,
        LayoutKind::EfficientNms,
        LayoutKind::OnnxNms,
    ];
    /// The name used on command lines and in configs.
    pub fn name(self) -> &'static str {
        match self {
            LayoutKind::V7Grid => "v7-grid",
            LayoutKind::V7RawHeads => "v7-raw-heads",
            LayoutKind::V9 => "v9",
            LayoutKind::V9Dual => "v9-dual",
            LayoutKind::EfficientNms => "efficient-nms",
            LayoutKind::OnnxNms => "onnx-nms",
        }
    }
}

impl fmt::Display for LayoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LayoutKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        LayoutKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = LayoutKind::ALL.iter().map(|k| k.name()).collect();
                Error::Config(format!(
                    "unknown layout `{s}`; use one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// A resolved layout: the kind plus which outputs play which part.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum Layout {
    /// See [`LayoutKind::V7Grid`].
    V7Grid {
        /// Output index.
        output: usize,
        /// Number of classes.
        classes: usize,
    },
    /// See [`LayoutKind::V7RawHeads`].
    V7RawHeads {
        /// Output indices, finest level (largest H) first.
        outputs: Vec<usize>,
        /// Number of classes.
        classes: usize,
    },
    /// See [`LayoutKind::V9`].
    V9 {
        /// Output index.
        output: usize,
        /// Number of classes.
        classes: usize,
    },
    /// See [`LayoutKind::V9Dual`]. Only the main branch is decoded.
    V9Dual {
        /// The main branch's output index (decoded).
        main: usize,
        /// The auxiliary branch's output index (ignored).
        aux: usize,
        /// Number of classes.
        classes: usize,
    },
    /// See [`LayoutKind::EfficientNms`].
    EfficientNms {
        /// `num_dets` `[B, 1]`.
        num_dets: usize,
        /// `det_boxes` `[B, K, 4]`.
        boxes: usize,
        /// `det_scores` `[B, K]`.
        scores: usize,
        /// `det_classes` `[B, K]`.
        classes: usize,
    },
    /// See [`LayoutKind::OnnxNms`].
    OnnxNms {
        /// Output index.
        output: usize,
    },
}

impl Layout {
    /// The family.
    pub fn kind(&self) -> LayoutKind {
        match self {
            Layout::V7Grid { .. } => LayoutKind::V7Grid,
            Layout::V7RawHeads { .. } => LayoutKind::V7RawHeads,
            Layout::V9 { .. } => LayoutKind::V9,
            Layout::V9Dual { .. } => LayoutKind::V9Dual,
            Layout::EfficientNms { .. } => LayoutKind::EfficientNms,
            Layout::OnnxNms { .. } => LayoutKind::OnnxNms,
        }
    }
    /// Whether the model already ran NMS (end-to-end outputs).
    pub fn is_end_to_end(&self) -> bool {
        matches!(self, Layout::EfficientNms { .. } | Layout::OnnxNms { .. })
    }
}

/// An output's name and shape, as a backend describes it before running.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutputInfo {
    /// Output name.
    pub name: String,
    /// Dimensions (a dynamic dimension as the value it will have, e.g. batch 1).
    pub shape: Vec<usize>,
}

/// A detected layout plus notes for the user (for example that the auxiliary branch is ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedLayout {
    /// The layout.
    pub layout: Layout,
    /// Warnings worth showing once.
    pub warnings: Vec<String>,
}

fn describe(outputs: &[OutputInfo]) -> String {
    let parts: Vec<_> = outputs
        .iter()
        .map(|o| format!("{}{:?}", o.name, o.shape))
        .collect();
    format!("[{}]", parts.join(", "))
}

fn find_name(outputs: &[OutputInfo], key: &str) -> Option<usize> {
    outputs
        .iter()
        .position(|o| o.name == key)
        .or_else(|| outputs.iter().position(|o| o.name.contains(key)))
}

/// Detects the layout from output names and shapes; `forced` restricts it to one kind (and makes a
/// mismatch an error that says why).
pub fn detect_layout(outputs: &[OutputInfo], forced: Option<LayoutKind>) -> Result<DetectedLayout> {
    let unknown = |reason: String| Error::UnknownLayout {
        outputs: describe(outputs),
        reason,
    };
    if outputs.is_empty() {
        return Err(unknown("the model has no outputs".into()));
    }
    let mut reasons = Vec::new();
    let kinds: Vec<LayoutKind> = match forced {
        Some(k) => vec![k],
        None => vec![
            LayoutKind::EfficientNms,
            LayoutKind::OnnxNms,
            LayoutKind::V9Dual,
            LayoutKind::V7Grid,
            LayoutKind::V9,
            LayoutKind::V7RawHeads,
        ],
    };
    for kind in kinds {
        match try_kind(outputs, kind) {
            Ok(d) => return Ok(d),
            Err(r) => reasons.push(format!("not {kind}: {r}")),
        }
    }
    Err(unknown(reasons.join("; ")))
}

fn rank3(outputs: &[OutputInfo]) -> Vec<usize> {
    outputs
        .iter()
        .enumerate()
        .filter(|(_, o)| o.shape.len() == 3)
        .map(|(i, _)| i)
        .collect()
}

fn try_kind(
    outputs: &[OutputInfo],
    kind: LayoutKind,
) -> std::result::Result<DetectedLayout, String> {
    let ok = |layout| {
        Ok(DetectedLayout {
            layout,
            warnings: Vec::new(),
        })
    };
    match kind {
        LayoutKind::EfficientNms => {
            let by_name = ["num_dets", "det_boxes", "det_scores", "det_classes"]
                .map(|k| find_name(outputs, k));
            let [n, b, s, c] = if let [Some(n), Some(b), Some(s), Some(c)] = by_name {
                [n, b, s, c]
            } else if outputs.len() == 4 {
                // By shape: [B,1], [B,K,4], [B,K], [B,K] in export order.
                [0, 1, 2, 3]
            } else {
                return Err("needs outputs num_dets, det_boxes, det_scores, det_classes".into());
            };
            let (ns, bs, ss, cs) = (
                &outputs[n].shape,
                &outputs[b].shape,
                &outputs[s].shape,
                &outputs[c].shape,
            );
            if ns.len() != 2 || ns[1] != 1 {
                return Err(format!("num_dets must be [B,1], is {ns:?}"));
            }
            if bs.len() != 3 || bs[2] != 4 || bs[0] != ns[0] {
                return Err(format!("det_boxes must be [B,K,4], is {bs:?}"));
            }
            let bk = &bs[..2];
            if ss.as_slice() != bk || cs.as_slice() != bk {
                return Err(format!(
                    "det_scores {ss:?} and det_classes {cs:?} must be [B,K] = {bk:?}"
                ));
            }
            ok(Layout::EfficientNms {
                num_dets: n,
                boxes: b,
                scores: s,
                classes: c,
            })
        }
        LayoutKind::OnnxNms => {
            let cands: Vec<_> = outputs
                .iter()
                .enumerate()
                .filter(|(_, o)| o.shape.len() == 2 && o.shape[1] == 7)
                .collect();
            match cands.as_slice() {
                [(i, _)] if outputs.len() == 1 => ok(Layout::OnnxNms { output: *i }),
                _ => Err("needs exactly one output of shape [K,7]".into()),
            }
        }
        LayoutKind::V9Dual => {
            let r3 = rank3(outputs);
            if r3.len() != 2 || outputs.len() != 2 {
                return Err("needs exactly two outputs [B,4+nc,N]".into());
            }
            let (a, b) = (&outputs[r3[0]].shape, &outputs[r3[1]].shape);
            if a != b || a[1] < 5 || a[1] >= a[2] {
                return Err(format!(
                    "needs two equal [B,4+nc,N] shapes with 4+nc < N, got {a:?} and {b:?}"
                ));
            }
            // Export order of DualDDetect is [aux, main]; a name mentioning "aux" overrides.
            let (aux, main) = if outputs[r3[1]].name.to_lowercase().contains("aux") {
                (r3[1], r3[0])
            } else {
                (r3[0], r3[1])
            };
            Ok(DetectedLayout {
                layout: Layout::V9Dual { main, aux, classes: a[1] - 4 },
                warnings: vec![format!(
                    "model has an unconverted YOLOv9 dual head: decoding the main branch `{}` and ignoring the auxiliary branch `{}`; re-parameterize the model (drop the auxiliary branch) to save its compute",
                    outputs[main].name, outputs[aux].name
                )],
            })
        }
        LayoutKind::V7Grid | LayoutKind::V9 => {
            let r3 = rank3(outputs);
            let [i] = r3.as_slice() else {
                return Err(format!("needs one rank-3 output, found {}", r3.len()));
            };
            let s = &outputs[*i].shape;
            let (rows, cols) = (s[1], s[2]);
            let mut d = if kind == LayoutKind::V7Grid {
                if cols < 6 || rows <= cols {
                    return Err(format!("needs [B,N,5+nc] with N > 5+nc, got {s:?}"));
                }
                DetectedLayout {
                    layout: Layout::V7Grid {
                        output: *i,
                        classes: cols - 5,
                    },
                    warnings: vec![],
                }
            } else {
                if rows < 5 || rows >= cols {
                    return Err(format!("needs [B,4+nc,N] with 4+nc < N, got {s:?}"));
                }
                DetectedLayout {
                    layout: Layout::V9 {
                        output: *i,
                        classes: rows - 4,
                    },
                    warnings: vec![],
                }
            };
            if outputs.len() > 1 {
                d.warnings.push(format!(
                    "decoding output `{}` and ignoring the other {} output(s)",
                    outputs[*i].name,
                    outputs.len() - 1
                ));
            }
            Ok(d)
        }
        LayoutKind::V7RawHeads => {
            let mut heads: Vec<usize> = (0..outputs.len()).collect();
            for &i in &heads {
                let s = &outputs[i].shape;
                if s.len() != 5 || s[4] < 6 {
                    return Err(format!(
                        "needs every output [B,A,H,W,5+nc], `{}` is {s:?}",
                        outputs[i].name
                    ));
                }
                if s[4] != outputs[0].shape[4] || s[0] != outputs[0].shape[0] {
                    return Err("raw heads disagree on batch or 5+nc".into());
                }
            }
            heads.sort_by_key(|&i| std::cmp::Reverse(outputs[i].shape[2]));
            let classes = outputs[0].shape[4] - 5;
            ok(Layout::V7RawHeads {
                outputs: heads,
                classes,
            })
        }
    }
}

/// Strides and anchors for decoding YOLOv7 raw heads.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RawHeadConfig {
    /// Stride per level, finest first; `None` infers `input_height / H`.
    #[serde(default)]
    pub strides: Option<Vec<f32>>,
    /// Anchors per level (finest first) as `[w0, h0, w1, h1, …]` in input pixels.
    pub anchors: Vec<Vec<f32>>,
}

impl RawHeadConfig {
    /// YOLOv7 (P5 models: yolov7, yolov7x, yolov7-tiny) anchors.
    pub fn yolov7() -> Self {
        Self {
            strides: None,
            anchors: vec![
                vec![12., 16., 19., 36., 40., 28.],
                vec![36., 75., 76., 55., 72., 146.],
                vec![142., 110., 192., 243., 459., 401.],
            ],
        }
    }

    /// Reads a JSON file `{"strides": [8,16,32], "anchors": [[...], ...]}`.
    pub fn from_json_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text)
            .map_err(|e| Error::Config(format!("{}: not a raw-head config: {e}", path.display())))
    }
}

impl Default for RawHeadConfig {
    fn default() -> Self {
        Self::yolov7()
    }
}

/// Decoding settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DecodeConfig {
    /// Drop candidates scoring at or below this.
    pub conf: f32,
    /// NMS settings (ignored by end-to-end layouts except `max_det`).
    pub nms: NmsConfig,
    /// Force a layout family instead of detecting it.
    pub layout: Option<LayoutKind>,
    /// Strides and anchors for [`LayoutKind::V7RawHeads`].
    pub raw_heads: RawHeadConfig,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            conf: 0.25,
            nms: NmsConfig::default(),
            layout: None,
            raw_heads: RawHeadConfig::yolov7(),
        }
    }
}

/// Turns output tensors into detections. Holds scratch space: reuse one per stream.
#[derive(Debug, Clone)]
pub struct Decoder {
    config: DecodeConfig,
    layout: Layout,
    warnings: Vec<String>,
    input_size: (usize, usize),
    best: Vec<f32>,
    cands: Vec<Candidate>,
    keep: Vec<Candidate>,
    nms: Nms,
}

fn tensor_err(t: &TensorView<'_>, message: String) -> Error {
    Error::Tensor {
        tensor: t.name.to_string(),
        message,
    }
}

impl Decoder {
    /// A decoder for outputs described by `outputs`, for a network input of `input_size`
    /// (width, height) pixels (used to infer raw-head strides).
    pub fn new(
        config: DecodeConfig,
        outputs: &[OutputInfo],
        input_size: (usize, usize),
    ) -> Result<Self> {
        if !(0.0..=1.0).contains(&config.nms.iou) || config.conf.is_nan() {
            return Err(Error::Config(format!(
                "IoU threshold {} must be within [0, 1] and conf {} a number",
                config.nms.iou, config.conf
            )));
        }
        let DetectedLayout { layout, warnings } = detect_layout(outputs, config.layout)?;
        if let Layout::V7RawHeads { outputs: heads, .. } = &layout {
            let levels = heads.len();
            if config.raw_heads.anchors.len() != levels {
                return Err(Error::Config(format!(
                    "the model has {levels} raw heads but the raw-head config has anchors for {} levels",
                    config.raw_heads.anchors.len()
                )));
            }
            for (l, &h) in heads.iter().enumerate() {
                let na = outputs[h].shape[1];
                if config.raw_heads.anchors[l].len() != 2 * na {
                    return Err(Error::Config(format!(
                        "raw head `{}` has {na} anchors but the config lists {} numbers for level {l} (need {})",
                        outputs[h].name,
                        config.raw_heads.anchors[l].len(),
                        2 * na
                    )));
                }
            }
            if let Some(s) = &config.raw_heads.strides {
                if s.len() != levels {
                    return Err(Error::Config(format!(
                        "{levels} raw heads but {} strides",
                        s.len()
                    )));
                }
            }
        }
        for w in &warnings {
            tracing::warn!("{w}");
        }
        Ok(Self {
            config,
            layout,
            warnings,
            input_size,
            best: Vec::new(),
            cands: Vec::new(),
            keep: Vec::new(),
            nms: Nms::new(),
        })
    }

    /// The layout in use.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
    /// Notes from layout detection (e.g. "auxiliary branch ignored").
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
    /// Whether an auxiliary YOLOv9 branch is being ignored.
    pub fn ignores_aux_branch(&self) -> bool {
        matches!(self.layout, Layout::V9Dual { .. })
    }
    /// The settings.
    pub fn config(&self) -> &DecodeConfig {
        &self.config
    }
    /// Changes the confidence threshold.
    pub fn set_conf(&mut self, conf: f32) {
        self.config.conf = conf;
    }
    /// Changes the NMS settings.
    pub fn set_nms(&mut self, nms: NmsConfig) {
        self.config.nms = nms;
    }

    /// Decodes batch item `item` and maps the boxes back through `transform`.
    pub fn decode(
        &mut self,
        outputs: &[TensorView<'_>],
        item: usize,
        transform: &LetterboxTransform,
    ) -> Result<Vec<Detection>> {
        let mut out = Vec::new();
        self.decode_into(outputs, item, transform, &mut out)?;
        Ok(out)
    }

    /// Decodes every batch item `i` of `transforms.len()` with `transforms[i]`.
    pub fn decode_batch(
        &mut self,
        outputs: &[TensorView<'_>],
        transforms: &[LetterboxTransform],
    ) -> Result<Vec<Vec<Detection>>> {
        transforms
            .iter()
            .enumerate()
            .map(|(i, t)| self.decode(outputs, i, t))
            .collect()
    }

    /// Like [`Self::decode`] but appends to `out` (no allocation once warmed up).
    pub fn decode_into(
        &mut self,
        outputs: &[TensorView<'_>],
        item: usize,
        transform: &LetterboxTransform,
        out: &mut Vec<Detection>,
    ) -> Result<()> {
        self.candidates(outputs, item)?;
        self.keep.clear();
        if self.layout.is_end_to_end() {
            self.cands.sort_by(crate::nms::rank);
            self.cands.truncate(self.config.nms.max_det);
            std::mem::swap(&mut self.cands, &mut self.keep);
        } else {
            self.nms
                .run(&mut self.cands, &self.config.nms, &mut self.keep);
        }
        out.extend(self.keep.iter().map(|c| Detection {
            bbox: transform.box_to_source(c.bbox),
            score: c.score,
            class_id: c.class_id,
        }));
        Ok(())
    }

    /// Decodes batch item `item` into candidates in network pixels, before NMS (for tests and
    /// custom post-processing). The result is in [`Self::last_candidates`].
    pub fn candidates(&mut self, outputs: &[TensorView<'_>], item: usize) -> Result<()> {
        self.cands.clear();
        let conf = self.config.conf;
        let get = |i: usize| -> Result<&TensorView<'_>> {
            outputs.get(i).ok_or_else(|| Error::Tensor {
                tensor: format!("#{i}"),
                message: format!(
                    "the layout needs output {i} but only {} were given",
                    outputs.len()
                ),
            })
        };
        let check_item = |t: &TensorView<'_>| -> Result<()> {
            if item >= t.shape[0] {
                return Err(tensor_err(
                    t,
                    format!("batch item {item} requested but batch is {}", t.shape[0]),
                ));
            }
            Ok(())
        };
        match self.layout.clone() {
            Layout::V7Grid { output, classes } => {
                let t = get(output)?;
                expect_shape(t, &[None, None, Some(classes + 5)])?;
                check_item(t)?;
                let data = t.to_f32();
                let (n, c) = (t.shape[1], t.shape[2]);
                let rows = &data[item * n * c..(item + 1) * n * c];
                for (i, r) in rows.chunks_exact(c).enumerate() {
                    let obj = r[4];
                    if obj <= conf {
                        continue;
                    }
                    let (k, p) = argmax(&r[5..]);
                    let score = obj * p;
                    if score > conf {
                        self.cands.push(Candidate {
                            bbox: xywh(r[0], r[1], r[2], r[3]),
                            score,
                            class_id: k,
                            index: i as u32,
                        });
                    }
                }
            }
            Layout::V9 { output, classes }
            | Layout::V9Dual {
                main: output,
                classes,
                ..
            } => {
                let t = get(output)?;
                expect_shape(t, &[None, Some(classes + 4), None])?;
                check_item(t)?;
                let data = t.to_f32();
                let (c, n) = (t.shape[1], t.shape[2]);
                let d = &data[item * c * n..(item + 1) * c * n];
                // Pass 1: per-anchor maximum over the class rows (contiguous, vectorises to
                // packed max). Pass 2: argmax only for anchors above the threshold.
                self.best.clear();
                self.best.extend_from_slice(&d[4 * n..5 * n]);
                for k in 1..classes {
                    let row = &d[(4 + k) * n..(5 + k) * n];
                    for (b, &v) in self.best.iter_mut().zip(row) {
                        *b = if v > *b { v } else { *b };
                    }
                }
                for (i, &s) in self.best.iter().enumerate() {
                    if s > conf {
                        let k = (0..classes).find(|&k| d[(4 + k) * n + i] == s).unwrap_or(0) as u32;
                        let bbox = xywh(d[i], d[n + i], d[2 * n + i], d[3 * n + i]);
                        self.cands.push(Candidate {
                            bbox,
                            score: s,
                            class_id: k,
                            index: i as u32,
                        });
                    }
                }
            }
            Layout::V7RawHeads {
                outputs: heads,
                classes,
            } => {
                let logit_conf = if conf <= 0.0 {
                    f32::NEG_INFINITY
                } else if conf >= 1.0 {
                    f32::INFINITY
                } else {
                    (conf / (1.0 - conf)).ln()
                };
                let mut base = 0u32;
                for (level, &h) in heads.iter().enumerate() {
                    let t = get(h)?;
                    expect_shape(t, &[None, None, None, None, Some(classes + 5)])?;
                    check_item(t)?;
                    let (na, gh, gw, c) = (t.shape[1], t.shape[2], t.shape[3], t.shape[4]);
                    let stride = match &self.config.raw_heads.strides {
                        Some(s) => s[level],
                        None => self.input_size.1 as f32 / gh as f32,
                    };
                    let anchors = &self.config.raw_heads.anchors[level];
                    if anchors.len() != 2 * na {
                        return Err(tensor_err(
                            t,
                            format!(
                                "has {na} anchors but the config gives {} numbers",
                                anchors.len()
                            ),
                        ));
                    }
                    let data = t.to_f32();
                    let per = na * gh * gw * c;
                    let d = &data[item * per..(item + 1) * per];
                    for (j, r) in d.chunks_exact(c).enumerate() {
                        if r[4] <= logit_conf {
                            continue;
                        }
                        let (k, p) = argmax(&r[5..]);
                        let score = sigmoid(r[4]) * sigmoid(p);
                        if score <= conf {
                            continue;
                        }
                        let x = (j % gw) as f32;
                        let y = ((j / gw) % gh) as f32;
                        let a = j / (gw * gh);
                        let cx = (sigmoid(r[0]) * 2.0 - 0.5 + x) * stride;
                        let cy = (sigmoid(r[1]) * 2.0 - 0.5 + y) * stride;
                        let w = (sigmoid(r[2]) * 2.0).powi(2) * anchors[2 * a];
                        let hh = (sigmoid(r[3]) * 2.0).powi(2) * anchors[2 * a + 1];
                        self.cands.push(Candidate {
                            bbox: xywh(cx, cy, w, hh),
                            score,
                            class_id: k,
                            index: base + j as u32,
                        });
                    }
                    base += (na * gh * gw) as u32;
                }
            }
            Layout::EfficientNms {
                num_dets,
                boxes,
                scores,
                classes,
            } => {
                let (tn, tb, ts, tc) = (get(num_dets)?, get(boxes)?, get(scores)?, get(classes)?);
                expect_shape(tn, &[None, Some(1)])?;
                expect_shape(tb, &[Some(tn.shape[0]), None, Some(4)])?;
                let k = tb.shape[1];
                expect_shape(ts, &[Some(tn.shape[0]), Some(k)])?;
                expect_shape(tc, &[Some(tn.shape[0]), Some(k)])?;
                check_item(tn)?;
                let n = tn.to_i64()[item];
                if n < 0 || n as usize > k {
                    return Err(tensor_err(tn, format!("num_dets = {n} is outside 0..={k}")));
                }
                let (b, s, c) = (tb.to_f32(), ts.to_f32(), tc.to_i64());
                for i in 0..n as usize {
                    let score = s[item * k + i];
                    if score > conf {
                        let o = (item * k + i) * 4;
                        self.cands.push(Candidate {
                            bbox: [b[o], b[o + 1], b[o + 2], b[o + 3]],
                            score,
                            class_id: class_u32(tc, c[item * k + i])?,
                            index: i as u32,
                        });
                    }
                }
            }
            Layout::OnnxNms { output } => {
                let t = get(output)?;
                expect_shape(t, &[None, Some(7)])?;
                let d = t.to_f32();
                for (i, r) in d.chunks_exact(7).enumerate() {
                    if r[0] as i64 != item as i64 || r[6] <= conf {
                        continue;
                    }
                    self.cands.push(Candidate {
                        bbox: [r[1], r[2], r[3], r[4]],
                        score: r[6],
                        class_id: class_u32(t, r[5] as i64)?,
                        index: i as u32,
                    });
                }
            }
        }
        Ok(())
    }

    /// Candidates left by the last [`Self::candidates`] call (NMS reorders them).
    pub fn last_candidates(&self) -> &[Candidate] {
        &self.cands
    }
}

fn class_u32(t: &TensorView<'_>, c: i64) -> Result<u32> {
    u32::try_from(c).map_err(|_| tensor_err(t, format!("class id {c} is negative or too large")))
}

fn expect_shape(t: &TensorView<'_>, dims: &[Option<usize>]) -> Result<()> {
    let fits = t.shape.len() == dims.len()
        && t.shape
            .iter()
            .zip(dims)
            .all(|(&a, d)| d.is_none_or(|d| d == a));
    if !fits {
        let want: Vec<String> = dims
            .iter()
            .map(|d| d.map_or("?".into(), |d| d.to_string()))
            .collect();
        return Err(tensor_err(
            t,
            format!(
                "has shape {:?} but the layout needs [{}]",
                t.shape,
                want.join(",")
            ),
        ));
    }
    Ok(())
}

#[inline]
fn argmax(v: &[f32]) -> (u32, f32) {
    let mut best = (0u32, f32::NEG_INFINITY);
    for (i, &x) in v.iter().enumerate() {
        if x > best.1 {
            best = (i as u32, x);
        }
    }
    best
}

#[inline]
fn xywh(cx: f32, cy: f32, w: f32, h: f32) -> [f32; 4] {
    let (hw, hh) = (w * 0.5, h * 0.5);
    [cx - hw, cy - hh, cx + hw, cy + hh]
}

#[inline]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}
