//! FP16 pass: initializers and compute in FP16, FP32 kept where FP16 is known to break.
//!
//! This is what `trt-build --fp16` runs on TensorRT 11 (which dropped the builder's FP16 flag and
//! needs a strongly typed network) and what `trt-onnx fp16` writes.
//!
//! # What stays FP32 (each listed in [`Fp16Report::kept_fp32`] with its reason)
//! * **Range-sensitive ops** ([`Fp32Reason::Op`]): `Softmax`, `LogSoftmax`, `Exp`, `Log`, `Pow`,
//!   `Sqrt`, `Reciprocal`, `Range` — their results leave the FP16 range (±65504) or lose all
//!   precision for ordinary inputs.
//! * **Reductions and normalization statistics** ([`Fp32Reason::Reduction`]): `ReduceSum`,
//!   `ReduceMean`, `ReduceSumSquare`, `ReduceProd`, `ReduceL1`, `ReduceL2`, `ReduceLogSum`,
//!   `ReduceLogSumExp`, `CumSum`, `LayerNormalization`, `InstanceNormalization`,
//!   `GroupNormalization`, `LpNormalization`: sums over many elements overflow or lose the small
//!   terms. `GlobalAveragePool` and `AveragePool` **stay FP16**: their result is bounded by the
//!   input range and TensorRT accumulates pooling in FP32 (a CPU executor that accumulates in FP16
//!   loses ~1e-3 relative on YOLO-sized maps, which the tests tolerate).
//! * **The YOLO decode** ([`Fp32Reason::DecodeTail`], unless [`Fp16Options::decode_fp16`]): every
//!   float op that is downstream of a convolution (`Conv`, `ConvTranspose`, `Gemm`, `MatMul`) but
//!   has none downstream of it — the tail after the last Conv of each head (Sigmoid, grid/anchor
//!   Mul/Add, Concat, Reshape, Transpose, dist2bbox). Box coordinates in pixels need FP32: FP16
//!   spacing is 0.5 px between 512 and 1024.
//! * **Overflowing constants** ([`Fp32Reason::Overflow`]): any node reading an initializer or
//!   `Constant` with a finite |x| > 65504.
//! * **Observed overflow** (opt-in [`Fp16Options::range_probe`], on by default in `trt-onnx fp16`):
//!   the FP32 model runs on the CPU executor and every node producing or reading a value with
//!   |x| > [`PROBE_LIMIT`] stays FP32 ([`Fp32Reason::Overflow`] naming the value). Without the probe
//!   only constants are checked: a large activation computed from small constants is not caught.
//! * **Quantization ops** (`QuantizeLinear`, `DequantizeLinear`: scales stay FP32) and nodes with
//!   subgraphs (`If`, `Loop`, `Scan`: not converted).
//! * **User patterns** ([`Fp16Options::keep_fp32`]): a node whose name or op type matches a glob
//!   (`*` and `?`), e.g. `model.105.*` or `Sigmoid`.
//!
//! # Rewrite
//! Each float node gets one precision. FP32 initializers read by FP16 nodes are converted (a copy
//! is kept when FP32 nodes read them too); `Constant`/`ConstantOfShape` nodes whose consumers are
//! all FP16 are converted in place; every other FP32↔FP16 boundary gets one shared `Cast` per
//! value and direction. Resize `roi`/`scales` and Upsample `scales` stay FP32 (their own type).
//! Graph inputs and outputs keep FP32 unless [`Fp16Options::io_fp16`]. `value_info` element types
//! are updated. Integer and boolean values are never touched.

use std::collections::{HashMap, HashSet};

use half::f16;
use serde::Serialize;
use tract_onnx::pb::{NodeProto, TensorProto};

use crate::error::{Error, Result};
use crate::graph::{
    attr_i, attr_t, make_attr_i, make_attr_t, make_node, node_label, set_attr, tensor_from_f16,
    tensor_from_f32, tensor_to_f32, value_info_elem_type, DataType, Graph,
};
use crate::model::Model;

/// Largest finite FP16 value.
pub const FP16_MAX: f32 = 65504.0;

const FLOAT: i32 = DataType::Float as i32;
const FLOAT16: i32 = DataType::Float16 as i32;

/// Ops kept in FP32 because of their numeric range.
pub const RANGE_OPS: &[&str] = &[
    "Softmax",
    "LogSoftmax",
    "Exp",
    "Log",
    "Pow",
    "Sqrt",
    "Reciprocal",
    "Range",
];
/// Reductions and normalizations kept in FP32.
pub const REDUCTION_OPS: &[&str] = &[
    "ReduceSum",
    "ReduceMean",
    "ReduceSumSquare",
    "ReduceProd",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "CumSum",
    "LayerNormalization",
    "InstanceNormalization",
    "GroupNormalization",
    "LpNormalization",
];
/// Ops whose downstream float ops form the "decode tail" when no other of them follows.
pub const CONV_OPS: &[&str] = &["Conv", "ConvTranspose", "Gemm", "MatMul"];
const QUANT_OPS: &[&str] = &[
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
];
/// Ops whose (first) input may have any type: no Cast is inserted in front of them.
const AGNOSTIC_INPUT_OPS: &[&str] = &["Shape", "Size", "Cast", "CastLike"];

/// Options of the FP16 pass.
#[derive(Clone, Debug, Default)]
pub struct Fp16Options {
    /// Change graph inputs and outputs to FLOAT16 too.
    pub io_fp16: bool,
    /// Globs (`*`, `?`) on node names or op types to keep in FP32.
    pub keep_fp32: Vec<String>,
    /// Convert the decode tail to FP16 as well (not recommended: pixel coordinates lose precision).
    pub decode_fp16: bool,
    /// Run the FP32 model on the CPU executor (one image-like and one random input) and keep in
    /// FP32 every node producing or reading a value whose observed |x| exceeds
    /// [`PROBE_LIMIT`] (a quarter of the FP16 range, as headroom for other inputs). Catches
    /// activations that overflow although no constant does. Costs one CPU run per input.
    pub range_probe: bool,
    /// Concrete shapes of dynamic inputs for the range probe (see [`crate::exec::ExecOptions::input_shapes`]).
    pub input_shapes: HashMap<String, Vec<usize>>,
    /// CPU executor of the range probe.
    pub executor: crate::exec::Backend,
}

/// Observed |x| above which [`Fp16Options::range_probe`] keeps a value in FP32.
pub const PROBE_LIMIT: f32 = FP16_MAX / 4.0;

/// Largest finite |x| of every FLOAT value of `model` over one image-like and one random input
/// (seeds 0 and 1), measured on the CPU executor; `input_shapes` gives dynamic inputs their shapes.
pub fn probe_ranges(
    model: &Model,
    input_shapes: &HashMap<String, Vec<usize>>,
) -> Result<HashMap<String, f32>> {
    use crate::exec::InputKind;
    Ok(probe(
        model,
        input_shapes,
        &[(InputKind::Image, 0), (InputKind::Random, 1)],
    )?
    .ranges)
}

