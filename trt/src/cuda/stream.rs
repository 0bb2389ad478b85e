//! Streams, events and CUDA graphs.

use std::ffi::c_void;
use std::time::Duration;

use trt_sys::cuda::{cudaEvent_t, cudaGraphExec_t, cudaGraph_t, cudaMemcpyKind, cudaStream_t};

use super::memory::Tracker;
use super::{Device, DeviceBuffer, PinnedBuffer};
use crate::dtype::Element;
use crate::error::{Error, Result};

/// A CUDA stream (created non-blocking). `Drop` synchronizes it before destroying it.
#[derive(Debug)]
pub struct Stream {
    raw: cudaStream_t,
    device: Device,
}

// SAFETY: CUDA runtime API calls on a stream handle are thread-safe; the handle is just an identifier owned by the
// runtime. All host memory a stream operation touches is protected by the buffers' trackers (see the module docs).
unsafe impl Send for Stream {}
// SAFETY: see Send; every method takes `&self` and only issues thread-safe runtime calls.
unsafe impl Sync for Stream {}

impl Stream {
    /// A new non-blocking stream on `device`.
    pub fn new(device: &Device) -> Result<Stream> {
        device.activate()?;
        let raw = trt_sys::cuda::stream::create(trt_sys::cuda::stream::flags::NON_BLOCKING)?;
        Ok(Stream {
            raw,
            device: device.clone(),
        })
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The raw handle, for passing to other CUDA libraries. Work enqueued through it is not tracked: see
    /// [`ExecutionContext::enqueue`](crate::ExecutionContext::enqueue) for the contract.
    pub fn as_raw(&self) -> cudaStream_t {
        self.raw
    }

    /// Waits until all work on the stream has completed, then reports errors recorded by earlier `Drop`s of this
    /// device (the wait happens whatever those were).
    pub fn synchronize(&self) -> Result<()> {
        self.sync_raw()?;
        self.device.take_deferred_errors()
    }

    /// Waits until all work on the stream has completed; reports only the wait's own failure. For drop paths and
    /// for waits that must happen before anything else is reported.
    pub(crate) fn sync_raw(&self) -> Result<()> {
        self.device.make_current()?;
        // SAFETY: `raw` is a live stream owned by self.
        Ok(unsafe { trt_sys::cuda::stream::synchronize(self.raw) }?)
    }

    /// `true` when all work on the stream has completed.
    pub fn is_idle(&self) -> Result<bool> {
        // SAFETY: live stream.
        Ok(unsafe { trt_sys::cuda::stream::query(self.raw) }?)
    }

    /// Records `event` on this stream (for timing or for another stream to wait on).
    pub fn record(&self, event: &mut Event) -> Result<()> {
        self.device.activate()?;
        // SAFETY: both handles are live; `&mut Event` means no one else records it concurrently.
        unsafe { trt_sys::cuda::event::record(event.raw, self.raw) }?;
        event.recorded = true;
        Ok(())
    }

    /// Makes future work on this stream wait for `event`.
    pub fn wait(&self, event: &Event) -> Result<()> {
        if event.recorded {
            // SAFETY: both handles are live.
            unsafe { trt_sys::cuda::stream::wait_event(self.raw, event.raw) }?;
        }
        Ok(())
    }

    /// Runs one tracked async copy: waits on the source's marker, enqueues `copy`, re-records both markers.
    fn tracked(
        &self,
        bytes: usize,
        src: &Tracker,
        dst: &mut Tracker,
        copy: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        self.device.activate()?;
        if bytes == 0 {
            return Ok(());
        }
        // A buffer of another device cannot be ordered by this stream's events: refuse it before any work.
        for (what, t) in [("source", src.device()), ("destination", dst.device())] {
            if t.ordinal() != self.device.ordinal() {
                return Err(Error::InvalidArgument(format!(
                    "the {what} buffer lives on CUDA device {} but the stream on device {}; copy through a buffer \
                     of the stream's device",
                    t.ordinal(),
                    self.device.ordinal()
                )));
            }
        }
        let mut src_state = src.lock();
        // SAFETY: the markers are live events; the stream is live.
        unsafe {
            src_state.wait_on(self.raw)?;
            dst.get_mut().wait_on(self.raw)?;
        }
        copy()?;
        // The copy is queued: if it cannot be marked as the buffers' last use, wait for it here, so that no buffer is
        // released to the host (or freed) while the copy may still run.
        // SAFETY: as above.
        let marked = unsafe {
            src_state
                .record_on(self.raw)
                .and_then(|()| dst.get_mut().record_on(self.raw))
        };
        if let Err(e) = marked {
            // SAFETY: live stream.
            if let Err(sync) = unsafe { trt_sys::cuda::stream::synchronize(self.raw) } {
                self.device.record_drop_error(sync);
            }
            return Err(e);
        }
        Ok(())
    }

    /// Copies pinned host memory to device memory, asynchronously. The buffers stay protected until the copy is
    /// done (module docs).
    pub fn copy_h2d<T: Element>(
        &self,
        src: &PinnedBuffer<T>,
        dst: &mut DeviceBuffer<T>,
    ) -> Result<()> {
        check_len("copy_h2d", dst.len(), src.len())?;
        let (d, s, bytes) = (dst.raw_ptr(), src.raw_ptr(), src.byte_len());
        self.tracked(bytes, src.tracker(), dst.tracker_mut(), || {
            // SAFETY: both allocations are live and at least `bytes` long; the trackers keep them alive and
            // untouched by the host until the copy completes.
            Ok(unsafe {
                trt_sys::cuda::memory::copy_async(
                    d,
                    s,
                    bytes,
                    cudaMemcpyKind::cudaMemcpyHostToDevice,
                    self.raw,
                )
            }?)
        })
    }

    /// Copies device memory to pinned host memory, asynchronously; [`PinnedBuffer::as_slice`] waits for it.
    pub fn copy_d2h<T: Element>(
        &self,
        src: &DeviceBuffer<T>,
        dst: &mut PinnedBuffer<T>,
    ) -> Result<()> {
        check_len("copy_d2h", dst.len(), src.len())?;
        let (d, s, bytes) = (dst.raw_ptr(), src.raw_ptr(), src.byte_len());
        self.tracked(bytes, src.tracker(), dst.tracker_mut(), || {
            // SAFETY: see copy_h2d.
            Ok(unsafe {
                trt_sys::cuda::memory::copy_async(
                    d,
                    s,
                    bytes,
                    cudaMemcpyKind::cudaMemcpyDeviceToHost,
                    self.raw,
                )
            }?)
        })
    }

    /// Copies device memory to device memory, asynchronously.
    pub fn copy_d2d<T: Element>(
        &self,
        src: &DeviceBuffer<T>,
        dst: &mut DeviceBuffer<T>,
    ) -> Result<()> {
        check_len("copy_d2d", dst.len(), src.len())?;
        let (d, s, bytes) = (dst.raw_ptr(), src.raw_ptr(), src.byte_len());
        self.tracked(bytes, src.tracker(), dst.tracker_mut(), || {
            // SAFETY: see copy_h2d.
            Ok(unsafe {
                trt_sys::cuda::memory::copy_async(
                    d,
                    s,
                    bytes,
                    cudaMemcpyKind::cudaMemcpyDeviceToDevice,
                    self.raw,
                )
            }?)
        })
    }

    /// Copies a pageable host slice to device memory; returns when the copy has completed.
    pub fn copy_from_slice<T: Element>(&self, src: &[T], dst: &mut DeviceBuffer<T>) -> Result<()> {
        check_len("copy_from_slice", dst.len(), src.len())?;
        self.device.activate()?;
        let (d, bytes) = (dst.raw_ptr(), std::mem::size_of_val(src));
        if bytes == 0 {
            return Ok(());
        }
        // SAFETY: the marker is live; `src` is borrowed for the whole call, and once the copy is queued the stream is
        // synchronized before returning on every path, so the pageable source outlives the copy.
        unsafe {
            dst.tracker_mut().get_mut().wait_on(self.raw)?;
            trt_sys::cuda::memory::copy_async(
                d,
                src.as_ptr().cast(),
                bytes,
                cudaMemcpyKind::cudaMemcpyHostToDevice,
                self.raw,
            )?;
        }
        // SAFETY: as above.
        let marked = unsafe { dst.tracker_mut().get_mut().record_on(self.raw) };
        self.finish_pageable(marked)
    }

    /// The end of a copy to or from pageable host memory that is queued: wait for it on every path (the host memory
    /// is the caller's again once this returns), then report the marker's error, the wait's, or deferred ones.
    fn finish_pageable(&self, marked: Result<()>) -> Result<()> {
        let synced = self.sync_raw();
        marked?;
        synced?;
        self.device.take_deferred_errors()
    }

    /// Copies device memory into a pageable host slice; returns when the copy has completed. Fails for `bool`
    /// buffers holding bytes other than 0/1 (after the copy, before anything reads them as `bool`).
    pub fn copy_to_slice<T: Element>(&self, src: &DeviceBuffer<T>, dst: &mut [T]) -> Result<()> {
        check_len("copy_to_slice", dst.len(), src.len())?;
        self.device.activate()?;
        let bytes = std::mem::size_of_val(dst);
        if bytes == 0 {
            return Ok(());
        }
        if T::NEEDS_VALIDATION {
            // Copy into bytes first so invalid values never exist as `T`.
            let mut tmp = vec![0u8; bytes];
            self.copy_raw_to_host(src, tmp.as_mut_ptr().cast(), bytes)?;
            if let Some(index) = T::first_invalid(&tmp) {
                return Err(Error::InvalidValue {
                    dtype: T::DTYPE,
                    index,
                });
            }
            // SAFETY: `tmp` holds `bytes` validated bytes of `T` values; `dst` is `bytes` long and does not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(tmp.as_ptr(), dst.as_mut_ptr().cast::<u8>(), bytes)
            };
            return Ok(());
        }
        self.copy_raw_to_host(src, dst.as_mut_ptr().cast(), bytes)
    }

