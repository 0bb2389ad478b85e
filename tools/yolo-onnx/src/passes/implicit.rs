//! YOLOv7 implicit knowledge layers.
//!
//! * ImplicitA: `Conv(x + a)` with a per-channel constant `a` equals `Conv(x)` with
//!   `b'[o] = b[o] + Σ_{c,kh,kw} W[o,c,kh,kw]·a[c]` — but only where every kernel tap reads a real
//!   pixel. Zero padding is not shifted by `a`, so a Conv with any padding would change its border
//!   outputs: those are refused (YOLOv7 puts ImplicitA before 1×1, pad-0 head convs). The Add must
//!   not broadcast `x`, so `x` must be known to have the Conv's input channels.
//! * ImplicitM: `m · Conv(x)` with a per-channel constant `m` is a Conv with rows `W[o]·m[o]` and
//!   bias `b[o]·m[o]`, exact for any Conv. The Conv output must have no other use.

use super::{conv_params, per_channel, write_conv, FuseReport, PatternKind};
use crate::error::Result;
use crate::graph::{attr_i, node_label, value_info_dims, Graph};

/// Channel count of a rank-4 NCHW value, when it can be proven from the graph.
pub(crate) fn channels_of(g: &Graph, v: &str, depth: usize) -> Option<usize> {
    if depth > 64 {
        return None;
    }
    if let Some(vi) = g.value_info(v) {
        if let Some(d) = value_info_dims(vi) {
            if d.len() == 4 {
                if let Some(c) = d[1] {
                    return Some(c as usize);
                }
            }
        }
    }
    let n = g
        .nodes()
        .iter()
        .find(|n| n.output.first().is_some_and(|o| o == v))?;
    let x = n.input.first()?;
    match n.op_type.as_str() {
        "Conv" => {
            let w = g.initializer(n.input.get(1)?)?;
            (w.dims.len() == 4).then(|| w.dims[0] as usize)
        }
        "Relu" | "LeakyRelu" | "Sigmoid" | "Tanh" | "HardSwish" | "HardSigmoid" | "Elu"
        | "Selu" | "Mish" | "Softplus" | "Clip" | "Identity" | "BatchNormalization" | "MaxPool"
        | "AveragePool" | "Dropout" => channels_of(g, x, depth + 1),
        // SiLU: x * Sigmoid(x) (either order) keeps the shape of x.
        "Mul" if n.input.len() == 2 => {
            let (a, b) = (&n.input[0], &n.input[1]);
            let sig_of = |s: &str, of: &str| {
                g.nodes().iter().any(|m| {
                    m.op_type == "Sigmoid"
                        && m.output.first().is_some_and(|o| o == s)
                        && m.input.first().is_some_and(|i| i == of)
                })
            };
            if sig_of(b, a) {
                channels_of(g, a, depth + 1)
            } else if sig_of(a, b) {
                channels_of(g, b, depth + 1)
            } else {
                elementwise_channels(g, a, b, depth)
            }
        }
        // `x + 0` (what YOLOv7's RepConv and YOLOv9's RepConvN export without an identity branch), `x * s`, and
        // residual sums of two maps with the same channels.
        "Add" | "Sub" | "Div" if n.input.len() == 2 => {
            elementwise_channels(g, &n.input[0], &n.input[1], depth)
        }
        "Concat" if attr_i(n, "axis", 0).ok()? == 1 => n
            .input
            .iter()
            .map(|i| channels_of(g, i, depth + 1))
            .sum::<Option<usize>>(),
        _ => None,
    }
}

/// Channels of a broadcasting binary op's output: those of one operand when the other is a one-element
/// initializer, or of both when both are known and equal.
fn elementwise_channels(g: &Graph, a: &str, b: &str, depth: usize) -> Option<usize> {
    let one_element = |v: &str| {
        g.initializer(v)
            .is_some_and(|t| t.dims.len() <= 4 && t.dims.iter().all(|&d| d == 1))
    };
    if one_element(b) {
        return channels_of(g, a, depth + 1);
    }
    if one_element(a) {
        return channels_of(g, b, depth + 1);
    }
    let (ca, cb) = (channels_of(g, a, depth + 1)?, channels_of(g, b, depth + 1)?);
    (ca == cb).then_some(ca)
}

/// Folds ImplicitA (Add before Conv) and ImplicitM (Mul after Conv) constants into the Convs.
pub fn run(g: &mut Graph, report: &mut FuseReport) -> Result<()> {
    implicit_a(g, report)?;
    implicit_m(g, report)
}