/// What [`probe`] measured.
#[derive(Clone, Debug)]
pub struct Probe {
    /// Largest finite |x| of every FLOAT value.
    pub ranges: HashMap<String, f32>,
    /// Each run's inputs and the model's own outputs on them: the FP32 side of a verification
    /// ([`crate::verify::verify_against`]) without running the model again.
    pub runs: Vec<crate::verify::ReferenceRun>,
}

/// Runs `model` on the CPU executor once per `(kind, seed)` of `plan` (in parallel) with every FLOAT activation
/// exposed, and returns each value's largest finite |x| and the runs' inputs and outputs. Pass
/// [`crate::verify::run_plan`] of the verification options to verify the FP16 model against these very runs.
pub fn probe(
    model: &Model,
    input_shapes: &HashMap<String, Vec<usize>>,
    plan: &[(crate::exec::InputKind, u64)],
) -> Result<Probe> {
    let exec = crate::exec::ExecOptions {
        input_shapes: input_shapes.clone(),
        ..Default::default()
    };
    probe_on(model, &exec, plan)
}

/// [`probe`] on the CPU executor and input shapes of `exec`.
pub fn probe_on(
    model: &Model,
    exec_options: &crate::exec::ExecOptions,
    plan: &[(crate::exec::InputKind, u64)],
) -> Result<Probe> {
    use crate::exec::{make_inputs, Executor};
    let dt = infer_dtypes(model.graph())?;
    let mut probe = model.clone();
    let existing: HashSet<String> = model
        .graph()
        .outputs()
        .iter()
        .map(|o| o.name.clone())
        .collect();
    let extra: Vec<String> = model
        .graph()
        .nodes()
        .iter()
        .flat_map(|n| n.output.iter())
        .filter(|o| !o.is_empty() && dt.get(*o) == Some(&FLOAT) && !existing.contains(*o))
        .cloned()
        .collect();
    probe.graph_mut().edit_proto(|p| {
        for o in &extra {
            let mut vi = crate::graph::make_value_info(o, DataType::Float, &[]);
            if let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) =
                vi.r#type.as_mut().and_then(|x| x.value.as_mut())
            {
                t.shape = None;
            }
            p.output.push(vi);
        }
    });
    let exec = Executor::new(&probe, exec_options)?;
    // On tract the runs go to their own threads (an Executor is Sync); each activation is scanned where the executor
    // left it (no copy into an ndarray): the probe costs about one exposed-activations run of wall time.
    let model_outputs = model.graph().outputs().len();
    let feeds = plan
        .iter()
        .map(|&(kind, seed)| make_inputs(exec.inputs(), kind, seed))
        .collect::<Result<Vec<_>>>()?;
    type RunResult = Result<(Vec<(String, f32)>, crate::exec::NamedTensors)>;
    let scan = |feed: &crate::exec::NamedTensors| -> RunResult {
        let out = exec.run_raw(feed)?;
        let mut maxima = Vec::with_capacity(out.len());
        let mut outputs = Vec::with_capacity(model_outputs);
        for i in 0..out.len() {
            let m = match out.f32_slice(i) {
                Some(d) => max_abs_finite_slice(d),
                None => max_abs_finite_slice(out.get(i)?.1.to_f32().as_slice().unwrap_or(&[])),
            };
            maxima.push((out.name(i).to_string(), m));
            if i < model_outputs {
                outputs.push(out.get(i)?);
            }
        }
        Ok((maxima, outputs))
    };
    // onnxruntime parallelizes inside a run and its arena would grow for a second run's activations while the first
    // run's are still held: its runs go one after the other, each scanned and dropped before the next.
    let per_run: Vec<RunResult> = if exec.backend() == crate::exec::Backend::OnnxRuntime {
        feeds.iter().map(scan).collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = feeds
                .iter()
                .map(|feed| {
                    let scan = &scan;
                    scope.spawn(move || scan(feed))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    };
    let mut ranges: HashMap<String, f32> = HashMap::new();
    let mut runs = Vec::with_capacity(plan.len());
    for ((run, feed), &(kind, seed)) in per_run.into_iter().zip(feeds).zip(plan) {
        let (maxima, outputs) = run?;
        for (name, m) in maxima {
            let e = ranges.entry(name).or_insert(0.0);
            *e = e.max(m);
        }
        runs.push(crate::verify::ReferenceRun {
            kind,
            seed,
            inputs: feed,
            outputs,
        });
    }
    Ok(Probe { ranges, runs })
}

/// Why a node stays in FP32.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Fp32Reason {
    /// A range-sensitive operator.
    Op {
        /// The operator.
        op_type: String,
    },
    /// A reduction or normalization over many elements.
    Reduction {
        /// The operator.
        op_type: String,
    },
    /// Part of the YOLO decode after the last Conv of a head.
    DecodeTail,
    /// Reads a constant whose values overflow FP16.
    Overflow {
        /// Initializer or Constant output name.
        tensor: String,
        /// Largest finite |x| in it.
        max_abs: f32,
    },
    /// A quantization operator.
    Quantization,
    /// The node holds subgraphs, which are not converted.
    Subgraph,
    /// Matched a `--keep-fp32` pattern.
    UserPattern {
        /// The pattern.
        pattern: String,
    },
}

impl std::fmt::Display for Fp32Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fp32Reason::Op { op_type } => write!(
                f,
                "{op_type} is range-sensitive (overflows or loses precision in FP16)"
            ),
            Fp32Reason::Reduction { op_type } => {
                write!(f, "{op_type} reduces over many elements (sums overflow / lose small terms in FP16)")
            }
            Fp32Reason::DecodeTail => {
                f.write_str("YOLO decode after the last Conv (pixel coordinates need FP32)")
            }
            Fp32Reason::Overflow { tensor, max_abs } => {
                write!(
                    f,
                    "constant '{tensor}' has |x| = {max_abs} > {FP16_MAX} (overflows FP16)"
                )
            }
            Fp32Reason::Quantization => f.write_str("quantization scales stay FP32"),
            Fp32Reason::Subgraph => f.write_str("has subgraphs (not converted)"),
            Fp32Reason::UserPattern { pattern } => {
                write!(f, "matches --keep-fp32 pattern '{pattern}'")
            }
        }
    }
}

/// A node kept in FP32.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeptFp32 {
    /// Node label (name, or `OpType#index`).
    pub node: String,
    /// Operator.
    pub op_type: String,
    /// Why.
    pub reason: Fp32Reason,
}

/// What the FP16 pass did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Fp16Report {
    /// Nodes computing on float data (before the pass).
    pub float_nodes: usize,
    /// Of those, nodes now computing in FP16.
    pub fp16_nodes: usize,
    /// Nodes kept in FP32, with reasons.
    pub kept_fp32: Vec<KeptFp32>,
    /// Cast nodes inserted.
    pub casts_inserted: usize,
    /// Initializers (and Constant tensors) converted to FP16.
    pub initializers_converted: usize,
    /// Non-zero initializer values that became 0 in FP16 (|x| < 6e-8).
    pub underflowed_values: usize,
    /// Whether graph inputs/outputs were changed to FP16.
    pub io_fp16: bool,
}

