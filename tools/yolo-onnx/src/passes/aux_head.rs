//! YOLOv9's auxiliary training head (`DualDDetect`, `TripleDDetect`): keep the main head, drop the rest.
//!
//! A YOLOv9 model exported before YOLOv9's own re-parameterization (`yolov9-c.pt` rather than
//! `yolov9-c-converted.pt`) carries the auxiliary branch used for training: a second neck and a second DFL head, and
//! two identically shaped detection outputs. `DualDDetect.forward` returns `[aux, main]` (`TripleDDetect` two
//! auxiliary heads, then the main one) and YOLOv9's `detect_dual.py` reads the last, so the main head is the
//! last of the DFL-decoded outputs in graph order. [`drop_auxiliary_heads`] removes the other DFL-decoded
//! outputs and every node and initializer only they used — exactly what YOLOv9's reparameterization script keeps,
//! without touching what the main output computes (its values are bit-identical).
//!
//! Unlike the [`fuse`](super::fuse) passes this changes the graph's outputs, so it runs before them and only
//! where the caller asks (`trt-onnx fuse` and `trt-build` unless `--keep-aux-head`).

use std::collections::HashSet;

use serde::Serialize;

use super::lint::dfl_nodes;
use crate::error::Result;
use crate::graph::{node_inputs_deep, value_info_dims, Graph};
use crate::model::Model;

/// What [`drop_auxiliary_heads`] removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuxHeadReport {
    /// The output kept (the main head).
    pub kept: String,
    /// The auxiliary outputs dropped, in graph order.
    pub dropped_outputs: Vec<String>,
    /// Nodes removed with them (the auxiliary branch and heads).
    pub nodes_removed: usize,
    /// Parameters (initializer elements) removed with them.
    pub params_removed: u64,
}

impl std::fmt::Display for AuxHeadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dropped the auxiliary training head{} {} ({} nodes, {} parameters); kept the main head '{}'",
            if self.dropped_outputs.len() == 1 {
                ""
            } else {
                "s"
            },
            self.dropped_outputs
                .iter()
                .map(|o| format!("'{o}'"))
                .collect::<Vec<_>>()
                .join(", "),
            self.nodes_removed,
            self.params_removed,
            self.kept
        )
    }
}

/// Nodes each output depends on (indices), through node inputs (subgraph captures included).
fn cone(g: &Graph, output: &str) -> HashSet<usize> {
    let producers = g.producers();
    let mut seen = HashSet::new();
    let mut stack = vec![output.to_string()];
    while let Some(v) = stack.pop() {
        if let Some(&(i, _)) = producers.get(&v) {
            if seen.insert(i) {
                stack.extend(node_inputs_deep(&g.nodes()[i]));
            }
        }
    }
    seen
}

/// Drops the auxiliary detection heads of a YOLOv9 dual/triple-head export; `Ok(None)` (model untouched) when the
/// graph is not one: fewer than two outputs decoded by their own DFL, or DFL outputs of different shapes.
pub fn drop_auxiliary_heads(model: &mut Model) -> Result<Option<AuxHeadReport>> {
    let g = model.graph();
    let dfl: HashSet<usize> = dfl_nodes(g).into_iter().collect();
    if dfl.len() < 2 {
        return Ok(None);
    }
    // Outputs whose value depends on a DFL decoder, with the DFL nodes each one uses.
    let mut heads: Vec<(String, HashSet<usize>)> = Vec::new();
    for o in g.outputs() {
        let c = cone(g, &o.name);
        let own: HashSet<usize> = c.intersection(&dfl).copied().collect();
        if !own.is_empty() {
            heads.push((o.name.clone(), c));
        }
    }
    if heads.len() < 2 {
        return Ok(None);
    }
    // Every head has its own DFL (disjoint decoders) and the same output shape: twin detection heads.
    let dfl_of = |c: &HashSet<usize>| c.intersection(&dfl).copied().collect::<HashSet<_>>();
    for (a, (_, ca)) in heads.iter().enumerate() {
        for (_, cb) in &heads[a + 1..] {
            if !dfl_of(ca).is_disjoint(&dfl_of(cb)) {
                return Ok(None);
            }
        }
    }
    let shape = |name: &str| {
        g.outputs()
            .iter()
            .find(|o| o.name == name)
            .and_then(value_info_dims)
    };
    let first = shape(&heads[0].0);
    if heads.iter().any(|(n, _)| shape(n) != first) {
        return Ok(None);
    }
    let kept = heads.last().map(|(n, _)| n.clone()).unwrap_or_default();
    let dropped: Vec<String> = heads[..heads.len() - 1]
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    let nodes_before = g.nodes().len();
    let params = |g: &Graph| -> u64 {
        g.initializers()
            .iter()
            .map(|t| t.dims.iter().product::<i64>().max(0) as u64)
            .sum()
    };
    let params_before = params(g);
    let graph = model.graph_mut();
    graph.edit_proto(|p| p.output.retain(|o| !dropped.contains(&o.name)));
    let mut scratch = super::FuseReport::default();
    super::cleanup::remove_dead(graph, &mut scratch, true)?;
    Ok(Some(AuxHeadReport {
        kept,
        dropped_outputs: dropped,
        nodes_removed: nodes_before - graph.nodes().len(),
        params_removed: params_before.saturating_sub(params(graph)),
    }))
}
