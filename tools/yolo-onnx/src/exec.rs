//! CPU executor: runs a [`Model`] on tract-onnx and compares the outputs of two models.
//!
//! Used by the passes' tests, `trt-onnx verify`/`bench` and calibration. Inputs are named
//! [`TensorValue`]s (f32, f16 or i64 `ndarray`s); outputs come back in graph-output order.
//!
//! ```no_run
//! # fn main() -> yolo_onnx::Result<()> {
//! use yolo_onnx::exec::{Executor, ExecOptions, InputKind, make_inputs};
//! let model = yolo_onnx::Model::load("model.onnx")?;
//! let exec = Executor::new(&model, &ExecOptions::default())?;
//! let inputs = make_inputs(exec.inputs(), InputKind::Image, 7)?;
//! for (name, value) in exec.run(&inputs)? {
//!     println!("{name}: {:?}", value.shape());
//! }
//! # Ok(()) }
//! ```
//!
//! Unsupported operators are reported before tract sees the graph, naming the node; other tract
//! failures carry tract's own message (which names the node it failed on).

use std::collections::HashMap;
use std::sync::Arc;

use half::f16;
use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::prelude::*;

use crate::error::{Error, Result};
use crate::graph::{dtype_name, node_label};
use crate::model::Model;

/// A tensor handed to or returned by the executor.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorValue {
    /// 32-bit float (FLOAT; DOUBLE outputs are converted to this).
    F32(ArrayD<f32>),
    /// 16-bit float (FLOAT16).
    F16(ArrayD<f16>),
    /// 64-bit integer (INT64; other integer and BOOL outputs are converted to this).
    I64(ArrayD<i64>),
}

impl TensorValue {
    /// Shape of the tensor.
    pub fn shape(&self) -> &[usize] {
        match self {
            TensorValue::F32(a) => a.shape(),
            TensorValue::F16(a) => a.shape(),
            TensorValue::I64(a) => a.shape(),
        }
    }

    /// ONNX element type of the tensor.
    pub fn data_type(&self) -> DataType {
        match self {
            TensorValue::F32(_) => DataType::Float,
            TensorValue::F16(_) => DataType::Float16,
            TensorValue::I64(_) => DataType::Int64,
        }
    }

    /// The values converted to `f32` (exact for f16, rounded for large i64).
    pub fn to_f32(&self) -> ArrayD<f32> {
        match self {
            TensorValue::F32(a) => a.clone(),
            TensorValue::F16(a) => a.mapv(f16::to_f32),
            TensorValue::I64(a) => a.mapv(|x| x as f32),
        }
    }

    /// The `f32` array, if this is an F32 tensor.
    pub fn as_f32(&self) -> Option<&ArrayD<f32>> {
        match self {
            TensorValue::F32(a) => Some(a),
            _ => None,
        }
    }

    fn into_tract(self) -> Tensor {
        match self {
            TensorValue::F32(a) => a.into(),
            TensorValue::F16(a) => a.into(),
            TensorValue::I64(a) => a.into(),
        }
    }

    fn from_tract(t: &Tensor, name: &str) -> Result<TensorValue> {
        let err =
            |e: TractError| Error::other(format!("reading output '{name}'"), format!("{e:#}"));
        let dt = t.datum_type();
        Ok(if dt == f32::datum_type() {
            TensorValue::F32(t.to_plain_array_view::<f32>().map_err(err)?.to_owned())
        } else if dt == f16::datum_type() {
            TensorValue::F16(t.to_plain_array_view::<f16>().map_err(err)?.to_owned())
        } else if dt == f64::datum_type() {
            TensorValue::F32(
                t.to_plain_array_view::<f64>()
                    .map_err(err)?
                    .mapv(|x| x as f32),
            )
        } else if dt == bool::datum_type() {
            TensorValue::I64(
                t.to_plain_array_view::<bool>()
                    .map_err(err)?
                    .mapv(i64::from),
            )
        } else if dt.is_integer() {
            let c = t.cast_to::<i64>().map_err(err)?;
            TensorValue::I64(c.to_plain_array_view::<i64>().map_err(err)?.to_owned())
        } else {
            return Err(Error::other(
                format!("reading output '{name}'"),
                format!("output type {dt:?} is not supported by the executor (f32, f16, f64, integers, bool)"),
            ));
        })
    }
}

/// Named tensors, in graph order.
pub type NamedTensors = Vec<(String, TensorValue)>;

/// Looks a tensor up by name in a [`NamedTensors`] list.
pub fn find<'a>(tensors: &'a NamedTensors, name: &str) -> Option<&'a TensorValue> {
    tensors.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// A graph input or output as the executor sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IoSpec {
    /// Value name.
    pub name: String,
    /// ONNX element type number ([`DataType`]).
    pub data_type: i32,
    /// Declared dims (`None` = dynamic or unknown).
    pub declared: Vec<Option<i64>>,
    /// Concrete shape the executor runs with (inputs only; outputs: the declared dims with 0 for
    /// unknown ones).
    pub shape: Vec<usize>,
}

