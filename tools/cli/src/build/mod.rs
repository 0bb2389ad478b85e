//! `trt-build`: ONNX → TensorRT engine with trtexec's vocabulary, a release-aware precision path, the ONNX pipeline,
//! progress, recipes and provenance.
//!
//! * [`options`]: the clap command line (trtexec spellings as aliases);
//! * [`config`]: command line merged over a [`recipe`] into one validated [`config::BuildConfig`];
//! * [`shapes`]: trtexec shape specs and optimization profiles;
//! * [`release`]: what each TensorRT release can honor (pure, unit-tested per release);
//! * [`pipeline`]: the ONNX passes before TensorRT; [`calib`]: the INT8 calibration hook;
//! * [`engine`]: the TensorRT build; [`progress`]: the progress display; [`run`]: all of it in order.

pub mod calib;
pub mod config;
pub mod engine;
pub mod options;
pub mod pipeline;
pub mod progress;
pub mod recipe;
pub mod release;
pub mod run;
pub mod shapes;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use crate::exit;

/// `main` of `trt-build`.
pub fn main() -> ExitCode {
    let cli = options::Cli::parse();
    init_tracing(cli.verbose, cli.quiet);
    match run::run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => ExitCode::from(exit::report("trt-build", &e)),
    }
}

/// The `-v` filter: debug for the project's crates and TensorRT's log (`tensorrt`), warnings from everything else.
pub const VERBOSE_FILTER: &str = "warn,tensorrt=debug,trt=debug,trt_sys=debug,trt_tools=debug,yolo_onnx=debug,\
                                  yolo_rt=debug,trt_build=debug,trt_bench=debug,trt_detect=debug,trt_inspect=debug,\
                                  trt_onnx=debug";

/// Logs to stderr: warnings by default, debug with `--verbose` (TensorRT's log included), errors only with `--quiet`.
/// `RUST_LOG` overrides. Colours only when stderr is a terminal (TensorRT's messages go into CI logs and pipes).
pub fn init_tracing(verbose: bool, quiet: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    // Verbose means this project's and TensorRT's messages, not every dependency's (the CPU executor alone logs tens
    // of thousands of debug lines); RUST_LOG still selects anything.
    let default = if verbose {
        VERBOSE_FILTER
    } else if quiet {
        "error"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_target(verbose)
        .try_init();
}

/// Writes a man page or shell completions for `cmd` to stdout.
pub fn generate(mut cmd: clap::Command, what: options::Generate) -> Result<()> {
    use clap_complete::Shell;
    let name = cmd.get_name().to_string();
    let mut out = std::io::stdout().lock();
    let shell = match what {
        options::Generate::Man => {
            clap_mangen::Man::new(cmd).render(&mut out)?;
            return Ok(());
        }
        options::Generate::Bash => Shell::Bash,
        options::Generate::Zsh => Shell::Zsh,
        options::Generate::Fish => Shell::Fish,
        options::Generate::Elvish => Shell::Elvish,
        options::Generate::Powershell => Shell::PowerShell,
    };
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    Ok(())
}