impl Fp16Report {
    /// Human-readable summary, one line per kept node.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "fp16: {}/{} float nodes in FP16, {} kept in FP32, {} casts inserted, {} tensors converted, {} values underflowed to 0\n",
            self.fp16_nodes,
            self.float_nodes,
            self.kept_fp32.len(),
            self.casts_inserted,
            self.initializers_converted,
            self.underflowed_values
        );
        for k in &self.kept_fp32 {
            s.push_str(&format!(
                "  fp32 {} ({}): {}\n",
                k.node, k.op_type, k.reason
            ));
        }
        s
    }
}

/// Simple glob: `*` any run, `?` one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Element type of every value that can be determined locally (value infos, inputs,
/// initializers, then per-op rules in topological order).
pub fn infer_dtypes(g: &Graph) -> Result<HashMap<String, i32>> {
    let mut dt: HashMap<String, i32> = HashMap::new();
    for vi in g
        .proto()
        .input
        .iter()
        .chain(&g.proto().value_info)
        .chain(&g.proto().output)
    {
        if let Some(t) = value_info_elem_type(vi).filter(|&t| t != 0) {
            dt.insert(vi.name.clone(), t);
        }
    }
    for t in g.initializers() {
        dt.insert(t.name.clone(), t.data_type);
    }
    let order = g.topo_order()?;
    for i in order {
        let n = &g.nodes()[i];
        let first = n
            .input
            .iter()
            .filter(|s| !s.is_empty())
            .find_map(|s| dt.get(s).copied());
        let ins: Vec<Option<i32>> = n.input.iter().map(|s| dt.get(s).copied()).collect();
        let input_t = |k: usize| ins.get(k).copied().flatten();
        for (slot, o) in n.output.iter().enumerate() {
            if o.is_empty() || dt.contains_key(o) {
                continue;
            }
            let t = match n.op_type.as_str() {
                "Cast" => Some(attr_i(n, "to", 0)? as i32),
                "CastLike" => input_t(1),
                "Shape" | "Size" | "NonZero" | "ArgMax" | "ArgMin" | "NonMaxSuppression" => {
                    Some(DataType::Int64 as i32)
                }
                "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "Not" | "And"
                | "Or" | "Xor" | "IsNaN" | "IsInf" => Some(DataType::Bool as i32),
                "Constant" => Some(match attr_t(n, "value") {
                    Some(t) => t.data_type,
                    None if n.attribute.iter().any(|a| a.name.starts_with("value_int")) => {
                        DataType::Int64 as i32
                    }
                    None => FLOAT,
                }),
                "ConstantOfShape" => Some(attr_t(n, "value").map_or(FLOAT, |t| t.data_type)),
                "TopK" if slot == 1 => Some(DataType::Int64 as i32),
                "Where" => input_t(1),
                "DequantizeLinear" => input_t(1),
                "QuantizeLinear" => Some(input_t(2).unwrap_or(DataType::Uint8 as i32)),
                "RandomNormal" | "RandomUniform" => Some(attr_i(n, "dtype", FLOAT as i64)? as i32),
                _ => first,
            };
            if let Some(t) = t {
                dt.insert(o.clone(), t);
            }
        }
    }
    Ok(dt)
}

fn is_float(t: Option<&i32>) -> bool {
    matches!(t, Some(&FLOAT) | Some(&FLOAT16))
}

/// Input slots that keep their own (FP32) type whatever the node's precision.
fn fixed_fp32_slot(op: &str, slot: usize) -> bool {
    matches!((op, slot), ("Resize", 1) | ("Resize", 2) | ("Upsample", 1))
}

fn agnostic_slot(op: &str, slot: usize) -> bool {
    AGNOSTIC_INPUT_OPS.contains(&op) && slot == 0
}

/// Largest finite |x| of `d` (0 for none).
/// Largest finite |x| of `d` (0 for none). 16 independent lanes, so that the compiler vectorizes the scan (the probe
/// scans every activation: hundreds of millions of values for a YOLOv7 at 640).
fn max_abs_finite_slice(d: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut lanes = [0f32; LANES];
    let chunks = d.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            let a = x.abs();
            // NaN and ±inf fail the comparison and leave the lane as it is.
            *m = if a <= f32::MAX { m.max(a) } else { *m };
        }
    }
    tail.iter()
        .filter(|x| x.is_finite())
        .fold(lanes.into_iter().fold(0f32, f32::max), |a, x| {
            a.max(x.abs())
        })
}

fn max_abs_finite(t: &TensorProto) -> Result<f32> {
    Ok(tensor_to_f32(t)?
        .iter()
        .filter(|v| v.is_finite())
        .fold(0f32, |m, v| m.max(v.abs())))
}

/// Converts `model` to mixed FP16/FP32 in place and reports what was done.
pub fn convert(model: &mut Model, options: &Fp16Options) -> Result<Fp16Report> {
    let source = model.source_name().to_string();
    let ranges = if options.range_probe {
        use crate::exec::{ExecOptions, InputKind};
        let exec = ExecOptions {
            input_shapes: options.input_shapes.clone(),
            backend: options.executor,
            ..Default::default()
        };
        probe_on(
            model,
            &exec,
            &[(InputKind::Image, 0), (InputKind::Random, 1)],
        )?
        .ranges
    } else {
        HashMap::new()
    };
    convert_graph_with(model.graph_mut(), options, &ranges).map_err(|e| e.in_model(&source))
}

/// [`convert`] with the value ranges of an earlier [`probe`] (`options.range_probe` is then ignored): the probe's
/// runs can verify the result without running the FP32 model again.
pub fn convert_probed(
    model: &mut Model,
    options: &Fp16Options,
    probe: &Probe,
) -> Result<Fp16Report> {
    let source = model.source_name().to_string();
    convert_graph_with(model.graph_mut(), options, &probe.ranges).map_err(|e| e.in_model(&source))
}

/// [`convert`] on a bare graph (no range probe: that needs a [`Model`]).
pub fn convert_graph(g: &mut Graph, options: &Fp16Options) -> Result<Fp16Report> {
    convert_graph_with(g, options, &HashMap::new())
}

