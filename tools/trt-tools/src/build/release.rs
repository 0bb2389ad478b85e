//! What each TensorRT release can honor: the precision path and the release-dependent options.
//!
//! [`plan_for_release`] is a pure function of the release and the request, so every branch is unit-tested without
//! TensorRT. The facts it encodes, checked against the public headers of 8.5, 8.6, 10.3, 10.16 and 11.1:
//!
//! | feature                                   | 8.5 | 8.6 | 9.x–10.x | 11.x |
//! |-------------------------------------------|-----|-----|----------|------|
//! | `BuilderFlag::kFP16` / `kINT8`, calibrators | yes | yes | yes (deprecated in late 10.x) | removed |
//! | precision constraints (`kOBEY_…`/`kPREFER_…`) | yes | yes | yes | removed (strongly typed only) |
//! | strongly typed networks                   | no  | no  | ≥ 9.1    | always |
//! | builder optimization level, version / hardware compatibility (`ampere+`) | no | yes | yes | yes |
//! | hardware compatibility `same-compute-capability` | no | no | after 10.3 (in 10.16) | yes |
//! | memory pool `tacticSharedMem`             | no  | no  | ≥ 10.0   | yes |
//! | `IProgressMonitor`                        | no  | no  | ≥ 10.0   | yes |
//! | DLA                                       | yes | yes | yes      | not supported by this tool (see below) |
//!
//! DLA on 11.x: DLA engines are built with the FP16/INT8 builder flags (DLA runs no FP32 and needs weakly typed
//! precision selection); TensorRT 11 removed those flags and ships for no Jetson with a DLA (Xavier, Orin run
//! JetPack's TensorRT 8.5–10.x), so a DLA request on 11.x is refused instead of producing an engine that cannot run.

use std::fmt;

use serde::Serialize;
use trt::Version;

/// The precision the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// No reduced precision.
    #[default]
    Fp32,
    /// `--fp16`.
    Fp16,
    /// `--int8` (FP32 elsewhere).
    Int8,
    /// `--int8 --fp16` or `--best`.
    Best,
}

impl Precision {
    /// From the flags.
    pub fn from_flags(fp16: bool, int8: bool, best: bool) -> Self {
        match (fp16, int8, best) {
            (_, _, true) | (true, true, _) => Precision::Best,
            (true, false, false) => Precision::Fp16,
            (false, true, false) => Precision::Int8,
            (false, false, false) => Precision::Fp32,
        }
    }

    /// Lowercase name used in file names and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Int8 => "int8",
            Precision::Best => "best",
        }
    }

    fn has_fp16(self) -> bool {
        matches!(self, Precision::Fp16 | Precision::Best)
    }

    /// INT8 is asked for (`--int8` or `--best`).
    pub fn has_int8(self) -> bool {
        matches!(self, Precision::Int8 | Precision::Best)
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A layer precision in `--layer-precisions name:precision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerPrecision {
    /// FP32.
    Fp32,
    /// FP16.
    Fp16,
    /// INT8.
    Int8,
}

impl LayerPrecision {
    /// Parses `fp32`, `fp16`, `int8` (case-insensitive; trtexec also writes them so).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "fp32" => Some(LayerPrecision::Fp32),
            "fp16" => Some(LayerPrecision::Fp16),
            "int8" => Some(LayerPrecision::Int8),
            _ => None,
        }
    }
}

impl fmt::Display for LayerPrecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LayerPrecision::Fp32 => "fp32",
            LayerPrecision::Fp16 => "fp16",
            LayerPrecision::Int8 => "int8",
        })
    }
}

/// `--precision-constraints` (trtexec `--precisionConstraints`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PrecisionConstraints {
    /// No constraints: layer precisions are hints TensorRT may ignore.
    None,
    /// Prefer the requested layer precisions (`kPREFER_PRECISION_CONSTRAINTS`).
    Prefer,
    /// Obey them or fail (`kOBEY_PRECISION_CONSTRAINTS`).
    Obey,
}

/// `--hardware-compatibility` (trtexec `--hardwareCompatibilityLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HardwareCompat {
    /// Only the building GPU's compute capability (TensorRT's default).
    None,
    /// Any Ampere or newer GPU.
    AmperePlus,
    /// Any GPU with the building GPU's compute capability.
    SameComputeCapability,
}

impl HardwareCompat {
    /// Parses our spelling (`none`, `ampere-plus`, `same-compute-capability`) and trtexec's (`ampere+`,
    /// `sameComputeCapability`).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(HardwareCompat::None),
            "ampere+" | "ampere-plus" | "amperePlus" => Ok(HardwareCompat::AmperePlus),
            "same-compute-capability" | "sameComputeCapability" | "same-cc" => {
                Ok(HardwareCompat::SameComputeCapability)
            }
            _ => Err(format!(
                "`{s}` is not a hardware compatibility level; use none, ampere+ (ampere-plus) or \
                 same-compute-capability (sameComputeCapability)"
            )),
        }
    }

    /// Name as written in reports and sidecars.
    pub fn as_str(self) -> &'static str {
        match self {
            HardwareCompat::None => "none",
            HardwareCompat::AmperePlus => "ampere-plus",
            HardwareCompat::SameComputeCapability => "same-compute-capability",
        }
    }
}

