//! `trt-onnx`: prepare ONNX models for TensorRT without TensorRT. See `trt-onnx --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    trt_tools::onnx::main()
}
