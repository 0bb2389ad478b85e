//! Build progress on stderr: a bar fed by TensorRT's progress monitor (≥ 10.0), or a spinner with the phases
//! (parse, optimize, build, serialize) and the elapsed time on 8.x. Hidden when stderr is not a terminal, or with
//! `--quiet` / `--json`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The progress display of one build.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    monitor: bool,
}

impl Progress {
    /// A display; `monitor` is true when TensorRT reports progress (bar), false for a phase spinner.
    /// `hidden` forces it off (quiet / json); it is also off when stderr is not a terminal.
    pub fn new(monitor: bool, hidden: bool) -> Self {
        let visible = !hidden && std::io::stderr().is_terminal();
        let bar = if monitor {
            ProgressBar::new(0)
        } else {
            ProgressBar::new_spinner()
        };
        bar.set_draw_target(if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let style = if monitor {
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {msg:32!} [{bar:30}] {pos}/{len}",
            )
        } else {
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
        };
        if let Ok(style) = style {
            bar.set_style(style.progress_chars("=> "));
        }
        if visible {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Progress {
            bar,
            started: Instant::now(),
            monitor,
        }
    }

    /// Whether this is drawn at all.
    pub fn is_visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Starts a named phase (`parse`, `optimize`, `build`, `serialize`).
    pub fn phase(&self, name: &str) {
        tracing::info!(
            phase = name,
            elapsed_ms = self.started.elapsed().as_millis() as u64,
            "build phase"
        );
        self.bar.set_message(name.to_string());
        if self.monitor {
            self.bar.set_position(0);
            self.bar.set_length(0);
        }
    }

    /// A progress-monitor step: `phase` at `step` of `steps`.
    pub fn step(&self, phase: &str, step: u64, steps: u64) {
        self.bar.set_message(phase.to_string());
        self.bar.set_length(steps);
        self.bar.set_position(step);
    }

    /// A handle on the bar (for TensorRT's progress monitor callbacks).
    pub fn bar(&self) -> ProgressBar {
        self.bar.clone()
    }

    /// Elapsed time since the display was created.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Removes the display.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Prints a line above the display without garbling it.
    pub fn println(&self, line: &str) {
        if self.is_visible() {
            self.bar.println(line);
        } else {
            eprintln!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_when_asked_or_not_a_terminal() {
        // Test harness stderr is captured (not a terminal) and `hidden` forces it off anyway.
        let p = Progress::new(true, true);
        assert!(!p.is_visible());
        p.phase("build");
        p.step("Building", 3, 10);
        p.finish();
    }
}
