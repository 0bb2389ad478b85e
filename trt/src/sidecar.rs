//! The engine sidecar: provenance and integrity of a serialized TensorRT engine.
//!
//! # File name
//! The sidecar of `model.engine` is `model.engine.json` — the engine's full file name plus `.json`
//! ([`sidecar_path`]). Appending (rather than replacing the extension) keeps engines with any extension unambiguous
//! and keeps both files next to each other in a listing.
//!
//! # Format (version 1)
//! A JSON object, written pretty-printed; field order is fixed:
//! ```json
//! {
//!   "format": "trt-engine-sidecar",
//!   "format_version": 1,
//!   "tensorrt": { "version": "10.3.0", "version_compatible": false,
//!                 "hardware_compatibility": "none", "exclude_lean_runtime": false },
//!   "gpu": { "name": "Tesla T4", "compute_capability": "7.5" },
//!   "precision": "fp16",
//!   "io": [ { "name": "images", "mode": "input", "dtype": "f32", "shape": [1, 3, -1, -1], "format": "linear" },
//!           { "name": "output0", "mode": "output", "dtype": "f16", "shape": [1, -1, 85], "format": "linear" } ],
//!   "profiles": [ { "inputs": [ { "name": "images", "min": [1,3,320,320], "opt": [1,3,640,640], "max": [1,3,1280,1280] } ] } ],
//!   "source": { "onnx_file": "yolov7.onnx", "onnx_sha256": "…64 hex…" },
//!   "pipeline": ["reparameterize", "fp16"],
//!   "plugins": ["EfficientNMS_TRT"],
//!   "plugin_libraries": ["libyolo_layer.so"],
//!   "class_names": ["person", "bicycle"],
//!   "build_settings": { "sparse_weights": true, "tactic_sources": ["EDGE_MASK_CONVOLUTIONS"] },
//!   "engine": { "sha256": "…64 hex…", "bytes": 12345678 },
//!   "created_at": "2026-11-23T00:41:53Z",
//!   "tool": { "name": "trt-build", "version": "0.1.0" },
//!   "sidecar_sha256": "…64 hex…"
//! }
//! ```
//! * `plugin_libraries`, `class_names` and `build_settings` are optional (omitted when empty; older sidecars without
//!   them verify). `build_settings` is provenance only (`trt-build --sparsity`, `--tactic-sources`): loading never
//!   checks it.
//! * TensorRT for RTX: `tensorrt.version` reads `"RTX 1.7.1"`; an engine compiled ahead of time for a list of compute
//!   capabilities records them as `tensorrt.compute_capabilities: ["7.5", "8.6"]` and has no `gpu` (it was built
//!   without one); both fields are optional, so TensorRT sidecars are unchanged.
//! * `shape` uses `-1` for dynamic dimensions; `format` is TensorRT's tensor format in lowercase (`linear`, `chw32` …).
//! * `hardware_compatibility` is `none`, `ampere-plus` or `same-compute-capability`.
//! * `sidecar_sha256` is the SHA-256 of the *canonical* form of the sidecar: the compact `serde_json` serialization of
//!   the same object with `sidecar_sha256` set to `""`. It makes any edit or bit rot in the sidecar itself detectable
//!   (a flipped digit in a shape would otherwise parse fine). Unknown fields are rejected; a newer format is a
//!   [`SidecarFormat`](crate::Error::SidecarFormat) error, never a guess.
//!
//! # Verification (before TensorRT reads a byte)
//! [`load_with`] reads and checks, in this order, and calls the deserializer only when everything passed:
//! 1. the sidecar exists, parses, has format version 1 and a matching `sidecar_sha256`;
//! 2. TensorRT version: the loaded `major.minor.patch` equals the built one, or — when built `version_compatible` —
//!    the majors are equal and the loaded release is not older;
//! 3. compute capability: one of `tensorrt.compute_capabilities` when listed (TensorRT for RTX); equal to the build
//!    GPU's (`none`, `same-compute-capability`), or the device is ≥ 8.0 (`ampere-plus`); a different GPU *name* with
//!    the same compute capability is only a warning (TensorRT allows it); an RTX engine without either is left to
//!    TensorRT-RTX's own validity check;
//! 4. plugins: every library of `plugin_libraries` must be loaded (by file name); when the engine lists plugins and
//!    was built without custom plugin libraries, the standard plugin library must be initialized;
//! 5. the engine file's length, then its SHA-256.
//!
//! Each failure is its own [`Error`] variant that says what to rebuild with.
//!
//! # Atomic writes
//! [`write_engine`] never leaves a *mismatched* pair behind, whatever moment the process dies at:
//! 1. write the engine and the sidecar to temporary files in the same directory, `fsync` both;
//! 2. remove the old sidecar (if any) and `fsync` the directory;
//! 3. rename the temporary engine over the engine, then the temporary sidecar over the sidecar; `fsync` the directory.
//!
//! A crash before 2 leaves the old pair; between 2 and the last rename it leaves an engine *without* a sidecar
//! ([`SidecarMissing`](crate::Error::SidecarMissing): "rebuild"); after it, the new pair. A reader racing a writer can at
//! worst see a missing sidecar or (reading the old sidecar, then the new engine) a checksum mismatch — never a
//! silently accepted wrong pair, because the sidecar carries the engine's digest.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::dtype::DataType;
use crate::error::{Error, Result};