fn convert_graph_with(
    g: &mut Graph,
    options: &Fp16Options,
    ranges: &HashMap<String, f32>,
) -> Result<Fp16Report> {
    g.sort_topologically()?;
    let dt = infer_dtypes(g)?;
    let n_nodes = g.nodes().len();
    let consumers = g.consumers();
    let producers = g.producers();

    // Float-relevant nodes: any float input or output (agnostic inputs excluded).
    let float_node: Vec<bool> = g
        .nodes()
        .iter()
        .map(|n| {
            n.input
                .iter()
                .enumerate()
                .any(|(s, v)| !agnostic_slot(&n.op_type, s) && is_float(dt.get(v)))
                || n.output.iter().any(|v| is_float(dt.get(v)))
        })
        .collect();

    // Decode tail: downstream of a conv, with no conv downstream.
    let mut below_conv = vec![false; n_nodes];
    for i in 0..n_nodes {
        let n = &g.nodes()[i];
        below_conv[i] = n.input.iter().any(|v| {
            producers.get(v).is_some_and(|&(p, _)| {
                CONV_OPS.contains(&g.nodes()[p].op_type.as_str()) || below_conv[p]
            })
        });
    }
    let mut feeds_conv = vec![false; n_nodes];
    for i in (0..n_nodes).rev() {
        let n = &g.nodes()[i];
        feeds_conv[i] = n.output.iter().any(|v| {
            consumers.get(v).is_some_and(|cs| {
                cs.iter()
                    .any(|&c| CONV_OPS.contains(&g.nodes()[c].op_type.as_str()) || feeds_conv[c])
            })
        });
    }

    // Constant-valued inputs that overflow.
    let mut overflow: HashMap<String, f32> = HashMap::new();
    for t in g.initializers() {
        if t.data_type == FLOAT {
            let m = max_abs_finite(t)?;
            if m > FP16_MAX {
                overflow.insert(t.name.clone(), m);
            }
        }
    }
    for n in g.nodes() {
        if n.op_type == "Constant" {
            if let (Some(t), Some(o)) = (attr_t(n, "value"), n.output.first()) {
                if t.data_type == FLOAT {
                    let m = max_abs_finite(t)?;
                    if m > FP16_MAX {
                        overflow.insert(o.clone(), m);
                    }
                }
            }
        }
    }

    // Precision per node.
    let mut fp16 = vec![false; n_nodes];
    let mut report = Fp16Report {
        io_fp16: options.io_fp16,
        ..Default::default()
    };
    for (i, n) in g.nodes().iter().enumerate() {
        if !float_node[i] {
            continue;
        }
        report.float_nodes += 1;
        let op = n.op_type.as_str();
        let label = node_label(n, i);
        let reason = if let Some(p) = options
            .keep_fp32
            .iter()
            .find(|p| glob_match(p, &n.name) || glob_match(p, op))
        {
            Some(Fp32Reason::UserPattern { pattern: p.clone() })
        } else if RANGE_OPS.contains(&op) {
            Some(Fp32Reason::Op { op_type: op.into() })
        } else if REDUCTION_OPS.contains(&op) {
            Some(Fp32Reason::Reduction { op_type: op.into() })
        } else if QUANT_OPS.contains(&op) {
            Some(Fp32Reason::Quantization)
        } else if n
            .attribute
            .iter()
            .any(|a| a.g.is_some() || !a.graphs.is_empty())
        {
            Some(Fp32Reason::Subgraph)
        } else if let Some((t, m)) = n
            .input
            .iter()
            .chain(if op == "Constant" {
                n.output.iter()
            } else {
                [].iter()
            })
            .find_map(|v| overflow.get(v).map(|m| (v.clone(), *m)))
        {
            Some(Fp32Reason::Overflow {
                tensor: t,
                max_abs: m,
            })
        } else if let Some((t, m)) = n.input.iter().chain(n.output.iter()).find_map(|v| {
            ranges
                .get(v)
                .filter(|&&m| m > PROBE_LIMIT)
                .map(|m| (v.clone(), *m))
        }) {
            Some(Fp32Reason::Overflow {
                tensor: t,
                max_abs: m,
            })
        } else if !options.decode_fp16 && below_conv[i] && !feeds_conv[i] && !CONV_OPS.contains(&op)
        {
            Some(Fp32Reason::DecodeTail)
        } else {
            None
        };
        match reason {
            Some(reason) => report.kept_fp32.push(KeptFp32 {
                node: label,
                op_type: op.into(),
                reason,
            }),
            None => fp16[i] = true,
        }
    }
    // Constant-like sources follow their consumers: FP16 only when every consumer is FP16.
    for (i, n) in g.nodes().iter().enumerate() {
        if fp16[i] && matches!(n.op_type.as_str(), "Constant" | "ConstantOfShape") {
            let all = n.output.iter().all(|o| {
                consumers
                    .get(o)
                    .is_none_or(|cs| cs.iter().all(|&c| fp16[c]))
            }) && !n.output.iter().any(|o| g.is_graph_output(o));
            if !all {
                fp16[i] = false;
                // Not a numerical reason: it simply feeds FP32 consumers; not listed.
                report.float_nodes -= 1;
            }
        }
    }
    report.fp16_nodes = fp16.iter().filter(|&&b| b).count();

    // Final element type of each float value.
    let mut final_dt: HashMap<String, i32> = HashMap::new();
    for vi in g.inputs() {
        if dt.get(&vi.name) == Some(&FLOAT) {
            final_dt.insert(
                vi.name.clone(),
                if options.io_fp16 { FLOAT16 } else { FLOAT },
            );
        }
    }
    for (i, n) in g.nodes().iter().enumerate() {
        for o in &n.output {
            if let Some(&t) = dt.get(o).filter(|t| is_float(Some(t))) {
                let t = if n.op_type == "Cast" {
                    t
                } else if fp16[i] {
                    FLOAT16
                } else {
                    FLOAT
                };
                final_dt.insert(o.clone(), t);
            }
        }
    }

    // Rewrite nodes.
    let mut new_nodes: Vec<NodeProto> = Vec::new();
    let mut cast_cache: HashMap<(String, i32), String> = HashMap::new();
    let mut fp16_inits: HashMap<String, String> = HashMap::new();
    let mut new_inits: Vec<TensorProto> = Vec::new();
    let mut nodes = std::mem::take(g.nodes_mut());
    for (i, n) in nodes.iter_mut().enumerate() {
        let op = n.op_type.clone();
        let want = if fp16[i] { FLOAT16 } else { FLOAT };
        if float_node[i] {
            for slot in 0..n.input.len() {
                let v = n.input[slot].clone();
                if v.is_empty() || agnostic_slot(&op, slot) {
                    continue;
                }
                let target = if fixed_fp32_slot(&op, slot) {
                    FLOAT
                } else {
                    want
                };
                let current = if let Some(t) = g.initializer(&v) {
                    t.data_type
                } else if let Some(&t) = final_dt.get(&v) {
                    t
                } else {
                    continue;
                };
                if !is_float(Some(&current)) || current == target {
                    continue;
                }
                if let Some(t) = g
                    .initializer(&v)
                    .filter(|t| t.data_type == FLOAT && target == FLOAT16)
                {
                    let name = match fp16_inits.get(&v) {
                        Some(nm) => nm.clone(),
                        None => {
                            let a = tensor_to_f32(t)?;
                            report.underflowed_values += a
                                .iter()
                                .filter(|&&x| x != 0.0 && f16::from_f32(x).to_f32() == 0.0)
                                .count();
                            let nm = g.unique_name(&format!("{v}_fp16"));
                            new_inits.push(tensor_from_f16(&nm, &a.mapv(f16::from_f32)));
                            report.initializers_converted += 1;
                            fp16_inits.insert(v.clone(), nm.clone());
                            nm
                        }
                    };
                    n.input[slot] = name;
                    continue;
                }
                let key = (v.clone(), target);
                let name = match cast_cache.get(&key) {
                    Some(nm) => nm.clone(),
                    None => {
                        let suffix = if target == FLOAT16 { "fp16" } else { "fp32" };
                        let nm = g.unique_name(&format!("{v}_{suffix}"));
                        let cast_name = g.unique_name(&format!("{v}_cast_{suffix}"));
                        new_nodes.push(make_node(
                            "Cast",
                            &cast_name,
                            &[&v],
                            &[&nm],
                            vec![make_attr_i("to", target as i64)],
                        ));
                        report.casts_inserted += 1;
                        cast_cache.insert(key, nm.clone());
                        nm
                    }
                };
                n.input[slot] = name;
            }
        }
        if fp16[i] {
            match op.as_str() {
                "Cast" if attr_i(n, "to", 0)? == FLOAT as i64 => {
                    set_attr(n, make_attr_i("to", FLOAT16 as i64))
                }
                "Constant" | "ConstantOfShape" => {
                    if let Some(t) = attr_t(n, "value").filter(|t| t.data_type == FLOAT) {
                        let a = tensor_to_f32(t)?;
                        let name = t.name.clone();
                        set_attr(
                            n,
                            make_attr_t("value", tensor_from_f16(&name, &a.mapv(f16::from_f32))),
                        );
                        report.initializers_converted += 1;
                    } else if op == "ConstantOfShape" && attr_t(n, "value").is_none() {
                        let zero = ndarray::ArrayD::from_elem(ndarray::IxDyn(&[1]), f16::ZERO);
                        set_attr(n, make_attr_t("value", tensor_from_f16("", &zero)));
                    } else if op == "Constant"
                        && n.attribute
                            .iter()
                            .any(|a| a.name == "value_float" || a.name == "value_floats")
                    {
                        let label = node_label(n, i);
                        return Err(Error::attribute(label, "value_float", "FP16 conversion of value_float(s) Constants is not supported; keep it FP32 with --keep-fp32"));
                    }
                }
                _ => {}
            }
        }
    }
    // Graph outputs and inputs.
    let outputs: Vec<String> = g.outputs().iter().map(|o| o.name.clone()).collect();
    let want_io = if options.io_fp16 { FLOAT16 } else { FLOAT };
    let mut renamed: Vec<(String, String, i32)> = Vec::new();
    for o in &outputs {
        let Some(&t) = final_dt.get(o) else { continue };
        if t == want_io || g.is_graph_input(o) || g.is_initializer(o) {
            continue;
        }
        let suffix = if t == FLOAT16 { "fp16" } else { "fp32" };
        let inner = g.unique_name(&format!("{o}_{suffix}"));
        for n in nodes.iter_mut() {
            for x in n.output.iter_mut().chain(n.input.iter_mut()) {
                if x == o {
                    *x = inner.clone();
                }
            }
        }
        for n in new_nodes.iter_mut() {
            for x in n.input.iter_mut() {
                if x == o {
                    *x = inner.clone();
                }
            }
        }
        let cast_name = g.unique_name(&format!("{o}_cast_out"));
        new_nodes.push(make_node(
            "Cast",
            &cast_name,
            &[&inner],
            &[o],
            vec![make_attr_i("to", want_io as i64)],
        ));
        report.casts_inserted += 1;
        renamed.push((o.clone(), inner.clone(), t));
        final_dt.insert(inner, t);
        final_dt.insert(o.clone(), want_io);
    }
    nodes.extend(new_nodes);
    *g.nodes_mut() = nodes;
    for t in new_inits {
        g.set_initializer(t);
    }
    // Drop FP32 initializers nobody reads any more.
    let uses = g.use_counts();
    let listed_inputs: HashSet<String> = g.proto().input.iter().map(|v| v.name.clone()).collect();
    g.retain_initializers(|t| {
        !fp16_inits.contains_key(&t.name)
            || uses.contains_key(&t.name)
            || listed_inputs.contains(&t.name)
    });
    // Types of inputs, outputs and value infos.
    g.edit_proto(|p| {
        let set = |vi: &mut tract_onnx::pb::ValueInfoProto, t: i32| {
            if let Some(tract_onnx::pb::type_proto::Value::TensorType(tt)) =
                vi.r#type.as_mut().and_then(|x| x.value.as_mut())
            {
                tt.elem_type = t;
            }
        };
        for vi in p
            .input
            .iter_mut()
            .chain(p.output.iter_mut())
            .chain(p.value_info.iter_mut())
        {
            if let Some(&t) = final_dt.get(&vi.name) {
                if value_info_elem_type(vi).is_some_and(|x| is_float(Some(&x))) {
                    set(vi, t);
                }
            }
        }
        for (o, inner, t) in &renamed {
            if let Some(mut vi) = p.output.iter().find(|v| &v.name == o).cloned() {
                vi.name = inner.clone();
                set(&mut vi, *t);
                p.value_info.push(vi);
            }
        }
    });
    g.sort_topologically()?;
    g.validate()?;
    Ok(report)
}

