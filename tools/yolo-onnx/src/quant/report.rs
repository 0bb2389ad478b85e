//! Calibration report: per-tensor ranges and saturation, and the drift of the Q/DQ model from FP32 on
//! held-out inputs (cosine similarity and max abs error per output, on the CPU executor).

use std::collections::{BTreeMap, HashSet};

use ndarray::ArrayD;
use serde::Serialize;

use super::{Algorithm, QdqPlan, Statistics};
use crate::error::{Error, Result};
use crate::exec::{diff, ExecOptions, Executor, TensorValue};
use crate::model::Model;

/// Range of one calibrated tensor.
#[derive(Clone, Debug, Serialize)]
pub struct TensorRange {
    /// Tensor name.
    pub name: String,
    /// Exact minimum seen.
    pub min: f32,
    /// Exact maximum seen.
    pub max: f32,
    /// Clipping threshold chosen.
    pub amax: f32,
    /// Scale (`amax / 127`).
    pub scale: f32,
    /// Fraction of values beyond `amax` (clipped by quantization).
    pub saturation: f64,
    /// Whether the tensor got a Q/DQ pair in the ONNX model (every tensor is in the cache).
    pub qdq: bool,
}

/// Drift of one output of the Q/DQ model from the FP32 model.
#[derive(Clone, Debug, Serialize)]
pub struct OutputDrift {
    /// Output name.
    pub name: String,
    /// Smallest cosine similarity over the held-out inputs.
    pub cosine: f64,
    /// Largest |fp32 − int8| over the held-out inputs.
    pub max_abs: f64,
    /// Largest |fp32| (to judge `max_abs`).
    pub reference_max_abs: f64,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct QuantReport {
    /// Algorithm name.
    pub algorithm: String,
    /// Calibration samples.
    pub samples: usize,
    /// Activation tensors with a Q/DQ pair.
    pub qdq_activations: usize,
    /// Weights quantized per channel.
    pub qdq_weights: usize,
    /// Quantized nodes.
    pub quantized_nodes: Vec<String>,
    /// Nodes kept in floating point, with the reason.
    pub kept_float: Vec<(String, String)>,
    /// Ranges of every calibrated tensor (graph order).
    pub tensors: Vec<TensorRange>,
    /// Held-out inputs the drift was measured on.
    pub held_out: usize,
    /// Drift per output (empty without held-out inputs).
    pub drift: Vec<OutputDrift>,
}

impl QuantReport {
    /// Assembles the report.
    pub fn new(
        algorithm: Algorithm,
        stats: &Statistics,
        scales: &BTreeMap<String, (f32, f32)>,
        plan: &QdqPlan,
        drift: (usize, Vec<OutputDrift>),
    ) -> QuantReport {
        let qdq: HashSet<&str> = plan.activations.iter().map(String::as_str).collect();
        let tensors = stats
            .order
            .iter()
            .filter_map(|n| {
                let h = stats.tensors.get(n)?;
                let &(amax, scale) = scales.get(n)?;
                Some(TensorRange {
                    name: n.clone(),
                    min: h.min(),
                    max: h.max(),
                    amax,
                    scale,
                    saturation: h.saturation(amax),
                    qdq: qdq.contains(n.as_str()),
                })
            })
            .collect();
        let algorithm = match algorithm {
            Algorithm::Percentile(p) => format!("percentile {p}"),
            a => a.name().to_string(),
        };
        QuantReport {
            algorithm,
            samples: stats.samples,
            qdq_activations: plan.activations.len(),
            qdq_weights: plan.weights.len(),
            quantized_nodes: plan.quantized_nodes.clone(),
            kept_float: plan.kept_float.clone(),
            tensors,
            held_out: drift.0,
            drift: drift.1,
        }
    }

    /// One-line summaries (for `trt-build`'s step report).
    pub fn summary_lines(&self) -> Vec<String> {
        let mut v = vec![format!(
            "{} calibration on {} samples: {} activations and {} weights quantized, {} quantizable nodes kept in \
             floating point",
            self.algorithm,
            self.samples,
            self.qdq_activations,
            self.qdq_weights,
            self.kept_float.len()
        )];
        for d in &self.drift {
            v.push(format!(
                "drift of '{}' on {} held-out inputs: cosine {:.5}, max |diff| {:.4} (|fp32| ≤ {:.3})",
                d.name, self.held_out, d.cosine, d.max_abs, d.reference_max_abs
            ));
        }
        v
    }

    /// Human-readable report.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for l in self.summary_lines() {
            s.push_str(&l);
            s.push('\n');
        }
        for (n, why) in &self.kept_float {
            s.push_str(&format!("  float: {n} ({why})\n"));
        }
        s.push_str("  tensor ranges (Q/DQ = in the ONNX model; all are in the cache):\n");
        for t in &self.tensors {
            s.push_str(&format!(
                "  {} {}: [{:.4}, {:.4}] amax {:.4} scale {:.6} saturated {:.4}%\n",
                if t.qdq { "Q/DQ " } else { "cache" },
                t.name,
                t.min,
                t.max,
                t.amax,
                t.scale,
                t.saturation * 100.0
            ));
        }
        s
    }
}

/// Runs both models on `inputs` and returns (inputs used, per-output drift).
pub fn drift(
    fp32: &Model,
    qdq: &Model,
    inputs: &[ArrayD<f32>],
) -> Result<(usize, Vec<OutputDrift>)> {
    if inputs.is_empty() {
        return Ok((0, Vec::new()));
    }
    let name = fp32
        .graph()
        .inputs()
        .first()
        .map(|v| v.name.clone())
        .ok_or_else(|| Error::other(fp32.source_name(), "the model has no input"))?;
    let mut options = ExecOptions::default();
    options
        .input_shapes
        .insert(name.clone(), inputs[0].shape().to_vec());
    let a = Executor::new(fp32, &options)?;
    let b = Executor::new(qdq, &options)?;
    let mut out: Vec<OutputDrift> = Vec::new();
    for x in inputs {
        let feed = vec![(name.clone(), TensorValue::F32(x.clone()))];
        let (ra, rb) = (a.run(&feed)?, b.run(&feed)?);
        for ((n, va), (_, vb)) in ra.iter().zip(&rb) {
            if !matches!(va, TensorValue::F32(_)) {
                continue;
            }
            let (fa, fb) = (va.to_f32(), vb.to_f32());
            let d = diff(n, &fa, &fb, 0.0, 0.0);
            let refmax = fa.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
            match out.iter_mut().find(|o| &o.name == n) {
                Some(o) => {
                    o.cosine = o.cosine.min(d.cosine);
                    o.max_abs = o.max_abs.max(d.max_abs);
                    o.reference_max_abs = o.reference_max_abs.max(refmax);
                }
                None => out.push(OutputDrift {
                    name: n.clone(),
                    cosine: d.cosine,
                    max_abs: d.max_abs,
                    reference_max_abs: refmax,
                }),
            }
        }
    }
    Ok((inputs.len(), out))
}
