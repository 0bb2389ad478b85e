//! What the programs print on stdout, and the one closed-pipe rule.
//!
//! Every write to stdout returns its I/O error (a closed pipe, a full disk) instead of panicking, and the programs
//! propagate it with `?`. A broken pipe ([`is_broken_pipe`]) means the reader is gone (`| head`, `| grep -q`): the
//! program stops there and exits 0 without a message ([`exit::report`](super::exit::report)); any other I/O error
//! (`> /dev/full`) is an error, exit 1.

/// Whether `err`'s chain contains a broken-pipe I/O error (stdout closed early, e.g. `| head`), which programs
/// treat as success.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `println!` that returns the I/O error (a closed pipe, a full disk) as `std::io::Result` instead of panicking; the
/// programs propagate it (a broken pipe then exits 0, see [`is_broken_pipe`]).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// Writes `text` to stdout (locked, flushed); I/O errors, including a broken pipe, are returned.
pub fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// A `--json` document with its `"schema"` tag first.
#[derive(serde::Serialize)]
struct Tagged<'a, T> {
    schema: &'a str,
    #[serde(flatten)]
    document: &'a T,
}

/// Writes `value` (a struct or map) as pretty JSON plus a newline to stdout, with `"schema": SCHEMA` as its first
/// field: every `--json` document of every tool names what it is and its version (`trt-build/1`), so scripts
/// can check what they read. I/O errors, a closed pipe included, are returned (see the module's rule).
pub fn print_json<T: serde::Serialize>(schema: &str, value: &T) -> anyhow::Result<()> {
    print_document(&Tagged {
        schema,
        document: value,
    })
}

/// [`print_json`] for a document type that carries its own `schema` field first (trt-bench's reports, which read
/// back into their types).
pub fn print_document<T: serde::Serialize>(document: &T) -> anyhow::Result<()> {
    let mut s = serde_json::to_string_pretty(document)?;
    s.push('\n');
    print_out(&s)
}

/// A spinner on stderr for a CPU step that can take more than a couple of seconds (fuse verification, the FP16
/// range probe, …), showing `message` and the elapsed time; hidden when `quiet` (`--json`) or when stderr is not a
/// terminal, so logs and pipes stay clean. Change the message per step; `finish_and_clear` when done.
pub fn progress_step(quiet: bool, message: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(message.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