/// The sidecar format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Value of the `format` field.
pub const FORMAT_TAG: &str = "trt-engine-sidecar";

/// The sidecar path for an engine path: the engine's file name plus `.json` (`a/model.engine` → `a/model.engine.json`).
pub fn sidecar_path(engine: &Path) -> PathBuf {
    let mut name = engine.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

// Sidecars store a TensorRT release in its canonical spelling (`"10.3.0"`, `"RTX 1.7.1"`) and refuse any other.
use trt_sys::version::Version;

/// A CUDA compute capability (serialized as the string `"8.7"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComputeCapability {
    /// Major (SM generation).
    pub major: u32,
    /// Minor.
    pub minor: u32,
}

impl ComputeCapability {
    /// A compute capability from its parts.
    pub const fn new(major: u32, minor: u32) -> Self {
        ComputeCapability { major, minor }
    }
}

impl fmt::Display for ComputeCapability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for ComputeCapability {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (a, b) = s
            .split_once('.')
            .ok_or_else(|| format!("compute capability `{s}` is not major.minor"))?;
        let num = |p: &str| -> std::result::Result<u32, String> {
            if p.is_empty()
                || !p.bytes().all(|b| b.is_ascii_digit())
                || (p.len() > 1 && p.starts_with('0'))
            {
                return Err(format!(
                    "compute capability `{s}` has a bad component `{p}`"
                ));
            }
            p.parse()
                .map_err(|_| format!("compute capability `{s}` has a bad component `{p}`"))
        };
        Ok(ComputeCapability {
            major: num(a)?,
            minor: num(b)?,
        })
    }
}

macro_rules! serde_via_string {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_via_string!(ComputeCapability);

/// TensorRT's hardware compatibility level of an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HardwareCompatibility {
    /// Runs only on GPUs of the compute capability it was built on.
    #[default]
    None,
    /// Runs on any Ampere or newer GPU (compute capability ≥ 8.0).
    AmperePlus,
    /// Runs on any GPU of the same compute capability (TensorRT ≥ 10).
    SameComputeCapability,
}

impl fmt::Display for HardwareCompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HardwareCompatibility::None => "none",
            HardwareCompatibility::AmperePlus => "ampere-plus",
            HardwareCompatibility::SameComputeCapability => "same-compute-capability",
        })
    }
}

/// Precision the engine was built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// FP32 everywhere.
    Fp32,
    /// FP16 (flag or ONNX cast pass).
    Fp16,
    /// INT8 (calibration or Q/DQ), possibly with FP16 fallback.
    Int8,
    /// FP8 Q/DQ.
    Fp8,
    /// Per-layer mix recorded in `pipeline`.
    Mixed,
}

/// Whether an IO tensor is read or written by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TensorMode {
    /// Engine input.
    Input,
    /// Engine output.
    Output,
}

