//! Re-parameterization passes and the [`fuse`] pipeline.
//!
//! Each pass is a function `run(&mut Graph, &mut FuseReport) -> Result<()>` that sweeps the graph
//! once, fuses every legal instance of its pattern and records a [`Refusal`] with a reason for
//! every instance it leaves alone. All passes are exact: a fusion is only applied when the fused
//! graph computes the same function (up to float rounding) with the same output names, shapes and
//! element types.
//!
//! Pipeline ([`fuse`]): cleanup (Identity/Dropout) → constant folding → cleanup → Conv+BN →
//! RepConv / multi-branch merge → ImplicitA/ImplicitM → report of remaining BatchNormalizations →
//! dead-node and dead-initializer removal → topological sort.

pub mod aux_head;
pub mod cleanup;
pub mod conv_bn;
pub mod fold;
pub mod implicit;
pub mod lint;
pub mod repconv;
pub mod report;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
pub(crate) mod testutil;

use ndarray::{Array1, Array4, ArrayD, Ix4};
use tract_onnx::pb::NodeProto;

pub use report::{FuseReport, GraphStats, PatternCount, PatternKind, Refusal};

use crate::error::Result;
use crate::graph::{attr_i, attr_ints, attr_s, tensor_from_f32, DataType, Graph};
use crate::model::Model;

/// Which passes [`fuse`] runs. `Default` runs everything.
#[derive(Clone, Debug)]
pub struct FuseOptions {
    /// Identity/Dropout removal and dead-node removal.
    pub cleanup: bool,
    /// Constant folding of initializer-only subgraphs (and Constant nodes → initializers).
    pub fold_constants: bool,
    /// Conv + BatchNormalization → Conv.
    pub conv_bn: bool,
    /// RepConv and general multi-branch Conv merges.
    pub repconv: bool,
    /// YOLOv7 ImplicitA / ImplicitM folding.
    pub implicit: bool,
    /// Input shapes (by input name) used to estimate FLOPs when the model's inputs have dynamic
    /// dimensions. Dynamic batch defaults to 1.
    pub input_shapes: std::collections::HashMap<String, Vec<usize>>,
}

impl Default for FuseOptions {
    fn default() -> Self {
        FuseOptions {
            cleanup: true,
            fold_constants: true,
            conv_bn: true,
            repconv: true,
            implicit: true,
            input_shapes: Default::default(),
        }
    }
}

/// Runs the fusion pipeline on `model` in place and returns the report.
///
/// The graph outputs (names, element types, shapes) are unchanged. On error the model may be
/// partially transformed; clone it first if you need the original.
pub fn fuse(model: &mut Model, options: &FuseOptions) -> Result<FuseReport> {
    let source = model.source_name().to_string();
    let opset = model.opset();
    fuse_graph(model.graph_mut(), opset, options).map_err(|e| e.in_model(&source))
}

/// [`fuse`] on a bare [`Graph`] whose model imports default-domain `opset`.
pub fn fuse_graph(graph: &mut Graph, opset: i64, options: &FuseOptions) -> Result<FuseReport> {
    graph.sort_topologically()?;
    let outputs_before = graph.outputs().to_vec();
    let mut report = FuseReport {
        before: GraphStats::of(graph, &options.input_shapes),
        ..Default::default()
    };
    if options.cleanup {
        cleanup::remove_identities(graph, &mut report)?;
    }
    if options.fold_constants {
        fold::run(graph, &mut report, opset)?;
        if options.cleanup {
            cleanup::remove_identities(graph, &mut report)?;
        }
    }
    if options.conv_bn {
        conv_bn::run(graph, &mut report)?;
    }
    if options.repconv {
        repconv::run(graph, &mut report)?;
    }
    if options.implicit {
        implicit::run(graph, &mut report)?;
    }
    conv_bn::report_standalone(graph, &mut report);
    // Dead nodes and unused initializers always go (fusions leave the old weights behind).
    cleanup::remove_dead(graph, &mut report, options.cleanup)?;
    graph.sort_topologically()?;
    if graph.outputs() != &outputs_before[..] {
        return Err(crate::Error::graph(
            "<graph outputs>",
            "internal error: fusion changed the graph outputs; please report this model",
        ));
    }
    report.after = GraphStats::of(graph, &options.input_shapes);
    Ok(report)
}

