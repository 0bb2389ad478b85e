//! Device, pinned host and mapped memory: allocation, copies and fills.

use std::ffi::{c_int, c_void};

use super::{cudaMemcpyKind, cudaStream_t};
use crate::error::Result;
use crate::loader::cudart;

/// `cudaHostAlloc` flags (for [`host_alloc`]).
pub mod host_alloc_flags {
    pub use crate::cuda::sys::{
        cudaHostAllocDefault as DEFAULT, cudaHostAllocMapped as MAPPED,
        cudaHostAllocPortable as PORTABLE, cudaHostAllocWriteCombined as WRITE_COMBINED,
    };
}

/// `cudaMemGetInfo` on the current device: `(free, total)` bytes. Creates the device context.
pub fn info() -> Result<(usize, usize)> {
    let (mut free, mut total) = (0usize, 0usize);
    cuda_call!(cudart()?, cudaMemGetInfo(&mut free, &mut total))?;
    Ok((free, total))
}

/// `cudaMalloc`.
///
/// # Safety
/// The returned device pointer must be freed once with [`free`].
pub unsafe fn alloc(bytes: usize) -> Result<*mut c_void> {
    let mut p = std::ptr::null_mut();
    cuda_call!(cudart()?, cudaMalloc(&mut p, bytes))?;
    Ok(p)
}

/// `cudaFree`.
///
/// # Safety
/// `ptr` comes from `cudaMalloc`/`cudaMallocAsync`, is freed once, and no pending work uses it.
pub unsafe fn free(ptr: *mut c_void) -> Result<()> {
    cuda_call!(cudart()?, cudaFree(ptr))
}

/// `cudaMallocAsync` (CUDA 11.2+): stream-ordered allocation.
///
/// # Safety
/// The memory may be used only by work ordered after this call on `stream`; free it once.
pub unsafe fn alloc_async(bytes: usize, stream: cudaStream_t) -> Result<*mut c_void> {
    let mut p = std::ptr::null_mut();
    cuda_call!(cudart()?, cudaMallocAsync(&mut p, bytes, stream))?;
    Ok(p)
}

/// `cudaFreeAsync` (CUDA 11.2+).
///
/// # Safety
/// As [`free`], ordered on `stream`.
pub unsafe fn free_async(ptr: *mut c_void, stream: cudaStream_t) -> Result<()> {
    cuda_call!(cudart()?, cudaFreeAsync(ptr, stream))
}

/// `cudaHostAlloc` (pinned host memory); `flags` from [`host_alloc_flags`].
///
/// # Safety
/// The returned pointer must be freed once with [`free_host`].
pub unsafe fn host_alloc(bytes: usize, flags: u32) -> Result<*mut c_void> {
    let mut p = std::ptr::null_mut();
    cuda_call!(cudart()?, cudaHostAlloc(&mut p, bytes, flags))?;
    Ok(p)
}

/// `cudaFreeHost`.
///
/// # Safety
/// `ptr` comes from `cudaHostAlloc`, is freed once, and no pending work uses it.
pub unsafe fn free_host(ptr: *mut c_void) -> Result<()> {
    cuda_call!(cudart()?, cudaFreeHost(ptr))
}

/// `cudaHostGetDevicePointer` for memory allocated with [`host_alloc_flags::MAPPED`].
///
/// # Safety
/// `host` points into a live mapped pinned allocation.
pub unsafe fn host_device_pointer(host: *mut c_void) -> Result<*mut c_void> {
    let mut p = std::ptr::null_mut();
    cuda_call!(cudart()?, cudaHostGetDevicePointer(&mut p, host, 0))?;
    Ok(p)
}

/// `cudaMemcpy`.
///
/// # Safety
/// `dst` and `src` are valid for `bytes` in the memory spaces `kind` names.
pub unsafe fn copy(
    dst: *mut c_void,
    src: *const c_void,
    bytes: usize,
    kind: cudaMemcpyKind,
) -> Result<()> {
    cuda_call!(cudart()?, cudaMemcpy(dst, src, bytes, kind))
}

/// `cudaMemcpyAsync`.
///
/// # Safety
/// As [`copy`], and both stay valid (host memory pinned for true asynchrony) until the work on `stream`
/// completes.
pub unsafe fn copy_async(
    dst: *mut c_void,
    src: *const c_void,
    bytes: usize,
    kind: cudaMemcpyKind,
    stream: cudaStream_t,
) -> Result<()> {
    cuda_call!(cudart()?, cudaMemcpyAsync(dst, src, bytes, kind, stream))
}

/// `cudaMemset`: sets `bytes` bytes at `ptr` to `value`.
///
/// # Safety
/// `ptr` is device memory valid for `bytes`.
pub unsafe fn set(ptr: *mut c_void, value: u8, bytes: usize) -> Result<()> {
    cuda_call!(cudart()?, cudaMemset(ptr, c_int::from(value), bytes))
}

/// `cudaMemsetAsync`.
///
/// # Safety
/// As [`set`], until the work on `stream` completes.
pub unsafe fn set_async(
    ptr: *mut c_void,
    value: u8,
    bytes: usize,
    stream: cudaStream_t,
) -> Result<()> {
    cuda_call!(
        cudart()?,
        cudaMemsetAsync(ptr, c_int::from(value), bytes, stream)
    )
}
