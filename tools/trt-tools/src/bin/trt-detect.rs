//! `trt-detect`: run a YOLO model on images and print or draw the detections. See `trt-detect --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    trt_tools::detect::main()
}