/// TensorRT section of the sidecar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorRtInfo {
    /// TensorRT version the engine was built with.
    pub version: Version,
    /// Built with `kVERSION_COMPATIBLE` (runs on newer releases of the same major).
    pub version_compatible: bool,
    /// Hardware compatibility level.
    pub hardware_compatibility: HardwareCompatibility,
    /// Built with `kEXCLUDE_LEAN_RUNTIME` (the lean runtime must then be available at load time).
    pub exclude_lean_runtime: bool,
    /// TensorRT for RTX: the compute capabilities the engine was compiled for (`trt-build --compute-capability`);
    /// the engine runs on GPUs of these only. Empty for TensorRT, and for an RTX build with the library's default
    /// targets. Omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compute_capabilities: Vec<ComputeCapability>,
}

/// GPU section of the sidecar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuInfo {
    /// Device name the engine was built on (`"Tesla T4"`, `"Orin"`).
    pub name: String,
    /// Its compute capability.
    pub compute_capability: ComputeCapability,
}

/// One IO tensor as built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IoTensorInfo {
    /// Tensor name.
    pub name: String,
    /// Input or output.
    pub mode: TensorMode,
    /// Element type.
    pub dtype: DataType,
    /// Shape, `-1` for dynamic dimensions.
    pub shape: Vec<i64>,
    /// Tensor format, lowercase (`"linear"`, `"chw32"` …).
    pub format: String,
}

/// min/opt/max shapes of one input in an optimization profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileShapes {
    /// Input tensor name.
    pub name: String,
    /// Minimum shape.
    pub min: Vec<i64>,
    /// Optimal shape.
    pub opt: Vec<i64>,
    /// Maximum shape.
    pub max: Vec<i64>,
}

/// One optimization profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProfileInfo {
    /// Shapes of every dynamic input.
    pub inputs: Vec<ProfileShapes>,
}

/// Where the engine came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SourceInfo {
    /// ONNX file name (informational).
    pub onnx_file: Option<String>,
    /// SHA-256 of the source ONNX as given to the pipeline (lowercase hex).
    pub onnx_sha256: Option<String>,
}

/// Integrity of the engine file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EngineDigest {
    /// SHA-256 of the engine file (lowercase hex).
    pub sha256: String,
    /// Length of the engine file in bytes.
    pub bytes: u64,
}

/// The tool that wrote the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolInfo {
    /// Tool name (`"trt-build"`).
    pub name: String,
    /// Tool version.
    pub version: String,
}

/// Builder settings recorded for provenance: they change which kernels the engine holds, not where it can run, so
/// loading never checks them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BuildSettings {
    /// Built with `BuilderFlag::kSPARSE_WEIGHTS` (2:4 structured-sparsity kernels allowed where weights have the
    /// pattern). Omitted when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sparse_weights: bool,
    /// The tactic sources enabled for the build, as read back from the builder config, in TensorRT's names without
    /// the `k` (`"EDGE_MASK_CONVOLUTIONS"`); omitted when the release's defaults were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tactic_sources: Option<Vec<String>>,
}

impl BuildSettings {
    /// Nothing was set (the section is omitted).
    pub fn is_default(&self) -> bool {
        *self == BuildSettings::default()
    }
}

