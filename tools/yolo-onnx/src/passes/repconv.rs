//! RepConv and generalized multi-branch merge.
//!
//! An Add tree (Add of Add …) whose operands include several branches reading the same input `x`
//! — Convs (with BN already folded by [`conv_bn`](super::conv_bn)), an identity BatchNormalization
//! `BN(x)` or `x` itself — is replaced by one Conv. This covers RepConv (3×3 + 1×1 + identity BN),
//! RepConvN (no identity), RepVGG and any other set of aligned kernels.
//!
//! Exactness: branch `i` with kernel `k`, dilation `d` and begin pad `p` reads input offsets
//! `-p, -p+d, …, -p+d(k-1)` around each output position. All branches must share stride,
//! dilation and group count, and produce the same output size (`p_begin + p_end − d(k−1)` equal);
//! then the merged kernel spans the union of the offsets, each branch kernel is placed at
//! `(p_merged − p)/d` (which must be an integer), and positions a branch does not cover get zero
//! weights, so reading padding or real pixels there contributes nothing. The identity becomes a
//! kernel with 1 (or the BN scale) at `[o, o mod (C/groups), centre]`. Groups of branches with
//! different inputs in the same Add tree are merged separately; other operands stay as Adds.

use std::collections::{HashMap, HashSet};

use ndarray::{Array1, Array4};

use super::conv_bn::{bn_affine, BnAffine};
use super::{conv_params, ConvParams, FuseReport, PatternKind};
use crate::error::Result;
use crate::graph::{make_attr_i, make_attr_ints, make_node, node_label, tensor_from_f32, Graph};

enum Leaf {
    /// Conv reading `x`.
    Conv {
        node: usize,
        params: Box<ConvParams>,
    },
    /// BatchNormalization reading `x` (identity branch with per-channel affine map).
    Bn { node: usize, affine: BnAffine },
    /// `x` itself.
    Plain,
    /// A branch on `x` that cannot be merged (reason).
    Blocked(String),
}

struct Operand {
    value: String,
    /// Branch input the operand reads (`None`: not a branch, e.g. a constant or another op).
    input: Option<String>,
    leaf: Leaf,
}

