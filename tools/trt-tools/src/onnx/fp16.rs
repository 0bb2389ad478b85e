//! `trt-onnx fp16`: convert to FP16 compute, keeping FP32 where FP16 breaks (ranges, reductions, YOLO decode).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use yolo_onnx::exec::ExecOptions;
use yolo_onnx::fp16::{self, Fp16Options, Fp16Report};
use yolo_onnx::verify::{self, VerifyOptions, VerifyReport};

use super::{load, save};
use crate::common::output;

/// `trt-onnx fp16` options.
#[derive(Debug, clap::Args)]
pub struct Fp16Args {
    /// Input model.
    pub input: PathBuf,
    /// Output model.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Make graph inputs and outputs FLOAT16 too.
    #[arg(long)]
    pub io_fp16: bool,
    /// Keep nodes whose name or op type matches this glob in FP32 (repeatable).
    #[arg(long = "keep-fp32", value_name = "PATTERN", num_args = 1..)]
    pub keep_fp32: Vec<String>,
    /// Convert the YOLO decode tail to FP16 as well (coordinates lose precision).
    #[arg(long)]
    pub decode_fp16: bool,
    /// Do not run the model on CPU to find activations that overflow FP16.
    #[arg(long)]
    pub no_probe: bool,
    /// Do not compare the FP16 model with the input on CPU.
    #[arg(long)]
    pub no_verify: bool,
    /// Input shapes for the CPU runs, trtexec syntax (`images:1x3x640x640[,other:…]`); dynamic dimensions not
    /// given are chosen: batch 1, height and width from the model's `imgsz` metadata, else 640.
    #[arg(long, value_name = "NAME:AxBxC[,…]")]
    pub shapes: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `trt-onnx fp16`.
pub fn run(args: Fp16Args) -> anyhow::Result<()> {
    let Fp16Args {
        input,
        output,
        io_fp16,
        keep_fp32,
        decode_fp16,
        no_probe,
        no_verify,
        shapes,
        json,
    } = args;
    let original = load(&input)?;
    let (input_shapes, chosen) = crate::shapes::cpu_shapes(&original, shapes.as_deref())?;
    let runs_model = !(no_probe && no_verify);
    if runs_model && !chosen.is_empty() && !json {
        eprintln!(
            "trt-onnx: running the model on CPU with {} (dynamic dimensions chosen; --shapes sets them)",
            chosen.join(", ")
        );
    }
    let mut half = original.clone();
    let executor = crate::common::executor::cpu_backend()?;
    let opts = Fp16Options {
        io_fp16,
        keep_fp32,
        decode_fp16,
        range_probe: !no_probe,
        input_shapes: input_shapes.clone(),
        executor,
    };
    let verify_opts = VerifyOptions {
        atol: f64::INFINITY,
        exec: ExecOptions {
            input_shapes: input_shapes.clone(),
            backend: executor,
            ..Default::default()
        },
        ..Default::default()
    };
    let verifies = !(no_verify || io_fp16);
    // The range probe runs the FP32 model on the verification's own inputs, so its outputs are the FP32
    // side of the check: the FP32 model runs once per input, not twice.
    let step = output::progress_step(json, "probing value ranges on the CPU executor");
    let probed = if no_probe {
        None
    } else {
        Some(
            fp16::probe_on(
                &original,
                &verify_opts.exec,
                &verify::run_plan(&verify_opts),
            )
            .context("probing value ranges (--no-probe skips the CPU range probe)")?,
        )
    };
    step.set_message("converting to FP16");
    let report = match &probed {
        Some(p) => fp16::convert_probed(&mut half, &opts, p),
        None => fp16::convert(&mut half, &opts),
    }
    .context("converting to FP16 (--no-probe skips the CPU range probe)")?;
    half.set_source_name(format!("{} (fp16)", input.display()));
    let verification = if !verifies {
        None
    } else {
        // FP16 is not exact: report the differences; fail only on overflow (non-finite) or a
        // broken output (cosine < 0.99). The FP16 model runs emulated in FP32 (FP16 storage, FP32
        // arithmetic, as TensorRT does), at about the cost of the FP32 run.
        step.set_message("checking the FP16 model against FP32 on the CPU executor");
        let emulated = fp16::emulate_in_f32(&half)
            .context("preparing the FP16 check (use --no-verify to skip)")?;
        let v = match &probed {
            Some(p) => {
                verify::verify_against(original.source_name(), &p.runs, &emulated, &verify_opts)
            }
            None => verify::verify(&original, &emulated, &verify_opts),
        }
        .context("checking the FP16 model on CPU (use --no-verify to skip)")?;
        if let Some(w) = v
            .worst
            .iter()
            .find(|w| w.nonfinite_mismatches > 0 || w.cosine < 0.99)
        {
            bail!(
                "{}: FP16 model output '{}' is broken (cosine {:.4}, {} non-finite mismatches); keep more nodes in FP32 \
                 with --keep-fp32; nothing written to {}",
                input.display(),
                w.name,
                w.cosine,
                w.nonfinite_mismatches,
                output.display()
            );
        }
        Some(v)
    };
    step.finish_and_clear();
    save(&half, &output)?;
    if json {
        output::print_json(
            "trt-onnx-fp16/1",
            &Fp16Output {
                input: &input,
                output: &output,
                report: &report,
                verification: verification.as_ref(),
            },
        )?;
    } else {
        let mut s = report.to_text();
        if let Some(v) = &verification {
            s.push_str("difference to FP32 (informational):\n");
            for w in &v.worst {
                s.push_str(&format!(
                    "  {}: max_abs {:.3e}  cosine {:.6}\n",
                    w.name, w.max_abs, w.cosine
                ));
            }
        }
        s.push_str(&format!("wrote {}\n", output.display()));
        output::print_out(&s)?;
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct Fp16Output<'a> {
    input: &'a Path,
    output: &'a Path,
    report: &'a Fp16Report,
    verification: Option<&'a VerifyReport>,
}
