//! `trt-build` command line: clap options with trtexec's spellings accepted as aliases.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use super::release::PrecisionConstraints;
pub use crate::calib_data::CalibAlgo;
pub use crate::common::generate::Generate;

/// `--profiling-verbosity` (trtexec `--profilingVerbosity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfilingVerbosity {
    /// Layer names only (TensorRT's default).
    #[value(alias = "layer-names-only", alias = "default")]
    LayerNamesOnly,
    /// No layer information.
    None,
    /// Layer names and parameters; needed for `trt-inspect --layers`.
    #[value(alias = "verbose")]
    Detailed,
}

/// `--sparsity` (trtexec `--sparsity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sparsity {
    /// No sparse kernels (TensorRT's default).
    #[default]
    Disable,
    /// Allow 2:4 structured-sparsity kernels where the weights already have the pattern (kSPARSE_WEIGHTS).
    Enable,
    /// Prune Conv/MatMul/Gemm weights to 2:4 in the ONNX first, then build as `enable`: CHANGES THE MODEL'S OUTPUTS.
    Force,
}

const AFTER_HELP: &str = "\
trtexec spellings are accepted too: --onnx=FILE, --saveEngine=FILE, --minShapes/--optShapes/--maxShapes=name:1x3x640x640,
--memPoolSize=workspace:1024M,dlaSRAM:1M, --workspace=MiB, --useDLACore=N, --allowGPUFallback, --timingCacheFile=FILE,
--builderOptimizationLevel=N, --versionCompatible, --hardwareCompatibilityLevel=ampere+, --layerPrecisions=name:fp32,
--precisionConstraints=obey, --profilingVerbosity=detailed, --staticPlugins/--plugins=LIB, --calibCache=FILE, --noTF32,
--inputIOFormats/--outputIOFormats=fp16:chw[,…], --tacticSources=-CUDNN,+CUBLAS, --sparsity=enable, --dumpLayerInfo,
--exportLayerInfo=FILE.

IO formats: one type:format per network input (output), in order, or one for all.
Types fp32 fp16 bf16 int32 int64 int8 fp8 uint8 bool (as the release has them). Format: chw
(row-major linear) only, since trt::Session reads linear IO: vectorized (chw2/4/16/32, hwc8/16,
dhwc8, cdhw32), channel-last (hwc, dhwc) and DLA layouts are refused. On a strongly typed network
(TensorRT 11.x, TensorRT-RTX, --explicit) the type must be the ONNX's own: cast in the ONNX
(`trt-onnx fp16 --io-fp16` for FP16 IO).

Tactic sources: +NAME enables, -NAME disables, from the release's defaults: CUBLAS, CUBLAS_LT,
CUDNN (TensorRT ≤ 10.x), EDGE_MASK_CONVOLUTIONS, JIT_CONVOLUTIONS.

Layer information (--dump-layer-info, --export-layer-info): TensorRT's engine inspector reads a
deserialized engine, which needs a usable GPU here; without one trt-build refuses before any work
(exit 3): build, then run `trt-inspect ENGINE --export-layer-info FILE` on the target machine.
Both set --profiling-verbosity detailed unless given (trtexec needs --profilingVerbosity=detailed
for the full information).

Several optimization profiles: repeat the --min-shapes/--opt-shapes/--max-shapes triple, one triple per profile.

Exit codes: 0 ok, 1 failed build or invalid input (including an option the TensorRT release cannot honor),
2 usage error, 3 TensorRT, CUDA or a usable GPU missing on this machine (`trt-inspect system` says what).";

/// Build a TensorRT engine (and its provenance sidecar) from an ONNX model.
///
/// Runs the ONNX pipeline first (re-parameterization, lint, FP16 or INT8 Q/DQ pass where the TensorRT release
/// needs it, numerical verification on the CPU), then parses and builds with TensorRT.
#[derive(Debug, Parser)]
#[command(name = "trt-build", version, after_long_help = AFTER_HELP, after_help = crate::common::exit::HELP)]
pub struct Opts {
    /// The ONNX model (trtexec: --onnx=FILE). Optional with --recipe.
    #[arg(value_name = "MODEL.onnx")]
    pub model: Option<PathBuf>,