/// Merges every legal multi-branch Conv pattern.
pub fn run(g: &mut Graph, report: &mut FuseReport) -> Result<()> {
    let producers = g.producers();
    let uses = g.use_counts();
    let consumers = g.consumers();
    let single_use = |v: &str| uses.get(v).copied().unwrap_or(0) == 1 && !g.is_graph_output(v);
    let is_tree_add = |i: usize| {
        let n = &g.nodes()[i];
        n.op_type == "Add"
            && n.input.len() == 2
            && n.output.len() == 1
            && (n.domain.is_empty() || n.domain == "ai.onnx")
    };
    // An Add is absorbed into its parent tree when its only use is another Add.
    let absorbed = |i: usize| {
        let out = &g.nodes()[i].output[0];
        single_use(out)
            && consumers
                .get(out)
                .and_then(|c| c.first())
                .is_some_and(|&c| is_tree_add(c))
    };

    let mut remove: HashSet<usize> = HashSet::new();
    let mut new_nodes = Vec::new();
    let mut new_inits = Vec::new();

    struct Plan {
        root: usize,
        tree: Vec<usize>,
        merged: Vec<(Vec<usize>, ConvParams, String)>, // (nodes to remove, params, input x)
        rest: Vec<String>,
    }
    let mut plans: Vec<Plan> = Vec::new();

    for root in 0..g.nodes().len() {
        if !is_tree_add(root) || absorbed(root) {
            continue;
        }
        // Collect the tree's Add nodes and operands.
        let mut tree = vec![];
        let mut operands: Vec<String> = vec![];
        let mut stack = vec![root];
        while let Some(a) = stack.pop() {
            tree.push(a);
            for v in g.nodes()[a].input.iter().rev() {
                match producers.get(v) {
                    Some(&(p, _))
                        if p != a && is_tree_add(p) && absorbed(p) && !tree.contains(&p) =>
                    {
                        stack.push(p)
                    }
                    _ => operands.push(v.clone()),
                }
            }
        }
        let ops: Vec<Operand> = operands
            .iter()
            .map(|v| classify(g, v, &producers, &single_use))
            .collect();
        // Group branch operands by input.
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            if let Some(x) = &op.input {
                match groups.iter_mut().find(|(gx, _)| gx == x) {
                    Some((_, v)) => v.push(i),
                    None => groups.push((x.clone(), vec![i])),
                }
            }
        }
        let root_label = node_label(&g.nodes()[root], root);
        let mut plan = Plan {
            root,
            tree: tree.clone(),
            merged: vec![],
            rest: vec![],
        };
        let mut consumed = vec![false; ops.len()];
        for (x, members) in &groups {
            let convs = members
                .iter()
                .filter(|&&i| {
                    matches!(ops[i].leaf, Leaf::Conv { .. })
                        || is_conv_blocked(g, &ops[i], &producers)
                })
                .count();
            if members.len() < 2 || convs == 0 {
                continue;
            }
            report.found(PatternKind::RepConv);
            if let Some(why) = members.iter().find_map(|&i| match &ops[i].leaf {
                Leaf::Blocked(why) => Some(why.clone()),
                _ => None,
            }) {
                report.refuse(PatternKind::RepConv, root_label.clone(), why);
                continue;
            }
            let leaves: Vec<&Operand> = members.iter().map(|&i| &ops[i]).collect();
            match merge(&leaves) {
                Ok(params) => {
                    let nodes = leaves
                        .iter()
                        .filter_map(|o| match o.leaf {
                            Leaf::Conv { node, .. } | Leaf::Bn { node, .. } => Some(node),
                            _ => None,
                        })
                        .collect();
                    plan.merged.push((nodes, params, x.clone()));
                    for &i in members {
                        consumed[i] = true;
                    }
                }
                Err(why) => report.refuse(PatternKind::RepConv, root_label.clone(), why),
            }
        }
        if plan.merged.is_empty() {
            continue;
        }
        plan.rest = ops
            .iter()
            .zip(&consumed)
            .filter(|(_, &c)| !c)
            .map(|(o, _)| o.value.clone())
            .collect();
        plans.push(plan);
    }

    for plan in plans {
        let root_out = g.nodes()[plan.root].output[0].clone();
        let root_name = node_label(&g.nodes()[plan.root], plan.root);
        let total = plan.merged.len() + plan.rest.len();
        let mut sum_terms: Vec<String> = Vec::new();
        for (k, (nodes, params, x)) in plan.merged.iter().enumerate() {
            let out = if total == 1 {
                root_out.clone()
            } else {
                g.unique_name(&format!("{root_out}.merged{k}"))
            };
            let name = g.unique_name(&format!("{root_name}.repconv{k}"));
            let w_name = g.unique_name(&format!("{name}.weight"));
            let b_name = g.unique_name(&format!("{name}.bias"));
            new_inits.push(tensor_from_f32(&w_name, &params.weight.clone().into_dyn()));
            new_inits.push(tensor_from_f32(&b_name, &params.bias_or_zero().into_dyn()));
            let kk = params.kernel();
            new_nodes.push(make_node(
                "Conv",
                &name,
                &[x, &w_name, &b_name],
                &[&out],
                vec![
                    make_attr_ints("kernel_shape", &[kk[0] as i64, kk[1] as i64]),
                    make_attr_ints("strides", &params.strides.map(|v| v as i64)),
                    make_attr_ints("dilations", &params.dilations.map(|v| v as i64)),
                    make_attr_ints("pads", &params.pads.map(|v| v as i64)),
                    make_attr_i("group", params.group as i64),
                ],
            ));
            remove.extend(nodes.iter().copied());
            sum_terms.push(out);
            report.fused(PatternKind::RepConv);
        }
        sum_terms.extend(plan.rest.iter().cloned());
        // Re-sum the remaining terms; the last Add produces the root's output name.
        let mut acc = sum_terms[0].clone();
        for (k, t) in sum_terms.iter().enumerate().skip(1) {
            let out = if k + 1 == sum_terms.len() {
                root_out.clone()
            } else {
                g.unique_name(&format!("{root_out}.sum{k}"))
            };
            let name = g.unique_name(&format!("{root_name}.add{k}"));
            new_nodes.push(make_node("Add", &name, &[&acc, t], &[&out], vec![]));
            acc = out;
        }
        remove.extend(plan.tree.iter().copied());
    }
    g.remove_nodes(remove);
    for t in new_inits {
        g.set_initializer(t);
    }
    for n in new_nodes {
        g.add_node(n);
    }
    Ok(())
}

