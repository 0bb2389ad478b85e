//! Cleanups: Identity/Dropout removal, dead-node and dead-initializer removal.
//!
//! Graph output names never change: an Identity that produces a graph output is removed by
//! renaming its input's producer to the output name, and kept when that is impossible.

use std::collections::HashSet;

use super::{FuseReport, PatternKind};
use crate::error::Result;
use crate::graph::{node_inputs_deep, node_label, Graph};

/// Removes Identity nodes and inference-mode Dropout nodes.
pub fn remove_identities(g: &mut Graph, report: &mut FuseReport) -> Result<()> {
    let candidates: Vec<usize> = g
        .nodes()
        .iter()
        .enumerate()
        .filter(|(_, n)| n.op_type == "Identity" || n.op_type == "Dropout")
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    let mut removed = Vec::new();
    for i in candidates {
        let n = g.nodes()[i].clone();
        let kind = if n.op_type == "Identity" {
            PatternKind::Identity
        } else {
            PatternKind::Dropout
        };
        report.found(kind);
        let label = node_label(&n, i);
        let (Some(x), Some(y)) = (
            n.input.first().filter(|s| !s.is_empty()),
            n.output.first().filter(|s| !s.is_empty()),
        ) else {
            report.refuse(kind, label, "node has no data input or output");
            continue;
        };
        if n.input.len() != 1 && kind == PatternKind::Identity {
            report.refuse(kind, label, "Identity with more than one input");
            continue;
        }
        if kind == PatternKind::Dropout {
            if let Some(mask) = n.output.get(1).filter(|s| !s.is_empty()) {
                let used = g.is_graph_output(mask)
                    || g.nodes().iter().any(|m| node_inputs_deep(m).contains(mask));
                if used {
                    report.refuse(kind, label, format!("Dropout mask output '{mask}' is used"));
                    continue;
                }
            }
            if let Some(tm) = n.input.get(2).filter(|s| !s.is_empty()) {
                match g.initializer_i64(tm) {
                    Ok(Some(a)) if a.iter().all(|&v| v == 0) => {}
                    _ => {
                        report.refuse(
                            kind,
                            label,
                            format!("training_mode input '{tm}' is not a constant false"),
                        );
                        continue;
                    }
                }
            }
        }
        if !g.is_graph_output(y) {
            g.replace_uses(y, x);
        } else {
            let x_is_node_output = g.nodes().iter().any(|m| m.output.iter().any(|o| o == x));
            if !x_is_node_output
                || g.is_graph_output(x)
                || g.is_graph_input(x)
                || g.is_initializer(x)
            {
                report.refuse(
                    kind,
                    label,
                    format!("graph output '{y}' is a copy of graph input/output or initializer '{x}'; kept to preserve output names"),
                );
                continue;
            }
            // The identity's own output would collide with the renamed producer output.
            g.nodes_mut()[i].output.clear();
            g.rename_value(x, y);
        }
        removed.push(i);
        report.fused(kind);
    }
    g.remove_nodes(removed);
    Ok(())
}