    /// trtexec's --onnx=FILE.
    #[arg(
        long = "onnx",
        value_name = "FILE",
        hide = true,
        conflicts_with = "model"
    )]
    pub onnx: Option<PathBuf>,

    /// Build from a recipe (engines/<model>.<target>.toml); options given here override it.
    #[arg(long, value_name = "FILE")]
    pub recipe: Option<PathBuf>,

    /// Engine path [default: engines/out/<stem>.<precision>.<gpu>.engine]; the sidecar is <engine>.json.
    #[arg(short = 'o', long, value_name = "FILE", alias = "saveEngine")]
    pub output: Option<PathBuf>,

    /// Build in FP16 (builder flag on TensorRT ≤ 10.x, FP16 ONNX pass + strongly typed on 11.x).
    #[arg(long, help_heading = "Precision")]
    pub fp16: bool,

    /// Build in INT8 (calibrator on ≤ 10.x, Q/DQ ONNX pass + strongly typed on 11.x). Needs --calib or --calib-cache.
    #[arg(long, help_heading = "Precision")]
    pub int8: bool,

    /// Enable every reduced precision (FP16 and INT8).
    #[arg(long, help_heading = "Precision")]
    pub best: bool,

    /// On TensorRT ≤ 10.x use the ONNX passes and a strongly typed network instead of builder flags (always on 11.x).
    /// trtexec's --stronglyTyped is the same.
    #[arg(long, alias = "stronglyTyped", help_heading = "Precision")]
    pub explicit: bool,

    /// trtexec's --skipInference / --buildOnly: trt-build never runs inference, so these are accepted and change
    /// nothing.
    #[arg(long = "skip-inference", aliases = ["skipInference", "buildOnly"], help_heading = "Builder")]
    pub skip_inference: bool,

    /// INT8 calibration data: a directory of images (jpg, png, bmp) or .npy tensors.
    #[arg(long, value_name = "DIR", help_heading = "Precision")]
    pub calib: Option<PathBuf>,

    /// TensorRT calibration cache to read (or to write when --calib is given).
    #[arg(
        long = "calib-cache",
        value_name = "FILE",
        alias = "calibCache",
        help_heading = "Precision"
    )]
    pub calib_cache: Option<PathBuf>,

    /// Calibration algorithm [default: minmax].
    #[arg(
        long = "calib-algo",
        value_enum,
        value_name = "ALGO",
        help_heading = "Precision"
    )]
    pub calib_algo: Option<CalibAlgo>,

    /// Number of calibration batches.
    #[arg(long = "calib-batches", value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Precision")]
    pub calib_batches: Option<u32>,

    /// Let TensorRT calibrate on the GPU (≤ 10.x): --calib DIR batches are copied to the device for its
    /// IInt8Calibrator instead of calibrating in Rust; the cache TensorRT writes goes to --calib-cache.
    #[arg(long = "calib-on-gpu", help_heading = "Precision")]
    pub calib_on_gpu: bool,

    /// Layers to build in a given precision: name:fp32|fp16|int8[,…] (`*` wildcards allowed in names).
    #[arg(
        long = "layer-precisions",
        value_name = "SPEC",
        alias = "layerPrecisions",
        help_heading = "Precision"
    )]
    pub layer_precisions: Vec<String>,

    /// Keep layers/nodes whose name matches PATTERN (`*` wildcards) in FP32; repeatable.
    #[arg(long = "keep-fp32", value_name = "PATTERN", help_heading = "Precision")]
    pub keep_fp32: Vec<String>,

    /// How strictly layer precisions are enforced (≤ 10.x builder path).
    #[arg(
        long = "precision-constraints",
        value_enum,
        alias = "precisionConstraints",
        help_heading = "Precision"
    )]
    pub precision_constraints: Option<PrecisionConstraints>,

    /// Disable TF32 for FP32 layers.
    #[arg(long = "no-tf32", alias = "noTF32", help_heading = "Precision")]
    pub no_tf32: bool,

    /// Static shapes (one profile with min = opt = max): name:1x3x640x640[,…].
    #[arg(long, value_name = "SPEC", help_heading = "Shapes")]
    pub shapes: Option<String>,

    /// Minimum shapes of a profile: name:1x3x320x320[,…]; repeat the triple for more profiles.
    #[arg(
        long = "min-shapes",
        value_name = "SPEC",
        alias = "minShapes",
        help_heading = "Shapes"
    )]
    pub min_shapes: Vec<String>,

    /// Optimum shapes of a profile.
    #[arg(
        long = "opt-shapes",
        value_name = "SPEC",
        alias = "optShapes",
        help_heading = "Shapes"
    )]
    pub opt_shapes: Vec<String>,

    /// Maximum shapes of a profile.
    #[arg(
        long = "max-shapes",
        value_name = "SPEC",
        alias = "maxShapes",
        help_heading = "Shapes"
    )]
    pub max_shapes: Vec<String>,

    /// Builder workspace limit: a size like 2G, 512M, 1024K; a plain number is MiB (trtexec --workspace).
    #[arg(long, value_name = "SIZE", value_parser = size_arg, help_heading = "Builder")]
    pub workspace: Option<String>,

    /// Memory pool limits, trtexec syntax: pool:size[,…], pools workspace, dlaSRAM, dlaLocalDRAM, dlaGlobalDRAM,
    /// tacticSharedMem.
    #[arg(
        long = "mem-pool-size",
        value_name = "SPEC",
        alias = "memPoolSize",
        value_parser = pools_arg,
        help_heading = "Builder"
    )]
    pub mem_pool_size: Vec<String>,

    /// Run on DLA core N (Jetson; TensorRT ≤ 10.x).
    #[arg(
        long = "dla-core",
        value_name = "N",
        alias = "useDLACore",
        help_heading = "Builder"
    )]
    pub dla_core: Option<u32>,

    /// Let layers the DLA cannot run fall back to the GPU.
    #[arg(
        long = "allow-gpu-fallback",
        alias = "allowGPUFallback",
        help_heading = "Builder"
    )]
    pub allow_gpu_fallback: bool,

    /// Timing cache file [default: one per GPU + TensorRT version under the user cache directory].
    #[arg(
        long = "timing-cache",
        value_name = "FILE",
        alias = "timingCacheFile",
        help_heading = "Builder"
    )]
    pub timing_cache: Option<PathBuf>,

    /// Do not read or write a timing cache.
    #[arg(
        long = "no-timing-cache",
        conflicts_with = "timing_cache",
        help_heading = "Builder"
    )]
    pub no_timing_cache: bool,

    /// Builder optimization level 0..5 (TensorRT ≥ 8.6; default 3).
    #[arg(long = "opt-level", value_name = "N", alias = "builderOptimizationLevel",
          value_parser = clap::value_parser!(u8).range(0..=5), help_heading = "Builder")]
    pub opt_level: Option<u8>,

    /// Build a version-compatible engine (runs on later TensorRT of the same major; ≥ 8.6).
    #[arg(long = "version-compatible", aliases = ["versionCompatible", "vc"], help_heading = "Builder")]
    pub version_compatible: bool,

    /// Hardware compatibility: none, ampere+ or same-compute-capability (≥ 8.6; the last after 10.3).
    #[arg(long = "hardware-compatibility", value_name = "LEVEL", alias = "hardwareCompatibilityLevel",
          value_parser = parse_hw_compat, help_heading = "Builder")]
    pub hardware_compatibility: Option<super::release::HardwareCompat>,

    /// TensorRT for RTX: GPU architectures to compile for, comma-separated compute capabilities (`7.5` for T4,
    /// `8.6,8.9,12.0` …) or `current` (the GPU present; needs one). Default: the recipe's target, else the library's
    /// own set.
    #[arg(long = "compute-capability", value_name = "CC[,CC…]|current", alias = "computeCapabilities",
          value_delimiter = ',', value_parser = parse_cc_target, help_heading = "Builder")]
    pub compute_capability: Vec<super::release::CcTarget>,

    /// Class names recorded in the sidecar for trt-detect and services (JSON array, one name per line, or an
    /// Ultralytics `{0: 'person', …}` mapping); default: the ONNX model's `names` metadata when it has one.
    #[arg(long, value_name = "FILE", alias = "names", help_heading = "Output")]
    pub classes: Option<PathBuf>,

    /// Plugin library to load (and record in the sidecar); repeatable.
    #[arg(long, value_name = "LIB", aliases = ["staticPlugins", "dynamicPlugins"], help_heading = "Builder")]
    pub plugins: Vec<PathBuf>,

    /// Layer information kept in the engine (detailed enables `trt-inspect --layers`).
    #[arg(
        long = "profiling-verbosity",
        value_enum,
        value_name = "LEVEL",
        alias = "profilingVerbosity",
        help_heading = "Builder"
    )]
    pub profiling_verbosity: Option<ProfilingVerbosity>,

    /// Type and format of the network inputs, trtexec syntax: type:chw[,…], one per input in order or one for all
    /// (e.g. fp16:chw). Only row-major linear (chw) IO is accepted.
    #[arg(long = "input-io-formats", value_name = "SPEC", alias = "inputIOFormats",
          value_parser = input_formats_arg, help_heading = "Builder")]
    pub input_io_formats: Option<String>,

    /// Type and format of the network outputs, as --input-io-formats.
    #[arg(long = "output-io-formats", value_name = "SPEC", alias = "outputIOFormats",
          value_parser = output_formats_arg, help_heading = "Builder")]
    pub output_io_formats: Option<String>,

    /// Enable (+NAME) or disable (-NAME) tactic sources from the release's defaults, e.g. -CUDNN,+CUBLAS or
    /// -EDGE_MASK_CONVOLUTIONS (names: see the long help).
    #[arg(long = "tactic-sources", value_name = "[+-]NAME[,…]", alias = "tacticSources",
          value_parser = tactics_arg, allow_hyphen_values = true, help_heading = "Builder")]
    pub tactic_sources: Option<String>,

    /// 2:4 structured sparsity: disable, enable (kernels for weights that already have the pattern) or force (prune
    /// Conv/MatMul/Gemm weights to 2:4 in the ONNX first; changes accuracy).
    #[arg(long, value_enum, value_name = "MODE", help_heading = "Builder")]
    pub sparsity: Option<Sparsity>,

    /// Print TensorRT's layer information (engine inspector JSON) after the build; needs a usable GPU here.
    #[arg(
        long = "dump-layer-info",
        alias = "dumpLayerInfo",
        help_heading = "Output"
    )]
    pub dump_layer_info: bool,

    /// Write TensorRT's layer information (engine inspector JSON) to FILE after the build; needs a usable GPU here.
    #[arg(
        long = "export-layer-info",
        value_name = "FILE",
        alias = "exportLayerInfo",
        help_heading = "Output"
    )]
    pub export_layer_info: Option<PathBuf>,

    /// Plan for this TensorRT release (e.g. 10.3, or rtx-1.7 for TensorRT for RTX) when none is installed
    /// (--dry-run); must match the loaded one.
    #[arg(long = "trt-release", value_name = "X.Y[.Z]|rtx-X.Y", value_parser = parse_release, help_heading = "Pipeline")]
    pub trt_release: Option<trt::Version>,

    /// Skip re-parameterization (RepConv / BN folding) of the ONNX model.
    #[arg(long = "no-reparam", help_heading = "Pipeline")]
    pub no_reparam: bool,

    /// Keep YOLOv9's auxiliary training head (a DualDDetect export): by default the main head is kept and the
    /// auxiliary one dropped, as YOLOv9's own re-parameterization does.
    #[arg(long = "keep-aux-head", help_heading = "Pipeline")]
    pub keep_aux_head: bool,

    /// Skip the numerical check of each ONNX pass on the CPU executor.
    #[arg(long = "no-verify", help_heading = "Pipeline")]
    pub no_verify: bool,

    /// Write the ONNX that TensorRT will parse to PATH.
    #[arg(long = "emit-onnx", value_name = "PATH", help_heading = "Pipeline")]
    pub emit_onnx: Option<PathBuf>,

    /// Run everything that needs no TensorRT and print the plan; write no engine.
    #[arg(long = "dry-run", help_heading = "Pipeline")]
    pub dry_run: bool,

    /// Also write a Triton model repository entry: DIR/NAME/config.pbtxt, DIR/NAME/VERSION/model.plan (the engine
    /// byte for byte, with its sidecar) and DIR/NAME/labels.txt.
    #[arg(long = "triton-repo", value_name = "DIR", help_heading = "Deployment")]
    pub triton_repo: Option<PathBuf>,

    /// Triton model name (default: the ONNX file's stem).
    #[arg(
        long = "triton-name",
        value_name = "NAME",
        requires = "triton_repo",
        help_heading = "Deployment"
    )]
    pub triton_name: Option<String>,

    /// Triton model version directory.
    #[arg(
        long = "triton-version",
        value_name = "N",
        default_value_t = 1,
        value_parser = clap::value_parser!(u64).range(1..),
        requires = "triton_repo",
        help_heading = "Deployment"
    )]
    pub triton_version: u64,

    /// Ask Triton to run the model through CUDA graphs (`optimization { cuda { graphs: true } }`).
    #[arg(
        long = "triton-cuda-graphs",
        requires = "triton_repo",
        help_heading = "Deployment"
    )]
    pub triton_cuda_graphs: bool,

    /// Also write a DeepStream nvinfer config: DIR/config_infer_primary.txt and DIR/labels.txt, using the box
    /// parser libnvds_yolo_parser.so (found next to trt-build, or --deepstream-lib).
    #[arg(long = "deepstream", value_name = "DIR", help_heading = "Deployment")]
    pub deepstream: Option<PathBuf>,

    /// The DeepStream box parser library (`cargo build --release -p nvds-yolo-parser`).
    #[arg(
        long = "deepstream-lib",
        value_name = "PATH",
        requires = "deepstream",
        help_heading = "Deployment"
    )]
    pub deepstream_lib: Option<PathBuf>,

    /// Show TensorRT's log and debug details.
    #[arg(short, long, conflicts_with = "quiet", help_heading = "Output")]
    pub verbose: bool,

    /// Print errors only; no progress.
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,

    /// Print one machine-readable JSON report on stdout (no progress).
    #[arg(long, help_heading = "Output")]
    pub json: bool,

    /// Generate a man page or shell completions on stdout.
    #[arg(long, value_enum, value_name = "WHAT", hide = true, exclusive = true)]
    pub generate: Option<Generate>,
}

