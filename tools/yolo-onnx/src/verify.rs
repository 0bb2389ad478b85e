//! Numerical verification of one model against another on the CPU executor, and a CPU latency
//! benchmark of one or two models (used by `trt-onnx verify` / `bench` and the fuse pipeline).
//!
//! Benchmark ratios are **CPU** ratios (tract, this machine): a fused RepConv graph is only a little
//! faster on CPU; the larger gains reported for TensorRT are a GPU effect and are not predicted here.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::exec::{
    compare_outputs, make_inputs, Backend, ExecOptions, Executor, InputKind, NamedTensors,
    OutputDiff,
};
use crate::graph::dtype_name;
use crate::model::Model;

/// Options of [`verify`].
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// Absolute tolerance: an element fails when `|a − b| > atol + rtol·scale`, `scale` being the largest |a| of
    /// its output (see [`crate::exec::compare_outputs`]). Must be finite and ≥ 0 ([`VerifyOptions::check`]).
    pub atol: f64,
    /// Relative tolerance, relative to each output's scale (see `atol`).
    pub rtol: f64,
    /// Number of random-input runs (seeds `seed`, `seed + 1`, …).
    pub random_runs: usize,
    /// Number of image-like-input runs.
    pub image_runs: usize,
    /// First seed.
    pub seed: u64,
    /// Executor options (shapes of dynamic inputs).
    pub exec: ExecOptions,
}

impl VerifyOptions {
    /// Refuses tolerances that make the element check meaningless: NaN (every comparison with it is false, so
    /// nothing would ever fail) and negative values. `+inf` is allowed and turns the element check off (only
    /// non-finite mismatches and the caller's cosine check remain).
    pub fn check(&self) -> Result<()> {
        for (name, v) in [("atol", self.atol), ("rtol", self.rtol)] {
            if v.is_nan() || v < 0.0 {
                return Err(Error::other(
                    "verification tolerance",
                    format!("{name} must be a number ≥ 0, got {v}"),
                ));
            }
        }
        Ok(())
    }
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            atol: 1e-4,
            rtol: 1e-4,
            random_runs: 1,
            image_runs: 1,
            seed: 0,
            exec: ExecOptions::default(),
        }
    }
}

/// Result of one verification run.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyRun {
    /// Input kind.
    pub kind: InputKind,
    /// Seed of the inputs.
    pub seed: u64,
    /// Per-output differences.
    pub outputs: Vec<OutputDiff>,
}

/// Result of [`verify`].
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    /// Absolute tolerance used.
    pub atol: f64,
    /// Relative tolerance used.
    pub rtol: f64,
    /// Every run.
    pub runs: Vec<VerifyRun>,
    /// Worst difference per output over all runs.
    pub worst: Vec<OutputDiff>,
    /// Whether every element of every run is within tolerance.
    pub passed: bool,
    /// CPU executor that ran the checked model ([`verify`] and [`verify_against`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executor: Option<Backend>,
}

impl VerifyReport {
    /// One line per output: `name: max_abs … max_rel … cosine … [ok|FAIL]`.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for o in &self.worst {
            s.push_str(&format!(
                "{}{:?}: max_abs {:.3e}  max_rel {:.3e}  cosine {:.9}  {} of tolerance  {}\n",
                o.name,
                o.shape,
                o.max_abs,
                o.max_rel,
                o.cosine,
                percent(o.tolerance_ratio),
                if o.violations == 0 { "ok" } else { "FAIL" }
            ));
        }
        s.push_str(&format!(
            "{} (atol {:.1e}, rtol {:.1e}, {} runs)\n",
            if self.passed { "PASS" } else { "FAIL" },
            self.atol,
            self.rtol,
            self.runs.len()
        ));
        s
    }
}

/// `0.3%`, `250%`, `inf%`.
fn percent(ratio: f64) -> String {
    let p = ratio * 100.0;
    if p.is_infinite() {
        "inf%".into()
    } else if p < 0.1 {
        format!("{p:.3}%")
    } else {
        format!("{p:.1}%")
    }
}

/// The inputs of one verification run and the reference model's outputs on them.
#[derive(Clone, Debug)]
pub struct ReferenceRun {
    /// Input kind.
    pub kind: InputKind,
    /// Seed of the inputs.
    pub seed: u64,
    /// The inputs ([`make_inputs`] of `kind` and `seed`).
    pub inputs: NamedTensors,
    /// The reference model's outputs on them.
    pub outputs: NamedTensors,
}

/// The (kind, seed) of every run [`verify`] makes with `options`: `random_runs` random inputs, then `image_runs`
/// image-like ones, seeds counting up from `options.seed`.
pub fn run_plan(options: &VerifyOptions) -> Vec<(InputKind, u64)> {
    std::iter::repeat_n(InputKind::Random, options.random_runs)
        .chain(std::iter::repeat_n(InputKind::Image, options.image_runs))
        .enumerate()
        .map(|(i, kind)| (kind, options.seed + i as u64))
        .collect()
}

