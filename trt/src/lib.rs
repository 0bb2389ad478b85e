//! Safe TensorRT runtime: engines, execution contexts, CUDA streams, events and buffers.
//!
//! The crate a Rust service embeds to run a TensorRT engine. NVIDIA libraries are opened at run time by `trt-sys`;
//! without them (or without a GPU) every entry point returns a clear [`Error`] instead of crashing, and the crate and
//! its documentation build with no NVIDIA software installed.
//!
//! # Layers
//! * [`sidecar`] — the engine sidecar (provenance + integrity), pure Rust; checked before TensorRT sees a byte.
//! * [`foreign`] — engines from other tools (trtexec, Ultralytics …), which have no sidecar; Ultralytics' metadata.
//! * [`cuda`] — [`Device`](cuda::Device), [`Stream`](cuda::Stream), [`Event`](cuda::Event),
//!   [`DeviceBuffer`](cuda::DeviceBuffer), [`PinnedBuffer`](cuda::PinnedBuffer), [`CudaGraph`](cuda::CudaGraph).
//! * [`Library`], [`Runtime`], [`Engine`], [`ExecutionContext`], [`Session`], [`SharedEngine`], [`OwnedSession`] —
//!   the runtime over the TensorRT shim.
//! * [`builder`] — the thin builder wrappers `trt-build` uses.
//! * [`calibrator`] — [`DeviceCalibrator`], on-GPU INT8 calibration for TensorRT ≤ 10.x.
//! * [`validity`] — TensorRT for RTX's header check of an engine (`getEngineValidity`), with each reason in words.
//!
//! # Async memory safety
//! No safe call lets the GPU read or write memory that Rust code can free, move or reuse before the work is known
//! complete:
//! * Every CUDA buffer remembers an event recorded after the last stream operation that touched it. Host access to a
//!   pinned buffer ([`PinnedBuffer::as_slice`](cuda::PinnedBuffer::as_slice)) waits on that event first; an
//!   operation on another stream makes that stream wait on it; `Drop` waits on it before freeing (and leaks the
//!   allocation rather than freeing it if the wait fails). So forgetting or leaking any handle cannot create a
//!   use-after-free: the guarantee is attached to the memory, not to a guard object.
//! * [`Session`] owns its pinned and device buffers. [`Session::infer_async`] returns a [`PendingInference`] that
//!   mutably borrows the session, so the session (and its buffers) cannot be used, mutated or dropped while the
//!   inference may run. If the handle is leaked with `mem::forget`, the session's "in flight" flag stays set and the
//!   next call on the session — and the session's `Drop` — synchronizes the stream before any buffer is touched.
//! * [`Session::submit`] / [`Session::wait`] keep one inference in flight without any handle: the same "in flight"
//!   flag makes every later call (including [`Session::input_mut`], the writable view of a pinned input buffer)
//!   and `Drop` synchronize first.
//! * [`OwnedSession`] (from [`Engine::into_shared`] / [`SharedEngine::session`]) holds an `Arc` of its engine instead
//!   of a borrow; its session is dropped (and synchronized) before its engine reference, and no engine reference
//!   it hands out outlives it.
//! * A buffer's marker is only ever replaced by one ordered after it (the new stream first waits for the old
//!   marker), so re-marking on another stream (`end_raw_use`) never forgets work still running elsewhere. A tracked
//!   copy whose markers cannot be recorded, and every copy to or from pageable memory once queued, is waited for
//!   before the call returns; buffers of another device are refused before anything is queued.
//! * Waits come before reports: `Stream::synchronize` and every drop path wait for the work first and report
//!   deferred `Drop` errors after, so an unrelated failure never skips a wait. A buffer whose wait fails is leaked
//!   (reported as [`Error::LeakedOnDrop`]), never freed under the GPU.
//! * Raw-pointer enqueue ([`ExecutionContext::enqueue`]) is `unsafe` with its contract documented, and so is
//!   implementing a calibrator ([`builder::Calibrator`] is an `unsafe trait`: it hands TensorRT raw addresses).
//!   Sessions refuse vectorized IO formats, whose padding their volume-sized buffers would not hold.
#![warn(missing_docs)]

pub mod builder;
pub mod calibrator;
pub mod cuda;
pub mod dtype;
pub mod error;
pub mod foreign;
mod logger;
pub mod plugins;
mod runtime;
mod session;
mod shared;
pub mod sidecar;
pub mod system;
pub mod validity;

pub use calibrator::{
    BatchSource, CacheCalibrator, CalibInput, CalibrationHandle, DeviceCalibrator,
};
pub use dtype::{DataType, Element};
pub use error::{Error, Result, Shape};
pub use logger::{LogMessage, Logger, Severity};
pub use runtime::{
    format_name, Engine, ExecutionContext, IoTensor, LayerTime, LayerTimes, Library, LoadOptions,
    ProfileDims, Runtime, RuntimeCache, TensorFormat,
};
pub use session::{Input, Outputs, PendingInference, PhaseTimes, Session, SessionConfig};
pub use shared::{OwnedSession, SharedEngine};
pub use sidecar::ComputeCapability;
pub use trt_sys::loader::compiled_version;
pub use trt_sys::version::{Product, Version};
/// The raw layer's error, carried by [`Error::Sys`]; match on it through the predicates on [`Error`] where one serves.
pub use trt_sys::Error as SysError;
