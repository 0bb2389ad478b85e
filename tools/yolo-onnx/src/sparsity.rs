//! 2:4 structured sparsity (`trt-build --sparsity force`, trtexec's `--sparsity=force`): prunes the weights of Conv,
//! MatMul and Gemm to the pattern TensorRT's sparse tensor-core kernels run (`BuilderFlag::kSPARSE_WEIGHTS`).
//!
//! # The pattern
//! Along the *reduction* axis of a layer (its input channels), every group of 4 consecutive weights keeps at most 2
//! non-zeros. Here the 2 of largest magnitude are kept (ties: the first), the other 2 become 0; a last, shorter group
//! (the channel count is not a multiple of 4) keeps at most 2 as well, as if padded with zeros. Where the groups run,
//! per operator (TensorRT's rule: for each output channel and each kernel position, every 4 input channels):
//!
//! | operator | weight | groups along | for each |
//! | --- | --- | --- | --- |
//! | Conv | `W[K, C/group, R, S]` (KCRS) | axis 1, the input channels `C` | output channel `k`, kernel position `(r, s)` |
//! | MatMul `A × B` | `B[…, K, N]` | axis −2, the reduced `K` | batch index, output column `n` |
//! | Gemm, `transB = 0` | `B[K, N]` | axis 0, `K` | output column `n` |
//! | Gemm, `transB = 1` | `B[N, K]` | axis 1, `K` | output row `n` |
//!
//! Only initializers read as the weight operand are pruned (FLOAT or FLOAT16). A weight also read elsewhere (another
//! operator, a second use with another layout, a graph output) is left alone and reported: pruning it would change
//! that reader too. Depthwise convolutions (`C/group = 1`) have nothing to prune.
//!
//! # Accuracy
//! Pruning removes half of every pruned layer's weights: outputs change, by design. TensorRT's own advice is to
//! fine-tune a model with the pattern (NVIDIA's ASP) and build it with `--sparsity enable`; `force` is for measuring
//! what sparse kernels would gain, not for deployment of an unretrained model.

use half::f16;
use ndarray::ArrayD;

use crate::error::{Error, Result};
use crate::graph::{attr_i, tensor_from_f16, tensor_from_f32, tensor_to_f32, DataType, Graph};
use crate::model::Model;

/// The group size and the non-zeros kept per group.
pub const GROUP: usize = 4;
/// Non-zeros kept per group of [`GROUP`].
pub const KEEP: usize = 2;

/// One pruned initializer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunedWeight {
    /// The initializer.
    pub initializer: String,
    /// The operator reading it (`Conv`, `MatMul`, `Gemm`).
    pub op_type: String,
    /// Weights set to zero here.
    pub zeroed: usize,
    /// Weights in the tensor.
    pub total: usize,
}

/// A weight left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedWeight {
    /// The tensor name.
    pub name: String,
    /// Why it was not pruned.
    pub reason: String,
}

/// What [`prune_2_4`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SparsityReport {
    /// The pruned weights, in node order.
    pub pruned: Vec<PrunedWeight>,
    /// Weights of Conv/MatMul/Gemm left alone.
    pub skipped: Vec<SkippedWeight>,
}

impl SparsityReport {
    /// Weights set to zero in all.
    pub fn zeroed(&self) -> usize {
        self.pruned.iter().map(|p| p.zeroed).sum()
    }

    /// One line: `12 weights pruned to 2:4 (Conv 10, Gemm 2), 1834 of 4096 values zeroed; 1 left alone`.
    pub fn summary(&self) -> String {
        let mut per_op: Vec<(String, usize)> = Vec::new();
        for p in &self.pruned {
            match per_op.iter_mut().find(|(op, _)| *op == p.op_type) {
                Some((_, n)) => *n += 1,
                None => per_op.push((p.op_type.clone(), 1)),
            }
        }
        let ops: Vec<String> = per_op.iter().map(|(op, n)| format!("{op} {n}")).collect();
        let total: usize = self.pruned.iter().map(|p| p.total).sum();
        let mut s = format!(
            "{} weights pruned to 2:4 ({}), {} of {} values zeroed",
            self.pruned.len(),
            if ops.is_empty() {
                "none".to_owned()
            } else {
                ops.join(", ")
            },
            self.zeroed(),
            total
        );
        if !self.skipped.is_empty() {
            s.push_str(&format!("; {} left alone", self.skipped.len()));
        }
        s
    }
}

