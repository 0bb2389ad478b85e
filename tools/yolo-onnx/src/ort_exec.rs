//! onnxruntime as a CPU executor ([`crate::exec::Backend::OnnxRuntime`]), opened at run time.
//!
//! Nothing is linked: `libonnxruntime.so` is opened with dlopen on first use, from `ORT_DYLIB_PATH` when it is set
//! (the `ort` crate's convention; PyPI's `onnxruntime` wheel ships the library in `onnxruntime/capi/`), else as
//! `libonnxruntime.so` / `libonnxruntime.so.1` next to the executable or through the loader path. The `ort` crate
//! reads the library's version before any other call, so an older or foreign library is a clear error.
//!
//! A prepared model keeps one session (one copy of the prepacked weights) with as many intra-op threads as the
//! executor was given; runs from several threads take turns on it.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use half::f16;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{DynValue, TensorRef};

use crate::exec::{IoSpec, TensorValue};
use tract_onnx::pb::tensor_proto::DataType;

/// Oldest onnxruntime the executor takes: 1.MIN_MINOR (the C API version the `ort` crate asks for).
const MIN_MINOR: u32 = ort::MINOR_VERSION;

/// The loaded library: where it came from, its version and the environment sessions are made in.
pub struct Runtime {
    /// Path handed to dlopen.
    pub path: PathBuf,
    /// Version string the library reports (`1.32.0`).
    pub version: String,
    env: ort::environment::Environment,
}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The onnxruntime library, loaded once per process; `Err` says why it is not usable (what was tried and the fix).
pub fn runtime() -> Result<&'static Runtime, &'static str> {
    RUNTIME.get_or_init(load).as_ref().map_err(String::as_str)
}

fn candidates() -> Vec<PathBuf> {
    match std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
        Some(p) => vec![PathBuf::from(p)],
        None => vec!["libonnxruntime.so".into(), "libonnxruntime.so.1".into()],
    }
}

const HINT: &str = "install onnxruntime (`pip install onnxruntime`) and set ORT_DYLIB_PATH to the \
                    libonnxruntime.so.* in its onnxruntime/capi/ directory, or put libonnxruntime.so on the loader \
                    path";

fn load() -> Result<Runtime, String> {
    let mut tried = Vec::new();
    for path in candidates() {
        // ort opens the library, reads its version (an older one than 1.MIN_MINOR is an error) and keeps it loaded.
        match ort::init_from(&path) {
            Ok(builder) => {
                let env = builder
                    .with_name("yolo-onnx")
                    .build()
                    .map_err(|e| format!("{}: creating the environment: {e}", path.display()))?;
                return Ok(Runtime {
                    version: version_from_info(ort::info()),
                    path,
                    env,
                });
            }
            Err(e) => tried.push(e.to_string()),
        }
    }
    Err(format!(
        "onnxruntime 1.{MIN_MINOR} or newer not found: {} ({HINT})",
        tried.join("; ")
    ))
}

/// The release in onnxruntime's build info (`git-branch=rel-1.32.0, …` → `1.32.0`), else the info itself.
fn version_from_info(info: &str) -> String {
    info.split(['=', ',', ' '])
        .find_map(|w| w.strip_prefix("rel-"))
        .map_or_else(|| info.trim().to_string(), str::to_string)
}

/// A model prepared for onnxruntime: the serialized graph and its session. Runs from several threads take turns (the
/// session's intra-op threads are where the parallelism is).
pub struct OrtModel {
    bytes: Vec<u8>,
    threads: usize,
    session: Mutex<Session>,
}

impl std::fmt::Debug for OrtModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtModel")
            .field("bytes", &self.bytes.len())
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

/// Whether onnxruntime can take inputs of this ONNX element type through this executor.
pub fn input_type_supported(data_type: i32) -> bool {
    matches!(
        DataType::try_from(data_type),
        Ok(DataType::Float | DataType::Float16 | DataType::Int64)
    )
}

impl OrtModel {
    /// Loads the library if needed and makes the session (which checks the graph) with `threads` intra-op threads.
    pub fn new(bytes: Vec<u8>, threads: usize) -> Result<OrtModel, String> {
        let rt = runtime().map_err(str::to_string)?;
        let session = Mutex::new(session(rt, &bytes, threads)?);
        Ok(OrtModel {
            bytes,
            threads,
            session,
        })
    }

    /// Makes a new session with `threads` intra-op threads (when that differs from the current one).
    pub fn set_threads(&mut self, threads: usize) -> Result<(), String> {
        if threads != self.threads {
            let rt = runtime().map_err(str::to_string)?;
            self.session = Mutex::new(session(rt, &self.bytes, threads)?);
            self.threads = threads;
        }
        Ok(())
    }