impl IoSpec {
    /// Printable element type name.
    pub fn dtype_name(&self) -> &'static str {
        dtype_name(self.data_type)
    }
}

/// Which engine runs a model on the CPU.
///
/// tract (pure Rust, always there) is the reference the passes' tests are written against. onnxruntime, opened at
/// run time when the `onnxruntime` feature is built in (the default), runs YOLO-sized convolutions about 3x faster
/// on x86-64 and is what verification and calibration use when its library is found ([`Backend::Auto`]). The tools
/// read the choice from `YOLO_ONNX_EXECUTOR` ([`Backend::from_env`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// tract-onnx (pure Rust).
    #[default]
    Tract,
    /// onnxruntime; an error when its library cannot be opened (the message says where it looked and the fix).
    #[serde(rename = "onnxruntime")]
    OnnxRuntime,
    /// onnxruntime when its library is found and takes the model (FLOAT, FLOAT16 and INT64 inputs), else tract.
    Auto,
}

impl Backend {
    /// Environment variable the tools read the backend from: `tract`, `onnxruntime` (`ort`) or `auto` (the
    /// default when unset).
    pub const ENV: &'static str = "YOLO_ONNX_EXECUTOR";

    /// Parses `tract`, `onnxruntime` (or `ort`), `auto`.
    pub fn parse(s: &str) -> Result<Backend> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tract" => Ok(Backend::Tract),
            "onnxruntime" | "ort" => Ok(Backend::OnnxRuntime),
            "auto" | "" => Ok(Backend::Auto),
            other => Err(Error::other(
                format!("{}={other}", Backend::ENV),
                "unknown CPU executor; use tract, onnxruntime or auto",
            )),
        }
    }

    /// The backend `YOLO_ONNX_EXECUTOR` names, [`Backend::Auto`] when it is unset.
    pub fn from_env() -> Result<Backend> {
        match std::env::var(Backend::ENV) {
            Ok(v) => Backend::parse(&v),
            Err(_) => Ok(Backend::Auto),
        }
    }

    /// Name as printed (`tract`, `onnxruntime`, `auto`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Tract => "tract",
            Backend::OnnxRuntime => "onnxruntime",
            Backend::Auto => "auto",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether onnxruntime can be used (built in and its library opened), and if not, why; the string names the library
/// and its version when it can.
pub fn onnxruntime_status() -> std::result::Result<String, String> {
    #[cfg(feature = "onnxruntime")]
    {
        crate::ort_exec::runtime()
            .map(|r| format!("onnxruntime {} ({})", r.version, r.path.display()))
            .map_err(str::to_string)
    }
    #[cfg(not(feature = "onnxruntime"))]
    {
        Err(
            "this build has no onnxruntime support (yolo-onnx's `onnxruntime` feature is off)"
                .into(),
        )
    }
}

/// Executor options.
#[derive(Clone, Debug, Default)]
pub struct ExecOptions {
    /// Concrete shapes for inputs with dynamic dimensions, by input name. Without an entry, a
    /// dynamic first (batch) dimension becomes 1 and any other dynamic dimension is an error.
    pub input_shapes: HashMap<String, Vec<usize>>,
    /// Skip tract's optimizer (declutter only). Slower to run, faster to prepare.
    pub no_optimize: bool,
    /// Engine that runs the model (tract unless asked).
    pub backend: Backend,
    /// Threads one run may use (onnxruntime's intra-op threads; tract runs on the calling thread). `None`: the
    /// available cores.
    pub threads: Option<usize>,
}

/// The prepared model, in the engine that runs it.
enum Engine {
    Tract(Arc<TypedRunnableModel>),
    #[cfg(feature = "onnxruntime")]
    Ort(crate::ort_exec::OrtModel),
}