/// Where calibration data comes from for `--int8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CalibSource {
    /// Nothing given.
    #[default]
    None,
    /// `--calib DIR`: our calibration runs (and may also write `--calib-cache`).
    Data,
    /// Only `--calib-cache FILE`: a calibration cache read as is.
    CacheOnly,
}

/// A memory pool of `--mem-pool-size` (trtexec `--memPoolSize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemPool {
    /// Builder workspace (`workspace`).
    Workspace,
    /// DLA managed SRAM (`dlaSRAM`).
    DlaSram,
    /// DLA local DRAM (`dlaLocalDRAM`).
    DlaLocalDram,
    /// DLA global DRAM (`dlaGlobalDRAM`).
    DlaGlobalDram,
    /// Tactic shared memory (`tacticSharedMem`, TensorRT ≥ 10.0).
    TacticSharedMem,
}

impl MemPool {
    /// Parses trtexec's pool names (and kebab-case forms).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "workspace" => Some(MemPool::Workspace),
            "dlaSRAM" | "dla-sram" => Some(MemPool::DlaSram),
            "dlaLocalDRAM" | "dla-local-dram" => Some(MemPool::DlaLocalDram),
            "dlaGlobalDRAM" | "dla-global-dram" => Some(MemPool::DlaGlobalDram),
            "tacticSharedMem" | "tactic-shared-mem" => Some(MemPool::TacticSharedMem),
            _ => None,
        }
    }

    /// trtexec's name of the pool.
    pub fn trtexec_name(self) -> &'static str {
        match self {
            MemPool::Workspace => "workspace",
            MemPool::DlaSram => "dlaSRAM",
            MemPool::DlaLocalDram => "dlaLocalDRAM",
            MemPool::DlaGlobalDram => "dlaGlobalDRAM",
            MemPool::TacticSharedMem => "tacticSharedMem",
        }
    }

    fn is_dla(self) -> bool {
        matches!(
            self,
            MemPool::DlaSram | MemPool::DlaLocalDram | MemPool::DlaGlobalDram
        )
    }
}

/// A TensorRT for RTX compute-capability target (`--compute-capability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CcTarget {
    /// The GPU present (`ComputeCapability::kCURRENT`; needs a GPU at build time).
    Current,
    /// SM major.minor, e.g. 7.5 for T4.
    Sm(u32, u32),
}

/// The compute capabilities TensorRT for RTX 1.6/1.7 compiles for (its `ComputeCapability` enum), for planning
/// without the library; a build checks against the compiled headers' list.
pub const RTX_TARGETS: [(u32, u32); 6] = [(7, 5), (8, 0), (8, 6), (8, 9), (12, 0), (12, 1)];

impl CcTarget {
    /// Parses `7.5,8.6` or `current`; duplicates are dropped, the order kept.
    pub fn parse_list(s: &str) -> Result<Vec<CcTarget>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim) {
            out.push(if part.eq_ignore_ascii_case("current") {
                CcTarget::Current
            } else {
                let (a, b) = super::recipe::parse_cc(part).map_err(|_| {
                    format!(
                        "`{part}` is not a compute capability; write major.minor (7.5 for T4, 8.6, 8.9, 12.0) or \
                         `current`"
                    )
                })?;
                CcTarget::Sm(a, b)
            });
        }
        Self::dedup_checked(&out)
    }

    /// Drops repeated targets (order kept) and refuses `current` together with others.
    pub fn dedup_checked(targets: &[CcTarget]) -> Result<Vec<CcTarget>, String> {
        let mut out: Vec<CcTarget> = Vec::new();
        for t in targets {
            if !out.contains(t) {
                out.push(*t);
            }
        }
        if out.contains(&CcTarget::Current) && out.len() > 1 {
            return Err(
                "`current` (the GPU present) cannot be combined with other compute capabilities"
                    .into(),
            );
        }
        Ok(out)
    }

    /// The `ComputeCapability` enumerator value the shim takes: the SM number (75), or 1 for `current`.
    pub fn to_shim(self) -> i32 {
        match self {
            CcTarget::Current => 1,
            CcTarget::Sm(a, b) => (a * 10 + b) as i32,
        }
    }
}

impl fmt::Display for CcTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CcTarget::Current => f.write_str("current"),
            CcTarget::Sm(a, b) => write!(f, "{a}.{b}"),
        }
    }
}

