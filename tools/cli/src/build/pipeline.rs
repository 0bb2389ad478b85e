//! The ONNX pipeline that runs before TensorRT (DESIGN.md decision 5): load → re-parameterize → lint →
//! (calibrate) → FP16 / Q/DQ pass → verify each pass on the CPU executor → the bytes TensorRT will parse.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use yolo_onnx::Model;

use super::shapes::{ModelInput, Profile};

/// A model as loaded from disk, with what the plan needs to know about it.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The file.
    pub path: PathBuf,
    /// The model.
    pub model: Model,
    /// SHA-256 of the file as given.
    pub sha256: String,
    /// Graph inputs (initializers excluded).
    pub inputs: Vec<ModelInput>,
}

/// Facts about a model for reports (`trt-inspect MODEL.onnx`, the plan).
#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    /// Default-domain opset.
    pub opset: i64,
    /// Producer (`pytorch 2.1`).
    pub producer: String,
    /// Inputs: name, element type, dims (`?` dynamic).
    pub inputs: Vec<IoSummary>,
    /// Outputs.
    pub outputs: Vec<IoSummary>,
    /// Node count.
    pub nodes: usize,
    /// Op type → count.
    pub ops: BTreeMap<String, usize>,
    /// Holds QuantizeLinear/DequantizeLinear nodes.
    pub quantized: bool,
}

/// One graph input or output.
#[derive(Debug, Clone, Serialize)]
pub struct IoSummary {
    /// Name.
    pub name: String,
    /// Element type name.
    pub dtype: String,
    /// Dims, `None` for dynamic.
    pub dims: Vec<Option<i64>>,
}

