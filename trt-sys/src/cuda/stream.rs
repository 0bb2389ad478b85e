//! Streams: creation, ordering, waiting, and capture into a graph (see [`super::graph`] for the rest).

use super::{cudaEvent_t, cudaGraph_t, cudaStreamCaptureMode, cudaStream_t, ready_or_not, sys};
use crate::error::Result;
use crate::loader::cudart;

/// `cudaStreamCreateWithFlags` flags (for [`create`]).
pub mod flags {
    pub use crate::cuda::sys::{
        cudaStreamDefault as DEFAULT, cudaStreamNonBlocking as NON_BLOCKING,
    };
}

/// `cudaStreamCreateWithFlags`; `flags` from [`flags`]. Destroy the stream with [`destroy`].
pub fn create(flags: u32) -> Result<cudaStream_t> {
    let mut s = std::ptr::null_mut();
    cuda_call!(cudart()?, cudaStreamCreateWithFlags(&mut s, flags))?;
    Ok(s)
}

/// `cudaStreamCreateWithPriority` (see [`priority_range`]).
pub fn create_with_priority(flags: u32, priority: i32) -> Result<cudaStream_t> {
    let mut s = std::ptr::null_mut();
    cuda_call!(
        cudart()?,
        cudaStreamCreateWithPriority(&mut s, flags, priority)
    )?;
    Ok(s)
}

/// `cudaDeviceGetStreamPriorityRange`: `(least, greatest)` priority (greatest is numerically lowest).
pub fn priority_range() -> Result<(i32, i32)> {
    let (mut least, mut greatest) = (0, 0);
    cuda_call!(
        cudart()?,
        cudaDeviceGetStreamPriorityRange(&mut least, &mut greatest)
    )?;
    Ok((least, greatest))
}

/// `cudaStreamSynchronize`.
///
/// # Safety
/// `stream` is a live stream (or null for the legacy default stream).
pub unsafe fn synchronize(stream: cudaStream_t) -> Result<()> {
    cuda_call!(cudart()?, cudaStreamSynchronize(stream))
}

/// `cudaStreamQuery`: `Ok(true)` when all work is complete, `Ok(false)` while some is pending.
///
/// # Safety
/// `stream` is a live stream (or null).
pub unsafe fn query(stream: cudaStream_t) -> Result<bool> {
    ready_or_not(cuda_call!(cudart()?, cudaStreamQuery(stream)))
}

/// `cudaStreamWaitEvent`: work queued later on `stream` waits for `event`.
///
/// # Safety
/// Both handles are live.
pub unsafe fn wait_event(stream: cudaStream_t, event: cudaEvent_t) -> Result<()> {
    cuda_call!(cudart()?, cudaStreamWaitEvent(stream, event, 0))
}

/// `cudaStreamDestroy`.
///
/// # Safety
/// `stream` is live and destroyed once; pending work still completes.
pub unsafe fn destroy(stream: cudaStream_t) -> Result<()> {
    cuda_call!(cudart()?, cudaStreamDestroy(stream))
}

/// `cudaStreamIsCapturing`: whether `stream` is being captured into a graph.
///
/// # Safety
/// `stream` is live.
pub unsafe fn is_capturing(stream: cudaStream_t) -> Result<bool> {
    let mut status = sys::cudaStreamCaptureStatus(0);
    cuda_call!(cudart()?, cudaStreamIsCapturing(stream, &mut status))?;
    Ok(status != sys::cudaStreamCaptureStatus::cudaStreamCaptureStatusNone)
}

/// `cudaStreamBeginCapture`.
///
/// # Safety
/// `stream` is a live non-default stream; until [`end_capture`] work on it is recorded, not run.
pub unsafe fn begin_capture(stream: cudaStream_t, mode: cudaStreamCaptureMode) -> Result<()> {
    cuda_call!(cudart()?, cudaStreamBeginCapture(stream, mode))
}

/// `cudaStreamEndCapture`: the captured graph (destroy it with [`super::graph::destroy`]).
///
/// # Safety
/// `stream` is live and capturing.
pub unsafe fn end_capture(stream: cudaStream_t) -> Result<cudaGraph_t> {
    let mut g = std::ptr::null_mut();
    cuda_call!(cudart()?, cudaStreamEndCapture(stream, &mut g))?;
    Ok(g)
}