/// Runs [`fuse`] on a copy of the model and returns the report (what `trt-onnx inspect` shows).
pub fn analyze(model: &Model, options: &FuseOptions) -> Result<FuseReport> {
    let mut copy = model.clone();
    fuse(&mut copy, options)
}

// ---------------------------------------------------------------------------------------------
// Shared Conv helpers

/// A 2-D Conv node with constant parameters, as the passes need it.
#[derive(Clone, Debug)]
pub(crate) struct ConvParams {
    pub weight: Array4<f32>,
    pub bias: Option<Array1<f32>>,
    pub group: usize,
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// [top, left, bottom, right]
    pub pads: [usize; 4],
}

impl ConvParams {
    pub fn out_channels(&self) -> usize {
        self.weight.shape()[0]
    }

    pub fn in_channels(&self) -> usize {
        self.weight.shape()[1] * self.group
    }

    pub fn kernel(&self) -> [usize; 2] {
        [self.weight.shape()[2], self.weight.shape()[3]]
    }

    pub fn bias_or_zero(&self) -> Array1<f32> {
        self.bias
            .clone()
            .unwrap_or_else(|| Array1::zeros(self.out_channels()))
    }
}

/// Reads a Conv node's constant parameters and attributes. `Err(reason)` is a refusal reason.
pub(crate) fn conv_params(g: &Graph, node: &NodeProto) -> std::result::Result<ConvParams, String> {
    if !node.domain.is_empty() && node.domain != "ai.onnx" {
        return Err(format!("Conv in custom domain '{}'", node.domain));
    }
    let w_name = node
        .input
        .get(1)
        .filter(|s| !s.is_empty())
        .ok_or("Conv has no weight input")?;
    let w_t = g
        .initializer(w_name)
        .ok_or_else(|| format!("weight '{w_name}' is not a constant initializer"))?;
    if w_t.data_type != DataType::Float as i32 {
        return Err(format!(
            "weight '{w_name}' is {}, only FLOAT weights are fused (run fusion before the FP16 pass)",
            crate::graph::dtype_name(w_t.data_type)
        ));
    }
    let w = crate::graph::tensor_to_f32(w_t).map_err(|e| e.to_string())?;
    if w.ndim() != 4 {
        return Err(format!(
            "weight '{w_name}' has rank {}, only 2-D convolutions (rank-4 weights) are fused",
            w.ndim()
        ));
    }
    let weight = w.into_dimensionality::<Ix4>().map_err(|e| e.to_string())?;
    let bias = match node.input.get(2).filter(|s| !s.is_empty()) {
        None => None,
        Some(b_name) => {
            let b_t = g
                .initializer(b_name)
                .ok_or_else(|| format!("bias '{b_name}' is not a constant initializer"))?;
            if b_t.data_type != DataType::Float as i32 {
                return Err(format!(
                    "bias '{b_name}' is {}, expected FLOAT",
                    crate::graph::dtype_name(b_t.data_type)
                ));
            }
            let b = crate::graph::tensor_to_f32(b_t).map_err(|e| e.to_string())?;
            if b.shape() != [weight.shape()[0]] {
                return Err(format!(
                    "bias '{b_name}' has shape {:?}, expected [{}]",
                    b.shape(),
                    weight.shape()[0]
                ));
            }
            Some(
                b.into_shape_with_order(weight.shape()[0])
                    .map_err(|e| e.to_string())?,
            )
        }
    };
    let e = |e: crate::Error| e.to_string();
    let group = attr_i(node, "group", 1).map_err(e)?;
    if group < 1 || weight.shape()[0] % group as usize != 0 {
        return Err(format!(
            "invalid group {group} for {} output channels",
            weight.shape()[0]
        ));
    }
    let two = |name: &str| -> std::result::Result<[usize; 2], String> {
        match attr_ints(node, name).map_err(e)? {
            None => Ok([1, 1]),
            Some(v) if v.len() == 2 && v.iter().all(|&x| x >= 1) => {
                Ok([v[0] as usize, v[1] as usize])
            }
            Some(v) => Err(format!("unsupported {name} {v:?}")),
        }
    };
    let strides = two("strides")?;
    let dilations = two("dilations")?;
    if let Some(ks) = attr_ints(node, "kernel_shape").map_err(e)? {
        if ks.len() != 2
            || ks[0] as usize != weight.shape()[2]
            || ks[1] as usize != weight.shape()[3]
        {
            return Err(format!(
                "kernel_shape {ks:?} does not match weight shape {:?}",
                weight.shape()
            ));
        }
    }
    let auto_pad = attr_s(node, "auto_pad").map_err(e)?.unwrap_or_default();
    let pads = match auto_pad.as_str() {
        "" | "NOTSET" => match attr_ints(node, "pads").map_err(e)? {
            None => [0; 4],
            Some(p) if p.len() == 4 && p.iter().all(|&x| x >= 0) => {
                [p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize]
            }
            Some(p) => return Err(format!("unsupported pads {p:?}")),
        },
        "VALID" => [0; 4],
        other => {
            return Err(format!(
                "auto_pad={other} is not supported (re-export with explicit pads)"
            ))
        }
    };
    Ok(ConvParams {
        weight,
        bias,
        group: group as usize,
        strides,
        dilations,
        pads,
    })
}

