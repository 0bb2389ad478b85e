//! Logging to stderr, the same for every program that logs.

/// The `-v` filter: debug for the project's crates and TensorRT's log (`tensorrt`), warnings from everything else.
pub const VERBOSE_FILTER: &str = "warn,tensorrt=debug,trt=debug,trt_sys=debug,trt_tools=debug,yolo_onnx=debug,\
                                  yolo_rt=debug,trt_build=debug,trt_bench=debug,trt_detect=debug,trt_inspect=debug,\
                                  trt_onnx=debug";

/// Logs to stderr: warnings by default, debug with `--verbose` (TensorRT's log included), errors only with `--quiet`.
/// `RUST_LOG` overrides. Colours only when stderr is a terminal (TensorRT's messages go into CI logs and pipes).
pub fn init(verbose: bool, quiet: bool) {
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
