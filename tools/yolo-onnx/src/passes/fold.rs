//! Constant folding of initializer-only subgraphs.
//!
//! `Constant` nodes become initializers; then every node whose inputs are all initializers and
//! whose op is one of a small, exactly-implemented set (Identity, Cast, Reshape, Transpose,
//! Squeeze, Unsqueeze, Concat, Shape, Neg, Sqrt, Reciprocal, Exp, Abs, Relu, Sigmoid, Add, Sub,
//! Mul, Div) is evaluated and replaced by an initializer. FLOAT and INT64 values only; anything
//! else is left alone with a reason. Graph outputs are never turned into initializers.

use ndarray::{ArrayD, IxDyn, Zip};
use tract_onnx::pb::{NodeProto, TensorProto};

use super::{FuseReport, PatternKind};
use crate::error::Result;
use crate::graph::{
    attr, attr_i, attr_ints, node_label, tensor_from_f32, tensor_from_i64, tensor_to_f32,
    tensor_to_i64, DataType, Graph,
};

/// Largest folded tensor (elements); bigger results are left to the runtime.
const MAX_ELEMENTS: usize = 1 << 24;

#[derive(Clone, Debug)]
enum Val {
    F(ArrayD<f32>),
    I(ArrayD<i64>),
}

impl Val {
    fn shape(&self) -> &[usize] {
        match self {
            Val::F(a) => a.shape(),
            Val::I(a) => a.shape(),
        }
    }
    fn to_tensor(&self, name: &str) -> TensorProto {
        match self {
            Val::F(a) => tensor_from_f32(name, a),
            Val::I(a) => tensor_from_i64(name, a),
        }
    }
}

fn load(t: &TensorProto) -> std::result::Result<Val, String> {
    match DataType::try_from(t.data_type) {
        Ok(DataType::Float) => tensor_to_f32(t).map(Val::F).map_err(|e| e.to_string()),
        Ok(DataType::Int64) => tensor_to_i64(t).map(Val::I).map_err(|e| e.to_string()),
        _ => Err(format!(
            "constant '{}' is {}; only FLOAT and INT64 are folded",
            t.name,
            crate::graph::dtype_name(t.data_type)
        )),
    }
}

fn constant_node_value(n: &NodeProto) -> Option<TensorProto> {
    let a = n.attribute.first()?;
    if n.attribute.len() != 1 {
        return None;
    }
    let out = n.output.first()?.clone();
    let mut t = match a.name.as_str() {
        "value" => a.t.clone()?,
        "value_float" => tensor_from_f32(&out, &ArrayD::from_elem(IxDyn(&[]), a.f)),
        "value_floats" => tensor_from_f32(
            &out,
            &ArrayD::from_shape_vec(IxDyn(&[a.floats.len()]), a.floats.clone()).ok()?,
        ),
        "value_int" => tensor_from_i64(&out, &ArrayD::from_elem(IxDyn(&[]), a.i)),
        "value_ints" => tensor_from_i64(
            &out,
            &ArrayD::from_shape_vec(IxDyn(&[a.ints.len()]), a.ints.clone()).ok()?,
        ),
        _ => return None,
    };
    t.name = out;
    Some(t)
}

fn bshape(a: &[usize], b: &[usize]) -> std::result::Result<Vec<usize>, String> {
    super::report::broadcast(a, b).ok_or_else(|| format!("shapes {a:?} and {b:?} do not broadcast"))
}

fn binary<T: Copy>(
    a: &ArrayD<T>,
    b: &ArrayD<T>,
    f: impl Fn(T, T) -> Option<T>,
) -> std::result::Result<ArrayD<T>, String> {
    let shape = bshape(a.shape(), b.shape())?;
    if shape.iter().product::<usize>() > MAX_ELEMENTS {
        return Err("result too large to fold".into());
    }
    let av = a.broadcast(IxDyn(&shape)).ok_or("broadcast failed")?;
    let bv = b.broadcast(IxDyn(&shape)).ok_or("broadcast failed")?;
    let mut ok = true;
    let r = Zip::from(&av).and(&bv).map_collect(|&x, &y| {
        f(x, y).unwrap_or_else(|| {
            ok = false;
            x
        })
    });
    if !ok {
        return Err("integer overflow or division by zero".into());
    }
    Ok(r)
}