/// The engine sidecar (see the [module docs](self) for the format and the checks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    /// Always [`FORMAT_TAG`].
    pub format: String,
    /// Always [`FORMAT_VERSION`] for sidecars this crate writes.
    pub format_version: u32,
    /// TensorRT build facts.
    pub tensorrt: TensorRtInfo,
    /// GPU the engine was built on; `None` for a TensorRT for RTX engine built ahead of time without a GPU (its
    /// targets are `tensorrt.compute_capabilities`). Omitted when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuInfo>,
    /// Precision.
    pub precision: Precision,
    /// IO tensors.
    pub io: Vec<IoTensorInfo>,
    /// Optimization profiles.
    pub profiles: Vec<ProfileInfo>,
    /// Source ONNX.
    pub source: SourceInfo,
    /// ONNX passes that ran, in order (`"reparameterize"`, `"fp16"`, `"int8-qdq"` …).
    pub pipeline: Vec<String>,
    /// TensorRT plugins the engine needs (empty: none).
    pub plugins: Vec<String>,
    /// File names of the custom plugin libraries (`trt-build --plugins`) the engine was built with; they must be
    /// loaded ([`crate::Library::load_plugin_library`]) before the engine is deserialized. Omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugin_libraries: Vec<String>,
    /// Class names of the model's outputs, index = class id (from `trt-build --classes` or the ONNX metadata);
    /// omitted when unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_names: Vec<String>,
    /// Builder settings that shape the engine's kernels but not where it runs (`trt-build --sparsity`,
    /// `--tactic-sources`); omitted when none was set.
    #[serde(default, skip_serializing_if = "BuildSettings::is_default")]
    pub build_settings: BuildSettings,
    /// Engine length and checksum (filled by [`write_engine`] / [`Sidecar::set_engine`]).
    pub engine: EngineDigest,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Writer.
    pub tool: ToolInfo,
    /// SHA-256 of the canonical sidecar (filled by [`Sidecar::seal`]).
    pub sidecar_sha256: String,
}

