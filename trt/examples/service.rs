//! A minimal inference service loop: load an engine (verified against its sidecar), run it on synthetic ndarray
//! inputs and print the outputs.
//!
//! ```text
//! cargo run -p trt --example service -- engines/out/yolov7-t4-fp16.engine [iterations]
//! ```
//! Without TensorRT, a GPU or the sidecar, it exits with a clear error (exit code 2) instead of crashing.

use std::process::ExitCode;
use std::time::Instant;

use half::f16;
use ndarray::{ArrayD, Dimension, IxDyn};
use trt::{DataType, Input, Library, LoadOptions, Logger, SessionConfig, Severity};

/// Host data for one input tensor, in the tensor's own element type.
enum HostTensor {
    F32(ArrayD<f32>),
    F16(ArrayD<f16>),
    U8(ArrayD<u8>),
    I32(ArrayD<i32>),
}

impl HostTensor {
    fn synthetic(dtype: DataType, shape: &[usize]) -> trt::Result<Self> {
        let pattern = |idx: IxDyn| idx.slice().iter().sum::<usize>() % 255;
        Ok(match dtype {
            DataType::F32 => HostTensor::F32(ArrayD::from_shape_fn(IxDyn(shape), |i| {
                pattern(i) as f32 / 255.0
            })),
            DataType::F16 => HostTensor::F16(ArrayD::from_shape_fn(IxDyn(shape), |i| {
                f16::from_f32(pattern(i) as f32 / 255.0)
            })),
            DataType::U8 => {
                HostTensor::U8(ArrayD::from_shape_fn(IxDyn(shape), |i| pattern(i) as u8))
            }
            DataType::I32 => {
                HostTensor::I32(ArrayD::from_shape_fn(IxDyn(shape), |i| pattern(i) as i32))
            }
            other => {
                return Err(trt::Error::InvalidArgument(format!(
                    "this example does not synthesize {other} inputs"
                )))
            }
        })
    }

    fn input<'a>(&'a self, name: &'a str) -> Input<'a> {
        match self {
            HostTensor::F32(a) => Input::new(name, a.view()),
            HostTensor::F16(a) => Input::new(name, a.view()),
            HostTensor::U8(a) => Input::new(name, a.view()),
            HostTensor::I32(a) => Input::new(name, a.view()),
        }
    }
}

fn summarize(outputs: &trt::Outputs<'_>, name: &str) -> trt::Result<String> {
    fn head<T: std::fmt::Debug + Copy>(v: ndarray::ArrayViewD<'_, T>) -> String {
        let first: Vec<T> = v.iter().take(6).copied().collect();
        format!("shape {:?} first {:?}", v.shape(), first)
    }
    Ok(match outputs.dtype(name)? {
        DataType::F32 => head(outputs.get::<f32>(name)?),
        DataType::F16 => head(outputs.get::<f16>(name)?),
        DataType::I32 => head(outputs.get::<i32>(name)?),
        DataType::I8 => head(outputs.get::<i8>(name)?),
        DataType::U8 => head(outputs.get::<u8>(name)?),
        DataType::Bool => head(outputs.get::<bool>(name)?),
        other => format!("({other} output not shown)"),
    })
}

fn run() -> trt::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(engine_path) = args.next() else {
        return Err(trt::Error::InvalidArgument(
            "usage: service <engine file> [iterations]".into(),
        ));
    };
    let iterations: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);

    let logger = Logger::new(Severity::Warning)
        .with_callback(|m| eprintln!("[TensorRT {:?}] {}", m.severity, m.message));
    let library = Library::load_with(LoadOptions {
        logger,
        ..LoadOptions::default()
    })?;
    // The sidecar says whether the plugin library is needed (the engine itself is verified in load_engine).
    if !trt::sidecar::read_sidecar(engine_path.as_ref())?
        .plugins
        .is_empty()
    {
        library.init_plugins()?;
    }
    println!(
        "TensorRT {} ({:?}, {}), device {} (sm {})",
        library.tensorrt_version(),
        library.flavor(),
        library.tensorrt_path().display(),
        library.device()?.name(),
        library.device()?.compute_capability()
    );
    let runtime = library.runtime()?;
    let engine = runtime.load_engine(&engine_path)?;
    for t in engine.io_tensors() {
        println!("  {:?} {} {} {:?}", t.mode, t.name, t.dtype, t.shape);
    }

    let mut session = engine.session(SessionConfig::default())?;
    let inputs: Vec<(String, HostTensor)> = engine
        .inputs()
        .map(|t| {
            let shape = session.capacity_shape(&t.name)?;
            let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
            Ok((t.name.clone(), HostTensor::synthetic(t.dtype, &shape)?))
        })
        .collect::<trt::Result<_>>()?;

    for i in 0..iterations {
        let views: Vec<Input<'_>> = inputs.iter().map(|(n, t)| t.input(n)).collect();
        let start = Instant::now();
        let outputs = session.infer(&views)?;
        let elapsed = start.elapsed();
        if i == 0 || i + 1 == iterations {
            println!("inference {i}: {:.3} ms", elapsed.as_secs_f64() * 1e3);
            for name in outputs.names() {
                println!("  {name}: {}", summarize(&outputs, name)?);
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if e.is_no_device() {
                eprintln!("hint: this machine has no usable NVIDIA GPU/driver; run the service on the target device");
            }
            ExitCode::from(2)
        }
    }
}