/// A model prepared for repeated CPU runs.
pub struct Executor {
    engine: Engine,
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
    source_name: String,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("source_name", &self.source_name)
            .field("backend", &self.backend())
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

fn datum_type_for(data_type: i32) -> Option<DatumType> {
    Some(match DataType::try_from(data_type).ok()? {
        DataType::Float => f32::datum_type(),
        DataType::Float16 => f16::datum_type(),
        DataType::Double => f64::datum_type(),
        DataType::Int64 => i64::datum_type(),
        DataType::Int32 => i32::datum_type(),
        DataType::Int8 => i8::datum_type(),
        DataType::Uint8 => u8::datum_type(),
        DataType::Bool => bool::datum_type(),
        _ => return None,
    })
}

/// Version of tract-onnx used as the CPU executor (for messages).
pub const TRACT_VERSION: &str = "0.23";

/// Checks every node against the operators tract implements; errors name the first node that
/// tract cannot run.
pub fn check_supported_ops(model: &Model) -> Result<()> {
    let onnx = tract_onnx::onnx();
    for (i, n) in model.graph().nodes().iter().enumerate() {
        if !onnx.op_register.0.contains_key(&n.op_type) {
            let domain = if n.domain.is_empty() {
                "ai.onnx".to_string()
            } else {
                n.domain.clone()
            };
            return Err(Error::graph(
                node_label(n, i),
                format!(
                    "operator {domain}::{} is not implemented by the CPU executor (tract-onnx {}); \
                     this model cannot be checked on CPU (use --no-verify to skip the numerical check)",
                    n.op_type,
                    TRACT_VERSION
                ),
            )
            .in_model(model.source_name()));
        }
    }
    Ok(())
}

impl Executor {
    /// Prepares `model` for CPU execution on `options.backend`.
    pub fn new(model: &Model, options: &ExecOptions) -> Result<Executor> {
        let source = model.source_name().to_string();
        model.validate()?;
        let ctx = || format!("{source}: CPU executor (tract)");
        let mut inputs = Vec::new();
        for vi in model.graph().declared_inputs() {
            let data_type = vi.elem_type.unwrap_or(DataType::Float as i32);
            let declared = vi.dims.clone().ok_or_else(|| {
                Error::other(
                    ctx(),
                    format!(
                        "input '{}' has no shape; pass its shape explicitly",
                        vi.name
                    ),
                )
            })?;
            let shape = match options.input_shapes.get(&vi.name) {
                Some(s) => {
                    if s.len() != declared.len()
                        || s.iter().zip(&declared).any(|(&a, d)| d.is_some_and(|d| d as usize != a))
                    {
                        return Err(Error::other(
                            ctx(),
                            format!("input '{}': shape {s:?} does not match the declared dims {declared:?}", vi.name),
                        ));
                    }
                    s.clone()
                }
                None => declared
                    .iter()
                    .enumerate()
                    .map(|(i, d)| match d {
                        Some(d) => Ok(*d as usize),
                        None if i == 0 => Ok(1),
                        None => Err(Error::other(
                            ctx(),
                            format!(
                                "input '{}' has a dynamic dimension {i} ({declared:?}); give a concrete shape",
                                vi.name
                            ),
                        )),
                    })
                    .collect::<Result<Vec<_>>>()?,
            };
            inputs.push(IoSpec {
                name: vi.name.clone(),
                data_type,
                declared,
                shape,
            });
        }
        let outputs = model
            .graph()
            .declared_outputs()
            .into_iter()
            .map(|vi| {
                let declared = vi.dims.unwrap_or_default();
                IoSpec {
                    data_type: vi.elem_type.unwrap_or(0),
                    shape: declared.iter().map(|d| d.unwrap_or(0) as usize).collect(),
                    declared,
                    name: vi.name,
                }
            })
            .collect();

        let mut proto = model.to_proto();
        let wants_ort = match options.backend {
            Backend::Tract => false,
            Backend::OnnxRuntime => true,
            Backend::Auto => onnxruntime_status().is_ok(),
        };
        if wants_ort {
            // onnxruntime gets the shapes chosen above in the graph's inputs (tract gets them as input facts below).
            for spec in &inputs {
                if let Some(vi) = proto
                    .graph
                    .as_mut()
                    .and_then(|g| g.input.iter_mut().find(|v| v.name == spec.name))
                {
                    pin_shape(vi, &spec.shape);
                }
            }
            let threads = options
                .threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            match Executor::prepare_ort(&proto, &inputs, threads) {
                Ok(engine) => {
                    return Ok(Executor {
                        engine,
                        inputs,
                        outputs,
                        source_name: source,
                    })
                }
                Err(e) if options.backend == Backend::OnnxRuntime => {
                    return Err(Error::other(
                        format!("{source}: CPU executor (onnxruntime)"),
                        format!(
                            "{e} ({}=tract or auto runs the model on tract)",
                            Backend::ENV
                        ),
                    ))
                }
                Err(e) => {
                    tracing::debug!("{source}: onnxruntime cannot run the model ({e}); using tract")
                }
            }
        }
        check_supported_ops(model)?;
        let tract_err = |stage: &str, e: TractError| Error::other(ctx(), format!("{stage}: {e:#}"));
        let parsed = tract_onnx::onnx()
            .parse(&proto, None)
            .map_err(|e| tract_err("parsing", e))?;
        if !parsed.unresolved_inputs.is_empty() {
            return Err(Error::other(
                ctx(),
                format!("unresolved inputs: {:?}", parsed.unresolved_inputs),
            ));
        }
        let mut im = parsed.model;
        for (i, spec) in inputs.iter().enumerate() {
            let dt = datum_type_for(spec.data_type).ok_or_else(|| {
                Error::other(
                    ctx(),
                    format!(
                        "input '{}' has unsupported type {}",
                        spec.name,
                        spec.dtype_name()
                    ),
                )
            })?;
            im.set_input_fact(i, InferenceFact::dt_shape(dt, spec.shape.clone()))
                .map_err(|e| tract_err(&format!("setting input '{}'", spec.name), e))?;
        }
        let typed = im
            .into_typed()
            .map_err(|e| tract_err("analysing the graph", e))?;
        let typed = if options.no_optimize {
            typed
                .into_decluttered()
                .map_err(|e| tract_err("simplifying", e))?
        } else {
            typed
                .into_optimized()
                .map_err(|e| tract_err("optimizing", e))?
        };
        let plan = typed
            .into_runnable()
            .map_err(|e| tract_err("planning", e))?;
        Ok(Executor {
            engine: Engine::Tract(plan),
            inputs,
            outputs,
            source_name: source,
        })
    }

