//! The common inference path: a [`Session`] owns an execution context, a stream and pinned + device buffers for
//! every IO tensor.
//!
//! # Soundness
//! The buffers are private to the session. [`Session::infer`] synchronizes before returning views of the outputs;
//! [`Session::infer_async`] returns a [`PendingInference`] that holds `&mut Session`, so while work may be running
//! the session cannot be used, mutated, moved or dropped. Dropping the handle synchronizes. Leaking it
//! (`mem::forget`) leaves the session's `in_flight` flag set: the next call on the session, and the session's `Drop`,
//! synchronize the stream before any buffer is touched or freed — and every buffer additionally waits on its own
//! last-use event before it is freed (see [`crate::cuda`]).
//!
//! [`Session::submit`] + [`Session::wait`] use that flag directly, with no handle at all: a struct that owns a
//! session can keep one inference in flight per session. [`Session::input_mut`] gives a writable view of an input's
//! pinned buffer for [`Session::infer_in_place`] (no host copy); it synchronizes in-flight work first, and the view
//! borrows the session mutably, so nothing can be enqueued while it lives.
//!
//! Input shapes are checked before they reach the context; after a change the output shapes are re-inferred and
//! checked against their buffers, and until that succeeds the session refuses to launch (so a failed shape change
//! can never let TensorRT write an output past its buffer).

use std::borrow::Cow;

use ndarray::{ArrayView, ArrayViewD, ArrayViewMutD, Dimension, IxDyn};

use std::time::Duration;

use crate::cuda::{CudaGraph, DeviceBuffer, Event, HostAllocFlags, PinnedBuffer, Stream};
use crate::dtype::{DataType, Element};
use crate::error::{Error, Result, Shape};
use crate::runtime::{check_shape_against, Engine, ExecutionContext, IoTensor};
use trt_sys::cuda::cudaMemcpyKind;

/// How a [`Session`] is set up.
#[derive(Debug, Clone, Default)]
pub struct SessionConfig {
    /// Capacity shapes for inputs with dynamic dimensions (default: the profile's max shape). Buffers are sized for
    /// these; larger inputs are rejected with a [`ShapeMismatch`](Error::ShapeMismatch).
    pub shapes: Vec<(String, Vec<i64>)>,
    /// Optimization profile (default 0). Concurrent sessions on one engine may need distinct profiles on older
    /// TensorRT releases.
    pub profile: usize,
    /// Capture the enqueue into a CUDA graph and replay it while the input shapes stay the same (opt-in). When
    /// capture fails the session falls back to plain enqueues and logs a warning.
    pub cuda_graph: bool,
    /// Flags of the pinned host buffers. `mapped` makes TensorRT read and write the pinned memory directly
    /// (zero-copy; for Jetson's integrated GPU), skipping device buffers and copies.
    pub host_flags: HostAllocFlags,
    /// Record CUDA events around the H2D copies, the engine and the D2H copies of every launch, so
    /// [`Session::phase_times`] can report each phase's GPU time (trtexec's H2D / GPU compute / D2H). Costs four event
    /// records per inference; off by default.
    pub phase_timing: bool,
    /// Per-layer GPU times from TensorRT's profiler (`IProfiler`, trtexec's `--dumpProfile`): every inference
    /// records per-layer timers and the session collects them once the inference has completed
    /// ([`Session::layer_times`]). Profiling slows inference, so time inferences on a session without it. Plain
    /// enqueues only: refused together with [`cuda_graph`](Self::cuda_graph). Off by default.
    pub layer_profiling: bool,
}

impl SessionConfig {
    /// Sets the capacity shape of a dynamic input.
    pub fn with_shape(mut self, input: impl Into<String>, dims: &[i64]) -> Self {
        self.shapes.push((input.into(), dims.to_vec()));
        self
    }

    /// Enables or disables CUDA graph replay.
    pub fn with_cuda_graph(mut self, on: bool) -> Self {
        self.cuda_graph = on;
        self
    }

    /// Selects the optimization profile.
    pub fn with_profile(mut self, profile: usize) -> Self {
        self.profile = profile;
        self
    }

    /// Sets the host buffer flags.
    pub fn with_host_flags(mut self, flags: HostAllocFlags) -> Self {
        self.host_flags = flags;
        self
    }

    /// Enables or disables per-phase GPU timing ([`Session::phase_times`]).
    pub fn with_phase_timing(mut self, on: bool) -> Self {
        self.phase_timing = on;
        self
    }

    /// Enables or disables per-layer profiling ([`SessionConfig::layer_profiling`], [`Session::layer_times`]).
    pub fn with_layer_profiling(mut self, on: bool) -> Self {
        self.layer_profiling = on;
        self
    }
}

/// GPU time of each phase of one inference, from CUDA events recorded on the session's stream
/// ([`SessionConfig::phase_timing`]).
///
/// `h2d`, `compute` and `d2h` are `None` when they could not be separated: a replayed CUDA graph is one launch
/// (only `total` is known), and zero-copy sessions have no copies (`compute` equals `total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseTimes {
    /// Host-to-device copies of the inputs.
    pub h2d: Option<Duration>,
    /// The engine itself (TensorRT's enqueue).
    pub compute: Option<Duration>,
    /// Device-to-host copies of the outputs.
    pub d2h: Option<Duration>,
    /// Everything the inference put on the stream.
    pub total: Duration,
}

/// Which events the last launch recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PhaseKind {
    NotRecorded,
    /// start, after H2D, after the engine, after D2H.
    Split,
    /// start and end of a graph replay.
    TotalOnly,
}