impl Sidecar {
    /// A sidecar with the required facts; everything else empty, `created_at` = now, tool = this crate.
    pub fn new(
        tensorrt: TensorRtInfo,
        gpu: impl Into<Option<GpuInfo>>,
        precision: Precision,
    ) -> Self {
        Sidecar {
            format: FORMAT_TAG.to_owned(),
            format_version: FORMAT_VERSION,
            tensorrt,
            gpu: gpu.into(),
            precision,
            io: Vec::new(),
            profiles: Vec::new(),
            source: SourceInfo::default(),
            pipeline: Vec::new(),
            plugins: Vec::new(),
            plugin_libraries: Vec::new(),
            class_names: Vec::new(),
            build_settings: BuildSettings::default(),
            engine: EngineDigest::default(),
            created_at: now_rfc3339(),
            tool: ToolInfo {
                name: "trt".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            sidecar_sha256: String::new(),
        }
    }

    /// What the engine was built for, in words: the build GPU, or TensorRT-RTX's target compute capabilities
    /// ("compute capabilities 7.5, 8.6"), or its default set.
    pub fn built_for(&self) -> String {
        match (&self.gpu, self.tensorrt.compute_capabilities.as_slice()) {
            (Some(g), _) => format!("{} (compute capability {})", g.name, g.compute_capability),
            (None, []) => "TensorRT-RTX's default compute capabilities".to_owned(),
            (None, ccs) => format!(
                "compute capabilities {}",
                ccs.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Records the length and SHA-256 of `engine_bytes`.
    pub fn set_engine(&mut self, engine_bytes: &[u8]) {
        self.engine = EngineDigest {
            sha256: sha256_hex(engine_bytes),
            bytes: engine_bytes.len() as u64,
        };
    }

    fn canonical_digest(&self) -> String {
        let mut copy = self.clone();
        copy.sidecar_sha256.clear();
        // Serializing plain data (strings, integers, vectors) to a Vec cannot fail.
        let bytes = serde_json::to_vec(&copy).unwrap_or_default();
        sha256_hex(&bytes)
    }

    /// Computes `sidecar_sha256`; call after the last change and before writing.
    pub fn seal(&mut self) {
        self.sidecar_sha256 = self.canonical_digest();
    }

    /// Pretty JSON text of the sidecar as stored (seal it first).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Parses and checks a sidecar's text: format tag and version, unknown fields, and its own checksum.
    /// `path` only names the file in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<Sidecar> {
        let corrupt = |reason: String| Error::SidecarCorrupt {
            sidecar: path.to_owned(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| corrupt(format!("not valid JSON ({e})")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| corrupt("the top level is not a JSON object".into()))?;
        if obj.get("format").and_then(|v| v.as_str()) != Some(FORMAT_TAG) {
            return Err(corrupt(format!("`format` is not \"{FORMAT_TAG}\"")));
        }
        let version = obj
            .get("format_version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| corrupt("`format_version` is missing or not an integer".into()))?;
        if version != u64::from(FORMAT_VERSION) {
            return Err(Error::SidecarFormat {
                sidecar: path.to_owned(),
                found: u32::try_from(version).unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            });
        }
        let sidecar: Sidecar =
            serde_json::from_value(value).map_err(|e| corrupt(format!("{e}")))?;
        let expected = sidecar.canonical_digest();
        if sidecar.sidecar_sha256 != expected {
            return Err(corrupt(format!(
                "its checksum `sidecar_sha256` is {:?} but the content hashes to {expected} (edited or damaged file)",
                sidecar.sidecar_sha256
            )));
        }
        Ok(sidecar)
    }

    /// Checks that this engine can run here (TensorRT version, compute capability, plugins). `engine` names the file
    /// in errors.
    pub fn check_compatible(&self, engine: &Path, here: &RuntimeFacts) -> Result<()> {
        let built = self.tensorrt.version;
        let loaded = here.tensorrt;
        let version_ok = if self.tensorrt.version_compatible {
            loaded.product == built.product && loaded.major == built.major && loaded >= built
        } else {
            loaded == built
        };
        if !version_ok {
            return Err(Error::TensorRtVersion {
                engine: engine.to_owned(),
                built,
                loaded,
                version_compatible: self.tensorrt.version_compatible,
            });
        }
        let device = here
            .device
            .as_ref()
            .ok_or_else(|| Error::NoDeviceForEngine {
                engine: engine.to_owned(),
                reason: "the runtime facts list no device".into(),
            })?;
        let targets = &self.tensorrt.compute_capabilities;
        if !targets.is_empty() && !targets.contains(&device.compute_capability) {
            return Err(Error::ComputeCapabilityTargets {
                engine: engine.to_owned(),
                targets: targets.clone(),
                device: device.compute_capability,
                device_gpu: device.name.clone(),
            });
        }
        // A TensorRT-RTX engine built ahead of time records no build GPU: its targets (above) or, for the library's
        // default targets, IRuntime::getEngineValidity decide.
        let Some(gpu) = &self.gpu else {
            return self.check_plugins(engine, here);
        };
        let cc_ok = match self.tensorrt.hardware_compatibility {
            HardwareCompatibility::None | HardwareCompatibility::SameComputeCapability => {
                device.compute_capability == gpu.compute_capability
            }
            HardwareCompatibility::AmperePlus => {
                device.compute_capability >= ComputeCapability::new(8, 0)
            }
        };
        if !cc_ok {
            return Err(Error::ComputeCapability {
                engine: engine.to_owned(),
                built: gpu.compute_capability,
                built_gpu: gpu.name.clone(),
                device: device.compute_capability,
                device_gpu: device.name.clone(),
                hardware_compatibility: self.tensorrt.hardware_compatibility,
            });
        }
        if device.name != gpu.name
            && self.tensorrt.hardware_compatibility == HardwareCompatibility::None
        {
            tracing::warn!(
                target: "trt",
                "engine {} was built on {} and runs on {} (same compute capability {}); TensorRT allows this but \
                 tactics were tuned for the other GPU — rebuild on this GPU for best performance",
                engine.display(),
                gpu.name,
                device.name,
                device.compute_capability
            );
        }
        self.check_plugins(engine, here)
    }

    /// The plugin part of [`Sidecar::check_compatible`].
    fn check_plugins(&self, engine: &Path, here: &RuntimeFacts) -> Result<()> {
        let missing: Vec<String> = self
            .plugin_libraries
            .iter()
            .filter(|l| !here.plugin_libraries.contains(l))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(Error::PluginLibrariesNotLoaded {
                engine: engine.to_owned(),
                libraries: missing,
            });
        }
        // Plugins of an engine built with custom plugin libraries may all come from them.
        if !self.plugins.is_empty() && !here.plugins_initialized && self.plugin_libraries.is_empty()
        {
            return Err(Error::PluginsNotInitialized {
                engine: engine.to_owned(),
                plugins: self.plugins.clone(),
            });
        }
        Ok(())
    }

    /// Checks the engine bytes against the recorded length and SHA-256.
    pub fn check_engine_bytes(&self, engine: &Path, bytes: &[u8]) -> Result<()> {
        if bytes.len() as u64 != self.engine.bytes {
            return Err(Error::EngineLength {
                engine: engine.to_owned(),
                expected: self.engine.bytes,
                actual: bytes.len() as u64,
            });
        }
        let actual = sha256_hex(bytes);
        if actual != self.engine.sha256 {
            return Err(Error::EngineChecksum {
                engine: engine.to_owned(),
                expected: self.engine.sha256.clone(),
                actual,
            });
        }
        Ok(())
    }
}

/// Facts about the process an engine is loaded into, checked against the sidecar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeFacts {
    /// Loaded TensorRT version.
    pub tensorrt: Version,
    /// The device the engine will run on (`None`: no usable device).
    pub device: Option<DeviceFacts>,
    /// Whether `initLibNvInferPlugins` has run.
    pub plugins_initialized: bool,
    /// File names of the custom plugin libraries loaded in this process.
    pub plugin_libraries: Vec<String>,
}

/// The device part of [`RuntimeFacts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFacts {
    /// Device name.
    pub name: String,
    /// Compute capability.
    pub compute_capability: ComputeCapability,
}

/// An engine whose bytes were verified against its sidecar.
#[derive(Debug, Clone)]
pub struct VerifiedEngine {
    /// The engine file.
    pub path: PathBuf,
    /// Its sidecar.
    pub sidecar: Sidecar,
    /// The engine bytes (length and checksum verified).
    pub bytes: Vec<u8>,
}

/// Reads and checks the sidecar of `engine` (missing, corrupt, format version, self checksum).
pub fn read_sidecar(engine: &Path) -> Result<Sidecar> {
    let path = sidecar_path(engine);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::SidecarMissing {
                engine: engine.to_owned(),
                sidecar: path,
            })
        }
        Err(e) => return Err(Error::io("reading", path, e)),
    };
    let text = String::from_utf8(bytes).map_err(|e| Error::SidecarCorrupt {
        sidecar: path.clone(),
        reason: format!("not UTF-8 ({e})"),
    })?;
    Sidecar::from_json(&text, &path)
}