/// A copy of the FP16 model `fp16` that computes in FP32 but holds every FP16 value at FP16 precision, for checking
/// an FP16 conversion at about the cost of an FP32 run (the CPU executor's FP16 arithmetic is ~20x slower than its
/// FP32 arithmetic).
///
/// FP16 initializers and constants become FP32 tensors of the same (already rounded) values; every value that is
/// FP16 in `fp16` — node outputs and graph inputs — is rounded through `Cast(FLOAT16)` → `Cast(FLOAT)` right where it
/// is produced; FP16 graph inputs, outputs and value infos become FP32. Arithmetic inside a node then runs in FP32
/// on FP16-rounded operands and its result is rounded to FP16: what TensorRT's FP16 kernels do (FP16 storage, FP32
/// accumulation), so overflow to infinity and the loss of precision at each FP16 tensor show exactly as they will
/// there.
pub fn emulate_in_f32(fp16: &Model) -> Result<Model> {
    let dt = infer_dtypes(fp16.graph())?;
    let mut out = fp16.clone();
    let source = out.source_name().to_string();
    let g = out.graph_mut();
    let is_half = |name: &str| dt.get(name) == Some(&FLOAT16);
    // FP16 tensors held as data: initializers and Constant / ConstantOfShape values.
    let halves: Vec<TensorProto> = g
        .initializers()
        .iter()
        .filter(|t| t.data_type == FLOAT16)
        .cloned()
        .collect();
    for t in halves {
        g.set_initializer(tensor_from_f32(&t.name, &tensor_to_f32(&t)?));
    }
    let mut rounds: Vec<(String, String)> = Vec::new(); // (value to round, producer's new output name)
    for (i, n) in g.nodes_mut().iter_mut().enumerate() {
        for a in &mut n.attribute {
            if let Some(t) = a.t.as_mut().filter(|t| t.data_type == FLOAT16) {
                let name = t.name.clone();
                *t = tensor_from_f32(&name, &tensor_to_f32(t)?);
            }
        }
        for o in n.output.iter_mut().filter(|o| !o.is_empty()) {
            if is_half(o) {
                let pre = format!("{o}__f16emu{i}");
                rounds.push((o.clone(), pre.clone()));
                *o = pre;
            }
        }
    }
    // FP16 graph inputs: the caller feeds FP32; round them before any use.
    let half_inputs: Vec<String> = g
        .proto()
        .input
        .iter()
        .filter(|vi| !g.is_initializer(&vi.name) && is_half(&vi.name))
        .map(|vi| vi.name.clone())
        .collect();
    for name in half_inputs {
        let rounded = format!("{name}__f16emu_in");
        g.replace_uses(&name, &rounded);
        rounds.push((rounded, name));
    }
    for (value, pre) in rounds {
        let h = format!("{value}__f16emu_h");
        g.add_node(make_node(
            "Cast",
            &format!("{value}__f16emu_round"),
            &[&pre],
            &[&h],
            vec![make_attr_i("to", i64::from(FLOAT16))],
        ));
        g.add_node(make_node(
            "Cast",
            &format!("{value}__f16emu_back"),
            &[&h],
            &[&value],
            vec![make_attr_i("to", i64::from(FLOAT))],
        ));
    }
    g.edit_proto(|p| {
        for vi in p
            .input
            .iter_mut()
            .chain(p.output.iter_mut())
            .chain(p.value_info.iter_mut())
        {
            if let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) =
                vi.r#type.as_mut().and_then(|t| t.value.as_mut())
            {
                if t.elem_type == FLOAT16 {
                    t.elem_type = FLOAT;
                }
            }
        }
    });
    g.sort_topologically().map_err(|e| e.in_model(&source))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{compare_outputs, make_inputs, ExecOptions, Executor, InputKind, OutputDiff};
    use crate::graph::{make_value_info, tensor_from_f32};
    use crate::testgen::{self, Act, GraphBuilder};
    use ndarray::{ArrayD, IxDyn};

    /// The lane-wise scan equals the plain one, with NaN and infinities anywhere and every tail length.
    #[test]
    fn max_abs_finite_slice_matches_the_plain_scan() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for len in 0..70 {
            let mut d: Vec<f32> = (0..len).map(|_| rng.random_range(-1e4f32..1e4)).collect();
            for special in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -f32::MAX] {
                if len > 0 {
                    let at = rng.random_range(0..len);
                    d[at] = special;
                }
            }
            let plain = d
                .iter()
                .filter(|x| x.is_finite())
                .fold(0f32, |a, x| a.max(x.abs()));
            assert_eq!(max_abs_finite_slice(&d), plain, "len {len}");
        }
        assert_eq!(max_abs_finite_slice(&[f32::NAN; 33]), 0.0);
    }

    fn run_pair(a: &Model, b: &Model, kind: InputKind, seed: u64) -> Vec<OutputDiff> {
        let ea = Executor::new(a, &ExecOptions::default()).unwrap();
        let eb = Executor::new(b, &ExecOptions::default()).unwrap();
        let ia = make_inputs(ea.inputs(), kind, seed).unwrap();
        let ib = make_inputs(eb.inputs(), kind, seed).unwrap();
        let oa = ea.run(&ia).unwrap();
        let ob = eb.run(&ib).unwrap();
        compare_outputs(&oa, &ob, 0.0, 0.0).unwrap()
    }

    fn ops(m: &Model) -> Vec<&str> {
        m.graph()
            .nodes()
            .iter()
            .map(|n| n.op_type.as_str())
            .collect()
    }

    #[test]
    fn glob() {
        assert!(glob_match("model.1*", "model.105.conv"));
        assert!(glob_match("Sig?oid", "Sigmoid"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("model.2*", "model.105"));
        assert!(glob_match("*.conv", "a.b.conv") && !glob_match("*.conv", "a.conv.x"));
    }

    /// Tolerance stated for FP16 vs FP32 on the YOLO-style graphs (tract runs FP16 Conv natively):
    /// cosine ≥ 0.999 and max |Δ| ≤ 2 % of the output's largest magnitude.
    fn assert_close(d: &[OutputDiff], scale: f64, what: &str) {
        for o in d {
            assert!(o.nonfinite_mismatches == 0, "{what}: {o:?}");
            assert!(o.cosine >= 0.999, "{what}: cosine {o:?}");
            assert!(
                o.max_abs <= 0.02 * scale,
                "{what}: max_abs {} vs scale {scale}",
                o.max_abs
            );
        }
    }

    fn max_abs_out(m: &Model, seed: u64) -> f64 {
        let e = Executor::new(m, &ExecOptions::default()).unwrap();
        let o = e
            .run(&make_inputs(e.inputs(), InputKind::Image, seed).unwrap())
            .unwrap();
        o[0].1
            .to_f32()
            .iter()
            .fold(0f64, |a, &v| a.max(v.abs() as f64))
    }

    #[test]
    fn yolo_graphs_fp16_within_tolerance() {
        for (name, m) in [
            ("repconv", testgen::repconv_model(16, 3, 1, true, 1)),
            ("fpn", testgen::fpn_model(2)),
            ("sppf", testgen::sppf_model(3)),
            ("yolov7-tiny", testgen::yolov7_tiny_slice(4, 4)),
            ("yolov9", testgen::yolov9_slice(4, 5)),
            ("yolov9 fused", {
                let mut m = testgen::yolov9_slice(4, 6);
                crate::passes::fuse(&mut m, &Default::default()).unwrap();
                m
            }),
            ("tiny-detector", testgen::tiny_detector(64, 3)),
        ] {
            let mut h = m.clone();
            let rep = convert(&mut h, &Fp16Options::default()).unwrap();
            assert!(rep.fp16_nodes > 0, "{name}");
            // IO types unchanged.
            assert_eq!(h.graph().inputs()[0].r#type, m.graph().inputs()[0].r#type);
            assert_eq!(h.graph().outputs(), m.graph().outputs());
            assert!(
                h.graph()
                    .initializers()
                    .iter()
                    .any(|t| t.data_type == FLOAT16),
                "{name}"
            );
            let scale = max_abs_out(&m, 9);
            for kind in [InputKind::Image, InputKind::Random] {
                let d = run_pair(&m, &h, kind, 9);
                // FP16 really changed the numbers (the test can fail).
                // (The tiny detector's weights are powers of two, exact in FP16.)
                assert!(
                    d[0].max_abs > 0.0 || name == "tiny-detector",
                    "{name}: identical outputs?"
                );
                assert_close(&d, scale, name);
            }
        }
    }

    /// The probe's runs are a verification's FP32 side: the same inputs, and the model's own outputs (up to f32
    /// rounding: with every activation exposed, the executor fuses less), so verifying against them reports what
    /// verifying against the model does; and its ranges are the probe_ranges ones when run on the same inputs.
    #[test]
    fn the_probe_serves_as_the_fp32_side_of_the_check() {
        use crate::verify::{run_plan, verify, verify_against, VerifyOptions};
        let m = testgen::yolov7_tiny_slice(4, 5);
        let opts = VerifyOptions {
            atol: f64::INFINITY,
            ..Default::default()
        };
        let p = probe(&m, &HashMap::new(), &run_plan(&opts)).unwrap();
        assert_eq!(p.runs.len(), 2);
        let mut h = m.clone();
        let report = convert_probed(&mut h, &Fp16Options::default(), &p).unwrap();
        assert!(report.fp16_nodes > 0);
        let emulated = emulate_in_f32(&h).unwrap();
        let direct = verify(&m, &emulated, &opts).unwrap();
        let reused = verify_against(m.source_name(), &p.runs, &emulated, &opts).unwrap();
        // The reference outputs are the model's within f32 rounding.
        let exec = crate::exec::Executor::new(&m, &Default::default()).unwrap();
        for r in &p.runs {
            let own = exec.run(&r.inputs).unwrap();
            for d in crate::exec::compare_outputs(&own, &r.outputs, 1e-5, 1e-5).unwrap() {
                assert_eq!(d.violations, 0, "{}: max abs {}", d.name, d.max_abs);
            }
        }
        assert_eq!(direct.worst.len(), reused.worst.len());
        for (a, b) in direct.worst.iter().zip(&reused.worst) {
            assert_eq!(a.name, b.name);
            assert!(
                (a.max_abs - b.max_abs).abs() <= 1e-3 * a.max_abs.max(1.0),
                "{a:?} vs {b:?}"
            );
            assert!((a.cosine - b.cosine).abs() < 1e-6, "{a:?} vs {b:?}");
        }
        assert!(
            direct.worst[0].max_abs > 0.0,
            "FP16 differs from FP32 somewhere"
        );
        // Ranges on the default inputs equal probe_ranges'.
        let classic = probe_ranges(&m, &HashMap::new()).unwrap();
        let again = probe(
            &m,
            &HashMap::new(),
            &[
                (crate::exec::InputKind::Image, 0),
                (crate::exec::InputKind::Random, 1),
            ],
        )
        .unwrap();
        assert_eq!(classic, again.ranges);
    }

    /// The FP32 emulation of an FP16 model (what the pipeline verifies instead of running FP16 arithmetic on the CPU)
    /// is faithful: it lands where the real FP16 run lands, far closer to it than FP16 is to FP32, and overflow to
    /// infinity shows the same way.
    #[test]
    fn fp32_emulation_of_fp16_models_matches_the_real_fp16_run() {
        for (name, m) in [
            ("yolov7-tiny", testgen::yolov7_tiny_slice(4, 4)),
            ("yolov9 fused", {
                let mut m = testgen::yolov9_slice(4, 6);
                crate::passes::fuse(&mut m, &Default::default()).unwrap();
                m
            }),
            ("repconv", testgen::repconv_model(16, 3, 1, true, 1)),
        ] {
            let mut h = m.clone();
            convert(&mut h, &Fp16Options::default()).unwrap();
            let e = emulate_in_f32(&h).unwrap();
            assert!(
                !e.graph()
                    .initializers()
                    .iter()
                    .any(|t| t.data_type == FLOAT16),
                "{name}: the emulation holds no FP16 data"
            );
            assert_eq!(e.graph().outputs().len(), m.graph().outputs().len());
            for kind in [InputKind::Image, InputKind::Random] {
                let fp16_vs_fp32 = run_pair(&m, &h, kind, 9);
                let emu_vs_fp16 = run_pair(&h, &e, kind, 9);
                let emu_vs_fp32 = run_pair(&m, &e, kind, 9);
                for ((real, emu), back) in fp16_vs_fp32.iter().zip(&emu_vs_fp16).zip(&emu_vs_fp32) {
                    assert!(real.max_abs > 0.0, "{name}: FP16 changed nothing?");
                    // The emulation differs from FP32 like FP16 does (it is not secretly FP32)...
                    assert!(
                        back.max_abs > 0.2 * real.max_abs && back.max_abs < 5.0 * real.max_abs,
                        "{name} {kind:?}: emulation vs FP32 {} but FP16 vs FP32 {}",
                        back.max_abs,
                        real.max_abs
                    );
                    // ... and sits near the real FP16 run: the two round at the same tensors and differ only in
                    // the CPU executor's FP16 accumulation, so their distance is of the order of FP16's own error
                    // (independent rounding noise of the same size), never a different result.
                    assert!(
                        emu.max_abs <= 2.0 * real.max_abs,
                        "{name} {kind:?}: emulation vs FP16 {} > 2 x FP16 vs FP32 {}",
                        emu.max_abs,
                        real.max_abs
                    );
                    assert!(
                        emu.cosine >= 0.9999,
                        "{name} {kind:?}: cosine {}",
                        emu.cosine
                    );
                    // The pipeline's FP16 check (cosine >= 0.999 against FP32) decides alike on both.
                    assert_eq!(
                        real.cosine >= 0.999,
                        back.cosine >= 0.999,
                        "{name} {kind:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn fp32_emulation_shows_fp16_overflow() {
        // x * 1000 overflows FP16 for |x| > 65.5: the FP16 model and its emulation both give infinity there.
        let mut m = Model::new(
            tract_onnx::pb::GraphProto {
                name: "overflow".into(),
                input: vec![crate::graph::make_value_info("x", DataType::Float, &[1, 4])],
                output: vec![crate::graph::make_value_info("y", DataType::Float, &[1, 4])],
                ..Default::default()
            },
            13,
        );
        let g = m.graph_mut();
        g.set_initializer(tensor_from_f16(
            "k",
            &ndarray::ArrayD::from_elem(ndarray::IxDyn(&[1]), f16::from_f32(1000.0)),
        ));
        g.add_node(make_node(
            "Cast",
            "to_h",
            &["x"],
            &["xh"],
            vec![make_attr_i("to", 10)],
        ));
        g.add_node(make_node("Mul", "mul", &["xh", "k"], &["yh"], vec![]));
        g.add_node(make_node(
            "Cast",
            "to_f",
            &["yh"],
            &["y"],
            vec![make_attr_i("to", 1)],
        ));
        let e = emulate_in_f32(&m).unwrap();
        let input = vec![(
            "x".to_string(),
            crate::exec::TensorValue::F32(
                ndarray::ArrayD::from_shape_vec(
                    ndarray::IxDyn(&[1, 4]),
                    vec![1.0, 60.0, 70.0, -100.0],
                )
                .unwrap(),
            ),
        )];
        for model in [&m, &e] {
            let out = Executor::new(model, &ExecOptions::default())
                .unwrap()
                .run(&input)
                .unwrap();
            let y = out[0].1.to_f32();
            let y: Vec<f32> = y.iter().copied().collect();
            assert_eq!(y[0], 1000.0);
            assert_eq!(y[1], f16::from_f32(60_000.0).to_f32());
            assert!(y[2].is_infinite() && y[2] > 0.0, "{y:?}");
            assert!(y[3].is_infinite() && y[3] < 0.0, "{y:?}");
        }
    }

    #[test]
    fn decode_tail_and_softmax_stay_fp32() {
        let m = testgen::yolov9_slice(4, 5);
        let mut h = m.clone();
        let rep = convert(&mut h, &Fp16Options::default()).unwrap();
        let kept: HashMap<&str, &Fp32Reason> = rep
            .kept_fp32
            .iter()
            .map(|k| (k.op_type.as_str(), &k.reason))
            .collect();
        assert_eq!(
            kept["Softmax"],
            &Fp32Reason::Op {
                op_type: "Softmax".into()
            }
        );
        // The dist2bbox Sub/Add/Mul after the DFL conv is decode tail.
        assert!(rep
            .kept_fp32
            .iter()
            .any(|k| k.op_type == "Sub" && k.reason == Fp32Reason::DecodeTail));
        // No Conv kept in FP32; every Conv reads FP16 weights.
        assert!(rep.kept_fp32.iter().all(|k| k.op_type != "Conv"));
        for n in h.graph().nodes().iter().filter(|n| n.op_type == "Conv") {
            assert_eq!(
                h.graph().initializer(&n.input[1]).unwrap().data_type,
                FLOAT16,
                "{}",
                n.name
            );
        }
        // Decode fp16 option converts the tail.
        let mut h2 = m.clone();
        let rep2 = convert(
            &mut h2,
            &Fp16Options {
                decode_fp16: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(rep2
            .kept_fp32
            .iter()
            .all(|k| k.reason != Fp32Reason::DecodeTail));
        assert!(rep2.fp16_nodes > rep.fp16_nodes);
        // User patterns.
        let mut h3 = m.clone();
        let rep3 = convert(
            &mut h3,
            &Fp16Options {
                keep_fp32: vec!["Resize".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            rep3.kept_fp32
                .iter()
                .filter(|k| k.op_type == "Resize")
                .count(),
            2
        );
        assert!(rep3.to_text().contains("--keep-fp32 pattern 'Resize'"));
    }

    /// Conv → Mul by 1e5 → Mul by 1e-5 → Conv: the intermediate exceeds the FP16 range. The Muls
    /// must stay FP32 and the result must match FP32, while forcing them to FP16 gives inf.
    #[test]
    fn overflowing_values_stay_fp32() {
        let mut b = GraphBuilder::new("overflow", 3);
        let x = b.input("images", &[1, 3, 8, 8]);
        let c = b.conv_bn_act(&x, 8, 3, 1, Act::Silu);
        let big = b.initializer("big", ArrayD::from_elem(IxDyn(&[1]), 1e5f32));
        let small = b.initializer("small", ArrayD::from_elem(IxDyn(&[1]), 1e-5f32));
        let shape = b.shape(&c).to_vec();
        let up = b.node("Mul", &[&c, &big], vec![], shape.clone(), 1.0);
        let down = b.node("Mul", &[&up, &small], vec![], shape, 1.0);
        let y = b.conv_bn_act(&down, 4, 3, 1, Act::Silu);
        b.output(&y);
        let m = b.finish();
        // Static check only: the constant is guarded, but the 1e5-sized activation reaches the
        // second Mul in FP16 and overflows.
        let mut st = m.clone();
        let rep = convert(&mut st, &Fp16Options::default()).unwrap();
        let kept: Vec<_> = rep
            .kept_fp32
            .iter()
            .filter(|k| matches!(k.reason, Fp32Reason::Overflow { .. }))
            .collect();
        assert_eq!(kept.len(), 1, "{rep:?}");
        assert!(
            matches!(&kept[0].reason, Fp32Reason::Overflow { max_abs, tensor } if *max_abs == 1e5 && *tensor == big)
        );
        let d = run_pair(&m, &st, InputKind::Image, 1);
        assert!(
            d[0].nonfinite_mismatches > 0 || d[0].cosine < 0.99,
            "activation overflow expected: {d:?}"
        );
        // With the range probe both Muls (producing / reading the large activation) stay FP32.
        let mut h = m.clone();
        let rep = convert(
            &mut h,
            &Fp16Options {
                range_probe: true,
                ..Default::default()
            },
        )
        .unwrap();
        let kept: Vec<_> = rep
            .kept_fp32
            .iter()
            .filter(|k| matches!(k.reason, Fp32Reason::Overflow { .. }))
            .collect();
        assert_eq!(kept.len(), 2, "{rep:?}");
        assert!(kept.iter().all(|k| k.op_type == "Mul"));
        // The big constant is still FP32, and the Mul reading it takes an FP32 input via a Cast.
        assert_eq!(h.graph().initializer(&big).unwrap().data_type, FLOAT);
        assert!(ops(&h).contains(&"Cast"));
        let scale = max_abs_out(&m, 1);
        let d = run_pair(&m, &h, InputKind::Image, 1);
        assert_close(&d, scale, "overflow guarded");
        // Without the guard the constant itself would be converted to +inf.
        assert!(f16::from_f32(1e5).is_infinite());
        assert!(d[0].max_abs > 0.0);
    }

    #[test]
    fn io_fp16_changes_io_types_and_runs() {
        let m = testgen::yolov7_tiny_slice(4, 2);
        let mut h = m.clone();
        let rep = convert(
            &mut h,
            &Fp16Options {
                io_fp16: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(rep.io_fp16);
        assert_eq!(value_info_elem_type(h.graph().inputs()[0]), Some(FLOAT16));
        assert_eq!(value_info_elem_type(&h.graph().outputs()[0]), Some(FLOAT16));
        let scale = max_abs_out(&m, 4);
        let d = run_pair(&m, &h, InputKind::Image, 4);
        assert_close(&d, scale, "io fp16");
    }

    #[test]
    fn shared_initializer_and_constant_handling() {
        // One initializer read by an FP16 Add and an FP32 Exp: both versions must exist.
        let g = tract_onnx::pb::GraphProto {
            input: vec![make_value_info("x", DataType::Float, &[1, 4])],
            output: vec![make_value_info("y", DataType::Float, &[1, 4])],
            initializer: vec![tensor_from_f32(
                "w",
                &ArrayD::from_elem(IxDyn(&[1, 4]), 0.5),
            )],
            node: vec![
                make_node("Add", "add", &["x", "w"], &["a"], vec![]),
                make_node("Exp", "exp", &["w"], &["e"], vec![]),
                make_node("Mul", "mul", &["a", "e"], &["m"], vec![]),
                make_node("Relu", "relu", &["m"], &["y"], vec![]),
            ],
            value_info: vec![
                make_value_info("a", DataType::Float, &[1, 4]),
                make_value_info("e", DataType::Float, &[1, 4]),
            ],
            ..Default::default()
        };
        let m = Model::new(g, 13);
        let mut h = m.clone();
        let rep = convert(&mut h, &Fp16Options::default()).unwrap();
        // value_info follows: the Add output is FP16 now, the Exp output stays FP32.
        assert_eq!(
            value_info_elem_type(h.graph().value_info("a").unwrap()),
            Some(FLOAT16)
        );
        assert_eq!(
            value_info_elem_type(h.graph().value_info("e").unwrap()),
            Some(FLOAT)
        );
        assert!(h.graph().initializer("w").is_some() && h.graph().initializer("w_fp16").is_some());
        assert_eq!(rep.kept_fp32.len(), 1);
        assert_eq!(rep.kept_fp32[0].node, "exp");
        // x→fp16 cast, exp output→fp16 cast, output→fp32 cast.
        assert_eq!(rep.casts_inserted, 3, "{:?}", ops(&h));
        let d = run_pair(&m, &h, InputKind::Random, 3);
        assert!(d[0].max_abs < 1e-2, "{d:?}");
        // Running the pass twice is harmless (everything is already FP16 or kept).
        let mut again = h.clone();
        convert(&mut again, &Fp16Options::default()).unwrap();
        let d = run_pair(&m, &again, InputKind::Random, 3);
        assert!(d[0].max_abs < 1e-2, "{d:?}");
    }
}