#[derive(Debug)]
struct PhaseEvents {
    start: Event,
    inputs_copied: Event,
    computed: Event,
    end: Event,
    kind: PhaseKind,
}

impl PhaseEvents {
    fn new(device: &crate::cuda::Device) -> Result<Self> {
        Ok(PhaseEvents {
            start: Event::new(device)?,
            inputs_copied: Event::new(device)?,
            computed: Event::new(device)?,
            end: Event::new(device)?,
            kind: PhaseKind::NotRecorded,
        })
    }
}

/// One input of an inference call: a tensor name and a typed n-dimensional view. The element type is checked
/// against the engine's tensor type ([`Error::DtypeMismatch`]).
#[derive(Debug, Clone)]
pub struct Input<'a> {
    name: &'a str,
    dtype: DataType,
    shape: Vec<usize>,
    bytes: Cow<'a, [u8]>,
}

fn as_bytes<T: Element>(s: &[T]) -> &[u8] {
    // SAFETY: Element types are plain data without padding; any initialized `T` is valid as bytes.
    unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<u8>(), std::mem::size_of_val(s)) }
}

impl<'a> Input<'a> {
    /// An input from an ndarray view (any layout; non-contiguous views are copied once).
    pub fn new<T: Element, D: Dimension>(name: &'a str, data: ArrayView<'a, T, D>) -> Self {
        let shape = data.shape().to_vec();
        let bytes = match data.to_slice() {
            Some(s) => Cow::Borrowed(as_bytes(s)),
            None => {
                let v: Vec<T> = data.iter().copied().collect();
                Cow::Owned(as_bytes(&v).to_vec())
            }
        };
        Input {
            name,
            dtype: T::DTYPE,
            shape,
            bytes,
        }
    }

    /// An input from a flat slice in row-major order with `shape`.
    pub fn from_slice<T: Element>(name: &'a str, shape: &[usize], data: &'a [T]) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(Error::LengthMismatch {
                operation: "Input::from_slice",
                destination: n,
                source_len: data.len(),
            });
        }
        Ok(Input {
            name,
            dtype: T::DTYPE,
            shape: shape.to_vec(),
            bytes: Cow::Borrowed(as_bytes(data)),
        })
    }

    /// Tensor name.
    pub fn name(&self) -> &str {
        self.name
    }

    /// Shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
}

#[derive(Debug)]
struct Slot {
    tensor: IoTensor,
    elem: usize,
    capacity: usize,
    capacity_shape: Vec<i64>,
    shape: Vec<i64>,
    host: PinnedBuffer<u8>,
    device: Option<DeviceBuffer<u8>>,
}

impl Slot {
    fn bytes(&self) -> usize {
        elements(&self.shape) * self.elem
    }
}

fn elements(shape: &[i64]) -> usize {
    shape
        .iter()
        .map(|&d| usize::try_from(d).unwrap_or(0))
        .product()
}

#[derive(Debug)]
enum GraphState {
    Off,
    /// Capture after the next successful plain run (TensorRT needs one enqueue before capture).
    Armed,
    /// Plain run done; capture on the next call.
    Ready,
    Captured(Vec<Vec<i64>>),
    Failed,
}

/// An execution context with its own stream and buffers for every IO tensor (see the module docs).
/// `Send`, not `Sync`. Create one per worker thread for concurrent inference on one [`Engine`].
#[derive(Debug)]
pub struct Session<'engine> {
    graph: Option<CudaGraph>,
    graph_state: GraphState,
    context: ExecutionContext<'engine>,
    slots: Vec<Slot>,
    stream: Stream,
    in_flight: bool,
    /// Input shapes changed and the output shapes are not re-inferred and checked yet: launching is refused.
    shapes_stale: bool,
    zero_copy: bool,
    profile: usize,
    phases: Option<PhaseEvents>,
    /// [`SessionConfig::layer_profiling`].
    layer_profiling: bool,
    /// An enqueue recorded layer timers that are not collected yet (collected before the next enqueue or when asked).
    layer_times_pending: bool,
}