fn is_conv_blocked(g: &Graph, op: &Operand, producers: &HashMap<String, (usize, usize)>) -> bool {
    matches!(op.leaf, Leaf::Blocked(_))
        && producers
            .get(&op.value)
            .is_some_and(|&(p, _)| g.nodes()[p].op_type == "Conv")
}

fn classify(
    g: &Graph,
    v: &str,
    producers: &HashMap<String, (usize, usize)>,
    single_use: &dyn Fn(&str) -> bool,
) -> Operand {
    let plain = || Operand {
        value: v.to_string(),
        input: Some(v.to_string()),
        leaf: Leaf::Plain,
    };
    if g.is_initializer(v) {
        return Operand {
            value: v.to_string(),
            input: None,
            leaf: Leaf::Plain,
        };
    }
    let Some(&(p, slot)) = producers.get(v) else {
        return plain();
    };
    let n = &g.nodes()[p];
    let x = n.input.first().cloned().unwrap_or_default();
    if slot != 0 || x.is_empty() || !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return plain();
    }
    let blocked = |why: String| Operand {
        value: v.to_string(),
        input: Some(x.clone()),
        leaf: Leaf::Blocked(why),
    };
    match n.op_type.as_str() {
        "Conv" => {
            if !single_use(v) {
                return blocked(format!(
                    "branch Conv '{}' output '{v}' has other uses (or is a graph output)",
                    node_label(n, p)
                ));
            }
            match conv_params(g, n) {
                Ok(params) => Operand {
                    value: v.to_string(),
                    input: Some(x),
                    leaf: Leaf::Conv {
                        node: p,
                        params: Box::new(params),
                    },
                },
                Err(why) => blocked(format!("branch Conv '{}': {why}", node_label(n, p))),
            }
        }
        "BatchNormalization" => {
            if !single_use(v) {
                // Not removable, but still a valid identity-like operand: leave it as a plain value.
                return plain();
            }
            match bn_affine(g, n) {
                Ok(affine) => Operand {
                    value: v.to_string(),
                    input: Some(x),
                    leaf: Leaf::Bn { node: p, affine },
                },
                Err(_) => plain(),
            }
        }
        _ => plain(),
    }
}

