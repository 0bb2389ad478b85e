//! `trt-build` from start to end: options → model → shapes → release plan → ONNX pipeline → TensorRT → engine.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Serialize;
use trt::Version;

use super::calib::{self, CalibRequest};
use super::config::{gpu_token, BuildConfig, TimingCache};
use super::io_formats::{self, IoAssignment};
use super::options::Sparsity;
use super::release::{self, ReleasePlan};
use super::tactics::{TacticChange, TacticName};
use crate::common::exit;
use crate::pipeline::{self, StepReport};
use crate::shapes::{self, Profile};
use trt::system::{self, SystemReport};

/// Where the release the plan is for came from.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseChoice {
    /// `10.3.0`, or `None` when no release is known.
    pub version: Option<String>,
    /// `loaded library`, `--trt-release`, `recipe`, `compiled headers` or `unknown`.
    pub source: &'static str,
}

/// The report `trt-build` prints (text) or writes as JSON: the plan, and what happened.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    /// `planned` (dry run), `built`, or `missing-tensorrt`.
    pub status: &'static str,
    /// Source model.
    pub model: PathBuf,
    /// Its SHA-256.
    pub model_sha256: String,
    /// Recipe used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipe: Option<PathBuf>,
    /// Recipe description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// TensorRT release planned for.
    pub tensorrt: ReleaseChoice,
    /// Precision path (absent when no release is known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision_plan: Option<ReleasePlan>,
    /// Precision asked for.
    pub precision: release::Precision,
    /// Optimization profiles.
    pub profiles: Vec<Profile>,
    /// ONNX passes that ran.
    pub pipeline: Vec<StepReport>,
    /// Lint warnings.
    pub lint: Vec<String>,
    /// `--emit-onnx` path written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emitted_onnx: Option<PathBuf>,
    /// Engine path.
    pub output: PathBuf,
    /// Sidecar path.
    pub sidecar: PathBuf,
    /// Builder settings.
    pub builder: BuilderSettings,
    /// Class names recorded in the sidecar (`--classes`, else the ONNX `names` metadata; empty: unknown).
    pub class_names: Vec<String>,
    /// Notes (release notes, defaults taken).
    pub notes: Vec<String>,
    /// The Triton repository entry and DeepStream config written after the build (`--triton-repo`, `--deepstream`).
    pub deployed: crate::deploy::Deployed,
    /// The `--calib-cache` TensorRT reads as is, checked against the network (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration_cache: Option<pipeline::CacheCoverage>,
    /// What is missing (status `missing-tensorrt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
    /// The phases TensorRT's progress monitor reported during the build (TensorRT ≥ 10 and TensorRT-RTX; empty for
    /// a dry run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tensorrt_phases: Vec<super::engine::TensorRtPhase>,
    /// `--input-io-formats` / `--output-io-formats`: each IO tensor's type and formats as the build sets them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_formats: Vec<IoAssignment>,
    /// `--export-layer-info`: the file written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_info_file: Option<PathBuf>,
    /// `--dump-layer-info`: TensorRT's engine inspector JSON (printed after the text report; here with `--json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_info: Option<serde_json::Value>,
}

/// Builder settings in the report.
#[derive(Debug, Clone, Serialize)]
pub struct BuilderSettings {
    /// Memory pools, trtexec names, bytes.
    pub memory_pools: Vec<(String, u64)>,
    /// Optimization level.
    pub opt_level: Option<u8>,
    /// DLA core.
    pub dla_core: Option<u32>,
    /// GPU fallback.
    pub allow_gpu_fallback: bool,
    /// TF32.
    pub tf32: bool,
    /// Version compatible.
    pub version_compatible: bool,
    /// Hardware compatibility.
    pub hardware_compatibility: Option<&'static str>,
    /// Timing cache.
    pub timing_cache: TimingCache,
    /// Plugins.
    pub plugins: Vec<PathBuf>,
    /// Profiling verbosity.
    pub profiling_verbosity: Option<super::options::ProfilingVerbosity>,
    /// `--sparsity`.
    pub sparsity: Sparsity,
    /// `--tactic-sources` changes asked for (empty: the release's defaults).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tactic_source_changes: Vec<TacticChange>,
    /// The tactic sources enabled for the build, read back from TensorRT (a build with `--tactic-sources` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tactic_sources: Option<Vec<TacticName>>,
}