    #[cfg(feature = "onnxruntime")]
    fn prepare_ort(
        proto: &tract_onnx::pb::ModelProto,
        inputs: &[IoSpec],
        threads: usize,
    ) -> std::result::Result<Engine, String> {
        if let Some(s) = inputs
            .iter()
            .find(|s| !crate::ort_exec::input_type_supported(s.data_type))
        {
            return Err(format!("input '{}' is {}", s.name, s.dtype_name()));
        }
        let mut bytes = Vec::new();
        prost::Message::encode(proto, &mut bytes).map_err(|e| e.to_string())?;
        crate::ort_exec::OrtModel::new(bytes, threads).map(Engine::Ort)
    }

    #[cfg(not(feature = "onnxruntime"))]
    fn prepare_ort(
        _: &tract_onnx::pb::ModelProto,
        _: &[IoSpec],
        _: usize,
    ) -> std::result::Result<Engine, String> {
        Err(onnxruntime_status().unwrap_err())
    }

    /// The engine that runs the model ([`Backend::Tract`] or [`Backend::OnnxRuntime`], never `Auto`).
    pub fn backend(&self) -> Backend {
        match self.engine {
            Engine::Tract(_) => Backend::Tract,
            #[cfg(feature = "onnxruntime")]
            Engine::Ort(_) => Backend::OnnxRuntime,
        }
    }

    /// Sets the threads one run may use ([`ExecOptions::threads`]); onnxruntime makes a new session for a new count.
    #[cfg_attr(not(feature = "onnxruntime"), allow(unused_variables))]
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        match &mut self.engine {
            Engine::Tract(_) => Ok(()),
            #[cfg(feature = "onnxruntime")]
            Engine::Ort(m) => m.set_threads(threads.max(1)).map_err(|e| {
                Error::other(
                    format!("{}: CPU executor (onnxruntime)", self.source_name),
                    e,
                )
            }),
        }
    }

    /// Prepares a serialized model (`source_name` labels errors).
    pub fn from_bytes(bytes: &[u8], source_name: &str, options: &ExecOptions) -> Result<Executor> {
        Executor::new(&Model::from_bytes(bytes, source_name)?, options)
    }

    /// Graph inputs with the concrete shapes used.
    pub fn inputs(&self) -> &[IoSpec] {
        &self.inputs
    }

    /// Graph outputs as declared.
    pub fn outputs(&self) -> &[IoSpec] {
        &self.outputs
    }

    /// Runs the model. Every graph input must be given (by name, any order); extra names are an error.
    pub fn run(&self, inputs: &NamedTensors) -> Result<NamedTensors> {
        let out = self.run_raw(inputs)?;
        (0..out.len()).map(|i| out.get(i)).collect()
    }

    /// Runs the model like [`Executor::run`] but keeps the outputs as the executor produced them, without
    /// copying them into `ndarray`s: read them with [`RawOutputs::f32_slice`] (calibration streams every
    /// activation this way). An `Executor` is `Sync`: several threads may run it at once (tract: each run
    /// with its own state; onnxruntime: the runs take turns on one session, whose intra-op threads share the work).
    pub fn run_raw(&self, inputs: &NamedTensors) -> Result<RawOutputs> {
        let ctx = || format!("{}: running on the CPU executor", self.source_name);
        for (name, _) in inputs {
            if !self.inputs.iter().any(|s| &s.name == name) {
                let known: Vec<_> = self.inputs.iter().map(|s| s.name.as_str()).collect();
                return Err(Error::other(
                    ctx(),
                    format!("'{name}' is not a graph input (inputs: {known:?})"),
                ));
            }
        }
        let mut given: Vec<&TensorValue> = Vec::with_capacity(self.inputs.len());
        for spec in &self.inputs {
            let v = find(inputs, &spec.name).ok_or_else(|| {
                Error::other(ctx(), format!("input '{}' was not given", spec.name))
            })?;
            if v.shape() != spec.shape.as_slice() {
                return Err(Error::other(
                    ctx(),
                    format!(
                        "input '{}': shape {:?} differs from the prepared shape {:?} (pass it in ExecOptions::input_shapes)",
                        spec.name,
                        v.shape(),
                        spec.shape
                    ),
                ));
            }
            if v.data_type() as i32 != spec.data_type {
                return Err(Error::other(
                    ctx(),
                    format!(
                        "input '{}': got {} but the model declares {}",
                        spec.name,
                        dtype_name(v.data_type() as i32),
                        spec.dtype_name()
                    ),
                ));
            }
            given.push(v);
        }
        let values = match &self.engine {
            Engine::Tract(plan) => {
                let tv: TVec<TValue> = given
                    .into_iter()
                    .map(|v| v.clone().into_tract().into_tvalue())
                    .collect();
                Values::Tract(
                    plan.run(tv)
                        .map_err(|e| Error::other(ctx(), format!("{e:#}")))?,
                )
            }
            #[cfg(feature = "onnxruntime")]
            Engine::Ort(m) => {
                let v = m.run(&self.inputs, &given).map_err(|e| {
                    Error::other(
                        ctx(),
                        format!(
                            "onnxruntime: {e} ({}=tract runs the pure-Rust executor instead)",
                            Backend::ENV
                        ),
                    )
                })?;
                Values::Ort(v.iter().map(crate::ort_exec::shape).collect(), v)
            }
        };
        Ok(RawOutputs {
            names: self.outputs.iter().map(|s| s.name.clone()).collect(),
            values,
        })
    }
}

