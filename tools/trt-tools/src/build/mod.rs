//! `trt-build`: ONNX → TensorRT engine with trtexec's vocabulary, a release-aware precision path, the ONNX pipeline,
//! progress, recipes and provenance.
//!
//! * [`options`]: the clap command line (trtexec spellings as aliases);
//! * [`config`]: command line merged over a [`recipe`] into one validated [`config::BuildConfig`];
//! * [`crate::shapes`]: trtexec shape specs and optimization profiles;
//! * [`release`]: what each TensorRT release can honor (pure, unit-tested per release);
//! * [`io_formats`], [`tactics`]: trtexec's `--inputIOFormats`/`--outputIOFormats` and `--tacticSources`;
//! * [`crate::pipeline`]: the ONNX passes before TensorRT; [`calib`]: the INT8 calibration hook;
//! * [`engine`]: the TensorRT build; [`progress`]: the progress display; [`mod@run`]: all of it in order.

pub mod calib;
pub mod config;
pub mod engine;
pub mod io_formats;
pub mod options;
pub mod progress;
pub mod recipe;
pub mod release;
pub mod run;
pub mod tactics;

use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::common::{exit, generate::Generate};
pub use config::BuildConfig;
pub use options::Opts;

/// `trt-build`'s command line, validated.
#[derive(Debug)]
pub enum Config {
    /// `--generate WHAT`: a man page or shell completions.
    Generate(Generate),
    /// Build an engine (or plan one, `--dry-run`): the command line merged over the recipe.
    Build(Box<BuildConfig>),
}

impl Config {
    /// Validates the command line (and the recipe it names) into what [`run()`] does.
    pub fn new(opts: &Opts) -> Result<Config> {
        Ok(match opts.generate {
            Some(what) => Config::Generate(what),
            None => Config::Build(Box::new(BuildConfig::from_cli(opts)?)),
        })
    }
}

/// `main` of `trt-build`.
pub fn main() -> ExitCode {
    exit::main("trt-build", |opts: Opts| {
        crate::common::tracing::init(opts.verbose, opts.quiet);
        run(Config::new(&opts)?)
    })
}

/// Runs `trt-build`; returns the exit code.
pub fn run(config: Config) -> Result<ExitCode> {
    match config {
        Config::Generate(what) => {
            crate::common::generate::generate(Opts::command(), what)?;
            Ok(ExitCode::from(exit::OK))
        }
        Config::Build(cfg) => run::build(&cfg).map(ExitCode::from),
    }
}
