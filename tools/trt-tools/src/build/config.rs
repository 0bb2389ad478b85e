//! The validated build configuration: command line merged over a recipe, in one function ([`BuildConfig::from_cli`]).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;
use trt::Version;

use super::io_formats::IoFormat;
use super::options::{parse_size, CalibAlgo, Opts, ProfilingVerbosity, Sparsity};
use super::recipe::Recipe;
use super::release::{
    CalibSource, HardwareCompat, LayerPrecision, MemPool, Precision, PrecisionConstraints,
    ReleaseRequest,
};
use super::tactics::TacticChange;
use crate::shapes::ShapeArgs;

/// Timing cache choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "path")]
pub enum TimingCache {
    /// No timing cache.
    Disabled,
    /// The default file for this GPU + TensorRT release under the user cache directory.
    Default,
    /// A file given by the user.
    File(PathBuf),
}

/// Everything `trt-build` does, resolved and validated (no TensorRT needed).
#[derive(Debug, Clone, Serialize)]
pub struct BuildConfig {
    /// Source ONNX model.
    pub model: PathBuf,
    /// Recipe used, if any.
    pub recipe: Option<PathBuf>,
    /// Recipe description.
    pub description: Option<String>,
    /// Engine path given by the user or the recipe (`None`: the default name, known once the GPU is).
    pub output: Option<PathBuf>,
    /// Precision asked for.
    pub precision: Precision,
    /// `--explicit`.
    pub explicit: bool,
    /// `--calib DIR`.
    pub calib_data: Option<PathBuf>,
    /// `--calib-cache FILE`.
    pub calib_cache: Option<PathBuf>,
    /// `--calib-algo`.
    pub calib_algo: CalibAlgo,
    /// `--calib-batches`.
    pub calib_batches: Option<u32>,
    /// `--calib-on-gpu`.
    pub calib_on_gpu: bool,
    /// `--layer-precisions`.
    pub layer_precisions: Vec<(String, LayerPrecision)>,
    /// `--keep-fp32`.
    pub keep_fp32: Vec<String>,
    /// `--precision-constraints`.
    pub precision_constraints: Option<PrecisionConstraints>,
    /// TF32 allowed.
    pub tf32: bool,
    /// Shape options.
    #[serde(skip)]
    pub shapes: ShapeArgs,
    /// Memory pool limits in bytes.
    pub pools: Vec<(MemPool, u64)>,
    /// DLA core.
    pub dla_core: Option<u32>,
    /// GPU fallback.
    pub allow_gpu_fallback: bool,
    /// Timing cache.
    pub timing_cache: TimingCache,
    /// Builder optimization level.
    pub opt_level: Option<u8>,
    /// Version-compatible engine.
    pub version_compatible: bool,
    /// Hardware compatibility.
    pub hardware_compat: Option<HardwareCompat>,
    /// Plugin libraries.
    pub plugins: Vec<PathBuf>,
    /// Class names for the sidecar (`--classes`; filled from the ONNX `names` metadata later when empty).
    pub class_names: Vec<String>,
    /// Profiling verbosity.
    pub profiling_verbosity: Option<ProfilingVerbosity>,
    /// `--compute-capability` (TensorRT for RTX targets).
    pub compute_capabilities: Vec<super::release::CcTarget>,
    /// `--input-io-formats` entries (empty: TensorRT's defaults, the ONNX types in row-major linear).
    #[serde(skip)]
    pub input_io_formats: Vec<IoFormat>,
    /// `--output-io-formats` entries.
    #[serde(skip)]
    pub output_io_formats: Vec<IoFormat>,
    /// `--tactic-sources` changes (empty: the release's defaults).
    pub tactic_sources: Vec<TacticChange>,
    /// `--sparsity`.
    pub sparsity: Sparsity,
    /// `--dump-layer-info`.
    pub dump_layer_info: bool,
    /// `--export-layer-info FILE`.
    pub export_layer_info: Option<PathBuf>,
    /// Release asked for with `--trt-release` or by the recipe.
    pub trt_release: Option<Version>,
    /// Whether `trt_release` came from the recipe (then a different loaded release is an error too).
    pub trt_release_from_recipe: bool,
    /// Target GPU token (recipe).
    pub target_gpu: Option<String>,
    /// Target compute capability (recipe).
    pub target_cc: Option<(u32, u32)>,
    /// Re-parameterize.
    pub reparam: bool,
    /// `--keep-aux-head`: keep YOLOv9's auxiliary head.
    pub keep_aux_head: bool,
    /// `--triton-repo`, `--deepstream`.
    #[serde(skip)]
    pub deploy: crate::deploy::DeployOptions,
    /// Verify passes.
    pub verify: bool,
    /// `--emit-onnx`.
    pub emit_onnx: Option<PathBuf>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--verbose`.
    pub verbose: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// `--json`.
    pub json: bool,
}

/// Parses `--layer-precisions name:prec[,name:prec]` (repeatable).
pub fn parse_layer_precisions(specs: &[String]) -> Result<Vec<(String, LayerPrecision)>> {
    let mut out = Vec::new();
    for spec in specs {
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((name, prec)) = item.rsplit_once(':') else {
                bail!(
                    "--layer-precisions: `{item}` is not name:precision (e.g. /model.105/*:fp32)"
                );
            };
            let Some(p) = LayerPrecision::parse(prec.trim()) else {
                bail!("--layer-precisions: `{prec}` in `{item}` is not fp32, fp16 or int8");
            };
            if name.trim().is_empty() {
                bail!("--layer-precisions: `{item}` has an empty layer name");
            }
            out.push((name.trim().to_string(), p));
        }
    }
    Ok(out)
}

/// Parses `--mem-pool-size pool:size[,pool:size]` (repeatable) plus `--workspace`.
pub fn parse_pools(specs: &[String], workspace: Option<&str>) -> Result<Vec<(MemPool, u64)>> {
    let mut out: Vec<(MemPool, u64)> = Vec::new();
    let mut set = |pool: MemPool, bytes: u64, what: &str| -> Result<()> {
        if out.iter().any(|(p, _)| *p == pool) {
            bail!(
                "{what}: memory pool `{}` is given twice",
                pool.trtexec_name()
            );
        }
        out.push((pool, bytes));
        Ok(())
    };
    if let Some(w) = workspace {
        set(
            MemPool::Workspace,
            parse_size(w).map_err(|e| anyhow::anyhow!("--workspace: {e}"))?,
            "--workspace",
        )?;
    }
    for spec in specs {
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((name, size)) = item.split_once(':') else {
                bail!("--mem-pool-size: `{item}` is not pool:size (e.g. workspace:1024M)");
            };
            let Some(pool) = MemPool::parse(name.trim()) else {
                bail!(
                    "--mem-pool-size: unknown pool `{name}`; pools are workspace, dlaSRAM, dlaLocalDRAM, \
                     dlaGlobalDRAM, tacticSharedMem"
                );
            };
            let bytes =
                parse_size(size).map_err(|e| anyhow::anyhow!("--mem-pool-size {name}: {e}"))?;
            set(pool, bytes, "--mem-pool-size")?;
        }
    }
    Ok(out)
}

/// Validates the deployment options before any work: the Triton model name, and the DeepStream parser library.
fn deploy_options(cli: &Opts, model: &Path) -> Result<crate::deploy::DeployOptions> {
    use crate::deploy::{deepstream, triton};
    let triton = match &cli.triton_repo {
        Some(dir) => {
            let name = match &cli.triton_name {
                Some(n) => n.clone(),
                None => model
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("model")
                    .replace(|c: char| c.is_whitespace() || c == '/' || c == '\\', "_"),
            };
            triton::check_name(&name)?;
            Some((
                dir.clone(),
                triton::TritonOptions {
                    name,
                    version: cli.triton_version,
                    cuda_graphs: cli.triton_cuda_graphs,
                },
            ))
        }
        None => None,
    };
    let deepstream = match &cli.deepstream {
        Some(dir) => Some((
            dir.clone(),
            deepstream::parser_library(cli.deepstream_lib.as_deref())?,
        )),
        None => None,
    };
    Ok(crate::deploy::DeployOptions { triton, deepstream })
}

impl BuildConfig {
    /// Merges the command line over the recipe (if any) and validates everything that needs no model and no
    /// TensorRT. Errors name the option.
    pub fn from_cli(cli: &Opts) -> Result<BuildConfig> {
        let recipe = match &cli.recipe {
            Some(p) => Some(Recipe::load(p)?),
            None => None,
        };
        let r = recipe.as_ref();
        let model = match (cli.model_path(), r) {
            (Some(m), _) => m.clone(),
            (None, Some(r)) => r.source.onnx.clone(),
            (None, None) => {
                return Err(crate::common::exit::usage(
                    "no model given: trt-build MODEL.onnx [options] or trt-build --recipe FILE",
                ))
            }
        };
        let precision = if cli.fp16 || cli.int8 || cli.best {
            Precision::from_flags(cli.fp16, cli.int8, cli.best)
        } else {
            r.map_or(Precision::Fp32, |r| r.build.precision.into())
        };
        let calib = r.and_then(|r| r.calibration.as_ref());
        let mut calib_data = cli
            .calib
            .clone()
            .or_else(|| calib.and_then(|c| c.data.clone()));
        let mut calib_cache = cli
            .calib_cache
            .clone()
            .or_else(|| calib.and_then(|c| c.cache.clone()));
        // trtexec's --calib=FILE is a calibration cache: accept that spelling for a regular file.
        if let Some(d) = calib_data.clone() {
            if d.is_file() {
                if calib_cache.is_some() {
                    bail!(
                        "--calib {} is a file and --calib-cache is given too; --calib expects a directory of images \
                         or .npy tensors",
                        d.display()
                    );
                }
                tracing::info!(
                    "--calib {} is a file: using it as a calibration cache (trtexec meaning)",
                    d.display()
                );
                calib_cache = Some(d);
                calib_data = None;
            } else if !d.exists() {
                bail!(
                    "--calib {}: no such directory (expected images or .npy tensors)",
                    d.display()
                );
            }
        }
        if calib_data.is_none() {
            if let Some(c) = &calib_cache {
                if !c.is_file() && precision_has_int8(precision) {
                    bail!(
                        "--calib-cache {}: no such file; give --calib DIR to calibrate and write it",
                        c.display()
                    );
                }
            }
        }
        let calib_algo = cli
            .calib_algo
            .or_else(|| calib.and_then(|c| c.algo))
            .unwrap_or(CalibAlgo::Minmax);
        if cli.calib_on_gpu && !matches!(precision, Precision::Int8 | Precision::Best) {
            return Err(crate::common::exit::usage(
                "--calib-on-gpu calibrates INT8 on the GPU: it needs --int8 (or --best, or a recipe with INT8 \
                 precision)",
            ));
        }
        if cli.calib_on_gpu && calib_algo == CalibAlgo::Percentile {
            bail!(
                "--calib-algo percentile with --calib-on-gpu: TensorRT's calibrators offer minmax and entropy only; \
                 choose one of those or drop --calib-on-gpu to calibrate in Rust"
            );
        }
        let calib_batches = cli.calib_batches.or_else(|| calib.and_then(|c| c.batches));

        let mut lp_specs = r
            .map(|r| r.build.layer_precisions.clone())
            .unwrap_or_default();
        lp_specs.extend(cli.layer_precisions.iter().cloned());
        let layer_precisions = parse_layer_precisions(&lp_specs)?;
        let mut keep_fp32 = r.map(|r| r.pipeline.keep_fp32.clone()).unwrap_or_default();
        keep_fp32.extend(cli.keep_fp32.iter().cloned());

        let shapes = if !(cli.shapes.is_none()
            && cli.min_shapes.is_empty()
            && cli.opt_shapes.is_empty()
            && cli.max_shapes.is_empty())
        {
            ShapeArgs {
                shapes: cli.shapes.clone(),
                min: cli.min_shapes.clone(),
                opt: cli.opt_shapes.clone(),
                max: cli.max_shapes.clone(),
            }
        } else if let Some(r) = r {
            let mut s = ShapeArgs {
                shapes: r.build.shapes.clone(),
                ..Default::default()
            };
            for p in &r.profiles {
                s.min.push(p.min.clone().unwrap_or_else(|| p.opt.clone()));
                s.opt.push(p.opt.clone());
                s.max.push(p.max.clone().unwrap_or_else(|| p.opt.clone()));
            }
            s
        } else {
            ShapeArgs::default()
        };
        // Parse now so a bad spec fails before anything is loaded.
        crate::shapes::profiles(&shapes)?;

        let workspace = cli
            .workspace
            .clone()
            .or_else(|| r.and_then(|r| r.build.workspace.clone()));
        let mut pool_specs = if cli.mem_pool_size.is_empty() {
            r.map(|r| r.build.mem_pool_size.clone()).unwrap_or_default()
        } else {
            cli.mem_pool_size.clone()
        };
        pool_specs.retain(|s| !s.trim().is_empty());
        let pools = parse_pools(&pool_specs, workspace.as_deref())?;

        let timing_cache = if cli.no_timing_cache {
            TimingCache::Disabled
        } else if let Some(t) = cli
            .timing_cache
            .clone()
            .or_else(|| r.and_then(|r| r.build.timing_cache.clone()))
        {
            TimingCache::File(t)
        } else {
            TimingCache::Default
        };
        let hardware_compat = match (
            cli.hardware_compatibility,
            r.and_then(|r| r.build.hardware_compatibility.as_ref()),
        ) {
            (Some(h), _) => Some(h),
            (None, Some(s)) => Some(HardwareCompat::parse(s).map_err(anyhow::Error::msg)?),
            (None, None) => None,
        };
        let (trt_release, trt_release_from_recipe) = match (cli.trt_release, r) {
            (Some(v), _) => (Some(v), false),
            (None, Some(r)) => (Some(r.tensorrt()), true),
            (None, None) => (None, false),
        };
        let target_cc = match r.and_then(|r| r.target.compute_capability.as_ref()) {
            Some(cc) => Some(super::recipe::parse_cc(cc).map_err(anyhow::Error::msg)?),
            None => None,
        };
        let class_names = match &cli.classes {
            Some(f) => yolo_rt::classes::load_class_names(f)
                .map_err(|e| anyhow::anyhow!("--classes: {e}"))?,
            None => Vec::new(),
        };
        let mut plugins = r.map(|r| r.build.plugins.clone()).unwrap_or_default();
        plugins.extend(cli.plugins.iter().cloned());
        // The file is checked here, before any work and on machines without TensorRT: a shared library for this
        // machine that links the target release's major (when one is known).
        for p in &plugins {
            let facts = trt::plugins::inspect_plugin_library(p)
                .map_err(|e| anyhow::anyhow!("--plugins: {e}"))?;
            if let Some(v) = trt_release {
                let desc = format!(
                    "the build targets TensorRT {v} ({})",
                    if trt_release_from_recipe {
                        "recipe"
                    } else {
                        "--trt-release"
                    }
                );
                trt::plugins::plan_plugin_load(p, &facts, v, &desc)
                    .map_err(|e| anyhow::anyhow!("--plugins: {e}"))?;
            }
        }

        let deploy = deploy_options(cli, &model)?;
        // Checked by clap already; parsed again into values here.
        let io_formats = |what: &str, v: &Option<String>| -> Result<Vec<IoFormat>> {
            v.as_deref()
                .map_or(Ok(Vec::new()), |s| super::io_formats::parse(what, s))
                .map_err(crate::common::exit::usage)
        };
        let input_io_formats = io_formats("--input-io-formats", &cli.input_io_formats)?;
        let output_io_formats = io_formats("--output-io-formats", &cli.output_io_formats)?;
        let tactic_sources = match &cli.tactic_sources {
            Some(s) => super::tactics::parse(s)
                .map_err(|e| crate::common::exit::usage(format!("--tactic-sources: {e}")))?,
            None => Vec::new(),
        };
        let layer_info = cli.dump_layer_info || cli.export_layer_info.is_some();
        let profiling_verbosity = cli
            .profiling_verbosity
            .or_else(|| r.and_then(|r| r.build.profiling_verbosity));
        // The engine inspector reports layer parameters only for engines built with detailed verbosity (trtexec asks
        // for --profilingVerbosity=detailed): set it unless the user chose a level.
        let profiling_verbosity = match profiling_verbosity {
            None if layer_info => Some(ProfilingVerbosity::Detailed),
            other => other,
        };
        let cfg = BuildConfig {
            model,
            recipe: cli.recipe.clone(),
            description: r.and_then(|r| r.description.clone()),
            output: cli
                .output
                .clone()
                .or_else(|| r.and_then(|r| r.build.output.clone())),
            precision,
            explicit: cli.explicit || r.is_some_and(|r| r.pipeline.explicit),
            calib_data,
            calib_cache,
            calib_algo,
            calib_batches,
            calib_on_gpu: cli.calib_on_gpu,
            layer_precisions,
            keep_fp32,
            precision_constraints: cli.precision_constraints,
            tf32: !(cli.no_tf32 || r.is_some_and(|r| r.build.no_tf32)),
            shapes,
            pools,
            dla_core: cli.dla_core.or_else(|| r.and_then(|r| r.target.dla_core)),
            allow_gpu_fallback: cli.allow_gpu_fallback
                || r.is_some_and(|r| r.target.allow_gpu_fallback),
            timing_cache,
            opt_level: cli.opt_level.or_else(|| r.and_then(|r| r.build.opt_level)),
            version_compatible: cli.version_compatible
                || r.is_some_and(|r| r.build.version_compatible),
            hardware_compat,
            plugins,
            class_names,
            profiling_verbosity,
            input_io_formats,
            output_io_formats,
            tactic_sources,
            sparsity: cli.sparsity.unwrap_or_default(),
            dump_layer_info: cli.dump_layer_info,
            export_layer_info: cli.export_layer_info.clone(),
            compute_capabilities: super::release::CcTarget::dedup_checked(&cli.compute_capability)
                .map_err(|e| anyhow::anyhow!("--compute-capability: {e}"))?,
            trt_release,
            trt_release_from_recipe,
            target_gpu: r.map(|r| r.target.gpu.clone()),
            target_cc,
            reparam: !cli.no_reparam && r.is_none_or(|r| r.pipeline.reparam),
            keep_aux_head: cli.keep_aux_head,
            deploy,
            verify: !cli.no_verify && r.is_none_or(|r| r.pipeline.verify),
            emit_onnx: cli.emit_onnx.clone(),
            dry_run: cli.dry_run,
            verbose: cli.verbose,
            quiet: cli.quiet,
            json: cli.json,
        };
        if let Some(o) = &cfg.output {
            if o.is_dir() {
                bail!(
                    "--output {} is a directory; give the engine's file name",
                    o.display()
                );
            }
        }
        if let (Some(e), Some(o)) = (&cfg.emit_onnx, &cfg.output) {
            if e == o {
                bail!("--emit-onnx and --output are the same file {}", e.display());
            }
        }
        if let Some(l) = &cfg.export_layer_info {
            for (other, what) in [(&cfg.output, "--output"), (&cfg.emit_onnx, "--emit-onnx")] {
                if other.as_ref() == Some(l) {
                    bail!(
                        "--export-layer-info and {what} are the same file {}",
                        l.display()
                    );
                }
            }
        }
        Ok(cfg)
    }

    /// The release-dependent part of the request.
    pub fn release_request(&self, model_has_qdq: bool) -> ReleaseRequest {
        ReleaseRequest {
            precision: self.precision,
            explicit: self.explicit,
            model_has_qdq,
            calib: match (&self.calib_data, &self.calib_cache) {
                (Some(_), _) => CalibSource::Data,
                (None, Some(_)) => CalibSource::CacheOnly,
                (None, None) => CalibSource::None,
            },
            dla_core: self.dla_core,
            allow_gpu_fallback: self.allow_gpu_fallback,
            opt_level: self.opt_level,
            version_compatible: self.version_compatible,
            hardware_compat: self.hardware_compat,
            layer_precisions: self.layer_precisions.clone(),
            precision_constraints: self.precision_constraints,
            keep_fp32: self.keep_fp32.clone(),
            pools: self.pools.iter().map(|(p, _)| *p).collect(),
            calib_on_gpu: self.calib_on_gpu,
            compute_capabilities: self.compute_capabilities.clone(),
            tactic_sources: self.tactic_sources.clone(),
        }
    }

    /// `--dump-layer-info` or `--export-layer-info`: the build ends by reading the engine back with TensorRT's
    /// engine inspector, which needs a usable GPU.
    pub fn wants_layer_info(&self) -> bool {
        self.dump_layer_info || self.export_layer_info.is_some()
    }

    /// The request for `release`: on TensorRT for RTX a recipe's `[target] compute_capability` becomes the compute
    /// capability target when `--compute-capability` is not given (an RTX engine is compiled for it instead of being
    /// built on it).
    pub fn release_request_for(&self, release: Version, model_has_qdq: bool) -> ReleaseRequest {
        let mut req = self.release_request(model_has_qdq);
        if release.is_rtx() && req.compute_capabilities.is_empty() {
            if let Some((a, b)) = self.target_cc {
                req.compute_capabilities = vec![super::release::CcTarget::Sm(a, b)];
            }
        }
        req
    }

    /// The default engine path: `engines/out/<stem>.<precision>.<gpu>.engine`.
    pub fn default_output(&self, gpu_token: &str) -> PathBuf {
        let stem = self
            .model
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("model");
        // `yolov9.int8.onnx` → `yolov9.int8.t4.engine`, not `yolov9.int8.int8.t4.engine`.
        let precision = self.precision.to_string();
        let name = if stem.ends_with(&format!(".{precision}")) {
            format!("{stem}.{gpu_token}.engine")
        } else {
            format!("{stem}.{precision}.{gpu_token}.engine")
        };
        Path::new("engines").join("out").join(name)
    }

    /// The default timing cache path for a GPU and release: `$XDG_CACHE_HOME/trt-yolo/timing/<gpu>-sm<cc>-trt<v>.cache`
    /// (`~/.cache` when `XDG_CACHE_HOME` is unset).
    pub fn default_timing_cache(gpu_token: &str, cc: (u32, u32), v: Version) -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|s| !s.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            })?;
        Some(base.join("trt-yolo").join("timing").join(format!(
            "{gpu_token}-sm{}{}-{}{}.{}.{}.cache",
            cc.0,
            cc.1,
            if v.is_rtx() { "rtx" } else { "trt" },
            v.major,
            v.minor,
            v.patch
        )))
    }
}

fn precision_has_int8(p: Precision) -> bool {
    matches!(p, Precision::Int8 | Precision::Best)
}

/// A file-name token for a GPU name: `Tesla T4` → `t4`, `NVIDIA GeForce RTX 3090` → `geforce-rtx-3090`,
/// `Xavier` → `xavier`, `Orin (nvgpu)` → `orin-nvgpu`.
pub fn gpu_token(name: &str) -> String {
    let mut s = name.trim().to_ascii_lowercase();
    for prefix in ["nvidia ", "tesla "] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_string();
        }
    }
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "gpu".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cfg(args: &[&str]) -> Result<BuildConfig> {
        let mut v = vec!["trt-build"];
        v.extend_from_slice(args);
        BuildConfig::from_cli(&Opts::try_parse_from(v).unwrap())
    }

    #[test]
    fn gpu_tokens() {
        assert_eq!(gpu_token("Tesla T4"), "t4");
        assert_eq!(gpu_token("NVIDIA GeForce RTX 3090"), "geforce-rtx-3090");
        assert_eq!(gpu_token("Xavier"), "xavier");
        assert_eq!(gpu_token("Orin (nvgpu)"), "orin-nvgpu");
        assert_eq!(gpu_token("  "), "gpu");
    }

    #[test]
    fn pools_and_workspace() {
        let p = parse_pools(
            &[
                "workspace:1024M,dlaSRAM:1M".into(),
                "tacticSharedMem:0.5M".into(),
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            p,
            vec![
                (MemPool::Workspace, 1 << 30),
                (MemPool::DlaSram, 1 << 20),
                (MemPool::TacticSharedMem, 1 << 19)
            ]
        );
        let e = parse_pools(&["workspace:1G".into()], Some("2G"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`workspace` is given twice"), "{e}");
        assert!(parse_pools(&["gpuRAM:1G".into()], None)
            .unwrap_err()
            .to_string()
            .contains("unknown pool `gpuRAM`"));
        assert!(parse_pools(&["workspace".into()], None)
            .unwrap_err()
            .to_string()
            .contains("pool:size"));
    }

    #[test]
    fn layer_precisions() {
        let v = parse_layer_precisions(&["a:fp32,b/c:FP16".into(), "x:y:int8".into()]).unwrap();
        assert_eq!(
            v,
            vec![
                ("a".to_string(), LayerPrecision::Fp32),
                ("b/c".to_string(), LayerPrecision::Fp16),
                ("x:y".to_string(), LayerPrecision::Int8)
            ]
        );
        assert!(parse_layer_precisions(&["a:fp8".into()])
            .unwrap_err()
            .to_string()
            .contains("`fp8`"));
        assert!(parse_layer_precisions(&["a".into()]).is_err());
    }

    #[test]
    fn config_merges_and_validates() {
        let c = cfg(&[
            "m.onnx",
            "--fp16",
            "--workspace",
            "2G",
            "--no-reparam",
            "--dry-run",
        ])
        .unwrap();
        assert_eq!(c.precision, Precision::Fp16);
        assert_eq!(c.pools, vec![(MemPool::Workspace, 2 << 30)]);
        assert!(!c.reparam && c.verify && c.dry_run && c.tf32);
        assert_eq!(c.timing_cache, TimingCache::Default);
        assert_eq!(
            c.default_output("t4"),
            PathBuf::from("engines/out/m.fp16.t4.engine")
        );
        // A model already named for its precision is not named twice.
        let q = cfg(&["yolov9.int8.onnx", "--int8", "--dry-run"]).unwrap();
        assert_eq!(
            q.default_output("t4"),
            PathBuf::from("engines/out/yolov9.int8.t4.engine")
        );
        assert!(cfg(&[]).unwrap_err().to_string().contains("no model given"));
        let e = cfg(&["m.onnx", "--shapes", "x:1x0"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--shapes") && e.contains("positive"), "{e}");
        assert!(
            e.contains("dimension 1 of `1x0` is 0"),
            "the index and the value: {e}"
        );
        let e = format!(
            "{:#}",
            cfg(&["m.onnx", "--int8", "--calib", "/nonexistent/calib"]).unwrap_err()
        );
        assert!(e.contains("no such directory"), "{e}");
        let c = cfg(&["m.onnx", "--no-timing-cache"]).unwrap();
        assert_eq!(c.timing_cache, TimingCache::Disabled);
    }

    #[test]
    fn calib_on_gpu_reaches_the_release_request() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let c = cfg(&["m.onnx", "--int8", "--calib", d, "--calib-on-gpu"]).unwrap();
        assert!(c.calib_on_gpu);
        let r = c.release_request(false);
        assert!(r.calib_on_gpu);
        assert_eq!(r.calib, CalibSource::Data);
        let msg = cfg(&[
            "m.onnx",
            "--int8",
            "--calib",
            d,
            "--calib-on-gpu",
            "--calib-algo",
            "percentile",
        ])
        .unwrap_err()
        .to_string();
        assert!(msg.contains("minmax and entropy"), "{msg}");
        assert!(
            !cfg(&["m.onnx", "--int8", "--calib", d])
                .unwrap()
                .release_request(false)
                .calib_on_gpu
        );
    }

    #[test]
    fn trtexec_habits_reach_the_config() {
        let c = cfg(&[
            "m.onnx",
            "--inputIOFormats=fp16:chw",
            "--output-io-formats",
            "fp32:chw,fp16:chw",
            "--tacticSources=-EDGE_MASK_CONVOLUTIONS",
            "--sparsity",
            "force",
        ])
        .unwrap();
        assert_eq!(c.input_io_formats.len(), 1);
        assert_eq!(c.input_io_formats[0].dtype, trt::DataType::F16);
        assert_eq!(c.output_io_formats.len(), 2);
        assert_eq!(c.sparsity, Sparsity::Force);
        assert_eq!(
            c.release_request(false)
                .tactic_sources
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["-EDGE_MASK_CONVOLUTIONS"]
        );
        assert!(!c.wants_layer_info());
        assert_eq!(c.profiling_verbosity, None);
        let d = cfg(&["m.onnx"]).unwrap();
        assert_eq!(d.sparsity, Sparsity::Disable);
        assert!(d.tactic_sources.is_empty() && d.input_io_formats.is_empty());
    }

    #[test]
    fn layer_info_turns_detailed_verbosity_on_unless_a_level_is_given() {
        let c = cfg(&["m.onnx", "--dumpLayerInfo"]).unwrap();
        assert!(c.wants_layer_info());
        assert_eq!(c.profiling_verbosity, Some(ProfilingVerbosity::Detailed));
        let c = cfg(&[
            "m.onnx",
            "--export-layer-info",
            "l.json",
            "--profiling-verbosity",
            "none",
        ])
        .unwrap();
        assert!(c.wants_layer_info());
        assert_eq!(c.profiling_verbosity, Some(ProfilingVerbosity::None));
        let e = cfg(&[
            "m.onnx",
            "-o",
            "m.engine",
            "--export-layer-info",
            "m.engine",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--export-layer-info and --output are the same file"),
            "{e}"
        );
    }

    #[test]
    fn trtexec_calib_file_is_a_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("calib.cache");
        std::fs::write(&cache, "TRT-8600-MinMaxCalibration\n").unwrap();
        let c = cfg(&["m.onnx", "--int8", "--calib", cache.to_str().unwrap()]).unwrap();
        assert_eq!(c.calib_cache.as_deref(), Some(cache.as_path()));
        assert!(c.calib_data.is_none());
        assert_eq!(c.release_request(false).calib, CalibSource::CacheOnly);
    }
}
