//! `trt-inspect`: what this machine offers (`system`), what an ONNX model holds, what an engine is and whether it
//! runs here.

pub mod engine;
pub mod onnx;
pub mod system;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser};

use crate::build::options::Generate;
use crate::exit;

const AFTER_HELP: &str = "\
Targets:
  system           the compiled-in TensorRT headers, every NVIDIA library found (or the paths tried), CUDA driver and
                   runtime, GPUs, and whether engines can be built / run here (exit 0 only when both)
  MODEL.onnx       inputs/outputs, opset, operator histogram and lint warnings
  ENGINE           the sidecar (provenance), compatibility with this machine, and with TensorRT the IO tensors,
                   profiles and (--layers, engines built with --profiling-verbosity detailed) the layer table

Exit codes: 0 ok, 1 invalid input or an engine that cannot run here, 2 usage error,
3 TensorRT, CUDA or a usable GPU missing on this machine.";

/// Inspect this machine, an ONNX model or a TensorRT engine.
#[derive(Debug, Parser)]
#[command(name = "trt-inspect", version, after_long_help = AFTER_HELP, after_help = exit::HELP)]
pub struct Cli {
    /// `system`, a model (.onnx) or an engine file.
    #[arg(
        value_name = "system|MODEL.onnx|ENGINE",
        required_unless_present = "generate"
    )]
    pub target: Option<String>,

    /// Show the layer table (engines built with detailed profiling verbosity) or every node (ONNX).
    #[arg(long)]
    pub layers: bool,

    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,

    /// Print the Triton `config.pbtxt` of an engine (as `trt-build --triton-repo` writes it), named NAME (default:
    /// the engine file's first name component). Reads the sidecar only: no TensorRT needed.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "", conflicts_with_all = ["json", "layers"])]
    pub triton: Option<String>,

    #[command(flatten)]
    pub plugins: crate::PluginArgs,

    /// Show debug logs.
    #[arg(short, long)]
    pub verbose: bool,

    /// Generate a man page or shell completions on stdout.
    #[arg(long, value_enum, value_name = "WHAT", hide = true, exclusive = true)]
    pub generate: Option<Generate>,
}

/// `main` of `trt-inspect`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::build::init_tracing(cli.verbose, false);
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => ExitCode::from(exit::report("trt-inspect", &e)),
    }
}

/// Runs `trt-inspect`; returns the exit code.
pub fn run(cli: &Cli) -> Result<u8> {
    if let Some(what) = cli.generate {
        crate::build::generate(Cli::command(), what)?;
        return Ok(exit::OK);
    }
    let target = cli.target.as_deref().unwrap_or_default();
    if target == "system" {
        let report = system::probe();
        if cli.json {
            crate::print_json("trt-inspect-system/1", &report)?;
        } else {
            crate::print_out(&report.render())?;
        }
        return Ok(if report.can_build && report.can_run {
            exit::OK
        } else {
            exit::MISSING_TENSORRT
        });
    }
    let path = PathBuf::from(target);
    if !path.exists() {
        anyhow::bail!(
            "{target}: no such file; give `system`, an .onnx model or an engine (a file named `system`: ./system)"
        );
    }
    if let Some(name) = &cli.triton {
        if onnx::looks_like_onnx(&path)? {
            anyhow::bail!(
                "--triton: {target} is an ONNX model; give an engine built by trt-build (trt-build {target} \
                 --triton-repo DIR writes the repository)"
            );
        }
        let sidecar = trt::sidecar::read_sidecar(&path)?;
        let name = if name.is_empty() {
            path.file_name()
                .and_then(|s| s.to_str())
                .and_then(|s| s.split('.').next())
                .filter(|s| !s.is_empty())
                .unwrap_or("model")
                .to_string()
        } else {
            name.clone()
        };
        let config = crate::deploy::triton::config_pbtxt(
            &sidecar,
            &crate::deploy::triton::TritonOptions {
                name,
                version: 1,
                cuda_graphs: false,
            },
        )?;
        crate::print_out(&config)?;
        return Ok(exit::OK);
    }
    if onnx::looks_like_onnx(&path)? {
        onnx::inspect(&path, cli.layers, cli.json)
    } else {
        engine::inspect(&path, cli.layers, cli.json, &cli.plugins)
    }
}
