//! TensorRT's log routed into `tracing` (target `"tensorrt"`), with an optional user callback.

use std::fmt;
use std::sync::Arc;

pub use trt_sys::shim::Severity;

/// One message TensorRT logged, as passed to a user callback.
#[derive(Debug, Clone, Copy)]
pub struct LogMessage<'a> {
    /// Severity.
    pub severity: Severity,
    /// Text.
    pub message: &'a str,
}

type Callback = Arc<dyn Fn(LogMessage<'_>) + Send + Sync>;

/// Where TensorRT's messages go: `tracing` events (InternalError/Error → `error`, Warning → `warn`, Info → `info`,
/// Verbose → `debug`) at or above a threshold, plus an optional callback. A panic in the callback is caught at the
/// C++ boundary and re-raised after the TensorRT call returns (`trt-sys` does this).
#[derive(Clone)]
pub struct Logger {
    threshold: Severity,
    callback: Option<Callback>,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("threshold", &self.threshold)
            .field("callback", &self.callback.is_some())
            .finish()
    }
}

impl Default for Logger {
    /// Warnings and errors, no callback.
    fn default() -> Self {
        Logger {
            threshold: Severity::Warning,
            callback: None,
        }
    }
}

/// Rank for comparisons, most severe = 0.
fn rank(s: Severity) -> u8 {
    match s {
        Severity::InternalError => 0,
        Severity::Error => 1,
        Severity::Warning => 2,
        Severity::Info => 3,
        _ => 4,
    }
}

impl Logger {
    /// A logger that forwards messages at `threshold` or more severe.
    pub fn new(threshold: Severity) -> Self {
        Logger {
            threshold,
            callback: None,
        }
    }

    /// Also calls `callback` for every forwarded message (after the `tracing` event).
    pub fn with_callback(
        mut self,
        callback: impl Fn(LogMessage<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.callback = Some(Arc::new(callback));
        self
    }

    /// The threshold.
    pub fn threshold(&self) -> Severity {
        self.threshold
    }

    /// Whether a message of `severity` is forwarded.
    pub fn enabled(&self, severity: Severity) -> bool {
        rank(severity) <= rank(self.threshold)
    }

    /// Forwards one message (what the TensorRT logger calls; public so services can route their own notes the same
    /// way).
    pub fn emit(&self, severity: Severity, message: &str) {
        if !self.enabled(severity) {
            return;
        }
        let message = message.trim_end();
        match severity {
            Severity::InternalError => {
                tracing::error!(target: "tensorrt", internal = true, "{message}")
            }
            Severity::Error => tracing::error!(target: "tensorrt", "{message}"),
            Severity::Warning => tracing::warn!(target: "tensorrt", "{message}"),
            Severity::Info => tracing::info!(target: "tensorrt", "{message}"),
            _ => tracing::debug!(target: "tensorrt", "{message}"),
        }
        if let Some(cb) = &self.callback {
            cb(LogMessage { severity, message });
        }
    }

    /// The `trt-sys` logger that TensorRT objects report through.
    pub(crate) fn to_shim(&self) -> trt_sys::Result<trt_sys::shim::Logger> {
        let me = self.clone();
        // The shim filters at the threshold too; `emit` re-checks (cheap).
        trt_sys::shim::Logger::new(self.threshold, move |sev, msg| me.emit(sev, msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn threshold_filters_and_callback_sees_forwarded_messages() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let logger = Logger::new(Severity::Warning)
            .with_callback(move |m| s2.lock().unwrap().push((m.severity, m.message.to_owned())));
        logger.emit(Severity::Info, "tactic chosen");
        logger.emit(Severity::Warning, "weights out of fp16 range\n");
        logger.emit(Severity::Verbose, "noise");
        logger.emit(Severity::Error, "engine deserialization failed");
        let seen = seen.lock().unwrap();
        assert_eq!(
            *seen,
            vec![
                (Severity::Warning, "weights out of fp16 range".to_owned()),
                (Severity::Error, "engine deserialization failed".to_owned())
            ]
        );
        assert!(logger.enabled(Severity::InternalError));
        assert!(!Logger::default().enabled(Severity::Info));
    }
}