    /// Copies device memory into a new `Vec` (see [`Stream::copy_to_slice`]).
    pub fn copy_to_vec<T: Element>(&self, src: &DeviceBuffer<T>) -> Result<Vec<T>> {
        let mut v = vec![T::default(); src.len()];
        self.copy_to_slice(src, &mut v)?;
        Ok(v)
    }

    fn copy_raw_to_host<T: Element>(
        &self,
        src: &DeviceBuffer<T>,
        dst: *mut c_void,
        bytes: usize,
    ) -> Result<()> {
        let mut state = src.tracker().lock();
        // SAFETY: `dst` is valid for `bytes` (caller), the source allocation is live, and once the copy is queued the
        // stream is synchronized before returning on every path, so `dst` is not written after the caller regains
        // it.
        unsafe {
            state.wait_on(self.raw)?;
            trt_sys::cuda::memory::copy_async(
                dst,
                src.raw_ptr(),
                bytes,
                cudaMemcpyKind::cudaMemcpyDeviceToHost,
                self.raw,
            )?;
        }
        // SAFETY: as above.
        let marked = unsafe { state.record_on(self.raw) };
        drop(state);
        self.finish_pageable(marked)
    }

    /// Sets every byte of `dst` to zero, asynchronously.
    pub fn memset_zero<T: Element>(&self, dst: &mut DeviceBuffer<T>) -> Result<()> {
        self.device.activate()?;
        let (d, bytes) = (dst.raw_ptr(), dst.byte_len());
        if bytes == 0 {
            return Ok(());
        }
        // SAFETY: live allocation of `bytes`; tracked like a copy.
        unsafe {
            dst.tracker_mut().get_mut().wait_on(self.raw)?;
            trt_sys::cuda::memory::set_async(d, 0, bytes, self.raw)?;
            dst.tracker_mut().get_mut().record_on(self.raw)?;
        }
        Ok(())
    }