impl Opts {
    /// The model path from the positional argument or `--onnx`.
    pub fn model_path(&self) -> Option<&PathBuf> {
        self.model.as_ref().or(self.onnx.as_ref())
    }
}

fn parse_hw_compat(s: &str) -> Result<super::release::HardwareCompat, String> {
    super::release::HardwareCompat::parse(s)
}

/// Parses one `--compute-capability` value: `7.5` or `current`.
fn parse_cc_target(s: &str) -> Result<super::release::CcTarget, String> {
    super::release::CcTarget::parse_list(s).map(|v| v[0])
}

/// Parses `10.3`, `10.3.0`, `8.5.2`, and TensorRT for RTX releases as `rtx-1.7` (also `rtx1.7`, `RTX 1.7`), with
/// [`trt::Version`]'s one parser, then checks the release is one this tool supports.
pub fn parse_release(s: &str) -> Result<trt::Version, String> {
    let t = s.trim();
    match t.parse::<trt::Version>() {
        Err(_) if t.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("rtx")) => Err(format!(
            "`{s}` is not a TensorRT for RTX release; write rtx-major.minor, e.g. rtx-1.7"
        )),
        Err(_) => Err(format!(
            "`{s}` is not a TensorRT release; write major.minor or major.minor.patch, e.g. 10.3 (rtx-1.7 for \
             TensorRT for RTX)"
        )),
        Ok(v) if v.is_rtx() && (v.major, v.minor) < (1, 3) => Err(format!(
            "TensorRT for RTX {} is not supported; this tool supports rtx-1.3 and later",
            t[3..].trim_start_matches(['-', ' '])
        )),
        Ok(v) if !v.is_rtx() && v.major < 8 => Err(format!(
            "TensorRT {s} is not supported; this tool supports 8.5 and later (and TensorRT for RTX as rtx-1.7)"
        )),
        Ok(v) => Ok(v),
    }
}