fn norm_axis(axis: i64, rank: usize) -> std::result::Result<usize, String> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    usize::try_from(a)
        .ok()
        .filter(|&a| a < rank)
        .ok_or_else(|| format!("axis {axis} out of range for rank {rank}"))
}

fn eval(g: &Graph, n: &NodeProto, ins: &[Val], opset: i64) -> std::result::Result<Val, String> {
    let e = |e: crate::Error| e.to_string();
    let first = ins.first().ok_or("no inputs")?;
    let int_list = |v: &Val| -> std::result::Result<Vec<i64>, String> {
        match v {
            Val::I(a) => Ok(a.iter().copied().collect()),
            Val::F(_) => Err("expected an INT64 list".into()),
        }
    };
    let _ = g;
    let unary_f = |f: fn(f32) -> f32| match first {
        Val::F(a) => Ok(Val::F(a.mapv(f))),
        Val::I(_) => Err(format!("{} on INT64 is not folded", n.op_type)),
    };
    let reshape = |v: &Val, shape: Vec<usize>| -> std::result::Result<Val, String> {
        Ok(match v {
            Val::F(a) => Val::F(
                a.as_standard_layout()
                    .to_owned()
                    .into_shape_with_order(IxDyn(&shape))
                    .map_err(|e| e.to_string())?,
            ),
            Val::I(a) => Val::I(
                a.as_standard_layout()
                    .to_owned()
                    .into_shape_with_order(IxDyn(&shape))
                    .map_err(|e| e.to_string())?,
            ),
        })
    };
    match n.op_type.as_str() {
        "Identity" => Ok(first.clone()),
        "Neg" => match first {
            Val::F(a) => Ok(Val::F(a.mapv(|x| -x))),
            Val::I(a) => Ok(Val::I(a.mapv(|x| x.wrapping_neg()))),
        },
        "Abs" => match first {
            Val::F(a) => Ok(Val::F(a.mapv(f32::abs))),
            Val::I(a) => Ok(Val::I(a.mapv(|x| x.wrapping_abs()))),
        },
        "Sqrt" => unary_f(f32::sqrt),
        "Reciprocal" => unary_f(|x| 1.0 / x),
        "Exp" => unary_f(f32::exp),
        "Relu" => unary_f(|x| x.max(0.0)),
        "Sigmoid" => unary_f(|x| 1.0 / (1.0 + (-x).exp())),
        "Add" | "Sub" | "Mul" | "Div" => {
            let [a, b] = ins else {
                return Err("expected 2 inputs".into());
            };
            let op = n.op_type.as_str();
            match (a, b) {
                (Val::F(a), Val::F(b)) => Ok(Val::F(binary(a, b, |x, y| {
                    Some(match op {
                        "Add" => x + y,
                        "Sub" => x - y,
                        "Mul" => x * y,
                        _ => x / y,
                    })
                })?)),
                (Val::I(a), Val::I(b)) => Ok(Val::I(binary(a, b, |x, y| match op {
                    "Add" => x.checked_add(y),
                    "Sub" => x.checked_sub(y),
                    "Mul" => x.checked_mul(y),
                    _ => x.checked_div(y),
                })?)),
                _ => Err("mixed input types".into()),
            }
        }
        "Cast" => {
            let to = attr_i(n, "to", 0).map_err(e)?;
            match (DataType::try_from(to as i32), first) {
                (Ok(DataType::Float), Val::F(a)) => Ok(Val::F(a.clone())),
                (Ok(DataType::Float), Val::I(a)) => Ok(Val::F(a.mapv(|x| x as f32))),
                (Ok(DataType::Int64), Val::I(a)) => Ok(Val::I(a.clone())),
                (Ok(DataType::Int64), Val::F(a)) => {
                    if a.iter().any(|x| !x.is_finite()) {
                        return Err("casting non-finite values to INT64".into());
                    }
                    Ok(Val::I(a.mapv(|x| x as i64)))
                }
                _ => Err(format!(
                    "Cast to {} is not folded",
                    crate::graph::dtype_name(to as i32)
                )),
            }
        }
        "Shape" => {
            if attr(n, "start").is_some() || attr(n, "end").is_some() {
                return Err("Shape with start/end is not folded".into());
            }
            let s: Vec<i64> = first.shape().iter().map(|&d| d as i64).collect();
            Ok(Val::I(
                ArrayD::from_shape_vec(IxDyn(&[s.len()]), s).map_err(|e| e.to_string())?,
            ))
        }
        "Reshape" => {
            let spec = int_list(ins.get(1).ok_or("Reshape needs a shape input")?)?;
            let allowzero = attr_i(n, "allowzero", 0).map_err(e)? != 0;
            let total: usize = first.shape().iter().product();
            let mut out = Vec::with_capacity(spec.len());
            let mut infer = None;
            for (i, &d) in spec.iter().enumerate() {
                match d {
                    0 if !allowzero => {
                        out.push(*first.shape().get(i).ok_or("Reshape 0 past input rank")?)
                    }
                    -1 if infer.is_none() => {
                        infer = Some(i);
                        out.push(1);
                    }
                    d if d >= 0 => out.push(d as usize),
                    _ => return Err(format!("invalid Reshape shape {spec:?}")),
                }
            }
            if let Some(i) = infer {
                let rest: usize = out.iter().product();
                if rest == 0 || !total.is_multiple_of(rest) {
                    return Err(format!(
                        "cannot infer -1 in Reshape {spec:?} of {:?}",
                        first.shape()
                    ));
                }
                out[i] = total / rest;
            }
            if out.iter().product::<usize>() != total {
                return Err(format!("Reshape {spec:?} does not fit {:?}", first.shape()));
            }
            reshape(first, out)
        }
        "Transpose" => {
            let rank = first.shape().len();
            let perm = attr_ints(n, "perm")
                .map_err(e)?
                .unwrap_or_else(|| (0..rank as i64).rev().collect());
            let perm: Vec<usize> = perm
                .iter()
                .map(|&p| norm_axis(p, rank))
                .collect::<std::result::Result<_, _>>()?;
            let mut seen = vec![false; rank];
            if perm.len() != rank || perm.iter().any(|&p| std::mem::replace(&mut seen[p], true)) {
                return Err(format!("invalid perm {perm:?}"));
            }
            Ok(match first {
                Val::F(a) => Val::F(a.view().permuted_axes(IxDyn(&perm)).to_owned()),
                Val::I(a) => Val::I(a.view().permuted_axes(IxDyn(&perm)).to_owned()),
            })
        }
        "Unsqueeze" | "Squeeze" => {
            let axes = if opset >= 13 {
                match ins.get(1) {
                    Some(v) => Some(int_list(v)?),
                    None => None,
                }
            } else {
                attr_ints(n, "axes").map_err(e)?
            };
            let shape = first.shape().to_vec();
            let out = if n.op_type == "Unsqueeze" {
                let axes = axes.ok_or("Unsqueeze without axes")?;
                let rank = shape.len() + axes.len();
                let mut ax: Vec<usize> = axes
                    .iter()
                    .map(|&a| norm_axis(a, rank))
                    .collect::<std::result::Result<_, _>>()?;
                ax.sort_unstable();
                ax.dedup();
                if ax.len() != axes.len() {
                    return Err("duplicate Unsqueeze axes".into());
                }
                let mut it = shape.iter();
                (0..rank)
                    .map(|i| {
                        if ax.contains(&i) {
                            1
                        } else {
                            *it.next().unwrap_or(&1)
                        }
                    })
                    .collect()
            } else {
                let ax: Vec<usize> = match axes {
                    Some(axes) => axes
                        .iter()
                        .map(|&a| norm_axis(a, shape.len()))
                        .collect::<std::result::Result<_, _>>()?,
                    None => (0..shape.len()).filter(|&i| shape[i] == 1).collect(),
                };
                if ax.iter().any(|&a| shape[a] != 1) {
                    return Err("Squeeze of a dimension that is not 1".into());
                }
                shape
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !ax.contains(i))
                    .map(|(_, &d)| d)
                    .collect()
            };
            reshape(first, out)
        }
        "Concat" => {
            let rank = first.shape().len();
            let axis = norm_axis(attr_i(n, "axis", 0).map_err(e)?, rank.max(1))?;
            match first {
                Val::F(_) => {
                    let parts: Vec<_> = ins
                        .iter()
                        .map(|v| match v {
                            Val::F(a) => Ok(a.view()),
                            Val::I(_) => Err("mixed Concat inputs".to_string()),
                        })
                        .collect::<std::result::Result<_, _>>()?;
                    Ok(Val::F(
                        ndarray::concatenate(ndarray::Axis(axis), &parts)
                            .map_err(|e| e.to_string())?,
                    ))
                }
                Val::I(_) => {
                    let parts: Vec<_> = ins
                        .iter()
                        .map(|v| match v {
                            Val::I(a) => Ok(a.view()),
                            Val::F(_) => Err("mixed Concat inputs".to_string()),
                        })
                        .collect::<std::result::Result<_, _>>()?;
                    Ok(Val::I(
                        ndarray::concatenate(ndarray::Axis(axis), &parts)
                            .map_err(|e| e.to_string())?,
                    ))
                }
            }
        }
        other => Err(format!("op {other} is not evaluated at fuse time")),
    }
}

