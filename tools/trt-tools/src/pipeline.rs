//! The ONNX pipeline that runs before TensorRT (TensorRT neither merges RepConv branches nor, from 11.x, takes FP16/INT8
//! builder flags, so the precision is prepared in the graph): load → re-parameterize → lint →
//! (calibrate) → FP16 / Q/DQ pass → verify each pass on the CPU executor → the bytes TensorRT will parse.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use yolo_onnx::Model;

use crate::shapes::{ModelInput, Profile};

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
    check_model_file(path)?;
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

/// Checks the inputs that must exist before anything runs (the model file).
pub fn check_model_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("{}: cannot read the model", path.display()))?;
    if meta.is_dir() {
        bail!("{} is a directory; give an .onnx file", path.display());
    }
    if meta.len() == 0 {
        bail!(
            "{}: the file is empty; expected an ONNX model",
            path.display()
        );
    }
    Ok(())
}

/// Graph inputs that are not initializers, with declared dims.
pub fn model_inputs(model: &Model) -> Vec<ModelInput> {
    model
        .graph()
        .declared_inputs()
        .into_iter()
        .map(|io| ModelInput {
            name: io.name,
            dims: io.dims.unwrap_or_default(),
        })
        .collect()
}

/// Summary of a model for reports.
pub fn summarize(model: &Model) -> ModelSummary {
    let g = model.graph();
    let io = |io: yolo_onnx::graph::DeclaredIo| IoSummary {
        dtype: io.dtype_name().to_string(),
        name: io.name,
        dims: io.dims.unwrap_or_default(),
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
        inputs: g.declared_inputs().into_iter().map(io).collect(),
        outputs: g.declared_outputs().into_iter().map(io).collect(),
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
    tool: &str,
    what: &str,
    before: &Model,
    after: &Model,
    shapes: &HashMap<String, Vec<usize>>,
    tolerances: (f64, f64, f64),
    quiet: bool,
    skipped: &mut Option<String>,
) -> Result<Option<Verification>> {
    let (atol, rtol, min_cosine) = tolerances;
    // An executor asked for and missing is a configuration error, not a model the executor cannot run.
    let backend = crate::common::executor::cpu_backend()?;
    match verify(before, after, shapes, atol, rtol, min_cosine, backend) {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            let reason = one_line(&e.to_string());
            if !quiet {
                eprintln!(
                    "{tool}: warning: {what} not verified: {reason}; its result is used unchecked (--no-verify \
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
/// is at least `min_cosine`, on the CPU executor `backend`.
pub fn verify(
    before: &Model,
    after: &Model,
    shapes: &HashMap<String, Vec<usize>>,
    atol: f64,
    rtol: f64,
    min_cosine: f64,
    backend: yolo_onnx::exec::Backend,
) -> Result<Verification> {
    let options = yolo_onnx::verify::VerifyOptions {
        atol,
        rtol,
        exec: yolo_onnx::exec::ExecOptions {
            input_shapes: shapes.clone(),
            backend,
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

/// The re-parameterization of `trt-build`, `trt-onnx fuse` and `trt-onnx quantize`: one function, so that the three
/// produce the same graph with the same tensor names (a calibration cache written by `quantize` names exactly the
/// tensors of the network `trt-build` hands TensorRT).
#[derive(Debug, Clone)]
pub struct Reparameterized {
    /// The re-parameterized model.
    pub model: Model,
    /// What its outputs must match: the input model, less the auxiliary heads when they were dropped.
    pub reference: Model,
    /// The fusion report.
    pub report: yolo_onnx::FuseReport,
    /// YOLOv9's auxiliary training heads dropped (a `DualDDetect` export), if any.
    pub aux_head: Option<yolo_onnx::passes::aux_head::AuxHeadReport>,
    /// One line for reports.
    pub summary: String,
}

/// Drops YOLOv9's auxiliary training heads (unless `keep_aux_head`; see [`yolo_onnx::passes::aux_head`]), then
/// re-parameterizes (Conv+BN folding, RepConv merge, implicit layers) a copy of `model`.
pub fn reparameterize(
    model: &Model,
    exec_shapes: &HashMap<String, Vec<usize>>,
    keep_aux_head: bool,
) -> Result<Reparameterized> {
    let mut reference = model.clone();
    let aux_head = if keep_aux_head {
        None
    } else {
        yolo_onnx::passes::aux_head::drop_auxiliary_heads(&mut reference).map_err(|e| {
            anyhow::anyhow!("dropping the auxiliary head: {}", one_line(&e.to_string()))
        })?
    };
    let mut out = reference.clone();
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
    if let Some(a) = &aux_head {
        summary = format!("{a}; {summary}");
    }
    Ok(Reparameterized {
        model: out,
        reference,
        report,
        aux_head,
        summary,
    })
}

/// What [`check_calibration_cache`] found.
#[derive(Debug, Clone, Serialize)]
pub struct CacheCoverage {
    /// The cache file.
    pub path: PathBuf,
    /// Tensors of the network that need a range (all covered, or the check failed).
    pub tensors: usize,
    /// Cache entries naming no tensor of the network (ignored by TensorRT).
    pub unused: usize,
    /// The TensorRT version the header names (`8.6.1`, or the raw code when it does not decode).
    pub header_version: String,
}

/// Reads a `--calib-cache` that TensorRT will use as is and checks it against `model`, the graph TensorRT will parse:
/// it must be a calibration cache, and it must give a range to every tensor that needs one
/// ([`yolo_onnx::quant::calibrated_tensors`]) — otherwise TensorRT silently runs those layers without INT8 ranges.
/// The error names the missing tensors and how to write a cache for this graph.
pub fn check_calibration_cache(model: &Model, path: &Path) -> Result<CacheCoverage> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("--calib-cache {}: cannot read", path.display()))?;
    let what = path.display().to_string();
    let cache = yolo_onnx::quant::CalibrationCache::parse(&bytes, &what)
        .map_err(|e| anyhow::anyhow!("--calib-cache: {e}"))?;
    let needed = yolo_onnx::quant::calibrated_tensors(model)
        .map_err(|e| anyhow::anyhow!("--calib-cache {what}: {}", one_line(&e.to_string())))?;
    let have: std::collections::HashSet<&str> =
        cache.scales.iter().map(|(n, _)| n.as_str()).collect();
    let missing: Vec<&str> = needed
        .iter()
        .map(String::as_str)
        .filter(|n| !have.contains(n))
        .collect();
    if !missing.is_empty() {
        const SHOWN: usize = 8;
        let mut list = missing
            .iter()
            .take(SHOWN)
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ");
        if missing.len() > SHOWN {
            list.push_str(&format!(" and {} more", missing.len() - SHOWN));
        }
        bail!(
            "--calib-cache {what} has no range for {} of the {} tensors of the network TensorRT will parse ({list}); \
             it was written for another graph (an unfused model, another export, --no-reparam or --keep-aux-head \
             differing). Write it for this graph with `trt-onnx quantize MODEL --calib DIR --cache FILE` (which \
             re-parameterizes exactly as trt-build does) or calibrate here with --calib DIR",
            missing.len(),
            needed.len()
        );
    }
    let needed: std::collections::HashSet<&str> = needed.iter().map(String::as_str).collect();
    let unused = have.iter().filter(|n| !needed.contains(*n)).count();
    Ok(CacheCoverage {
        path: path.to_path_buf(),
        tensors: needed.len(),
        unused,
        header_version: decode_version_code(cache.version),
    })
}

/// `8503` → `8.5.3`, `100300` → `10.3.0` (the inverse of [`yolo_onnx::quant::cache::version_code`]).
pub fn decode_version_code(code: u32) -> String {
    if code >= 100_000 {
        format!("{}.{}.{}", code / 10_000, code / 100 % 100, code % 100)
    } else if code >= 1000 {
        format!("{}.{}.{}", code / 1000, code / 100 % 10, code % 100)
    } else {
        code.to_string()
    }
}

/// How a tool checks a pass: [`check_reparameterized`].
#[derive(Debug, Clone, Copy)]
pub struct Checks<'a> {
    /// The program, for warnings (`trt-build`).
    pub tool: &'a str,
    /// Run the check at all (no `--no-verify`).
    pub verify: bool,
    /// No warnings on stderr.
    pub quiet: bool,
    /// The option that skips the pass, named when its check fails (`--no-reparam`).
    pub skip_flag: &'a str,
}

/// Checks a [`reparameterize`] result on the CPU executor against its reference (when `checks.verify`): a check that
/// cannot run is reported in the step (`verification_skipped`) and warned about; one that runs and fails is an error.
pub fn check_reparameterized(
    r: &Reparameterized,
    exec_shapes: &HashMap<String, Vec<usize>>,
    checks: &Checks<'_>,
) -> Result<StepReport> {
    let mut verification_skipped = None;
    let checked = if checks.verify {
        verify_or_skip(
            checks.tool,
            "the re-parameterization",
            &r.reference,
            &r.model,
            exec_shapes,
            (1e-3, 1e-3, 0.99999),
            checks.quiet,
            &mut verification_skipped,
        )?
    } else {
        None
    };
    if let Some(v) = checked.as_ref().filter(|v| !v.passed) {
        bail!(
            "verification of the re-parameterization failed: max |diff| {:.3e}, min cosine {:.6}; rerun with {} and \
             report the model",
            v.max_abs,
            v.min_cosine,
            checks.skip_flag
        );
    }
    Ok(StepReport {
        name: "reparameterize".into(),
        summary: r.summary.clone(),
        verification: checked,
        verification_skipped,
    })
}

/// Lint warnings (unfused BN/RepConv, dual-head YOLOv9, raw YOLOv7 heads), one line each.
pub fn lint_warnings(model: &Model) -> Vec<String> {
    yolo_onnx::passes::lint::lint(model)
        .iter()
        .map(|w| one_line(&w.to_string()))
        .collect()
}

/// `--sparsity force`: a copy of `model` with every Conv, MatMul and Gemm weight pruned to 2:4 structured sparsity
/// along its input channels ([`yolo_onnx::sparsity`]), and the step for the report and sidecar (`prune-2:4`). The
/// outputs change by design, so the step carries no numerical check; a model with nothing to prune is an error (the
/// option would then only mislead).
pub fn prune_2_4(model: &Model) -> Result<(Model, StepReport)> {
    let mut out = model.clone();
    let report = yolo_onnx::sparsity::prune_2_4(&mut out)
        .map_err(|e| anyhow::anyhow!("--sparsity force: {}", one_line(&e.to_string())))?;
    for s in &report.skipped {
        tracing::debug!("2:4 pruning leaves {} alone: {}", s.name, s.reason);
    }
    if report.pruned.is_empty() {
        bail!(
            "--sparsity force: the model has no Conv, MatMul or Gemm weight initializer to prune{}; build with \
             --sparsity enable (or without --sparsity)",
            if report.skipped.is_empty() {
                String::new()
            } else {
                format!(" ({} left alone: {})", report.skipped.len(), report.skipped[0].reason)
            }
        );
    }
    Ok((
        out,
        StepReport {
            name: "prune-2:4".into(),
            summary: report.summary(),
            verification: None,
            verification_skipped: None,
        },
    ))
}

/// The FP16 pass on a copy of `model`, keeping nodes matching `keep_fp32` (globs on node names or op types) in FP32.
/// Values observed near the FP16 limit on the CPU executor stay FP32 too.
///
/// When the CPU executor cannot run the model, the probe is dropped (with a warning, unless `quiet`): the pass still
/// keeps the YOLO decode tail and every known overflow-prone op in FP32.
pub fn fp16_pass(
    model: &Model,
    keep_fp32: &[String],
    exec_shapes: &HashMap<String, Vec<usize>>,
    quiet: bool,
) -> Result<(Model, String)> {
    let mut options = yolo_onnx::fp16::Fp16Options {
        keep_fp32: keep_fp32.to_vec(),
        range_probe: true,
        input_shapes: exec_shapes.clone(),
        executor: crate::common::executor::cpu_backend()?,
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
