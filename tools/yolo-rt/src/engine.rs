//! TensorRT backend: runs a serialized engine (verified against its sidecar) through [`trt::Session`]s.
//!
//! # What it takes from the engine
//! [`engine_io`] maps the engine's IO tensor descriptions to the [`InputInfo`] and [`OutputInfo`] a
//! [`Detector`](crate::Detector) needs: exactly one linear NCHW input with 3 channels, f32 or f16; the batch dimension
//! (static, or `-1` with the optimization profile's max as `max_batch`) and the height/width (static, or the profile's
//! *opt* shape when dynamic — the size TensorRT tuned for); outputs of f32, f16 or i32 in linear format.
//!
//! # Loading order
//! [`EngineBackend::load`] reads and checks the sidecar first (pure Rust, so a missing or corrupt sidecar is reported
//! the same way on every machine), then loads TensorRT + CUDA ([`Error::BackendUnavailable`] when the libraries, the
//! driver or a usable GPU are missing), then lets [`trt::Runtime::load_engine`] verify version, GPU, plugins and the
//! engine checksum before TensorRT reads a byte.
//!
//! # Copies
//! Outputs: [`TensorView`]s borrow the session's pinned output buffers directly (no host copy).
//!
//! Inputs: [`EngineBackend::submit_with`] lets the caller pre-process (letterbox) straight into a session's pinned
//! input buffer ([`trt::Session::input_mut`]) and enqueues H2D → engine → D2H on what is there
//! ([`trt::Session::submit_in_place`]): no host copy at all. The [`Backend`] trait path keeps one host copy:
//! [`Backend::run`] receives an [`InputBuffer`] that the caller owns and fills *before* choosing a session, while the
//! pinned input buffers belong to the sessions (they must, so that no buffer can be freed or rewritten while a
//! stream reads it), so `run` copies the batch into the chosen session's pinned buffer. For the same reason
//! [`alloc_input`](Backend::alloc_input) keeps the default ordinary memory — pinned memory there would only add a
//! pinned-to-pinned copy.
//!
//! # Two sessions for pipelining
//! The backend owns [`EngineOptions::sessions`] sessions (default 2) on one engine, each with its own execution
//! context, CUDA stream and pinned + device buffers. [`EngineBackend::submit`] enqueues a batch on a free session and
//! returns at once ([`EngineBackend::submit_with`] does the same, pre-processing straight into the pinned buffer);
//! [`EngineBackend::wait`] synchronizes that session's stream and returns the views. Submitting
//! frame N+1 before waiting for frame N lets N+1's host→device copy (copy engine, stream B) overlap N's kernels
//! (stream A), and N's device→host copy overlap N+1's kernels; the host pre-processes N+2 meanwhile.
//! The same double buffering is available through the [`Backend`] trait as one slot per session
//! ([`Backend::slots`], [`Backend::submit_slot`], [`Backend::wait_slot`]), which is what
//! [`Detector::detect_pipelined`](crate::Detector::detect_pipelined) drives: frame N+1 is enqueued on the other
//! session before frame N's outputs are waited for and decoded, while a worker thread letterboxes N+2.
//! [`Backend::run`] is submit + wait on one free session.
//!
//! # Engine lifetime
//! The backend owns its engine: [`trt::Engine::into_shared`] puts it behind an `Arc`, and each session is a
//! [`trt::OwnedSession`] holding a reference to it. Dropping the `EngineBackend` synchronizes and frees the sessions
//! (execution contexts, streams, buffers) and then the engine's weights, so services can hot-swap engines without
//! leaking; nothing is cached across backends.
//!
//! # Batches in flight
//! [`EngineBackend::submit`] and [`EngineBackend::submit_with`] use [`trt::Session::submit_in_place`], which leaves
//! the session marked "in flight" without a borrowing handle (no `mem::forget`); [`EngineBackend::wait`] ([`trt::Session::wait`]) — and any other call on that session, and its
//! `Drop` — synchronizes the stream before a buffer is touched.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use half::f16;
use trt::sidecar::TensorMode;
use trt::{DataType, IoTensor, TensorFormat};

use crate::backend::{
    check_run_args, check_slot, Backend, InputBuffer, InputInfo, InputMut, InputRef, InputType,
};
use crate::decode::OutputInfo;
use crate::error::{Error, Result};
use crate::tensor::{TensorData, TensorView};

