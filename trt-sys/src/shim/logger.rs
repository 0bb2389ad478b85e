//! The logger every TensorRT object reports through (`cpp/logger.{h,cc}`).

#[cfg(trt_shim)]
use std::sync::Arc;

#[cfg(not(trt_shim))]
use super::Never;
use super::Severity;
#[cfg(not(trt_shim))]
use crate::error::Error;
use crate::error::Result;

#[cfg(trt_shim)]
use super::callbacks::{log_sink_emit, LogSink, PanicSlot};
#[cfg(trt_shim)]
use super::{map_exception, Native};

#[cfg(trt_shim)]
#[cxx::bridge(namespace = "trtshim")]
pub(crate) mod ffi {
    // Rust callback (never unwinds: catch_unwind inside).
    extern "Rust" {
        type LogSink;
        fn log_sink_emit(sink: &LogSink, severity: Severity, message: &[u8]);
    }

    unsafe extern "C++" {
        include!("trt-sys/cpp/logger.h");
        include!("trt-sys/src/shim/common.rs.h");

        type Severity = crate::shim::common::ffi::Severity;

        type ShimLogger;
        fn new_logger(sink: Box<LogSink>, threshold: Severity) -> UniquePtr<ShimLogger>;
        fn set_threshold(self: &ShimLogger, threshold: Severity);
        fn last_errors(self: &ShimLogger) -> Result<Vec<String>>;
        fn error_count(self: &ShimLogger) -> u64;
        fn total_error_count(self: &ShimLogger) -> u64;
        /// Feeds a message through the TensorRT-facing `ILogger::log` entry (tests and the Rust side's own notes).
        fn log_for_test(self: &ShimLogger, severity: Severity, message: &str) -> Result<()>;
    }
}

/// The logger every TensorRT object reports through. Cloning shares it. Messages at or above the threshold go
/// to the callback (a panic there is caught and re-raised after the TensorRT call returns); errors are always kept
/// (the last 16) for error messages.
#[derive(Clone)]
pub struct Logger {
    #[cfg(trt_shim)]
    inner: Arc<LoggerInner>,
    #[cfg(not(trt_shim))]
    never: Never,
}

#[cfg(trt_shim)]
struct LoggerInner {
    ptr: cxx::UniquePtr<ffi::ShimLogger>,
    panic: Arc<PanicSlot>,
}

// SAFETY: ShimLogger's mutable state (error ring, counter, threshold) is behind a mutex/atomic because TensorRT may
// log from any thread (ILogger must be thread-safe per the ILogger docs); the Rust callback is `Send + Sync`.
#[cfg(trt_shim)]
unsafe impl Send for LoggerInner {}
// SAFETY: as above; every method the Rust side calls takes `&ShimLogger` and locks internally.
#[cfg(trt_shim)]
unsafe impl Sync for LoggerInner {}

handle!(Logger => ffi::ShimLogger, |s| &s.inner.ptr);

impl Logger {
    /// A logger passing messages at `threshold` or more severe to `callback`.
    pub fn new(
        threshold: Severity,
        callback: impl Fn(Severity, &str) + Send + Sync + 'static,
    ) -> Result<Logger> {
        #[cfg(not(trt_shim))]
        {
            let _ = (threshold, callback);
            Err(Error::TensorRtNotCompiled)
        }
        #[cfg(trt_shim)]
        {
            let panic = Arc::new(PanicSlot::default());
            let sink = Box::new(LogSink {
                callback: Box::new(callback),
                panic: panic.clone(),
            });
            let ptr = ffi::new_logger(sink, threshold.to_ffi());
            Ok(Logger {
                inner: Arc::new(LoggerInner { ptr, panic }),
            })
        }
    }

    /// Changes the callback threshold.
    pub fn set_threshold(&self, threshold: Severity) {
        #[cfg(not(trt_shim))]
        {
            let _ = threshold;
            match self.never {}
        }
        #[cfg(trt_shim)]
        self.shim().set_threshold(threshold.to_ffi());
    }

    /// The last error messages TensorRT logged (at most 16, oldest first).
    pub fn last_errors(&self) -> Vec<String> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.shim().last_errors().unwrap_or_else(|e| {
            vec![format!(
                "(the logged errors could not be copied: {})",
                e.what()
            )]
        })
    }

    /// How many errors the calling thread logged through this logger so far. Shim calls compare it before and
    /// after calling TensorRT, so an error another thread logs meanwhile never fails them.
    pub fn error_count(&self) -> u64 {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.shim().error_count()
    }

    /// How many errors were logged through this logger so far, by every thread.
    pub fn total_error_count(&self) -> u64 {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.shim().total_error_count()
    }

    /// Logs `message` through the same path TensorRT uses (for notes from the Rust side, and tests).
    pub fn log(&self, severity: Severity, message: &str) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = (severity, message);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().log_for_test(severity.to_ffi(), message);
            self.finish("ILogger::log", r)
        }
    }

    /// Re-raises a panic the callback raised on this thread.
    #[cfg(trt_shim)]
    pub(super) fn resume_panic(&self) {
        self.inner.panic.resume();
    }

    /// Re-raises a panic from the callback, then maps a shim exception.
    #[cfg(trt_shim)]
    pub(super) fn finish<T>(
        &self,
        call: &str,
        r: std::result::Result<T, cxx::Exception>,
    ) -> Result<T> {
        self.resume_panic();
        r.map_err(|e| map_exception(call, &e))
    }
}
