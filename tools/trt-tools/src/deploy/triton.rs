//! NVIDIA Triton Inference Server: a model repository entry for an engine.
//!
//! `DIR/NAME/config.pbtxt` (a `ModelConfig` in protobuf text format, `platform: "tensorrt_plan"`),
//! `DIR/NAME/labels.txt` (class names, one per line, named by the detection output's `label_filename`) and
//! `DIR/NAME/VERSION/model.plan` — the plan byte for byte, with our sidecar beside it (Triton ignores the extra file;
//! our tools verify the plan with it).
//!
//! The batch dimension follows Triton's convention: when every input and output has a dynamic first dimension and the
//! engine's default profile (profile 0, the one Triton uses) accepts batch 1, `max_batch_size` is that profile's
//! largest batch, `dims` leave the batch out and `dynamic_batching` is on; otherwise `max_batch_size: 0` and `dims`
//! are the full shapes (`-1` for a dynamic dimension).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use trt::sidecar::{Sidecar, TensorMode};
use trt::DataType;

/// What to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TritonOptions {
    /// Model name (the directory under the repository, and `name:` in the config).
    pub name: String,
    /// Version directory (Triton's integer version, ≥ 1).
    pub version: u64,
    /// `optimization { cuda { graphs: true } }`.
    pub cuda_graphs: bool,
}

/// Triton's `TYPE_*` name for an engine data type, or why it has none.
pub fn triton_type(dtype: DataType) -> Result<&'static str> {
    Ok(match dtype {
        DataType::F32 => "TYPE_FP32",
        DataType::F16 => "TYPE_FP16",
        DataType::Bf16 => "TYPE_BF16",
        DataType::I8 => "TYPE_INT8",
        DataType::I32 => "TYPE_INT32",
        DataType::I64 => "TYPE_INT64",
        DataType::U8 => "TYPE_UINT8",
        DataType::Bool => "TYPE_BOOL",
        other => bail!(
            "Triton's model configuration has no data type for {other:?} engine IO; build with float, half or \
             integer IO tensors"
        ),
    })
}

/// A model name Triton accepts as a repository directory.
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\\', '\0'])
        || name.chars().any(char::is_whitespace)
    {
        bail!(
            "--triton-name `{name}`: a Triton model name is one directory name (no '/', no spaces, not '.' or '..')"
        );
    }
    Ok(())
}

/// The batch Triton sees: `Some(max)` when the first dimension of every IO tensor is dynamic and profile 0 serves
/// batch 1 up to `max`; `None` when the engine takes full shapes.
fn batching(sidecar: &Sidecar) -> Result<Option<i64>> {
    let all_dynamic = !sidecar.io.is_empty()
        && sidecar
            .io
            .iter()
            .all(|t| t.shape.first().is_some_and(|&d| d < 0));
    if !all_dynamic {
        return Ok(None);
    }
    let Some(profile) = sidecar.profiles.first() else {
        return Ok(None);
    };
    let mut max = i64::MAX;
    for input in &profile.inputs {
        let (lo, hi) = (
            input.min.first().copied().unwrap_or(1),
            input.max.first().copied().unwrap_or(1),
        );
        if lo > 1 {
            bail!(
                "input `{}` has a dynamic batch of {lo} to {hi} in profile 0: Triton batches requests from 1 up to \
                 max_batch_size; rebuild with --min-shapes {}:1x… so that batch 1 is served",
                input.name,
                input.name
            );
        }
        max = max.min(hi);
    }
    Ok((max != i64::MAX && max >= 1).then_some(max))
}

