//! `trt-inspect`: what this machine offers (`system`), what an ONNX model holds, what an engine is and whether it
//! runs here.

pub mod engine;
pub mod onnx;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser};

use crate::common::generate::Generate;
use crate::common::plugins::PluginArgs;
use crate::common::{exit, output};

const AFTER_HELP: &str = "\
Targets:
  system           the compiled-in TensorRT headers, every NVIDIA library found (or the paths tried), CUDA driver and
                   runtime, GPUs, and whether engines can be built / run here (exit 0 only when both)
  MODEL.onnx       inputs/outputs, opset, operator histogram and lint warnings
  ENGINE           the sidecar (provenance), compatibility with this machine, and with TensorRT the IO tensors,
                   profiles and (--layers, engines built with --profiling-verbosity detailed) the layer table;
                   --export-layer-info FILE writes that layer information (TensorRT's engine inspector JSON) to FILE,
                   where trt-build --export-layer-info could not (no GPU on the build machine)

Exit codes: 0 ok, 1 invalid input or an engine that cannot run here, 2 usage error,
3 TensorRT, CUDA or a usable GPU missing on this machine.";

/// Inspect this machine, an ONNX model or a TensorRT engine.
#[derive(Debug, Parser)]
#[command(name = "trt-inspect", version, after_long_help = AFTER_HELP, after_help = exit::HELP)]
pub struct Opts {
    /// `system`, a model (.onnx) or an engine file.
    #[arg(
        value_name = "system|MODEL.onnx|ENGINE",
        required_unless_present = "generate"
    )]
    pub target: Option<String>,

    /// Show the layer table (engines built with detailed profiling verbosity) or every node (ONNX).
    #[arg(long)]
    pub layers: bool,

    /// Write TensorRT's layer information of an engine (the engine inspector's JSON, as trtexec
    /// --exportLayerInfo) to FILE; needs TensorRT and a GPU that runs the engine. Full layer parameters need an
    /// engine built with --profiling-verbosity detailed.
    #[arg(
        long = "export-layer-info",
        value_name = "FILE",
        alias = "exportLayerInfo"
    )]
    pub export_layer_info: Option<PathBuf>,

    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,

    /// Print the Triton `config.pbtxt` of an engine (as `trt-build --triton-repo` writes it), named NAME (default:
    /// the engine file's first name component). Reads the sidecar only: no TensorRT needed.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "", conflicts_with_all = ["json", "layers", "export_layer_info"])]
    pub triton: Option<String>,

    #[command(flatten)]
    pub plugins: PluginArgs,

    #[command(flatten)]
    pub sidecar: crate::common::engine::SidecarArgs,

    /// Show debug logs.
    #[arg(short, long)]
    pub verbose: bool,

    /// Generate a man page or shell completions on stdout.
    #[arg(long, value_enum, value_name = "WHAT", hide = true, exclusive = true)]
    pub generate: Option<Generate>,
}

/// `trt-inspect`'s command line, validated: what to inspect and how.
#[derive(Debug, Clone)]
pub enum Config {
    /// `--generate WHAT`: a man page or shell completions.
    Generate(Generate),
    /// `system`: this machine.
    System {
        /// `--json`.
        json: bool,
    },
    /// `--triton [NAME]`: the Triton `config.pbtxt` of an engine, named `name` (empty: from the file name).
    Triton {
        /// The engine.
        path: PathBuf,
        /// The model name, or empty.
        name: String,
    },
    /// A model or an engine file (which one is read from the file).
    File {
        /// The model or engine.
        path: PathBuf,
        /// `--layers`.
        layers: bool,
        /// `--export-layer-info FILE`.
        export_layer_info: Option<PathBuf>,
        /// `--json`.
        json: bool,
        /// `--plugins`.
        plugins: PluginArgs,
        /// `--no-sidecar`: read an engine without a sidecar with TensorRT (IO, profiles, layers).
        no_sidecar: bool,
    },
}

