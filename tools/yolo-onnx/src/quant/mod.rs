//! INT8 calibration and quantization on the CPU executor.
//!
//! Flow (what `trt-onnx quantize` and `trt-build --int8 --calib DIR` run):
//!
//! 1. [`qdq::plan`] finds what to quantize (fails early on a model without Conv/ConvTranspose/MatMul/Gemm).
//! 2. A [`Collector`] runs the FP32 (re-parameterized) model on calibration samples with every float
//!    activation exposed as an extra output and streams each into a bounded [`hist::Histogram`].
//! 3. [`scales`] turns the statistics into one symmetric scale per tensor with an [`algo::Algorithm`]
//!    (min/max by default), giving Concat inputs and outputs a common scale.
//! 4. [`quantize`] writes the Q/DQ model ([`qdq::apply`]), the TensorRT calibration cache
//!    ([`cache::CalibrationCache`]) and the [`report::QuantReport`] (ranges, saturation, drift on held-out inputs).
//!
//! ```no_run
//! # fn main() -> yolo_onnx::Result<()> {
//! use yolo_onnx::quant::{self, Collector, QuantizeOptions};
//! let model = yolo_onnx::Model::load("model.onnx")?;
//! let options = QuantizeOptions::default();
//! quant::qdq::plan(&model, &options.qdq)?; // fail before loading any data
//! let mut collector = Collector::new(&model, options.bins)?;
//! # let samples: Vec<ndarray::ArrayD<f32>> = vec![];
//! for s in &samples {
//!     collector.add(s)?;
//! }
//! let stats = collector.finish()?;
//! let out = quant::quantize(&model, &stats, &options, &samples[..1], quant::cache::version_code(8, 5, 3))?;
//! out.model.save("model.int8.onnx")?;
//! # Ok(()) }
//! ```

pub mod algo;
pub mod cache;
pub mod hist;
pub mod qdq;
pub mod report;

use std::collections::{BTreeMap, HashMap, HashSet};

use ndarray::ArrayD;
use tract_onnx::pb::ValueInfoProto;

use crate::error::{Error, Result};
use crate::exec::{Backend, ExecOptions, Executor, RawOutputs, TensorValue};
use crate::graph::{value_info_elem_type, DataType};
use crate::model::Model;
pub use algo::Algorithm;
pub use cache::{CacheAlgorithm, CalibrationCache};
pub use hist::Histogram;
pub use qdq::{QdqOptions, QdqPlan};
pub use report::QuantReport;

/// Operators whose inputs are quantized (weights per output channel, activations per tensor).
pub const QUANTIZABLE_OPS: &[&str] = &["Conv", "ConvTranspose", "MatMul", "Gemm"];