fn dims(shape: &[i64]) -> String {
    shape
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `config.pbtxt` text for an engine described by `sidecar`.
pub fn config_pbtxt(sidecar: &Sidecar, options: &TritonOptions) -> Result<String> {
    render(sidecar, options).map(|(text, _)| text)
}

/// [`config_pbtxt`] and the `max_batch_size` it states.
fn render(sidecar: &Sidecar, options: &TritonOptions) -> Result<(String, i64)> {
    check_name(&options.name)?;
    let batch = batching(sidecar)?;
    let mut s = String::new();
    let _ = writeln!(s, "name: \"{}\"", escape(&options.name));
    let _ = writeln!(s, "platform: \"tensorrt_plan\"");
    let _ = writeln!(s, "max_batch_size: {}", batch.unwrap_or(0));
    let detection_output = sidecar
        .io
        .iter()
        .find(|t| t.mode == TensorMode::Output)
        .map(|t| t.name.clone());
    for (mode, key) in [(TensorMode::Input, "input"), (TensorMode::Output, "output")] {
        let tensors: Vec<_> = sidecar.io.iter().filter(|t| t.mode == mode).collect();
        if tensors.is_empty() {
            continue;
        }
        let _ = writeln!(s, "{key} [");
        for (i, t) in tensors.iter().enumerate() {
            let shape = if batch.is_some() {
                &t.shape[1..]
            } else {
                &t.shape[..]
            };
            let _ = writeln!(s, "  {{");
            let _ = writeln!(s, "    name: \"{}\"", escape(&t.name));
            let _ = writeln!(
                s,
                "    data_type: {}",
                triton_type(t.dtype).with_context(|| format!("{} `{}`", key, t.name))?
            );
            if shape.is_empty() {
                // A per-item scalar: Triton wants [1] with reshape to [] (its documented idiom).
                let _ = writeln!(s, "    dims: [ 1 ]");
                let _ = writeln!(s, "    reshape: {{ shape: [ ] }}");
            } else {
                let _ = writeln!(s, "    dims: [ {} ]", dims(shape));
            }
            if mode == TensorMode::Output
                && !sidecar.class_names.is_empty()
                && detection_output.as_deref() == Some(t.name.as_str())
            {
                let _ = writeln!(s, "    label_filename: \"labels.txt\"");
            }
            let _ = writeln!(s, "  }}{}", if i + 1 < tensors.len() { "," } else { "" });
        }
        let _ = writeln!(s, "]");
    }
    let _ = writeln!(s, "instance_group [");
    let _ = writeln!(s, "  {{");
    let _ = writeln!(s, "    count: 1");
    let _ = writeln!(s, "    kind: KIND_GPU");
    let _ = writeln!(s, "  }}");
    let _ = writeln!(s, "]");
    if batch.is_some() {
        let _ = writeln!(s, "dynamic_batching {{ }}");
    }
    if options.cuda_graphs {
        let _ = writeln!(s, "optimization {{ cuda {{ graphs: true }} }}");
    }
    let _ = writeln!(s, "default_model_filename: \"model.plan\"");
    Ok((s, batch.unwrap_or(0)))
}

/// Protobuf text-format string escaping (quotes, backslashes, control characters).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// What [`write_repository()`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct TritonRepository {
    /// `DIR/NAME`.
    pub model_dir: PathBuf,
    /// `DIR/NAME/config.pbtxt`.
    pub config: PathBuf,
    /// `DIR/NAME/VERSION/model.plan`.
    pub plan: PathBuf,
    /// `DIR/NAME/labels.txt`, when the engine has class names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<PathBuf>,
    /// `max_batch_size` written (0: full shapes).
    pub max_batch_size: i64,
}

/// Writes the repository entry: everything is computed first, then each file is written atomically (the plan with
/// its sidecar as a pair, then the labels, then the config, so that Triton never sees a config without its plan).
pub fn write_repository(
    repo: &Path,
    options: &TritonOptions,
    plan: &[u8],
    sidecar: &Sidecar,
) -> Result<TritonRepository> {
    if options.version == 0 {
        bail!("--triton-version 0: Triton model versions start at 1");
    }
    let (config, max_batch_size) = render(sidecar, options)?;
    let model_dir = repo.join(&options.name);
    let version_dir = model_dir.join(options.version.to_string());
    std::fs::create_dir_all(&version_dir)
        .with_context(|| format!("--triton-repo: cannot create {}", version_dir.display()))?;
    let plan_path = version_dir.join("model.plan");
    let mut plan_sidecar = sidecar.clone();
    trt::sidecar::write_engine(&plan_path, plan, &mut plan_sidecar)
        .with_context(|| format!("--triton-repo: writing {}", plan_path.display()))?;
    let labels = if sidecar.class_names.is_empty() {
        None
    } else {
        let p = model_dir.join("labels.txt");
        let mut text = sidecar.class_names.join("\n");
        text.push('\n');
        crate::common::fs::atomic_write(&p, text.as_bytes())
            .with_context(|| format!("--triton-repo: writing {}", p.display()))?;
        Some(p)
    };
    let config_path = model_dir.join("config.pbtxt");
    crate::common::fs::atomic_write(&config_path, config.as_bytes())
        .with_context(|| format!("--triton-repo: writing {}", config_path.display()))?;
    Ok(TritonRepository {
        model_dir,
        config: config_path,
        plan: plan_path,
        labels,
        max_batch_size,
    })
}
