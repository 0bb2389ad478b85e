//! What the trt-tools benches share: timing one run of a built program, and the median of the rounds.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `exe ARGS` in `dir` with `env` set and returns its wall time; a failure stops the bench with its stderr.
pub fn run(exe: &str, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Duration {
    let t = Instant::now();
    let o = Command::new(exe)
        .current_dir(dir)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run the program");
    let took = t.elapsed();
    assert!(
        o.status.success(),
        "{exe} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    took
}

/// The median of the rounds (the upper one of an even count).
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