/// How a weight tensor is grouped: viewed as `[outer, channels, inner]`, groups of [`GROUP`] run along `channels`
/// for every `(outer, inner)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Product of the axes before the channel axis.
    pub outer: usize,
    /// The reduction (input-channel) axis the groups run along.
    pub channels: usize,
    /// Product of the axes after it.
    pub inner: usize,
}

impl Layout {
    /// The layout of `dims` with groups along `axis`.
    pub fn along(dims: &[usize], axis: usize) -> Layout {
        Layout {
            outer: dims[..axis].iter().product(),
            channels: dims[axis],
            inner: dims[axis + 1..].iter().product(),
        }
    }
}

/// Prunes `values` (row-major, `layout.outer × layout.channels × layout.inner`) in place: in every group of
/// [`GROUP`] consecutive channels (the last may be shorter) only the [`KEEP`] values of largest magnitude stay (ties:
/// the lower channel). Returns how many non-zero values became zero.
pub fn prune_groups(values: &mut [f32], layout: Layout) -> usize {
    let Layout {
        outer,
        channels,
        inner,
    } = layout;
    debug_assert_eq!(values.len(), outer * channels * inner);
    let mut zeroed = 0;
    for o in 0..outer {
        for i in 0..inner {
            let at = |c: usize| (o * channels + c) * inner + i;
            for start in (0..channels).step_by(GROUP) {
                let len = GROUP.min(channels - start);
                if len <= KEEP {
                    continue;
                }
                let mut order: Vec<usize> = (start..start + len).collect();
                // Largest magnitude first; the sort is stable, so ties keep the lower channel.
                order.sort_by(|&a, &b| values[at(b)].abs().total_cmp(&values[at(a)].abs()));
                for &c in &order[KEEP..] {
                    let v = &mut values[at(c)];
                    if *v != 0.0 {
                        zeroed += 1;
                    }
                    *v = 0.0;
                }
            }
        }
    }
    zeroed
}

/// The channel axis of `node`'s weight operand `input` (its index in `node.input`), `None` when `input` is not the
/// weight operand this pass prunes.
fn weight_axis(g: &Graph, node_index: usize, input: usize, rank: usize) -> Result<Option<usize>> {
    let node = &g.nodes()[node_index];
    Ok(match (node.op_type.as_str(), input) {
        ("Conv", 1) if rank >= 3 => Some(1),
        ("MatMul", 1) if rank >= 2 => Some(rank - 2),
        ("Gemm", 1) if rank == 2 => Some(if attr_i(node, "transB", 0)? != 0 {
            1
        } else {
            0
        }),
        _ => None,
    })
}

/// Prunes every Conv, MatMul and Gemm weight initializer of `model` to 2:4 structured sparsity (see the module
/// docs). The graph's structure, names and types are unchanged; only weight values become zero.
pub fn prune_2_4(model: &mut Model) -> Result<SparsityReport> {
    let source = model.source_name().to_string();
    prune_graph(model.graph_mut()).map_err(|e| e.in_model(&source))
}