impl<'engine> Session<'engine> {
    pub(crate) fn new(engine: &'engine Engine, config: SessionConfig) -> Result<Self> {
        let device = engine.library().device()?.clone();
        let stream = Stream::new(&device)?;
        let mut context = engine.create_context()?;
        if config.layer_profiling {
            if config.cuda_graph {
                return Err(Error::InvalidArgument(
                    "per-layer profiling needs plain enqueues; turn off CUDA graph replay for a profiling session"
                        .into(),
                ));
            }
            context.enable_layer_profiling();
        }
        if config.profile > 0 {
            context.set_optimization_profile(config.profile, &stream)?;
        }
        for (name, _) in &config.shapes {
            let t = engine.tensor(name)?;
            if !t.is_input() || !t.shape.iter().any(|&d| d < 0) {
                return Err(Error::InvalidArgument(format!(
                    "SessionConfig gives a shape for `{name}`, which is not a dynamic input (engine shape {})",
                    Shape(t.shape.clone())
                )));
            }
        }
        let mut shapes = Vec::new();
        for t in engine.inputs() {
            let dims = if t.shape.iter().all(|&d| d >= 0) {
                t.shape.clone()
            } else if let Some((_, d)) = config.shapes.iter().rev().find(|(n, _)| *n == t.name) {
                d.clone()
            } else if let Some(p) = t.profiles.get(config.profile) {
                p.max.clone()
            } else {
                return Err(Error::UnspecifiedDims {
                    tensor: t.name.clone(),
                    shape: Shape(t.shape.clone()),
                });
            };
            check_shape_against(t, &dims, config.profile)?;
            context.set_input_shape(&t.name, &dims)?;
            shapes.push((t.clone(), dims));
        }
        context.check_all_dims_specified()?;
        for t in engine.outputs() {
            let dims = context.tensor_shape(&t.name)?;
            if dims.iter().any(|&d| d < 0) {
                return Err(Error::InvalidArgument(format!(
                    "output `{}` has a data-dependent shape {}; Session needs outputs whose size follows from the \
                     input shapes — use ExecutionContext directly",
                    t.name,
                    Shape(dims)
                )));
            }
            shapes.push((t.clone(), dims));
        }
        for (tensor, _) in &shapes {
            require_linear(tensor)?;
        }
        let zero_copy = config.host_flags.mapped;
        let mut slots = Vec::new();
        for (tensor, dims) in shapes {
            let elem = match tensor.dtype.size() {
                Some(s) if tensor.dtype.host_supported() => s,
                _ => {
                    return Err(Error::UnsupportedDtype {
                        tensor: tensor.name.clone(),
                        dtype: tensor.dtype,
                        reason: "Session buffers hold f32, f16, i8, i32, u8 and bool".into(),
                    })
                }
            };
            let capacity = elements(&dims);
            // Never allocate 0 bytes: TensorRT rejects null tensor addresses.
            let bytes = (capacity * elem).max(elem);
            let host = PinnedBuffer::<u8>::new(&device, bytes, config.host_flags)?;
            let (device_buf, address) = if zero_copy {
                let p = host.mapped_device_ptr().ok_or_else(|| {
                    Error::InvalidArgument("mapped host buffer has no device pointer".into())
                })?;
                (None, p)
            } else {
                let d = DeviceBuffer::<u8>::new(&device, bytes)?;
                let p = d.as_raw_ptr();
                (Some(d), p)
            };
            // SAFETY: `address` is an allocation of `bytes` (the tensor's capacity) owned by this session, which
            // never frees it while work may run (module docs); page-aligned by the CUDA allocators.
            unsafe { context.set_tensor_address(&tensor.name, address) }?;
            slots.push(Slot {
                tensor,
                elem,
                capacity,
                capacity_shape: dims.clone(),
                shape: dims,
                host,
                device: device_buf,
            });
        }
        Ok(Session {
            graph: None,
            graph_state: if config.cuda_graph {
                GraphState::Armed
            } else {
                GraphState::Off
            },
            context,
            slots,
            stream,
            in_flight: false,
            shapes_stale: false,
            zero_copy,
            profile: config.profile,
            phases: if config.phase_timing {
                Some(PhaseEvents::new(&device)?)
            } else {
                None
            },
            layer_profiling: config.layer_profiling,
            layer_times_pending: false,
        })
    }

    /// Per-layer GPU times of every inference since the session was created or
    /// [`reset_layer_times`](Self::reset_layer_times) ([`SessionConfig::layer_profiling`]; `None` when profiling is
    /// off). Waits for the inference in flight, if any, and collects its times first.
    pub fn layer_times(&mut self) -> Result<Option<crate::LayerTimes>> {
        if !self.layer_profiling {
            return Ok(None);
        }
        self.settle()?;
        self.collect_layer_times()?;
        Ok(Some(self.context.layer_times()))
    }

    /// Forgets the layer times collected so far (e.g. those of warm-up inferences); profiling stays on. Waits for
    /// the inference in flight, if any.
    pub fn reset_layer_times(&mut self) -> Result<()> {
        if !self.layer_profiling {
            return Ok(());
        }
        self.settle()?;
        self.collect_layer_times()?;
        self.context.reset_layer_times();
        Ok(())
    }

    /// Hands the layer timers of the last enqueue to the profiler. Only called when that enqueue has completed
    /// (after `settle`, or before the next launch, which settles first).
    fn collect_layer_times(&mut self) -> Result<()> {
        if self.layer_times_pending {
            self.layer_times_pending = false;
            self.context.report_layer_times()?;
        }
        Ok(())
    }

