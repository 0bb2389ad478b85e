//! Conv + BatchNormalization → Conv.
//!
//! `BN(Conv(x)) = s·(W*x + b − mean) + beta` with `s = gamma / sqrt(var + eps)` per output
//! channel, so the fused Conv has `W' = s·W` (row-wise) and `b' = s·(b − mean) + beta`. This holds
//! for any group count, stride, dilation and padding. Fused only when the Conv output has no other
//! use and the BN is in inference form (one output).

use ndarray::{Array1, Axis};
use tract_onnx::pb::NodeProto;

use super::{conv_params, write_conv, ConvParams, FuseReport, PatternKind};
use crate::error::Result;
use crate::graph::{attr_f, attr_i, node_label, DataType, Graph};

/// Inference-form BatchNormalization parameters: per-channel `scale` and `shift` so that
/// `BN(x) = scale·x + shift`.
pub(crate) struct BnAffine {
    pub scale: Array1<f64>,
    pub shift: Array1<f64>,
}

/// Reads a BatchNormalization node as a per-channel affine map. `Err(reason)` is a refusal.
pub(crate) fn bn_affine(g: &Graph, bn: &NodeProto) -> std::result::Result<BnAffine, String> {
    let outputs = bn.output.iter().filter(|o| !o.is_empty()).count();
    if outputs != 1 {
        return Err(format!(
            "training-mode BatchNormalization with {outputs} outputs (running statistics are updated); \
             export the model in eval mode"
        ));
    }
    if bn.output.first().is_none_or(|o| o.is_empty()) {
        return Err("BatchNormalization has no Y output".into());
    }
    if attr_i(bn, "training_mode", 0).map_err(|e| e.to_string())? != 0 {
        return Err("BatchNormalization has training_mode=1; export the model in eval mode".into());
    }
    if attr_i(bn, "spatial", 1).map_err(|e| e.to_string())? == 0 {
        return Err(
            "BatchNormalization with spatial=0 (per-element statistics) is not fused".into(),
        );
    }
    if bn.input.len() != 5 {
        return Err(format!(
            "BatchNormalization has {} inputs, expected 5",
            bn.input.len()
        ));
    }
    let eps = attr_f(bn, "epsilon", 1e-5).map_err(|e| e.to_string())? as f64;
    let mut vals = Vec::with_capacity(4);
    for (role, name) in ["scale", "B", "mean", "var"].iter().zip(&bn.input[1..]) {
        let t = g
            .initializer(name)
            .ok_or_else(|| format!("{role} '{name}' is not a constant initializer"))?;
        if t.data_type != DataType::Float as i32 {
            return Err(format!(
                "{role} '{name}' is {}, only FLOAT is fused",
                crate::graph::dtype_name(t.data_type)
            ));
        }
        let a = crate::graph::tensor_to_f32(t).map_err(|e| e.to_string())?;
        if a.ndim() != 1 {
            return Err(format!(
                "{role} '{name}' has shape {:?}, expected [C]",
                a.shape()
            ));
        }
        vals.push(a.iter().map(|&v| v as f64).collect::<Array1<f64>>());
    }
    let c = vals[0].len();
    if vals.iter().any(|v| v.len() != c) {
        return Err("scale, B, mean and var have different lengths".into());
    }
    let (gamma, beta, mean, var) = (&vals[0], &vals[1], &vals[2], &vals[3]);
    if var.iter().any(|&v| (v + eps).is_nan() || v + eps <= 0.0) {
        return Err("var + epsilon is not positive".into());
    }
    let scale: Array1<f64> = gamma / &var.mapv(|v| (v + eps).sqrt());
    let shift = beta - &(mean * &scale);
    Ok(BnAffine { scale, shift })
}