/// Sets every dim of a tensor value info to `shape`.
fn pin_shape(vi: &mut tract_onnx::pb::ValueInfoProto, shape: &[usize]) {
    use tract_onnx::pb::{tensor_shape_proto, type_proto, TensorShapeProto};
    if let Some(type_proto::Value::TensorType(t)) =
        vi.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.shape = Some(TensorShapeProto {
            dim: shape
                .iter()
                .map(|&d| tensor_shape_proto::Dimension {
                    denotation: String::new(),
                    value: Some(tensor_shape_proto::dimension::Value::DimValue(d as i64)),
                })
                .collect(),
        });
    }
}

/// Output values as the engine returned them.
enum Values {
    Tract(TVec<TValue>),
    #[cfg(feature = "onnxruntime")]
    Ort(Vec<Vec<usize>>, Vec<ort::value::DynValue>),
}

/// Outputs of [`Executor::run_raw`], in graph-output order, held without a copy.
pub struct RawOutputs {
    names: Vec<String>,
    values: Values,
}

impl std::fmt::Debug for RawOutputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawOutputs")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl RawOutputs {
    /// Number of outputs.
    pub fn len(&self) -> usize {
        let n = match &self.values {
            Values::Tract(v) => v.len(),
            #[cfg(feature = "onnxruntime")]
            Values::Ort(_, v) => v.len(),
        };
        n.min(self.names.len())
    }

    /// True when the model has no outputs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Name of output `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// Shape of output `i`.
    pub fn shape(&self, i: usize) -> &[usize] {
        match &self.values {
            Values::Tract(v) => v[i].shape(),
            #[cfg(feature = "onnxruntime")]
            Values::Ort(shapes, _) => &shapes[i],
        }
    }

    /// The values of output `i` in row-major order, borrowed; `None` when it is not a FLOAT tensor.
    pub fn f32_slice(&self, i: usize) -> Option<&[f32]> {
        match &self.values {
            Values::Tract(v) => {
                let t: &Tensor = &v[i];
                if t.datum_type() != f32::datum_type() {
                    return None;
                }
                t.as_plain_ram()?.as_slice::<f32>().ok()
            }
            #[cfg(feature = "onnxruntime")]
            Values::Ort(_, v) => crate::ort_exec::f32_slice(&v[i]),
        }
    }

    /// Output `i` converted to a [`TensorValue`] (a copy), with its name.
    pub fn get(&self, i: usize) -> Result<(String, TensorValue)> {
        let name = &self.names[i];
        let value = match &self.values {
            Values::Tract(v) => TensorValue::from_tract(&v[i], name)?,
            #[cfg(feature = "onnxruntime")]
            Values::Ort(_, v) => crate::ort_exec::to_tensor_value(&v[i], name)?,
        };
        Ok((name.clone(), value))
    }
}

/// Runs `model` once on `inputs` (prepares an [`Executor`] with default options).
pub fn run_model(model: &Model, inputs: &NamedTensors) -> Result<NamedTensors> {
    let mut options = ExecOptions::default();
    for (name, v) in inputs {
        options
            .input_shapes
            .insert(name.clone(), v.shape().to_vec());
    }
    Executor::new(model, &options)?.run(inputs)
}

/// Kind of generated input data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// Independent uniform values in [0, 1) (integers: uniform in [0, 10)).
    Random,
    /// Image-like data in [0, 1]: a smooth colour gradient plus soft blobs and hard-edged
    /// rectangles (for 4-D NCHW inputs; other ranks get smooth waves).
    Image,
}

impl std::fmt::Display for InputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InputKind::Random => "random",
            InputKind::Image => "image",
        })
    }
}

