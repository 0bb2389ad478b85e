//! Lint used by `trt-build` and `trt-onnx inspect`: warns about graphs that will build a slower
//! or wrong engine as exported.
//!
//! * `unfused-bn`, `unfused-repconv`, `unfused-implicit`: patterns [`fuse`](super::fuse) would
//!   remove (run `trt-onnx fuse` first); `unfusible-*`: instances it refuses, with the reason.
//! * `standalone-bn`: a BatchNormalization that cannot be folded into a Conv.
//! * `dual-head`: a YOLOv9 graph that still carries the auxiliary (training) head — two DFL
//!   decoders; export the re-parameterized (converted / gelan) model instead.
//! * `raw-yolov7-head`: YOLOv7 per-level raw outputs `[N, 3, H, W, 5+nc]` (no grid decode);
//!   export with `--grid` (and optionally `--end2end`) so the engine emits decoded boxes.

use serde::Serialize;

use super::{analyze, FuseOptions, PatternKind};
use crate::graph::{node_label, value_info_dims, Graph};
use crate::model::Model;

/// One lint finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LintWarning {
    /// Stable machine-readable code (see the module docs).
    pub code: &'static str,
    /// Node (or output) the warning is about; empty for whole-graph warnings.
    pub node: String,
    /// Human-readable explanation with the fix.
    pub message: String,
}

impl std::fmt::Display for LintWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.node.is_empty() {
            write!(f, "[{}] {}", self.code, self.message)
        } else {
            write!(f, "[{}] {}: {}", self.code, self.node, self.message)
        }
    }
}

/// Lints a model. Never fails: a graph the analysis cannot handle yields a `lint-error` warning.
pub fn lint(model: &Model) -> Vec<LintWarning> {
    let mut out = Vec::new();
    match analyze(model, &FuseOptions::default()) {
        Ok(report) => {
            for (kind, code, what) in [
                (
                    PatternKind::ConvBn,
                    "unfused-bn",
                    "Conv+BatchNormalization pairs",
                ),
                (
                    PatternKind::RepConv,
                    "unfused-repconv",
                    "RepConv-style multi-branch Conv groups",
                ),
                (
                    PatternKind::ImplicitA,
                    "unfused-implicit",
                    "YOLOv7 ImplicitA constants",
                ),
                (
                    PatternKind::ImplicitM,
                    "unfused-implicit",
                    "YOLOv7 ImplicitM constants",
                ),
            ] {
                let c = report.count(kind);
                if c.fused > 0 {
                    out.push(LintWarning {
                        code,
                        node: String::new(),
                        message: format!(
                            "{} {what} are not fused; run `trt-onnx fuse` (trt-build does this unless --no-reparam)",
                            c.fused
                        ),
                    });
                }
            }
            for r in &report.refusals {
                let code = match r.kind {
                    PatternKind::ConvBn => "unfusible-bn",
                    PatternKind::StandaloneBn => "standalone-bn",
                    PatternKind::RepConv => "unfusible-repconv",
                    PatternKind::ImplicitA | PatternKind::ImplicitM => "unfusible-implicit",
                    _ => continue,
                };
                out.push(LintWarning {
                    code,
                    node: r.node.clone(),
                    message: r.reason.clone(),
                });
            }
        }
        Err(e) => out.push(LintWarning {
            code: "lint-error",
            node: String::new(),
            message: e.to_string(),
        }),
    }
    out.extend(structural(model.graph()));
    out
}

/// Reg-max sizes seen in DFL heads (YOLOv8/v9 use 16).
const DFL_BINS: [i64; 4] = [8, 16, 32, 64];

/// The DFL decoders, as node labels: 1×1 Convs with weight `[1, R, 1, 1]` equal to `0..R`, no bias.
pub fn count_dfl(g: &Graph) -> Vec<String> {
    dfl_nodes(g)
        .into_iter()
        .map(|i| node_label(&g.nodes()[i], i))
        .collect()
}

/// Indices of the DFL decoder nodes (see [`count_dfl`]).
pub fn dfl_nodes(g: &Graph) -> Vec<usize> {
    g.nodes()
        .iter()
        .enumerate()
        .filter(|(_, n)| n.op_type == "Conv")
        .filter(|(_, n)| {
            let Some(w) = n.input.get(1).and_then(|w| g.initializer(w)) else {
                return false;
            };
            if w.dims.len() != 4
                || w.dims[0] != 1
                || w.dims[2] != 1
                || w.dims[3] != 1
                || !DFL_BINS.contains(&w.dims[1])
            {
                return false;
            }
            crate::graph::tensor_to_f32(w).is_ok_and(|a| {
                a.iter()
                    .enumerate()
                    .all(|(i, &v)| (v - i as f32).abs() < 1e-4)
            })
        })
        .map(|(i, _)| i)
        .collect()
}

