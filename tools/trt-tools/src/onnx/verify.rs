//! `trt-onnx verify`: run two models on the same random and image-like inputs; exit 1 beyond tolerance.

use std::path::PathBuf;

use anyhow::bail;
use yolo_onnx::exec::ExecOptions;
use yolo_onnx::verify::{self, VerifyOptions};

use super::{load, parse_tolerance};
use crate::common::output;

/// `trt-onnx verify` options.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Reference model.
    pub a: PathBuf,
    /// Model to check.
    pub b: PathBuf,
    /// Absolute tolerance (elements fail beyond tol + rtol·scale, scale = the output's largest magnitude).
    #[arg(long, default_value_t = 1e-4, value_parser = parse_tolerance)]
    pub tol: f64,
    /// Relative tolerance, relative to each output's scale.
    #[arg(long, default_value_t = 1e-4, value_parser = parse_tolerance)]
    pub rtol: f64,
    /// Runs per input kind (random, image-like).
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// Input shapes for the CPU runs, trtexec syntax (`images:1x3x640x640[,other:…]`); dynamic dimensions not
    /// given are chosen: batch 1, height and width from the model's `imgsz` metadata, else 640.
    #[arg(long, value_name = "NAME:AxBxC[,…]")]
    pub shapes: Option<String>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `trt-onnx verify`.
pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let VerifyArgs {
        a,
        b,
        tol,
        rtol,
        runs,
        shapes,
        json,
    } = args;
    let (ma, mb) = (load(&a)?, load(&b)?);
    let (input_shapes, chosen) = crate::shapes::cpu_shapes(&ma, shapes.as_deref())?;
    if !chosen.is_empty() && !json {
        eprintln!(
            "trt-onnx: verifying with {} (dynamic dimensions chosen; --shapes sets them)",
            chosen.join(", ")
        );
    }
    let opts = VerifyOptions {
        atol: tol,
        rtol,
        random_runs: runs,
        image_runs: runs,
        exec: ExecOptions {
            input_shapes,
            backend: crate::common::executor::cpu_backend()?,
            ..Default::default()
        },
        ..Default::default()
    };
    let step = output::progress_step(json, "running both models on the CPU executor");
    let r = verify::verify(&ma, &mb, &opts);
    step.finish_and_clear();
    let r = r?;
    if json {
        output::print_json("trt-onnx-verify/1", &r)?;
    } else {
        output::print_out(&r.to_text())?;
    }
    if !r.passed {
        let worst = r
            .worst
            .iter()
            .filter(|w| w.violations > 0)
            .map(|w| format!("'{}' max_abs {:.3e}", w.name, w.max_abs));
        bail!(
            "{} differs from {} beyond tolerance: {}",
            b.display(),
            a.display(),
            worst.collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}