/// Generates deterministic inputs for `specs` (e.g. [`Executor::inputs`]) from `seed`.
pub fn make_inputs(specs: &[IoSpec], kind: InputKind, seed: u64) -> Result<NamedTensors> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    specs
        .iter()
        .map(|s| {
            let dt = DataType::try_from(s.data_type).unwrap_or(DataType::Undefined);
            let v = match dt {
                DataType::Float | DataType::Float16 => {
                    let a = match kind {
                        InputKind::Random => random_f32(&s.shape, &mut rng),
                        InputKind::Image => image_like(&s.shape, &mut rng),
                    };
                    if dt == DataType::Float16 {
                        TensorValue::F16(a.mapv(f16::from_f32))
                    } else {
                        TensorValue::F32(a)
                    }
                }
                DataType::Int64 => TensorValue::I64(ArrayD::from_shape_simple_fn(IxDyn(&s.shape), || {
                    rng.random_range(0..10)
                })),
                _ => {
                    return Err(Error::other(
                        "generating inputs",
                        format!("input '{}' has type {}; only FLOAT, FLOAT16 and INT64 inputs can be generated", s.name, s.dtype_name()),
                    ))
                }
            };
            Ok((s.name.clone(), v))
        })
        .collect()
}

/// Uniform values in [0, 1).
pub fn random_f32(shape: &[usize], rng: &mut impl Rng) -> ArrayD<f32> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random::<f32>())
}

/// Image-like values in [0, 1] (see [`InputKind::Image`]).
pub fn image_like(shape: &[usize], rng: &mut impl Rng) -> ArrayD<f32> {
    let mut a = ArrayD::<f32>::zeros(IxDyn(shape));
    if shape.len() != 4 {
        let (f, p) = (
            rng.random_range(0.01f32..0.2),
            rng.random_range(0.0f32..std::f32::consts::TAU),
        );
        for (i, x) in a.iter_mut().enumerate() {
            *x = 0.5 + 0.5 * (f * i as f32 + p).sin();
        }
        return a;
    }
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
    for b in 0..n {
        // Gradient: base colour + direction per channel.
        let base: Vec<f32> = (0..c).map(|_| rng.random_range(0.2f32..0.8)).collect();
        let gx: Vec<f32> = (0..c).map(|_| rng.random_range(-0.3f32..0.3)).collect();
        let gy: Vec<f32> = (0..c).map(|_| rng.random_range(-0.3f32..0.3)).collect();
        struct Blob {
            cy: f32,
            cx: f32,
            r: f32,
            colour: Vec<f32>,
        }
        let blobs: Vec<Blob> = (0..rng.random_range(3..7))
            .map(|_| Blob {
                cy: rng.random::<f32>(),
                cx: rng.random::<f32>(),
                r: rng.random_range(0.05f32..0.25),
                colour: (0..c).map(|_| rng.random_range(-0.5f32..0.5)).collect(),
            })
            .collect();
        let rects: Vec<(f32, f32, f32, f32, Vec<f32>)> = (0..rng.random_range(1..4))
            .map(|_| {
                let (y0, x0) = (rng.random::<f32>(), rng.random::<f32>());
                let (hh, ww) = (
                    rng.random_range(0.05f32..0.4),
                    rng.random_range(0.05f32..0.4),
                );
                (
                    y0,
                    x0,
                    y0 + hh,
                    x0 + ww,
                    (0..c).map(|_| rng.random::<f32>()).collect(),
                )
            })
            .collect();
        for y in 0..h {
            let fy = (y as f32 + 0.5) / h as f32;
            for x in 0..w {
                let fx = (x as f32 + 0.5) / w as f32;
                for ch in 0..c {
                    let mut v = base[ch] + gx[ch] * (fx - 0.5) + gy[ch] * (fy - 0.5);
                    for bl in &blobs {
                        let d2 = ((fy - bl.cy).powi(2) + (fx - bl.cx).powi(2)) / (bl.r * bl.r);
                        v += bl.colour[ch] * (-d2).exp();
                    }
                    for (y0, x0, y1, x1, col) in &rects {
                        if fy >= *y0 && fy < *y1 && fx >= *x0 && fx < *x1 {
                            v = col[ch];
                        }
                    }
                    a[[b, ch, y, x]] = v.clamp(0.0, 1.0);
                }
            }
        }
    }
    a
}

/// Difference between the same output of two models.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutputDiff {
    /// Output name.
    pub name: String,
    /// Output shape.
    pub shape: Vec<usize>,
    /// Largest |a − b|.
    pub max_abs: f64,
    /// Largest |a − b| / max(|a|, [`REL_FLOOR`]).
    pub max_rel: f64,
    /// Mean |a − b|.
    pub mean_abs: f64,
    /// Cosine similarity of the flattened outputs (1 when both are all zero).
    pub cosine: f64,
    /// Elements where exactly one side is non-finite, or both are non-finite but differ.
    pub nonfinite_mismatches: usize,
    /// Elements outside the tolerance `atol + rtol·scale` (see [`compare_outputs`]).
    pub violations: usize,
    /// The output's scale: the largest finite |a| of the reference.
    pub scale: f64,
    /// `max_abs` as a fraction of the tolerance `atol + rtol·scale` (0.003: 0.3 % of it; above 1: outside).
    pub tolerance_ratio: f64,
}