fn implicit_a(g: &mut Graph, report: &mut FuseReport) -> Result<()> {
    let producers = g.producers();
    let mut updates = Vec::new();
    for (ci, conv) in g.nodes().iter().enumerate() {
        if conv.op_type != "Conv" {
            continue;
        }
        let Some(&(ai, 0)) = conv.input.first().and_then(|v| producers.get(v)) else {
            continue;
        };
        let add = &g.nodes()[ai];
        if add.op_type != "Add" || add.input.len() != 2 {
            continue;
        }
        let (x, a) = match (
            g.is_initializer(&add.input[0]),
            g.is_initializer(&add.input[1]),
        ) {
            (false, true) => (&add.input[0], &add.input[1]),
            (true, false) => (&add.input[1], &add.input[0]),
            _ => continue,
        };
        report.found(PatternKind::ImplicitA);
        let label = node_label(add, ai);
        let mut params = match conv_params(g, conv) {
            Ok(p) => p,
            Err(why) => {
                report.refuse(
                    PatternKind::ImplicitA,
                    label,
                    format!("Conv '{}': {why}", node_label(conv, ci)),
                );
                continue;
            }
        };
        if params.pads != [0; 4] {
            report.refuse(
                PatternKind::ImplicitA,
                label,
                format!(
                    "Conv '{}' has padding {:?}: the added constant would not reach the zero-padded border, so \
                     folding it into the bias would change border outputs",
                    node_label(conv, ci),
                    params.pads
                ),
            );
            continue;
        }
        let a_vals = match g.initializer_f32(a) {
            Ok(Some(arr)) => {
                match per_channel(&arr, params.in_channels(), &format!("constant '{a}'")) {
                    Ok(v) => v,
                    Err(why) => {
                        report.refuse(PatternKind::ImplicitA, label, why);
                        continue;
                    }
                }
            }
            Ok(None) => continue,
            Err(e) => {
                report.refuse(PatternKind::ImplicitA, label, e.to_string());
                continue;
            }
        };
        match channels_of(g, x, 0) {
            Some(c) if c == params.in_channels() => {}
            Some(c) => {
                report.refuse(
                    PatternKind::ImplicitA,
                    label,
                    format!(
                        "input '{x}' has {c} channels, the Conv expects {}",
                        params.in_channels()
                    ),
                );
                continue;
            }
            None => {
                report.refuse(
                    PatternKind::ImplicitA,
                    label,
                    format!("cannot prove that input '{x}' is NCHW with {} channels (the Add might broadcast it)", params.in_channels()),
                );
                continue;
            }
        }
        let out_c = params.out_channels();
        let ipg = params.in_channels() / params.group;
        let opg = out_c / params.group;
        let mut bias: Vec<f64> = params.bias_or_zero().iter().map(|&v| v as f64).collect();
        for (o, b) in bias.iter_mut().enumerate() {
            let grp = o / opg;
            for ci_ in 0..ipg {
                let s: f64 = params
                    .weight
                    .index_axis(ndarray::Axis(0), o)
                    .index_axis(ndarray::Axis(0), ci_)
                    .iter()
                    .map(|&w| w as f64)
                    .sum();
                *b += s * a_vals[grp * ipg + ci_] as f64;
            }
        }
        params.bias = Some(bias.iter().map(|&v| v as f32).collect());
        updates.push((ci, params, x.clone()));
    }
    for (ci, params, x) in updates {
        write_conv(g, ci, &params);
        g.nodes_mut()[ci].input[0] = x;
        report.fused(PatternKind::ImplicitA);
    }
    Ok(())
}