    /// The engine.
    pub fn engine(&self) -> &'engine Engine {
        self.context.engine()
    }

    /// The session's stream.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// GPU time of each phase of the last launched inference ([`SessionConfig::phase_timing`]; `None` when timing is
    /// off or nothing ran yet). Waits for that inference to finish if it has not.
    pub fn phase_times(&self) -> Result<Option<PhaseTimes>> {
        let Some(p) = &self.phases else {
            return Ok(None);
        };
        let total = match p.kind {
            PhaseKind::NotRecorded => return Ok(None),
            PhaseKind::Split | PhaseKind::TotalOnly => p.start.elapsed(&p.end)?,
        };
        if p.kind == PhaseKind::TotalOnly {
            return Ok(Some(PhaseTimes {
                h2d: None,
                compute: None,
                d2h: None,
                total,
            }));
        }
        let compute = p.inputs_copied.elapsed(&p.computed)?;
        let (h2d, d2h) = if self.zero_copy {
            (None, None)
        } else {
            (
                Some(p.start.elapsed(&p.inputs_copied)?),
                Some(p.computed.elapsed(&p.end)?),
            )
        };
        Ok(Some(PhaseTimes {
            h2d,
            compute: Some(compute),
            d2h,
            total,
        }))
    }

    /// Whether the last inference replayed a CUDA graph.
    pub fn graph_active(&self) -> bool {
        matches!(self.graph_state, GraphState::Captured(_)) && self.graph.is_some()
    }

    /// Capacity shape of tensor `name` (what its buffers were sized for).
    pub fn capacity_shape(&self, name: &str) -> Result<&[i64]> {
        Ok(&self.slot(name)?.capacity_shape)
    }

    fn slot(&self, name: &str) -> Result<&Slot> {
        self.slots
            .iter()
            .find(|s| s.tensor.name == name)
            .ok_or_else(|| Error::UnknownTensor {
                name: name.to_owned(),
                kind: "IO",
                available: self.slots.iter().map(|s| s.tensor.name.clone()).collect(),
            })
    }

    /// Waits for work left by a leaked [`PendingInference`], then reports deferred errors (the wait comes first,
    /// whatever those are).
    fn settle(&mut self) -> Result<()> {
        if self.in_flight {
            self.stream.sync_raw()?;
            self.in_flight = false;
        }
        self.stream.device().activate()
    }

    /// Runs inference and waits for it; returns views of the outputs.
    pub fn infer(&mut self, inputs: &[Input<'_>]) -> Result<Outputs<'_>> {
        self.prepare(inputs)?;
        self.launch()?;
        self.stream.sync_raw()?;
        self.in_flight = false;
        self.stream.device().take_deferred_errors()?;
        Ok(Outputs { slots: &self.slots })
    }

    /// Enqueues inference and returns a handle that borrows the session until [`PendingInference::wait`].
    pub fn infer_async(&mut self, inputs: &[Input<'_>]) -> Result<PendingInference<'_, 'engine>> {
        self.prepare(inputs)?;
        self.launch()?;
        Ok(PendingInference {
            session: Some(self),
        })
    }

    /// Views of the outputs of the last inference (waits for it if needed).
    pub fn outputs(&mut self) -> Result<Outputs<'_>> {
        self.settle()?;
        Ok(Outputs { slots: &self.slots })
    }

    fn prepare(&mut self, inputs: &[Input<'_>]) -> Result<()> {
        self.settle()?;
        for inp in inputs {
            if !self
                .slots
                .iter()
                .any(|s| s.tensor.is_input() && s.tensor.name == inp.name)
            {
                return Err(Error::UnknownTensor {
                    name: inp.name.to_owned(),
                    kind: "input",
                    available: self.input_names(),
                });
            }
            if inputs.iter().filter(|o| o.name == inp.name).count() > 1 {
                return Err(Error::InvalidArgument(format!(
                    "input `{}` is given more than once",
                    inp.name
                )));
            }
        }
        for i in 0..self.slots.len() {
            if !self.slots[i].tensor.is_input() {
                continue;
            }
            let name = self.slots[i].tensor.name.clone();
            let Some(inp) = inputs.iter().find(|x| x.name == name) else {
                return Err(Error::MissingInput {
                    tensor: name,
                    expected: self.input_names(),
                });
            };
            let slot = &self.slots[i];
            if inp.dtype != slot.tensor.dtype {
                return Err(Error::DtypeMismatch {
                    tensor: name,
                    expected: slot.tensor.dtype,
                    actual: inp.dtype,
                });
            }
            self.apply_input_shape(i, &inp.shape)?;
            let slot = &mut self.slots[i];
            let n = inp.bytes.len();
            slot.host.as_mut_slice()?[..n].copy_from_slice(&inp.bytes);
        }
        self.refresh_output_shapes()
    }

    /// Validates `shape` for input slot `i` (rank, static dims, profile, capacity) and sets it on the context.
    /// Marks the output shapes stale until [`Self::refresh_output_shapes`] succeeds.
    fn apply_input_shape(&mut self, i: usize, shape: &[usize]) -> Result<()> {
        let dims: Vec<i64> = shape
            .iter()
            .map(|&d| i64::try_from(d).unwrap_or(i64::MAX))
            .collect();
        let slot = &self.slots[i];
        check_shape_against(&slot.tensor, &dims, self.profile)?;
        if elements(&dims) > slot.capacity {
            return Err(Error::ShapeMismatch {
                tensor: slot.tensor.name.clone(),
                expected: Shape(slot.capacity_shape.clone()),
                actual: Shape(dims),
                hint: "larger than the session's buffers; create the session with a larger shape \
                       (SessionConfig::with_shape)"
                    .into(),
            });
        }
        if dims != slot.shape {
            // Stale until the outputs are re-inferred: no launch may happen with outputs that might not fit.
            self.shapes_stale = true;
            let name = slot.tensor.name.clone();
            self.context.set_input_shape(&name, &dims)?;
            self.slots[i].shape = dims;
        }
        Ok(())
    }

    /// After input shapes changed: re-infers the output shapes and checks they fit the buffers. Until this succeeds
    /// the session refuses to launch (an output larger than its buffer would be written out of bounds).
    fn refresh_output_shapes(&mut self) -> Result<()> {
        if !self.shapes_stale {
            return Ok(());
        }
        self.context.check_all_dims_specified()?;
        for slot in self.slots.iter_mut().filter(|s| !s.tensor.is_input()) {
            let dims = self.context.tensor_shape(&slot.tensor.name)?;
            if dims.iter().any(|&d| d < 0) || elements(&dims) > slot.capacity {
                return Err(Error::ShapeMismatch {
                    tensor: slot.tensor.name.clone(),
                    expected: Shape(slot.capacity_shape.clone()),
                    actual: Shape(dims),
                    hint: "the output for these input shapes does not fit the session's buffers"
                        .into(),
                });
            }
            slot.shape = dims;
        }
        self.shapes_stale = false;
        Ok(())
    }

    fn input_slot_index(&self, name: &str) -> Result<usize> {
        self.slots
            .iter()
            .position(|s| s.tensor.is_input() && s.tensor.name == name)
            .ok_or_else(|| Error::UnknownTensor {
                name: name.to_owned(),
                kind: "input",
                available: self.input_names(),
            })
    }

    /// Sets the shape of input `name` for the next [`infer_in_place`](Self::infer_in_place) (or
    /// [`input_mut`](Self::input_mut) view), waiting for work in flight first. Checked like [`Session::infer`]'s
    /// inputs: rank, static dimensions, the profile's min/max and the session's capacity; the output shapes are
    /// re-inferred and must fit their buffers.
    pub fn set_input_shape(&mut self, name: &str, shape: &[usize]) -> Result<()> {
        self.settle()?;
        let i = self.input_slot_index(name)?;
        self.apply_input_shape(i, shape)?;
        self.refresh_output_shapes()
    }

    /// Current shape of IO tensor `name`: an input's shape for the next in-place run, an output's shape after
    /// shape inference.
    pub fn shape(&self, name: &str) -> Result<&[i64]> {
        Ok(&self.slot(name)?.shape)
    }

    /// A writable view of input `name`'s pinned host buffer, shaped as the input's current shape
    /// ([`set_input_shape`](Self::set_input_shape); initially its capacity shape). Write the input here and run
    /// [`infer_in_place`](Self::infer_in_place): no extra host copy. `T` must be the tensor's type
    /// ([`Error::DtypeMismatch`]).
    ///
    /// Waits first for any inference in flight (TensorRT may still read the buffer until then); the buffer's
    /// last-use event is waited on as well (see [`crate::cuda`]). The view borrows the session mutably, so no
    /// inference can be enqueued while it lives.
    pub fn input_mut<T: Element>(&mut self, name: &str) -> Result<ArrayViewMutD<'_, T>> {
        self.settle()?;
        let i = self.input_slot_index(name)?;
        let slot = &mut self.slots[i];
        if slot.tensor.dtype != T::DTYPE {
            return Err(Error::DtypeMismatch {
                tensor: name.to_owned(),
                expected: slot.tensor.dtype,
                actual: T::DTYPE,
            });
        }
        let n = elements(&slot.shape);
        let shape: Vec<usize> = slot
            .shape
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(0))
            .collect();
        let elem = slot.elem;
        let bytes = &mut slot.host.as_mut_slice()?[..n * elem];
        typed_view_mut(bytes, &shape, name)
    }

    /// Runs inference on what the pinned input buffers hold now (written through
    /// [`input_mut`](Self::input_mut), or left by the previous call) with the current input shapes, and waits.
    pub fn infer_in_place(&mut self) -> Result<Outputs<'_>> {
        self.submit_in_place()?;
        self.wait()
    }

    /// Enqueues inference on the pinned input buffers as they are (see [`infer_in_place`](Self::infer_in_place)) and
    /// returns a handle that borrows the session until it is waited on.
    pub fn infer_async_in_place(&mut self) -> Result<PendingInference<'_, 'engine>> {
        self.submit_in_place()?;
        Ok(PendingInference {
            session: Some(self),
        })
    }

    /// Copies `inputs` into the pinned buffers and enqueues inference without waiting and without a handle: the
    /// session stays "in flight" until [`wait`](Self::wait). Use this to keep one inference per session in flight
    /// in a struct that owns the session (no borrow to store, no `mem::forget`).
    ///
    /// Sound by the in-flight flag: every call that touches a buffer ([`wait`](Self::wait),
    /// [`outputs`](Self::outputs), [`input_mut`](Self::input_mut), the next submit or infer) and the session's `Drop`
    /// first synchronize the stream.
    pub fn submit(&mut self, inputs: &[Input<'_>]) -> Result<()> {
        self.prepare(inputs)?;
        self.launch()
    }

    /// Like [`submit`](Self::submit) on the pinned input buffers as they are (see
    /// [`infer_in_place`](Self::infer_in_place)).
    pub fn submit_in_place(&mut self) -> Result<()> {
        self.settle()?;
        self.refresh_output_shapes()?;
        self.launch()
    }

    /// Waits for the inference in flight (from [`submit`](Self::submit) or a leaked handle), if any, and returns
    /// views of the outputs.
    pub fn wait(&mut self) -> Result<Outputs<'_>> {
        self.outputs()
    }

    /// `true` while an inference may be running (submitted and not yet waited on).
    pub fn in_flight(&self) -> bool {
        self.in_flight
    }

    fn input_names(&self) -> Vec<String> {
        self.slots
            .iter()
            .filter(|s| s.tensor.is_input())
            .map(|s| s.tensor.name.clone())
            .collect()
    }

    fn current_shapes(&self) -> Vec<Vec<i64>> {
        self.slots.iter().map(|s| s.shape.clone()).collect()
    }

    fn launch(&mut self) -> Result<()> {
        if self.shapes_stale {
            return Err(Error::InvalidArgument(
                "the session's output shapes were not re-inferred after an input shape change failed; set valid \
                 input shapes first"
                    .into(),
            ));
        }
        // The previous inference has completed (every caller settles first): collect its layer times before this
        // enqueue records new timers.
        self.collect_layer_times()?;
        for s in &self.slots {
            s.host.begin_raw_use(&self.stream)?;
            if let Some(d) = &s.device {
                d.begin_raw_use(&self.stream)?;
            }
        }
        // From here on work may be queued: mark the session busy before anything can fail.
        self.in_flight = true;
        let shapes = self.current_shapes();
        match &self.graph_state {
            GraphState::Captured(s) if *s == shapes && self.graph.is_some() => {
                if let Some(g) = &self.graph {
                    // SAFETY: the graph uses only session-owned buffers, which live as long as the graph (field
                    // order), and the host reads them only after synchronizing (infer / wait / settle).
                    unsafe { launch_graph(g, &self.stream, self.phases.as_mut()) }?;
                }
            }
            GraphState::Ready => self.capture_or_fallback(shapes)?,
            state => {
                // Armed: TensorRT needs one plain enqueue before capture. Captured with other shapes: warm up the
                // new shapes with a plain enqueue, capture on the next call.
                let next = matches!(state, GraphState::Armed | GraphState::Captured(_));
                self.enqueue_plain()?;
                self.layer_times_pending = self.layer_profiling;
                if next {
                    self.graph = None;
                    self.graph_state = GraphState::Ready;
                }
            }
        }
        for s in &self.slots {
            s.host.end_raw_use(&self.stream)?;
            if let Some(d) = &s.device {
                d.end_raw_use(&self.stream)?;
            }
        }
        Ok(())
    }

    /// One plain (not graph) enqueue of the copies in, the engine and the copies out, with phase events.
    fn enqueue_plain(&mut self) -> Result<()> {
        // SAFETY: see enqueue_raw; the slots are this session's buffers, bound to its context.
        unsafe {
            enqueue_raw(
                &mut self.context,
                &self.slots,
                self.zero_copy,
                &self.stream,
                self.phases.as_mut(),
            )
        }
    }

    fn capture_or_fallback(&mut self, shapes: Vec<Vec<i64>>) -> Result<()> {
        self.graph = None;
        let (context, slots, zero_copy) = (&mut self.context, &self.slots, self.zero_copy);
        // SAFETY: the captured work only touches session-owned buffers that outlive the graph (the graph field is
        // dropped first, after Drop synchronized), and no tracked operation runs inside the capture.
        let captured = unsafe {
            self.stream
                .capture(|st| enqueue_raw(context, slots, zero_copy, st, None))
        };
        match captured {
            Ok(g) => {
                // SAFETY: as above.
                unsafe { launch_graph(&g, &self.stream, self.phases.as_mut()) }?;
                self.graph = Some(g);
                self.graph_state = GraphState::Captured(shapes);
            }
            Err(e) => {
                tracing::warn!(target: "trt", "CUDA graph capture failed ({e}); falling back to plain enqueues");
                self.graph_state = GraphState::Failed;
                self.enqueue_plain()?;
            }
        }
        Ok(())
    }
}