impl Serialize for CcTarget {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Everything about a build request that depends on the TensorRT release.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseRequest {
    /// Requested precision.
    pub precision: Precision,
    /// `--explicit`: on ≤ 10.x, use the ONNX passes instead of the builder flags.
    pub explicit: bool,
    /// The model already contains QuantizeLinear/DequantizeLinear (explicitly quantized).
    pub model_has_qdq: bool,
    /// Calibration source for INT8.
    pub calib: CalibSource,
    /// `--dla-core`.
    pub dla_core: Option<u32>,
    /// `--allow-gpu-fallback`.
    pub allow_gpu_fallback: bool,
    /// `--opt-level`.
    pub opt_level: Option<u8>,
    /// `--version-compatible`.
    pub version_compatible: bool,
    /// `--hardware-compatibility`.
    pub hardware_compat: Option<HardwareCompat>,
    /// `--layer-precisions` entries.
    pub layer_precisions: Vec<(String, LayerPrecision)>,
    /// `--precision-constraints`.
    pub precision_constraints: Option<PrecisionConstraints>,
    /// `--keep-fp32` patterns.
    pub keep_fp32: Vec<String>,
    /// Memory pools given a limit.
    pub pools: Vec<MemPool>,
    /// `--calib-on-gpu`: TensorRT calibrates on the GPU with batches from `--calib DIR` (≤ 10.x builder path).
    pub calib_on_gpu: bool,
    /// `--compute-capability` (TensorRT for RTX).
    pub compute_capabilities: Vec<CcTarget>,
    /// `--tactic-sources` changes.
    pub tactic_sources: Vec<super::tactics::TacticChange>,
}

/// How the requested precision is realized on a release: the ONNX passes that run and the builder settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleasePlan {
    /// The release planned for.
    pub tensorrt: String,
    /// Requested precision.
    pub precision: Precision,
    /// `"builder-flags"`, `"onnx-passes"` or `"fp32"`: which path realizes the precision.
    pub path: &'static str,
    /// Run the FP16 ONNX pass.
    pub onnx_fp16_pass: bool,
    /// Run the INT8 Q/DQ ONNX pass (needs calibration).
    pub onnx_qdq_pass: bool,
    /// Our Rust calibration must run (on `--calib DIR`).
    pub run_calibration: bool,
    /// Set `BuilderFlag::kFP16`.
    pub builder_fp16: bool,
    /// Set `BuilderFlag::kINT8`.
    pub builder_int8: bool,
    /// Give TensorRT an `IInt8Calibrator` that serves the calibration cache.
    pub calibrator_from_cache: bool,
    /// Give TensorRT an `IInt8Calibrator` that copies `--calib DIR` batches to the GPU (`--calib-on-gpu`); TensorRT
    /// computes the ranges, and the cache it writes goes to `--calib-cache` when given.
    pub calibrate_on_gpu: bool,
    /// Create the network strongly typed.
    pub strongly_typed: bool,
    /// Precision constraints to set on the builder (builder path with layer precisions or `--keep-fp32`).
    pub precision_constraints: Option<PrecisionConstraints>,
    /// Layer precisions set on the network's layers (builder path only).
    pub layer_precisions: Vec<(String, LayerPrecision)>,
    /// Node-name patterns the FP16 pass keeps in FP32 (from `--keep-fp32` and fp32 `--layer-precisions`).
    pub fp16_pass_keep_fp32: Vec<String>,
    /// TensorRT's progress monitor exists (bar) or not (spinner with phases).
    pub progress_monitor: bool,
    /// TensorRT for RTX: the compute capabilities compiled for (empty: the library's default set).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub compute_capabilities: Vec<CcTarget>,
    /// Explanations and warnings for the report.
    pub notes: Vec<String>,
}

/// An option the release cannot honor (exit code 1): names the option, the release and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The option as the user typed it (`--dla-core`).
    pub option: String,
    /// The release.
    pub release: Version,
    /// Why, and what to do instead.
    pub reason: String,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cannot be honored by {}: {}",
            self.option,
            self.release.label(),
            self.reason
        )
    }
}

impl std::error::Error for Unsupported {}

/// The release in TensorRT's numbering for deciding what exists: TensorRT itself, or for TensorRT for RTX the level
/// its API matches (1.5 and later: 11.0 — strongly typed only, no precision flags, no calibrators; 1.3/1.4: a late
/// 10.x). `trt-sys/cpp/common.h` maps the headers the same way.
pub fn api_level(v: Version) -> Version {
    match (v.is_rtx(), v.minor >= 5) {
        (false, _) => v,
        (true, true) => Version::new(11, 0, 0),
        (true, false) => Version::new(10, 99, 0),
    }
}

/// Strongly typed networks exist (9.1+).
pub fn has_strong_typing(v: Version) -> bool {
    (v.major, v.minor) >= (9, 1)
}

/// `IProgressMonitor` exists (10.0+).
pub fn has_progress_monitor(v: Version) -> bool {
    v.major >= 10
}

/// Builder precision flags and calibrators exist (≤ 10.x).
pub fn has_precision_flags(v: Version) -> bool {
    v.major <= 10
}

/// Builder optimization level, version and hardware compatibility exist (8.6+).
pub fn has_8_6_features(v: Version) -> bool {
    (v.major, v.minor) >= (8, 6)
}