/// Verifies `engine` against its sidecar and `here`, and returns the verified bytes. TensorRT is not involved.
pub fn load_verified(engine: &Path, here: &RuntimeFacts) -> Result<VerifiedEngine> {
    let sidecar = read_sidecar(engine)?;
    sidecar.check_compatible(engine, here)?;
    let len = fs::metadata(engine)
        .map_err(|e| Error::io("reading", engine, e))?
        .len();
    if len != sidecar.engine.bytes {
        return Err(Error::EngineLength {
            engine: engine.to_owned(),
            expected: sidecar.engine.bytes,
            actual: len,
        });
    }
    let bytes = fs::read(engine).map_err(|e| Error::io("reading", engine, e))?;
    sidecar.check_engine_bytes(engine, &bytes)?;
    Ok(VerifiedEngine {
        path: engine.to_owned(),
        sidecar,
        bytes,
    })
}

/// Verifies `engine` (see [`load_verified`]) and only then hands the bytes to `deserialize` (TensorRT in production,
/// a mock in tests). `deserialize` is never called when any check fails.
pub fn load_with<T>(
    engine: &Path,
    here: &RuntimeFacts,
    deserialize: impl FnOnce(&VerifiedEngine) -> Result<T>,
) -> Result<T> {
    let verified = load_verified(engine, here)?;
    deserialize(&verified)
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn tmp_path(target: &Path, what: &str) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = target.as_os_str().to_owned();
    // `<engine>.tmp.<pid>.<n>.<what>` matches the repository's `*.engine.tmp*` ignore rule.
    name.push(format!(".tmp.{}.{n}.{what}", std::process::id()));
    PathBuf::from(name)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path).map_err(|e| Error::io("creating", path, e))?;
    f.write_all(bytes)
        .map_err(|e| Error::io("writing", path, e))?;
    f.sync_all().map_err(|e| Error::io("syncing", path, e))
}