/// `bytes` (exactly `shape`'s element count of `T`) as a writable n-dimensional view of `T`. Checks alignment and,
/// for types with invalid bit patterns (bool), that every byte is a valid `T`. `name` names the tensor in errors.
fn typed_view_mut<'a, T: Element>(
    bytes: &'a mut [u8],
    shape: &[usize],
    name: &str,
) -> Result<ArrayViewMutD<'a, T>> {
    let n: usize = shape.iter().product();
    let size = std::mem::size_of::<T>();
    if bytes.len() != n * size {
        return Err(Error::LengthMismatch {
            operation: "input view",
            destination: n * size,
            source_len: bytes.len(),
        });
    }
    if T::NEEDS_VALIDATION {
        if let Some(index) = T::first_invalid(bytes) {
            return Err(Error::InvalidValue {
                dtype: T::DTYPE,
                index,
            });
        }
    }
    let data: &'a mut [T] = if n == 0 {
        &mut []
    } else {
        if bytes.as_ptr().align_offset(std::mem::align_of::<T>()) != 0 {
            return Err(Error::InvalidArgument(format!(
                "buffer of `{name}` is not aligned for its element type"
            )));
        }
        // SAFETY: exactly `n * size_of::<T>()` initialized bytes, each group a valid `T` (validated above; Element
        // types other than bool accept every bit pattern), aligned for T, exclusively borrowed for 'a. Any `T`
        // written through the view keeps the bytes valid.
        unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<T>(), n) }
    };
    ArrayViewMutD::from_shape(IxDyn(shape), data)
        .map_err(|e| Error::InvalidArgument(format!("tensor `{name}`: {e}")))
}

