//! `trt-onnx`: prepare ONNX models for TensorRT without TensorRT — fuse re-parameterizable blocks,
//! convert to FP16, inspect, verify numerically and benchmark on the CPU executor. One module per subcommand, each
//! with its clap options and its `run`.

pub mod bench;
pub mod fp16;
pub mod fuse;
pub mod inspect;
pub mod quantize;
pub mod sample;
pub mod verify;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use yolo_onnx::Model;

use crate::common::exit;

/// Prepare ONNX models for TensorRT on any machine: re-parameterize (fuse), convert to FP16, inspect,
/// verify and benchmark on a pure-Rust CPU executor (tract).
#[derive(Debug, Parser)]
#[command(name = "trt-onnx", version, after_help = exit::HELP)]
pub struct Opts {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fuse Conv+BN, RepConv branches and YOLOv7 implicit layers; verifies the result on CPU unless --no-verify.
    Fuse(fuse::FuseArgs),
    /// Convert to FP16 compute, keeping FP32 where FP16 breaks (ranges, reductions, YOLO decode).
    Fp16(fp16::Fp16Args),
    /// Show op histogram, inputs/outputs, fusible patterns and lint warnings.
    Inspect(inspect::InspectArgs),
    /// Run two models on the same random and image-like inputs; exit 1 beyond tolerance.
    Verify(verify::VerifyArgs),
    /// CPU latency of one model, or two side by side with their ratio (a CPU ratio, not a GPU one).
    Bench(bench::BenchArgs),
    /// INT8: calibrate on images or .npy tensors (CPU) and write a Q/DQ ONNX, optionally a TensorRT calibration cache.
    Quantize(Box<quantize::QuantizeArgs>),
    /// Write a generated YOLO-style test model.
    Sample(sample::SampleArgs),
}

/// `trt-onnx`'s command line, validated: one subcommand and its options.
#[derive(Debug)]
pub enum Config {
    /// `trt-onnx fuse`.
    Fuse(fuse::FuseArgs),
    /// `trt-onnx fp16`.
    Fp16(fp16::Fp16Args),
    /// `trt-onnx inspect`.
    Inspect(inspect::InspectArgs),
    /// `trt-onnx verify`.
    Verify(verify::VerifyArgs),
    /// `trt-onnx bench`.
    Bench(bench::BenchArgs),
    /// `trt-onnx quantize`.
    Quantize(Box<quantize::QuantizeConfig>),
    /// `trt-onnx sample`.
    Sample(sample::SampleArgs),
}

impl Config {
    /// Validates the command line (what needs no file).
    pub fn new(opts: Opts) -> anyhow::Result<Config> {
        Ok(match opts.command {
            Command::Fuse(a) => Config::Fuse(a),
            Command::Fp16(a) => Config::Fp16(a),
            Command::Inspect(a) => Config::Inspect(a),
            Command::Verify(a) => Config::Verify(a),
            Command::Bench(a) => Config::Bench(a),
            Command::Quantize(a) => Config::Quantize(Box::new(quantize::QuantizeConfig::new(*a)?)),
            Command::Sample(a) => Config::Sample(a),
        })
    }
}

/// `main` of `trt-onnx`.
pub fn main() -> ExitCode {
    exit::main("trt-onnx", |opts: Opts| run(Config::new(opts)?))
}

/// Runs `trt-onnx`; returns the exit code (failures are errors).
pub fn run(config: Config) -> anyhow::Result<ExitCode> {
    match config {
        Config::Fuse(a) => fuse::run(a)?,
        Config::Fp16(a) => fp16::run(a)?,
        Config::Inspect(a) => inspect::run(a)?,
        Config::Verify(a) => verify::run(a)?,
        Config::Bench(a) => bench::run(a)?,
        Config::Quantize(c) => quantize::run(*c)?,
        Config::Sample(a) => sample::run(a)?,
    }
    Ok(ExitCode::from(exit::OK))
}

pub(crate) fn load(path: &Path) -> anyhow::Result<Model> {
    // Flatten to one message: yolo-onnx errors already include their source's text.
    Model::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

pub(crate) fn save(model: &Model, path: &Path) -> anyhow::Result<()> {
    model
        .save(path)
        .with_context(|| format!("writing {}", path.display()))
}

/// `--tol` / `--rtol`: a finite number ≥ 0 (NaN would make every comparison pass).
pub(crate) fn parse_tolerance(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        Ok(v) => Err(format!(
            "`{v}` is not a tolerance; give a finite number ≥ 0, e.g. 1e-4"
        )),
        Err(_) => Err(format!(
            "`{s}` is not a number; give a tolerance such as 1e-4"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_fp32_takes_several_patterns() {
        let c = Opts::try_parse_from([
            "trt-onnx",
            "fp16",
            "a.onnx",
            "-o",
            "b.onnx",
            "--keep-fp32",
            "Sigmoid",
            "model.1*",
        ])
        .unwrap();
        match c.command {
            Command::Fp16(a) => assert_eq!(a.keep_fp32, vec!["Sigmoid", "model.1*"]),
            other => panic!("{other:?}"),
        }
        assert!(Opts::try_parse_from(["trt-onnx", "sample", "-o", "x", "--kind", "nope"]).is_err());
    }
}
