//! Events: markers recorded on a stream, to wait on or to time the work between two of them.

use super::{cudaEvent_t, cudaStream_t, ready_or_not};
use crate::error::Result;
use crate::loader::cudart;

/// `cudaEventCreateWithFlags` flags (for [`create`]).
pub mod flags {
    pub use crate::cuda::sys::{
        cudaEventBlockingSync as BLOCKING_SYNC, cudaEventDefault as DEFAULT,
        cudaEventDisableTiming as DISABLE_TIMING, cudaEventInterprocess as INTERPROCESS,
    };
}

/// `cudaEventCreateWithFlags`; `flags` from [`flags`]. Destroy the event with [`destroy`].
pub fn create(flags: u32) -> Result<cudaEvent_t> {
    let mut e = std::ptr::null_mut();
    cuda_call!(cudart()?, cudaEventCreateWithFlags(&mut e, flags))?;
    Ok(e)
}

/// `cudaEventRecord`.
///
/// # Safety
/// Both handles are live.
pub unsafe fn record(event: cudaEvent_t, stream: cudaStream_t) -> Result<()> {
    cuda_call!(cudart()?, cudaEventRecord(event, stream))
}

/// `cudaEventSynchronize`.
///
/// # Safety
/// `event` is live.
pub unsafe fn synchronize(event: cudaEvent_t) -> Result<()> {
    cuda_call!(cudart()?, cudaEventSynchronize(event))
}

/// `cudaEventQuery`: `Ok(true)` when the recorded work is complete.
///
/// # Safety
/// `event` is live.
pub unsafe fn query(event: cudaEvent_t) -> Result<bool> {
    ready_or_not(cuda_call!(cudart()?, cudaEventQuery(event)))
}

/// `cudaEventElapsedTime` in milliseconds between two completed events.
///
/// # Safety
/// Both events are live, recorded, and were created without `DISABLE_TIMING`.
pub unsafe fn elapsed_time(start: cudaEvent_t, end: cudaEvent_t) -> Result<f32> {
    let mut ms = 0f32;
    cuda_call!(cudart()?, cudaEventElapsedTime(&mut ms, start, end))?;
    Ok(ms)
}

/// `cudaEventDestroy`.
///
/// # Safety
/// `event` is live and destroyed once.
pub unsafe fn destroy(event: cudaEvent_t) -> Result<()> {
    cuda_call!(cudart()?, cudaEventDestroy(event))
}
