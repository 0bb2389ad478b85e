//! QuantizeLinear/DequantizeLinear insertion for a strongly typed (explicit-precision) TensorRT build.
//!
//! * Weights of Conv (axis 0), ConvTranspose (axis 1), Gemm (axis 0 with `transB=1`, else 1) and MatMul
//!   (last axis) initializers: float weight → QuantizeLinear → DequantizeLinear, symmetric int8 per output
//!   channel, scale `max|w_c| / 127`.
//! * Activations entering those operators: one Q/DQ pair per tensor, per-tensor symmetric int8 (zero
//!   point 0), shared by all its quantized consumers.
//! * Add inputs and Concat inputs where the result feeds quantized layers, so TensorRT can fuse residual
//!   adds and keep concatenations in int8; a Concat's inputs and output share one scale
//!   ([`QdqPlan::groups`]).
//! * Kept in floating point by default: the detection head's final convolutions (quantizable layers after
//!   which no further quantizable layer runs, ignoring the decode) and the decode (everything downstream of
//!   a Reshape or Softmax, e.g. YOLOv9's DFL convolution), plus nodes whose name or op type matches an
//!   `exclude` glob.

use std::collections::{BTreeMap, HashMap, HashSet};

use ndarray::{ArrayD, Axis, IxDyn};
use serde::Serialize;
use tract_onnx::pb::TensorProto;

use super::QUANTIZABLE_OPS;
use crate::error::{Error, Result};
use crate::fp16::glob_match;
use crate::graph::{attr_i, make_attr_i, make_node, node_label, tensor_from_f32, DataType, Graph};
use crate::model::Model;

/// What [`plan`] quantizes.
#[derive(Clone, Debug, Serialize)]
pub struct QdqOptions {
    /// Node-name or op-type globs (`*`, `?`) kept in floating point.
    pub exclude: Vec<String>,
    /// Keep the detection head's final convolutions and the decode in floating point (default true).
    pub keep_head_float: bool,
}

impl Default for QdqOptions {
    fn default() -> Self {
        QdqOptions {
            exclude: Vec::new(),
            keep_head_float: true,
        }
    }
}

/// A weight quantized per output channel.
#[derive(Clone, Debug, Serialize)]
pub struct WeightUse {
    /// Node index.
    pub node: usize,
    /// Input slot of the weight.
    pub slot: usize,
    /// Initializer name.
    pub tensor: String,
    /// Output-channel axis.
    pub axis: usize,
}

/// The quantization plan of a model.
#[derive(Clone, Debug, Serialize)]
pub struct QdqPlan {
    /// Activation tensors that get a Q/DQ pair, in graph order.
    pub activations: Vec<String>,
    /// (node index, input slot, tensor) uses rewired to the dequantized tensor.
    pub uses: Vec<(usize, usize, String)>,
    /// Weights quantized per channel.
    pub weights: Vec<WeightUse>,
    /// Tensors that must share one scale (Concat inputs with the Concat output).
    pub groups: Vec<Vec<String>>,
    /// Labels of the quantizable nodes that got Q/DQ inputs.
    pub quantized_nodes: Vec<String>,
    /// Labels of nodes kept in floating point, with the reason.
    pub kept_float: Vec<(String, String)>,
}

fn is_compute(op: &str) -> bool {
    QUANTIZABLE_OPS.contains(&op)
}