fn structural(g: &Graph) -> Vec<LintWarning> {
    let mut out = Vec::new();
    let dfl = count_dfl(g);
    let rank3: Vec<Vec<Option<i64>>> = g
        .outputs()
        .iter()
        .filter_map(value_info_dims)
        .filter(|d| d.len() == 3)
        .collect();
    let twin_outputs = rank3.len() >= 2 && rank3.iter().all(|d| d == &rank3[0]);
    if dfl.len() >= 2 {
        out.push(LintWarning {
            code: "dual-head",
            node: dfl.join(", "),
            message: format!(
                "{} DFL decoders found: this looks like a YOLOv9 model with its auxiliary training head (DualDDetect). \
                 The aux branch doubles head compute and its outputs are not used at inference: `trt-onnx fuse` and \
                 `trt-build` keep the main head and drop it (--keep-aux-head keeps both), or re-parameterize \
                 (yolov9 reparameterization.py → gelan/converted weights) and export again{}",
                dfl.len(),
                if twin_outputs { " (the graph also has two identically shaped detection outputs)" } else { "" }
            ),
        });
    }
    let raw5: Vec<&str> = g
        .outputs()
        .iter()
        .filter(|o| value_info_dims(o).is_some_and(|d| d.len() == 5 && d[1] == Some(3)))
        .map(|o| o.name.as_str())
        .collect();
    if !raw5.is_empty() {
        out.push(LintWarning {
            code: "raw-yolov7-head",
            node: raw5.join(", "),
            message: "outputs shaped [N, 3, H, W, 5+nc] are raw YOLOv7 head maps without grid decoding; export with \
                      `export.py --grid` (optionally `--end2end`) so the engine outputs decoded boxes"
                .into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{make_value_info, tensor_from_f32, DataType};
    use crate::passes::testutil::Builder;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn warns_about_unfused_and_clean_after_fuse() {
        let mut b = Builder::new(&[1, 4, 8, 8], 60);
        let y = b.conv("x", 4, 3, 1, 1, 1, false);
        let y = b.bn(&y, Some(1e-3));
        let c1 = b.conv("x", 4, 1, 1, 0, 1, false);
        let c1 = b.bn(&c1, Some(1e-3));
        let s = b.node("Add", &[&y, &c1], vec![]);
        let m = b.model(&[&s]);
        let w = lint(&m);
        let codes: Vec<_> = w.iter().map(|w| w.code).collect();
        assert!(
            codes.contains(&"unfused-bn") && codes.contains(&"unfused-repconv"),
            "{codes:?}"
        );
        assert!(w
            .iter()
            .find(|w| w.code == "unfused-bn")
            .unwrap()
            .message
            .starts_with("2 "));
        let mut f = m.clone();
        crate::passes::fuse(&mut f, &FuseOptions::default()).unwrap();
        assert!(lint(&f).is_empty(), "{:?}", lint(&f));
    }

    #[test]
    fn dual_head_and_raw_v7_head() {
        let mut b = Builder::new(&[1, 16, 4, 8], 61);
        let dfl =
            ArrayD::from_shape_vec(IxDyn(&[1, 16, 1, 1]), (0..16).map(|i| i as f32).collect())
                .unwrap();
        b.g.set_initializer(tensor_from_f32("dfl_w", &dfl));
        let s = b.node("Softmax", &["x"], vec![]);
        let d1 = b.node("Conv", &[&s, "dfl_w"], vec![]);
        let d2 = b.node("Conv", &[&s, "dfl_w"], vec![]);
        let mut m = b.model(&[&d1, &d2]);
        let w = lint(&m);
        assert!(w.iter().any(|w| w.code == "dual-head"), "{w:?}");
        // One DFL only: no dual-head warning.
        let mut b = Builder::new(&[1, 16, 4, 8], 62);
        b.g.set_initializer(tensor_from_f32("dfl_w", &dfl));
        let d1 = b.node("Conv", &["x", "dfl_w"], vec![]);
        let m1 = b.model(&[&d1]);
        assert!(!lint(&m1).iter().any(|w| w.code == "dual-head"));
        // Raw v7 head output.
        m.graph_mut().edit_proto(|p| {
            p.output[0] = make_value_info(
                &p.output[0].name.clone(),
                DataType::Float,
                &[1, 3, 20, 20, 85],
            )
        });
        assert!(lint(&m).iter().any(|w| w.code == "raw-yolov7-head"));
    }
}
