//! `trt-inspect MODEL.onnx`: IO, opset, operator histogram, lint.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::common::exit;
use crate::pipeline::{self, ModelSummary};

/// Whether `path` should be inspected as ONNX: `.onnx` extension, or (no sidecar and no engine extension) bytes
/// that start like an ONNX protobuf (field 1 `ir_version` varint).
pub fn looks_like_onnx(path: &Path) -> Result<bool> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ext == "onnx" {
        return Ok(true);
    }
    if matches!(ext.as_str(), "engine" | "plan" | "trt")
        || trt::sidecar::sidecar_path(path).exists()
    {
        return Ok(false);
    }
    let mut head = [0u8; 1];
    let mut f =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let n = f
        .read(&mut head)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(n == 1 && head[0] == 0x08)
}

#[derive(Serialize)]
struct OnnxReport<'a> {
    kind: &'static str,
    path: String,
    sha256: &'a str,
    #[serde(flatten)]
    summary: &'a ModelSummary,
    lint: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    nodes_list: Option<Vec<NodeRow>>,
}

#[derive(Serialize)]
struct NodeRow {
    name: String,
    op: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
}

/// Inspects an ONNX model.
pub fn inspect(path: &Path, layers: bool, json: bool) -> Result<u8> {
    let loaded = pipeline::load(path)?;
    let summary = pipeline::summarize(&loaded.model);
    let lint = pipeline::lint_warnings(&loaded.model);
    let nodes_list = layers.then(|| {
        loaded
            .model
            .graph()
            .nodes()
            .iter()
            .map(|n| NodeRow {
                name: n.name.clone(),
                op: n.op_type.clone(),
                inputs: n.input.clone(),
                outputs: n.output.clone(),
            })
            .collect::<Vec<_>>()
    });
    if json {
        crate::common::output::print_json(
            "trt-inspect-onnx/1",
            &OnnxReport {
                kind: "onnx",
                path: path.display().to_string(),
                sha256: &loaded.sha256,
                summary: &summary,
                lint: &lint,
                nodes_list,
            },
        )?;
        return Ok(exit::OK);
    }
    crate::outln!("ONNX model {}", path.display())?;
    crate::outln!("  sha256   {}", loaded.sha256)?;
    crate::outln!(
        "  opset    {}   producer {}",
        summary.opset,
        if summary.producer.is_empty() {
            "?"
        } else {
            &summary.producer
        }
    )?;
    for (what, list) in [("input ", &summary.inputs), ("output", &summary.outputs)] {
        for io in list {
            crate::outln!(
                "  {what}   {} {} [{}]",
                io.name,
                io.dtype,
                crate::shapes::model_dims_to_string(&io.dims)
            )?;
        }
    }
    crate::outln!(
        "  nodes    {}{}",
        summary.nodes,
        if summary.quantized {
            " (explicitly quantized: Q/DQ nodes)"
        } else {
            ""
        }
    )?;
    let mut ops: Vec<(&String, &usize)> = summary.ops.iter().collect();
    ops.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (op, n) in ops {
        crate::outln!("    {n:>6}  {op}")?;
    }
    if lint.is_empty() {
        crate::outln!("  lint     no warnings")?;
    } else {
        for w in &lint {
            crate::outln!("  warning  {w}")?;
        }
    }
    if let Some(rows) = nodes_list {
        crate::outln!("  nodes:")?;
        for r in rows {
            crate::outln!(
                "    {:<40} {:<20} {} -> {}",
                r.name,
                r.op,
                r.inputs.join(","),
                r.outputs.join(",")
            )?;
        }
    }
    Ok(exit::OK)
}
