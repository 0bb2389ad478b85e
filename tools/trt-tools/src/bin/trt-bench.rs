//! `trt-bench`: latency and throughput of TensorRT engines, trtexec-style. See `trt-bench --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    trt_tools::bench::main()
}
