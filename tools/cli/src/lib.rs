//! Shared pieces of the command-line programs (exit codes, atomic writes, output helpers).
#![forbid(unsafe_code)]
// The clap option structs' doc comments are the programs' --help text, where `<stem>`-style placeholders are meant
// literally, not as HTML.
#![allow(rustdoc::invalid_html_tags)]

pub mod bench;
pub mod build;
pub mod calib_data;
pub mod deploy;
pub mod inspect;
pub mod npy;

pub mod exit {
    //! Process exit codes shared by every program in this package (documented in each `--help`).

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
    pub fn parse_args<C: clap::Parser>() -> Result<C, std::process::ExitCode> {
        C::try_parse().map_err(|e| {
            let code = if e.use_stderr() { USAGE } else { OK };
            let _ = e.print();
            std::process::ExitCode::from(code)
        })
    }

    /// Prints `error: …` (the whole context chain on one line, `a: b: c`) to stderr and returns the exit code. A
    /// closed stdout (`| head`, `| grep -q`) is not an error: exit 0, nothing printed.
    pub fn report(program: &str, err: &anyhow::Error) -> u8 {
        if crate::is_broken_pipe(err) {
            return OK;
        }
        eprintln!("{program}: error: {err:#}");
        code_of(err)
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory is written, flushed and renamed over
/// `path`, so a crash or kill leaves either the old file or the new one, never a partial file. Parent directories are
/// created.
pub fn atomic_write(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let prefix = format!(
        ".{}.",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out")
    );
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Created 0666 less the umask, like any other file the tools write (tempfile's own default is 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    test_pause_before_rename();
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Test hook: environment variable holding milliseconds to sleep between writing an output's temporary file and
/// renaming it into place, so tests can kill a program mid-write. Never set it in production.
pub const TEST_PAUSE_ENV: &str = "TRT_TOOLS_TEST_PAUSE_BEFORE_RENAME_MS";

/// Sleeps for [`TEST_PAUSE_ENV`] milliseconds when that variable is set (tests only).
pub fn test_pause_before_rename() {
    if let Some(ms) = std::env::var(TEST_PAUSE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

// ---- Output helpers (helper onnx-exec, used by trt-onnx) ----

/// Whether `err`'s chain contains a broken-pipe I/O error (stdout closed early, e.g. `| head`), which programs
/// treat as success.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `println!` that returns the I/O error (a closed pipe, a full disk) as `std::io::Result` instead of panicking; the
/// programs propagate it (a broken pipe then exits 0, see `exit::report`).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
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
/// can check what they read. I/O errors, a closed pipe included, are returned (the programs' `main` treats a closed
/// pipe as success, a full disk as an error).
pub fn print_json<T: serde::Serialize>(schema: &str, value: &T) -> anyhow::Result<()> {
    let mut s = serde_json::to_string_pretty(&Tagged {
        schema,
        document: value,
    })?;
    s.push('\n');
    print_out(&s)
}

// ---- Custom plugin libraries of the programs that run engines ----

/// `--runtime-cache FILE` / `--no-runtime-cache` of trt-bench and trt-detect: where TensorRT for RTX keeps the
/// kernels it JIT-compiles for this GPU (ignored by other TensorRT releases).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RuntimeCacheArgs {
    /// TensorRT for RTX: keep the JIT runtime cache in FILE (default: next to the engine, as
    /// `<engine>.runtime-cache`), so the next start skips the compilation.
    #[arg(
        long = "runtime-cache",
        value_name = "FILE",
        alias = "runtimeCachePath"
    )]
    pub runtime_cache: Option<std::path::PathBuf>,
    /// TensorRT for RTX: keep no JIT runtime cache (kernels are compiled at every start).
    #[arg(long = "no-runtime-cache", conflicts_with = "runtime_cache")]
    pub no_runtime_cache: bool,
}

impl RuntimeCacheArgs {
    /// The policy for [`trt::LoadOptions::runtime_cache`].
    pub fn policy(&self) -> trt::RuntimeCache {
        match (&self.runtime_cache, self.no_runtime_cache) {
            (_, true) => trt::RuntimeCache::Off,
            (Some(f), false) => trt::RuntimeCache::File(f.clone()),
            (None, false) => trt::RuntimeCache::BesideEngine,
        }
    }
}

/// `--plugins LIB` of trt-bench, trt-inspect and trt-detect (trt-build has its own: it also records them).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PluginArgs {
    /// Plugin library the engine was built with (`trt-build --plugins`); repeatable.
    #[arg(long, value_name = "LIB", aliases = ["staticPlugins", "dynamicPlugins"])]
    pub plugins: Vec<std::path::PathBuf>,
}

impl PluginArgs {
    /// Checks every file (a shared library for this machine) before TensorRT is needed, so a bad one is exit
    /// code 1 on any machine.
    pub fn check(&self) -> anyhow::Result<()> {
        for p in &self.plugins {
            trt_sys::plugin_lib::inspect_plugin_library(p)
                .map_err(|e| anyhow::anyhow!("--plugins: {e}"))?;
        }
        Ok(())
    }

    /// Loads every library into `lib`, in order.
    pub fn load(&self, lib: &trt::Library) -> anyhow::Result<()> {
        for p in &self.plugins {
            lib.load_plugin_library(p)
                .map_err(|e| anyhow::anyhow!("--plugins: {e}"))?;
        }
        Ok(())
    }
}
