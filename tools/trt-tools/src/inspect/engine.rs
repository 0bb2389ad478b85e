//! `trt-inspect ENGINE`: the sidecar, compatibility with this machine, and (with TensorRT) IO, profiles, layers.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use trt::sidecar::{self, ComputeCapability, DeviceFacts, RuntimeFacts, Sidecar};

use crate::common::{exit, plugins::PluginArgs};
use trt::system::{self, SystemReport};

/// Compatibility of an engine with this machine.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Compatibility {
    /// `compatible`, `incompatible` or `unknown` (nothing to compare against: no TensorRT / GPU here).
    pub status: &'static str,
    /// Why, and what to rebuild with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Serialize)]
struct EngineReport<'a> {
    kind: &'static str,
    path: String,
    bytes: u64,
    sidecar: Option<&'a Sidecar>,
    sidecar_error: Option<String>,
    checksum: &'static str,
    /// Ultralytics' metadata in front of an engine without a sidecar.
    #[serde(skip_serializing_if = "Option::is_none")]
    embedded_metadata: Option<&'a trt::foreign::EmbeddedMetadata>,
    /// TensorRT for RTX's header check (`getEngineValidity`), when TensorRT-RTX is loaded here.
    #[serde(skip_serializing_if = "Option::is_none")]
    validity: Option<ValidityReport>,
    compatibility: Compatibility,
}

/// `IRuntime::getEngineValidity` in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ValidityReport {
    /// `valid`, `suboptimal`, `invalid`, or `well-formed` (the header passed; no GPU here to judge the rest).
    pub verdict: &'static str,
    /// The raw `EngineInvalidityDiagnostics` bits.
    pub diagnostics: u64,
    /// Their short names (`malformed-engine` …).
    pub codes: Vec<String>,
    /// Each in words, with what to do.
    pub reasons: Vec<String>,
    /// Why TensorRT-RTX could not judge this system (`well-formed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Runs TensorRT for RTX's header check on `bytes` when the loaded TensorRT is TensorRT-RTX (no GPU needed).
fn rtx_validity(
    report: &SystemReport,
    bytes: &[u8],
    sc: Option<&Sidecar>,
) -> Result<Option<ValidityReport>> {
    if !report.loaded_version.is_some_and(|v| v.is_rtx()) || report.compiled_tensorrt.is_none() {
        return Ok(None);
    }
    let lib = trt::Library::load_with(trt::LoadOptions {
        build_only: true,
        ..Default::default()
    })?;
    let Some(mut v) = lib.engine_validity(bytes)? else {
        return Ok(None);
    };
    if let Some(s) = sc.filter(|s| !s.tensorrt.compute_capabilities.is_empty()) {
        v = v.with_built_for(s.built_for());
    }
    let cc = lib
        .device()
        .ok()
        .map(|d| d.compute_capability().to_string());
    Ok(Some(ValidityReport {
        verdict: v.verdict_name(),
        diagnostics: v.diagnostics,
        codes: v.codes(),
        reasons: v.reasons(cc.as_deref()),
        note: v.note.clone(),
    }))
}

/// The facts of this machine that an engine is checked against, when TensorRT and a GPU are here.
pub fn runtime_facts(report: &SystemReport, plugins: &PluginArgs) -> Option<RuntimeFacts> {
    let v = report.loaded_version?;
    let device = report.cuda.gpus.first().and_then(|g| {
        let cc: ComputeCapability = g.compute_capability.parse().ok()?;
        Some(DeviceFacts {
            name: g.name.clone(),
            compute_capability: cc,
        })
    });
    Some(RuntimeFacts {
        tensorrt: v,
        device,
        plugins_initialized: report.plugins.found,
        // The libraries `--plugins` will load, by the name the loader records.
        plugin_libraries: plugins
            .plugins
            .iter()
            .filter_map(|p| trt::plugins::recorded_name(p))
            .collect(),
    })
}