/// Replays `graph` on `stream`; with `phases`, brackets it with the start and end events (a graph is one launch:
/// only its total time is known).
///
/// # Safety
/// As [`CudaGraph::launch`]: everything the graph touches must stay alive until the stream has run it.
unsafe fn launch_graph(
    graph: &CudaGraph,
    stream: &Stream,
    phases: Option<&mut PhaseEvents>,
) -> Result<()> {
    let mut phases = phases;
    if let Some(p) = phases.as_deref_mut() {
        stream.record(&mut p.start)?;
    }
    // SAFETY: forwarded to the caller.
    unsafe { graph.launch(stream) }?;
    if let Some(p) = phases {
        stream.record(&mut p.end)?;
        p.kind = PhaseKind::TotalOnly;
    }
    Ok(())
}

/// Enqueues copies in, the engine, copies out (untracked raw work; the caller brackets it). With `phases`, records
/// an event before the copies in, after them, after the engine and after the copies out (never inside a graph
/// capture: the caller passes `None` there).
///
/// # Safety
/// `slots` are the session's buffers, bound to `context`, sized for the current shapes (checked in `prepare`).
unsafe fn enqueue_raw(
    context: &mut ExecutionContext<'_>,
    slots: &[Slot],
    zero_copy: bool,
    stream: &Stream,
    mut phases: Option<&mut PhaseEvents>,
) -> Result<()> {
    if let Some(p) = phases.as_deref_mut() {
        // Until all four are recorded, the previous times are gone and no new ones exist.
        p.kind = PhaseKind::NotRecorded;
        stream.record(&mut p.start)?;
    }
    if !zero_copy {
        for s in slots.iter().filter(|s| s.tensor.is_input()) {
            if let Some(d) = &s.device {
                // SAFETY: both allocations hold at least `bytes()` (capacity checked); owned by the session.
                unsafe {
                    stream.copy_raw_async(
                        d.as_raw_ptr(),
                        s.host.raw_ptr(),
                        s.bytes(),
                        cudaMemcpyKind::cudaMemcpyHostToDevice,
                    )
                }?;
            }
        }
    }
    if let Some(p) = phases.as_deref_mut() {
        stream.record(&mut p.inputs_copied)?;
    }
    // SAFETY: every tensor address points to a session-owned buffer sized for the capacity shape; all input
    // shapes are set (prepare/new).
    unsafe { context.enqueue(stream) }?;
    if let Some(p) = phases.as_deref_mut() {
        stream.record(&mut p.computed)?;
    }
    if !zero_copy {
        for s in slots.iter().filter(|s| !s.tensor.is_input()) {
            if let Some(d) = &s.device {
                // SAFETY: as above.
                unsafe {
                    stream.copy_raw_async(
                        s.host.raw_ptr(),
                        d.as_raw_ptr(),
                        s.bytes(),
                        cudaMemcpyKind::cudaMemcpyDeviceToHost,
                    )
                }?;
            }
        }
    }
    if let Some(p) = phases {
        stream.record(&mut p.end)?;
        p.kind = PhaseKind::Split;
    }
    Ok(())
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        // The raw wait: a deferred error of some other object must not skip it, or the execution context would be
        // destroyed while its work runs. If the wait itself fails, the device is unusable; say so.
        if self.in_flight {
            if let Err(e) = self.stream.sync_raw() {
                self.stream.device().record_drop_error(e);
            }
        }
    }
}