fn implicit_m(g: &mut Graph, report: &mut FuseReport) -> Result<()> {
    let producers = g.producers();
    let uses = g.use_counts();
    let mut updates = Vec::new();
    let mut remove = Vec::new();
    for (mi, mul) in g.nodes().iter().enumerate() {
        if mul.op_type != "Mul"
            || mul.input.len() != 2
            || mul.output.len() != 1
            || mul.output[0].is_empty()
        {
            continue;
        }
        let (v, m) = match (
            g.is_initializer(&mul.input[0]),
            g.is_initializer(&mul.input[1]),
        ) {
            (false, true) => (&mul.input[0], &mul.input[1]),
            (true, false) => (&mul.input[1], &mul.input[0]),
            _ => continue,
        };
        let Some(&(ci, 0)) = producers.get(v) else {
            continue;
        };
        let conv = &g.nodes()[ci];
        if conv.op_type != "Conv" {
            continue;
        }
        report.found(PatternKind::ImplicitM);
        let label = node_label(mul, mi);
        if uses.get(v).copied().unwrap_or(0) != 1 || g.is_graph_output(v) {
            report.refuse(
                PatternKind::ImplicitM,
                label,
                format!("Conv output '{v}' has other uses (or is a graph output)"),
            );
            continue;
        }
        let mut params = match conv_params(g, conv) {
            Ok(p) => p,
            Err(why) => {
                report.refuse(
                    PatternKind::ImplicitM,
                    label,
                    format!("Conv '{}': {why}", node_label(conv, ci)),
                );
                continue;
            }
        };
        let m_vals = match g.initializer_f32(m) {
            Ok(Some(arr)) => {
                match per_channel(&arr, params.out_channels(), &format!("constant '{m}'")) {
                    Ok(v) => v,
                    Err(why) => {
                        report.refuse(PatternKind::ImplicitM, label, why);
                        continue;
                    }
                }
            }
            Ok(None) => continue,
            Err(e) => {
                report.refuse(PatternKind::ImplicitM, label, e.to_string());
                continue;
            }
        };
        let scale: Vec<f64> = m_vals.iter().map(|&v| v as f64).collect();
        let zero = vec![0.0; scale.len()];
        super::conv_bn::scale_conv(&mut params, &scale, &zero);
        updates.push((ci, params, mul.output[0].clone()));
        remove.push(mi);
    }
    for (ci, params, out) in updates {
        write_conv(g, ci, &params);
        g.nodes_mut()[ci].output = vec![out];
        report.fused(PatternKind::ImplicitM);
    }
    g.remove_nodes(remove);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::testutil::{assert_equivalent, count_ops, Builder};
    use crate::passes::{fuse, FuseOptions};

    /// YOLOv7 IDetect head: im(conv1x1(ia(x))), with x from a SiLU.
    fn head(b: &mut Builder, x: &str, out_c: usize, group: usize, pad: usize, k: usize) -> String {
        let c = b.channels[x];
        let ia = b.init("ia", &[1, c, 1, 1], -0.3, 0.3);
        let s = b.node("Add", &[x, &ia], vec![]);
        let y = b.conv(&s, out_c, k, 1, pad, group, true);
        let im = b.init("im", &[1, out_c, 1, 1], 0.8, 1.2);
        b.node("Mul", &[&y, &im], vec![])
    }

    #[test]
    fn implicit_a_and_m_fold_exactly() {
        for (i, group) in [1usize, 2].into_iter().enumerate() {
            let mut b = Builder::new(&[1, 8, 6, 7], 40 + i as u64);
            let x = b.conv("x", 8, 3, 1, 1, 1, true);
            let x = b.silu(&x);
            let y = head(&mut b, &x, 12, group, 0, 1);
            let m = b.model(&[&y]);
            let mut f = m.clone();
            let r = fuse(&mut f, &FuseOptions::default()).unwrap();
            assert_eq!(r.count(PatternKind::ImplicitA).fused, 1, "{r}");
            assert_eq!(r.count(PatternKind::ImplicitM).fused, 1, "{r}");
            assert_eq!(count_ops(f.graph(), "Add"), 0);
            // Only the SiLU Mul remains.
            assert_eq!(count_ops(f.graph(), "Mul"), 1);
            assert_equivalent(&m, &f, 1e-4);
        }
    }

    #[test]
    fn implicit_a_refused_with_padding_but_m_still_folds() {
        let mut b = Builder::new(&[1, 4, 6, 6], 44);
        let x = b.conv("x", 4, 3, 1, 1, 1, true);
        let y = head(&mut b, &x, 4, 1, 1, 3);
        let m = b.model(&[&y]);
        let mut f = m.clone();
        let r = fuse(&mut f, &FuseOptions::default()).unwrap();
        let why = &r.refusals_of(PatternKind::ImplicitA).next().unwrap().reason;
        assert!(why.contains("padding") && why.contains("border"), "{why}");
        assert_eq!(r.count(PatternKind::ImplicitM).fused, 1);
        assert_eq!(count_ops(f.graph(), "Add"), 1);
        assert_equivalent(&m, &f, 1e-4);
    }

    #[test]
    fn implicit_refusals() {
        // Unknown input channels (graph input without shape info is fine: it has one; use a Reshape source).
        let mut b = Builder::new(&[1, 4, 6, 6], 45);
        let shp = {
            let t = crate::graph::tensor_from_i64(
                "shp",
                &ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[4]), vec![1, 4, 6, 6]).unwrap(),
            );
            b.g.set_initializer(t);
            "shp".to_string()
        };
        let r0 = b.node("Reshape", &["x", &shp], vec![]);
        let y = head(&mut b, &r0, 4, 1, 0, 1);
        // Mul constant that is not per-channel (varies along width).
        let wv = b.init("wv", &[1, 1, 1, 6], 0.5, 1.5);
        let c2 = b.conv("x", 4, 1, 1, 0, 1, true);
        let z = b.node("Mul", &[&c2, &wv], vec![]);
        // Conv output with two uses.
        let c3 = b.conv("x", 4, 1, 1, 0, 1, true);
        let im = b.init("im", &[1, 4, 1, 1], 0.5, 1.5);
        let z3 = b.node("Mul", &[&c3, &im], vec![]);
        let z4 = b.node("Relu", &[&c3], vec![]);
        let m = b.model(&[&y, &z, &z3, &z4]);
        let mut f = m.clone();
        let r = fuse(&mut f, &FuseOptions::default()).unwrap();
        let a: Vec<_> = r
            .refusals_of(PatternKind::ImplicitA)
            .map(|r| r.reason.clone())
            .collect();
        assert!(a.iter().any(|w| w.contains("cannot prove")), "{a:?}");
        let ms: Vec<_> = r
            .refusals_of(PatternKind::ImplicitM)
            .map(|r| r.reason.clone())
            .collect();
        assert!(ms.iter().any(|w| w.contains("not per-channel")), "{ms:?}");
        assert!(ms.iter().any(|w| w.contains("other uses")), "{ms:?}");
        // The head's ImplicitM still folds.
        assert_eq!(r.count(PatternKind::ImplicitM).fused, 1);
        assert_equivalent(&m, &f, 1e-4);
    }
}
