//! `trt-inspect`: this machine (`system`), an ONNX model, or an engine. See `trt-inspect --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    trt_tools::inspect::main()
}
