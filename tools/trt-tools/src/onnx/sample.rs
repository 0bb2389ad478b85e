//! `trt-onnx sample`: write a generated YOLO-style test model.

use std::path::PathBuf;

use anyhow::Context;
use yolo_onnx::exec::{ExecOptions, Executor};

use super::save;
use crate::common::output;

/// `trt-onnx sample` options.
#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    /// Output model.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Kind of model.
    #[arg(long, default_value = "repconv", value_parser = clap::builder::PossibleValuesParser::new(yolo_onnx::testgen::SAMPLE_KINDS))]
    pub kind: String,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs `trt-onnx sample`.
pub fn run(args: SampleArgs) -> anyhow::Result<()> {
    let SampleArgs { output, kind, seed } = args;
    let model = yolo_onnx::testgen::sample(&kind, seed)?;
    // Generated models must run on the CPU executor (cheap check; the big one is skipped).
    if kind != "yolov7-sized" {
        Executor::new(&model, &ExecOptions::default())
            .context("internal: generated model does not load")?;
    }
    save(&model, &output)?;
    output::print_out(&format!(
        "wrote {} ({kind}, seed {seed})\n",
        output.display()
    ))?;
    Ok(())
}