/// Runs `a` (reference) and `b` on the same random and image-like inputs and compares every output.
/// Both models must have the same input names/types and output names/shapes; otherwise it is an
/// error naming the difference.
pub fn verify(a: &Model, b: &Model, options: &VerifyOptions) -> Result<VerifyReport> {
    options.check()?;
    let ea = Executor::new(a, &options.exec)?;
    let plan = run_plan(options);
    let feeds = plan
        .iter()
        .map(|&(kind, seed)| make_inputs(ea.inputs(), kind, seed))
        .collect::<Result<Vec<_>>>()?;
    let outputs = run_all(&ea, &feeds.iter().collect::<Vec<_>>())?;
    let reference: Vec<ReferenceRun> = plan
        .into_iter()
        .zip(feeds)
        .zip(outputs)
        .map(|(((kind, seed), inputs), outputs)| ReferenceRun {
            kind,
            seed,
            inputs,
            outputs,
        })
        .collect();
    verify_against(a.source_name(), &reference, b, options)
}

/// Runs `exec` on every feed, as many at once as there are cores (an [`Executor`] is `Sync`); results in order.
fn run_all(exec: &Executor, feeds: &[&NamedTensors]) -> Result<Vec<NamedTensors>> {
    let width = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = Vec::with_capacity(feeds.len());
    for chunk in feeds.chunks(width.max(1)) {
        let results: Vec<Result<NamedTensors>> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|feed| scope.spawn(move || exec.run(feed)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        for r in results {
            out.push(r?);
        }
    }
    Ok(out)
}

/// [`verify`] with the reference side already run (e.g. by the FP16 range probe, which runs the FP32 model on the
/// same inputs anyway): runs `b` on each reference run's inputs and compares. `reference_name` labels errors.
pub fn verify_against(
    reference_name: &str,
    reference: &[ReferenceRun],
    b: &Model,
    options: &VerifyOptions,
) -> Result<VerifyReport> {
    options.check()?;
    let eb = Executor::new(b, &options.exec)?;
    let ctx = format!("verifying {} against {reference_name}", b.source_name());
    let mut runs = Vec::new();
    let feeds: Vec<&NamedTensors> = reference.iter().map(|r| &r.inputs).collect();
    for r in reference {
        let given: Vec<String> = r
            .inputs
            .iter()
            .map(|(n, v)| format!("{n}:{}", dtype_name(v.data_type() as i32)))
            .collect();
        let expected: Vec<String> = eb
            .inputs()
            .iter()
            .map(|s| format!("{}:{}", s.name, s.dtype_name()))
            .collect();
        if given != expected {
            return Err(Error::other(
                ctx,
                format!("inputs differ: {given:?} vs {expected:?}"),
            ));
        }
    }
    for (r, ob) in reference.iter().zip(run_all(&eb, &feeds)?) {
        let outputs = compare_outputs(&r.outputs, &ob, options.atol, options.rtol)
            .map_err(|e| Error::other(&ctx, e.to_string()))?;
        runs.push(VerifyRun {
            kind: r.kind,
            seed: r.seed,
            outputs,
        });
    }
    let mut report = summarize(options.atol, options.rtol, runs);
    report.executor = Some(eb.backend());
    Ok(report)
}

/// The report of `runs`: the worst difference per output over all runs, passed when no element of any run is
/// outside the tolerance.
pub fn summarize(atol: f64, rtol: f64, runs: Vec<VerifyRun>) -> VerifyReport {
    let mut worst: Vec<OutputDiff> = Vec::new();
    for r in &runs {
        for o in &r.outputs {
            match worst.iter_mut().find(|w| w.name == o.name) {
                None => worst.push(o.clone()),
                Some(w) => {
                    w.max_abs = w.max_abs.max(o.max_abs);
                    w.max_rel = w.max_rel.max(o.max_rel);
                    w.mean_abs = w.mean_abs.max(o.mean_abs);
                    w.cosine = w.cosine.min(o.cosine);
                    w.nonfinite_mismatches += o.nonfinite_mismatches;
                    w.violations += o.violations;
                }
            }
        }
    }
    let passed = worst.iter().all(|w| w.violations == 0);
    VerifyReport {
        atol,
        rtol,
        runs,
        worst,
        passed,
        executor: None,
    }
}

/// Latency statistics of one model.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    /// Model label.
    pub model: String,
    /// Timed iterations.
    pub iterations: usize,
    /// Median, milliseconds.
    pub median_ms: f64,
    /// Mean, milliseconds.
    pub mean_ms: f64,
    /// Fastest, milliseconds.
    pub min_ms: f64,
}