/// How an [`EngineBackend`] is set up.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// CUDA device ordinal (default 0).
    pub device: usize,
    /// Optimization profile whose shapes are used (default 0).
    pub profile: usize,
    /// Number of sessions (execution context + stream + buffers) on the engine: 1, or 2 (default) for
    /// [`EngineBackend::submit`]/[`EngineBackend::wait`] double buffering.
    pub sessions: usize,
    /// Replay the enqueue as a CUDA graph while shapes stay the same (opt-in; falls back when capture fails).
    pub cuda_graph: bool,
    /// Custom plugin libraries the engine was built with (`trt-build --plugins`), loaded before it is
    /// deserialized; the sidecar's `plugin_libraries` must all be among them.
    pub plugin_libraries: Vec<std::path::PathBuf>,
    /// TensorRT for RTX: where the JIT runtime cache of the engine lives (default: next to the engine).
    pub runtime_cache: trt::RuntimeCache,
    /// Load an engine that has no sidecar — one built by trtexec, Ultralytics or another tool — without provenance
    /// checks ([`trt::Runtime::load_engine_without_sidecar`]); Ultralytics' class names are used. Only for engines
    /// from a source the user trusts (default `false`).
    pub without_sidecar: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            device: 0,
            profile: 0,
            sessions: 2,
            cuda_graph: false,
            plugin_libraries: Vec::new(),
            runtime_cache: trt::RuntimeCache::default(),
            without_sidecar: false,
        }
    }
}

/// The detector-facing view of an engine's IO tensors (see [`engine_io`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineIo {
    /// The network input.
    pub input: InputInfo,
    /// `true` when the input's batch dimension is dynamic (runs use the real batch; otherwise always `max_batch`).
    pub dynamic_batch: bool,
    /// The shape the sessions' input buffers are sized for, when the input has dynamic dimensions.
    pub capacity_shape: Option<Vec<i64>>,
    /// Outputs in engine order with their shapes at `max_batch` (a dynamic batch as `max_batch`, other dynamic
    /// dimensions as 0).
    pub outputs: Vec<OutputInfo>,
}