/// Element type of every value, propagated from inputs, initializers and value infos through the nodes
/// (shape arithmetic such as Shape → Gather → Concat is INT64 and never calibrated).
fn elem_types(model: &Model) -> Result<HashMap<String, i32>> {
    use crate::graph::{attr_i, attr_t};
    const INT64: i32 = DataType::Int64 as i32;
    const BOOL: i32 = DataType::Bool as i32;
    const FLOAT: i32 = DataType::Float as i32;
    let g = model.graph();
    let mut t: HashMap<String, i32> = HashMap::new();
    for v in g
        .proto()
        .input
        .iter()
        .chain(&g.proto().value_info)
        .chain(&g.proto().output)
    {
        if let Some(e) = value_info_elem_type(v).filter(|&e| e != 0) {
            t.insert(v.name.clone(), e);
        }
    }
    for init in g.initializers() {
        t.insert(init.name.clone(), init.data_type);
    }
    for i in g.topo_order()? {
        let n = &g.nodes()[i];
        let input_type = |k: usize| {
            n.input
                .get(k)
                .filter(|v| !v.is_empty())
                .and_then(|v| t.get(v).copied())
        };
        let ty = match n.op_type.as_str() {
            "Shape" | "Size" | "NonZero" | "ArgMax" | "ArgMin" | "NonMaxSuppression" => Some(INT64),
            "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "Not" | "And"
            | "Or" | "Xor" | "IsNaN" | "IsInf" => Some(BOOL),
            "Cast" => Some(attr_i(n, "to", FLOAT as i64)? as i32),
            "CastLike" | "Where" => input_type(1),
            "Constant" => Some(attr_t(n, "value").map_or(FLOAT, |v| v.data_type)),
            "ConstantOfShape" => Some(attr_t(n, "value").map_or(FLOAT, |v| v.data_type)),
            "QuantizeLinear" => Some(input_type(2).unwrap_or(DataType::Uint8 as i32)),
            "DequantizeLinear" => Some(FLOAT),
            _ => n
                .input
                .iter()
                .filter(|v| !v.is_empty())
                .find_map(|v| t.get(v).copied()),
        };
        for (k, o) in n.output.iter().enumerate().filter(|(_, o)| !o.is_empty()) {
            if t.contains_key(o) {
                continue;
            }
            // TopK / MaxPool indices are INT64.
            let ty = if k == 1 && matches!(n.op_type.as_str(), "TopK" | "MaxPool") {
                Some(INT64)
            } else {
                ty
            };
            t.insert(o.clone(), ty.unwrap_or(FLOAT));
        }
    }
    Ok(t)
}

/// The tensors calibration gives a range (what a [`Collector`] measures and the calibration cache lists): the graph
/// inputs that are FLOAT (or of undeclared type), then every FLOAT node output in topological order. For TensorRT's implicit INT8 path these
/// are the network tensors that need a range; a cache for `model` should name every one.
pub fn calibrated_tensors(model: &Model) -> Result<Vec<String>> {
    let g = model.graph();
    let types = elem_types(model)?;
    let float = |v: &str| types.get(v) == Some(&(DataType::Float as i32));
    let mut names: Vec<String> = g
        .inputs()
        .iter()
        .filter(|v| {
            types
                .get(&v.name)
                .is_none_or(|&t| t == DataType::Float as i32)
        })
        .map(|v| v.name.clone())
        .collect();
    for i in g.topo_order()? {
        for o in g.nodes()[i].output.iter().filter(|o| !o.is_empty()) {
            if float(o) {
                names.push(o.clone());
            }
        }
    }
    Ok(names)
}

/// Per-tensor statistics gathered by a [`Collector`].
#[derive(Clone, Debug)]
pub struct Statistics {
    /// Calibration samples streamed through the model.
    pub samples: usize,
    /// Tensor name → histogram, for every float activation (graph input and node outputs).
    pub tensors: BTreeMap<String, Histogram>,
    /// Tensor names in graph (topological) order.
    pub order: Vec<String>,
}

/// Streams calibration samples through the FP32 model and keeps one histogram per float activation.
///
/// On tract, samples run on up to [`Collector::threads`] threads at once ([`Collector::add_batch`]), each run with its
/// own executor state; on onnxruntime one at a time, each run spread over `threads` intra-op threads. The histograms
/// are then updated tensor by tensor, spread over the same threads, every tensor receiving the samples in their
/// order. Each histogram therefore sees exactly the same sequence of updates as with one thread, and the statistics
/// are bit-identical whatever the thread count. Memory: the histograms plus the activations of the samples in flight
/// (at most `threads` samples on tract, one on onnxruntime), never the whole set.
#[derive(Debug)]
pub struct Collector {
    exec: Executor,
    input: String,
    shape: Vec<usize>,
    /// Calibrated tensors: the input first, then node outputs in topological order.
    names: Vec<String>,
    /// One histogram per entry of `names`.
    hists: Vec<Histogram>,
    /// Where each entry of `names` is read from.
    sources: Vec<Source>,
    /// Entries of `names` the executor returned as a non-float tensor (dropped from the statistics).
    non_float: Vec<bool>,
    threads: usize,
    samples: usize,
    source: String,
    run_secs: f64,
    hist_secs: f64,
}