    /// Enqueues a raw `cudaMemcpyAsync` (untracked), e.g. while capturing a graph.
    ///
    /// # Safety
    /// `dst` and `src` must be valid for `bytes` in the memory spaces `kind` says, and stay valid and untouched by
    /// the host until the copy has completed on this stream (synchronize the stream before touching them).
    pub unsafe fn copy_raw_async(
        &self,
        dst: *mut c_void,
        src: *const c_void,
        bytes: usize,
        kind: cudaMemcpyKind,
    ) -> Result<()> {
        // SAFETY: forwarded contract.
        Ok(unsafe { trt_sys::cuda::memory::copy_async(dst, src, bytes, kind, self.raw) }?)
    }

    /// Captures the work `record` enqueues on this stream into a [`CudaGraph`] (nothing runs during capture).
    ///
    /// If `record` fails, or the capture is invalidated (e.g. by an operation that cannot be captured), the capture
    /// is ended, and the error is returned: callers fall back to running the work directly.
    ///
    /// # Safety
    /// Every memory address the captured work uses must stay valid for as long as the returned graph can be
    /// launched, and the captured work must not use tracked buffer operations (their event waits refer to work
    /// outside the capture); use [`Stream::copy_raw_async`] and raw enqueues.
    pub unsafe fn capture(&self, record: impl FnOnce(&Stream) -> Result<()>) -> Result<CudaGraph> {
        self.synchronize()?;
        // SAFETY: live stream; relaxed mode lets other threads keep using CUDA during the capture.
        unsafe {
            trt_sys::cuda::stream::begin_capture(
                self.raw,
                trt_sys::cuda::cudaStreamCaptureMode::cudaStreamCaptureModeRelaxed,
            )
        }?;
        // A panic inside `record` (user code, or one re-raised from a TensorRT callback) must not leave the stream
        // capturing: end the capture and drop the partial graph on the way out.
        struct EndOnUnwind(cudaStream_t);
        impl Drop for EndOnUnwind {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    // SAFETY: the stream is live and capturing (the guard exists only between begin and end).
                    if let Ok(g) = unsafe { trt_sys::cuda::stream::end_capture(self.0) } {
                        // SAFETY: graph from end_capture, destroyed once.
                        let _ = unsafe { trt_sys::cuda::graph::destroy(g) };
                    }
                }
            }
        }
        let guard = EndOnUnwind(self.raw);
        let recorded = record(self);
        std::mem::forget(guard);
        // SAFETY: live stream in capture mode: always end the capture, even on failure.
        let graph = unsafe { trt_sys::cuda::stream::end_capture(self.raw) };
        let graph = match (recorded, graph) {
            (Ok(()), Ok(g)) => g,
            (Err(e), Ok(g)) => {
                // SAFETY: graph from end_capture, destroyed once.
                let _ = unsafe { trt_sys::cuda::graph::destroy(g) };
                return Err(e);
            }
            (Err(e), Err(_)) => return Err(e),
            (Ok(()), Err(e)) => return Err(e.into()),
        };
        // SAFETY: `graph` is a live graph from end_capture.
        let exec = match unsafe { trt_sys::cuda::graph::instantiate(graph) } {
            Ok(x) => x,
            Err(e) => {
                // SAFETY: destroyed once.
                let _ = unsafe { trt_sys::cuda::graph::destroy(graph) };
                return Err(e.into());
            }
        };
        Ok(CudaGraph {
            graph,
            exec,
            device: self.device.clone(),
        })
    }
}