/// Checks a sidecar against this machine.
pub fn compatibility(
    engine: &Path,
    sc: &Sidecar,
    report: &SystemReport,
    plugins: &PluginArgs,
) -> Compatibility {
    match runtime_facts(report, plugins) {
        None => Compatibility {
            status: "unknown",
            reason: Some("no TensorRT runtime is loaded here (see `trt-inspect system`)".into()),
        },
        // Without a device the check stops at the device (after the version): only a version mismatch is known.
        Some(facts) if facts.device.is_none() => match sc.check_compatible(engine, &facts) {
            Err(e) if !matches!(e, trt::Error::NoDeviceForEngine { .. }) => Compatibility {
                status: "incompatible",
                reason: Some(e.to_string()),
            },
            _ => Compatibility {
                status: "unknown",
                reason: Some(format!(
                    "TensorRT {} matches, but no usable GPU to compare {} against",
                    facts.tensorrt,
                    sc.built_for()
                )),
            },
        },
        Some(facts) => match sc.check_compatible(engine, &facts) {
            Ok(()) => Compatibility {
                status: "compatible",
                reason: None,
            },
            Err(e) => Compatibility {
                status: "incompatible",
                reason: Some(e.to_string()),
            },
        },
    }
}

/// What of an engine needs TensorRT itself (a deserialized engine, so a GPU that runs it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Views<'a> {
    /// `--layers`: print the layer table.
    pub layers: bool,
    /// `--export-layer-info FILE`: write TensorRT's engine inspector JSON to FILE.
    pub export_layer_info: Option<&'a Path>,
}

/// Inspects an engine file. `no_sidecar`: an engine without a sidecar is read by TensorRT too (IO, profiles,
/// layers), without provenance checks.
pub fn inspect(
    path: &Path,
    views: Views<'_>,
    json: bool,
    plugins: &PluginArgs,
    no_sidecar: bool,
) -> Result<u8> {
    plugins.check()?;
    if let Some(f) = views.export_layer_info {
        crate::common::fs::check_writable("--export-layer-info", f)?;
    }
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let (sc, sidecar_error) = match sidecar::read_sidecar(path) {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e.to_string())),
    };
    // An engine from another tool: Ultralytics' metadata in front of it is reported and is not part of the engine.
    let metadata = match &sc {
        None => trt::foreign::split_ultralytics(&bytes),
        Some(_) => None,
    };
    let engine_bytes = &bytes[metadata.as_ref().map_or(0, |m| m.bytes)..];
    let foreign = sc.is_none() && no_sidecar;
    let checksum = match &sc {
        Some(s) => match s.check_engine_bytes(path, &bytes) {
            Ok(()) => "ok",
            Err(_) => "mismatch",
        },
        None => "unchecked",
    };
    let report = system::probe();
    // NVIDIA's check is extra information: when it cannot run here (no libcudart, say), the sidecar report stands.
    let validity = rtx_validity(&report, engine_bytes, sc.as_ref()).unwrap_or_else(|e| {
        tracing::warn!("TensorRT-RTX's validity check could not run: {e:#}");
        None
    });
    let compat = match &sc {
        Some(s) if checksum == "ok" => compatibility(path, s, &report, plugins),
        Some(s) => Compatibility {
            status: "incompatible",
            reason: Some(
                s.check_engine_bytes(path, &bytes).err().map(|e| e.to_string()).unwrap_or_default(),
            ),
        },
        None if foreign => Compatibility {
            status: "unknown",
            reason: Some("no sidecar: read without provenance checks (--no-sidecar)".into()),
        },
        None => Compatibility {
            status: "unknown",
            reason: Some(
                "no valid sidecar: the engine's provenance cannot be checked; rebuild it with trt-build, or read an \
                 engine from another tool with --no-sidecar"
                    .into(),
            ),
        },
    };
    // TensorRT-RTX's own verdict overrides a sidecar that looked fine (it reads the engine, not our record of it).
    let compat = match &validity {
        Some(v) if v.verdict == "invalid" => Compatibility {
            status: "incompatible",
            reason: Some(format!(
                "TensorRT-RTX's validity check: {}",
                v.reasons.join("; ")
            )),
        },
        _ => compat,
    };
    if json {
        crate::common::output::print_json(
            "trt-inspect-engine/1",
            &EngineReport {
                kind: "engine",
                path: path.display().to_string(),
                bytes: bytes.len() as u64,
                sidecar: sc.as_ref(),
                sidecar_error: sidecar_error.clone(),
                checksum,
                embedded_metadata: metadata.as_ref(),
                validity: validity.clone(),
                compatibility: compat.clone(),
            },
        )?;
    } else {
        crate::outln!("Engine {} ({} bytes)", path.display(), bytes.len())?;
        match &sc {
            Some(s) => print_sidecar(s)?,
            None => crate::outln!(
                "  sidecar   {}",
                sidecar_error.as_deref().unwrap_or("missing")
            )?,
        }
        crate::outln!("  checksum  {checksum}")?;
        if let Some(m) = &metadata {
            print_embedded(m)?;
        }
        if let Some(v) = &validity {
            let detail = match (v.codes.is_empty(), &v.note) {
                (false, _) => format!(": {}", v.codes.join(", ")),
                (true, Some(_)) if v.verdict == "well-formed" => {
                    "; this machine could not be judged: no usable GPU".to_owned()
                }
                _ => String::new(),
            };
            crate::outln!(
                "  validity  {} (TensorRT-RTX header check{detail})",
                v.verdict
            )?;
        }
        crate::outln!(
            "  here      {}{}",
            compat.status,
            compat
                .reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )?;
    }
    let invalid = validity.as_ref().is_some_and(|v| v.verdict == "invalid");
    if report.can_run && (compat.status == "compatible" || (foreign && !invalid)) {
        if foreign {
            crate::common::engine::warn_unchecked(path);
        }
        tensorrt_view(path, views, json, plugins, foreign)?;
    } else if views.layers || views.export_layer_info.is_some() {
        let option = if views.layers {
            "--layers"
        } else {
            "--export-layer-info"
        };
        let why = match (report.can_run, compat.reason.as_deref()) {
            (false, _) => report.run_blockers.join("; "),
            (true, Some(r)) => r.to_owned(),
            (true, None) => "not compatible".to_owned(),
        };
        return Err(exit::missing(format!(
            "{option} needs TensorRT and a GPU that can run this engine here ({why}); `trt-inspect system` says what is \
             missing"
        )));
    } else if !json {
        crate::outln!("  (IO tensors, profiles and layers from TensorRT need an engine-compatible TensorRT and GPU here)")?;
    }
    Ok(match (sidecar_error, compat.status) {
        _ if invalid => exit::FAILURE,
        (Some(_), _) if !foreign => exit::FAILURE,
        (None, "incompatible") => exit::FAILURE,
        _ => exit::OK,
    })
}

