//! Rust functions that C++ calls back into (logger, progress monitor, INT8 calibrator).
//!
//! TensorRT calls these from inside `noexcept` C++ methods, so they must never unwind: every body runs under
//! `catch_unwind`, a panic is stashed in a [`PanicSlot`] and re-raised by the Rust API after the C++ call that
//! triggered it has returned (git2's `panic.rs` pattern).

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};

use super::common::ffi;
use super::{Int8Calibrator, ProgressMonitor, Severity};

type Panic = Box<dyn Any + Send + 'static>;

/// Holds panics raised inside callbacks until the Rust side can re-raise them, one per thread: TensorRT runs the
/// callbacks on the thread that made the call (the logger on whichever thread logs), so a panic belongs to the call
/// in progress on its own thread and is re-raised there, never by another thread's call that happens to finish
/// first (one `Library`'s logger serves every thread).
#[derive(Default)]
pub(crate) struct PanicSlot(Mutex<Vec<(std::thread::ThreadId, Panic)>>);

impl PanicSlot {
    fn store(&self, p: Panic) {
        let me = std::thread::current().id();
        let mut g = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // The first panic of a thread is the one to report; later ones on the same thread follow from it.
        if !g.iter().any(|(t, _)| *t == me) {
            g.push((me, p));
        }
    }

    /// Re-raises a panic stashed by the calling thread's callbacks.
    pub(crate) fn resume(&self) {
        let me = std::thread::current().id();
        let p = {
            let mut g = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            g.iter()
                .position(|(t, _)| *t == me)
                .map(|i| g.swap_remove(i).1)
        };
        if let Some(p) = p {
            std::panic::resume_unwind(p);
        }
    }

    /// Runs `f`, stashing a panic and returning `fallback` instead of unwinding.
    fn run<T>(&self, fallback: T, f: impl FnOnce() -> T) -> T {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => v,
            Err(p) => {
                self.store(p);
                fallback
            }
        }
    }
}

/// A user log callback.
pub(crate) type LogCallback = Box<dyn Fn(Severity, &str) + Send + Sync>;

/// The Rust end of a `ShimLogger`.
pub struct LogSink {
    pub(crate) callback: LogCallback,
    pub(crate) panic: Arc<PanicSlot>,
}

pub(crate) fn log_sink_emit(sink: &LogSink, severity: ffi::Severity, message: &[u8]) {
    sink.panic.run((), || {
        let sev = Severity::from_ffi(severity).unwrap_or(Severity::Error);
        let msg = String::from_utf8_lossy(message);
        (sink.callback)(sev, &msg);
    });
}

/// The Rust end of a `ShimProgressMonitor` (TensorRT >= 10).
pub struct ProgressSink {
    pub(crate) monitor: Mutex<Box<dyn ProgressMonitor>>,
    pub(crate) panic: Arc<PanicSlot>,
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

pub(crate) fn progress_phase_start(sink: &ProgressSink, phase: &[u8], parent: &[u8], steps: i32) {
    sink.panic.run((), || {
        let parent = (!parent.is_empty()).then(|| lossy(parent));
        let mut m = sink.monitor.lock().unwrap_or_else(PoisonError::into_inner);
        m.phase_start(&lossy(phase), parent.as_deref(), steps);
    });
}

pub(crate) fn progress_step_complete(sink: &ProgressSink, phase: &[u8], step: i32) -> bool {
    // A panicking monitor cancels the build (false); the panic is re-raised after buildSerializedNetwork returns.
    sink.panic.run(false, || {
        let mut m = sink.monitor.lock().unwrap_or_else(PoisonError::into_inner);
        m.step_complete(&lossy(phase), step)
    })
}

pub(crate) fn progress_phase_finish(sink: &ProgressSink, phase: &[u8]) {
    sink.panic.run((), || {
        let mut m = sink.monitor.lock().unwrap_or_else(PoisonError::into_inner);
        m.phase_finish(&lossy(phase));
    });
}

/// The Rust end of a `ShimCalibrator` (TensorRT <= 10).
pub struct CalibratorSink {
    pub(crate) calibrator: Mutex<Box<dyn Int8Calibrator>>,
    pub(crate) panic: Arc<PanicSlot>,
}

pub(crate) fn calib_batch_size(sink: &CalibratorSink) -> i32 {
    sink.panic.run(0, || {
        sink.calibrator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .batch_size()
    })
}

pub(crate) fn calib_get_batch(
    sink: &CalibratorSink,
    names: Vec<String>,
    bindings: &mut [usize],
) -> bool {
    // A panic ends calibration (false = no more batches).
    sink.panic.run(false, || {
        let mut c = sink
            .calibrator
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        c.next_batch(&names, bindings)
    })
}

pub(crate) fn calib_read_cache(sink: &CalibratorSink) -> Vec<u8> {
    sink.panic.run(Vec::new(), || {
        sink.calibrator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .read_cache()
            .unwrap_or_default()
    })
}

pub(crate) fn calib_write_cache(sink: &CalibratorSink, data: &[u8]) {
    sink.panic.run((), || {
        sink.calibrator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_cache(data)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_re_raised_on_the_thread_whose_callback_panicked_only() {
        let slot = Arc::new(PanicSlot::default());
        let s = Arc::clone(&slot);
        std::thread::spawn(move || {
            s.run((), || panic!("worker callback"));
        })
        .join()
        .unwrap();
        // Another thread's call finishing does not re-raise (or swallow) the worker's panic.
        slot.resume();
        assert_eq!(
            slot.0.lock().unwrap().len(),
            1,
            "the worker's panic stays stashed for it"
        );
        // The thread that panicked gets it back.
        slot.run((), || panic!("main callback"));
        let caught = catch_unwind(AssertUnwindSafe(|| slot.resume())).unwrap_err();
        assert_eq!(caught.downcast_ref::<&str>(), Some(&"main callback"));
        slot.resume(); // nothing left for this thread
    }
}