/// [`prune_2_4`] on a bare [`Graph`].
pub fn prune_graph(g: &mut Graph) -> Result<SparsityReport> {
    let mut report = SparsityReport::default();
    // Every read of every initializer: (node index, input index).
    let mut uses: std::collections::HashMap<String, Vec<(usize, usize)>> = Default::default();
    for (ni, node) in g.nodes().iter().enumerate() {
        for (ii, name) in node.input.iter().enumerate() {
            if !name.is_empty() && g.is_initializer(name) {
                uses.entry(name.clone()).or_default().push((ni, ii));
            }
        }
    }
    let mut done: std::collections::HashSet<String> = Default::default();
    let mut candidates: Vec<(usize, usize, String)> = Vec::new();
    for (ni, node) in g.nodes().iter().enumerate() {
        if matches!(node.op_type.as_str(), "Conv" | "MatMul" | "Gemm") {
            if let Some(w) = node.input.get(1).filter(|w| g.is_initializer(w)) {
                candidates.push((ni, 1, w.clone()));
            }
        }
    }
    for (ni, ii, name) in candidates {
        if !done.insert(name.clone()) {
            continue;
        }
        let op_type = g.nodes()[ni].op_type.clone();
        let Some(t) = g.initializer(&name) else {
            continue;
        };
        let elem = t.data_type;
        let float16 = elem == DataType::Float16 as i32;
        if elem != DataType::Float as i32 && !float16 {
            report.skipped.push(SkippedWeight {
                name,
                reason: format!(
                    "{op_type} weight of type {}: only FLOAT and FLOAT16 weights are pruned",
                    crate::graph::dtype_name(elem)
                ),
            });
            continue;
        }
        let array = tensor_to_f32(t)?;
        let dims = array.shape().to_vec();
        let Some(axis) = weight_axis(g, ni, ii, dims.len())? else {
            report.skipped.push(SkippedWeight {
                name,
                reason: format!(
                    "{op_type} weight of rank {}: no channel axis to group",
                    dims.len()
                ),
            });
            continue;
        };
        // Every reader must be a weight operand with the same grouping; a graph output must keep its values.
        let mut conflict = None;
        for &(other, input) in &uses[&name] {
            let same = weight_axis(g, other, input, dims.len())? == Some(axis)
                && g.nodes()[other].op_type == op_type;
            if !same {
                conflict = Some(format!(
                    "also read by {} `{}` (input {input})",
                    g.nodes()[other].op_type,
                    g.nodes()[other].name
                ));
                break;
            }
        }
        if conflict.is_none() && g.is_graph_output(&name) {
            conflict = Some("it is also a graph output".to_owned());
        }
        if let Some(why) = conflict {
            report.skipped.push(SkippedWeight {
                name,
                reason: format!("{op_type} weight {why}: pruning would change that reader too"),
            });
            continue;
        }
        let layout = Layout::along(&dims, axis);
        let mut values: Vec<f32> = array.iter().copied().collect();
        let zeroed = prune_groups(&mut values, layout);
        let total = values.len();
        let pruned = ArrayD::from_shape_vec(dims.clone(), values)
            .map_err(|e| Error::tensor(&name, e.to_string()))?;
        let tensor = if float16 {
            tensor_from_f16(&name, &pruned.mapv(f16::from_f32))
        } else {
            tensor_from_f32(&name, &pruned)
        };
        g.set_initializer(tensor);
        report.pruned.push(PrunedWeight {
            initializer: name,
            op_type,
            zeroed,
            total,
        });
    }
    Ok(report)
}