/// Ultralytics' metadata, one line.
fn print_embedded(m: &trt::foreign::EmbeddedMetadata) -> std::io::Result<()> {
    let mut parts = vec![format!("{} bytes of metadata", m.bytes)];
    if let Some(v) = &m.version {
        parts.push(format!("Ultralytics {v}"));
    }
    if let Some(t) = &m.task {
        parts.push(format!("task {t}"));
    }
    if let Some([h, w]) = m.imgsz {
        parts.push(format!("imgsz {h}x{w}"));
    }
    if let Some(b) = m.batch {
        parts.push(format!("batch {b}"));
    }
    if m.end2end == Some(true) {
        parts.push("end-to-end (NMS inside)".into());
    }
    crate::outln!("  ultralytics  {}", parts.join(", "))?;
    if !m.names.is_empty() {
        crate::outln!("  classes   {}", names_summary(&m.names))?;
    } else if let Some(e) = &m.names_error {
        crate::outln!("  classes   unusable `names` entry: {e}")?;
    }
    Ok(())
}

/// `80 (person, bicycle, … 72 more)`.
fn names_summary(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
    let more = names.len().saturating_sub(shown.len());
    format!(
        "{} ({}{})",
        names.len(),
        shown.join(", "),
        if more > 0 {
            format!(", … {more} more")
        } else {
            String::new()
        }
    )
}