/// Builds the engine `cfg` describes (or plans it, with `--dry-run`); returns the exit code.
pub fn build(cfg: &BuildConfig) -> Result<u8> {
    check_outputs(cfg)?;
    // The engine inspector reads a deserialized engine, which needs a usable GPU: refused before any work, in a dry
    // run too.
    let layer_info_probe = if cfg.wants_layer_info() {
        let p = system::probe();
        check_layer_info_device(&p)?;
        Some(p)
    } else {
        None
    };
    let loaded = pipeline::load(&cfg.model)?;
    let profiles = shapes::resolve(&loaded.inputs, &shapes::profiles(&cfg.shapes)?)?;

    // The release: a dry run plans for what the user names; a build uses what is loaded.
    let probe = if cfg.dry_run {
        None
    } else {
        Some(layer_info_probe.unwrap_or_else(system::probe))
    };
    let loaded_version = probe.as_ref().and_then(|p| p.loaded_version);
    let (release_version, source) = choose_release(cfg, loaded_version)?;
    let mut notes = Vec::new();
    let plan = match release_version {
        Some(v) => Some(release::plan_for_release(
            v,
            &cfg.release_request_for(v, pipeline::has_qdq(&loaded.model)),
        )?),
        None => {
            notes.push(
                "no TensorRT release is known (none loaded, no --trt-release, no recipe): the precision path is not \
                 planned and no precision pass ran; give --trt-release X.Y to plan for a release"
                    .into(),
            );
            None
        }
    };
    if let Some(p) = &plan {
        notes.extend(p.notes.iter().cloned());
    } else if cfg.precision.has_int8()
        && cfg.calib_data.is_none()
        && cfg.calib_cache.is_none()
        && !pipeline::has_qdq(&loaded.model)
    {
        // Every release needs ranges for INT8: a dry run with no release known refuses what any build would.
        bail!(
            "--int8: INT8 needs calibration data: --calib DIR (images or .npy tensors) or --calib-cache FILE, or a model \
             that already holds QuantizeLinear/DequantizeLinear nodes"
        );
    }

    // ONNX pipeline.
    let exec_shapes = pipeline::exec_shapes(&loaded.inputs, &profiles);
    let mut model = loaded.model.clone();
    let mut steps = Vec::new();
    if cfg.reparam {
        let quiet = cfg.quiet || cfg.json;
        let r = pipeline::reparameterize(&model, &exec_shapes, cfg.keep_aux_head)?;
        if let Some(a) = r.aux_head.as_ref().filter(|_| !quiet) {
            eprintln!("trt-build: {a} (--keep-aux-head keeps it)");
        }
        let checks = pipeline::Checks {
            tool: "trt-build",
            verify: cfg.verify,
            quiet,
            skip_flag: "--no-reparam",
        };
        steps.push(pipeline::check_reparameterized(&r, &exec_shapes, &checks)?);
        model = r.model;
    }
    let lint = pipeline::lint_warnings(&model);
    if !cfg.quiet && !cfg.json {
        for w in &lint {
            eprintln!("trt-build: warning: {w}");
        }
    }
    if cfg.sparsity == Sparsity::Force {
        // Before calibration and the FP16 pass: they see the weights the engine will hold.
        let (pruned, step) = pipeline::prune_2_4(&model)?;
        let warning = format!(
            "--sparsity force: {}; this changes the model's outputs (fine-tune with the 2:4 pattern and build with \
             --sparsity enable to deploy)",
            step.summary
        );
        if !cfg.quiet && !cfg.json {
            eprintln!("trt-build: warning: {warning}");
        }
        notes.push(warning);
        steps.push(step);
        model = pruned;
    }
    if let Some(p) = &plan {
        if p.run_calibration {
            let data = cfg.calib_data.clone().unwrap_or_default();
            let out = calib::calibrate(
                &model,
                &CalibRequest {
                    data,
                    cache_out: cfg.calib_cache.clone(),
                    algo: cfg.calib_algo,
                    batches: cfg.calib_batches,
                    qdq: p.onnx_qdq_pass,
                    exclude: p.fp16_pass_keep_fp32.clone(),
                    tensorrt: release_version,
                },
            )?;
            if let Some(q) = out.qdq_model {
                steps.push(StepReport {
                    name: "int8-qdq".into(),
                    summary: out.report.join("; "),
                    verification: None,
                    verification_skipped: None,
                });
                model = q;
            }
        }
        if p.onnx_fp16_pass {
            let quiet = cfg.quiet || cfg.json;
            let (next, summary) =
                pipeline::fp16_pass(&model, &p.fp16_pass_keep_fp32, &exec_shapes, quiet)?;
            let mut verification_skipped = None;
            let checked = if cfg.verify {
                // FP16 keeps ~3 significant digits: element-wise tolerances mean little on pixel-valued outputs, so the
                // check is per-output cosine similarity ≥ 0.999 with every value finite (the yolo-onnx FP16 tolerance).
                // The FP16 model runs emulated in FP32 (FP16 storage, FP32 arithmetic, as TensorRT's FP16 kernels
                // do): the CPU executor's own FP16 arithmetic is ~20x slower.
                let emulated = yolo_onnx::fp16::emulate_in_f32(&next)
                    .map_err(|e| anyhow::anyhow!("FP16 check: {e}"))?;
                pipeline::verify_or_skip(
                    "trt-build",
                    "the FP16 pass",
                    &model,
                    &emulated,
                    &exec_shapes,
                    (f64::INFINITY, 0.0, 0.999),
                    quiet,
                    &mut verification_skipped,
                )?
            } else {
                None
            };
            let verification = if let Some(v) = checked {
                if !v.passed {
                    bail!(
                        "verification of the FP16 pass failed: max |diff| {:.3e}, min cosine {:.6}; keep sensitive \
                         layers in FP32 with --keep-fp32 PATTERN",
                        v.max_abs,
                        v.min_cosine
                    );
                }
                Some(v)
            } else {
                None
            };
            steps.push(StepReport {
                name: "fp16".into(),
                summary,
                verification,
                verification_skipped,
            });
            model = next;
        }
    }
    // --input-io-formats / --output-io-formats against the ONNX TensorRT will parse (checked before any TensorRT
    // work, in a dry run too).
    let io_formats = if cfg.input_io_formats.is_empty() && cfg.output_io_formats.is_empty() {
        Vec::new()
    } else {
        let declared = |v: Vec<yolo_onnx::graph::DeclaredIo>| -> Vec<(String, Option<i32>)> {
            v.into_iter().map(|d| (d.name, d.elem_type)).collect()
        };
        let assigned = io_formats::plan(
            &cfg.input_io_formats,
            &cfg.output_io_formats,
            &declared(model.graph().declared_inputs()),
            &declared(model.graph().declared_outputs()),
            io_formats::Target {
                release: release_version,
                strongly_typed: plan.as_ref().map(|p| p.strongly_typed),
            },
        )?;
        if plan.is_none() {
            notes.push(
                "--input-io-formats/--output-io-formats: no TensorRT release is known, so the types are not checked \
                 against one (give --trt-release X.Y)"
                    .into(),
            );
        }
        notes.extend(assigned.iter().filter_map(io_formats::session_note));
        assigned
    };
    // --deepstream: the outputs must be a layout the parser decodes (checked before any TensorRT work).
    if cfg.deploy.deepstream.is_some() {
        let outputs: Vec<(String, Vec<i64>)> = model
            .graph()
            .outputs()
            .iter()
            .map(|o| {
                let dims = yolo_onnx::graph::value_info_dims(o).unwrap_or_default();
                (
                    o.name.clone(),
                    dims.iter().map(|d| d.unwrap_or(-1)).collect(),
                )
            })
            .collect();
        crate::deploy::deepstream::check_layout(&outputs)?;
    }
    // A --calib-cache TensorRT will read as is must name every tensor of the graph it parses: checked here, before
    // any TensorRT work and in a dry run too.
    let calib_cache = match (&plan, &cfg.calib_cache) {
        (Some(p), Some(path))
            if (p.calibrator_from_cache && !p.run_calibration)
                || (p.calibrate_on_gpu && path.exists()) =>
        {
            let c = pipeline::check_calibration_cache(&model, path)?;
            if let Some(v) = release_version {
                let want = format!("{}.{}.{}", v.major, v.minor, v.patch);
                if c.header_version != want && !v.is_rtx() {
                    notes.push(format!(
                        "--calib-cache {} was written for TensorRT {}: its header is rewritten for {want} when it is \
                         handed to TensorRT (which skips caches of another release); its {} ranges cover the network",
                        path.display(),
                        c.header_version,
                        c.tensors
                    ));
                }
            }
            if c.unused > 0 {
                notes.push(format!(
                    "--calib-cache {}: {} entries name no tensor of the network (ignored)",
                    path.display(),
                    c.unused
                ));
            }
            Some(c)
        }
        _ => None,
    };
    let emitted_onnx = match &cfg.emit_onnx {
        Some(path) => {
            let bytes = model
                .to_bytes()
                .map_err(|e| anyhow::anyhow!("--emit-onnx: {e}"))?;
            crate::common::fs::atomic_write(path, &bytes).map_err(|e| {
                anyhow::anyhow!("--emit-onnx {}: cannot write: {e}", path.display())
            })?;
            Some(path.clone())
        }
        None => None,
    };

    // Output names. A TensorRT for RTX engine is named after its targets (`rtx-sm75`, or `rtx` for the library's
    // default set), unless it is compiled for the GPU present.
    let rtx_targets = plan
        .as_ref()
        .filter(|_| release_version.is_some_and(|v| v.is_rtx()))
        .map(|p| p.compute_capabilities.clone());
    let gpu = match &rtx_targets {
        Some(t) if !t.contains(&release::CcTarget::Current) => Some(rtx_token(t)),
        _ => probe
            .as_ref()
            .and_then(|p| p.cuda.gpus.first())
            .map(|g| gpu_token(&g.name)),
    };
    let gpu = gpu
        .or_else(|| cfg.target_gpu.clone())
        .unwrap_or_else(|| "gpu".into());
    let output = cfg
        .output
        .clone()
        .unwrap_or_else(|| cfg.default_output(&gpu));
    let sidecar = trt::sidecar::sidecar_path(&output);
    let timing_cache = match (
        &cfg.timing_cache,
        release_version,
        probe.as_ref().and_then(|p| p.cuda.gpus.first()),
    ) {
        (TimingCache::Default, Some(v), Some(g)) => {
            let cc = super::recipe::parse_cc(&g.compute_capability).unwrap_or((0, 0));
            match BuildConfig::default_timing_cache(&gpu, cc, v) {
                Some(p) => TimingCache::File(p),
                None => TimingCache::Disabled,
            }
        }
        (other, _, _) => other.clone(),
    };

    let mut report = BuildReport {
        status: "planned",
        model: cfg.model.clone(),
        model_sha256: loaded.sha256.clone(),
        recipe: cfg.recipe.clone(),
        description: cfg.description.clone(),
        tensorrt: ReleaseChoice {
            version: release_version.map(|v| v.to_string()),
            source,
        },
        precision_plan: plan.clone(),
        precision: cfg.precision,
        profiles: profiles.clone(),
        pipeline: steps,
        lint,
        emitted_onnx,
        output,
        sidecar,
        builder: BuilderSettings {
            memory_pools: cfg
                .pools
                .iter()
                .map(|(p, b)| (p.trtexec_name().to_string(), *b))
                .collect(),
            opt_level: cfg.opt_level,
            dla_core: cfg.dla_core,
            allow_gpu_fallback: cfg.allow_gpu_fallback,
            tf32: cfg.tf32,
            version_compatible: cfg.version_compatible,
            hardware_compatibility: cfg.hardware_compat.map(|h| h.as_str()),
            timing_cache,
            plugins: cfg.plugins.clone(),
            profiling_verbosity: cfg.profiling_verbosity,
            sparsity: cfg.sparsity,
            tactic_source_changes: cfg.tactic_sources.clone(),
            tactic_sources: None,
        },
        class_names: class_names(cfg, &loaded)?,
        notes,
        calibration_cache: calib_cache,
        deployed: Default::default(),
        missing: None,
        tensorrt_phases: Vec::new(),
        io_formats,
        layer_info_file: None,
        layer_info: None,
    };
    if cfg.wants_layer_info()
        && cfg.profiling_verbosity != Some(super::options::ProfilingVerbosity::Detailed)
    {
        report.notes.push(
            "the layer information holds layer names only: the engine is not built with --profiling-verbosity \
             detailed"
                .into(),
        );
    }

    if cfg.dry_run {
        emit(cfg, &report)?;
        return Ok(exit::OK);
    }
    let probe = probe.unwrap_or_else(system::probe);
    if let Some(missing) = probe.missing_for_build() {
        report.status = "missing-tensorrt";
        report.missing = Some(missing.clone());
        emit(cfg, &report)?;
        return Err(exit::missing(missing));
    }
    check_target(cfg, &probe)?;
    super::engine::build(cfg, &model, &loaded, &mut report, &probe)?;
    report.deployed = crate::deploy::write(&cfg.deploy, &report.output)?;
    report.status = "built";
    emit(cfg, &report)?;
    Ok(exit::OK)
}