/// Finds what to quantize. Errors when the model has no quantizable operator at all, or when every one of
/// them is kept in floating point.
pub fn plan(model: &Model, options: &QdqOptions) -> Result<QdqPlan> {
    let g = model.graph();
    let source = model.source_name();
    let nodes = g.nodes();
    if !nodes.iter().any(|n| is_compute(&n.op_type)) {
        let mut ops: Vec<&str> = nodes.iter().map(|n| n.op_type.as_str()).collect();
        ops.sort_unstable();
        ops.dedup();
        return Err(Error::other(
            format!("{source}: INT8 quantization"),
            format!(
                "the model has no quantizable operator ({}); it holds only {ops:?}. INT8 would not speed it up: \
                 build it in FP16 or FP32",
                QUANTIZABLE_OPS.join(", ")
            ),
        ));
    }
    let order = g.topo_order()?;
    let producers = g.producers();
    let consumers = g.consumers();
    // decode[n]: downstream of a Reshape or Softmax.
    let mut decode = vec![false; nodes.len()];
    for &i in &order {
        let n = &nodes[i];
        decode[i] = n.op_type == "Reshape"
            || n.op_type == "Softmax"
            || n.input
                .iter()
                .any(|v| producers.get(v).is_some_and(|&(p, _)| decode[p]));
    }
    let label = |i: usize| node_label(&nodes[i], i);
    let excluded = |i: usize| {
        let n = &nodes[i];
        options
            .exclude
            .iter()
            .any(|p| glob_match(p, &n.name) || glob_match(p, &n.op_type))
    };
    // downstream[n]: some eligible (non-decode) compute node is reachable from n's outputs.
    let eligible =
        |i: usize| is_compute(&nodes[i].op_type) && !(options.keep_head_float && decode[i]);
    let mut downstream = vec![false; nodes.len()];
    for &i in order.iter().rev() {
        downstream[i] = nodes[i].output.iter().any(|o| {
            consumers
                .get(o)
                .is_some_and(|cs| cs.iter().any(|&c| eligible(c) || downstream[c]))
        });
    }
    let mut kept_float = Vec::new();
    let mut quantized_nodes = Vec::new();
    let mut activations = Vec::new();
    let mut seen = HashSet::new();
    let mut uses = Vec::new();
    let mut weights = Vec::new();
    let mut groups = Vec::new();
    let mut push_act = |t: &str, acts: &mut Vec<String>| {
        if seen.insert(t.to_string()) {
            acts.push(t.to_string());
        }
    };
    for &i in &order {
        let n = &nodes[i];
        let op = n.op_type.as_str();
        let candidate = is_compute(op) || op == "Add" || op == "Concat";
        if !candidate {
            continue;
        }
        if excluded(i) {
            kept_float.push((label(i), "matches --exclude".to_string()));
            continue;
        }
        if options.keep_head_float && decode[i] {
            if is_compute(op) {
                kept_float.push((label(i), "decode".to_string()));
            }
            continue;
        }
        if is_compute(op) {
            if options.keep_head_float && !downstream[i] {
                kept_float.push((label(i), "detection head output layer".to_string()));
                continue;
            }
            let act_slots: &[usize] = if op == "MatMul" { &[0, 1] } else { &[0] };
            for (slot, v) in n.input.iter().enumerate() {
                if v.is_empty() {
                    continue;
                }
                if g.is_initializer(v) {
                    let is_weight = match op {
                        "Conv" | "ConvTranspose" | "Gemm" => slot == 1,
                        _ => slot == 1,
                    };
                    if is_weight {
                        let rank = g.initializer(v).map(|t| t.dims.len()).unwrap_or(0);
                        let axis = match op {
                            "Conv" => 0,
                            "ConvTranspose" => 1,
                            "Gemm" => usize::from(attr_i(n, "transB", 0)? == 0),
                            _ => rank.saturating_sub(1),
                        };
                        if rank >= 1 {
                            weights.push(WeightUse {
                                node: i,
                                slot,
                                tensor: v.clone(),
                                axis,
                            });
                        }
                    }
                } else if act_slots.contains(&slot) {
                    push_act(v, &mut activations);
                    uses.push((i, slot, v.clone()));
                }
            }
            quantized_nodes.push(label(i));
        } else if downstream[i] {
            // Add / Concat feeding quantized layers.
            let acts: Vec<(usize, &String)> = n
                .input
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_empty() && !g.is_initializer(v))
                .collect();
            if acts.len() < 2 {
                continue;
            }
            for &(slot, v) in &acts {
                push_act(v, &mut activations);
                uses.push((i, slot, v.clone()));
            }
            if op == "Concat" {
                let mut grp: Vec<String> = acts.iter().map(|(_, v)| (*v).clone()).collect();
                grp.extend(n.output.iter().take(1).cloned());
                groups.push(grp);
            }
        }
    }
    if quantized_nodes.is_empty() {
        return Err(Error::other(
            format!("{source}: INT8 quantization"),
            format!(
                "every quantizable operator is kept in floating point ({} kept: {}); loosen --exclude",
                kept_float.len(),
                kept_float.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(QdqPlan {
        activations,
        uses,
        weights,
        groups: merge_groups(groups),
        quantized_nodes,
        kept_float,
    })
}

/// Merges groups that share a tensor (a tensor can feed two Concats).
fn merge_groups(groups: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for g in groups {
        let mut merged: Vec<String> = g;
        let mut rest = Vec::new();
        for o in out {
            if o.iter().any(|t| merged.contains(t)) {
                for t in o {
                    if !merged.contains(&t) {
                        merged.push(t);
                    }
                }
            } else {
                rest.push(o);
            }
        }
        rest.push(merged);
        out = rest;
    }
    out
}

fn int8_zeros(name: &str, n: Option<usize>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: n.map(|n| vec![n as i64]).unwrap_or_default(),
        data_type: DataType::Int8 as i32,
        raw_data: vec![0; n.unwrap_or(1)],
        ..Default::default()
    }
}

/// Per-output-channel symmetric scales of a weight along `axis`: `max|w_c| / 127` (1 for an all-zero channel).
pub fn channel_scales(w: &ArrayD<f32>, axis: usize) -> Vec<f32> {
    w.axis_iter(Axis(axis))
        .map(|c| super::algo::scale_of(c.iter().fold(0f32, |m, &x| m.max(x.abs()))))
        .collect()
}

/// Inserts the Q/DQ pairs of `plan` with the per-tensor `scales` ((amax, scale) by name, from
/// [`super::scales`]). Needs opset ≥ 13 (per-axis QuantizeLinear).
pub fn apply(
    model: &Model,
    plan: &QdqPlan,
    scales: &BTreeMap<String, (f32, f32)>,
) -> Result<Model> {
    let source = model.source_name().to_string();
    if model.opset() < 13 {
        return Err(Error::other(
            format!("{source}: INT8 quantization"),
            format!(
                "the model uses opset {}; per-channel QuantizeLinear needs opset 13 or later: re-export with \
                 opset_version=13 (YOLOv7/YOLOv9 exporters accept --opset 13)",
                model.opset()
            ),
        ));
    }
    let mut out = model.clone();
    let g = out.graph_mut();
    let mut dq_of: HashMap<String, String> = HashMap::new();
    for t in &plan.activations {
        let &(_, scale) = scales.get(t).ok_or_else(|| {
            Error::tensor(
                t,
                "no calibration statistics (it was not produced as FLOAT by the CPU executor); exclude its consumer \
                 with --exclude",
            )
        })?;
        let dq_out = insert_qdq(g, t, ArrayD::from_elem(IxDyn(&[]), scale), None);
        dq_of.insert(t.clone(), dq_out);
    }
    for (node, slot, t) in &plan.uses {
        let dq = &dq_of[t];
        g.nodes_mut()[*node].input[*slot] = dq.clone();
    }
    for w in &plan.weights {
        let arr = g
            .initializer_f32(&w.tensor)?
            .ok_or_else(|| Error::tensor(&w.tensor, "weight initializer disappeared"))?;
        if w.axis >= arr.ndim() {
            return Err(Error::tensor(
                &w.tensor,
                format!("weight of rank {} has no axis {}", arr.ndim(), w.axis),
            ));
        }
        let cs = channel_scales(&arr, w.axis);
        let n = cs.len();
        let scales = ArrayD::from_shape_vec(IxDyn(&[n]), cs).expect("1-d");
        let dq_out = insert_qdq(g, &w.tensor, scales, Some(w.axis));
        g.nodes_mut()[w.node].input[w.slot] = dq_out;
    }
    g.sort_topologically()?;
    g.validate()?;
    out.set_source_name(format!("{source} (int8 Q/DQ)"));
    Ok(out)
}

/// Inserts a QuantizeLinear/DequantizeLinear pair on `tensor` with fresh names: `scale` (a scalar, or one value per
/// channel of `axis`) and an int8 zero point of the same shape as initializers. Returns the dequantized output's
/// name; rewiring consumers to it is the caller's job.
fn insert_qdq(g: &mut Graph, tensor: &str, scale: ArrayD<f32>, axis: Option<usize>) -> String {
    let base = tensor.replace(['/', ':'], "_");
    let mut name = |suffix: &str| g.unique_name(&format!("{base}_{suffix}"));
    let (s_name, z_name) = (name("scale"), name("zero_point"));
    let (q_out, dq_out) = (name("quantized"), name("dequantized"));
    let (q_node, dq_node) = (name("QuantizeLinear"), name("DequantizeLinear"));
    let channels = axis.map(|_| scale.len());
    g.set_initializer(tensor_from_f32(&s_name, &scale));
    g.set_initializer(int8_zeros(&z_name, channels));
    let attrs = || {
        axis.map(|a| vec![make_attr_i("axis", a as i64)])
            .unwrap_or_default()
    };
    g.add_node(make_node(
        "QuantizeLinear",
        &q_node,
        &[tensor, &s_name, &z_name],
        &[&q_out],
        attrs(),
    ));
    g.add_node(make_node(
        "DequantizeLinear",
        &dq_node,
        &[&q_out, &s_name, &z_name],
        &[&dq_out],
        attrs(),
    ));
    dq_out
}
