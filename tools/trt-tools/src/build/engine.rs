//! The TensorRT part of `trt-build`: network, parser, builder config, profiles, build, engine + sidecar.
//!
//! Only reached when `trt-inspect system`'s probe says building is possible (shim compiled, full libnvinfer, parser,
//! usable GPU). Every TensorRT call goes through the safe `trt` crate; the engine and its sidecar are written with
//! [`trt::sidecar::write_engine`] (atomic as a pair).

use anyhow::{bail, Context, Result};
use trt::builder::{
    BuilderFlag, CalibrationAlgorithm, DeviceType, HardwareCompatibility, MemoryPool,
    ProfilingVerbosity, ProgressMonitor,
};
use trt::sidecar::{
    self, GpuInfo, IoTensorInfo, ProfileInfo, ProfileShapes, Sidecar, SourceInfo, TensorMode,
    TensorRtInfo,
};

use super::config::{BuildConfig, TimingCache};
use super::options;
use super::options::CalibAlgo;
use super::progress::Progress;
use super::release::{self, LayerPrecision, MemPool, PrecisionConstraints};
use super::run::BuildReport;
use super::tactics::{self, TacticName};
use crate::pipeline::LoadedModel;
use trt::system::SystemReport;

/// Feeds TensorRT's progress monitor (≥ 10.0) into the progress bar, and records the phases TensorRT reported
/// (`tensorrt_phases` in the report).
struct BarMonitor {
    bar: indicatif::ProgressBar,
    phases: std::sync::Arc<std::sync::Mutex<Vec<TensorRtPhase>>>,
}

/// One phase TensorRT's progress monitor reported during the build.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct TensorRtPhase {
    /// TensorRT's phase name.
    pub name: String,
    /// The enclosing phase, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Steps TensorRT announced.
    pub steps: i32,
    /// Steps completed.
    pub completed: i32,
}

impl ProgressMonitor for BarMonitor {
    fn phase_start(&mut self, phase: &str, parent: Option<&str>, steps: i32) {
        tracing::debug!(phase, parent, steps, "TensorRT phase start");
        if let Ok(mut p) = self.phases.lock() {
            p.push(TensorRtPhase {
                name: phase.to_owned(),
                parent: parent.map(str::to_owned),
                steps,
                completed: 0,
            });
        }
        if parent.is_none() {
            self.bar.set_message(phase.to_string());
            self.bar.set_length(u64::try_from(steps).unwrap_or(0));
            self.bar.set_position(0);
        }
    }

    fn step_complete(&mut self, phase: &str, step: i32) -> bool {
        if let Ok(mut p) = self.phases.lock() {
            if let Some(ph) = p.iter_mut().rev().find(|ph| ph.name == phase) {
                ph.completed = ph.completed.max(step + 1);
            }
        }
        if self.bar.message() == phase {
            self.bar.set_position(u64::try_from(step).unwrap_or(0) + 1);
        }
        true
    }

    fn phase_finish(&mut self, phase: &str) {
        tracing::debug!(phase, "TensorRT phase finish");
    }
}