/// Folds Constant nodes and initializer-only nodes into initializers. `opset` is the model's
/// default-domain opset (Squeeze/Unsqueeze axes moved from an attribute to an input in 13).
pub fn run(g: &mut Graph, report: &mut FuseReport, opset: i64) -> Result<()> {
    let order = g.topo_order()?;
    let mut remove = Vec::new();
    for i in order {
        let n = g.nodes()[i].clone();
        if !(n.domain.is_empty() || n.domain == "ai.onnx")
            || n.output.len() != 1
            || n.output[0].is_empty()
        {
            continue;
        }
        let out = &n.output[0];
        if g.is_graph_output(out) {
            continue;
        }
        // Quantization is explicit: a weight's QuantizeLinear → DequantizeLinear pair must reach TensorRT as it is
        // (folding it would drop the INT8 weights), so Q/DQ nodes are never folding candidates.
        if matches!(n.op_type.as_str(), "QuantizeLinear" | "DequantizeLinear") {
            continue;
        }
        let label = node_label(&n, i);
        if n.op_type == "Constant" {
            report.found(PatternKind::ConstantFold);
            match constant_node_value(&n) {
                Some(t) => {
                    g.set_initializer(t);
                    remove.push(i);
                    report.fused(PatternKind::ConstantFold);
                }
                None => report.refuse(
                    PatternKind::ConstantFold,
                    label,
                    "Constant with a sparse or string value",
                ),
            }
            continue;
        }
        let inputs: Vec<&String> = n.input.iter().filter(|s| !s.is_empty()).collect();
        if inputs.is_empty()
            || !inputs.iter().all(|v| g.is_initializer(v))
            || !n
                .attribute
                .iter()
                .all(|a| a.g.is_none() && a.graphs.is_empty())
        {
            continue;
        }
        if n.input.iter().any(|s| s.is_empty()) {
            continue;
        }
        report.found(PatternKind::ConstantFold);
        let vals: std::result::Result<Vec<Val>, String> = n
            .input
            .iter()
            .map(|v| load(g.initializer(v).expect("checked above")))
            .collect();
        let result = vals.and_then(|vals| {
            if vals
                .iter()
                .any(|v| v.shape().iter().product::<usize>() > MAX_ELEMENTS)
            {
                return Err("input too large to fold".into());
            }
            eval(g, &n, &vals, opset)
        });
        match result {
            Ok(v) => {
                g.set_initializer(v.to_tensor(out));
                remove.push(i);
                report.fused(PatternKind::ConstantFold);
            }
            Err(why) => report.refuse(PatternKind::ConstantFold, label, why),
        }
    }
    g.remove_nodes(remove);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{make_attr_i, make_attr_ints, make_attr_t, make_node};
    use crate::passes::testutil::{assert_equivalent, count_ops, Builder};
    use crate::passes::{fuse, FuseOptions};

    #[test]
    fn folds_weight_subgraph_then_fuses() {
        // Weight = Reshape(Mul(Constant, scale), shape): typical exporter output; then Conv+BN fuses.
        let mut b = Builder::new(&[1, 3, 6, 6], 50);
        let raw = b.init("raw", &[4 * 3 * 3 * 3], -0.5, 0.5);
        let scale = b.init("scale", &[1], 0.5, 2.0);
        b.g.add_node(make_node(
            "Constant",
            "shape_const",
            &[],
            &["wshape"],
            vec![make_attr_t(
                "value",
                tensor_from_i64(
                    "x",
                    &ArrayD::from_shape_vec(IxDyn(&[4]), vec![4, 3, 3, 3]).unwrap(),
                ),
            )],
        ));
        let m = b.node("Mul", &[&raw, &scale], vec![]);
        let w = b.node("Reshape", &[&m, "wshape"], vec![]);
        let wt = b.node(
            "Transpose",
            &[&w],
            vec![make_attr_ints("perm", &[0, 1, 3, 2])],
        );
        let y = b.node(
            "Conv",
            &["x", &wt],
            vec![make_attr_ints("pads", &[1, 1, 1, 1])],
        );
        b.channels.insert(y.clone(), 4);
        let z = b.bn(&y, None);
        let model = b.model(&[&z]);
        let mut f = model.clone();
        let r = fuse(&mut f, &FuseOptions::default()).unwrap();
        assert_eq!(r.count(PatternKind::ConstantFold).fused, 4, "{r}");
        assert_eq!(r.count(PatternKind::ConvBn).fused, 1, "{r}");
        assert_eq!(f.graph().nodes().len(), 1);
        assert_equivalent(&model, &f, 1e-4);
    }

    #[test]
    fn folds_shape_arith_and_unsqueeze() {
        let mut b = Builder::new(&[1, 2, 4, 4], 51);
        let c = b.init("c", &[2, 3], -1.0, 1.0);
        let s = b.node("Shape", &[&c], vec![]);
        let s2 = b.node(
            "Cast",
            &[&s],
            vec![make_attr_i("to", DataType::Float as i64)],
        );
        let axes = {
            b.g.set_initializer(tensor_from_i64(
                "axes",
                &ArrayD::from_shape_vec(IxDyn(&[2]), vec![1, 2]).unwrap(),
            ));
            "axes".to_string()
        };
        let u = b.node("Unsqueeze", &[&s2, &axes], vec![]);
        let sq = b.node("Sqrt", &[&u], vec![]);
        let out = b.node("Add", &["x", &sq], vec![]);
        let model = b.model(&[&out]);
        let mut f = model.clone();
        let mut r = FuseReport::default();
        run(f.graph_mut(), &mut r, 13).unwrap();
        assert_eq!(count_ops(f.graph(), "Add"), 1);
        assert_eq!(f.graph().nodes().len(), 1, "{r}");
        let v = f.graph().initializer_f32(&sq).unwrap().unwrap();
        assert_eq!(v.shape(), &[2, 1, 1]);
        assert!(
            (v[[0, 0, 0]] - 2f32.sqrt()).abs() < 1e-6 && (v[[1, 0, 0]] - 3f32.sqrt()).abs() < 1e-6
        );
        assert_equivalent(&model, &f, 1e-6);
    }

    #[test]
    fn weight_qdq_pairs_are_left_for_tensorrt_without_a_refusal() {
        // Conv(x, DequantizeLinear(QuantizeLinear(W, s, zp), s, zp)): an explicitly quantized weight, all inputs
        // constant. Folding it would hand TensorRT float weights; it is not a candidate (and not a refusal).
        let mut b = Builder::new(&[1, 2, 4, 4], 53);
        let w = b.init("w", &[3, 2, 1, 1], -1.0, 1.0);
        let s = b.init("s", &[], 0.01, 0.02);
        let zp = b.fresh("zp");
        b.g.set_initializer(tract_onnx::pb::TensorProto {
            name: zp.clone(),
            data_type: crate::graph::DataType::Int8 as i32,
            int32_data: vec![0],
            ..Default::default()
        });
        let q = b.node("QuantizeLinear", &[&w, &s, &zp], vec![]);
        let dq = b.node("DequantizeLinear", &[&q, &s, &zp], vec![]);
        let y = b.node("Conv", &["x", &dq], vec![]);
        let model = b.model(&[&y]);
        let mut f = model.clone();
        let r = fuse(&mut f, &FuseOptions::default()).unwrap();
        assert!(r.refusals.is_empty(), "{r}");
        assert_eq!(count_ops(f.graph(), "QuantizeLinear"), 1);
        assert_eq!(count_ops(f.graph(), "DequantizeLinear"), 1);
    }

    #[test]
    fn unsupported_is_refused_with_reason() {
        let mut b = Builder::new(&[1, 2, 4, 4], 52);
        let c = b.init("c", &[4], -1.0, 1.0);
        let t = b.node("Softmax", &[&c], vec![]);
        let out = b.node("Add", &["x", &t], vec![]);
        let model = b.model(&[&out]);
        let mut f = model.clone();
        let r = fuse(&mut f, &FuseOptions::default()).unwrap();
        let why = &r
            .refusals_of(PatternKind::ConstantFold)
            .next()
            .unwrap()
            .reason;
        assert!(why.contains("Softmax"), "{why}");
        assert_equivalent(&model, &f, 0.0);
    }
}
