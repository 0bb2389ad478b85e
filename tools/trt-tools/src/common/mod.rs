//! What every program of this package shares: exit codes and the one `main` path ([`exit`]), stdout output and the
//! closed-pipe rule ([`output`]), atomic file writes ([`fs`]), logging ([`tracing`]), man pages and completions
//! ([`generate`]) and the plugin / runtime-cache arguments of the programs that run engines ([`plugins`]).

pub mod exit;
pub mod fs;
pub mod generate;
pub mod output;
pub mod plugins;
pub mod tracing;

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own consistency checks (no clashing flags or aliases, valid defaults and value names) on every program.
    #[test]
    fn every_programs_command_line_is_consistent() {
        crate::build::Opts::command().debug_assert();
        crate::onnx::Opts::command().debug_assert();
        crate::inspect::Opts::command().debug_assert();
        crate::detect::Opts::command().debug_assert();
        crate::bench::Opts::command().debug_assert();
    }
}