/// `--calib-on-gpu` (TensorRT ≤ 10.x): a [`trt::DeviceCalibrator`] fed with preprocessed `--calib DIR` batches.
/// The network must have one image input `[N, 3, H, W]`; a dynamic dimension takes the first profile's opt value
/// (TensorRT calibrates with the first profile's opt shapes). An existing `--calib-cache` whose header names the
/// algorithm is served instead of calibrating.
fn device_calibrator(
    cfg: &BuildConfig,
    version: trt::Version,
    device: &trt::cuda::Device,
    inputs: &[trt::builder::NetworkTensorDesc],
    profiles: &[crate::shapes::Profile],
) -> Result<(trt::DeviceCalibrator, CalibrationAlgorithm)> {
    let Some(dir) = cfg.calib_data.as_ref() else {
        bail!("internal: --calib-on-gpu planned without --calib DIR");
    };
    let algorithm = gpu_algorithm(cfg.calib_algo)?;
    let [input] = inputs else {
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        bail!(
            "--calib-on-gpu: the network has {} inputs ({}); calibration data feeds one image input [N, 3, H, W]",
            inputs.len(),
            names.join(", ")
        );
    };
    let shape = calibration_shape(input, profiles)?;
    let batch = shape[0];
    let data = crate::calib_data::DataOptions {
        count: cfg
            .calib_batches
            .map(|b| b as usize * super::calib::BATCH_SIZE),
        batch_size: batch,
        progress: false,
        warnings: !cfg.quiet,
        ..Default::default()
    };
    let samples = crate::calib_data::SampleBatches::new(dir, &shape, batch, &data)
        .with_context(|| format!("--calib {}", dir.display()))?;
    let name = input.name.clone();
    let what = dir.display().to_string();
    let source = samples.map(move |r| {
        r.map(|v| vec![(name.clone(), v)])
            .map_err(|e| trt::Error::InvalidArgument(format!("--calib {what}: {e:#}")))
    });
    let inputs = vec![trt::CalibInput {
        name: input.name.clone(),
        sample_len: shape[1..].iter().product(),
    }];
    let mut calibrator =
        trt::DeviceCalibrator::new(device, inputs, batch, algorithm, Box::new(source))
            .context("--calib-on-gpu: setting up the device calibrator")?;
    let network_input = (
        input.name.clone(),
        input.data_type,
        shape.iter().map(|&d| d as i64).collect(),
    );
    calibrator
        .check_network_inputs(&[network_input])
        .context("--calib-on-gpu")?;
    if let Some(path) = &cfg.calib_cache {
        match std::fs::read(path) {
            Ok(bytes) => {
                // Stamped for the loaded release (checked against the network in run.rs).
                let bytes = super::calib::restamp_cache(
                    &bytes,
                    version.major,
                    version.minor,
                    version.patch,
                )
                .with_context(|| format!("--calib-cache {}", path.display()))?;
                calibrator = calibrator.with_cache(bytes);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => bail!("--calib-cache {}: cannot read: {e}", path.display()),
        }
    }
    Ok((calibrator, algorithm))
}

/// TensorRT's calibrator for `--calib-algo` (`--calib-on-gpu`).
fn gpu_algorithm(algo: CalibAlgo) -> Result<CalibrationAlgorithm> {
    match algo {
        CalibAlgo::Minmax => Ok(CalibrationAlgorithm::MinMax),
        CalibAlgo::Entropy => Ok(CalibrationAlgorithm::Entropy2),
        CalibAlgo::Percentile => bail!(
            "--calib-algo percentile with --calib-on-gpu: TensorRT's calibrators offer minmax and entropy only; \
             choose one of those or drop --calib-on-gpu to calibrate in Rust"
        ),
    }
}

/// The `[N, 3, H, W]` shape TensorRT calibrates `input` with: dynamic dimensions from the first profile's opt.
fn calibration_shape(
    input: &trt::builder::NetworkTensorDesc,
    profiles: &[crate::shapes::Profile],
) -> Result<Vec<usize>> {
    let opt = profiles
        .first()
        .and_then(|p| p.inputs.iter().find(|r| r.name == input.name))
        .map(|r| r.opt.clone());
    let dims = if input.shape.iter().any(|&d| d < 0) {
        match opt {
            Some(o) if o.len() == input.shape.len() => o,
            _ => bail!(
                "--calib-on-gpu: input `{}` has a dynamic shape {:?} and no profile gives its opt shape; \
                 give --opt-shapes {}:1x3xHxW",
                input.name,
                input.shape,
                input.name
            ),
        }
    } else {
        input.shape.clone()
    };
    if dims.len() != 4 || dims[1] != 3 || dims.iter().any(|&d| d <= 0) {
        bail!(
            "--calib-on-gpu: input `{}` has shape {dims:?}; calibration data feeds an image input [N, 3, H, W]",
            input.name
        );
    }
    Ok(dims.iter().map(|&d| d as usize).collect())
}

/// The calibrator algorithm a cache was written by, from its `TRT-<version>-<Algorithm>` header line.
pub fn cache_algorithm(cache: &[u8]) -> Result<CalibrationAlgorithm> {
    let header = cache.split(|&b| b == b'\n').next().unwrap_or_default();
    let header = String::from_utf8_lossy(header);
    if !header.starts_with("TRT-") {
        bail!("not a TensorRT calibration cache: the first line `{header}` does not start with TRT-<version>-<Algorithm>");
    }
    if header.contains("EntropyCalibration2") {
        Ok(CalibrationAlgorithm::Entropy2)
    } else if header.contains("MinMaxCalibration") {
        Ok(CalibrationAlgorithm::MinMax)
    } else {
        bail!("calibration cache header `{header}`: only EntropyCalibration2 and MinMaxCalibration caches are supported")
    }
}

fn pool(p: MemPool) -> MemoryPool {
    match p {
        MemPool::Workspace => MemoryPool::Workspace,
        MemPool::DlaSram => MemoryPool::DlaManagedSram,
        MemPool::DlaLocalDram => MemoryPool::DlaLocalDram,
        MemPool::DlaGlobalDram => MemoryPool::DlaGlobalDram,
        MemPool::TacticSharedMem => MemoryPool::TacticSharedMemory,
    }
}

/// Parses `model` with TensorRT, builds the engine and writes it with its sidecar (atomically).
pub fn build(
    cfg: &BuildConfig,
    model: &yolo_onnx::Model,
    source: &LoadedModel,
    report: &mut BuildReport,
    probe: &SystemReport,
) -> Result<()> {
    let Some(plan) = report.precision_plan.clone() else {
        bail!("internal: no precision plan although TensorRT is loaded");
    };
    let lib = trt::Library::load_with(trt::LoadOptions {
        logger: trt::Logger::new(if cfg.verbose {
            trt::Severity::Info
        } else {
            trt::Severity::Warning
        }),
        init_plugins: probe.plugins.found,
        plugin_libraries: cfg.plugins.clone(),
        // TensorRT for RTX builds ahead of time: no GPU needed.
        build_only: true,
        ..Default::default()
    })
    .context("loading TensorRT")?;
    let progress = Progress::new(plan.progress_monitor, cfg.quiet || cfg.json);

    progress.phase("parse");
    let mut builder = lib.builder().context("creating the TensorRT builder")?;
    let network = builder
        .create_network(plan.strongly_typed)
        .context("creating the network")?;
    let mut parser = lib
        .onnx_parser(network)
        .context("creating the ONNX parser")?;
    let bytes = model
        .to_bytes()
        .map_err(|e| anyhow::anyhow!("serializing the ONNX for TensorRT: {e}"))?;
    parser
        .parse(&bytes, Some(&cfg.model))
        .with_context(|| format!("TensorRT could not parse {}", cfg.model.display()))?;

    // --input-io-formats / --output-io-formats, as planned (run.rs checked them against the ONNX and the release).
    for a in &report.io_formats {
        let what = match a.direction {
            super::io_formats::Direction::Input => "--input-io-formats",
            super::io_formats::Direction::Output => "--output-io-formats",
        };
        let net = parser.network_mut();
        net.set_io_type(&a.name, a.dtype)
            .with_context(|| format!("{what}: {} `{}`", a.direction, a.name))?;
        net.set_io_formats(&a.name, &a.formats)
            .with_context(|| format!("{what}: {} `{}`", a.direction, a.name))?;
        let allowed = net.io_formats(&a.name)?;
        if allowed != a.formats {
            bail!(
                "{what}: TensorRT allows {allowed:?} for {} `{}` after being asked for {:?}",
                a.direction,
                a.name,
                a.formats
            );
        }
    }

    progress.phase("optimize");
    // Layer precisions (builder path, ≤ 10.x): globs on layer names.
    if !plan.layer_precisions.is_empty() {
        let layers = parser.network().layers()?;
        for (pattern, lp) in &plan.layer_precisions {
            let dt = match lp {
                LayerPrecision::Fp32 => trt::DataType::F32,
                LayerPrecision::Fp16 => trt::DataType::F16,
                LayerPrecision::Int8 => trt::DataType::I8,
            };
            let matching: Vec<usize> = layers
                .iter()
                .filter(|l| yolo_onnx::fp16::glob_match(pattern, &l.name))
                .map(|l| l.index)
                .collect();
            if matching.is_empty() {
                bail!("--layer-precisions/--keep-fp32 `{pattern}` matches no layer of the network");
            }
            for i in matching {
                parser.network_mut().set_layer_precision(i, dt)?;
            }
        }
    }
    let mut config = builder.create_config()?;
    for (p, bytes) in &cfg.pools {
        config.set_memory_pool_limit(pool(*p), *bytes)?;
    }
    if plan.builder_fp16 {
        config.set_flag(BuilderFlag::Fp16, true)?;
    }
    if plan.builder_int8 {
        config.set_flag(BuilderFlag::Int8, true)?;
    }
    if !cfg.tf32 {
        config.set_flag(BuilderFlag::Tf32, false)?;
    }
    if cfg.sparsity != options::Sparsity::Disable {
        config
            .set_flag(BuilderFlag::SparseWeights, true)
            .context("--sparsity")?;
    }
    if !cfg.tactic_sources.is_empty() {
        // trtexec's rule: the changes apply to the release's defaults, read from the config.
        let named = |v: Vec<trt::builder::TacticSource>| -> Vec<TacticName> {
            v.into_iter().filter_map(TacticName::from_trt).collect()
        };
        let defaults = named(config.tactic_sources()?);
        let want = tactics::apply(&defaults, &cfg.tactic_sources);
        let sources: Vec<_> = want.iter().map(|t| t.to_trt()).collect();
        config
            .set_tactic_sources(&sources)
            .context("--tactic-sources")?;
        let enabled = named(config.tactic_sources()?);
        if enabled != want {
            bail!(
                "--tactic-sources: TensorRT enabled {enabled:?} after being asked for {want:?} (defaults {defaults:?})"
            );
        }
        tracing::info!(?defaults, ?enabled, "tactic sources");
        report.builder.tactic_sources = Some(enabled);
    }
    match plan.precision_constraints {
        Some(PrecisionConstraints::Obey) => {
            config.set_flag(BuilderFlag::ObeyPrecisionConstraints, true)?
        }
        Some(PrecisionConstraints::Prefer) => {
            config.set_flag(BuilderFlag::PreferPrecisionConstraints, true)?
        }
        _ => {}
    }
    if let Some(core) = cfg.dla_core {
        let cores = builder.num_dla_cores();
        if i64::from(core) >= i64::from(cores) {
            bail!("--dla-core {core}: this device has {cores} DLA core(s)");
        }
        config.set_default_device_type(DeviceType::Dla)?;
        config.set_dla_core(core as i32)?;
        if cfg.allow_gpu_fallback {
            config.set_flag(BuilderFlag::GpuFallback, true)?;
        }
    }
    if cfg.version_compatible {
        config.set_flag(BuilderFlag::VersionCompatible, true)?;
    }
    let hw = match cfg.hardware_compat {
        Some(release::HardwareCompat::AmperePlus) => HardwareCompatibility::AmperePlus,
        Some(release::HardwareCompat::SameComputeCapability) => {
            HardwareCompatibility::SameComputeCapability
        }
        _ => HardwareCompatibility::None,
    };
    if hw != HardwareCompatibility::None {
        config.set_hardware_compatibility(hw)?;
    }
    if let Some(level) = cfg.opt_level {
        config.set_builder_optimization_level(i32::from(level))?;
    }
    let cc_targets: Vec<i32> = plan
        .compute_capabilities
        .iter()
        .map(|t| t.to_shim())
        .collect();
    if plan
        .compute_capabilities
        .contains(&release::CcTarget::Current)
    {
        if let Err(e) = lib.device() {
            bail!(
                "--compute-capability current compiles for the GPU present, and none is usable here ({e}); name the \
                 targets instead, e.g. --compute-capability 7.5,8.6"
            );
        }
    }
    if !cc_targets.is_empty() {
        config
            .set_compute_capabilities(&cc_targets)
            .context("--compute-capability")?;
    }
    tracing::debug!(targets = ?config.compute_capabilities(), "compute-capability targets on the config");
    if let Some(v) = cfg.profiling_verbosity {
        config.set_profiling_verbosity(match v {
            options::ProfilingVerbosity::LayerNamesOnly => ProfilingVerbosity::LayerNamesOnly,
            options::ProfilingVerbosity::None => ProfilingVerbosity::None,
            options::ProfilingVerbosity::Detailed => ProfilingVerbosity::Detailed,
        })?;
    }
    for p in &report.profiles {
        let mut profile = builder.create_optimization_profile()?;
        for r in &p.inputs {
            profile.set_shapes(&r.name, &r.min, &r.opt, &r.max)?;
        }
        config.add_optimization_profile(&profile)?;
    }
    if plan.calibrator_from_cache {
        // The cache our calibration just produced (int8 helper), or the --calib-cache file as given.
        let (cache, what) = match (
            plan.run_calibration,
            super::calib::latest_cache(),
            cfg.calib_cache.as_ref(),
        ) {
            (true, Some(c), _) => {
                let v = lib.tensorrt_version();
                (
                    super::calib::restamp_cache(&c, v.major, v.minor, v.patch)?,
                    "calibration cache".to_string(),
                )
            }
            (_, _, Some(path)) => {
                // Checked against the network before (run.rs); stamped for the loaded release, which skips a cache
                // whose header names another.
                let bytes = std::fs::read(path)
                    .with_context(|| format!("--calib-cache {}: cannot read", path.display()))?;
                let v = lib.tensorrt_version();
                (
                    super::calib::restamp_cache(&bytes, v.major, v.minor, v.patch)
                        .with_context(|| format!("--calib-cache {}", path.display()))?,
                    format!("--calib-cache {}", path.display()),
                )
            }
            _ => bail!("internal: calibrator planned without --calib-cache or a calibration run"),
        };
        let algorithm = cache_algorithm(&cache).with_context(|| what.clone())?;
        config.set_int8_calibrator(Box::new(trt::CacheCalibrator::new(cache)), algorithm)?;
    }
    let gpu_calibration = if plan.calibrate_on_gpu {
        let (calibrator, algorithm) = device_calibrator(
            cfg,
            lib.tensorrt_version(),
            lib.device()?,
            &parser.network().inputs()?,
            &report.profiles,
        )?;
        let handle = calibrator.handle();
        config.set_int8_calibrator(Box::new(calibrator), algorithm)?;
        Some(handle)
    } else {
        None
    };
    let timing_cache = match &report.builder.timing_cache {
        TimingCache::File(p) => Some(p.clone()),
        _ => None,
    };
    if let Some(p) = &timing_cache {
        let blob = match std::fs::read(p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "timing cache {}: cannot read: {e}",
                    p.display()
                ))
            }
        };
        let cache = config.create_timing_cache(&blob)?;
        config.set_timing_cache(cache, false)?;
    }
    let phases = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    if plan.progress_monitor {
        config.set_progress_monitor(Box::new(BarMonitor {
            bar: progress.bar(),
            phases: phases.clone(),
        }))?;
    }

    // The default output directory (engines/out) is ours to create; an explicit -o must name an existing one.
    if cfg.output.is_none() {
        if let Some(dir) = report.output.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the output directory {}", dir.display()))?;
        }
    }

    progress.phase("build");
    let built = builder.build_serialized_network(parser.network(), &config);
    if let Some(h) = &gpu_calibration {
        // A calibration that stopped on an error would silently build on fewer batches: report it instead.
        if let Some(e) = h.take_error() {
            bail!(
                "--calib-on-gpu: calibration failed after {} batch(es): {e}",
                h.batches()
            );
        }
        if h.dropped_samples() > 0 && !cfg.quiet {
            eprintln!(
                "trt-build: warning: --calib-on-gpu: {} sample(s) of a last, short batch were not used",
                h.dropped_samples()
            );
        }
    }
    report.tensorrt_phases = phases.lock().map(|p| p.clone()).unwrap_or_default();
    let engine = built.context("building the engine")?;
    if let (Some(h), Some(path)) = (&gpu_calibration, &cfg.calib_cache) {
        if let Some(cache) = h.take_written_cache() {
            crate::common::fs::atomic_write(path, &cache)
                .with_context(|| format!("--calib-cache {}: cannot write", path.display()))?;
        }
    }
    let engine_bytes = engine.as_bytes();

    progress.phase("serialize");
    if let Some(p) = &timing_cache {
        let blob = config.serialize_timing_cache()?;
        if let Err(e) = crate::common::fs::atomic_write(p, blob.as_bytes()) {
            tracing::warn!("timing cache {} not saved: {e}", p.display());
        }
    }
    // The build GPU; a TensorRT-RTX engine compiled for a target list has none (it runs on those targets), one
    // compiled for `current` records the GPU it was compiled on.
    let current = plan
        .compute_capabilities
        .contains(&release::CcTarget::Current);
    let gpu = if lib.is_rtx() && !current {
        None
    } else {
        let device = lib.device()?;
        Some(GpuInfo {
            name: device.name().to_string(),
            compute_capability: device.compute_capability(),
        })
    };
    let compute_capabilities = if !lib.is_rtx() {
        Vec::new()
    } else if current {
        gpu.iter().map(|g| g.compute_capability).collect()
    } else {
        plan.compute_capabilities
            .iter()
            .filter_map(|t| match t {
                release::CcTarget::Sm(a, b) => Some(trt::ComputeCapability::new(*a, *b)),
                release::CcTarget::Current => None,
            })
            .collect()
    };
    let mut sc = Sidecar::new(
        TensorRtInfo {
            version: lib.tensorrt_version(),
            version_compatible: cfg.version_compatible,
            hardware_compatibility: trt::builder::sidecar_hardware_compatibility(hw),
            exclude_lean_runtime: false,
            compute_capabilities,
        },
        gpu,
        match cfg.precision {
            release::Precision::Fp32 => sidecar::Precision::Fp32,
            release::Precision::Fp16 => sidecar::Precision::Fp16,
            release::Precision::Int8 | release::Precision::Best => sidecar::Precision::Int8,
        },
    );
    let net = parser.network();
    for (mode, list) in [
        (TensorMode::Input, net.inputs()?),
        (TensorMode::Output, net.outputs()?),
    ] {
        for t in list {
            // The type TensorRT reports for an IO tensor is the one set on it: it must be what was planned.
            if let Some(a) = report.io_formats.iter().find(|a| a.name == t.name) {
                if a.dtype != t.data_type {
                    bail!(
                        "{} `{}` is {} in the network after being set to {}",
                        a.direction,
                        t.name,
                        t.data_type,
                        a.dtype
                    );
                }
            }
            sc.io.push(IoTensorInfo {
                name: t.name,
                mode,
                dtype: t.data_type,
                shape: t.shape,
                format: "linear".into(),
            });
        }
    }
    sc.profiles = report
        .profiles
        .iter()
        .map(|p| ProfileInfo {
            inputs: p
                .inputs
                .iter()
                .map(|r| ProfileShapes {
                    name: r.name.clone(),
                    min: r.min.clone(),
                    opt: r.opt.clone(),
                    max: r.max.clone(),
                })
                .collect(),
        })
        .collect();
    sc.source = SourceInfo {
        onnx_file: source
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
        onnx_sha256: Some(source.sha256.clone()),
    };
    sc.pipeline = report.pipeline.iter().map(|s| s.name.clone()).collect();
    let mut plugins: Vec<String> = net
        .layers()?
        .into_iter()
        .map(|l| l.plugin)
        .filter(|p| !p.is_empty())
        .collect();
    plugins.sort();
    plugins.dedup();
    sc.plugins = plugins;
    sc.plugin_libraries = cfg
        .plugins
        .iter()
        .filter_map(|p| trt::plugins::recorded_name(p))
        .collect();
    sc.class_names = report.class_names.clone();
    sc.build_settings = sidecar::BuildSettings {
        sparse_weights: config.flag(BuilderFlag::SparseWeights)?,
        tactic_sources: report
            .builder
            .tactic_sources
            .as_ref()
            .map(|v| v.iter().map(|t| t.as_str().to_owned()).collect()),
    };
    sc.tool = sidecar::ToolInfo {
        name: "trt-build".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    sidecar::write_engine(&report.output, engine_bytes, &mut sc)
        .with_context(|| format!("writing {}", report.output.display()))?;
    if cfg.wants_layer_info() {
        progress.phase("layer info");
        layer_info(cfg, &lib, report)?;
    }
    progress.finish();
    if !cfg.quiet && !cfg.json {
        progress.println(&format!(
            "trt-build: built {} ({} bytes) in {:.1} s",
            report.output.display(),
            engine_bytes.len(),
            progress.elapsed().as_secs_f64()
        ));
    }
    Ok(())
}