/// Loads an ONNX file; errors name the file and say what is wrong with it.
pub fn load(path: &Path) -> Result<LoadedModel> {
    super::config::check_model_file(path)?;
    let bytes = std::fs::read(path)
        .with_context(|| format!("{}: cannot read the model", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.display().to_string();
    let model = Model::from_bytes_in_dir(&bytes, &name, dir)
        .map_err(|e| anyhow::anyhow!("{}", one_line(&e.to_string())))?;
    let sha256 = trt::sidecar::sha256_hex(&bytes);
    let inputs = model_inputs(&model);
    if inputs.is_empty() {
        bail!("{name}: the graph has no inputs (only initializers); is this a complete export?");
    }
    if model.graph().nodes().is_empty() {
        bail!("{name}: the graph has no nodes");
    }
    Ok(LoadedModel {
        path: path.to_path_buf(),
        model,
        sha256,
        inputs,
    })
}

/// Graph inputs that are not initializers, with declared dims.
pub fn model_inputs(model: &Model) -> Vec<ModelInput> {
    let g = model.graph();
    g.inputs()
        .into_iter()
        .filter(|vi| !g.is_initializer(&vi.name))
        .map(|vi| ModelInput {
            name: vi.name.clone(),
            dims: yolo_onnx::graph::value_info_dims(vi).unwrap_or_default(),
        })
        .collect()
}

/// Summary of a model for reports.
pub fn summarize(model: &Model) -> ModelSummary {
    let g = model.graph();
    let io = |vi: &tract_onnx::pb::ValueInfoProto| IoSummary {
        name: vi.name.clone(),
        dtype: yolo_onnx::graph::value_info_elem_type(vi)
            .map(yolo_onnx::graph::dtype_name)
            .unwrap_or("?")
            .to_string(),
        dims: yolo_onnx::graph::value_info_dims(vi).unwrap_or_default(),
    };
    let mut ops = BTreeMap::new();
    for n in g.nodes() {
        *ops.entry(n.op_type.clone()).or_insert(0usize) += 1;
    }
    let h = model.header();
    ModelSummary {
        opset: model.opset(),
        producer: format!("{} {}", h.producer_name, h.producer_version)
            .trim()
            .to_string(),
        inputs: g
            .inputs()
            .into_iter()
            .filter(|vi| !g.is_initializer(&vi.name))
            .map(io)
            .collect(),
        outputs: g.outputs().iter().map(io).collect(),
        nodes: g.nodes().len(),
        quantized: has_qdq(model),
        ops,
    }
}

/// Whether the model is explicitly quantized.
pub fn has_qdq(model: &Model) -> bool {
    model
        .graph()
        .nodes()
        .iter()
        .any(|n| n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear")
}

/// Keeps the first line of a multi-line library message (the rest is context for logs).
pub fn one_line(s: &str) -> String {
    let mut lines = s.lines();
    let first = lines.next().unwrap_or_default().to_string();
    let rest: Vec<&str> = lines.map(str::trim).filter(|l| !l.is_empty()).collect();
    if rest.is_empty() {
        first
    } else {
        format!("{first} ({})", rest.join("; "))
    }
}

/// One step of the pipeline as reported.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Step name as recorded in the sidecar (`reparameterize`, `fp16`, `int8-qdq`).
    pub name: String,
    /// What it changed.
    pub summary: String,
    /// Numerical check against the previous model, when run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// Why the check could not run (the CPU executor cannot run the model: a custom op, an op it lacks); the
    /// pass's output is used unchecked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_skipped: Option<String>,
}

/// The numerical check of one pass on the CPU executor.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Largest absolute difference over all outputs.
    pub max_abs: f64,
    /// Smallest cosine similarity over all outputs.
    pub min_cosine: f64,
    /// Tolerance applied (absolute, relative).
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Passed.
    pub passed: bool,
}

/// Concrete shapes for running the model on the CPU: each dynamic input at its first profile's opt shape.
pub fn exec_shapes(
    inputs: &[ModelInput],
    profiles: &[Profile],
) -> std::collections::HashMap<String, Vec<usize>> {
    let mut m = std::collections::HashMap::new();
    for input in inputs {
        let from_profile = profiles
            .first()
            .and_then(|p| p.inputs.iter().find(|r| r.name == input.name));
        if let Some(r) = from_profile {
            m.insert(
                input.name.clone(),
                r.opt.iter().map(|&d| d as usize).collect(),
            );
        }
    }
    m
}

/// [`verify`], or — when the CPU executor cannot run the models at all (an op it lacks, a custom op) — `Ok(None)`
/// with the reason in `skipped` and a warning on stderr (unless `quiet`): the pass's result is then used unchecked
/// rather than refusing a model TensorRT may well build. A check that runs and fails is still an error at the caller.
#[allow(clippy::too_many_arguments)]
pub fn verify_or_skip(
    what: &str,
    before: &Model,
    after: &Model,
    shapes: &HashMap<String, Vec<usize>>,
    tolerances: (f64, f64, f64),
    quiet: bool,
    skipped: &mut Option<String>,
) -> Result<Option<Verification>> {
    let (atol, rtol, min_cosine) = tolerances;
    match verify(before, after, shapes, atol, rtol, min_cosine) {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            let reason = one_line(&e.to_string());
            if !quiet {
                eprintln!(
                    "trt-build: warning: {what} not verified: {reason}; its result is used unchecked (--no-verify \
                     silences this)"
                );
            }
            *skipped = Some(reason);
            Ok(None)
        }
    }
}

/// Runs `before` and `after` on the same deterministic inputs (one random, one image-like) on the CPU executor and
/// compares every output: passes when every element is within `atol + rtol·|a|` and every output's cosine similarity
/// is at least `min_cosine`.
pub fn verify(
    before: &Model,
    after: &Model,
    shapes: &HashMap<String, Vec<usize>>,
    atol: f64,
    rtol: f64,
    min_cosine: f64,
) -> Result<Verification> {
    let options = yolo_onnx::verify::VerifyOptions {
        atol,
        rtol,
        exec: yolo_onnx::exec::ExecOptions {
            input_shapes: shapes.clone(),
            ..Default::default()
        },
        ..Default::default()
    };
    let r = yolo_onnx::verify::verify(before, after, &options).map_err(|e| {
        anyhow::anyhow!(
            "verification on the CPU executor: {}",
            one_line(&e.to_string())
        )
    })?;
    let max_abs = r.worst.iter().map(|d| d.max_abs).fold(0.0, f64::max);
    let min_cos = r.worst.iter().map(|d| d.cosine).fold(1.0, f64::min);
    let passed =
        r.passed && r.worst.iter().all(|d| d.nonfinite_mismatches == 0) && min_cos >= min_cosine;
    Ok(Verification {
        max_abs,
        min_cosine: min_cos,
        atol,
        rtol,
        passed,
    })
}

