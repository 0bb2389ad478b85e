//! What every program of this package shares: exit codes and the one `main` path ([`exit`]), stdout output and the
//! closed-pipe rule ([`output`]), atomic file writes ([`fs`]), logging ([`tracing`]), man pages and completions
//! ([`generate`]), the plugin / runtime-cache arguments of the programs that run engines ([`plugins`]) and their
//! `--no-sidecar` ([`engine`]), and the CPU executor of the ONNX checks ([`executor`]).

pub mod engine;
pub mod executor;
pub mod exit;
pub mod fs;
pub mod generate;
pub mod output;
pub mod plugins;
pub mod tracing;
