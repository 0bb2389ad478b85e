//! Files the programs write: atomically, so a crash or a kill never leaves a partial one; and the check, before any
//! work, that an output path can be written ([`check_writable`]).

use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory is written, flushed and renamed over
/// `path`, so a crash or kill leaves either the old file or the new one, never a partial file. Parent directories are
/// created.
pub fn atomic_write(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = temp_file(path)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    test_pause_before_rename();
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// An empty temporary file beside `path` (parent directories created), named and created like [`atomic_write`]'s,
/// for an output another process writes (trt-detect's ffmpeg encoder): rename it over `path` with
/// [`tempfile::TempPath::persist`] once complete; dropped before that, it is removed.
pub fn temp_beside(path: &std::path::Path) -> std::io::Result<tempfile::TempPath> {
    Ok(temp_file(path)?.into_temp_path())
}

/// The temporary file of an output: `.<name>.XXXXXX.tmp` in `path`'s directory (created), 0666 less the umask like
/// any other file the tools write (tempfile's own default is 0600).
fn temp_file(path: &std::path::Path) -> std::io::Result<tempfile::NamedTempFile> {
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
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(&dir)
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

/// Checks, before any work, that `path` can be written: it is not a directory, and its nearest existing ancestor is
/// a directory this process can create files in (a file is created there and removed). `what` names the option.
pub fn check_writable(what: &str, path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        anyhow::bail!(
            "{what} {}: is a directory; give a file path",
            path.display()
        );
    }
    let mut dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    while !dir.exists() {
        dir = match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => p,
            None => Path::new("."),
        };
        if dir == Path::new(".") {
            break;
        }
    }
    if !dir.is_dir() {
        anyhow::bail!(
            "{what} {}: {} is not a directory",
            path.display(),
            dir.display()
        );
    }
    tempfile::Builder::new()
        .prefix(".trt-build-write-check.")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| {
            anyhow::anyhow!(
                "{what} {}: cannot write in {} ({e}); choose a writable location",
                path.display(),
                dir.display()
            )
        })
}