// ---- yolo-onnx passes ------------------------------------------------------------------------------------------

/// Re-parameterizes (Conv+BN folding, RepConv merge, implicit layers) a copy of `model`; returns it with a summary.
pub fn reparameterize(
    model: &Model,
    exec_shapes: &HashMap<String, Vec<usize>>,
) -> Result<(Model, String)> {
    let mut out = model.clone();
    let options = yolo_onnx::FuseOptions {
        input_shapes: exec_shapes.clone(),
        ..Default::default()
    };
    let report = yolo_onnx::fuse(&mut out, &options)
        .map_err(|e| anyhow::anyhow!("re-parameterization: {}", one_line(&e.to_string())))?;
    let mut parts: Vec<String> = report
        .patterns
        .iter()
        .filter(|(_, c)| c.found > 0)
        .map(|(k, c)| format!("{k} {}/{}", c.fused, c.found))
        .collect();
    if parts.is_empty() {
        parts.push("nothing to fuse".into());
    }
    let mut summary = format!(
        "{} (nodes {} -> {})",
        parts.join(", "),
        report.before.nodes,
        report.after.nodes
    );
    if !report.refusals.is_empty() {
        summary.push_str(&format!(", {} refused", report.refusals.len()));
        for r in &report.refusals {
            tracing::warn!(
                "re-parameterization refused {} at '{}': {}",
                r.kind,
                r.node,
                r.reason
            );
        }
    }
    Ok((out, summary))
}

/// Lint warnings (unfused BN/RepConv, dual-head YOLOv9, raw YOLOv7 heads), one line each.
pub fn lint_warnings(model: &Model) -> Vec<String> {
    yolo_onnx::passes::lint::lint(model)
        .iter()
        .map(|w| one_line(&w.to_string()))
        .collect()
}

/// The FP16 pass on a copy of `model`, keeping nodes matching `keep_fp32` (globs on node names or op types) in FP32.
/// Values observed near the FP16 limit on the CPU executor stay FP32 too.
///
/// When the CPU executor cannot run the model, the probe is dropped (with a warning, unless `quiet`): the pass still
/// keeps the YOLO decode tail and every known overflow-prone op in FP32.
pub fn fp16_pass(model: &Model, keep_fp32: &[String], quiet: bool) -> Result<(Model, String)> {
    let mut options = yolo_onnx::fp16::Fp16Options {
        keep_fp32: keep_fp32.to_vec(),
        range_probe: true,
        ..Default::default()
    };
    let mut out = model.clone();
    let report = match yolo_onnx::fp16::convert(&mut out, &options) {
        Ok(r) => r,
        Err(probe_error) => {
            options.range_probe = false;
            out = model.clone();
            let r = yolo_onnx::fp16::convert(&mut out, &options)
                .map_err(|e| anyhow::anyhow!("FP16 pass: {}", one_line(&e.to_string())))?;
            if !quiet {
                eprintln!(
                    "trt-build: warning: FP16 pass without the value-range probe (the CPU executor cannot run the \
                     model: {}); values near the FP16 limit are not detected",
                    one_line(&probe_error.to_string())
                );
            }
            r
        }
    };
    for k in &report.kept_fp32 {
        tracing::debug!(
            "fp16 pass keeps {} ({}) in FP32: {}",
            k.node,
            k.op_type,
            k.reason
        );
    }
    let summary = format!(
        "{}/{} float nodes in FP16, {} kept in FP32, {} casts",
        report.fp16_nodes,
        report.float_nodes,
        report.kept_fp32.len(),
        report.casts_inserted
    );
    Ok((out, summary))
}