/// Plans the precision path and checks every release-dependent option. Pure: the same release and request always
/// give the same answer, whatever machine it runs on.
pub fn plan_for_release(
    release: Version,
    req: &ReleaseRequest,
) -> Result<ReleasePlan, Unsupported> {
    let unsupported = |option: &str, reason: String| Unsupported {
        option: option.to_string(),
        release,
        reason,
    };
    let p = req.precision;
    let mut notes = Vec::new();
    // What exists is decided on the API level; messages name the real release.
    let v = api_level(release);

    // --- TensorRT for RTX --------------------------------------------------------------------------------------
    if release.is_rtx() {
        if req.version_compatible {
            return Err(unsupported(
                "--version-compatible",
                "TensorRT for RTX has no version-compatible engines; rebuild with the TensorRT-RTX release that runs \
                 them"
                    .into(),
            ));
        }
        if req
            .hardware_compat
            .is_some_and(|h| h != HardwareCompat::None)
        {
            return Err(unsupported(
                "--hardware-compatibility",
                "TensorRT for RTX compiles for a list of compute capabilities instead: use --compute-capability \
                 7.5,8.6,…"
                    .into(),
            ));
        }
        for t in &req.compute_capabilities {
            if let CcTarget::Sm(a, b) = t {
                if !RTX_TARGETS.contains(&(*a, *b)) {
                    return Err(unsupported(
                        &format!("--compute-capability {t}"),
                        format!(
                            "TensorRT for RTX compiles for {}",
                            RTX_TARGETS
                                .iter()
                                .map(|(a, b)| format!("{a}.{b}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
        }
    } else if !req.compute_capabilities.is_empty() {
        return Err(unsupported(
            "--compute-capability",
            "compute-capability targets exist only in TensorRT for RTX; TensorRT builds for the GPU it runs on \
             (--hardware-compatibility ampere+ makes an engine for any Ampere or newer GPU)"
                .into(),
        ));
    }

    // --- options that depend only on the release -----------------------------------------------------------
    let dla =
        req.dla_core.is_some() || req.allow_gpu_fallback || req.pools.iter().any(|p| p.is_dla());
    if dla && v.major >= 11 {
        let option = if req.dla_core.is_some() {
            "--dla-core"
        } else if req.allow_gpu_fallback {
            "--allow-gpu-fallback"
        } else {
            "--mem-pool-size (DLA pool)"
        };
        return Err(unsupported(
            option,
            "DLA engines need the FP16/INT8 builder flags that TensorRT 11 removed, and no DLA platform ships \
             TensorRT 11; build DLA engines on the Jetson with its JetPack TensorRT (8.5 on Xavier, 8.6-10.x on Orin)"
                .into(),
        ));
    }
    if !has_8_6_features(v) {
        if let Some(level) = req.opt_level {
            return Err(unsupported(
                "--opt-level",
                format!("the builder optimization level ({level}) was added in TensorRT 8.6; drop the option"),
            ));
        }
        if req.version_compatible {
            return Err(unsupported(
                "--version-compatible",
                "version-compatible engines were added in TensorRT 8.6".into(),
            ));
        }
    }
    if let Some(hc) = req.hardware_compat {
        if hc != HardwareCompat::None {
            if !has_8_6_features(v) {
                return Err(unsupported(
                    "--hardware-compatibility",
                    "hardware-compatible engines were added in TensorRT 8.6".into(),
                ));
            }
            if hc == HardwareCompat::SameComputeCapability && (v.major, v.minor) <= (10, 3) {
                return Err(unsupported(
                    "--hardware-compatibility same-compute-capability",
                    "this level was added after TensorRT 10.3; use ampere+ or a newer TensorRT"
                        .into(),
                ));
            }
            if dla {
                return Err(unsupported(
                    "--hardware-compatibility",
                    "hardware-compatible engines cannot use the DLA; drop --dla-core or the compatibility level"
                        .into(),
                ));
            }
        }
    }
    if req.calib_on_gpu && v.major >= 11 {
        return Err(unsupported(
            "--calib-on-gpu",
            "on-GPU calibration runs through TensorRT's IInt8Calibrator, which TensorRT 11 removed; drop \
             --calib-on-gpu (--int8 --calib DIR calibrates in Rust and builds a Q/DQ network)"
                .into(),
        ));
    }
    for change in &req.tactic_sources {
        if !change.source.exists_in(release) {
            let names: Vec<&str> = super::tactics::TacticName::of_release(release)
                .iter()
                .map(|t| t.as_str())
                .collect();
            return Err(unsupported(
                &format!("--tactic-sources {change}"),
                format!(
                    "{} is not a tactic source of this release (cuBLAS, cuBLASLt and cuDNN tactics were removed in \
                     TensorRT 11); its sources are {}",
                    change.source,
                    names.join(", ")
                ),
            ));
        }
    }
    if req.pools.contains(&MemPool::TacticSharedMem) && v.major < 10 {
        return Err(unsupported(
            "--mem-pool-size tacticSharedMem",
            "the tactic shared memory pool was added in TensorRT 10.0".into(),
        ));
    }

    // --- release-independent sanity --------------------------------------------------------------------------
    if req.allow_gpu_fallback && req.dla_core.is_none() {
        return Err(unsupported(
            "--allow-gpu-fallback",
            "it only applies together with --dla-core N".into(),
        ));
    }
    if req.dla_core.is_some() && !(p.has_fp16() || p.has_int8() || req.model_has_qdq) {
        return Err(unsupported(
            "--dla-core",
            "the DLA runs FP16 and INT8 only; add --fp16 or --int8 (with --allow-gpu-fallback for layers the \
             DLA cannot run)"
                .into(),
        ));
    }
    let wants_int8_calibration = p.has_int8() && !req.model_has_qdq;
    if req.calib_on_gpu {
        let why = if !p.has_int8() {
            Some("it only applies with --int8 or --best")
        } else if req.model_has_qdq {
            Some("the model already holds QuantizeLinear/DequantizeLinear nodes: there is nothing to calibrate")
        } else if req.calib != CalibSource::Data {
            Some("TensorRT needs calibration data to calibrate on the GPU: give --calib DIR (images or .npy tensors)")
        } else if req.explicit {
            Some("--explicit calibrates in Rust into a Q/DQ network; drop one of the two options")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(unsupported("--calib-on-gpu", why.into()));
        }
    }
    if wants_int8_calibration && req.calib == CalibSource::None {
        return Err(unsupported(
            "--int8",
            "INT8 needs calibration data: --calib DIR (images or .npy tensors) or --calib-cache FILE, or a model \
             that already holds QuantizeLinear/DequantizeLinear nodes"
                .into(),
        ));
    }
    if !p.has_int8() && req.calib != CalibSource::None {
        notes.push("calibration options are ignored without --int8 or --best".into());
    }
    if !p.has_fp16() && !req.keep_fp32.is_empty() {
        notes.push("--keep-fp32 has no effect without --fp16 or --best".into());
    }

    // --- the precision path ----------------------------------------------------------------------------------
    let flags = has_precision_flags(v);
    let onnx_path = !flags || req.explicit;
    if !flags && req.explicit {
        notes.push(format!(
            "--explicit is implied on TensorRT {} (strongly typed networks only)",
            release
        ));
    }
    let strongly_typed = if flags {
        onnx_path && has_strong_typing(v)
    } else {
        true
    };

    let mut plan = ReleasePlan {
        tensorrt: release.to_string(),
        precision: p,
        path: "fp32",
        onnx_fp16_pass: false,
        onnx_qdq_pass: false,
        run_calibration: false,
        builder_fp16: false,
        builder_int8: false,
        calibrator_from_cache: false,
        calibrate_on_gpu: false,
        strongly_typed,
        precision_constraints: None,
        layer_precisions: Vec::new(),
        fp16_pass_keep_fp32: Vec::new(),
        progress_monitor: has_progress_monitor(v),
        compute_capabilities: req.compute_capabilities.clone(),
        notes,
    };

    if onnx_path {
        if p != Precision::Fp32 {
            plan.path = "onnx-passes";
        }
        plan.onnx_fp16_pass = p.has_fp16();
        if wants_int8_calibration {
            if req.calib == CalibSource::CacheOnly {
                return Err(unsupported(
                    "--calib-cache",
                    if flags {
                        "with --explicit the Q/DQ pass needs calibration data; give --calib DIR, or drop --explicit \
                         to hand the cache to TensorRT's calibrator"
                            .into()
                    } else {
                        "a calibration cache feeds TensorRT's IInt8Calibrator, which TensorRT 11 removed; give \
                         --calib DIR so the Q/DQ pass can calibrate"
                            .into()
                    },
                ));
            }
            plan.onnx_qdq_pass = true;
            plan.run_calibration = true;
        }
        if !strongly_typed {
            // 8.x with --explicit: a weakly typed network; FP16 casts and Q/DQ nodes still need the flags.
            plan.builder_fp16 = p.has_fp16();
            plan.builder_int8 = p.has_int8() || req.model_has_qdq;
            plan.notes.push(format!(
                "TensorRT {} has no strongly typed networks: the ONNX passes run and the builder flags stay set",
                release
            ));
        }
        // Layer precisions cannot be set on strongly typed networks: FP32 requests become FP16-pass exclusions.
        if let Some(c) = req.precision_constraints {
            if strongly_typed && c != PrecisionConstraints::None {
                return Err(unsupported(
                    "--precision-constraints",
                    "strongly typed networks take their precisions from the ONNX types; use --keep-fp32 PATTERN".into(),
                ));
            }
        }
        for (name, lp) in &req.layer_precisions {
            match lp {
                LayerPrecision::Fp32 => plan.fp16_pass_keep_fp32.push(name.clone()),
                other if strongly_typed => {
                    return Err(unsupported(
                        &format!("--layer-precisions {name}:{other}"),
                        "strongly typed networks take layer precisions from the ONNX types; only :fp32 entries \
                         (kept in FP32 by the FP16 pass) are possible"
                            .into(),
                    ));
                }
                _ => plan.layer_precisions.push((name.clone(), *lp)),
            }
        }
        plan.fp16_pass_keep_fp32
            .extend(req.keep_fp32.iter().cloned());
        if !plan.layer_precisions.is_empty() {
            plan.precision_constraints = Some(
                req.precision_constraints
                    .unwrap_or(PrecisionConstraints::Obey),
            );
        }
    } else {
        if p != Precision::Fp32 {
            plan.path = "builder-flags";
        }
        plan.builder_fp16 = p.has_fp16();
        plan.builder_int8 = p.has_int8() || req.model_has_qdq;
        if req.model_has_qdq && !p.has_int8() {
            plan.notes.push(
                "the model holds Q/DQ nodes: INT8 is enabled for explicit quantization".into(),
            );
        }
        if wants_int8_calibration && req.calib_on_gpu {
            plan.calibrate_on_gpu = true;
            plan.notes.push(
                "--calib-on-gpu: TensorRT calibrates on the GPU with the --calib batches (no Rust calibration)".into(),
            );
        } else if wants_int8_calibration {
            plan.calibrator_from_cache = true;
            plan.run_calibration = req.calib == CalibSource::Data;
        }
        plan.layer_precisions = req.layer_precisions.clone();
        for pat in &req.keep_fp32 {
            plan.layer_precisions
                .push((pat.clone(), LayerPrecision::Fp32));
        }
        if !plan.layer_precisions.is_empty() {
            let c = req
                .precision_constraints
                .unwrap_or(PrecisionConstraints::Obey);
            if req.precision_constraints.is_none() {
                plan.notes
                    .push("layer precisions given: precision constraints set to obey".into());
            }
            plan.precision_constraints = Some(c);
        } else {
            plan.precision_constraints = req.precision_constraints;
        }
    }
    if v.major == 10 && flags && !onnx_path && p != Precision::Fp32 {
        plan.notes.push(
            "the FP16/INT8 builder flags are deprecated in late TensorRT 10.x; --explicit uses the ONNX passes and a \
             strongly typed network instead"
                .into(),
        );
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V85: Version = Version::new(8, 5, 3);
    const V86: Version = Version::new(8, 6, 1);
    const V103: Version = Version::new(10, 3, 0);
    const V1016: Version = Version::new(10, 16, 0);
    const V111: Version = Version::new(11, 1, 0);
    const ALL: [Version; 5] = [V85, V86, V103, V1016, V111];

    fn req(p: Precision) -> ReleaseRequest {
        ReleaseRequest {
            precision: p,
            ..Default::default()
        }
    }

    fn int8(calib: CalibSource) -> ReleaseRequest {
        ReleaseRequest {
            precision: Precision::Int8,
            calib,
            ..Default::default()
        }
    }

    #[test]
    fn fp16_uses_builder_flags_up_to_10_and_the_onnx_pass_on_11() {
        for v in [V85, V86, V103, V1016] {
            let plan = plan_for_release(v, &req(Precision::Fp16)).unwrap();
            assert_eq!(plan.path, "builder-flags", "{v}");
            assert!(
                plan.builder_fp16 && !plan.onnx_fp16_pass && !plan.strongly_typed,
                "{v}"
            );
        }
        let plan = plan_for_release(V111, &req(Precision::Fp16)).unwrap();
        assert_eq!(plan.path, "onnx-passes");
        assert!(plan.onnx_fp16_pass && plan.strongly_typed && !plan.builder_fp16);
    }

    #[test]
    fn explicit_fp16_is_strongly_typed_from_10_and_weakly_typed_with_flags_on_8() {
        let r = ReleaseRequest {
            explicit: true,
            ..req(Precision::Fp16)
        };
        for v in [V85, V86] {
            let plan = plan_for_release(v, &r).unwrap();
            assert!(
                plan.onnx_fp16_pass && plan.builder_fp16 && !plan.strongly_typed,
                "{v}"
            );
        }
        for v in [V103, V1016, V111] {
            let plan = plan_for_release(v, &r).unwrap();
            assert!(
                plan.onnx_fp16_pass && !plan.builder_fp16 && plan.strongly_typed,
                "{v}"
            );
        }
        assert!(plan_for_release(V111, &r)
            .unwrap()
            .notes
            .iter()
            .any(|n| n.contains("implied")));
    }

    #[test]
    fn int8_uses_the_calibrator_up_to_10_and_qdq_on_11() {
        for v in [V85, V86, V103, V1016] {
            let plan = plan_for_release(v, &int8(CalibSource::Data)).unwrap();
            assert!(
                plan.builder_int8 && plan.calibrator_from_cache && plan.run_calibration,
                "{v}"
            );
            assert!(!plan.onnx_qdq_pass, "{v}");
            let plan = plan_for_release(v, &int8(CalibSource::CacheOnly)).unwrap();
            assert!(plan.calibrator_from_cache && !plan.run_calibration, "{v}");
        }
        let plan = plan_for_release(V111, &int8(CalibSource::Data)).unwrap();
        assert!(plan.onnx_qdq_pass && plan.run_calibration && plan.strongly_typed);
        assert!(!plan.builder_int8 && !plan.calibrator_from_cache);
    }

    fn on_gpu(r: ReleaseRequest) -> ReleaseRequest {
        ReleaseRequest {
            calib_on_gpu: true,
            ..r
        }
    }

    #[test]
    fn calib_on_gpu_plans_the_device_calibrator_on_8_5() {
        check_calib_on_gpu_up_to_10(V85);
    }

    #[test]
    fn calib_on_gpu_plans_the_device_calibrator_on_8_6() {
        check_calib_on_gpu_up_to_10(V86);
    }

    #[test]
    fn calib_on_gpu_plans_the_device_calibrator_on_10_3() {
        check_calib_on_gpu_up_to_10(V103);
    }

    #[test]
    fn calib_on_gpu_plans_the_device_calibrator_on_10_16() {
        check_calib_on_gpu_up_to_10(V1016);
    }

    fn check_calib_on_gpu_up_to_10(v: Version) {
        let plan = plan_for_release(v, &on_gpu(int8(CalibSource::Data))).unwrap();
        assert!(plan.calibrate_on_gpu && plan.builder_int8, "{v}");
        assert!(
            !plan.run_calibration && !plan.calibrator_from_cache && !plan.onnx_qdq_pass,
            "{v}"
        );
        let plan = plan_for_release(v, &int8(CalibSource::Data)).unwrap();
        assert!(!plan.calibrate_on_gpu, "{v}");
        // Release-independent misuse, refused naming the option.
        for (r, want) in [
            (on_gpu(int8(CalibSource::CacheOnly)), "--calib DIR"),
            (on_gpu(req(Precision::Fp16)), "--int8"),
            (
                on_gpu(ReleaseRequest {
                    model_has_qdq: true,
                    ..int8(CalibSource::Data)
                }),
                "QuantizeLinear",
            ),
            (
                on_gpu(ReleaseRequest {
                    explicit: true,
                    ..int8(CalibSource::Data)
                }),
                "--explicit",
            ),
        ] {
            let e = plan_for_release(v, &r).unwrap_err();
            assert_eq!(e.option, "--calib-on-gpu", "{v}");
            assert!(e.to_string().contains(want), "{v}: {e}");
        }
    }

    #[test]
    fn calib_on_gpu_is_refused_on_11() {
        for r in [
            on_gpu(int8(CalibSource::Data)),
            on_gpu(req(Precision::Best)),
        ] {
            let e = plan_for_release(V111, &r).unwrap_err();
            assert_eq!(e.option, "--calib-on-gpu");
            let msg = e.to_string();
            assert!(
                msg.contains("TensorRT 11.1.0") && msg.contains("IInt8Calibrator"),
                "{msg}"
            );
        }
    }

    #[test]
    fn calibration_cache_alone_is_refused_on_11() {
        let e = plan_for_release(V111, &int8(CalibSource::CacheOnly)).unwrap_err();
        assert_eq!(e.option, "--calib-cache");
        let msg = e.to_string();
        assert!(
            msg.contains("TensorRT 11.1.0") && msg.contains("IInt8Calibrator"),
            "{msg}"
        );
    }

    #[test]
    fn int8_without_calibration_data_is_refused_unless_the_model_is_quantized() {
        for v in ALL {
            let e = plan_for_release(v, &req(Precision::Int8)).unwrap_err();
            assert_eq!(e.option, "--int8", "{v}");
            let ok = plan_for_release(
                v,
                &ReleaseRequest {
                    model_has_qdq: true,
                    ..req(Precision::Int8)
                },
            )
            .unwrap();
            assert!(!ok.run_calibration, "{v}");
            assert_eq!(ok.builder_int8, v.major <= 10, "{v}");
            assert_eq!(ok.strongly_typed, v.major >= 11, "{v}");
        }
    }

    #[test]
    fn best_combines_both() {
        let r = ReleaseRequest {
            precision: Precision::Best,
            calib: CalibSource::Data,
            ..Default::default()
        };
        let plan = plan_for_release(V86, &r).unwrap();
        assert!(plan.builder_fp16 && plan.builder_int8);
        let plan = plan_for_release(V111, &r).unwrap();
        assert!(plan.onnx_fp16_pass && plan.onnx_qdq_pass);
        assert_eq!(Precision::from_flags(true, true, false), Precision::Best);
    }

    #[test]
    fn dla_is_refused_on_11_and_accepted_before() {
        let r = ReleaseRequest {
            dla_core: Some(0),
            allow_gpu_fallback: true,
            ..req(Precision::Fp16)
        };
        for v in [V85, V86, V103, V1016] {
            assert!(plan_for_release(v, &r).is_ok(), "{v}");
        }
        let e = plan_for_release(V111, &r).unwrap_err();
        assert_eq!(e.option, "--dla-core");
        assert!(e.to_string().contains("TensorRT 11.1.0"));
        let r = ReleaseRequest {
            pools: vec![MemPool::DlaSram],
            ..req(Precision::Fp16)
        };
        assert!(plan_for_release(V111, &r)
            .unwrap_err()
            .option
            .contains("DLA pool"));
        // DLA needs a reduced precision, and GPU fallback needs a DLA core, on every release.
        for v in [V85, V103] {
            let e = plan_for_release(
                v,
                &ReleaseRequest {
                    dla_core: Some(1),
                    ..req(Precision::Fp32)
                },
            )
            .unwrap_err();
            assert!(e.reason.contains("FP16 and INT8 only"));
            let e = plan_for_release(
                v,
                &ReleaseRequest {
                    allow_gpu_fallback: true,
                    ..req(Precision::Fp16)
                },
            )
            .unwrap_err();
            assert_eq!(e.option, "--allow-gpu-fallback");
        }
    }

    #[test]
    fn features_added_in_8_6_are_refused_on_8_5() {
        let cases = [
            (
                ReleaseRequest {
                    opt_level: Some(5),
                    ..Default::default()
                },
                "--opt-level",
            ),
            (
                ReleaseRequest {
                    version_compatible: true,
                    ..Default::default()
                },
                "--version-compatible",
            ),
            (
                ReleaseRequest {
                    hardware_compat: Some(HardwareCompat::AmperePlus),
                    ..Default::default()
                },
                "--hardware-compatibility",
            ),
        ];
        for (r, option) in &cases {
            let e = plan_for_release(V85, r).unwrap_err();
            assert_eq!(&e.option, option);
            assert!(
                e.to_string().contains("8.5.3") && e.reason.contains("8.6"),
                "{e}"
            );
            for v in [V86, V103, V1016, V111] {
                assert!(plan_for_release(v, r).is_ok(), "{v} {option}");
            }
        }
        // none is always fine
        let r = ReleaseRequest {
            hardware_compat: Some(HardwareCompat::None),
            ..Default::default()
        };
        assert!(plan_for_release(V85, &r).is_ok());
    }

    #[test]
    fn same_compute_capability_needs_a_release_after_10_3() {
        let r = ReleaseRequest {
            hardware_compat: Some(HardwareCompat::SameComputeCapability),
            ..Default::default()
        };
        for v in [V85, V86, V103] {
            assert!(plan_for_release(v, &r).is_err(), "{v}");
        }
        for v in [V1016, V111] {
            assert!(plan_for_release(v, &r).is_ok(), "{v}");
        }
        let r = ReleaseRequest {
            hardware_compat: Some(HardwareCompat::AmperePlus),
            dla_core: Some(0),
            ..req(Precision::Fp16)
        };
        assert!(plan_for_release(V86, &r)
            .unwrap_err()
            .reason
            .contains("DLA"));
    }

    #[test]
    fn tactic_shared_memory_pool_needs_10() {
        let r = ReleaseRequest {
            pools: vec![MemPool::TacticSharedMem],
            ..Default::default()
        };
        for v in [V85, V86] {
            assert!(
                plan_for_release(v, &r)
                    .unwrap_err()
                    .option
                    .contains("tacticSharedMem"),
                "{v}"
            );
        }
        for v in [V103, V1016, V111] {
            assert!(plan_for_release(v, &r).is_ok(), "{v}");
        }
    }

    #[test]
    fn legacy_tactic_sources_are_refused_from_11_and_on_rtx() {
        let r = ReleaseRequest {
            tactic_sources: super::super::tactics::parse("-CUDNN,+JIT_CONVOLUTIONS").unwrap(),
            ..Default::default()
        };
        for v in [V85, V86, V103, V1016] {
            assert!(plan_for_release(v, &r).is_ok(), "{v}");
        }
        for v in [V111, "rtx-1.7".parse().unwrap()] {
            let e = plan_for_release(v, &r).unwrap_err();
            assert_eq!(e.option, "--tactic-sources -CUDNN", "{v}");
            assert!(
                e.reason
                    .ends_with("its sources are EDGE_MASK_CONVOLUTIONS, JIT_CONVOLUTIONS"),
                "{e}"
            );
        }
        let conv_only = ReleaseRequest {
            tactic_sources: super::super::tactics::parse("-EDGE_MASK_CONVOLUTIONS").unwrap(),
            ..Default::default()
        };
        for v in ALL {
            assert!(plan_for_release(v, &conv_only).is_ok(), "{v}");
        }
    }

    #[test]
    fn layer_precisions_follow_the_path() {
        let r = ReleaseRequest {
            layer_precisions: vec![("head.*".into(), LayerPrecision::Fp32)],
            keep_fp32: vec!["/model.105/*".into()],
            ..req(Precision::Fp16)
        };
        // builder path: layer precisions + obey constraints
        for v in [V85, V86, V103, V1016] {
            let plan = plan_for_release(v, &r).unwrap();
            assert_eq!(
                plan.precision_constraints,
                Some(PrecisionConstraints::Obey),
                "{v}"
            );
            assert_eq!(plan.layer_precisions.len(), 2, "{v}");
            assert!(plan.fp16_pass_keep_fp32.is_empty(), "{v}");
        }
        // strongly typed: fp32 entries become FP16-pass exclusions
        let plan = plan_for_release(V111, &r).unwrap();
        assert_eq!(
            plan.fp16_pass_keep_fp32,
            vec!["head.*".to_string(), "/model.105/*".to_string()]
        );
        assert!(plan.layer_precisions.is_empty() && plan.precision_constraints.is_none());
        // an fp16 layer precision cannot be honored on a strongly typed network
        let r = ReleaseRequest {
            layer_precisions: vec![("conv1".into(), LayerPrecision::Fp16)],
            ..req(Precision::Fp16)
        };
        let e = plan_for_release(V111, &r).unwrap_err();
        assert_eq!(e.option, "--layer-precisions conv1:fp16");
        assert!(plan_for_release(V103, &r).is_ok());
        let r = ReleaseRequest {
            precision_constraints: Some(PrecisionConstraints::Prefer),
            ..req(Precision::Fp16)
        };
        assert_eq!(
            plan_for_release(V111, &r).unwrap_err().option,
            "--precision-constraints"
        );
        assert_eq!(
            plan_for_release(V85, &r).unwrap().precision_constraints,
            Some(PrecisionConstraints::Prefer)
        );
    }

    #[test]
    fn progress_and_typing_capabilities() {
        assert!(!has_progress_monitor(V85) && !has_progress_monitor(V86));
        assert!(has_progress_monitor(V103) && has_progress_monitor(V111));
        assert!(!has_strong_typing(V86) && has_strong_typing(Version::new(9, 1, 0)));
        for v in ALL {
            assert_eq!(
                plan_for_release(v, &req(Precision::Fp32)).unwrap().path,
                "fp32"
            );
            assert_eq!(
                plan_for_release(v, &req(Precision::Fp32))
                    .unwrap()
                    .progress_monitor,
                v.major >= 10
            );
        }
    }

    #[test]
    fn parsers_accept_trtexec_spellings() {
        assert_eq!(
            HardwareCompat::parse("ampere+").unwrap(),
            HardwareCompat::AmperePlus
        );
        assert_eq!(
            HardwareCompat::parse("sameComputeCapability").unwrap(),
            HardwareCompat::SameComputeCapability
        );
        assert!(HardwareCompat::parse("turing")
            .unwrap_err()
            .contains("`turing`"));
        assert_eq!(MemPool::parse("dlaSRAM"), Some(MemPool::DlaSram));
        assert_eq!(
            MemPool::parse("tacticSharedMem"),
            Some(MemPool::TacticSharedMem)
        );
        assert_eq!(MemPool::parse("nope"), None);
        assert_eq!(LayerPrecision::parse("FP16"), Some(LayerPrecision::Fp16));
    }
}
