//! `trt-build`: ONNX → TensorRT engine. See `trt-build --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    trt_tools::build::main()
}