/// Every file and directory the build will write is writable, checked before any work (in a dry run too).
fn check_outputs(cfg: &BuildConfig) -> Result<()> {
    use crate::common::fs::check_writable;
    if let Some(o) = &cfg.output {
        check_writable("--output", o)?;
    }
    if let Some(e) = &cfg.emit_onnx {
        check_writable("--emit-onnx", e)?;
    }
    if let TimingCache::File(t) = &cfg.timing_cache {
        check_writable("--timing-cache", t)?;
    }
    if let (Some(c), Some(_)) = (&cfg.calib_cache, &cfg.calib_data) {
        check_writable("--calib-cache", c)?;
    }
    if let Some((dir, opts)) = &cfg.deploy.triton {
        check_writable("--triton-repo", &dir.join(&opts.name).join("config.pbtxt"))?;
    }
    if let Some((dir, _)) = &cfg.deploy.deepstream {
        check_writable("--deepstream", &dir.join("config_infer_primary.txt"))?;
    }
    if let Some(l) = &cfg.export_layer_info {
        check_writable("--export-layer-info", l)?;
    }
    Ok(())
}

/// `--dump-layer-info` / `--export-layer-info` read the built engine back (TensorRT's engine inspector works on a
/// deserialized engine): without a machine that runs engines, exit 3 before any work, with where to do it instead.
fn check_layer_info_device(probe: &SystemReport) -> Result<()> {
    if probe.can_run {
        return Ok(());
    }
    Err(exit::missing(format!(
        "--dump-layer-info/--export-layer-info need a usable GPU here (TensorRT's engine inspector reads a \
         deserialized engine), and this machine cannot run engines ({}); build without them (with \
         --profiling-verbosity detailed for full layer information), then run `trt-inspect ENGINE --export-layer-info \
         FILE` on the machine that runs the engine",
        probe.run_blockers.join("; ")
    )))
}