/// Whether `values` (laid out as `layout`) has the 2:4 pattern: at most [`KEEP`] non-zeros in every group of
/// [`GROUP`] channels.
pub fn is_2_4(values: &[f32], layout: Layout) -> bool {
    let Layout {
        outer,
        channels,
        inner,
    } = layout;
    (0..outer).all(|o| {
        (0..inner).all(|i| {
            (0..channels).step_by(GROUP).all(|start| {
                (start..(start + GROUP).min(channels))
                    .filter(|&c| values[(o * channels + c) * inner + i] != 0.0)
                    .count()
                    <= KEEP
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{make_attr_i, make_node, make_value_info};
    use ndarray::IxDyn;

    /// Deterministic non-zero values with distinct magnitudes in every group.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let m = ((s >> 33) % 1000) as f32 / 1000.0 + 0.001 * (i % 7) as f32 + 0.01;
                if (s >> 20) & 1 == 0 {
                    m
                } else {
                    -m
                }
            })
            .collect()
    }

    /// The reference: for each group, the two largest magnitudes by a plain scan (not the sort the pass uses).
    fn expected(values: &[f32], layout: Layout) -> Vec<f32> {
        let mut out = values.to_vec();
        for o in 0..layout.outer {
            for i in 0..layout.inner {
                let idx = |c: usize| (o * layout.channels + c) * layout.inner + i;
                let mut start = 0;
                while start < layout.channels {
                    let end = (start + GROUP).min(layout.channels);
                    if end - start > KEEP {
                        let mut first = start;
                        for c in start..end {
                            if values[idx(c)].abs() > values[idx(first)].abs() {
                                first = c;
                            }
                        }
                        let mut second = if first == start { start + 1 } else { start };
                        for c in start..end {
                            if c != first && values[idx(c)].abs() > values[idx(second)].abs() {
                                second = c;
                            }
                        }
                        for c in start..end {
                            if c != first && c != second {
                                out[idx(c)] = 0.0;
                            }
                        }
                    }
                    start = end;
                }
            }
        }
        out
    }

    #[test]
    fn two_largest_of_every_four_are_kept_along_the_channel_axis() {
        // KCRS = [3, 8, 2, 2]: groups along C for every (k, r, s).
        let layout = Layout::along(&[3, 8, 2, 2], 1);
        assert_eq!(
            layout,
            Layout {
                outer: 3,
                channels: 8,
                inner: 4
            }
        );
        let orig = values(3 * 8 * 4, 7);
        let mut v = orig.clone();
        let zeroed = prune_groups(&mut v, layout);
        assert_eq!(v, expected(&orig, layout));
        assert_eq!(zeroed, 3 * 4 * 2 * 2, "two of every four values");
        for k in 0..3 {
            for rs in 0..4 {
                for g in 0..2 {
                    let group: Vec<f32> = (0..4).map(|c| v[(k * 8 + g * 4 + c) * 4 + rs]).collect();
                    assert_eq!(group.iter().filter(|x| **x != 0.0).count(), 2, "{group:?}");
                    // The survivors are the group's two largest magnitudes, unchanged.
                    let mut mags: Vec<f32> = (0..4)
                        .map(|c| orig[(k * 8 + g * 4 + c) * 4 + rs].abs())
                        .collect();
                    mags.sort_by(|a, b| b.total_cmp(a));
                    let kept: Vec<f32> = group
                        .iter()
                        .filter(|x| **x != 0.0)
                        .map(|x| x.abs())
                        .collect();
                    assert!(kept.iter().all(|x| *x >= mags[1]), "{kept:?} vs {mags:?}");
                }
            }
        }
        assert!(is_2_4(&v, layout));
        assert!(!is_2_4(&orig, layout));
    }

    #[test]
    fn groups_run_along_channels_not_along_memory() {
        // [1, 4, 1, 2]: channel c of kernel position s is at c * 2 + s. A contiguous grouping would mix positions.
        let orig = vec![1.0, -8.0, 2.0, 7.0, -3.0, 6.0, 4.0, 5.0];
        let mut v = orig.clone();
        prune_groups(&mut v, Layout::along(&[1, 4, 1, 2], 1));
        // Position 0: channels 1, 2, -3, 4 keep -3 and 4; position 1: -8, 7, 6, 5 keep -8 and 7.
        assert_eq!(v, vec![0.0, -8.0, 0.0, 7.0, -3.0, 0.0, 4.0, 0.0]);
    }

    #[test]
    fn short_last_groups_and_ties() {
        // Six channels: a group of four, then a group of two (kept whole).
        let mut v = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(prune_groups(&mut v, Layout::along(&[6], 0)), 2);
        assert_eq!(v, vec![0.0, 0.0, 3.0, 4.0, 5.0, 6.0]);
        // Three channels (an RGB input layer): at most two survive, as if padded with a zero.
        let mut v = vec![-1.0, 0.5, 2.0];
        prune_groups(&mut v, Layout::along(&[3], 0));
        assert_eq!(v, vec![-1.0, 0.0, 2.0]);
        // Equal magnitudes: the lower channels win.
        let mut v = vec![1.0, -1.0, 1.0, 1.0];
        prune_groups(&mut v, Layout::along(&[4], 0));
        assert_eq!(v, vec![1.0, -1.0, 0.0, 0.0]);
        // Zeros already there are not counted as pruned.
        let mut v = vec![0.0, 0.0, 3.0, 4.0];
        assert_eq!(prune_groups(&mut v, Layout::along(&[4], 0)), 0);
    }

    fn model_with(
        nodes: Vec<tract_onnx::pb::NodeProto>,
        inits: Vec<tract_onnx::pb::TensorProto>,
    ) -> Model {
        let graph = tract_onnx::pb::GraphProto {
            name: "g".into(),
            input: vec![make_value_info("x", DataType::Float, &[1, 8, 4, 4])],
            output: vec![
                make_value_info("y", DataType::Float, &[1, 6, 4, 4]),
                make_value_info("z", DataType::Float, &[2, 3]),
                make_value_info("u", DataType::Float, &[2, 5]),
            ],
            initializer: inits,
            node: nodes,
            ..Default::default()
        };
        Model::new(graph, 17)
    }

    fn init(name: &str, dims: &[usize], seed: u64) -> tract_onnx::pb::TensorProto {
        let n = dims.iter().product();
        tensor_from_f32(
            name,
            &ArrayD::from_shape_vec(IxDyn(dims), values(n, seed)).unwrap(),
        )
    }

    #[test]
    fn conv_matmul_and_gemm_weights_are_pruned_along_their_input_channels() {
        let mut gemm = make_node("Gemm", "gemm", &["a", "wg"], &["u"], vec![]);
        gemm.attribute.push(make_attr_i("transB", 1));
        let mut m = model_with(
            vec![
                make_node("Conv", "conv", &["x", "wc"], &["y"], vec![]),
                make_node("MatMul", "mm", &["a", "wm"], &["z"], vec![]),
                gemm,
                // A weight also read by an Add is left alone.
                make_node("MatMul", "mm2", &["a", "shared"], &["s1"], vec![]),
                make_node("Add", "add", &["shared", "shared"], &["s2"], vec![]),
            ],
            vec![
                init("wc", &[6, 8, 3, 3], 1),
                init("wm", &[8, 3], 2),
                init("wg", &[5, 8], 3),
                init("shared", &[8, 3], 4),
                init("a", &[2, 8], 5),
            ],
        );
        let before = m.clone();
        let rep = prune_2_4(&mut m).unwrap();
        let names: Vec<&str> = rep.pruned.iter().map(|p| p.initializer.as_str()).collect();
        assert_eq!(names, ["wc", "wm", "wg"]);
        assert_eq!(rep.skipped.len(), 1, "{rep:?}");
        assert_eq!(rep.skipped[0].name, "shared");
        assert!(rep.skipped[0].reason.contains("Add `add`"), "{rep:?}");
        let get = |m: &Model, n: &str| -> Vec<f32> {
            m.graph()
                .initializer_f32(n)
                .unwrap()
                .unwrap()
                .iter()
                .copied()
                .collect()
        };
        for (name, dims, axis) in [
            ("wc", vec![6, 8, 3, 3], 1),
            ("wm", vec![8, 3], 0),
            ("wg", vec![5, 8], 1),
        ] {
            let layout = Layout::along(&dims, axis);
            let orig = get(&before, name);
            assert_eq!(get(&m, name), expected(&orig, layout), "{name}");
            assert!(is_2_4(&get(&m, name), layout), "{name}");
            let nz = get(&m, name).iter().filter(|v| **v != 0.0).count();
            assert_eq!(nz * 2, orig.len(), "{name}: half of the values stay");
        }
        assert_eq!(get(&m, "shared"), get(&before, "shared"));
        assert_eq!(get(&m, "a"), get(&before, "a"), "the MatMul's data operand");
        assert_eq!(rep.zeroed(), (6 * 8 * 9 + 8 * 3 + 5 * 8) / 2);
        assert!(
            rep.summary()
                .starts_with("3 weights pruned to 2:4 (Conv 1, MatMul 1, Gemm 1)"),
            "{}",
            rep.summary()
        );
    }

    #[test]
    fn float16_weights_stay_float16() {
        let w: ArrayD<f16> = ArrayD::from_shape_vec(
            IxDyn(&[2, 4, 1, 1]),
            values(8, 9).into_iter().map(f16::from_f32).collect(),
        )
        .unwrap();
        let mut m = model_with(
            vec![make_node("Conv", "conv", &["x", "w"], &["y"], vec![])],
            vec![tensor_from_f16("w", &w)],
        );
        let rep = prune_2_4(&mut m).unwrap();
        assert_eq!(rep.pruned.len(), 1);
        let t = m.graph().initializer("w").unwrap();
        assert_eq!(t.data_type, DataType::Float16 as i32);
        let v: Vec<f32> = tensor_to_f32(t).unwrap().iter().copied().collect();
        assert!(is_2_4(&v, Layout::along(&[2, 4, 1, 1], 1)));
        let orig: Vec<f32> = w.iter().map(|x| x.to_f32()).collect();
        assert_eq!(v, expected(&orig, Layout::along(&[2, 4, 1, 1], 1)));
    }
}
