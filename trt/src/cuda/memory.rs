//! Device and pinned host buffers with last-use tracking (see the [module docs](super)).

use std::ffi::c_void;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard};

use trt_sys::cuda::{cudaEvent_t, cudaStream_t};

use super::{Device, Stream};
use crate::dtype::Element;
use crate::error::{Error, Result};

/// The "last use" marker of a buffer: an event recorded after the latest stream operation that touched it.
#[derive(Debug)]
pub(crate) struct Tracker {
    state: Mutex<TrackerState>,
    device: Device,
}

#[derive(Debug)]
pub(crate) struct TrackerState {
    event: cudaEvent_t,
    recorded: bool,
}

// SAFETY: the event handle is an identifier usable from any thread; access is serialized by the Mutex.
unsafe impl Send for TrackerState {}

impl Tracker {
    fn new(device: &Device) -> Result<Tracker> {
        let event = trt_sys::cuda::event::create(trt_sys::cuda::event::flags::DISABLE_TIMING)?;
        Ok(Tracker {
            state: Mutex::new(TrackerState {
                event,
                recorded: false,
            }),
            device: device.clone(),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TrackerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get_mut(&mut self) -> &mut TrackerState {
        self.state.get_mut().unwrap_or_else(|p| p.into_inner())
    }

    /// The device of the buffer this tracker belongs to.
    pub(crate) fn device(&self) -> &Device {
        &self.device
    }
}

impl TrackerState {
    /// Makes `stream` wait for the last use.
    ///
    /// # Safety
    /// `stream` is a live stream.
    pub(crate) unsafe fn wait_on(&self, stream: cudaStream_t) -> Result<()> {
        if self.recorded {
            // SAFETY: live event (owned) and stream (caller).
            unsafe { trt_sys::cuda::stream::wait_event(stream, self.event) }?;
        }
        Ok(())
    }

    /// Marks the work enqueued so far on `stream` as the last use. The new marker is ordered after the previous one
    /// (`stream` first waits for it), so it completes only when *every* tracked use has: re-marking on another stream
    /// never forgets work still running elsewhere (`s1.copy_d2h(..); buf.end_raw_use(&s2)` keeps the DMA on `s1`
    /// covered).
    ///
    /// # Safety
    /// `stream` is a live stream.
    pub(crate) unsafe fn record_on(&mut self, stream: cudaStream_t) -> Result<()> {
        // SAFETY: live event (owned) and stream (caller).
        unsafe {
            self.wait_on(stream)?;
            trt_sys::cuda::event::record(self.event, stream)?;
        }
        self.recorded = true;
        Ok(())
    }

    /// Blocks the host until the last use has completed.
    pub(crate) fn host_sync(&self) -> Result<()> {
        if self.recorded {
            // SAFETY: live event.
            unsafe { trt_sys::cuda::event::synchronize(self.event) }?;
        }
        Ok(())
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let event = self.get_mut().event;
        // SAFETY: owned event, destroyed once.
        if let Err(e) = unsafe { trt_sys::cuda::event::destroy(event) } {
            self.device.record_drop_error(e);
        }
    }
}

/// Flags of a pinned host allocation (`cudaHostAlloc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostAllocFlags {
    /// Pinned for every CUDA context (`cudaHostAllocPortable`); on by default.
    pub portable: bool,
    /// Mapped into the device address space (`cudaHostAllocMapped`): zero-copy access from kernels, the usual choice
    /// on Jetson (integrated GPU, shared memory).
    pub mapped: bool,
    /// Write-combined (`cudaHostAllocWriteCombined`): faster host→device transfers, very slow host reads. Use only for
    /// input staging.
    pub write_combined: bool,
}

impl Default for HostAllocFlags {
    fn default() -> Self {
        HostAllocFlags {
            portable: true,
            mapped: false,
            write_combined: false,
        }
    }
}

impl HostAllocFlags {
    /// Portable + mapped (zero-copy; Jetson).
    pub fn mapped() -> Self {
        HostAllocFlags {
            mapped: true,
            ..Self::default()
        }
    }

    fn bits(self) -> u32 {
        use trt_sys::cuda::memory::host_alloc_flags as f;
        let mut b = f::DEFAULT;
        if self.portable {
            b |= f::PORTABLE;
        }
        if self.mapped {
            b |= f::MAPPED;
        }
        if self.write_combined {
            b |= f::WRITE_COMBINED;
        }
        b
    }
}

fn byte_len<T>(len: usize) -> Result<usize> {
    len.checked_mul(std::mem::size_of::<T>()).ok_or_else(|| {
        Error::InvalidArgument(format!("buffer of {len} elements overflows usize bytes"))
    })
}

/// Device memory holding `len` values of `T`.
#[derive(Debug)]
pub struct DeviceBuffer<T: Element> {
    ptr: *mut c_void,
    len: usize,
    tracker: Tracker,
    device: Device,
    _t: PhantomData<T>,
}

// SAFETY: device memory is not accessed by the host through this type; the pointer is an address the CUDA runtime
// accepts from any thread, and all stream use is ordered by the tracker (Mutex).
unsafe impl<T: Element> Send for DeviceBuffer<T> {}
// SAFETY: `&self` methods only read the address or issue reads ordered through the tracker's Mutex.
unsafe impl<T: Element> Sync for DeviceBuffer<T> {}

impl<T: Element> DeviceBuffer<T> {
    /// Allocates `len` elements on `device` (contents unspecified).
    pub fn new(device: &Device, len: usize) -> Result<Self> {
        device.activate()?;
        let bytes = byte_len::<T>(len)?;
        let tracker = Tracker::new(device)?;
        let ptr = if bytes == 0 {
            std::ptr::null_mut()
        } else {
            // SAFETY: freed once in Drop.
            unsafe { trt_sys::cuda::memory::alloc(bytes) }?
        };
        Ok(DeviceBuffer {
            ptr,
            len,
            tracker,
            device: device.clone(),
            _t: PhantomData,
        })
    }

    /// Allocates and fills from a host slice (returns when the copy is done).
    pub fn from_slice(stream: &Stream, data: &[T]) -> Result<Self> {
        let mut b = Self::new(stream.device(), data.len())?;
        stream.copy_from_slice(data, &mut b)?;
        Ok(b)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Size in bytes.
    pub fn byte_len(&self) -> usize {
        self.len * std::mem::size_of::<T>()
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The device address (null when empty). Using it is `unsafe` work that the tracker does not see: bracket it
    /// with [`DeviceBuffer::begin_raw_use`] and [`DeviceBuffer::end_raw_use`].
    pub fn as_raw_ptr(&self) -> *mut c_void {
        self.ptr
    }

    pub(crate) fn raw_ptr(&self) -> *mut c_void {
        self.ptr
    }

    pub(crate) fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    pub(crate) fn tracker_mut(&mut self) -> &mut Tracker {
        &mut self.tracker
    }

    /// Makes `stream` wait for earlier tracked work on this buffer (call before enqueuing raw work using it).
    pub fn begin_raw_use(&self, stream: &Stream) -> Result<()> {
        // SAFETY: live stream.
        unsafe { self.tracker.lock().wait_on(stream.as_raw()) }
    }

    /// Marks the work enqueued on `stream` so far as this buffer's last use (call after enqueuing raw work).
    pub fn end_raw_use(&self, stream: &Stream) -> Result<()> {
        // SAFETY: live stream.
        unsafe { self.tracker.lock().record_on(stream.as_raw()) }
    }
}

impl<T: Element> Drop for DeviceBuffer<T> {
    fn drop(&mut self) {
        if self.ptr.is_null() {
            return;
        }
        if let Err(e) = self.tracker.get_mut().host_sync() {
            // The GPU may still use the memory: leak it rather than free it, and say so.
            self.device.record_drop_error(Error::LeakedOnDrop {
                what: "device buffer",
                bytes: self.byte_len(),
                reason: e.to_string(),
            });
            return;
        }
        // SAFETY: allocated by cudaMalloc in `new`, freed once, and its last use has completed.
        if let Err(e) = unsafe { trt_sys::cuda::memory::free(self.ptr) } {
            self.device.record_drop_error(e);
        }
    }
}

/// Page-locked host memory holding `len` values of `T` (zero-initialized), the fast path for copies.
#[derive(Debug)]
pub struct PinnedBuffer<T: Element> {
    ptr: NonNull<T>,
    len: usize,
    allocated: bool,
    mapped: Option<*mut c_void>,
    tracker: Tracker,
    device: Device,
}

// SAFETY: owned host memory; host access is gated by `&`/`&mut` and by the tracker, GPU access is ordered by it.
unsafe impl<T: Element> Send for PinnedBuffer<T> {}
// SAFETY: `&self` only gives shared (read) access after the last GPU use has completed; GPU writes need `&mut self`.
unsafe impl<T: Element> Sync for PinnedBuffer<T> {}

impl<T: Element> PinnedBuffer<T> {
    /// Allocates `len` zeroed elements with `flags`.
    pub fn new(device: &Device, len: usize, flags: HostAllocFlags) -> Result<Self> {
        device.activate()?;
        let bytes = byte_len::<T>(len)?;
        let tracker = Tracker::new(device)?;
        if bytes == 0 {
            return Ok(PinnedBuffer {
                ptr: NonNull::dangling(),
                len,
                allocated: false,
                mapped: None,
                tracker,
                device: device.clone(),
            });
        }
        // SAFETY: freed once in Drop (or below on error).
        let raw = unsafe { trt_sys::cuda::memory::host_alloc(bytes, flags.bits()) }?;
        let Some(ptr) = NonNull::new(raw.cast::<T>()) else {
            return Err(Error::InvalidArgument(
                "cudaHostAlloc returned a null pointer".into(),
            ));
        };
        // SAFETY: `bytes` of fresh host memory; zero is a valid value of every element type.
        unsafe { std::ptr::write_bytes(raw.cast::<u8>(), 0, bytes) };
        let mut buffer = PinnedBuffer {
            ptr,
            len,
            allocated: true,
            mapped: None,
            tracker,
            device: device.clone(),
        };
        if flags.mapped {
            // SAFETY: `raw` is a mapped pinned allocation.
            buffer.mapped = Some(unsafe { trt_sys::cuda::memory::host_device_pointer(raw) }?);
        }
        Ok(buffer)
    }

    /// Allocates (default flags) and copies `data` in.
    pub fn from_slice(device: &Device, data: &[T]) -> Result<Self> {
        let mut b = Self::new(device, data.len(), HostAllocFlags::default())?;
        b.as_mut_slice()?.copy_from_slice(data);
        Ok(b)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Size in bytes.
    pub fn byte_len(&self) -> usize {
        self.len * std::mem::size_of::<T>()
    }

    /// The device address of a mapped allocation (`None` unless allocated with `mapped`).
    pub fn mapped_device_ptr(&self) -> Option<*mut c_void> {
        self.mapped
    }

    pub(crate) fn raw_ptr(&self) -> *mut c_void {
        self.ptr.as_ptr().cast()
    }

    pub(crate) fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    pub(crate) fn tracker_mut(&mut self) -> &mut Tracker {
        &mut self.tracker
    }

    fn validate(&self) -> Result<()> {
        if T::NEEDS_VALIDATION {
            // SAFETY: `byte_len` initialized bytes (zeroed at allocation, then written by copies only).
            let bytes = unsafe {
                std::slice::from_raw_parts(self.ptr.as_ptr().cast::<u8>(), self.byte_len())
            };
            if let Some(index) = T::first_invalid(bytes) {
                return Err(Error::InvalidValue {
                    dtype: T::DTYPE,
                    index,
                });
            }
        }
        Ok(())
    }

    /// The contents, after waiting for any GPU work still using the buffer.
    pub fn as_slice(&self) -> Result<&[T]> {
        self.tracker.lock().host_sync()?;
        self.validate()?;
        // SAFETY: live allocation of `len` initialized, validated elements; no GPU write can be enqueued while this
        // shared borrow lives (writes need `&mut self`), and earlier work has completed.
        Ok(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) })
    }

    /// Mutable contents, after waiting for any GPU work still using the buffer.
    pub fn as_mut_slice(&mut self) -> Result<&mut [T]> {
        self.tracker.get_mut().host_sync()?;
        self.validate()?;
        // SAFETY: as `as_slice`, and `&mut self` excludes every other access.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) })
    }

    /// Copies the contents into a `Vec`.
    pub fn to_vec(&self) -> Result<Vec<T>> {
        Ok(self.as_slice()?.to_vec())
    }

    /// Makes `stream` wait for earlier tracked work on this buffer (before raw work using it).
    pub fn begin_raw_use(&self, stream: &Stream) -> Result<()> {
        // SAFETY: live stream.
        unsafe { self.tracker.lock().wait_on(stream.as_raw()) }
    }

    /// Marks the work enqueued on `stream` so far as this buffer's last use (after raw work using it).
    pub fn end_raw_use(&self, stream: &Stream) -> Result<()> {
        // SAFETY: live stream.
        unsafe { self.tracker.lock().record_on(stream.as_raw()) }
    }
}

impl<T: Element> Drop for PinnedBuffer<T> {
    fn drop(&mut self) {
        if !self.allocated {
            return;
        }
        if let Err(e) = self.tracker.get_mut().host_sync() {
            self.device.record_drop_error(Error::LeakedOnDrop {
                what: "pinned host buffer",
                bytes: self.byte_len(),
                reason: e.to_string(),
            });
            return;
        }
        // SAFETY: allocated by cudaHostAlloc in `new`, freed once, last use complete.
        if let Err(e) = unsafe { trt_sys::cuda::memory::free_host(self.ptr.as_ptr().cast()) } {
            self.device.record_drop_error(e);
        }
    }
}