fn sync_dir(dir: &Path) -> Result<()> {
    // Directory fsync makes the renames durable; not supported on every platform/file system, so best effort.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: a synced temporary file in the same directory, renamed over `path` (a
/// reader sees the old file or the new one, never a part).
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let tmp = tmp_path(path, "part");
    if let Err(e) = write_synced(&tmp, bytes) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io("renaming the new file to", path, e));
    }
    sync_dir(&dir)
}

/// Writes `engine_bytes` to `engine` and the sidecar next to it, atomically as a pair (see the module docs).
/// Fills `sidecar.engine` from the bytes and seals the sidecar.
pub fn write_engine(engine: &Path, engine_bytes: &[u8], sidecar: &mut Sidecar) -> Result<()> {
    sidecar.set_engine(engine_bytes);
    sidecar.seal();
    let side = sidecar_path(engine);
    let dir = match engine.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let tmp_engine = tmp_path(engine, "engine");
    let tmp_side = tmp_path(engine, "json");
    let cleanup = |r: Result<()>| {
        if r.is_err() {
            let _ = fs::remove_file(&tmp_engine);
            let _ = fs::remove_file(&tmp_side);
        }
        r
    };
    cleanup(write_synced(&tmp_engine, engine_bytes))?;
    cleanup(write_synced(&tmp_side, sidecar.to_json().as_bytes()))?;
    match fs::remove_file(&side) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return cleanup(Err(Error::io("removing the old sidecar", &side, e))),
    }
    sync_dir(&dir)?;
    cleanup(
        fs::rename(&tmp_engine, engine)
            .map_err(|e| Error::io("renaming the new engine to", engine, e)),
    )?;
    cleanup(
        fs::rename(&tmp_side, &side)
            .map_err(|e| Error::io("renaming the new sidecar to", &side, e)),
    )?;
    sync_dir(&dir)
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The current time as RFC 3339 UTC (`2026-11-23T00:41:53Z`).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339_from_unix(secs)
}

fn rfc3339_from_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_from_unix(1_795_394_513), "2026-11-23T00:41:53Z");
    }

    #[test]
    fn compute_capabilities_parse_strictly() {
        assert_eq!(
            "8.7".parse::<ComputeCapability>().unwrap(),
            ComputeCapability::new(8, 7)
        );
        for bad in ["8", "8.", ".7", "8.7.1", "08.7"] {
            assert!(bad.parse::<ComputeCapability>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sidecar_path_appends_json() {
        assert_eq!(
            sidecar_path(Path::new("a/model.engine")),
            PathBuf::from("a/model.engine.json")
        );
        assert_eq!(sidecar_path(Path::new("plan")), PathBuf::from("plan.json"));
    }

    #[test]
    fn build_settings_are_omitted_when_default_and_round_trip_when_set() {
        let mut sc = Sidecar::new(
            TensorRtInfo {
                version: Version::new(10, 3, 0),
                version_compatible: false,
                hardware_compatibility: HardwareCompatibility::None,
                exclude_lean_runtime: false,
                compute_capabilities: Vec::new(),
            },
            None,
            Precision::Fp16,
        );
        sc.seal();
        let text = sc.to_json();
        assert!(!text.contains("build_settings"), "{text}");
        assert_eq!(Sidecar::from_json(&text, Path::new("x.json")).unwrap(), sc);

        sc.build_settings = BuildSettings {
            sparse_weights: true,
            tactic_sources: Some(vec!["JIT_CONVOLUTIONS".into()]),
        };
        sc.seal();
        let text = sc.to_json();
        assert!(
            text.contains("\"sparse_weights\": true") && text.contains("\"JIT_CONVOLUTIONS\""),
            "{text}"
        );
        assert_eq!(Sidecar::from_json(&text, Path::new("x.json")).unwrap(), sc);
        // An empty set of sources is a choice (all disabled), not the defaults: it is kept.
        sc.build_settings = BuildSettings {
            sparse_weights: false,
            tactic_sources: Some(Vec::new()),
        };
        sc.seal();
        let text = sc.to_json();
        assert!(text.contains("\"tactic_sources\": []"), "{text}");
        assert!(!text.contains("sparse_weights"), "{text}");
    }

    #[test]
    fn sha256_of_abc() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
