//! `trt-onnx fuse`: fuse Conv+BN, RepConv branches and YOLOv7 implicit layers; verifies the result on CPU unless
//! --no-verify.

use std::path::{Path, PathBuf};

use anyhow::bail;
use yolo_onnx::exec::ExecOptions;
use yolo_onnx::passes::FuseReport;
use yolo_onnx::verify::{self, VerifyOptions, VerifyReport};

use super::{load, parse_tolerance, save};
use crate::common::output;

/// `trt-onnx fuse` options.
#[derive(Debug, clap::Args)]
pub struct FuseArgs {
    /// Input model.
    pub input: PathBuf,
    /// Output model (written atomically; nothing is written if fusion or verification fails).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Require the verification: a model the CPU executor cannot run is then an error (by default it is
    /// written with a warning saying why it was not verified).
    #[arg(long, overrides_with = "no_verify")]
    pub verify: bool,
    /// Skip the numerical verification.
    #[arg(long)]
    pub no_verify: bool,
    /// Input shapes for the verification run, trtexec syntax (`images:1x3x640x640[,other:…]`); dynamic
    /// dimensions not given are chosen: batch 1, height and width from the model's `imgsz` metadata, else 640.
    #[arg(long, value_name = "NAME:AxBxC[,…]")]
    pub shapes: Option<String>,
    /// Keep YOLOv9's auxiliary training head (a DualDDetect export); by default the main head is kept and the
    /// auxiliary one dropped (reported), as YOLOv9's own re-parameterization does.
    #[arg(long)]
    pub keep_aux_head: bool,
    /// Absolute tolerance of the verification (elements fail beyond tol + rtol·scale, scale = the output's
    /// largest magnitude).
    #[arg(long, default_value_t = 1e-4, value_parser = parse_tolerance)]
    pub tol: f64,
    /// Relative tolerance of the verification, relative to each output's scale.
    #[arg(long, default_value_t = 1e-4, value_parser = parse_tolerance)]
    pub rtol: f64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `trt-onnx fuse`.
pub fn run(args: FuseArgs) -> anyhow::Result<()> {
    let FuseArgs {
        input,
        output,
        verify: require_verify,
        no_verify,
        shapes,
        keep_aux_head,
        tol,
        rtol,
        json,
    } = args;
    let loaded = load(&input)?;
    let (input_shapes, chosen) = crate::shapes::cpu_shapes(&loaded, shapes.as_deref())?;
    // The same step as trt-build's (and quantize's): same graph, same tensor names.
    let step = crate::pipeline::reparameterize(&loaded, &input_shapes, keep_aux_head)?;
    let (original, mut fused, report) = (step.reference, step.model, step.report);
    if let Some(a) = step.aux_head.as_ref().filter(|_| !json) {
        eprintln!("trt-onnx: {a} (--keep-aux-head keeps it)");
    }
    fused.set_source_name(format!("{} (fused)", input.display()));
    if !chosen.is_empty() && !no_verify && !json {
        eprintln!(
            "trt-onnx: verifying with {} (dynamic dimensions chosen; --shapes sets them)",
            chosen.join(", ")
        );
    }
    let verification = if no_verify {
        None
    } else {
        let opts = VerifyOptions {
            atol: tol,
            rtol,
            exec: ExecOptions {
                input_shapes,
                backend: crate::common::executor::cpu_backend()?,
                ..Default::default()
            },
            ..Default::default()
        };
        let step = output::progress_step(json, "verifying the fused model on the CPU executor");
        let checked = verify::verify(&original, &fused, &opts);
        step.finish_and_clear();
        match checked {
            Ok(v) => Some(v),
            // The passes succeeded but the CPU executor cannot run the model (an op it lacks, a custom
            // op, a training-mode BatchNormalization): write the result and say exactly why it is unchecked.
            Err(e) if !require_verify => {
                eprintln!(
                    "trt-onnx: warning: {} was not verified: {}; writing it unchecked (--verify makes this \
                     an error)",
                    output.display(),
                    e
                );
                None
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "verifying the fused model (--verify was given; nothing written to {})",
                    output.display()
                )))
            }
        }
    };
    if let Some(v) = verification.as_ref().filter(|v| !v.passed) {
        if !json {
            output::print_out(&v.to_text())?;
        }
        let worst = v
            .worst
            .iter()
            .map(|w| format!("{} max_abs {:.3e}", w.name, w.max_abs))
            .collect::<Vec<_>>();
        bail!(
            "{}: fused model differs from the input beyond tolerance ({}); nothing written to {}",
            input.display(),
            worst.join(", "),
            output.display()
        );
    }
    save(&fused, &output)?;
    if json {
        output::print_json(
            "trt-onnx-fuse/1",
            &FuseOutput {
                input: &input,
                output: &output,
                aux_head: step.aux_head.as_ref(),
                report: &report,
                verification: verification.as_ref(),
            },
        )?;
    } else {
        let mut s = String::new();
        if let Some(a) = &step.aux_head {
            s.push_str(&format!("{a}\n"));
        }
        s.push_str(&report.to_string());
        if let Some(v) = &verification {
            s.push_str("verification:\n");
            s.push_str(&v.to_text());
        }
        s.push_str(&format!("wrote {}\n", output.display()));
        output::print_out(&s)?;
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct FuseOutput<'a> {
    input: &'a Path,
    output: &'a Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    aux_head: Option<&'a yolo_onnx::passes::aux_head::AuxHeadReport>,
    report: &'a FuseReport,
    verification: Option<&'a VerifyReport>,
}
