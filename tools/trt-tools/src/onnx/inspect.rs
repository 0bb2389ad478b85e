//! `trt-onnx inspect`: op histogram, inputs/outputs, fusible patterns and lint warnings.

use std::path::{Path, PathBuf};

use yolo_onnx::exec::check_supported_ops;
use yolo_onnx::passes::{self, lint::LintWarning, FuseOptions, FuseReport};

use super::load;
use crate::common::output;
use crate::pipeline::IoSummary;

/// `trt-onnx inspect` options.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Model to inspect.
    pub input: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `trt-onnx inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let InspectArgs { input, json } = args;
    let model = load(&input)?;
    let report = passes::analyze(&model, &FuseOptions::default())?;
    let lint = passes::lint::lint(&model);
    let cpu = check_supported_ops(&model).err().map(|e| e.to_string());
    // The same IO description as trt-inspect's (`name`, `dtype`, `dims` with null for dynamic).
    let summary = crate::pipeline::summarize(&model);
    let out = InspectOutput {
        file: &input,
        opset: model.opset(),
        nodes: model.graph().nodes().len(),
        inputs: summary.inputs,
        outputs: summary.outputs,
        op_histogram: &report.before.op_histogram,
        params: report.before.params,
        flops: report.before.flops,
        patterns: &report,
        lint: &lint,
        cpu_executor: cpu,
    };
    if json {
        output::print_json("trt-onnx-inspect/1", &out)?;
    } else {
        let mut s = format!(
            "{}: opset {}, {} nodes, {} parameters\n",
            input.display(),
            out.opset,
            out.nodes,
            out.params
        );
        for i in &out.inputs {
            s.push_str(&format!("input  {}\n", dims_text(i)));
        }
        for o in &out.outputs {
            s.push_str(&format!("output {}\n", dims_text(o)));
        }
        s.push_str("ops:\n");
        for (op, n) in out.op_histogram {
            s.push_str(&format!("  {op:<24} {n}\n"));
        }
        s.push_str("fusion (what `trt-onnx fuse` would do):\n");
        s.push_str(&report.to_string());
        if lint.is_empty() {
            s.push_str("lint: no warnings\n");
        } else {
            s.push_str("lint:\n");
            for w in &lint {
                s.push_str(&format!("  {w}\n"));
            }
        }
        if let Some(c) = &out.cpu_executor {
            s.push_str(&format!("cpu executor: {c}\n"));
        }
        output::print_out(&s)?;
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct InspectOutput<'a> {
    file: &'a Path,
    opset: i64,
    nodes: usize,
    inputs: Vec<IoSummary>,
    outputs: Vec<IoSummary>,
    op_histogram: &'a std::collections::BTreeMap<String, usize>,
    params: u64,
    flops: Option<u64>,
    patterns: &'a FuseReport,
    lint: &'a [LintWarning],
    cpu_executor: Option<String>,
}

/// `images float32 [?, 3, 640, 640]`.
fn dims_text(s: &IoSummary) -> String {
    let d: Vec<String> = s
        .dims
        .iter()
        .map(|d| d.map_or("?".into(), |v| v.to_string()))
        .collect();
    format!("{} {} [{}]", s.name, s.dtype, d.join(", "))
}