/// Parses a size: `2G`, `512M`, `1024K`, `0.5G`, `1073741824B`; a plain number is MiB (trtexec's unit).
/// `--workspace` on the command line: checked by clap (a bad size is a usage error, exit 2), kept as text.
fn size_arg(s: &str) -> Result<String, String> {
    parse_size(s).map(|_| s.to_string())
}

/// `--input-io-formats` on the command line: checked by clap (a bad entry or a non-linear layout is a usage error,
/// exit 2), kept as text.
fn input_formats_arg(s: &str) -> Result<String, String> {
    super::io_formats::parse("--input-io-formats", s).map(|_| s.to_string())
}

/// `--output-io-formats`, as [`input_formats_arg`].
fn output_formats_arg(s: &str) -> Result<String, String> {
    super::io_formats::parse("--output-io-formats", s).map(|_| s.to_string())
}

/// `--tactic-sources`: checked by clap (an unknown name is a usage error listing the compiled release's names).
fn tactics_arg(s: &str) -> Result<String, String> {
    super::tactics::parse(s).map(|_| s.to_string())
}

/// `--mem-pool-size` on the command line: checked by clap (exit 2), kept as text.
fn pools_arg(s: &str) -> Result<String, String> {
    super::config::parse_pools(&[s.to_string()], None)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let bad = || format!("`{s}` is not a size; write e.g. 2G, 512M, 1024K or a number of MiB");
    let (num, mult) = match t.chars().last() {
        Some('G' | 'g') => (&t[..t.len() - 1], 1u64 << 30),
        Some('M' | 'm') => (&t[..t.len() - 1], 1u64 << 20),
        Some('K' | 'k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('B' | 'b') => (&t[..t.len() - 1], 1u64),
        Some(c) if c.is_ascii_digit() || c == '.' => (t, 1u64 << 20),
        _ => return Err(bad()),
    };
    let v: f64 = num.trim().parse().map_err(|_| bad())?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!("size `{s}` must be positive"));
    }
    let bytes = v * mult as f64;
    if bytes > u64::MAX as f64 / 2.0 {
        return Err(format!("size `{s}` is too large"));
    }
    Ok(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trtexec_aliases_parse() {
        let cli = Opts::try_parse_from([
            "trt-build",
            "--onnx=m.onnx",
            "--saveEngine=m.engine",
            "--fp16",
            "--minShapes=images:1x3x320x320",
            "--optShapes=images:1x3x640x640",
            "--maxShapes=images:1x3x1280x1280",
            "--memPoolSize=workspace:1024M",
            "--useDLACore=1",
            "--allowGPUFallback",
            "--timingCacheFile=t.cache",
            "--builderOptimizationLevel=4",
            "--versionCompatible",
            "--hardwareCompatibilityLevel=ampere+",
            "--layerPrecisions=head*:fp32",
            "--precisionConstraints=obey",
            "--profilingVerbosity=detailed",
            "--staticPlugins=libplug.so",
            "--calibCache=c.cache",
            "--noTF32",
            "--stronglyTyped",
            "--skipInference",
            "--inputIOFormats=fp16:chw",
            "--outputIOFormats=fp32:chw,fp16:chw",
            "--tacticSources=-CUDNN,+CUBLAS",
            "--sparsity=enable",
            "--dumpLayerInfo",
            "--exportLayerInfo=layers.json",
        ])
        .unwrap();
        assert_eq!(cli.input_io_formats.as_deref(), Some("fp16:chw"));
        assert_eq!(cli.output_io_formats.as_deref(), Some("fp32:chw,fp16:chw"));
        assert_eq!(cli.tactic_sources.as_deref(), Some("-CUDNN,+CUBLAS"));
        assert_eq!(cli.sparsity, Some(Sparsity::Enable));
        assert!(cli.dump_layer_info);
        assert_eq!(cli.export_layer_info, Some(PathBuf::from("layers.json")));
        assert!(cli.explicit && cli.skip_inference);
        assert!(Opts::try_parse_from(["trt-build", "m.onnx", "--buildOnly"]).is_ok());
        assert_eq!(cli.model_path().unwrap(), &PathBuf::from("m.onnx"));
        assert_eq!(
            cli.output.as_deref(),
            Some(std::path::Path::new("m.engine"))
        );
        assert!(cli.fp16 && cli.allow_gpu_fallback && cli.version_compatible && cli.no_tf32);
        assert_eq!(cli.min_shapes, vec!["images:1x3x320x320"]);
        assert_eq!(cli.max_shapes, vec!["images:1x3x1280x1280"]);
        assert_eq!(cli.mem_pool_size, vec!["workspace:1024M"]);
        assert_eq!(cli.dla_core, Some(1));
        assert_eq!(cli.opt_level, Some(4));
        assert_eq!(
            cli.hardware_compatibility,
            Some(super::super::release::HardwareCompat::AmperePlus)
        );
        assert_eq!(cli.profiling_verbosity, Some(ProfilingVerbosity::Detailed));
        assert_eq!(cli.plugins, vec![PathBuf::from("libplug.so")]);
        assert_eq!(cli.precision_constraints, Some(PrecisionConstraints::Obey));
        assert_eq!(cli.calib_cache, Some(PathBuf::from("c.cache")));
    }

    #[test]
    fn repeated_triples_keep_their_order() {
        let cli = Opts::try_parse_from([
            "trt-build",
            "m.onnx",
            "--min-shapes",
            "x:1",
            "--opt-shapes",
            "x:2",
            "--max-shapes",
            "x:4",
            "--minShapes=x:8",
            "--optShapes=x:8",
            "--maxShapes=x:16",
        ])
        .unwrap();
        assert_eq!(cli.min_shapes, vec!["x:1", "x:8"]);
        assert_eq!(cli.max_shapes, vec!["x:4", "x:16"]);
    }

    #[test]
    fn calib_on_gpu_flag() {
        let cli = Opts::try_parse_from([
            "trt-build",
            "m.onnx",
            "--int8",
            "--calib",
            "d",
            "--calib-on-gpu",
        ])
        .unwrap();
        assert!(cli.calib_on_gpu);
        assert!(
            !Opts::try_parse_from(["trt-build", "m.onnx"])
                .unwrap()
                .calib_on_gpu
        );
        assert_eq!(
            Opts::try_parse_from(["trt-build", "m.onnx", "--calib-on-gpu=yes"])
                .unwrap_err()
                .kind(),
            clap::error::ErrorKind::TooManyValues
        );
    }

    #[test]
    fn usage_errors() {
        use clap::error::ErrorKind;
        let kind = |args: &[&str]| Opts::try_parse_from(args).unwrap_err().kind();
        assert_eq!(
            kind(&["trt-build", "m.onnx", "--opt-level", "6"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["trt-build", "m.onnx", "--bogus"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            kind(&["trt-build", "m.onnx", "--onnx", "n.onnx"]),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            kind(&["trt-build", "m.onnx", "-v", "-q"]),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            kind(&["trt-build", "m.onnx", "--hardware-compatibility", "turing"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["trt-build", "m.onnx", "--trt-release", "ten"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["trt-build", "m.onnx", "--calib-batches", "0"]),
            ErrorKind::ValueValidation
        );
        // trtexec habits: a bad IO spec, a vectorized layout, an unknown tactic source, an unknown sparsity mode.
        for args in [
            &["trt-build", "m.onnx", "--inputIOFormats=fp16"][..],
            &["trt-build", "m.onnx", "--input-io-formats", "fp16:chw32"],
            &["trt-build", "m.onnx", "--outputIOFormats=fp32:hwc8"],
            &["trt-build", "m.onnx", "--tacticSources=+TENSORCORES"],
            &["trt-build", "m.onnx", "--tactic-sources", "CUDNN"],
        ] {
            assert_eq!(kind(args), ErrorKind::ValueValidation, "{args:?}");
        }
        assert_eq!(
            kind(&["trt-build", "m.onnx", "--sparsity", "maybe"]),
            ErrorKind::InvalidValue
        );
        let e = Opts::try_parse_from([
            "trt-build",
            "m.onnx",
            "--input-io-formats",
            "fp16:chw,fp16:chw4",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("`fp16:chw4`") && e.contains("linear"), "{e}");
        let e = Opts::try_parse_from(["trt-build", "m.onnx", "--tactic-sources", "+TENSORCORES"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("JIT_CONVOLUTIONS"),
            "the known names are listed: {e}"
        );
        // A leading '-' is a tactic change, not an option.
        let cli = Opts::try_parse_from([
            "trt-build",
            "m.onnx",
            "--tactic-sources",
            "-JIT_CONVOLUTIONS",
        ])
        .unwrap();
        assert_eq!(cli.tactic_sources.as_deref(), Some("-JIT_CONVOLUTIONS"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024M").unwrap(), 1 << 30);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("512").unwrap(), 512 << 20);
        assert_eq!(parse_size("0.5G").unwrap(), 1 << 29);
        assert_eq!(parse_size("64K").unwrap(), 64 << 10);
        assert!(parse_size("-1G").is_err());
        assert!(parse_size("lots").unwrap_err().contains("`lots`"));
        assert!(parse_size("").is_err());
    }

    #[test]
    fn releases() {
        let v = parse_release("10.3").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (10, 3, 0));
        let v = parse_release("8.5.2").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (8, 5, 2));
        assert!(parse_release("7.1").unwrap_err().contains("8.5 and later"));
        assert!(parse_release("10").is_err());
    }
}