fn dims_text(d: &[i64]) -> String {
    let parts: Vec<String> = d.iter().map(i64::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// Maps an engine's IO tensors (as [`trt::Engine::io_tensors`] describes them) to the detector's input and outputs,
/// using optimization profile `profile` for dynamic dimensions. `model` names the engine in errors.
pub fn engine_io(model: &str, io: &[IoTensor], profile: usize) -> Result<EngineIo> {
    let err = |message: String| Error::Model {
        model: model.to_owned(),
        message,
    };
    let inputs: Vec<&IoTensor> = io.iter().filter(|t| t.mode == TensorMode::Input).collect();
    let input = match inputs.as_slice() {
        [one] => *one,
        [] => return Err(err("the engine has no input tensor".into())),
        many => {
            let names: Vec<&str> = many.iter().map(|t| t.name.as_str()).collect();
            return Err(err(format!(
                "the engine has {} inputs ({}); the detector feeds exactly one image tensor",
                many.len(),
                names.join(", ")
            )));
        }
    };
    let name = &input.name;
    let dtype = match input.dtype {
        DataType::F32 => InputType::F32,
        DataType::F16 => InputType::F16,
        other => {
            return Err(err(format!(
                "input `{name}` is {other}; the detector writes f32 or f16 images — rebuild the engine with a float \
                 input (keep the ONNX input float; trt-build's --fp16 keeps IO float by default)"
            )))
        }
    };
    if input.format != TensorFormat::Linear {
        return Err(err(format!(
            "input `{name}` uses the {} tensor format; the detector writes linear NCHW — rebuild without \
             --inputIOFormats / input reformatting",
            trt::format_name(input.format)
        )));
    }
    let shape = &input.shape;
    if shape.len() != 4 {
        return Err(err(format!(
            "input `{name}` has shape {}; the detector needs [batch, 3, height, width]",
            dims_text(shape)
        )));
    }
    let dynamic = shape.iter().any(|&d| d < 0);
    let prof = if dynamic {
        Some(input.profiles.get(profile).ok_or_else(|| {
            err(format!(
                "input `{name}` has dynamic shape {} but the engine has no optimization profile {profile} (it has {})",
                dims_text(shape),
                input.profiles.len()
            ))
        })?)
    } else {
        None
    };
    let channels = match (shape[1], prof) {
        (c, _) if c >= 0 => c,
        (_, Some(p)) if p.min[1] == p.max[1] => p.max[1],
        _ => -1,
    };
    if channels != 3 {
        let hint = if shape[3] == 3 {
            " (it looks like NHWC; export the ONNX with an NCHW input)"
        } else {
            ""
        };
        return Err(err(format!(
            "input `{name}` has shape {}; the detector needs 3 channels in dimension 1 ([batch, 3, height, width]){hint}",
            dims_text(shape)
        )));
    }
    let pick = |i: usize, use_max: bool| -> i64 {
        match (shape[i], prof) {
            (d, _) if d >= 0 => d,
            (_, Some(p)) if use_max => p.max[i],
            (_, Some(p)) => p.opt[i],
            _ => -1,
        }
    };
    let (b, h, w) = (pick(0, true), pick(2, false), pick(3, false));
    let positive = |v: i64, what: &str| -> Result<usize> {
        usize::try_from(v).ok().filter(|&v| v > 0).ok_or_else(|| {
            err(format!(
                "input `{name}` has shape {} and resolves to {what} {v}; it must be positive",
                dims_text(shape)
            ))
        })
    };
    let max_batch = positive(b, "batch")?;
    let height = positive(h, "height")?;
    let width = positive(w, "width")?;
    let dynamic_batch = shape[0] < 0;
    let capacity_shape = dynamic.then(|| vec![b, 3, h, w]);

    let mut outputs = Vec::new();
    for t in io.iter().filter(|t| t.mode == TensorMode::Output) {
        if !matches!(t.dtype, DataType::F32 | DataType::F16 | DataType::I32) {
            return Err(err(format!(
                "output `{}` is {}; the decoder reads f32, f16 or i32 outputs — rebuild the engine with such outputs",
                t.name, t.dtype
            )));
        }
        if t.format != TensorFormat::Linear {
            return Err(err(format!(
                "output `{}` uses the {} tensor format; the decoder reads linear outputs — rebuild without \
                 --outputIOFormats",
                t.name,
                trt::format_name(t.format)
            )));
        }
        let shape = t
            .shape
            .iter()
            .enumerate()
            .map(|(i, &d)| match usize::try_from(d) {
                Ok(d) => d,
                Err(_) if i == 0 && dynamic_batch => max_batch,
                Err(_) => 0,
            })
            .collect();
        outputs.push(OutputInfo {
            name: t.name.clone(),
            shape,
        });
    }
    if outputs.is_empty() {
        return Err(err("the engine has no output tensor".into()));
    }
    Ok(EngineIo {
        input: InputInfo {
            name: name.clone(),
            max_batch,
            height,
            width,
            dtype,
        },
        dynamic_batch,
        capacity_shape,
        outputs,
    })
}

/// Maps a `trt` error about engine `model` to this crate's error: [`Error::BackendUnavailable`] when TensorRT, CUDA or
/// a GPU is missing ([`trt::Error::is_unavailable`]), [`Error::Model`] otherwise (sidecar, checksum, version or GPU mismatch,
/// TensorRT's own failures).
pub fn map_trt_error(model: &Path, e: trt::Error) -> Error {
    if e.is_unavailable() {
        Error::BackendUnavailable(format!(
            "{}: cannot run TensorRT engines on this machine: {e}",
            model.display()
        ))
    } else {
        Error::Model {
            model: model.display().to_string(),
            message: e.to_string(),
        }
    }
}

/// The class-name file that may accompany an engine: the engine's file name plus `.names` (`model.engine` →
/// `model.engine.names`), next to the sidecar `model.engine.json`. Used when the sidecar has no `class_names`
/// (engines built before the sidecar had that field).
pub fn class_names_path(engine: &Path) -> PathBuf {
    let mut name = engine.as_os_str().to_owned();
    name.push(".names");
    PathBuf::from(name)
}

static NEXT_TICKET: AtomicU64 = AtomicU64::new(1);

/// A batch handed to [`EngineBackend::submit`]; redeem it with [`EngineBackend::wait`].
#[derive(Debug)]
#[must_use = "wait() for the ticket to read the outputs (and to free its session)"]
pub struct Ticket {
    session: usize,
    seq: u64,
}

/// The TensorRT backend (see the [module docs](self)).
pub struct EngineBackend {
    model: PathBuf,
    label: String,
    io: EngineIo,
    /// Declared before `engine`: sessions are dropped (synchronized) first; each also holds the engine.
    sessions: Vec<trt::OwnedSession>,
    engine: trt::SharedEngine,
    /// Sequence number of the batch in flight on each session.
    pending: Vec<Option<u64>>,
    /// Output shapes of the last run, per output.
    shapes: Vec<Vec<usize>>,
    class_names: Option<Vec<String>>,
}

impl std::fmt::Debug for EngineBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBackend")
            .field("model", &self.model)
            .field("backend", &self.label)
            .field("input", &self.io.input)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl EngineBackend {
    /// Loads `path` (with its sidecar) on the GPU; see the module docs for the order of the checks.
    pub fn load(path: impl AsRef<Path>, options: &EngineOptions) -> Result<Self> {
        let path = path.as_ref();
        let model = path.display().to_string();
        let err = |message: String| Error::Model {
            model: model.clone(),
            message,
        };
        if !path.is_file() {
            return Err(err("engine file not found".into()));
        }
        if !(1..=2).contains(&options.sessions) {
            return Err(Error::Config(format!(
                "EngineOptions::sessions is {}; use 1, or 2 for double buffering",
                options.sessions
            )));
        }
        let sidecar = if options.without_sidecar {
            None
        } else {
            Some(trt::sidecar::read_sidecar(path).map_err(|e| map_trt_error(path, e))?)
        };
        let lib = trt::Library::load_with(trt::LoadOptions {
            device: options.device,
            init_plugins: sidecar.as_ref().is_some_and(|s| !s.plugins.is_empty()),
            plugin_libraries: options.plugin_libraries.clone(),
            runtime_cache: options.runtime_cache.clone(),
            ..Default::default()
        })
        .map_err(|e| map_trt_error(path, e))?;
        let runtime = lib.runtime().map_err(|e| map_trt_error(path, e))?;
        let engine = if sidecar.is_some() {
            runtime.load_engine(path)
        } else {
            // Whether the engine needs TensorRT's standard plugins is not recorded: register them when present.
            if let Err(e) = lib.init_plugins() {
                tracing::debug!("TensorRT's standard plugins are not registered ({e})");
            }
            runtime.load_engine_without_sidecar(path)
        }
        .map_err(|e| map_trt_error(path, e))?
        .into_shared();
        let mut io = engine_io(&model, engine.io_tensors(), options.profile)?;
        let mut config = trt::SessionConfig::default()
            .with_profile(options.profile)
            .with_cuda_graph(options.cuda_graph);
        if let Some(shape) = &io.capacity_shape {
            config = config.with_shape(io.input.name.clone(), shape);
        }
        let mut sessions = Vec::with_capacity(options.sessions);
        for _ in 0..options.sessions {
            sessions.push(
                engine
                    .session(config.clone())
                    .map_err(|e| map_trt_error(path, e))?,
            );
        }
        // The real output shapes at max_batch, after TensorRT's shape inference.
        for o in &mut io.outputs {
            let dims = sessions[0]
                .capacity_shape(&o.name)
                .map_err(|e| map_trt_error(path, e))?;
            o.shape = dims
                .iter()
                .map(|&d| usize::try_from(d).unwrap_or(0))
                .collect();
        }
        // The sidecar's names (trt-build --classes or the ONNX metadata) or Ultralytics' embedded ones, else
        // `<engine>.names`.
        let own_names = match &sidecar {
            Some(s) => s.class_names.clone(),
            None => engine
                .embedded_metadata()
                .map(|m| m.names.clone())
                .unwrap_or_default(),
        };
        let class_names = if !own_names.is_empty() {
            Some(own_names)
        } else {
            let p = class_names_path(path);
            if p.is_file() {
                Some(crate::classes::load_class_names(&p)?)
            } else {
                None
            }
        };
        let label = format!(
            "tensorrt {} ({:?}) on {}",
            lib.tensorrt_version(),
            lib.flavor(),
            lib.device().map_err(|e| map_trt_error(path, e))?.name()
        )
        .to_lowercase();
        let n = io.outputs.len();
        Ok(EngineBackend {
            model: path.to_owned(),
            label,
            io,
            pending: vec![None; sessions.len()],
            sessions,
            engine,
            shapes: vec![Vec::new(); n],
            class_names,
        })
    }

    /// The engine's IO as the detector sees it.
    pub fn io(&self) -> &EngineIo {
        &self.io
    }

    /// The engine (shared by the backend's sessions; freed when the backend is dropped and no clone of this
    /// handle remains).
    pub fn engine(&self) -> &trt::SharedEngine {
        &self.engine
    }

    /// Number of sessions (1 or 2).
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The batch the engine runs for `batch` images: `batch` with a dynamic batch dimension, else `max_batch`.
    fn engine_batch(&self, batch: usize) -> Result<usize> {
        let info = &self.io.input;
        if batch == 0 || batch > info.max_batch {
            return Err(Error::Config(format!(
                "batch {batch} is outside 1..={} for input `{}`",
                info.max_batch, info.name
            )));
        }
        Ok(if self.io.dynamic_batch {
            batch
        } else {
            info.max_batch
        })
    }

    /// Sizes session `k`'s input for `b` images and hands its pinned input buffer to `fill` (`b` images, NCHW).
    fn fill_session(
        &mut self,
        k: usize,
        b: usize,
        fill: impl FnOnce(InputMut<'_>) -> Result<()>,
    ) -> Result<()> {
        let EngineBackend {
            model,
            io,
            sessions,
            ..
        } = self;
        let info = &io.input;
        let session = &mut sessions[k];
        let shape = [b, 3, info.height, info.width];
        session
            .set_input_shape(&info.name, &shape)
            .map_err(|e| map_trt_error(model, e))?;
        let not_contiguous = || Error::Tensor {
            tensor: info.name.clone(),
            message: "the session's input view is not contiguous".into(),
        };
        match info.dtype {
            InputType::F32 => {
                let mut v = session
                    .input_mut::<f32>(&info.name)
                    .map_err(|e| map_trt_error(model, e))?;
                fill(InputMut::F32(v.as_slice_mut().ok_or_else(not_contiguous)?))
            }
            InputType::F16 => {
                let mut v = session
                    .input_mut::<f16>(&info.name)
                    .map_err(|e| map_trt_error(model, e))?;
                fill(InputMut::F16(v.as_slice_mut().ok_or_else(not_contiguous)?))
            }
        }
    }

    /// Copies the batch into session `k`'s pinned buffer and enqueues the inference; does not wait.
    fn enqueue(&mut self, k: usize, input: &InputBuffer, batch: usize) -> Result<()> {
        check_run_args(&self.io.input, input, batch)?;
        let b = self.engine_batch(batch)?;
        let info = &self.io.input;
        let n = b * info.image_len();
        if input.as_ref().len() < n {
            // A static-batch engine always reads `max_batch` images.
            return Err(Error::BufferSize {
                what: format!(
                    "input `{}` of an engine with a static batch of {b}",
                    info.name
                ),
                expected: n,
                actual: input.as_ref().len(),
            });
        }
        let mismatch = format!("input `{}` expects {:?} elements", info.name, info.dtype);
        // The one host copy of the Backend path (module docs, "Copies").
        self.fill_session(k, b, |dst| match (dst, input.as_ref()) {
            (InputMut::F32(d), InputRef::F32(s)) => {
                d.copy_from_slice(&s[..n]);
                Ok(())
            }
            (InputMut::F16(d), InputRef::F16(s)) => {
                d.copy_from_slice(&s[..n]);
                Ok(())
            }
            // check_run_args compared the buffer's type with the engine input's already.
            _ => Err(Error::Config(mismatch)),
        })?;
        self.submit_in_place(k)
    }

    fn submit_in_place(&mut self, k: usize) -> Result<()> {
        self.sessions[k]
            .submit_in_place()
            .map_err(|e| map_trt_error(&self.model, e))
    }

    fn free_session(&self) -> Result<usize> {
        self.pending.iter().position(Option::is_none).ok_or_else(|| {
            Error::Config(format!(
                "all {} sessions have a batch in flight; wait() for a ticket before submitting another",
                self.sessions.len()
            ))
        })
    }

    fn ticket(&mut self, k: usize) -> Ticket {
        // Unique across backends, so a ticket cannot be redeemed on another backend.
        let seq = NEXT_TICKET.fetch_add(1, Ordering::Relaxed);
        self.pending[k] = Some(seq);
        Ticket { session: k, seq }
    }

    /// Synchronizes session `k` and returns views of its pinned output buffers.
    fn views(&mut self, k: usize) -> Result<Vec<TensorView<'_>>> {
        let EngineBackend {
            model,
            io,
            sessions,
            shapes,
            ..
        } = self;
        let outs = sessions[k].wait().map_err(|e| map_trt_error(model, e))?;
        for (o, s) in io.outputs.iter().zip(shapes.iter_mut()) {
            let dims = outs.shape(&o.name).map_err(|e| map_trt_error(model, e))?;
            s.clear();
            s.extend(dims.iter().map(|&d| usize::try_from(d).unwrap_or(0)));
        }
        let shapes: &Vec<Vec<usize>> = shapes;
        let mut views = Vec::with_capacity(io.outputs.len());
        for (o, shape) in io.outputs.iter().zip(shapes) {
            let dtype = outs.dtype(&o.name).map_err(|e| map_trt_error(model, e))?;
            let not_contiguous = || Error::Tensor {
                tensor: o.name.clone(),
                message: "the session's output view is not contiguous".into(),
            };
            let data = match dtype {
                DataType::F32 => TensorData::F32(
                    outs.get::<f32>(&o.name)
                        .map_err(|e| map_trt_error(model, e))?
                        .to_slice()
                        .ok_or_else(not_contiguous)?,
                ),
                DataType::F16 => TensorData::F16(
                    outs.get::<f16>(&o.name)
                        .map_err(|e| map_trt_error(model, e))?
                        .to_slice()
                        .ok_or_else(not_contiguous)?,
                ),
                DataType::I32 => TensorData::I32(
                    outs.get::<i32>(&o.name)
                        .map_err(|e| map_trt_error(model, e))?
                        .to_slice()
                        .ok_or_else(not_contiguous)?,
                ),
                other => {
                    return Err(Error::Tensor {
                        tensor: o.name.clone(),
                        message: format!("element type {other} is not supported by the decoder"),
                    })
                }
            };
            views.push(TensorView::new(&o.name, shape, data)?);
        }
        Ok(views)
    }

    /// Enqueues the first `batch` images of `input` on a free session and returns without waiting. With two
    /// sessions, submit frame N+1 before [`wait`](Self::wait)ing for frame N so that the GPU overlaps them (module
    /// docs). Fails when every session has a batch in flight.
    pub fn submit(&mut self, input: &InputBuffer, batch: usize) -> Result<Ticket> {
        let k = self.free_session()?;
        self.enqueue(k, input, batch)?;
        Ok(self.ticket(k))
    }

    /// Like [`submit`](Self::submit), without the host copy: `fill` writes the batch straight into a free session's
    /// pinned input buffer (for example by letterboxing into it). `fill` receives exactly the images the engine
    /// reads — `batch` of them with a dynamic batch dimension, `max_batch` with a static one (the rest is
    /// unspecified, as with [`Backend::run`]) — as `[images, 3, height, width]` elements of the input's type. The
    /// buffer still holds the previous batch of that session; overwrite every image you submit. An error from
    /// `fill` is returned and nothing is enqueued.
    pub fn submit_with(
        &mut self,
        batch: usize,
        fill: impl FnOnce(InputMut<'_>) -> Result<()>,
    ) -> Result<Ticket> {
        let k = self.free_session()?;
        let b = self.engine_batch(batch)?;
        self.fill_session(k, b, fill)?;
        self.submit_in_place(k)?;
        Ok(self.ticket(k))
    }

    /// Waits for a submitted batch and returns its outputs (views of the session's pinned buffers).
    pub fn wait(&mut self, ticket: Ticket) -> Result<Vec<TensorView<'_>>> {
        if self.pending.get(ticket.session).copied().flatten() != Some(ticket.seq) {
            return Err(Error::Config(
                "this ticket does not belong to a batch in flight on this backend".into(),
            ));
        }
        self.pending[ticket.session] = None;
        self.views(ticket.session)
    }
}

impl Backend for EngineBackend {
    fn name(&self) -> String {
        self.label.clone()
    }

    fn input(&self) -> &InputInfo {
        &self.io.input
    }

    fn outputs(&self) -> &[OutputInfo] {
        &self.io.outputs
    }

    /// The sidecar's `class_names`, else the lines of `<engine>.names` ([`class_names_path`]) when that
    /// file exists.
    fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    fn run(&mut self, input: &InputBuffer, batch: usize) -> Result<Vec<TensorView<'_>>> {
        // Any free session; a batch submitted earlier stays in flight on the other one.
        let k = self.free_session()?;
        self.enqueue(k, input, batch)?;
        self.views(k)
    }

    /// One slot per session.
    fn slots(&self) -> usize {
        self.sessions.len()
    }

    /// Copies the batch into session `slot`'s pinned buffer and enqueues H2D → engine → D2H on its
    /// stream; returns at once. `input` may be reused as soon as this returns.
    fn submit_slot(&mut self, slot: usize, input: &InputBuffer, batch: usize) -> Result<()> {
        check_slot(self.sessions.len(), slot)?;
        if self.pending[slot].is_some() {
            return Err(Error::Config(format!(
                "slot {slot} already has a batch in flight; wait_slot({slot}) for it first"
            )));
        }
        self.enqueue(slot, input, batch)?;
        // Marks the slot busy (a ticket nobody holds: only wait_slot can free it).
        let _ = self.ticket(slot);
        Ok(())
    }

    /// Synchronizes session `slot`'s stream and returns views of its pinned outputs.
    fn wait_slot(
        &mut self,
        slot: usize,
        _input: &InputBuffer,
        _batch: usize,
    ) -> Result<Vec<TensorView<'_>>> {
        check_slot(self.sessions.len(), slot)?;
        if self.pending[slot].take().is_none() {
            return Err(Error::Config(format!(
                "nothing was submitted on slot {slot}; call submit_slot first"
            )));
        }
        self.views(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{detect_layout, Layout};
    use trt::ProfileDims;

    fn tensor(name: &str, mode: TensorMode, dtype: DataType, shape: &[i64]) -> IoTensor {
        IoTensor {
            name: name.into(),
            mode,
            dtype,
            shape: shape.to_vec(),
            format: TensorFormat::Linear,
            profiles: Vec::new(),
        }
    }

    fn input(dtype: DataType, shape: &[i64]) -> IoTensor {
        tensor("images", TensorMode::Input, dtype, shape)
    }

    fn output(name: &str, dtype: DataType, shape: &[i64]) -> IoTensor {
        tensor(name, TensorMode::Output, dtype, shape)
    }

    fn profile(min: &[i64], opt: &[i64], max: &[i64]) -> ProfileDims {
        ProfileDims {
            min: min.to_vec(),
            opt: opt.to_vec(),
            max: max.to_vec(),
        }
    }

    #[test]
    fn static_engine_maps_to_input_and_outputs() {
        let io = [
            input(DataType::F16, &[4, 3, 384, 640]),
            output("output0", DataType::F16, &[4, 84, 5040]),
        ];
        let m = engine_io("m.engine", &io, 0).unwrap();
        assert_eq!(
            m.input,
            InputInfo {
                name: "images".into(),
                max_batch: 4,
                height: 384,
                width: 640,
                dtype: InputType::F16
            }
        );
        assert!(!m.dynamic_batch);
        assert_eq!(m.capacity_shape, None);
        assert_eq!(m.outputs[0].shape, vec![4, 84, 5040]);
    }

    #[test]
    fn dynamic_engine_uses_profile_max_batch_and_opt_size() {
        let mut i = input(DataType::F32, &[-1, 3, -1, -1]);
        i.profiles = vec![
            profile(&[1, 3, 320, 320], &[2, 3, 640, 480], &[8, 3, 1280, 1280]),
            profile(&[1, 3, 256, 256], &[1, 3, 256, 320], &[2, 3, 512, 512]),
        ];
        let io = [i, output("output", DataType::F32, &[-1, -1, 85])];
        let m = engine_io("m.engine", &io, 0).unwrap();
        assert_eq!(
            (m.input.max_batch, m.input.height, m.input.width),
            (8, 640, 480)
        );
        assert!(m.dynamic_batch);
        assert_eq!(m.capacity_shape, Some(vec![8, 3, 640, 480]));
        // batch -> max_batch, the data-dependent anchor count -> 0
        assert_eq!(m.outputs[0].shape, vec![8, 0, 85]);
        let m = engine_io("m.engine", &io, 1).unwrap();
        assert_eq!(
            (m.input.max_batch, m.input.height, m.input.width),
            (2, 256, 320)
        );
        let e = engine_io("m.engine", &io, 2).unwrap_err().to_string();
        assert!(
            e.contains("no optimization profile 2") && e.contains("it has 2"),
            "{e}"
        );
    }

    #[test]
    fn bad_inputs_are_named_with_the_fix() {
        let out = output("output0", DataType::F32, &[1, 84, 8400]);
        let cases: Vec<(Vec<IoTensor>, &[&str])> = vec![
            (
                vec![input(DataType::U8, &[1, 3, 640, 640]), out.clone()],
                &["`images`", "u8", "float input"],
            ),
            (
                vec![input(DataType::F32, &[1, 640, 640, 3]), out.clone()],
                &["[1, 640, 640, 3]", "NHWC"],
            ),
            (
                vec![input(DataType::F32, &[3, 640, 640]), out.clone()],
                &["[batch, 3, height, width]"],
            ),
            (vec![out.clone()], &["no input tensor"]),
            (
                vec![
                    input(DataType::F32, &[1, 3, 64, 64]),
                    tensor("im_info", TensorMode::Input, DataType::F32, &[1, 3]),
                    out.clone(),
                ],
                &["2 inputs", "images, im_info"],
            ),
            (
                vec![input(DataType::F32, &[1, 3, 64, 64])],
                &["no output tensor"],
            ),
            (
                vec![
                    input(DataType::F32, &[1, 3, 64, 64]),
                    output("o", DataType::I8, &[1, 84, 8400]),
                ],
                &["output `o`", "i8"],
            ),
            (
                vec![input(DataType::F32, &[-1, 3, 64, 64]), out.clone()],
                &["no optimization profile 0"],
            ),
        ];
        for (io, needles) in cases {
            let e = engine_io("site/m.engine", &io, 0).unwrap_err();
            assert!(matches!(e, Error::Model { .. }), "{e:?}");
            let s = e.to_string();
            assert!(s.starts_with("model site/m.engine:"), "{s}");
            for n in needles {
                assert!(s.contains(n), "`{n}` missing from: {s}");
            }
        }
        let mut chw = input(DataType::F16, &[1, 3, 64, 64]);
        chw.format = TensorFormat::Chw16;
        let e = engine_io("m", &[chw, out], 0).unwrap_err().to_string();
        assert!(e.contains("chw16") && e.contains("linear NCHW"), "{e}");
    }

    #[test]
    fn layouts_are_detected_from_engine_io() {
        // YOLOv9-style single output
        let io = [
            input(DataType::F16, &[1, 3, 640, 640]),
            output("output0", DataType::F16, &[1, 84, 8400]),
        ];
        let m = engine_io("m", &io, 0).unwrap();
        let d = detect_layout(&m.outputs, None).unwrap();
        assert!(
            matches!(d.layout, Layout::V9 { classes: 80, .. }),
            "{:?}",
            d.layout
        );
        // YOLOv7 --grid with a dynamic batch resolved to the profile max
        let mut i = input(DataType::F32, &[-1, 3, 640, 640]);
        i.profiles = vec![profile(
            &[1, 3, 640, 640],
            &[4, 3, 640, 640],
            &[4, 3, 640, 640],
        )];
        let io = [i, output("output", DataType::F32, &[-1, 25200, 85])];
        let m = engine_io("m", &io, 0).unwrap();
        assert_eq!(m.outputs[0].shape, vec![4, 25200, 85]);
        let d = detect_layout(&m.outputs, None).unwrap();
        assert!(
            matches!(d.layout, Layout::V7Grid { classes: 80, .. }),
            "{:?}",
            d.layout
        );
        // End-to-end EfficientNMS outputs, i32 counts and classes
        let io = [
            input(DataType::F32, &[1, 3, 640, 640]),
            output("num_dets", DataType::I32, &[1, 1]),
            output("det_boxes", DataType::F32, &[1, 100, 4]),
            output("det_scores", DataType::F32, &[1, 100]),
            output("det_classes", DataType::I32, &[1, 100]),
        ];
        let m = engine_io("m", &io, 0).unwrap();
        let d = detect_layout(&m.outputs, None).unwrap();
        assert_eq!(d.layout.kind(), crate::decode::LayoutKind::EfficientNms);
    }

    #[test]
    fn missing_runtime_is_unavailable_and_file_problems_are_model_errors() {
        let p = Path::new("/x/m.engine");
        let unavailable = [
            trt::Error::Sys(trt::SysError::NoCudaDevice {
                reason: "cudaErrorNoDevice".into(),
            }),
            trt::Error::Sys(trt::SysError::TensorRtNotCompiled),
            trt::Error::Sys(trt::SysError::LibraryNotFound {
                library: "libcudart.so.13".into(),
                tried: vec![],
                hint: "set CUDA_LIB_DIR".into(),
            }),
        ];
        for e in unavailable {
            let text = e.to_string();
            let m = map_trt_error(p, e);
            assert!(matches!(m, Error::BackendUnavailable(_)), "{m:?}");
            let s = m.to_string();
            assert!(s.starts_with("/x/m.engine: cannot run TensorRT"), "{s}");
            assert!(s.contains(&text), "{s}");
        }
        let model = [
            trt::Error::SidecarCorrupt {
                sidecar: "/x/m.engine.json".into(),
                reason: "not valid JSON".into(),
            },
            trt::Error::Sys(trt::SysError::TensorRt {
                call: "deserializeCudaEngine".into(),
                message: "magic tag does not match".into(),
            }),
            trt::Error::InvalidArgument("x".into()),
        ];
        for e in model {
            let text = e.to_string();
            let m = map_trt_error(p, e);
            assert!(matches!(m, Error::Model { .. }), "{m:?}");
            assert!(m.to_string().contains(&text));
        }
    }

    #[test]
    fn sidecar_problems_surface_before_any_library_is_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let engine = dir.path().join("m.engine");
        std::fs::write(&engine, b"not an engine").unwrap();
        // No sidecar: a model error naming the sidecar (no library involved, so the same on every machine).
        let e = EngineBackend::load(&engine, &EngineOptions::default()).unwrap_err();
        assert!(matches!(e, Error::Model { .. }), "{e:?}");
        assert!(e.to_string().contains("m.engine.json"), "{e}");
        // Corrupt sidecar.
        std::fs::write(trt::sidecar::sidecar_path(&engine), b"{\"format\": 1").unwrap();
        let e = EngineBackend::load(&engine, &EngineOptions::default()).unwrap_err();
        assert!(
            matches!(e, Error::Model { .. }) && e.to_string().contains("corrupt"),
            "{e}"
        );
        // Missing engine file, bad session count.
        let e = EngineBackend::load(dir.path().join("none.engine"), &EngineOptions::default())
            .unwrap_err();
        assert!(e.to_string().contains("engine file not found"), "{e}");
        let opts = EngineOptions {
            sessions: 3,
            ..Default::default()
        };
        let e = EngineBackend::load(&engine, &opts).unwrap_err();
        assert!(e.to_string().contains("sessions is 3"), "{e}");
    }

    #[test]
    fn class_names_file_sits_next_to_the_engine() {
        assert_eq!(
            class_names_path(Path::new("a/yolo.v9.engine")),
            PathBuf::from("a/yolo.v9.engine.names")
        );
    }
}