/// An enqueued inference; borrows the session mutably until it is waited on. Dropping it waits too.
#[derive(Debug)]
#[must_use = "dropping the handle waits for the inference; call wait() to read the outputs"]
pub struct PendingInference<'s, 'engine> {
    session: Option<&'s mut Session<'engine>>,
}

impl<'s> PendingInference<'s, '_> {
    /// `true` when the work has completed (non-blocking).
    pub fn is_ready(&self) -> Result<bool> {
        match &self.session {
            Some(s) => s.stream.is_idle(),
            None => Ok(true),
        }
    }

    /// Waits for the inference and returns views of its outputs.
    pub fn wait(mut self) -> Result<Outputs<'s>> {
        let s = self
            .session
            .take()
            .ok_or_else(|| Error::InvalidArgument("inference already waited on".into()))?;
        s.stream.sync_raw()?;
        s.in_flight = false;
        s.stream.device().take_deferred_errors()?;
        let s: &'s Session<'_> = s;
        Ok(Outputs { slots: &s.slots })
    }
}

impl Drop for PendingInference<'_, '_> {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            match s.stream.sync_raw() {
                Ok(()) => s.in_flight = false,
                Err(e) => s.stream.device().record_drop_error(e),
            }
        }
    }
}

/// Views of a session's outputs after an inference (they borrow the session).
#[derive(Debug, Clone, Copy)]
pub struct Outputs<'s> {
    slots: &'s [Slot],
}

impl<'s> Outputs<'s> {
    fn slot(&self, name: &str) -> Result<&'s Slot> {
        self.slots
            .iter()
            .find(|s| !s.tensor.is_input() && s.tensor.name == name)
            .ok_or_else(|| Error::UnknownTensor {
                name: name.to_owned(),
                kind: "output",
                available: self.names().map(str::to_owned).collect(),
            })
    }

    /// Output names.
    pub fn names(&self) -> impl Iterator<Item = &'s str> {
        self.slots
            .iter()
            .filter(|s| !s.tensor.is_input())
            .map(|s| s.tensor.name.as_str())
    }

    /// Shape of output `name` for the last inference.
    pub fn shape(&self, name: &str) -> Result<&'s [i64]> {
        Ok(&self.slot(name)?.shape)
    }

    /// Element type of output `name`.
    pub fn dtype(&self, name: &str) -> Result<DataType> {
        Ok(self.slot(name)?.tensor.dtype)
    }

    /// Output `name` as an n-dimensional view of `T` (must be the tensor's type).
    pub fn get<T: Element>(&self, name: &str) -> Result<ArrayViewD<'s, T>> {
        let slot = self.slot(name)?;
        if slot.tensor.dtype != T::DTYPE {
            return Err(Error::DtypeMismatch {
                tensor: name.to_owned(),
                expected: slot.tensor.dtype,
                actual: T::DTYPE,
            });
        }
        let n = elements(&slot.shape);
        let bytes = &slot.host.as_slice()?[..n * slot.elem];
        if T::NEEDS_VALIDATION {
            if let Some(index) = T::first_invalid(bytes) {
                return Err(Error::InvalidValue {
                    dtype: T::DTYPE,
                    index,
                });
            }
        }
        let data: &'s [T] = if n == 0 {
            &[]
        } else {
            if bytes.as_ptr().align_offset(std::mem::align_of::<T>()) != 0 {
                return Err(Error::InvalidArgument(
                    "output buffer is not aligned for its element type".into(),
                ));
            }
            // SAFETY: `n * size_of::<T>()` initialized, validated bytes, aligned for T, borrowed for 's from the
            // session's pinned buffer whose last GPU use has completed (as_slice waited for it).
            unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), n) }
        };
        let shape: Vec<usize> = slot
            .shape
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(0))
            .collect();
        ArrayViewD::from_shape(IxDyn(&shape), data)
            .map_err(|e| Error::InvalidArgument(format!("output `{name}`: {e}")))
    }
}

