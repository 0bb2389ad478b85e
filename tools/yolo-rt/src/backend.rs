//! The inference backend interface the [`Detector`](crate::Detector) drives.
//!
//! A backend describes its input (`[B, 3, H, W]`, f32 or f16) and outputs, hands out host input
//! buffers (the TensorRT backend: page-locked memory the copy engine reads directly), and runs a
//! batch that was pre-processed straight into such a buffer. Outputs come back as borrowed
//! [`TensorView`]s so a backend can expose its own (pinned) output memory without copying.

use std::any::Any;

use half::f16;

use crate::decode::OutputInfo;
use crate::error::{Error, Result};
use crate::tensor::TensorView;

/// Element type of the network input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    /// 32-bit float.
    F32,
    /// 16-bit float.
    F16,
}

/// The network input.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputInfo {
    /// Input tensor name.
    pub name: String,
    /// Largest batch one run accepts (the engine's max profile batch or the ONNX batch).
    pub max_batch: usize,
    /// Network input height in pixels.
    pub height: usize,
    /// Network input width in pixels.
    pub width: usize,
    /// Element type.
    pub dtype: InputType,
}

impl InputInfo {
    /// Elements of one image (`3 * height * width`).
    pub fn image_len(&self) -> usize {
        3 * self.height * self.width
    }
}

/// Mutable view of an input buffer's elements.
#[derive(Debug)]
pub enum InputMut<'a> {
    /// f32 elements.
    F32(&'a mut [f32]),
    /// f16 elements.
    F16(&'a mut [f16]),
}

/// Shared view of an input buffer's elements.
#[derive(Debug, Clone, Copy)]
pub enum InputRef<'a> {
    /// f32 elements.
    F32(&'a [f32]),
    /// f16 elements.
    F16(&'a [f16]),
}

impl InputRef<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            InputRef::F32(d) => d.len(),
            InputRef::F16(d) => d.len(),
        }
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Backend-owned host memory (for example a pinned buffer) usable as an input buffer.
pub trait HostBuffer: Send {
    /// The elements, writable.
    fn as_input_mut(&mut self) -> InputMut<'_>;
    /// The elements.
    fn as_input(&self) -> InputRef<'_>;
    /// For the owning backend to recognise its own buffers.
    fn as_any(&self) -> &dyn Any;
}

/// A host buffer for one batch of pre-processed images (NCHW).
#[non_exhaustive]
pub enum InputBuffer {
    /// Ordinary f32 memory.
    F32(Vec<f32>),
    /// Ordinary f16 memory.
    F16(Vec<f16>),
    /// Backend-specific memory (e.g. pinned).
    Host(Box<dyn HostBuffer>),
}

impl std::fmt::Debug for InputBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputBuffer::F32(v) => write!(f, "InputBuffer::F32({} elements)", v.len()),
            InputBuffer::F16(v) => write!(f, "InputBuffer::F16({} elements)", v.len()),
            InputBuffer::Host(h) => write!(f, "InputBuffer::Host({} elements)", h.as_input().len()),
        }
    }
}

impl InputBuffer {
    /// Ordinary memory for `info.max_batch` images.
    pub fn for_input(info: &InputInfo) -> Self {
        let n = info.max_batch * info.image_len();
        match info.dtype {
            InputType::F32 => InputBuffer::F32(vec![0.0; n]),
            InputType::F16 => InputBuffer::F16(vec![f16::ZERO; n]),
        }
    }
    /// The elements, writable.
    pub fn as_mut(&mut self) -> InputMut<'_> {
        match self {
            InputBuffer::F32(v) => InputMut::F32(v),
            InputBuffer::F16(v) => InputMut::F16(v),
            InputBuffer::Host(h) => h.as_input_mut(),
        }
    }
    /// The elements.
    pub fn as_ref(&self) -> InputRef<'_> {
        match self {
            InputBuffer::F32(v) => InputRef::F32(v),
            InputBuffer::F16(v) => InputRef::F16(v),
            InputBuffer::Host(h) => h.as_input(),
        }
    }
}