/// Per-dimension alignment of one branch: begin offset, end offset (in input pixels), size residue.
fn merge(leaves: &[&Operand]) -> std::result::Result<ConvParams, String> {
    let convs: Vec<&ConvParams> = leaves
        .iter()
        .filter_map(|l| match &l.leaf {
            Leaf::Conv { params, .. } => Some(params.as_ref()),
            _ => None,
        })
        .collect();
    let first = convs[0];
    let (group, strides, dilations) = (first.group, first.strides, first.dilations);
    let (out_c, in_c) = (first.out_channels(), first.in_channels());
    for c in &convs[1..] {
        if c.group != group {
            return Err(format!(
                "branches have different group counts ({} vs {group})",
                c.group
            ));
        }
        if c.strides != strides {
            return Err(format!(
                "branches have different strides ({:?} vs {strides:?})",
                c.strides
            ));
        }
        if c.dilations != dilations {
            return Err(format!(
                "branches have different dilations ({:?} vs {dilations:?})",
                c.dilations
            ));
        }
        if c.out_channels() != out_c || c.in_channels() != in_c {
            return Err(format!(
                "branches have different channel counts ({}→{} vs {in_c}→{out_c})",
                c.in_channels(),
                c.out_channels()
            ));
        }
    }
    let has_identity = leaves
        .iter()
        .any(|l| matches!(l.leaf, Leaf::Plain | Leaf::Bn { .. }));
    if has_identity {
        if strides != [1, 1] {
            return Err(format!("identity branch with stride {strides:?} Convs"));
        }
        if in_c != out_c {
            return Err(format!(
                "identity branch but Convs map {in_c} to {out_c} channels"
            ));
        }
        for l in leaves {
            if let Leaf::Bn { affine, .. } = &l.leaf {
                if affine.scale.len() != in_c {
                    return Err(format!(
                        "identity BatchNormalization has {} channels, expected {in_c}",
                        affine.scale.len()
                    ));
                }
            }
        }
    }
    // Geometry per spatial dim: (begin pad, kernel) of every branch; identity = (0, 1).
    let geom: Vec<([usize; 2], [usize; 2], [usize; 2])> = leaves
        .iter()
        .map(|l| match &l.leaf {
            Leaf::Conv { params, .. } => (
                [params.pads[0], params.pads[1]],
                [params.pads[2], params.pads[3]],
                params.kernel(),
            ),
            _ => ([0, 0], [0, 0], [1, 1]),
        })
        .collect();
    let mut merged_k = [0usize; 2];
    let mut merged_pb = [0usize; 2];
    let mut merged_pe = [0usize; 2];
    let mut offsets = vec![[0usize; 2]; leaves.len()];
    for dim in 0..2 {
        let d = dilations[dim] as i64;
        let starts: Vec<i64> = geom.iter().map(|g| -(g.0[dim] as i64)).collect();
        let ends: Vec<i64> = geom
            .iter()
            .map(|g| -(g.0[dim] as i64) + d * (g.2[dim] as i64 - 1))
            .collect();
        // Output size is (in + pb + pe − d(k−1) − 1)/s + 1: the residue must agree for all branches.
        let residues: Vec<i64> = geom
            .iter()
            .map(|g| g.0[dim] as i64 + g.1[dim] as i64 - d * (g.2[dim] as i64 - 1))
            .collect();
        if residues.iter().any(|&r| r != residues[0]) {
            return Err(format!(
                "branch output sizes differ along {} (pads/kernels {:?}); kernels are not aligned",
                ["height", "width"][dim],
                geom.iter()
                    .map(|g| (g.0[dim], g.1[dim], g.2[dim]))
                    .collect::<Vec<_>>()
            ));
        }
        let start = *starts.iter().min().expect("at least one branch");
        let end = *ends.iter().max().expect("at least one branch");
        for (i, &s) in starts.iter().enumerate() {
            if (s - start) % d != 0 {
                return Err(format!(
                    "kernel offsets along {} are not multiples of the dilation {d}; kernels do not align on a common grid",
                    ["height", "width"][dim]
                ));
            }
            offsets[i][dim] = ((s - start) / d) as usize;
        }
        let k = ((end - start) / d + 1) as usize;
        let pb = -start;
        let pe = residues[0] + d * (k as i64 - 1) - pb;
        if pb < 0 || pe < 0 {
            return Err(format!(
                "merged kernel would need negative padding along {} ({pb}, {pe}); branches crop the input differently",
                ["height", "width"][dim]
            ));
        }
        merged_k[dim] = k;
        merged_pb[dim] = pb as usize;
        merged_pe[dim] = pe as usize;
    }
    let in_per_group = in_c / group;
    let mut w = Array4::<f64>::zeros((out_c, in_per_group, merged_k[0], merged_k[1]));
    let mut b = Array1::<f64>::zeros(out_c);
    for (leaf, off) in leaves.iter().zip(&offsets) {
        match &leaf.leaf {
            Leaf::Conv { params, .. } => {
                for ((o, i, y, x), &v) in params.weight.indexed_iter() {
                    w[[o, i, y + off[0], x + off[1]]] += v as f64;
                }
                if let Some(bias) = &params.bias {
                    b.zip_mut_with(bias, |a, &v| *a += v as f64);
                }
            }
            Leaf::Bn { affine, .. } => {
                for o in 0..out_c {
                    w[[o, o % in_per_group, off[0], off[1]]] += affine.scale[o];
                    b[o] += affine.shift[o];
                }
            }
            Leaf::Plain => {
                for o in 0..out_c {
                    w[[o, o % in_per_group, off[0], off[1]]] += 1.0;
                }
            }
            Leaf::Blocked(_) => unreachable!("blocked groups are refused before merging"),
        }
    }
    Ok(ConvParams {
        weight: w.mapv(|v| v as f32),
        bias: Some(b.mapv(|v| v as f32)),
        group,
        strides,
        dilations,
        pads: [merged_pb[0], merged_pb[1], merged_pe[0], merged_pe[1]],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::testutil::{assert_equivalent, count_ops, Builder};
    use crate::passes::{fuse, FuseOptions};
    use crate::Model;

    fn fused(m: &Model) -> (Model, FuseReport) {
        let mut f = m.clone();
        let r = fuse(&mut f, &FuseOptions::default()).unwrap();
        f.validate().unwrap();
        (f, r)
    }

    /// YOLOv7 RepConv: act(BN(conv3x3) + BN(conv1x1) + BN(x)).
    fn repconv(
        b: &mut Builder,
        x: &str,
        c: usize,
        group: usize,
        identity: bool,
        stride: usize,
    ) -> String {
        let a = b.conv(x, c, 3, stride, 1, group, false);
        let a = b.bn(&a, Some(1e-3));
        let c1 = b.conv(x, c, 1, stride, 0, group, false);
        let c1 = b.bn(&c1, Some(1e-3));
        let mut s = b.node("Add", &[&a, &c1], vec![]);
        if identity {
            let id = b.bn(x, Some(1e-3));
            s = b.node("Add", &[&s, &id], vec![]);
        }
        b.silu(&s)
    }

    #[test]
    fn repconv_variants_merge_exactly() {
        for (i, &(group, identity, stride)) in [
            (1, true, 1),
            (1, false, 1),
            (1, false, 2),
            (2, true, 1),
            (4, true, 1),
            (8, false, 1),
        ]
        .iter()
        .enumerate()
        {
            let mut b = Builder::new(&[1, 8, 10, 9], 10 + i as u64);
            let y = repconv(&mut b, "x", 8, group, identity, stride);
            let m = b.model(&[&y]);
            let (f, r) = fused(&m);
            let err = assert_equivalent(&m, &f, 1e-4);
            assert_eq!(count_ops(f.graph(), "BatchNormalization"), 0, "case {i}");
            assert_eq!(count_ops(f.graph(), "Conv"), 1, "case {i}");
            // Only the SiLU's Mul remains besides the Conv and Sigmoid: no Add of convs.
            assert_eq!(count_ops(f.graph(), "Add"), 0, "case {i}");
            assert_eq!(r.count(PatternKind::RepConv).fused, 1);
            assert!(r.refusals.is_empty(), "{:?}", r.refusals);
            let conv = f
                .graph()
                .nodes()
                .iter()
                .find(|n| n.op_type == "Conv")
                .unwrap();
            let w = f.graph().initializer(&conv.input[1]).unwrap();
            assert_eq!(&w.dims[2..], &[3, 3]);
            assert!(err < 1e-4);
        }
    }

    #[test]
    fn identity_kernel_layout() {
        // Plain identity (no BN) + 1x1 conv with zero weights → merged kernel is the identity.
        let mut b = Builder::new(&[1, 4, 5, 5], 3);
        let c = b.conv("x", 4, 3, 1, 1, 2, false);
        let s = b.node("Add", &[&c, "x"], vec![]);
        let mut m = b.model(&[&s]);
        let w_name = m.graph().nodes()[0].input[1].clone();
        let zeros = ndarray::ArrayD::<f32>::zeros(ndarray::IxDyn(&[4, 2, 3, 3]));
        m.graph_mut()
            .set_initializer(tensor_from_f32(&w_name, &zeros));
        let (f, _) = fused(&m);
        let conv = &f.graph().nodes()[0];
        let w = f.graph().initializer_f32(&conv.input[1]).unwrap().unwrap();
        for o in 0..4 {
            for i in 0..2 {
                for y in 0..3 {
                    for x in 0..3 {
                        let want = if i == o % 2 && y == 1 && x == 1 {
                            1.0
                        } else {
                            0.0
                        };
                        assert_eq!(w[[o, i, y, x]], want, "[{o},{i},{y},{x}]");
                    }
                }
            }
        }
        assert_equivalent(&m, &f, 1e-5);
    }

    #[test]
    fn generalized_branches_merge() {
        // 5x5 (pad 2) + 3x3 (pad 1) + 1x3 (pad 0,1) + 3x1 + identity, dilation 1, as an Add tree.
        let mut b = Builder::new(&[1, 6, 9, 8], 21);
        let a = b.conv("x", 6, 5, 1, 2, 1, true);
        let c = b.conv("x", 6, 3, 1, 1, 1, true);
        let h = b.conv_full("x", 6, [1, 3], [1, 1], [0, 1, 0, 1], [1, 1], 1, true);
        let v = b.conv_full("x", 6, [3, 1], [1, 1], [1, 0, 1, 0], [1, 1], 1, false);
        let s1 = b.node("Add", &[&a, &c], vec![]);
        let s2 = b.node("Add", &[&h, &v], vec![]);
        let s3 = b.node("Add", &[&s1, &s2], vec![]);
        let s4 = b.node("Add", &["x", &s3], vec![]);
        let out = b.node("Relu", &[&s4], vec![]);
        let m = b.model(&[&out]);
        let (f, r) = fused(&m);
        assert_equivalent(&m, &f, 1e-4);
        assert_eq!(count_ops(f.graph(), "Conv"), 1);
        assert_eq!(count_ops(f.graph(), "Add"), 0);
        assert_eq!(r.count(PatternKind::RepConv).fused, 1);

        // Dilated: 3x3 d=2 pad 2 + 1x1 pad 0, strided 2 and asymmetric pads that still align.
        let mut b = Builder::new(&[1, 4, 11, 12], 22);
        let a = b.conv_full("x", 4, [3, 3], [2, 2], [2, 2, 2, 2], [2, 2], 1, true);
        let c = b.conv_full("x", 4, [1, 1], [2, 2], [0, 0, 0, 0], [2, 2], 1, true);
        let s = b.node("Add", &[&a, &c], vec![]);
        let m = b.model(&[&s]);
        let (f, r) = fused(&m);
        assert_equivalent(&m, &f, 1e-4);
        assert_eq!(r.count(PatternKind::RepConv).fused, 1);
        assert_eq!(count_ops(f.graph(), "Conv"), 1);

        // Off-centre but aligned: 3x3 pad (2,2,0,0) + 1x1 pad 0 → the 1x1 sits at the bottom-right.
        let mut b = Builder::new(&[1, 3, 7, 7], 23);
        let a = b.conv_full("x", 3, [3, 3], [1, 1], [2, 2, 0, 0], [1, 1], 1, true);
        let c = b.conv_full("x", 3, [1, 1], [1, 1], [0, 0, 0, 0], [1, 1], 1, true);
        let s = b.node("Add", &[&a, &c], vec![]);
        let m = b.model(&[&s]);
        let (f, r) = fused(&m);
        assert_equivalent(&m, &f, 1e-4);
        assert_eq!(r.count(PatternKind::RepConv).fused, 1);
    }

    #[test]
    fn partial_merge_keeps_foreign_operands() {
        // Add(Add(conv3(x), conv1(x)), z) where z is a residual from elsewhere.
        let mut b = Builder::new(&[1, 4, 6, 6], 31);
        let z = b.conv("x", 4, 3, 1, 1, 1, true);
        let z = b.node("Relu", &[&z], vec![]);
        let a = b.conv(&z, 4, 3, 1, 1, 1, true);
        let c = b.conv(&z, 4, 1, 1, 0, 1, true);
        let s = b.node("Add", &[&a, &c], vec![]);
        let s = b.node("Add", &[&s, "x"], vec![]);
        let m = b.model(&[&s]);
        let (f, r) = fused(&m);
        assert_equivalent(&m, &f, 1e-4);
        assert_eq!(r.count(PatternKind::RepConv).fused, 1);
        assert_eq!(count_ops(f.graph(), "Conv"), 2);
        assert_eq!(count_ops(f.graph(), "Add"), 1);
    }

    #[test]
    fn refusals() {
        type Case = (&'static str, Box<dyn Fn(&mut Builder) -> Vec<String>>);
        let cases: Vec<Case> = vec![
            (
                "different strides",
                Box::new(|b| {
                    // Both produce 5x5 from 9x9: 3x3/2 pad 1 and 5x5/1 pad 0.
                    let a = b.conv("x", 4, 3, 2, 1, 1, true);
                    let c = b.conv("x", 4, 5, 1, 0, 1, true);
                    vec![b.node("Add", &[&a, &c], vec![])]
                }),
            ),
            (
                "different group counts",
                Box::new(|b| {
                    let a = b.conv("x", 4, 3, 1, 1, 2, true);
                    let c = b.conv("x", 4, 1, 1, 0, 1, true);
                    vec![b.node("Add", &[&a, &c], vec![])]
                }),
            ),
            (
                "different dilations",
                Box::new(|b| {
                    let a = b.conv_full("x", 4, [3, 3], [1, 1], [2; 4], [2, 2], 1, true);
                    let c = b.conv("x", 4, 3, 1, 1, 1, true);
                    vec![b.node("Add", &[&a, &c], vec![])]
                }),
            ),
            (
                "do not align",
                Box::new(|b| {
                    // Same output size, but at dilation 2 the offsets -1 and 0 are on different grids.
                    let a = b.conv_full("x", 4, [3, 3], [1, 1], [1, 1, 3, 3], [2, 2], 1, true);
                    let c = b.conv_full("x", 4, [1, 1], [1, 1], [0; 4], [2, 2], 1, true);
                    vec![b.node("Add", &[&a, &c], vec![])]
                }),
            ),
            (
                "output sizes differ",
                Box::new(|b| {
                    // 9x9 output + 1x1 output (Add broadcasts): merging would change the shape.
                    let a = b.conv("x", 4, 3, 1, 1, 1, true);
                    let c = b.conv("x", 4, 9, 1, 0, 1, true);
                    vec![b.node("Add", &[&a, &c], vec![])]
                }),
            ),
            (
                "other uses",
                Box::new(|b| {
                    let a = b.conv("x", 4, 3, 1, 1, 1, true);
                    let c = b.conv("x", 4, 1, 1, 0, 1, true);
                    let s = b.node("Add", &[&a, &c], vec![]);
                    let r = b.node("Relu", &[&c], vec![]);
                    vec![s, r]
                }),
            ),
            (
                "not a constant",
                Box::new(|b| {
                    b.g.edit_proto(|p| {
                        p.input.push(crate::graph::make_value_info(
                            "w_in",
                            crate::graph::DataType::Float,
                            &[4, 4, 1, 1],
                        ))
                    });
                    let a = b.conv("x", 4, 3, 1, 1, 1, true);
                    let c = b.node(
                        "Conv",
                        &["x", "w_in"],
                        vec![make_attr_ints("kernel_shape", &[1, 1])],
                    );
                    vec![b.node("Add", &[&a, &c], vec![])]
                }),
            ),
        ];
        for (why, build) in cases {
            let mut b = Builder::new(&[1, 4, 9, 9], 5);
            let outs = build(&mut b);
            let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
            let m = b.model(&refs);
            let mut f = m.clone();
            let r = fuse(&mut f, &FuseOptions::default()).unwrap();
            let refusal = r.refusals_of(PatternKind::RepConv).next();
            assert!(refusal.is_some(), "{why}: no refusal, report: {r}");
            assert!(
                refusal.unwrap().reason.contains(why),
                "{why}: {}",
                refusal.unwrap().reason
            );
            assert_eq!(r.count(PatternKind::RepConv).fused, 0, "{why}");
            assert_eq!(count_ops(f.graph(), "Add"), 1, "{why}");
            assert_equivalent(&m, &f, 1e-5);
        }
    }
}