/// Writes `params` as new initializers and points `node` at them (attributes set explicitly).
pub(crate) fn write_conv(g: &mut Graph, node_index: usize, params: &ConvParams) {
    use crate::graph::{make_attr_i, make_attr_ints, set_attr};
    let base = {
        let n = &g.nodes()[node_index];
        if n.name.is_empty() {
            n.output.first().cloned().unwrap_or_else(|| "conv".into())
        } else {
            n.name.clone()
        }
    };
    let w_name = g.unique_name(&format!("{base}.fused_weight"));
    let b_name = g.unique_name(&format!("{base}.fused_bias"));
    g.set_initializer(tensor_from_f32(&w_name, &params.weight.clone().into_dyn()));
    g.set_initializer(tensor_from_f32(&b_name, &params.bias_or_zero().into_dyn()));
    let k = params.kernel();
    let n = &mut g.nodes_mut()[node_index];
    n.input = vec![n.input[0].clone(), w_name, b_name];
    n.attribute.retain(|a| a.name != "auto_pad");
    set_attr(n, make_attr_i("group", params.group as i64));
    set_attr(
        n,
        make_attr_ints(
            "strides",
            &[params.strides[0] as i64, params.strides[1] as i64],
        ),
    );
    set_attr(
        n,
        make_attr_ints(
            "dilations",
            &[params.dilations[0] as i64, params.dilations[1] as i64],
        ),
    );
    set_attr(
        n,
        make_attr_ints("kernel_shape", &[k[0] as i64, k[1] as i64]),
    );
    let p = params.pads.map(|x| x as i64);
    set_attr(n, make_attr_ints("pads", &p));
}