/// `rtx`, `rtx-sm75`, `rtx-sm86-sm89`: the engine-name token of a TensorRT for RTX build.
fn rtx_token(targets: &[release::CcTarget]) -> String {
    let mut s = String::from("rtx");
    for t in targets {
        if let release::CcTarget::Sm(a, b) = t {
            s.push_str(&format!("-sm{a}{b}"));
        }
    }
    s
}

/// Picks the release to plan for: the loaded library for a build (a different `--trt-release` / recipe release is an
/// error), else `--trt-release`, the recipe's, the compiled headers'.
pub fn choose_release(
    cfg: &BuildConfig,
    loaded: Option<Version>,
) -> Result<(Option<Version>, &'static str)> {
    let asked_source = if cfg.trt_release_from_recipe {
        "recipe"
    } else {
        "--trt-release"
    };
    match (loaded, cfg.trt_release) {
        (Some(l), Some(asked))
            if (l.product, l.major, l.minor) != (asked.product, asked.major, asked.minor) =>
        {
            let by = if cfg.trt_release_from_recipe {
                "the recipe targets"
            } else {
                "--trt-release asks for"
            };
            bail!(
                "{by} {} {}.{}, but the loaded TensorRT is {}; build on the target's TensorRT, or plan only with \
                 --dry-run",
                asked.product,
                asked.major,
                asked.minor,
                l.label()
            );
        }
        (Some(l), _) => Ok((Some(l), "loaded library")),
        (None, Some(a)) => Ok((Some(a), asked_source)),
        (None, None) => match trt::compiled_version() {
            Some(c) => Ok((Some(c), "compiled headers")),
            None => Ok((None, "unknown")),
        },
    }
}

