//! Safe CUDA runtime objects: [`Device`], [`Stream`], [`Event`], [`DeviceBuffer`], [`PinnedBuffer`], [`CudaGraph`].
//!
//! libcudart is opened at run time (`trt-sys`); without a driver or a GPU every constructor returns
//! [`Error::Sys`](crate::Error::Sys) wrapping `NoCudaDevice` with the reason, never a crash.
//!
//! # Soundness of asynchronous work
//! Every buffer owns a CUDA event that is recorded after each stream operation touching it (a "last use" marker):
//! * an operation on a stream first makes that stream wait on the buffer's marker (cross-stream ordering), then
//!   records the marker again after the new work;
//! * host access ([`PinnedBuffer::as_slice`], [`PinnedBuffer::as_mut_slice`]) waits for the marker first;
//! * writes need `&mut` to the destination buffer, so the host can never hold a slice the GPU is writing;
//! * `Drop` waits for the marker before freeing; when that wait fails (a sticky device error) the allocation is
//!   leaked rather than freed, and the error is reported by the next call on the device.
//!
//! Nothing here hands out a guard whose destructor is needed for soundness, so `mem::forget` of any value only leaks.
//! Copies to or from pageable memory (`&[T]`, `&mut [T]`) complete before they return.

mod memory;
mod stream;

use std::sync::Arc;

pub use memory::{DeviceBuffer, HostAllocFlags, PinnedBuffer};
pub use stream::{CudaGraph, Event, Stream};

use crate::error::{ErrorSink, Result};
use crate::sidecar::ComputeCapability;

/// What a device is (from `cudaDeviceGetAttribute` / `cudaGetDeviceProperties`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceProperties {
    /// Device ordinal.
    pub ordinal: i32,
    /// Name, e.g. `"Tesla T4"`, `"Orin"`.
    pub name: String,
    /// Compute capability.
    pub compute_capability: ComputeCapability,
    /// Number of streaming multiprocessors.
    pub multiprocessors: u32,
    /// Integrated GPU sharing memory with the host (Jetson): mapped pinned memory avoids copies there.
    pub integrated: bool,
    /// Total device memory in bytes.
    pub total_memory: usize,
}

/// Free and total device memory (`cudaMemGetInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryInfo {
    /// Free bytes.
    pub free: usize,
    /// Total bytes.
    pub total: usize,
}

/// Versions of the CUDA driver and runtime in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaVersions {
    /// Highest CUDA version the driver supports (`12040` = 12.4; 0 = no driver).
    pub driver: i32,
    /// The loaded libcudart's version.
    pub runtime: i32,
    /// Path of the loaded libcudart.
    pub runtime_path: std::path::PathBuf,
}

/// A CUDA device. Cheap to clone (shared handle); every object created from it reports errors raised in its `Drop`
/// through the device's error sink on the next fallible call.
#[derive(Clone, Debug)]
pub struct Device {
    inner: Arc<DeviceInner>,
}

#[derive(Debug)]
struct DeviceInner {
    props: DeviceProperties,
    sink: ErrorSink,
}

impl Device {
    /// Number of usable devices. Without a driver or a GPU this is an error (`NoCudaDevice`) naming the reason.
    pub fn count() -> Result<usize> {
        Ok(trt_sys::cuda::check_device_usable()?.devices.len())
    }

    /// Opens device `ordinal` (checks driver and device first).
    pub fn new(ordinal: usize) -> Result<Device> {
        let summary = trt_sys::cuda::check_device_usable()?;
        let info = summary.devices.get(ordinal).ok_or_else(|| {
            crate::Error::InvalidArgument(format!(
                "CUDA device {ordinal} does not exist; {} device(s) are visible (check CUDA_VISIBLE_DEVICES)",
                summary.devices.len()
            ))
        })?;
        let props = DeviceProperties {
            ordinal: info.ordinal,
            name: info.name.clone(),
            compute_capability: ComputeCapability::new(
                u32::try_from(info.compute_capability.0).unwrap_or(0),
                u32::try_from(info.compute_capability.1).unwrap_or(0),
            ),
            multiprocessors: u32::try_from(info.multiprocessors).unwrap_or(0),
            integrated: info.integrated,
            total_memory: info.total_memory,
        };
        trt_sys::cuda::device::set(props.ordinal)?;
        Ok(Device {
            inner: Arc::new(DeviceInner {
                props,
                sink: ErrorSink::default(),
            }),
        })
    }

    /// Versions of the driver and runtime (works without a device; fails only when libcudart is missing).
    pub fn versions() -> Result<CudaVersions> {
        let rt = trt_sys::loader::cudart()?;
        Ok(CudaVersions {
            driver: rt.driver_version()?,
            runtime: rt.runtime_version()?,
            runtime_path: rt.path().to_owned(),
        })
    }

    /// Properties.
    pub fn properties(&self) -> &DeviceProperties {
        &self.inner.props
    }

    /// Device ordinal.
    pub fn ordinal(&self) -> usize {
        usize::try_from(self.inner.props.ordinal).unwrap_or(0)
    }

    /// Device name.
    pub fn name(&self) -> &str {
        &self.inner.props.name
    }

    /// Compute capability.
    pub fn compute_capability(&self) -> ComputeCapability {
        self.inner.props.compute_capability
    }

    /// Free and total memory now.
    pub fn memory_info(&self) -> Result<MemoryInfo> {
        self.activate()?;
        let (free, total) = trt_sys::cuda::memory::info()?;
        Ok(MemoryInfo { free, total })
    }

    /// Waits for all work on the device (`cudaDeviceSynchronize`).
    pub fn synchronize(&self) -> Result<()> {
        self.activate()?;
        Ok(trt_sys::cuda::device::synchronize()?)
    }

    /// A new non-blocking stream on this device.
    pub fn stream(&self) -> Result<Stream> {
        Stream::new(self)
    }

    /// Allocates `len` elements of device memory (contents unspecified until written; every bit pattern of the
    /// element types except `bool`'s is a valid value, and `bool` is validated when read back).
    pub fn alloc<T: crate::Element>(&self, len: usize) -> Result<DeviceBuffer<T>> {
        DeviceBuffer::new(self, len)
    }

    /// Allocates `len` zeroed elements of page-locked host memory.
    pub fn alloc_pinned<T: crate::Element>(
        &self,
        len: usize,
        flags: HostAllocFlags,
    ) -> Result<PinnedBuffer<T>> {
        PinnedBuffer::new(self, len, flags)
    }

    /// Makes this device current on the calling thread and reports errors recorded by earlier `Drop`s.
    pub(crate) fn activate(&self) -> Result<()> {
        self.make_current()?;
        self.inner.sink.check()
    }

    /// Makes this device current on the calling thread (and nothing else: drop paths and waits must not be skipped
    /// because an unrelated earlier `Drop` failed).
    pub(crate) fn make_current(&self) -> Result<()> {
        trt_sys::cuda::device::set(self.inner.props.ordinal)?;
        Ok(())
    }

    pub(crate) fn record_drop_error(&self, e: impl Into<crate::Error>) {
        self.inner.sink.record(e.into());
    }

    /// Reports (and clears) errors recorded while dropping objects of this device.
    pub fn take_deferred_errors(&self) -> Result<()> {
        self.inner.sink.check()
    }
}
