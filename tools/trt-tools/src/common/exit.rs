//! Process exit codes shared by every program in this package (documented in each `--help`), and the one path from
//! a command line to an exit code ([`main`]).

use std::process::ExitCode;

/// Success.
pub const OK: u8 = 0;
/// The operation failed: invalid input (missing/corrupt file, bad shapes, option the release cannot honor) or a
/// failed build.
pub const FAILURE: u8 = 1;
/// Command-line usage error (unknown flag, missing argument); clap's own exit code.
pub const USAGE: u8 = 2;
/// TensorRT, the CUDA runtime or a usable GPU is missing on this machine.
pub const MISSING_TENSORRT: u8 = 3;

/// The text appended to `--help` of every program.
pub const HELP: &str = "Exit codes: 0 ok, 1 failed build or invalid input, 2 usage error, \
                        3 TensorRT, CUDA or a usable GPU missing on this machine.";

/// An error that carries the exit code the program should end with. Anything else maps to [`FAILURE`].
#[derive(Debug)]
pub struct ExitError {
    /// Process exit code.
    pub code: u8,
    /// What went wrong and what to do about it.
    pub message: String,
}

impl std::fmt::Display for ExitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExitError {}

/// An [`ExitError`] with [`USAGE`]: a command-line mistake found after parsing (options that need each other).
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    ExitError {
        code: USAGE,
        message: message.into(),
    }
    .into()
}

/// An [`ExitError`] with [`MISSING_TENSORRT`].
pub fn missing(message: impl Into<String>) -> anyhow::Error {
    ExitError {
        code: MISSING_TENSORRT,
        message: message.into(),
    }
    .into()
}

/// The exit code for an error returned by a program's `run`: the [`ExitError`] code found in its chain, else
/// [`FAILURE`].
pub fn code_of(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<ExitError>())
        .map_or(FAILURE, |e| e.code)
}

/// Parses the command line; on `--help`/`--version` (exit 0) or a usage error (exit [`USAGE`]) clap's text is
/// printed and the exit code comes back as the error.
pub fn parse_args<C: clap::Parser>() -> Result<C, ExitCode> {
    C::try_parse().map_err(|e| {
        let code = if e.use_stderr() { USAGE } else { OK };
        let _ = e.print();
        ExitCode::from(code)
    })
}

/// Prints `error: …` (the whole context chain on one line, `a: b: c`) to stderr and returns the exit code. A
/// closed stdout (`| head`, `| grep -q`) is not an error: exit 0, nothing printed (see
/// [`output::is_broken_pipe`](super::output::is_broken_pipe), the one rule every program follows).
pub fn report(program: &str, err: &anyhow::Error) -> u8 {
    if super::output::is_broken_pipe(err) {
        return OK;
    }
    eprintln!("{program}: error: {err:#}");
    code_of(err)
}

/// The `main` of every program: parses the command line into `O` (clap's own text and exit code on `--help`,
/// `--version` or a usage error), hands it to `run` (which validates it into the program's `Config` and runs it)
/// and turns an error into its message on stderr and its exit code ([`report`]).
pub fn main<O: clap::Parser>(
    program: &str,
    run: impl FnOnce(O) -> anyhow::Result<ExitCode>,
) -> ExitCode {
    let opts = match parse_args::<O>() {
        Ok(o) => o,
        Err(code) => return code,
    };
    match run(opts) {
        Ok(code) => code,
        Err(e) => ExitCode::from(report(program, &e)),
    }
}