impl Config {
    /// Validates the command line: the target is `system` or a file that exists.
    pub fn new(opts: Opts) -> Result<Config> {
        if let Some(what) = opts.generate {
            return Ok(Config::Generate(what));
        }
        let target = opts.target.unwrap_or_default();
        if target == "system" {
            return Ok(Config::System { json: opts.json });
        }
        if let (Some(f), "system") = (&opts.export_layer_info, target.as_str()) {
            return Err(exit::usage(format!(
                "--export-layer-info {} reads an engine's layers; give an engine file, not `system`",
                f.display()
            )));
        }
        let path = PathBuf::from(&target);
        if !path.exists() {
            anyhow::bail!(
                "{target}: no such file; give `system`, an .onnx model or an engine (a file named `system`: ./system)"
            );
        }
        Ok(match opts.triton {
            Some(name) => Config::Triton { path, name },
            None => Config::File {
                path,
                layers: opts.layers,
                export_layer_info: opts.export_layer_info,
                json: opts.json,
                plugins: opts.plugins,
                no_sidecar: opts.sidecar.no_sidecar,
            },
        })
    }
}

/// `main` of `trt-inspect`.
pub fn main() -> ExitCode {
    exit::main("trt-inspect", |opts: Opts| {
        crate::common::tracing::init(opts.verbose, false);
        run(Config::new(opts)?)
    })
}

/// Runs `trt-inspect`; returns the exit code.
pub fn run(config: Config) -> Result<ExitCode> {
    let code = match config {
        Config::Generate(what) => {
            crate::common::generate::generate(Opts::command(), what)?;
            exit::OK
        }
        Config::System { json } => system(json)?,
        Config::Triton { path, name } => {
            triton(&path, &name)?;
            exit::OK
        }
        Config::File {
            path,
            layers,
            export_layer_info,
            json,
            plugins,
            no_sidecar,
        } => {
            if onnx::looks_like_onnx(&path)? {
                if let Some(f) = &export_layer_info {
                    anyhow::bail!(
                        "--export-layer-info {}: {} is an ONNX model; TensorRT's layer information comes from a built \
                         engine (trt-build {} --export-layer-info FILE, or trt-inspect ENGINE --export-layer-info FILE)",
                        f.display(),
                        path.display(),
                        path.display()
                    );
                }
                onnx::inspect(&path, layers, json)?
            } else {
                let views = engine::Views {
                    layers,
                    export_layer_info: export_layer_info.as_deref(),
                };
                engine::inspect(&path, views, json, &plugins, no_sidecar)?
            }
        }
    };
    Ok(ExitCode::from(code))
}

/// `trt-inspect system`: exit 0 only when engines can be built and run here.
fn system(json: bool) -> Result<u8> {
    let report = trt::system::probe();
    if json {
        output::print_json("trt-inspect-system/1", &report)?;
    } else {
        output::print_out(&report.render())?;
    }
    Ok(if report.can_build && report.can_run {
        exit::OK
    } else {
        exit::MISSING_TENSORRT
    })
}

/// `trt-inspect ENGINE --triton [NAME]`: the engine's Triton `config.pbtxt`, from its sidecar.
fn triton(path: &Path, name: &str) -> Result<()> {
    let target = path.display();
    if onnx::looks_like_onnx(path)? {
        anyhow::bail!(
            "--triton: {target} is an ONNX model; give an engine built by trt-build (trt-build {target} \
             --triton-repo DIR writes the repository)"
        );
    }
    let sidecar = trt::sidecar::read_sidecar(path)?;
    let name = if name.is_empty() {
        path.file_name()
            .and_then(|s| s.to_str())
            .and_then(|s| s.split('.').next())
            .filter(|s| !s.is_empty())
            .unwrap_or("model")
            .to_string()
    } else {
        name.to_string()
    };
    let config = crate::deploy::triton::config_pbtxt(
        &sidecar,
        &crate::deploy::triton::TritonOptions {
            name,
            version: 1,
            cuda_graphs: false,
        },
    )?;
    output::print_out(&config)
}
