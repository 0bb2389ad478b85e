//! `trt-onnx bench`: CPU latency of one model, or two side by side with their ratio (a CPU ratio, not a GPU one).

use std::path::PathBuf;

use yolo_onnx::verify;

use super::load;
use crate::common::output;

/// `trt-onnx bench` options.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// First model.
    pub a: PathBuf,
    /// Optional second model.
    pub b: Option<PathBuf>,
    /// Timed iterations per model.
    #[arg(long, default_value_t = 20)]
    pub iterations: usize,
    /// Untimed warm-up iterations per model.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `trt-onnx bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let BenchArgs {
        a,
        b,
        iterations,
        warmup,
        json,
    } = args;
    let ma = load(&a)?;
    let mb = b.as_deref().map(load).transpose()?;
    let r = verify::bench(&ma, mb.as_ref(), iterations, warmup)?;
    if json {
        output::print_json("trt-onnx-bench/1", &r)?;
    } else {
        output::print_out(&r.to_text())?;
    }
    Ok(())
}