    /// Runs the model on `inputs` (in `specs` order, already checked against them); outputs in graph order.
    pub fn run(&self, specs: &[IoSpec], inputs: &[&TensorValue]) -> Result<Vec<DynValue>, String> {
        let mut s = self
            .session
            .lock()
            .map_err(|_| "an earlier run panicked".to_string())?;
        run_session(&mut s, specs, inputs)
    }
}

fn session(rt: &Runtime, bytes: &[u8], threads: usize) -> Result<Session, String> {
    let e = |e: ort::Error| format!("onnxruntime {}: {e}", rt.version);
    Session::builder(&rt.env)
        .map_err(e)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|x| e(x.into()))?
        .with_intra_threads(threads.max(1))
        .map_err(|x| e(x.into()))?
        .with_inter_threads(1)
        .map_err(|x| e(x.into()))?
        .with_log_level(ort::logging::LogLevel::Error)
        .map_err(|x| e(x.into()))?
        .commit_from_memory(bytes)
        .map_err(e)
}

fn run_session(
    s: &mut Session,
    specs: &[IoSpec],
    inputs: &[&TensorValue],
) -> Result<Vec<DynValue>, String> {
    let err = |e: ort::Error| e.to_string();
    let mut feed: Vec<(String, ort::session::SessionInputValue<'_>)> =
        Vec::with_capacity(inputs.len());
    for (spec, v) in specs.iter().zip(inputs) {
        let shape: Vec<i64> = v.shape().iter().map(|&d| d as i64).collect();
        let value: ort::session::SessionInputValue<'_> = match v {
            TensorValue::F32(a) => {
                let data = a.as_slice().ok_or("input is not contiguous")?;
                TensorRef::from_array_view((shape, data))
                    .map_err(err)?
                    .into()
            }
            TensorValue::F16(a) => {
                let data: &[f16] = a.as_slice().ok_or("input is not contiguous")?;
                TensorRef::from_array_view((shape, data))
                    .map_err(err)?
                    .into()
            }
            TensorValue::I64(a) => {
                let data = a.as_slice().ok_or("input is not contiguous")?;
                TensorRef::from_array_view((shape, data))
                    .map_err(err)?
                    .into()
            }
        };
        feed.push((spec.name.clone(), value));
    }
    let outputs = s.run(feed).map_err(err)?;
    Ok(outputs.into_iter().map(|(_, v)| v).collect())
}

/// Shape of an output value.
pub fn shape(v: &DynValue) -> Vec<usize> {
    match v.dtype() {
        ort::value::ValueType::Tensor { shape, .. } => {
            shape.iter().map(|&d| d.max(0) as usize).collect()
        }
        _ => Vec::new(),
    }
}

/// The values of a FLOAT output, borrowed.
pub fn f32_slice(v: &DynValue) -> Option<&[f32]> {
    v.try_extract_tensor::<f32>().ok().map(|(_, d)| d)
}

/// An output converted to a [`TensorValue`] (FLOAT16 stays f16, DOUBLE becomes f32, integers and BOOL i64).
pub fn to_tensor_value(v: &DynValue, name: &str) -> crate::Result<TensorValue> {
    let shape = shape(v);
    let bad = |what: &str| {
        crate::Error::other(
            format!("reading output '{name}'"),
            format!("onnxruntime output {what}"),
        )
    };
    fn arr<T>(
        shape: &[usize],
        data: Vec<T>,
    ) -> std::result::Result<ndarray::ArrayD<T>, ndarray::ShapeError> {
        ndarray::ArrayD::from_shape_vec(shape.to_vec(), data)
    }
    macro_rules! try_as {
        ($t:ty, $f:expr, $wrap:path) => {
            if let Ok((_, d)) = v.try_extract_tensor::<$t>() {
                let data: Vec<_> = d.iter().map($f).collect();
                return arr(&shape, data)
                    .map($wrap)
                    .map_err(|e| bad(&e.to_string()));
            }
        };
    }
    try_as!(f32, |&x| x, TensorValue::F32);
    try_as!(f16, |&x| x, TensorValue::F16);
    try_as!(f64, |&x| x as f32, TensorValue::F32);
    try_as!(i64, |&x| x, TensorValue::I64);
    try_as!(i32, |&x| i64::from(x), TensorValue::I64);
    try_as!(i8, |&x| i64::from(x), TensorValue::I64);
    try_as!(u8, |&x| i64::from(x), TensorValue::I64);
    try_as!(bool, |&x| i64::from(x), TensorValue::I64);
    Err(bad(&format!(
        "of type {:?} is not supported by the executor (f32, f16, f64, integers, bool)",
        v.dtype()
    )))
}