/// Denominator floor of the relative error, so values near zero do not dominate it.
pub const REL_FLOOR: f64 = 1e-3;

/// Compares the outputs `b` against the reference `a` (matched by name; a missing output or a
/// shape mismatch is an error). An element violates the tolerance when `|a − b| > atol + rtol·scale`, where
/// `scale` is the largest |a| of that output, or when only one side is finite.
///
/// The tolerance is scale-aware because float reassociation (what an exact re-parameterization changes) errs in
/// proportion to the magnitudes flowing through the graph, not to each output element: an element near zero in an
/// output of magnitude ~500 moves by ~1e-4 × 500 under a correct fold (the official YOLOv9 fuse of its own export
/// differs by 0.35 there), while the classic fold mistakes move outputs by orders of magnitude more.
pub fn compare_outputs(
    a: &NamedTensors,
    b: &NamedTensors,
    atol: f64,
    rtol: f64,
) -> Result<Vec<OutputDiff>> {
    a.iter()
        .map(|(name, va)| {
            let vb = find(b, name).ok_or_else(|| {
                Error::other(
                    "comparing outputs",
                    format!("output '{name}' is missing from the second model"),
                )
            })?;
            if va.shape() != vb.shape() {
                return Err(Error::other(
                    "comparing outputs",
                    format!(
                        "output '{name}': shapes differ: {:?} vs {:?}",
                        va.shape(),
                        vb.shape()
                    ),
                ));
            }
            Ok(diff(name, &va.to_f32(), &vb.to_f32(), atol, rtol))
        })
        .collect()
}