/// Session buffers are sized as volume × element size, which only a linear format fills: a vectorized IO format
/// (kCHW4/CHW16/CHW32/HWC8/DHWC8 …, from `--inputIOFormats`/`--outputIOFormats`) pads a dimension, and TensorRT would
/// read and write past the buffers. Such engines are refused with what to do.
fn require_linear(tensor: &IoTensor) -> Result<()> {
    if tensor.format == crate::runtime::TensorFormat::Linear {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "{} `{}` uses the {} tensor format, which pads a dimension; Session buffers are linear: rebuild the engine \
         with linear IO formats (the default), or drive an ExecutionContext with buffers sized from the format",
        if tensor.is_input() { "input" } else { "output" },
        tensor.name,
        crate::runtime::format_name(tensor.format)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;
    use ndarray::Array2;

    #[test]
    fn vectorized_io_formats_are_refused_before_any_buffer_is_sized() {
        use crate::runtime::TensorFormat;
        let t = |name: &str, mode, format| IoTensor {
            name: name.into(),
            mode,
            dtype: DataType::F16,
            shape: vec![1, 3, 640, 640],
            format,
            profiles: Vec::new(),
        };
        use crate::sidecar::TensorMode::{Input as In, Output as Out};
        assert!(require_linear(&t("images", In, TensorFormat::Linear)).is_ok());
        for f in [
            TensorFormat::Chw4,
            TensorFormat::Chw16,
            TensorFormat::Chw32,
            TensorFormat::Hwc8,
            TensorFormat::Dhwc8,
        ] {
            let msg = require_linear(&t("images", In, f)).unwrap_err().to_string();
            assert!(
                msg.contains("input `images`") && msg.contains("linear IO formats"),
                "{f:?}: {msg}"
            );
        }
        let msg = require_linear(&t("output0", Out, TensorFormat::Hwc))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("output `output0`") && msg.contains("hwc"),
            "{msg}"
        );
    }

    #[test]
    fn input_bytes_follow_logical_row_major_order() {
        let a = Array2::from_shape_fn((2, 3), |(r, c)| (r * 10 + c) as i32);
        let t = a.t(); // 3x2, not contiguous in standard order
        let input = Input::new("x", t.view());
        assert_eq!(input.shape(), &[3, 2]);
        let values: Vec<i32> = input
            .bytes
            .chunks_exact(4)
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(values, vec![0, 10, 1, 11, 2, 12]);
        assert!(matches!(input.bytes, Cow::Owned(_)));
        let contiguous = Input::new("y", a.view());
        assert!(matches!(contiguous.bytes, Cow::Borrowed(_)));
        assert_eq!(contiguous.dtype, DataType::I32);
    }

    #[test]
    fn input_from_slice_checks_length() {
        let data = [1u8, 2, 3, 4, 5, 6];
        assert!(Input::from_slice("x", &[2, 3], &data).is_ok());
        let e = Input::from_slice("x", &[2, 2], &data).unwrap_err();
        assert!(
            matches!(
                e,
                Error::LengthMismatch {
                    destination: 4,
                    source_len: 6,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    /// `words` as bytes (u32 backing keeps them 4-byte aligned).
    fn bytes_of(words: &mut [u32]) -> &mut [u8] {
        let len = std::mem::size_of_val(words);
        // SAFETY: u32 storage viewed as its `len` initialized bytes, exclusively borrowed.
        unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), len) }
    }

    #[test]
    fn input_view_writes_through_to_the_buffer() {
        let mut words = [0u32; 6];
        {
            let mut v = typed_view_mut::<f32>(bytes_of(&mut words), &[2, 3], "x").unwrap();
            assert_eq!(v.shape(), &[2, 3]);
            v[[1, 2]] = 1.5;
            v[[0, 1]] = -2.0;
        }
        assert_eq!(words[5], 1.5f32.to_bits());
        assert_eq!(words[1], (-2.0f32).to_bits());
        assert_eq!(words.iter().filter(|&&w| w != 0).count(), 2);
        let v = typed_view_mut::<f16>(bytes_of(&mut words), &[3, 4], "h").unwrap();
        assert_eq!(v.len(), 12);
        let v = typed_view_mut::<i8>(&mut bytes_of(&mut words)[..0], &[0, 5], "empty").unwrap();
        assert_eq!(v.len(), 0);
    }

    #[test]
    fn input_view_rejects_wrong_length_misalignment_and_invalid_bools() {
        let mut words = [0u32; 4];
        let e = typed_view_mut::<f32>(bytes_of(&mut words), &[3], "x").unwrap_err();
        assert!(
            matches!(
                e,
                Error::LengthMismatch {
                    destination: 12,
                    source_len: 16,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = typed_view_mut::<f32>(&mut bytes_of(&mut words)[1..13], &[3], "x").unwrap_err();
        assert!(e.to_string().contains("`x`"), "{e}");
        let bytes = bytes_of(&mut words);
        bytes[6] = 2;
        let e = typed_view_mut::<bool>(bytes, &[16], "mask").unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidValue {
                    dtype: DataType::Bool,
                    index: 6
                }
            ),
            "{e:?}"
        );
        bytes[6] = 1;
        let v = typed_view_mut::<bool>(bytes, &[4, 4], "mask").unwrap();
        assert!(v[[1, 2]] && !v[[1, 1]]);
    }

    #[test]
    fn elements_of_shapes() {
        assert_eq!(elements(&[1, 3, 640, 640]), 1_228_800);
        assert_eq!(elements(&[]), 1);
        assert_eq!(elements(&[4, 0]), 0);
    }
}