/// Result of [`bench()`].
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Always `"cpu"`: these are CPU (tract) timings, not GPU/TensorRT ones.
    pub device: &'static str,
    /// First model.
    pub a: Latency,
    /// Second model, if any.
    pub b: Option<Latency>,
    /// Median latency of A divided by that of B (> 1: B is faster).
    pub speedup: Option<f64>,
}

impl BenchReport {
    /// Human-readable summary, stating that the ratio is a CPU ratio.
    pub fn to_text(&self) -> String {
        let line = |l: &Latency| {
            format!(
                "{}: median {:.3} ms  mean {:.3} ms  min {:.3} ms  ({} iterations, CPU)\n",
                l.model, l.median_ms, l.mean_ms, l.min_ms, l.iterations
            )
        };
        let mut s = line(&self.a);
        if let (Some(b), Some(r)) = (&self.b, self.speedup) {
            s.push_str(&line(b));
            s.push_str(&format!(
                "speedup {}/{} = {r:.3}x (CPU ratio on tract; GPU/TensorRT gains differ and are not predicted by it)\n",
                self.a.model, b.model
            ));
        }
        s
    }
}

fn latency(label: &str, mut t: Vec<Duration>) -> Latency {
    t.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Latency {
        model: label.to_string(),
        iterations: t.len(),
        median_ms: ms(t[t.len() / 2]),
        mean_ms: t.iter().map(|&d| ms(d)).sum::<f64>() / t.len() as f64,
        min_ms: ms(t[0]),
    }
}

/// Times `a` (and `b`) on the CPU executor with image-like inputs: `warmup` untimed runs each, then
/// `iterations` timed runs each, alternating A and B so that load changes on a shared machine hit
/// both alike. Reports medians and the ratio of medians A/B.
pub fn bench(
    a: &Model,
    b: Option<&Model>,
    iterations: usize,
    warmup: usize,
) -> Result<BenchReport> {
    let ea = Executor::new(a, &ExecOptions::default())?;
    let eb = b
        .map(|m| Executor::new(m, &ExecOptions::default()))
        .transpose()?;
    let ia = make_inputs(ea.inputs(), InputKind::Image, 0)?;
    let ib = eb
        .as_ref()
        .map(|e| make_inputs(e.inputs(), InputKind::Image, 0))
        .transpose()?;
    let time = |e: &Executor, i| -> Result<Duration> {
        let s = Instant::now();
        std::hint::black_box(e.run(i)?);
        Ok(s.elapsed())
    };
    for _ in 0..warmup {
        time(&ea, &ia)?;
        if let (Some(e), Some(i)) = (&eb, &ib) {
            time(e, i)?;
        }
    }
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..iterations.max(1) {
        ta.push(time(&ea, &ia)?);
        if let (Some(e), Some(i)) = (&eb, &ib) {
            tb.push(time(e, i)?);
        }
    }
    let la = latency(a.source_name(), ta);
    let lb = b.map(|m| latency(m.source_name(), tb));
    let speedup = lb.as_ref().map(|l| la.median_ms / l.median_ms);
    Ok(BenchReport {
        device: "cpu",
        a: la,
        b: lb,
        speedup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testgen;

    #[test]
    fn identical_passes_perturbed_fails() {
        let a = testgen::repconv_model(8, 2, 1, true, 1);
        let r = verify(&a, &a.clone(), &VerifyOptions::default()).unwrap();
        assert!(r.passed && r.runs.len() == 2);
        assert_eq!(r.worst[0].max_abs, 0.0);
        // Perturb one conv weight by 1e-2.
        let mut b = a.clone();
        crate::testgen::perturb_first_conv_weight(&mut b, 1e-2);
        let r = verify(&a, &b, &VerifyOptions::default()).unwrap();
        assert!(!r.passed);
        assert!(r.worst[0].max_abs > 1e-4 && r.worst[0].violations > 0);
        assert!(r.to_text().contains("FAIL"));
        // A generous tolerance accepts it.
        let loose = VerifyOptions {
            atol: 1.0,
            ..Default::default()
        };
        assert!(verify(&a, &b, &loose).unwrap().passed);
    }

    #[test]
    fn mismatched_models_are_errors() {
        let a = testgen::repconv_model(8, 1, 1, true, 1);
        let b = testgen::repconv_model(4, 1, 1, true, 1);
        let e = verify(&a, &b, &VerifyOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("shape") || e.contains("differ"), "{e}");
    }

    #[test]
    fn bench_reports_cpu_ratio() {
        let a = testgen::repconv_model(8, 1, 1, true, 1);
        let r = bench(&a, Some(&a), 3, 1).unwrap();
        assert_eq!(r.device, "cpu");
        assert!(r.speedup.unwrap() > 0.0 && r.a.min_ms <= r.a.median_ms);
        assert!(r.to_text().contains("CPU ratio"));
    }
}