fn check_len(operation: &'static str, destination: usize, source_len: usize) -> Result<()> {
    if destination == source_len {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            operation,
            destination,
            source_len,
        })
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: live stream, destroyed once; synchronizing first means no work of ours is still queued.
        unsafe {
            if let Err(e) = trt_sys::cuda::stream::synchronize(self.raw) {
                self.device.record_drop_error(e);
            }
            if let Err(e) = trt_sys::cuda::stream::destroy(self.raw) {
                self.device.record_drop_error(e);
            }
        }
    }
}

/// A CUDA event with timing enabled (for measuring GPU time between two points of a stream).
#[derive(Debug)]
pub struct Event {
    raw: cudaEvent_t,
    device: Device,
    recorded: bool,
}

// SAFETY: event handles may be used from any thread (CUDA runtime API is thread-safe).
unsafe impl Send for Event {}
// SAFETY: `&self` methods only query/synchronize, which are thread-safe.
unsafe impl Sync for Event {}

impl Event {
    /// A new timing event on `device`.
    pub fn new(device: &Device) -> Result<Event> {
        device.activate()?;
        let raw = trt_sys::cuda::event::create(trt_sys::cuda::event::flags::DEFAULT)?;
        Ok(Event {
            raw,
            device: device.clone(),
            recorded: false,
        })
    }

    /// The raw handle (e.g. for [`ExecutionContext::set_input_consumed_event`](crate::ExecutionContext)).
    pub fn as_raw(&self) -> cudaEvent_t {
        self.raw
    }