/// Removes nodes whose outputs are unused (when `nodes` is true) and initializers no node uses,
/// plus value infos of values that no longer exist.
pub fn remove_dead(g: &mut Graph, report: &mut FuseReport, nodes: bool) -> Result<()> {
    if nodes {
        loop {
            let uses = g.use_counts();
            let dead: Vec<usize> = g
                .nodes()
                .iter()
                .enumerate()
                .filter(|(_, n)| {
                    n.output
                        .iter()
                        .all(|o| o.is_empty() || !uses.contains_key(o))
                })
                .map(|(i, _)| i)
                .collect();
            if dead.is_empty() {
                break;
            }
            for _ in &dead {
                report.found(PatternKind::DeadNode);
                report.fused(PatternKind::DeadNode);
            }
            g.remove_nodes(dead);
        }
    }
    let mut used: HashSet<String> = HashSet::new();
    for n in g.nodes() {
        used.extend(node_inputs_deep(n));
    }
    for o in g.outputs() {
        used.insert(o.name.clone());
    }
    let mut dead_inits = 0;
    g.retain_initializers(|t| {
        let keep = used.contains(&t.name);
        dead_inits += usize::from(!keep);
        keep
    });
    for _ in 0..dead_inits {
        report.found(PatternKind::DeadInitializer);
        report.fused(PatternKind::DeadInitializer);
    }
    let produced: HashSet<String> = g
        .nodes()
        .iter()
        .flat_map(|n| n.output.iter().cloned())
        .collect();
    g.edit_proto(|p| p.value_info.retain(|v| produced.contains(&v.name)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{make_attr_f, tensor_from_i64};
    use crate::passes::testutil::{assert_equivalent, count_ops, Builder};
    use crate::passes::{fuse, FuseOptions};
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn identity_and_dropout_removed_outputs_kept() {
        let mut b = Builder::new(&[1, 4, 6, 6], 1);
        let y = b.conv("x", 4, 3, 1, 1, 1, true);
        let i1 = b.node("Identity", &[&y], vec![]);
        let r = b.node("Relu", &[&i1], vec![]);
        let d = b.node("Dropout", &[&r], vec![make_attr_f("ratio", 0.5)]);
        let out = b.node("Identity", &[&d], vec![]);
        let m = b.model(&[&out]);
        let mut f = m.clone();
        let rep = fuse(&mut f, &FuseOptions::default()).unwrap();
        assert_eq!(count_ops(f.graph(), "Identity"), 0);
        assert_eq!(count_ops(f.graph(), "Dropout"), 0);
        assert_eq!(rep.count(PatternKind::Identity).fused, 2);
        assert_eq!(rep.count(PatternKind::Dropout).fused, 1);
        assert_equivalent(&m, &f, 1e-6);
    }

    #[test]
    fn identity_of_input_to_output_is_kept_with_reason() {
        let mut b = Builder::new(&[1, 2, 3, 3], 1);
        let out = b.node("Identity", &["x"], vec![]);
        let m = b.model(&[&out]);
        let mut f = m.clone();
        let rep = fuse(&mut f, &FuseOptions::default()).unwrap();
        assert_eq!(count_ops(f.graph(), "Identity"), 1);
        assert!(rep
            .refusals_of(PatternKind::Identity)
            .next()
            .unwrap()
            .reason
            .contains("preserve output names"));
        assert_equivalent(&m, &f, 0.0);
    }

    #[test]
    fn dropout_training_and_mask_refused() {
        let mut b = Builder::new(&[1, 2, 3, 3], 1);
        let t = "tm".to_string();
        b.g.set_initializer({
            let mut t =
                tensor_from_i64("tm", &ArrayD::from_shape_vec(IxDyn(&[]), vec![1]).unwrap());
            t.data_type = crate::graph::DataType::Bool as i32;
            t.raw_data = vec![1];
            t
        });
        let d = b.node("Dropout", &["x", "", &t], vec![]);
        let r = b.node("Relu", &[&d], vec![]);
        let mut m = b.model(&[&r]);
        m.graph_mut().nodes_mut()[0].output.push("mask".into());
        m.graph_mut().edit_proto(|p| {
            p.output.push(crate::graph::make_value_info(
                "mask",
                crate::graph::DataType::Bool,
                &[],
            ))
        });
        let mut f = m.clone();
        let rep = fuse(&mut f, &FuseOptions::default()).unwrap();
        assert_eq!(count_ops(f.graph(), "Dropout"), 1);
        assert!(rep
            .refusals_of(PatternKind::Dropout)
            .next()
            .unwrap()
            .reason
            .contains("mask"));
    }

    #[test]
    fn dead_nodes_and_initializers_removed() {
        let mut b = Builder::new(&[1, 2, 4, 4], 1);
        let y = b.conv("x", 2, 1, 1, 0, 1, true);
        let _unused = b.conv(&y, 3, 3, 1, 1, 1, true);
        let _orphan = b.init("orphan", &[5], 0.0, 1.0);
        let out = b.node("Relu", &[&y], vec![]);
        let m = b.model(&[&out]);
        let mut f = m.clone();
        let rep = fuse(&mut f, &FuseOptions::default()).unwrap();
        assert_eq!(rep.count(PatternKind::DeadNode).fused, 1);
        assert_eq!(rep.count(PatternKind::DeadInitializer).fused, 3);
        assert_eq!(f.graph().nodes().len(), 2);
        assert_equivalent(&m, &f, 0.0);
    }
}