/// Default of [`Collector::threads`]: the available cores, at most 4. Each thread in flight holds one sample's
/// activations (about 320 MB for a YOLOv7-tiny-sized model at 640), and calibration also runs on 8 GB Jetsons.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
}

/// Where a calibrated tensor's values come from.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// The sample itself (the model input).
    Input,
    /// Executor output number.
    Output(usize),
    /// Not produced by the executor (never expected: every calibrated tensor is made an output).
    Missing,
}

impl Collector {
    /// Prepares `model` (one float input, fixed shape apart from a dynamic batch that becomes 1) with every
    /// float activation as an extra output. `bins`: histogram bins per tensor ([`hist::DEFAULT_BINS`]); 0 keeps
    /// only the exact min/max ([`Histogram::min_max_only`], enough for [`Algorithm::MinMax`] and cheaper).
    pub fn new(model: &Model, bins: usize) -> Result<Collector> {
        Collector::with_input_shape(model, bins, None)
    }

    /// [`Collector::new`] with a concrete input shape for a model whose input has dynamic dimensions (it must
    /// agree with every declared dimension).
    pub fn with_input_shape(
        model: &Model,
        bins: usize,
        shape: Option<&[usize]>,
    ) -> Result<Collector> {
        Collector::with_backend(model, bins, shape, Backend::Tract)
    }

    /// [`Collector::with_input_shape`] on the CPU executor `backend` (the statistics agree between executors to
    /// their floating-point rounding; onnxruntime is the faster one on YOLO-sized models).
    pub fn with_backend(
        model: &Model,
        bins: usize,
        shape: Option<&[usize]>,
        backend: Backend,
    ) -> Result<Collector> {
        let source = model.source_name().to_string();
        let ctx = || format!("{source}: calibration");
        let g = model.graph();
        let inputs = g.inputs();
        if inputs.len() != 1 {
            let names: Vec<_> = inputs.iter().map(|v| v.name.as_str()).collect();
            return Err(Error::other(
                ctx(),
                format!(
                    "calibration supports models with exactly one input; this one has {names:?}"
                ),
            ));
        }
        let input = inputs[0].name.clone();
        if value_info_elem_type(inputs[0]).is_some_and(|t| t != DataType::Float as i32) {
            return Err(Error::other(
                ctx(),
                format!("input '{input}' is not FLOAT; calibrate the FP32 model (before any FP16 conversion)"),
            ));
        }
        let outputs: HashSet<&str> = g.outputs().iter().map(|v| v.name.as_str()).collect();
        let names = calibrated_tensors(model)?;
        let mut probe = model.clone();
        probe.set_source_name(format!("{source} (calibration probe)"));
        let extra: Vec<ValueInfoProto> = names
            .iter()
            .filter(|n| !outputs.contains(n.as_str()) && *n != &input)
            .map(|n| crate::graph::float_value_info(n))
            .collect();
        probe.graph_mut().edit_proto(|p| p.output.extend(extra));
        let mut exec_options = ExecOptions {
            backend,
            threads: Some(default_threads()),
            ..Default::default()
        };
        if let Some(s) = shape {
            exec_options.input_shapes.insert(input.clone(), s.to_vec());
        }
        let exec = Executor::new(&probe, &exec_options).map_err(|e| {
            Error::other(
                ctx(),
                format!("cannot prepare the model with its activations exposed: {e}"),
            )
        })?;
        let shape = exec
            .inputs()
            .iter()
            .find(|s| s.name == input)
            .map(|s| s.shape.clone())
            .unwrap_or_default();
        let hists = names
            .iter()
            .map(|_| {
                if bins == 0 {
                    Histogram::min_max_only()
                } else {
                    Histogram::new(bins)
                }
            })
            .collect();
        let by_output: HashMap<&str, usize> = exec
            .outputs()
            .iter()
            .enumerate()
            .map(|(i, o)| (o.name.as_str(), i))
            .collect();
        let sources = names
            .iter()
            .map(|n| {
                if *n == input {
                    Source::Input
                } else {
                    by_output
                        .get(n.as_str())
                        .map_or(Source::Missing, |&o| Source::Output(o))
                }
            })
            .collect();
        let non_float = vec![false; names.len()];
        Ok(Collector {
            exec,
            input,
            shape,
            names,
            hists,
            sources,
            non_float,
            threads: default_threads(),
            samples: 0,
            source,
            run_secs: 0.0,
            hist_secs: 0.0,
        })
    }