    /// Waits until the work before the last record has completed (returns at once if never recorded).
    pub fn synchronize(&self) -> Result<()> {
        if self.recorded {
            // SAFETY: live event.
            unsafe { trt_sys::cuda::event::synchronize(self.raw) }?;
        }
        Ok(())
    }

    /// `true` when the recorded work has completed (or the event was never recorded).
    pub fn is_complete(&self) -> Result<bool> {
        // SAFETY: live event.
        Ok(unsafe { trt_sys::cuda::event::query(self.raw) }?)
    }

    /// GPU time between `self` (start) and `end`, both recorded and complete.
    pub fn elapsed(&self, end: &Event) -> Result<Duration> {
        if !self.recorded || !end.recorded {
            return Err(Error::InvalidArgument(
                "both events must be recorded before measuring elapsed time".into(),
            ));
        }
        end.synchronize()?;
        // SAFETY: both live and recorded.
        let ms = unsafe { trt_sys::cuda::event::elapsed_time(self.raw, end.raw) }?;
        Ok(Duration::from_secs_f64(f64::from(ms.max(0.0)) / 1000.0))
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: live event, destroyed once (CUDA defers the release until recorded work completes).
        if let Err(e) = unsafe { trt_sys::cuda::event::destroy(self.raw) } {
            self.device.record_drop_error(e);
        }
    }
}

/// An instantiated CUDA graph captured with [`Stream::capture`].
#[derive(Debug)]
pub struct CudaGraph {
    graph: cudaGraph_t,
    exec: cudaGraphExec_t,
    device: Device,
}

// SAFETY: graph handles may be launched/destroyed from any thread; launches are serialized by `&mut`/stream order.
unsafe impl Send for CudaGraph {}

impl CudaGraph {
    /// Launches the graph on `stream`.
    ///
    /// # Safety
    /// The memory the captured work uses must still be valid (the contract of [`Stream::capture`]), and the host
    /// must not access it until `stream` has been synchronized after this launch.
    pub unsafe fn launch(&self, stream: &Stream) -> Result<()> {
        stream.device.activate()?;
        // SAFETY: live exec and stream; memory validity is the caller's contract.
        Ok(unsafe { trt_sys::cuda::graph::launch(self.exec, stream.raw) }?)
    }
}

impl Drop for CudaGraph {
    fn drop(&mut self) {
        // SAFETY: live handles destroyed once; graph launches hold their own reference until complete.
        unsafe {
            if let Err(e) = trt_sys::cuda::graph::exec_destroy(self.exec) {
                self.device.record_drop_error(e);
            }
            if let Err(e) = trt_sys::cuda::graph::destroy(self.graph) {
                self.device.record_drop_error(e);
            }
        }
    }
}

#[cfg(test)]
mod gpu_tests {
    use super::*;

    /// A deferred error of an unrelated earlier `Drop` is reported by `synchronize`, but only after the wait: the
    /// work on the stream has completed when the error comes back (drop paths rely on that).
    #[test]
    #[ignore = "needs GPU"]
    fn gpu_synchronize_waits_before_reporting_deferred_errors() {
        let dev = Device::new(0).expect("a CUDA device (this test needs a GPU)");
        let stream = dev.stream().unwrap();
        let n = 32 << 20;
        let src = PinnedBuffer::<f32>::from_slice(&dev, &vec![1.5f32; n]).unwrap();
        let mut d = DeviceBuffer::<f32>::new(&dev, n).unwrap();
        for _ in 0..4 {
            stream.copy_h2d(&src, &mut d).unwrap();
        }
        dev.record_drop_error(Error::InvalidArgument("an earlier drop failed".into()));
        let err = stream.synchronize().unwrap_err().to_string();
        assert!(err.contains("an earlier drop failed"), "{err}");
        assert!(
            stream.is_idle().unwrap(),
            "synchronize returned before the work completed"
        );
        // Reported once.
        stream.synchronize().unwrap();
        // A pageable copy never returns while it may still write: with a deferred error pending it either queued
        // nothing or waited for the whole copy.
        let mut back = vec![0f32; n];
        dev.record_drop_error(Error::InvalidArgument("another".into()));
        assert!(stream.copy_to_slice(&d, &mut back).is_err());
        let copied = back.iter().filter(|&&x| x == 1.5).count();
        assert!(
            copied == 0 || copied == n,
            "{copied} of {n} values written when the call returned"
        );
    }
}