/// Difference statistics of two same-shaped arrays (see [`compare_outputs`]).
pub fn diff(name: &str, a: &ArrayD<f32>, b: &ArrayD<f32>, atol: f64, rtol: f64) -> OutputDiff {
    let scale = a
        .iter()
        .filter(|v| v.is_finite())
        .fold(0f64, |m, &v| m.max(f64::from(v).abs()));
    let tolerance = atol + rtol * scale;
    let (mut max_abs, mut max_rel, mut sum_abs) = (0f64, 0f64, 0f64);
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    let (mut nonfinite, mut violations, mut count) = (0usize, 0usize, 0usize);
    for (&x, &y) in a.iter().zip(b.iter()) {
        let (x, y) = (x as f64, y as f64);
        if !x.is_finite() || !y.is_finite() {
            let same = (x.is_nan() && y.is_nan()) || x == y;
            if !same {
                nonfinite += 1;
                violations += 1;
            }
            continue;
        }
        let d = (x - y).abs();
        max_abs = max_abs.max(d);
        max_rel = max_rel.max(d / x.abs().max(REL_FLOOR));
        sum_abs += d;
        count += 1;
        dot += x * y;
        na += x * x;
        nb += y * y;
        if d > tolerance {
            violations += 1;
        }
    }
    let cosine = if na == 0.0 && nb == 0.0 {
        1.0
    } else if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    };
    OutputDiff {
        name: name.to_string(),
        shape: a.shape().to_vec(),
        max_abs,
        max_rel,
        mean_abs: if count > 0 {
            sum_abs / count as f64
        } else {
            0.0
        },
        cosine,
        nonfinite_mismatches: nonfinite,
        violations,
        scale,
        tolerance_ratio: if tolerance > 0.0 {
            max_abs / tolerance
        } else if max_abs > 0.0 {
            f64::INFINITY
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{
        make_attr_i, make_attr_ints, make_node, make_value_info, tensor_from_f16, tensor_from_f32,
    };
    use tract_onnx::pb::GraphProto;

    fn conv_model(dt: DataType) -> Model {
        let w = ArrayD::from_shape_fn(IxDyn(&[4, 3, 3, 3]), |d| {
            ((d[0] * 7 + d[1] * 3 + d[2] + d[3]) % 5) as f32 * 0.1 - 0.2
        });
        let init = if dt == DataType::Float16 {
            tensor_from_f16("w", &w.mapv(f16::from_f32))
        } else {
            tensor_from_f32("w", &w)
        };
        let g = GraphProto {
            name: "c".into(),
            input: vec![make_value_info("x", dt, &[1, 3, 8, 8])],
            output: vec![make_value_info("y", dt, &[1, 4, 8, 8])],
            node: vec![make_node(
                "Conv",
                "conv0",
                &["x", "w"],
                &["y"],
                vec![
                    make_attr_ints("pads", &[1, 1, 1, 1]),
                    make_attr_i("group", 1),
                ],
            )],
            initializer: vec![init],
            ..Default::default()
        };
        Model::new(g, 13)
    }

    #[test]
    fn runs_f32_and_f16_conv_and_they_agree() {
        let m32 = conv_model(DataType::Float);
        let m16 = conv_model(DataType::Float16);
        let e32 = Executor::new(&m32, &ExecOptions::default()).unwrap();
        let e16 = Executor::new(&m16, &ExecOptions::default()).unwrap();
        let in32 = make_inputs(e32.inputs(), InputKind::Image, 3).unwrap();
        let in16 = make_inputs(e16.inputs(), InputKind::Image, 3).unwrap();
        let o32 = e32.run(&in32).unwrap();
        let o16 = e16.run(&in16).unwrap();
        assert_eq!(o16[0].1.data_type(), DataType::Float16);
        let d = compare_outputs(&o32, &o16, 1e-2, 1e-2).unwrap();
        assert!(d[0].max_abs > 0.0 && d[0].max_abs < 1e-2, "{d:?}");
        // Reference value computed by hand for one output element (centre pixel, channel 0).
        let x = find(&in32, "x").unwrap().as_f32().unwrap().clone();
        let w = m32.graph().initializer_f32("w").unwrap().unwrap();
        let mut acc = 0f32;
        for c in 0..3 {
            for ky in 0..3 {
                for kx in 0..3 {
                    acc += w[[0, c, ky, kx]] * x[[0, c, 3 + ky, 3 + kx]];
                }
            }
        }
        let y = o32[0].1.as_f32().unwrap();
        assert!(
            (y[[0, 0, 4, 4]] - acc).abs() < 1e-5,
            "{} vs {acc}",
            y[[0, 0, 4, 4]]
        );
    }

    #[test]
    fn unsupported_op_names_node() {
        let mut m = conv_model(DataType::Float);
        m.graph_mut()
            .nodes_mut()
            .push(make_node("FancyOp", "weird_node", &["y"], &["z"], vec![]));
        m.graph_mut().edit_proto(|g| g.output[0].name = "z".into());
        let e = Executor::new(&m, &ExecOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("weird_node") && e.contains("FancyOp"), "{e}");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let m = conv_model(DataType::Float);
        let e = Executor::new(&m, &ExecOptions::default()).unwrap();
        let mut inputs = make_inputs(e.inputs(), InputKind::Random, 1).unwrap();
        inputs[0].1 = TensorValue::F32(ArrayD::zeros(IxDyn(&[1, 3, 4, 4])));
        assert!(e.run(&inputs).unwrap_err().to_string().contains("shape"));
        let err = e
            .run(&vec![(
                "nope".into(),
                TensorValue::I64(ArrayD::zeros(IxDyn(&[1]))),
            )])
            .unwrap_err();
        assert!(err.to_string().contains("'nope'"), "{err}");
    }

    #[test]
    fn image_inputs_are_in_range_and_deterministic() {
        let spec = IoSpec {
            name: "x".into(),
            data_type: DataType::Float as i32,
            declared: vec![],
            shape: vec![2, 3, 16, 16],
        };
        let a = make_inputs(std::slice::from_ref(&spec), InputKind::Image, 5).unwrap();
        let b = make_inputs(std::slice::from_ref(&spec), InputKind::Image, 5).unwrap();
        let c = make_inputs(std::slice::from_ref(&spec), InputKind::Image, 6).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let x = a[0].1.as_f32().unwrap();
        assert!(x.iter().all(|v| (0.0..=1.0).contains(v)));
        // Smooth: neighbouring pixels differ much less than random data would on average.
        let mut tv = 0f32;
        for y in 0..16 {
            for xx in 0..15 {
                tv += (x[[0, 0, y, xx + 1]] - x[[0, 0, y, xx]]).abs();
            }
        }
        assert!(
            tv / (16.0 * 15.0) < 0.15,
            "mean neighbour difference {}",
            tv / 240.0
        );
    }

    #[test]
    fn diff_statistics() {
        let a = ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0, 2.0, 0.0, f32::NAN]).unwrap();
        let b = ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0, 2.5, 0.0, f32::NAN]).unwrap();
        let d = diff("o", &a, &b, 0.1, 0.0);
        assert_eq!(d.max_abs, 0.5);
        assert_eq!(d.max_rel, 0.25);
        assert_eq!(d.violations, 1);
        assert_eq!(d.nonfinite_mismatches, 0);
        assert!((d.cosine - (1.0 + 5.0) / (5f64.sqrt() * 7.25f64.sqrt())).abs() < 1e-12);
        let c = ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0, 2.0, 0.0, 1.0]).unwrap();
        assert_eq!(diff("o", &a, &c, 0.1, 0.0).nonfinite_mismatches, 1);
    }
}

#[cfg(test)]
mod tract_refusal_tests {
    use super::*;
    use crate::testgen::{Act, GraphBuilder};

    /// A training-mode BatchNormalization (3 outputs) is refused by tract during analysis; the
    /// error names the node.
    #[test]
    fn tract_refusal_names_node() {
        let mut b = GraphBuilder::new("t", 1);
        let x = b.input("images", &[1, 3, 8, 8]);
        let y = b.conv_bn_act(&x, 4, 3, 1, Act::None);
        b.output(&y);
        let mut m = b.finish();
        crate::testgen::make_training_mode_bn(&mut m, 0, "train_bn");
        let e = Executor::new(&m, &ExecOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("train_bn"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