fn print_sidecar(s: &Sidecar) -> std::io::Result<()> {
    crate::outln!(
        "  built     TensorRT {} for {}, {:?}, {}",
        s.tensorrt.version,
        s.built_for(),
        s.precision,
        s.created_at
    )?;
    if s.tensorrt.version_compatible || s.tensorrt.hardware_compatibility != Default::default() {
        crate::outln!(
            "  compat    version-compatible: {}, hardware: {}",
            s.tensorrt.version_compatible,
            s.tensorrt.hardware_compatibility
        )?;
    }
    for t in &s.io {
        crate::outln!(
            "  {:<8}  {} {} [{}] {}",
            format!("{:?}", t.mode).to_lowercase(),
            t.name,
            t.dtype,
            crate::shapes::dims_to_string(&t.shape),
            t.format
        )?;
    }
    for (i, p) in s.profiles.iter().enumerate() {
        for r in &p.inputs {
            let d = crate::shapes::dims_to_string;
            crate::outln!(
                "  profile {i} {}: min {} opt {} max {}",
                r.name,
                d(&r.min),
                d(&r.opt),
                d(&r.max)
            )?;
        }
    }
    if let Some(f) = &s.source.onnx_file {
        crate::outln!(
            "  source    {f} (sha256 {})",
            s.source.onnx_sha256.as_deref().unwrap_or("?")
        )?;
    }
    crate::outln!(
        "  pipeline  {}",
        if s.pipeline.is_empty() {
            "(none)".into()
        } else {
            s.pipeline.join(" -> ")
        }
    )?;
    if !s.plugins.is_empty() {
        crate::outln!("  plugins   {}", s.plugins.join(", "))?;
    }
    if !s.plugin_libraries.is_empty() {
        crate::outln!(
            "  plugin libraries  {} (load with --plugins)",
            s.plugin_libraries.join(", ")
        )?;
    }
    if !s.class_names.is_empty() {
        crate::outln!("  classes   {}", names_summary(&s.class_names))?;
    }
    Ok(())
}

/// IO tensors, profiles and (with `layers`) the layer table, from TensorRT itself. With `json`, goes to stderr as
/// text is not wanted on stdout: the JSON report already holds the sidecar's IO description.
fn tensorrt_view(
    path: &Path,
    views: Views<'_>,
    json: bool,
    plugins: &PluginArgs,
    foreign: bool,
) -> Result<()> {
    let lib = trt::Library::load_with(trt::LoadOptions {
        init_plugins: true,
        ..Default::default()
    })
    .or_else(|_| trt::Library::load())?;
    plugins.load(&lib)?;
    let runtime = lib.runtime()?;
    let engine = if foreign {
        runtime.load_engine_without_sidecar(path)?
    } else {
        runtime.load_engine(path)?
    };
    let mut out = String::new();
    for t in engine.io_tensors() {
        out.push_str(&format!(
            "  tensorrt  {:?} {} {} [{}] {:?}\n",
            t.mode,
            t.name,
            t.dtype,
            crate::shapes::dims_to_string(&t.shape),
            t.format
        ));
        for (i, p) in t.profiles.iter().enumerate() {
            let d = crate::shapes::dims_to_string;
            out.push_str(&format!(
                "            profile {i}: min {} opt {} max {}\n",
                d(&p.min),
                d(&p.opt),
                d(&p.max)
            ));
        }
    }
    out.push_str(&format!(
        "  tensorrt  {} profile(s), {} bytes of device memory\n",
        engine.num_profiles(),
        engine.device_memory_size()
    ));
    if views.layers || views.export_layer_info.is_some() {
        let info = engine.layer_info_json()?;
        if views.layers {
            out.push_str(&info);
            out.push('\n');
        }
        if let Some(f) = views.export_layer_info {
            let value: serde_json::Value = serde_json::from_str(&info)
                .map_err(|e| anyhow::anyhow!("TensorRT's layer information is not JSON: {e}"))?;
            let mut text = serde_json::to_string_pretty(&value)?;
            text.push('\n');
            crate::common::fs::atomic_write(f, text.as_bytes()).map_err(|e| {
                anyhow::anyhow!("--export-layer-info {}: cannot write: {e}", f.display())
            })?;
            out.push_str(&format!("  layer info written to {}\n", f.display()));
        }
    }
    if json {
        eprint!("{out}");
    } else {
        crate::common::output::print_out(&out)?;
    }
    Ok(())
}