/// Applies `y = scale·conv(x) + shift` to the conv parameters (per output channel).
pub(crate) fn scale_conv(p: &mut ConvParams, scale: &[f64], shift: &[f64]) {
    let b = p.bias_or_zero();
    for (o, mut row) in p.weight.axis_iter_mut(Axis(0)).enumerate() {
        let s = scale[o];
        row.mapv_inplace(|w| (w as f64 * s) as f32);
    }
    p.bias = Some(Array1::from_iter(
        (0..b.len()).map(|o| (b[o] as f64 * scale[o] + shift[o]) as f32),
    ));
}

/// Fuses every legal Conv → BatchNormalization pair.
pub fn run(g: &mut Graph, report: &mut FuseReport) -> Result<()> {
    let producers = g.producers();
    let uses = g.use_counts();
    let consumers = g.consumers();
    let mut remove = Vec::new();
    let mut updates: Vec<(usize, ConvParams, String)> = Vec::new();
    for (bi, bn) in g.nodes().iter().enumerate() {
        if bn.op_type != "BatchNormalization" {
            continue;
        }
        let Some(x) = bn.input.first() else { continue };
        let Some(&(ci, slot)) = producers.get(x) else {
            continue;
        };
        let conv = &g.nodes()[ci];
        if conv.op_type != "Conv" || slot != 0 {
            continue;
        }
        report.found(PatternKind::ConvBn);
        let label = node_label(bn, bi);
        let refuse = |report: &mut FuseReport, why: String| {
            report.refuse(PatternKind::ConvBn, label.clone(), why)
        };
        if uses.get(x).copied().unwrap_or(0) != 1 {
            let others: Vec<String> = consumers
                .get(x)
                .into_iter()
                .flatten()
                .filter(|&&i| i != bi)
                .map(|&i| node_label(&g.nodes()[i], i))
                .collect();
            let mut why = format!(
                "Conv '{}' output '{x}' has other uses",
                node_label(conv, ci)
            );
            if !others.is_empty() {
                why += &format!(" (also consumed by {})", others.join(", "));
            }
            if g.is_graph_output(x) {
                why += " (it is a graph output)";
            }
            refuse(report, why);
            continue;
        }
        let affine = match bn_affine(g, bn) {
            Ok(a) => a,
            Err(why) => {
                refuse(report, why);
                continue;
            }
        };
        let mut params = match conv_params(g, conv) {
            Ok(p) => p,
            Err(why) => {
                refuse(report, format!("Conv '{}': {why}", node_label(conv, ci)));
                continue;
            }
        };
        if affine.scale.len() != params.out_channels() {
            refuse(
                report,
                format!(
                    "BatchNormalization has {} channels, Conv has {}",
                    affine.scale.len(),
                    params.out_channels()
                ),
            );
            continue;
        }
        scale_conv(
            &mut params,
            affine.scale.as_slice().unwrap_or(&[]),
            affine.shift.as_slice().unwrap_or(&[]),
        );
        updates.push((ci, params, bn.output[0].clone()));
        remove.push(bi);
    }
    for (ci, params, out) in updates {
        write_conv(g, ci, &params);
        g.nodes_mut()[ci].output = vec![out];
        report.fused(PatternKind::ConvBn);
    }
    g.remove_nodes(remove);
    Ok(())
}

