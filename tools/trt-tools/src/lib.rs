//! The command-line programs trt-build, trt-bench, trt-inspect, trt-onnx and trt-detect: one module per program
//! (each with `main() -> ExitCode`, a clap `Opts`, a validated `Config` and `run(Config)`), what they share
//! ([`common`]) and the pieces more than one of them uses (the ONNX [`pipeline`] and its [`shapes`], INT8
//! [`calib_data`], [`deploy`]ment files, [`npy`]).
#![forbid(unsafe_code)]
// The clap option structs' doc comments are the programs' --help text, where `<stem>`-style placeholders are meant
// literally, not as HTML.
#![allow(rustdoc::invalid_html_tags)]

pub mod common;

pub mod bench;
pub mod build;
pub mod detect;
pub mod inspect;
pub mod onnx;

pub mod calib_data;
pub mod deploy;
pub mod npy;
pub mod pipeline;
pub mod shapes;

pub use common::fs::TEST_PAUSE_ENV;

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own consistency checks (no clashing flags or aliases, valid defaults and value names) on every program.
    #[test]
    fn every_programs_command_line_is_consistent() {
        crate::build::Opts::command().debug_assert();
        crate::onnx::Opts::command().debug_assert();
        crate::inspect::Opts::command().debug_assert();
        crate::detect::Opts::command().debug_assert();
        crate::bench::Opts::command().debug_assert();
    }
}