/// A recipe's target compute capability must be the GPU's (TensorRT for RTX compiles for it instead).
fn check_target(cfg: &BuildConfig, probe: &SystemReport) -> Result<()> {
    if probe.loaded_version.is_some_and(|v| v.is_rtx()) {
        return Ok(());
    }
    if let (Some((maj, min)), Some(g)) = (cfg.target_cc, probe.cuda.gpus.first()) {
        if g.compute_capability != format!("{maj}.{min}") {
            bail!(
                "the recipe targets compute capability {maj}.{min} ({}), but this GPU is {} ({}); engines only run on \
                 the compute capability they were built on: build on the target device",
                cfg.target_gpu.as_deref().unwrap_or("?"),
                g.name,
                g.compute_capability
            );
        }
    }
    Ok(())
}

fn emit(cfg: &BuildConfig, report: &BuildReport) -> Result<()> {
    if cfg.json {
        return crate::common::output::print_json("trt-build/1", report);
    }
    if cfg.quiet {
        return Ok(());
    }
    crate::outln!("{}", render(report))?;
    if let Some(info) = &report.layer_info {
        crate::outln!("{}", serde_json::to_string_pretty(info)?)?;
    }
    Ok(())
}

/// The human-readable plan.
pub fn render(r: &BuildReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let title = match r.status {
        "planned" => "Build plan (dry run)",
        "built" => "Built",
        _ => "Build plan (TensorRT missing: not built)",
    };
    let _ = writeln!(s, "{title}");
    if let Some(d) = &r.description {
        let _ = writeln!(s, "  recipe      {d}");
    }
    let _ = writeln!(
        s,
        "  model       {} (sha256 {}…)",
        r.model.display(),
        &r.model_sha256[..12.min(r.model_sha256.len())]
    );
    let _ = writeln!(
        s,
        "  tensorrt    {} ({})",
        r.tensorrt.version.as_deref().unwrap_or("unknown"),
        r.tensorrt.source
    );
    let _ = write!(s, "  precision   {}", r.precision);
    if let Some(p) = &r.precision_plan {
        let how: Vec<&str> = [
            (p.onnx_fp16_pass, "FP16 ONNX pass"),
            (p.onnx_qdq_pass, "INT8 Q/DQ ONNX pass"),
            (p.builder_fp16, "kFP16 flag"),
            (p.builder_int8, "kINT8 flag"),
            (p.calibrator_from_cache, "calibrator (cache)"),
            (p.strongly_typed, "strongly typed"),
        ]
        .into_iter()
        .filter_map(|(on, what)| on.then_some(what))
        .collect();
        let _ = write!(s, " via {}", p.path);
        if !how.is_empty() {
            let _ = write!(s, " ({})", how.join(", "));
        }
    }
    s.push('\n');
    if let Some(p) = r.precision_plan.as_ref().filter(|_| {
        r.tensorrt
            .version
            .as_deref()
            .is_some_and(|v| v.starts_with("RTX"))
    }) {
        let targets = if p.compute_capabilities.is_empty() {
            "TensorRT-RTX's default set".to_owned()
        } else {
            p.compute_capabilities
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(s, "  targets     compute capabilities {targets}");
    }
    if r.profiles.is_empty() {
        let _ = writeln!(s, "  shapes      static (from the model)");
    }
    for (i, p) in r.profiles.iter().enumerate() {
        for inp in &p.inputs {
            let _ = writeln!(
                s,
                "  profile {i}   {}: min {} opt {} max {}",
                inp.name,
                shapes::dims_to_string(&inp.min),
                shapes::dims_to_string(&inp.opt),
                shapes::dims_to_string(&inp.max)
            );
        }
    }
    if r.pipeline.is_empty() {
        let _ = writeln!(s, "  onnx        no passes");
    }
    for st in &r.pipeline {
        let _ = write!(s, "  onnx        {}: {}", st.name, st.summary);
        if let Some(v) = &st.verification {
            let _ = write!(
                s,
                " (verified: max |diff| {:.2e}, cosine {:.6})",
                v.max_abs, v.min_cosine
            );
        }
        if st.verification_skipped.is_some() {
            let _ = write!(s, " (NOT verified: the CPU executor cannot run the model)");
        }
        s.push('\n');
    }
    for w in &r.lint {
        let _ = writeln!(s, "  lint        {w}");
    }
    if let Some(c) = &r.calibration_cache {
        let _ = writeln!(
            s,
            "  calib cache {}: ranges for all {} tensors of the network (written for TensorRT {})",
            c.path.display(),
            c.tensors,
            c.header_version
        );
    }
    if let Some(e) = &r.emitted_onnx {
        let _ = writeln!(s, "  emitted     {}", e.display());
    }
    let _ = writeln!(s, "  engine      {}", r.output.display());
    let _ = writeln!(s, "  sidecar     {}", r.sidecar.display());
    if let Some(t) = &r.deployed.triton {
        let _ = writeln!(
            s,
            "  triton      {} (max_batch_size {})",
            t.model_dir.display(),
            t.max_batch_size
        );
    }
    if let Some(d) = &r.deployed.deepstream {
        let _ = writeln!(s, "  deepstream  {}", d.config.display());
    }
    for a in &r.io_formats {
        let formats: Vec<&str> = a
            .formats
            .iter()
            .map(|f| io_formats::format_name(*f))
            .collect();
        let _ = write!(
            s,
            "  io          {} {}: {} {}",
            a.direction,
            a.name,
            io_formats::type_name(a.dtype),
            formats.join("+")
        );
        match a.declared {
            Some(d) if d != a.dtype => {
                let _ = write!(s, " (ONNX: {})", io_formats::type_name(d));
            }
            _ => {}
        }
        s.push('\n');
    }
    if let Some(l) = &r.layer_info_file {
        let _ = writeln!(s, "  layer info  {}", l.display());
    }
    let b = &r.builder;
    if b.sparsity != Sparsity::Disable {
        let _ = writeln!(
            s,
            "  sparsity    {}",
            match b.sparsity {
                Sparsity::Force => "force (weights pruned to 2:4; kSPARSE_WEIGHTS)",
                _ => "enable (kSPARSE_WEIGHTS)",
            }
        );
    }
    if !b.tactic_source_changes.is_empty() {
        let changes: Vec<String> = b
            .tactic_source_changes
            .iter()
            .map(ToString::to_string)
            .collect();
        let _ = write!(s, "  tactics     {}", changes.join(","));
        if let Some(t) = &b.tactic_sources {
            let on: Vec<&str> = t.iter().map(|t| t.as_str()).collect();
            let _ = write!(
                s,
                " (enabled: {})",
                if on.is_empty() {
                    "none".to_owned()
                } else {
                    on.join(", ")
                }
            );
        }
        s.push('\n');
    }
    for (pool, bytes) in &b.memory_pools {
        let _ = writeln!(s, "  pool        {pool} {} MiB", bytes / (1 << 20));
    }
    if let Some(l) = b.opt_level {
        let _ = writeln!(s, "  opt level   {l}");
    }
    if let Some(d) = b.dla_core {
        let _ = writeln!(
            s,
            "  dla core    {d}{}",
            if b.allow_gpu_fallback {
                " (GPU fallback)"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        s,
        "  timing      {}",
        match &b.timing_cache {
            TimingCache::Disabled => "no timing cache".to_string(),
            TimingCache::Default => "default per-GPU cache (path known once a GPU is)".to_string(),
            TimingCache::File(p) => p.display().to_string(),
        }
    );
    for n in &r.notes {
        let _ = writeln!(s, "  note        {n}");
    }
    s.trim_end().to_string()
}

/// Class names for the sidecar: `--classes`, else the model's `names` metadata (Ultralytics-style exports), else
/// none.
fn class_names(cfg: &BuildConfig, loaded: &pipeline::LoadedModel) -> Result<Vec<String>> {
    if !cfg.class_names.is_empty() {
        return Ok(cfg.class_names.clone());
    }
    let Some(entry) = loaded
        .model
        .header()
        .metadata_props
        .iter()
        .find(|p| p.key == "names")
    else {
        return Ok(Vec::new());
    };
    yolo_rt::classes::parse_names_metadata(&entry.value).map_err(|e| {
        anyhow::anyhow!(
            "{}: the model's `names` metadata is not a class list ({e}); give the names with --classes FILE",
            cfg.model.display()
        )
    })
}