/// A per-channel constant: `a` broadcast against an NCHW tensor only along the channel axis.
/// Returns the per-channel values (length `channels`), or a refusal reason.
pub(crate) fn per_channel(
    a: &ArrayD<f32>,
    channels: usize,
    what: &str,
) -> std::result::Result<Vec<f32>, String> {
    let shape = a.shape();
    if shape.len() > 4 {
        return Err(format!("{what} has rank {} (> 4)", shape.len()));
    }
    // Right-align against [N, C, H, W].
    let offset = 4 - shape.len();
    let mut c_len = 1;
    for (i, &d) in shape.iter().enumerate() {
        let axis = i + offset;
        if axis == 1 {
            c_len = d;
        } else if d != 1 {
            return Err(format!("{what} with shape {shape:?} is not per-channel (only the channel axis may exceed 1)"));
        }
    }
    if c_len == 1 {
        let v = a.iter().next().copied().unwrap_or(0.0);
        return Ok(vec![v; channels]);
    }
    if c_len != channels {
        return Err(format!(
            "{what} has {c_len} channels, the Conv has {channels}"
        ));
    }
    Ok(a.iter().copied().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::testutil::{count_ops, equivalence};
    use crate::testgen;

    /// Adds the raw head maps (inputs of Reshape nodes produced by a Conv, a Mul of a Conv, or a Concat
    /// of Convs) as extra graph
    /// outputs, so they can be compared at 1e-4 absolute before the decode scales them to pixels.
    fn with_head_outputs(m: &Model) -> (Model, Vec<String>) {
        let mut m = m.clone();
        let p = m.graph().producers();
        let mut heads = Vec::new();
        for n in m.graph().nodes().iter().filter(|n| n.op_type == "Reshape") {
            let g = m.graph();
            let is_conv = |v: &String| {
                p.get(v)
                    .is_some_and(|&(k, _)| g.nodes()[k].op_type == "Conv")
            };
            if let Some(&(j, _)) = p.get(&n.input[0]) {
                let src = &g.nodes()[j];
                let head = match src.op_type.as_str() {
                    "Conv" => true,
                    "Mul" => src.input.iter().any(is_conv),
                    "Concat" => src.input.iter().all(is_conv),
                    _ => false,
                };
                if head && !heads.contains(&n.input[0]) {
                    heads.push(n.input[0].clone());
                }
            }
        }
        m.graph_mut().edit_proto(|g| {
            for h in &heads {
                let mut vi = crate::graph::make_value_info(h, crate::graph::DataType::Float, &[]);
                if let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) =
                    vi.r#type.as_mut().and_then(|t| t.value.as_mut())
                {
                    t.shape = None;
                }
                g.output.push(vi);
            }
        });
        (m, heads)
    }

    fn check_slice(m: &Model) -> FuseReport {
        let (m, heads) = with_head_outputs(m);
        assert!(heads.len() >= 3, "{heads:?}");
        let m = &m;
        let mut f = m.clone();
        let r = fuse(&mut f, &FuseOptions::default()).unwrap();
        f.validate().unwrap();
        // Round-trip through bytes like the CLI does.
        let f = Model::from_bytes(&f.to_bytes().unwrap(), "fused").unwrap();
        // Decoded outputs are in pixels (up to ~1e3), where f32 resolution alone is ~1e-4: allow a
        // relative term there; the raw head maps must match within 1e-4 absolute.
        let worst = equivalence(m, &f, 1e-4, 1e-5);
        for h in &heads {
            assert!(worst[h] < 1e-4, "head map {h}: max abs {}", worst[h]);
        }
        assert_eq!(count_ops(f.graph(), "BatchNormalization"), 0, "{r}");
        assert!(r.refusals.is_empty(), "{r}");
        assert!(r.after.params < r.before.params);
        assert!(r.after.nodes < r.before.nodes);
        assert!(r.after.flops.unwrap() < r.before.flops.unwrap(), "{r}");
        // No RepConv-shaped Add left: every Add has at most one Conv operand reading a shared input.
        let p = f.graph().producers();
        for n in f.graph().nodes().iter().filter(|n| n.op_type == "Add") {
            let srcs: Vec<&str> = n
                .input
                .iter()
                .filter_map(|i| p.get(i))
                .filter(|&&(j, _)| f.graph().nodes()[j].op_type == "Conv")
                .map(|&(j, _)| f.graph().nodes()[j].input[0].as_str())
                .collect();
            assert!(
                !(srcs.len() == 2 && srcs[0] == srcs[1]),
                "unmerged Add of convs: {}",
                n.name
            );
        }
        assert!(lint::lint(&f).is_empty(), "{:?}", lint::lint(&f));
        r
    }

    #[test]
    fn yolov7_tiny_slice_fuses_exactly() {
        let m = testgen::yolov7_tiny_slice(4, 1);
        let r = check_slice(&m);
        assert!(r.count(PatternKind::RepConv).fused == 3, "{r}");
        assert_eq!(r.count(PatternKind::ImplicitA).fused, 3, "{r}");
        assert_eq!(r.count(PatternKind::ImplicitM).fused, 3, "{r}");
    }

    #[test]
    fn yolov9_slice_fuses_exactly() {
        let m = testgen::yolov9_slice(4, 2);
        let r = check_slice(&m);
        assert!(r.count(PatternKind::RepConv).fused >= 5, "{r}");
        assert!(r.count(PatternKind::ConvBn).fused > 20, "{r}");
    }

    #[test]
    fn yolov10_slice_fuses_exactly() {
        // RepVGGDW (depthwise 7x7 + 3x3 Conv+BN) and a RepConv with an identity BN branch.
        let m = testgen::yolov10_slice(4, 5);
        let mut f = m.clone();
        let r = fuse(&mut f, &FuseOptions::default()).unwrap();
        f.validate().unwrap();
        let f = Model::from_bytes(&f.to_bytes().unwrap(), "fused").unwrap();
        let worst = equivalence(&m, &f, 1e-4, 1e-5);
        assert!(worst["output0"] < 1e-4, "{worst:?}");
        assert_eq!(r.count(PatternKind::RepConv).fused, 2, "{r}");
        assert!(r.refusals.is_empty(), "{r}");
        assert_eq!(count_ops(f.graph(), "BatchNormalization"), 0, "{r}");
        // The RepVGGDW became one depthwise 7x7 Conv; the identity RepConv one dense 3x3 Conv.
        let kernels: Vec<(Vec<i64>, i64)> = f
            .graph()
            .nodes()
            .iter()
            .filter(|n| n.op_type == "Conv")
            .map(|n| {
                let w = f.graph().initializer(&n.input[1]).unwrap();
                (w.dims.clone(), attr_i(n, "group", 1).unwrap())
            })
            .collect();
        assert!(
            kernels.contains(&(vec![32, 1, 7, 7], 32)),
            "no merged depthwise 7x7: {kernels:?}"
        );
        assert!(
            kernels.contains(&(vec![32, 32, 3, 3], 1)),
            "no merged RepConv 3x3: {kernels:?}"
        );
        assert_eq!(
            kernels.iter().filter(|(d, _)| d[2..] == [7, 7]).count(),
            1,
            "{kernels:?}"
        );
        assert!(lint::lint(&f).is_empty(), "{:?}", lint::lint(&f));
    }

    #[test]
    fn dual_head_export_keeps_the_main_head_bit_exactly_then_fuses() {
        use crate::exec::{make_inputs, ExecOptions, Executor, InputKind};
        let m = testgen::yolov9_dual_slice(4, 6);
        assert!(lint::lint(&m).iter().any(|w| w.code == "dual-head"));
        let mut pruned = m.clone();
        let r = aux_head::drop_auxiliary_heads(&mut pruned)
            .unwrap()
            .expect("a dual head");
        assert_eq!(r.kept, "output0");
        assert_eq!(r.dropped_outputs, vec!["aux".to_string()]);
        assert!(r.nodes_removed > 40 && r.params_removed > 10_000, "{r}");
        assert!(r.to_string().contains("'aux'") && r.to_string().contains("'output0'"));
        let outputs: Vec<&str> = pruned
            .graph()
            .outputs()
            .iter()
            .map(|o| o.name.as_str())
            .collect();
        assert_eq!(outputs, ["output0"]);
        assert_eq!(lint::count_dfl(pruned.graph()).len(), 1);
        // The main output is bit-identical to the dual model's.
        let ea = Executor::new(&m, &ExecOptions::default()).unwrap();
        let eb = Executor::new(&pruned, &ExecOptions::default()).unwrap();
        for (kind, seed) in [(InputKind::Image, 0), (InputKind::Random, 1)] {
            let inputs = make_inputs(ea.inputs(), kind, seed).unwrap();
            let oa = ea.run(&inputs).unwrap();
            let ob = eb.run(&inputs).unwrap();
            let main = oa.iter().find(|(n, _)| n == "output0").unwrap();
            assert_eq!(ob.len(), 1);
            assert_eq!(main.1.to_f32(), ob[0].1.to_f32());
        }
        // The same drop again finds nothing; a single-head model is left alone.
        assert_eq!(
            aux_head::drop_auxiliary_heads(&mut pruned.clone()).unwrap(),
            None
        );
        let mut single = testgen::yolov9_slice(4, 6);
        let before = single.to_proto();
        assert_eq!(aux_head::drop_auxiliary_heads(&mut single).unwrap(), None);
        assert_eq!(single.to_proto(), before);
        // Then the ordinary fuse is exact on what is left.
        let r = check_slice(&pruned);
        assert!(r.count(PatternKind::RepConv).fused >= 5, "{r}");
    }

    #[test]
    fn analyze_does_not_touch_the_model() {
        let m = testgen::yolov9_slice(2, 3);
        let before = m.to_proto();
        let r = analyze(&m, &FuseOptions::default()).unwrap();
        assert!(r.count(PatternKind::ConvBn).found > 0);
        assert_eq!(m.to_proto(), before);
    }

    #[test]
    fn disabled_passes_do_nothing() {
        let m = testgen::yolov7_tiny_slice(2, 4);
        let mut f = m.clone();
        let opts = FuseOptions {
            conv_bn: false,
            repconv: false,
            implicit: false,
            ..Default::default()
        };
        let r = fuse(&mut f, &opts).unwrap();
        assert_eq!(r.count(PatternKind::RepConv).fused, 0);
        assert_eq!(
            count_ops(f.graph(), "BatchNormalization"),
            count_ops(m.graph(), "BatchNormalization")
        );
    }
}