/// Reports BatchNormalization nodes that remain after all passes (not fusible into a Conv).
pub(crate) fn report_standalone(g: &Graph, report: &mut FuseReport) {
    let producers = g.producers();
    for (i, n) in g.nodes().iter().enumerate() {
        if n.op_type != "BatchNormalization" {
            continue;
        }
        report.found(PatternKind::StandaloneBn);
        let src = n
            .input
            .first()
            .and_then(|x| producers.get(x))
            .map(|&(p, _)| {
                format!(
                    "'{}' ({})",
                    node_label(&g.nodes()[p], p),
                    g.nodes()[p].op_type
                )
            })
            .unwrap_or_else(|| "a graph input".into());
        let already = report.refusals.iter().any(|r| r.node == node_label(n, i));
        if !already {
            report.refuse(
                PatternKind::StandaloneBn,
                node_label(n, i),
                format!(
                    "input comes from {src}, not from a fusible Conv; kept as BatchNormalization"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::make_attr_i;
    use crate::passes::testutil::{assert_equivalent, count_ops, Builder};
    use crate::passes::{fuse, FuseOptions};

    fn fuse_and_check(m: &crate::Model) -> (crate::Model, FuseReport) {
        let mut f = m.clone();
        let r = fuse(&mut f, &FuseOptions::default()).unwrap();
        f.validate().unwrap();
        assert_equivalent(m, &f, 1e-4);
        (f, r)
    }

    #[test]
    fn conv_bn_variants_fuse_exactly() {
        // (out_c, k, stride, pad, group, bias, dilation, eps)
        let cases = [
            (8, 3, 1, 1, 1, false, 1, None),
            (8, 3, 2, 1, 1, true, 1, Some(1e-3)),
            (8, 1, 1, 0, 1, true, 1, None),
            (8, 3, 1, 2, 8, false, 2, Some(1e-3)), // depthwise, dilated
            (8, 3, 1, 0, 2, true, 1, Some(1e-5)),  // grouped, no padding
            (6, 5, 2, 2, 2, false, 1, Some(1e-3)),
        ];
        for (i, &(oc, k, s, p, gr, bias, d, eps)) in cases.iter().enumerate() {
            let mut b = Builder::new(&[1, 8, 13, 11], i as u64);
            let y = b.conv_full("x", oc, [k, k], [s, s], [p; 4], [d, d], gr, bias);
            let z = b.bn(&y, eps);
            let z = b.silu(&z);
            let m = b.model(&[&z]);
            let (f, r) = fuse_and_check(&m);
            assert_eq!(count_ops(f.graph(), "BatchNormalization"), 0, "case {i}");
            assert_eq!(r.count(PatternKind::ConvBn).fused, 1);
            assert!(r.refusals.is_empty(), "{:?}", r.refusals);
            assert_eq!(r.after.nodes, r.before.nodes - 1);
        }
    }

    #[test]
    fn bn_output_as_graph_output_keeps_name() {
        let mut b = Builder::new(&[1, 4, 8, 8], 7);
        let y = b.conv("x", 4, 3, 1, 1, 1, true);
        let z = b.bn(&y, Some(1e-3));
        let m = b.model(&[&z]);
        let (f, _) = fuse_and_check(&m);
        assert_eq!(f.graph().nodes().len(), 1);
        assert_eq!(f.graph().nodes()[0].output[0], z);
    }

    #[test]
    fn refusals_have_reasons() {
        // Conv output used twice.
        let mut b = Builder::new(&[1, 4, 8, 8], 1);
        let y = b.conv("x", 4, 3, 1, 1, 1, true);
        let z = b.bn(&y, None);
        let w = b.node("Relu", &[&y], vec![]);
        let m = b.model(&[&z, &w]);
        let (f, r) = fuse_and_check(&m);
        assert_eq!(count_ops(f.graph(), "BatchNormalization"), 1);
        let why = &r.refusals_of(PatternKind::ConvBn).next().unwrap().reason;
        assert!(why.contains("other uses") && why.contains("relu"), "{why}");

        // Conv output is itself a graph output.
        let mut b = Builder::new(&[1, 4, 8, 8], 2);
        let y = b.conv("x", 4, 3, 1, 1, 1, true);
        let z = b.bn(&y, None);
        let m = b.model(&[&z, &y]);
        let (_, r) = fuse_and_check(&m);
        assert!(r
            .refusals_of(PatternKind::ConvBn)
            .next()
            .unwrap()
            .reason
            .contains("graph output"));

        // Non-constant BN parameter (scale comes from a graph computation).
        let mut b = Builder::new(&[1, 4, 8, 8], 3);
        let y = b.conv("x", 4, 3, 1, 1, 1, true);
        let z = b.bn(&y, None);
        let m = {
            let mut m = b.model(&[&z]);
            let g = m.graph_mut();
            let bn = g
                .nodes()
                .iter()
                .position(|n| n.op_type == "BatchNormalization")
                .unwrap();
            let scale = g.nodes()[bn].input[1].clone();
            g.remove_initializer(&scale).unwrap();
            g.edit_proto(|p| {
                p.input.push(crate::graph::make_value_info(
                    "scale_in",
                    DataType::Float,
                    &[4],
                ));
            });
            g.nodes_mut()[bn].input[1] = "scale_in".into();
            m
        };
        let mut f = m.clone();
        let r = fuse(&mut f, &FuseOptions::default()).unwrap();
        let why = &r.refusals_of(PatternKind::ConvBn).next().unwrap().reason;
        assert!(why.contains("not a constant"), "{why}");
        assert_eq!(count_ops(f.graph(), "BatchNormalization"), 1);

        // Training-mode BN with three outputs.
        let mut b = Builder::new(&[1, 4, 8, 8], 4);
        let y = b.conv("x", 4, 3, 1, 1, 1, true);
        let z = b.bn(&y, None);
        let mut m = b.model(&[&z]);
        let bn = m
            .graph()
            .nodes()
            .iter()
            .position(|n| n.op_type == "BatchNormalization")
            .unwrap();
        m.graph_mut().nodes_mut()[bn]
            .output
            .extend(["rm".to_string(), "rv".to_string()]);
        m.graph_mut().nodes_mut()[bn]
            .attribute
            .push(make_attr_i("training_mode", 1));
        let mut f = m.clone();
        let r = fuse(&mut f, &FuseOptions::default()).unwrap();
        let why = &r.refusals_of(PatternKind::ConvBn).next().unwrap().reason;
        assert!(
            why.contains("training-mode") && why.contains("3 outputs"),
            "{why}"
        );
        assert_eq!(count_ops(f.graph(), "BatchNormalization"), 1);

        // Non-constant conv weight.
        let mut b = Builder::new(&[1, 4, 8, 8], 5);
        let y = b.conv("x", 4, 3, 1, 1, 1, false);
        let z = b.bn(&y, None);
        let mut m = b.model(&[&z]);
        let conv = m
            .graph()
            .nodes()
            .iter()
            .position(|n| n.op_type == "Conv")
            .unwrap();
        let wname = m.graph().nodes()[conv].input[1].clone();
        let w = m.graph().initializer(&wname).unwrap().clone();
        m.graph_mut().remove_initializer(&wname);
        m.graph_mut().edit_proto(|p| {
            p.input.push(crate::graph::make_value_info(
                &wname,
                DataType::Float,
                &w.dims,
            ));
        });
        let mut f = m.clone();
        let r = fuse(&mut f, &FuseOptions::default()).unwrap();
        let why = &r.refusals_of(PatternKind::ConvBn).next().unwrap().reason;
        assert!(
            why.contains("weight") && why.contains("not a constant"),
            "{why}"
        );
    }

    #[test]
    fn shared_weights_are_not_clobbered() {
        // Two convs share one weight initializer; only one is followed by BN.
        let mut b = Builder::new(&[1, 4, 8, 8], 9);
        let y = b.conv("x", 4, 3, 1, 1, 1, false);
        let z = b.bn(&y, None);
        let mut m = b.model(&[&z]);
        let conv = m.graph().nodes()[0].clone();
        let mut second = conv.clone();
        second.name = "second".into();
        second.output = vec!["y2".into()];
        m.graph_mut().add_node(second);
        m.graph_mut()
            .edit_proto(|p| p.output.push(p.output[0].clone()));
        m.graph_mut().edit_proto(|p| p.output[1].name = "y2".into());
        let (f, r) = fuse_and_check(&m);
        assert_eq!(r.count(PatternKind::ConvBn).fused, 1);
        assert_eq!(count_ops(f.graph(), "Conv"), 2);
    }
}