    /// The CPU executor that runs the samples.
    pub fn backend(&self) -> Backend {
        self.exec.backend()
    }

    /// Name of the model input.
    pub fn input_name(&self) -> &str {
        &self.input
    }

    /// Shape one call of [`Collector::add`] takes (the model input shape, batch 1 when dynamic).
    pub fn sample_shape(&self) -> &[usize] {
        &self.shape
    }

    /// Threads used by [`Collector::add_batch`] (and to update histograms in [`Collector::add`]).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Sets [`Collector::threads`] (at least 1; onnxruntime's session is made anew with that many intra-op threads).
    /// The statistics do not depend on it.
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        self.threads = threads.max(1);
        self.exec.set_threads(self.threads)
    }

    fn check_shape(&self, sample: &ArrayD<f32>) -> Result<()> {
        if sample.shape() != self.shape.as_slice() {
            return Err(Error::other(
                format!("{}: calibration", self.source),
                format!(
                    "input '{}': calibration sample has shape {:?} but the model takes {:?}; preprocess the data to \
                     the model's input size",
                    self.input,
                    sample.shape(),
                    self.shape
                ),
            ));
        }
        Ok(())
    }

    /// Runs one sample (shape [`Collector::sample_shape`]) and adds every activation to its histogram.
    pub fn add(&mut self, sample: &ArrayD<f32>) -> Result<()> {
        self.add_batch(std::slice::from_ref(sample))
    }

    /// Adds `samples` in order, running up to [`Collector::threads`] of them at once. The result is the same as
    /// calling [`Collector::add`] on each in turn, including on failure: the samples before a failing one are
    /// added, the failing one and those after it are not. A sample of the wrong shape is an error before any
    /// sample runs.
    pub fn add_batch(&mut self, samples: &[ArrayD<f32>]) -> Result<()> {
        for s in samples {
            self.check_shape(s)?;
        }
        // tract runs one sample per thread; onnxruntime's session spreads one run over its intra-op threads, and
        // holding one sample's activations at a time keeps its arena at one sample's size.
        let width = if self.exec.backend() == Backend::OnnxRuntime {
            1
        } else {
            self.threads
        };
        for round in samples.chunks(width) {
            let t0 = std::time::Instant::now();
            let feed = |s: &ArrayD<f32>| vec![(self.input.clone(), TensorValue::F32(s.clone()))];
            let results: Vec<Result<RawOutputs>> = if round.len() == 1 {
                vec![self.exec.run_raw(&feed(&round[0]))]
            } else {
                let exec = &self.exec;
                std::thread::scope(|scope| {
                    let handles: Vec<_> = round
                        .iter()
                        .map(|s| {
                            let f = feed(s);
                            scope.spawn(move || exec.run_raw(&f))
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                        .collect()
                })
            };
            let t1 = std::time::Instant::now();
            self.run_secs += (t1 - t0).as_secs_f64();
            let mut outputs = Vec::with_capacity(results.len());
            let mut failed = None;
            for r in results {
                match r {
                    Ok(o) => outputs.push(o),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            let done = outputs.len();
            self.update(&round[..done], &outputs);
            self.samples += done;
            self.hist_secs += t1.elapsed().as_secs_f64();
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Adds the activations of `samples` (run into `outputs`) to the histograms: each histogram gets the samples
    /// in order; histograms are spread over the threads in contiguous runs of about equal element counts.
    fn update(&mut self, samples: &[ArrayD<f32>], outputs: &[RawOutputs]) {
        if samples.is_empty() {
            return;
        }
        let inputs: Vec<ndarray::CowArray<'_, f32, ndarray::IxDyn>> =
            samples.iter().map(|s| s.as_standard_layout()).collect();
        let sources = &self.sources;
        let sizes: Vec<usize> = sources
            .iter()
            .map(|src| match src {
                Source::Input => inputs[0].len(),
                Source::Output(o) => outputs[0].shape(*o).iter().product(),
                Source::Missing => 0,
            })
            .collect();
        let work = |first: usize, hists: &mut [Histogram], non_float: &mut [bool]| {
            for (k, (h, nf)) in hists.iter_mut().zip(non_float.iter_mut()).enumerate() {
                for (s, out) in outputs.iter().enumerate() {
                    let data = match sources[first + k] {
                        Source::Input => inputs[s].as_slice(),
                        Source::Output(o) => out.f32_slice(o),
                        Source::Missing => continue,
                    };
                    match data {
                        Some(d) => h.add(d),
                        None => *nf = true,
                    }
                }
            }
        };
        let threads = self.threads.min(self.hists.len()).max(1);
        if threads == 1 {
            work(0, &mut self.hists, &mut self.non_float);
            return;
        }
        // Contiguous runs of histograms, each ending where the running element count first reaches t/threads of
        // the total.
        let total: usize = sizes.iter().sum();
        let mut bounds = vec![0usize];
        let mut acc = 0usize;
        for (k, &size) in sizes.iter().enumerate() {
            acc += size;
            let t = bounds.len();
            if t < threads && acc * threads >= total * t {
                bounds.push(k + 1);
            }
        }
        if bounds.last() != Some(&sizes.len()) {
            bounds.push(sizes.len());
        }
        std::thread::scope(|scope| {
            let (mut hists, mut non_float) = (&mut self.hists[..], &mut self.non_float[..]);
            let mut handles = Vec::new();
            for w in bounds.windows(2) {
                let (start, len) = (w[0], w[1] - w[0]);
                let (h, rest_h) = std::mem::take(&mut hists).split_at_mut(len);
                let (nf, rest_nf) = std::mem::take(&mut non_float).split_at_mut(len);
                (hists, non_float) = (rest_h, rest_nf);
                let work = &work;
                handles.push(scope.spawn(move || work(start, h, nf)));
            }
            for h in handles {
                h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            }
        });
    }

    /// Samples added so far.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Seconds spent so far running the model and updating histograms: `(run, histograms)`.
    pub fn timings(&self) -> (f64, f64) {
        (self.run_secs, self.hist_secs)
    }

    /// The statistics; an error when no sample was added.
    pub fn finish(self) -> Result<Statistics> {
        if self.samples == 0 {
            return Err(Error::other(
                format!("{}: calibration", self.source),
                "no calibration sample was processed; give at least one image or tensor",
            ));
        }
        let mut order = Vec::new();
        let mut tensors = BTreeMap::new();
        for ((name, h), non_float) in self.names.into_iter().zip(self.hists).zip(self.non_float) {
            if !non_float {
                order.push(name.clone());
                tensors.insert(name, h);
            }
        }
        Ok(Statistics {
            samples: self.samples,
            tensors,
            order,
        })
    }
}

/// Options of [`quantize`].
#[derive(Clone, Debug)]
pub struct QuantizeOptions {
    /// Threshold algorithm (default min/max).
    pub algorithm: Algorithm,
    /// Histogram bins per tensor.
    pub bins: usize,
    /// What gets Q/DQ nodes.
    pub qdq: QdqOptions,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        QuantizeOptions {
            algorithm: Algorithm::MinMax,
            bins: hist::DEFAULT_BINS,
            qdq: QdqOptions::default(),
        }
    }
}

/// One symmetric scale per calibrated tensor (`amax / 127`, see [`algo::scale_of`]); tensors of a
/// [`QdqPlan::groups`] group (Concat inputs and output) all get the group's largest threshold.
/// Returns (amax, scale) per tensor name.
pub fn scales(
    stats: &Statistics,
    algorithm: Algorithm,
    plan: &QdqPlan,
) -> BTreeMap<String, (f32, f32)> {
    // Thresholds are independent per tensor (the entropy search is the expensive one): spread them over cores.
    let entries: Vec<(&String, &Histogram)> = stats.tensors.iter().collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, entries.len().max(1));
    let chunk = entries.len().div_ceil(threads).max(1);
    let mut amax: BTreeMap<String, f32> = std::thread::scope(|s| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|(n, h)| ((*n).clone(), algorithm.amax(h)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    for group in &plan.groups {
        let m = group
            .iter()
            .filter_map(|n| amax.get(n))
            .fold(0f32, |a, &b| a.max(b));
        for n in group {
            if let Some(v) = amax.get_mut(n) {
                *v = m;
            }
        }
    }
    amax.into_iter()
        .map(|(n, a)| (n, (a, algo::scale_of(a))))
        .collect()
}

/// The calibration cache algorithm for an [`Algorithm`] (TensorRT has no percentile calibrator; its cache is
/// labelled min/max, which TensorRT reads the same way).
pub fn cache_algorithm(algorithm: Algorithm) -> CacheAlgorithm {
    match algorithm {
        Algorithm::Entropy => CacheAlgorithm::Entropy2,
        Algorithm::MinMax | Algorithm::Percentile(_) => CacheAlgorithm::MinMax,
    }
}

/// Result of [`quantize`].
#[derive(Clone, Debug)]
pub struct Quantized {
    /// The Q/DQ model.
    pub model: Model,
    /// The TensorRT calibration cache (every calibrated tensor).
    pub cache: CalibrationCache,
    /// Ranges, saturation and drift.
    pub report: QuantReport,
}

/// Builds the Q/DQ model, the calibration cache and the report from calibration statistics. `held_out`:
/// inputs (model input shape) on which the Q/DQ model is compared with `model` on the CPU executor
/// (empty: no drift figures). `cache_version`: the header's TensorRT version ([`cache::version_code`]).
pub fn quantize(
    model: &Model,
    stats: &Statistics,
    options: &QuantizeOptions,
    held_out: &[ArrayD<f32>],
    cache_version: u32,
) -> Result<Quantized> {
    let plan = qdq::plan(model, &options.qdq)?;
    if options.algorithm.needs_bins() {
        if let Some((name, _)) = stats.tensors.iter().find(|(_, h)| !h.is_binned()) {
            return Err(Error::other(
                format!("{}: quantization", model.source_name()),
                format!(
                    "the {} algorithm needs histograms, but the statistics of '{name}' were collected min/max only \
                     (a Collector with 0 bins); collect again with bins (e.g. {})",
                    options.algorithm.name(),
                    hist::DEFAULT_BINS
                ),
            ));
        }
    }
    let scales = scales(stats, options.algorithm, &plan);
    let qmodel = qdq::apply(model, &plan, &scales)?;
    let cache = CalibrationCache {
        version: cache_version,
        algorithm: cache_algorithm(options.algorithm),
        scales: stats
            .order
            .iter()
            .filter_map(|n| scales.get(n).map(|(_, s)| (n.clone(), *s)))
            .collect(),
    };
    let drift = report::drift(model, &qmodel, held_out)?;
    let report = report::QuantReport::new(options.algorithm, stats, &scales, &plan, drift);
    Ok(Quantized {
        model: qmodel,
        cache,
        report,
    })
}