/// An inference backend: the CPU executor here, TensorRT engines elsewhere.
pub trait Backend: Send {
    /// Short description for logs ("cpu (tract)", "tensorrt 10.3 on Orin").
    fn name(&self) -> String;
    /// The network input.
    fn input(&self) -> &InputInfo;
    /// The outputs, in model order, with the shapes they have at `max_batch` (data-dependent
    /// dimensions as 0).
    fn outputs(&self) -> &[OutputInfo];
    /// A host buffer for `input().max_batch` images; the default allocates ordinary memory.
    fn alloc_input(&self) -> Result<InputBuffer> {
        Ok(InputBuffer::for_input(self.input()))
    }
    /// Runs the first `batch` images of `input` (the rest of the buffer is unspecified) and returns
    /// the outputs for the whole model batch; batch item `i` of the outputs belongs to image `i`.
    fn run(&mut self, input: &InputBuffer, batch: usize) -> Result<Vec<TensorView<'_>>>;

    /// Class names the model itself carries (index = class id): the engine sidecar's
    /// `class_names`, the ONNX `names` metadata. `None` (the default) when it has none; the
    /// [`Detector`](crate::Detector) then falls back to numeric ids.
    fn class_names(&self) -> Option<&[String]> {
        None
    }

    /// How many batches can be in flight at once through [`submit_slot`](Self::submit_slot) /
    /// [`wait_slot`](Self::wait_slot): slots `0..slots()`. The default, 1, suits synchronous
    /// backends; the TensorRT backend has one slot per session (2 by default), each with its own
    /// CUDA stream and buffers, so that one batch's copies and kernels overlap the other's.
    fn slots(&self) -> usize {
        1
    }

    /// Starts running the first `batch` images of `input` on `slot` and returns without waiting
    /// when the backend can. Redeem it with [`wait_slot`](Self::wait_slot) on the same slot,
    /// passing the same `input` and `batch`, unchanged in between (a backend may read it at either
    /// call). On error nothing is in flight on `slot`.
    ///
    /// The default only checks the arguments and defers the work to `wait_slot` (synchronous
    /// backends gain nothing from starting early).
    fn submit_slot(&mut self, slot: usize, input: &InputBuffer, batch: usize) -> Result<()> {
        check_slot(self.slots(), slot)?;
        check_run_args(self.input(), input, batch)
    }

    /// Waits for the batch submitted on `slot` and returns its outputs, like [`run`](Self::run);
    /// `input` and `batch` are those given to [`submit_slot`](Self::submit_slot). Afterwards the
    /// slot is free again, also when this fails. The default runs the batch now.
    fn wait_slot(
        &mut self,
        slot: usize,
        input: &InputBuffer,
        batch: usize,
    ) -> Result<Vec<TensorView<'_>>> {
        check_slot(self.slots(), slot)?;
        self.run(input, batch)
    }
}

/// Checks that `slot` is one of a backend's `slots` (see [`Backend::slots`]).
pub fn check_slot(slots: usize, slot: usize) -> Result<()> {
    if slot >= slots {
        return Err(Error::Config(format!(
            "slot {slot} does not exist: this backend has {slots} slot(s), 0..{slots}"
        )));
    }
    Ok(())
}

/// Checks the common preconditions of [`Backend::run`]; backends call it first.
pub fn check_run_args(info: &InputInfo, input: &InputBuffer, batch: usize) -> Result<()> {
    if batch == 0 || batch > info.max_batch {
        return Err(Error::Config(format!(
            "batch {batch} is outside 1..={} for input `{}`",
            info.max_batch, info.name
        )));
    }
    let r = input.as_ref();
    let dtype_ok = matches!(
        (r, info.dtype),
        (InputRef::F32(_), InputType::F32) | (InputRef::F16(_), InputType::F16)
    );
    if !dtype_ok {
        return Err(Error::Config(format!(
            "input `{}` expects {:?} elements",
            info.name, info.dtype
        )));
    }
    if r.len() < batch * info.image_len() {
        return Err(Error::BufferSize {
            what: format!("input `{}` for batch {batch}", info.name),
            expected: batch * info.image_len(),
            actual: r.len(),
        });
    }
    Ok(())
}