/// `--dump-layer-info` / `--export-layer-info`: the written engine read back through its sidecar check, and TensorRT's
/// engine inspector JSON for it (run.rs checked up front that engines run here).
fn layer_info(cfg: &BuildConfig, lib: &trt::Library, report: &mut BuildReport) -> Result<()> {
    let engine = &report.output;
    let json = lib
        .runtime()
        .and_then(|rt| rt.load_engine(engine))
        .and_then(|e| e.layer_info_json())
        .with_context(|| {
            format!(
                "reading the layer information of {e} (the engine and its sidecar are written; `trt-inspect {e} \
                 --export-layer-info FILE` reads it on a machine that runs it)",
                e = engine.display()
            )
        })?;
    let value: serde_json::Value = serde_json::from_str(&json).with_context(|| {
        format!(
            "TensorRT's layer information for {} is not JSON",
            engine.display()
        )
    })?;
    if let Some(path) = &cfg.export_layer_info {
        let mut text = serde_json::to_string_pretty(&value)?;
        text.push('\n');
        crate::common::fs::atomic_write(path, text.as_bytes())
            .with_context(|| format!("--export-layer-info {}: cannot write", path.display()))?;
        report.layer_info_file = Some(path.clone());
    }
    if cfg.dump_layer_info {
        report.layer_info = Some(value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(name: &str, shape: &[i64]) -> trt::builder::NetworkTensorDesc {
        trt::builder::NetworkTensorDesc {
            name: name.into(),
            data_type: trt::DataType::F32,
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn calibration_shapes() {
        assert_eq!(
            calibration_shape(&desc("images", &[4, 3, 64, 32]), &[]).unwrap(),
            [4, 3, 64, 32]
        );
        let msg = calibration_shape(&desc("images", &[-1, 3, 64, 64]), &[])
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("`images`") && msg.contains("--opt-shapes"),
            "{msg}"
        );
        let msg = calibration_shape(&desc("x", &[1, 1, 8, 8]), &[])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`x`") && msg.contains("[N, 3, H, W]"), "{msg}");
        assert_eq!(
            gpu_algorithm(CalibAlgo::Minmax).unwrap(),
            CalibrationAlgorithm::MinMax
        );
        assert_eq!(
            gpu_algorithm(CalibAlgo::Entropy).unwrap(),
            CalibrationAlgorithm::Entropy2
        );
        assert!(gpu_algorithm(CalibAlgo::Percentile)
            .unwrap_err()
            .to_string()
            .contains("minmax and entropy"));
    }

    #[test]
    fn cache_headers() {
        assert!(matches!(
            cache_algorithm(b"TRT-8503-EntropyCalibration2\nimages: 3c010a14\n"),
            Ok(CalibrationAlgorithm::Entropy2)
        ));
        assert!(matches!(
            cache_algorithm(b"TRT-100300-MinMaxCalibration\n"),
            Ok(CalibrationAlgorithm::MinMax)
        ));
        assert!(cache_algorithm(b"TRT-8503-LegacyCalibration\n")
            .unwrap_err()
            .to_string()
            .contains("LegacyCalibration"));
        assert!(cache_algorithm(b"\x00\x01binary")
            .unwrap_err()
            .to_string()
            .contains("not a TensorRT calibration cache"));
    }
}
