//! Per-run fusion report: patterns found and fused by kind, refusals with reasons, node and
//! parameter counts and estimated FLOPs before/after.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Serialize;

use crate::graph::{attr_i, attr_ints, tensor_dims, value_info_dims, Graph};

/// Kinds of patterns the passes look for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatternKind {
    /// Conv followed by BatchNormalization.
    ConvBn,
    /// BatchNormalization not preceded by a fusible Conv (only reported, or used as a RepConv identity branch).
    StandaloneBn,
    /// Add of several Conv branches sharing one input (RepConv, RepConvN, generalized).
    RepConv,
    /// YOLOv7 ImplicitA: Add of a per-channel constant before a Conv.
    ImplicitA,
    /// YOLOv7 ImplicitM: Mul of a per-channel constant after a Conv.
    ImplicitM,
    /// Node whose inputs are all constant, evaluated at fuse time.
    ConstantFold,
    /// Identity node.
    Identity,
    /// Dropout node (identity at inference).
    Dropout,
    /// Node whose outputs are not used.
    DeadNode,
    /// Initializer no node uses.
    DeadInitializer,
}

impl PatternKind {
    /// Short printable name.
    pub fn as_str(self) -> &'static str {
        match self {
            PatternKind::ConvBn => "conv+bn",
            PatternKind::StandaloneBn => "standalone-bn",
            PatternKind::RepConv => "repconv",
            PatternKind::ImplicitA => "implicit-a",
            PatternKind::ImplicitM => "implicit-m",
            PatternKind::ConstantFold => "constant-fold",
            PatternKind::Identity => "identity",
            PatternKind::Dropout => "dropout",
            PatternKind::DeadNode => "dead-node",
            PatternKind::DeadInitializer => "dead-initializer",
        }
    }
}

impl fmt::Display for PatternKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many instances of a pattern were found and fused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PatternCount {
    /// Instances found.
    pub found: usize,
    /// Instances fused (removed/merged).
    pub fused: usize,
}

/// A pattern instance left alone, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Pattern kind.
    pub kind: PatternKind,
    /// Node the pattern is anchored at (BN, Add, Mul, Conv...).
    pub node: String,
    /// Why it was not fused.
    pub reason: String,
}

/// Size statistics of a graph.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GraphStats {
    /// Number of nodes.
    pub nodes: usize,
    /// Number of initializers.
    pub initializers: usize,
    /// Total number of initializer elements.
    pub params: u64,
    /// Node count per op type.
    pub op_histogram: BTreeMap<String, usize>,
    /// Estimated FLOPs of one inference (2 per multiply-add; elementwise ops 1 per output element).
    /// `None` when no node's output shape could be inferred.
    pub flops: Option<u64>,
    /// Nodes whose output shape could not be inferred (their FLOPs are not counted).
    pub flops_unknown_nodes: usize,
}

impl GraphStats {
    /// Computes the statistics; `input_shapes` overrides dynamic input dims (dynamic batch → 1).
    pub fn of(g: &Graph, input_shapes: &HashMap<String, Vec<usize>>) -> GraphStats {
        let mut op_histogram = BTreeMap::new();
        for n in g.nodes() {
            *op_histogram.entry(n.op_type.clone()).or_insert(0) += 1;
        }
        let params = g
            .initializers()
            .iter()
            .map(|t| {
                tensor_dims(t)
                    .map(|d| d.iter().product::<usize>() as u64)
                    .unwrap_or(0)
            })
            .sum();
        let (flops, unknown) = crate::passes::report::estimate_flops(g, input_shapes);
        GraphStats {
            nodes: g.nodes().len(),
            initializers: g.initializers().len(),
            params,
            op_histogram,
            flops,
            flops_unknown_nodes: unknown,
        }
    }
}

/// Report of one [`fuse`](crate::passes::fuse) run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FuseReport {
    /// Found/fused counts by pattern kind.
    pub patterns: BTreeMap<PatternKind, PatternCount>,
    /// Every refusal with its reason.
    pub refusals: Vec<Refusal>,
    /// Statistics before fusion.
    pub before: GraphStats,
    /// Statistics after fusion.
    pub after: GraphStats,
}

impl FuseReport {
    /// Records one found instance.
    pub fn found(&mut self, kind: PatternKind) {
        self.patterns.entry(kind).or_default().found += 1;
    }

    /// Records one fused instance.
    pub fn fused(&mut self, kind: PatternKind) {
        self.patterns.entry(kind).or_default().fused += 1;
    }

    /// Records a refusal.
    pub fn refuse(
        &mut self,
        kind: PatternKind,
        node: impl Into<String>,
        reason: impl Into<String>,
    ) {
        self.refusals.push(Refusal {
            kind,
            node: node.into(),
            reason: reason.into(),
        });
    }

    /// Counts for one kind (zero when never seen).
    pub fn count(&self, kind: PatternKind) -> PatternCount {
        self.patterns.get(&kind).copied().unwrap_or_default()
    }

    /// Refusals of one kind.
    pub fn refusals_of(&self, kind: PatternKind) -> impl Iterator<Item = &Refusal> {
        self.refusals.iter().filter(move |r| r.kind == kind)
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

fn human(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=9_999_999 => format!("{:.1}K", n as f64 / 1e3),
        10_000_000..=9_999_999_999 => format!("{:.2}M", n as f64 / 1e6),
        _ => format!("{:.2}G", n as f64 / 1e9),
    }
}

impl fmt::Display for FuseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<18} {:>7} {:>7}", "pattern", "found", "fused")?;
        for (k, c) in &self.patterns {
            writeln!(f, "{:<18} {:>7} {:>7}", k.as_str(), c.found, c.fused)?;
        }
        let fl = |s: &GraphStats| match s.flops {
            Some(x) if s.flops_unknown_nodes == 0 => human(x),
            Some(x) => format!(
                "{} (+{} nodes of unknown shape)",
                human(x),
                s.flops_unknown_nodes
            ),
            None => "unknown".to_string(),
        };
        writeln!(f, "nodes:  {} -> {}", self.before.nodes, self.after.nodes)?;
        writeln!(
            f,
            "params: {} -> {}",
            human(self.before.params),
            human(self.after.params)
        )?;
        writeln!(f, "FLOPs:  {} -> {}", fl(&self.before), fl(&self.after))?;
        if !self.refusals.is_empty() {
            writeln!(f, "refused ({}):", self.refusals.len())?;
            for r in &self.refusals {
                writeln!(f, "  {} at '{}': {}", r.kind, r.node, r.reason)?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// FLOPs estimate with a small shape propagation (common YOLO ops only).

/// The numpy-style broadcast of two shapes, `None` when they do not broadcast.
pub(crate) fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let x = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let y = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (x, y) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

fn pool_out(
    input: usize,
    k: usize,
    s: usize,
    d: usize,
    pb: usize,
    pe: usize,
    ceil: bool,
) -> Option<usize> {
    let eff = d.checked_mul(k.checked_sub(1)?)? + 1;
    let span = (input + pb + pe).checked_sub(eff)?;
    Some(if ceil { span.div_ceil(s) } else { span / s } + 1)
}

/// Estimates FLOPs; returns (total if any node was sized, number of nodes that could not be sized).
pub(crate) fn estimate_flops(
    g: &Graph,
    input_shapes: &HashMap<String, Vec<usize>>,
) -> (Option<u64>, usize) {
    let mut shapes: HashMap<String, Vec<usize>> = HashMap::new();
    for t in g.initializers() {
        if let Ok(d) = tensor_dims(t) {
            shapes.insert(t.name.clone(), d);
        }
    }
    for vi in g.inputs() {
        if let Some(s) = input_shapes.get(&vi.name) {
            shapes.insert(vi.name.clone(), s.clone());
            continue;
        }
        if let Some(d) = value_info_dims(vi) {
            let s: Option<Vec<usize>> = d
                .iter()
                .enumerate()
                .map(|(i, x)| x.map(|v| v as usize).or((i == 0).then_some(1)))
                .collect();
            if let Some(s) = s {
                shapes.insert(vi.name.clone(), s);
            }
        }
    }
    let order = match g.topo_order() {
        Ok(o) => o,
        Err(_) => return (None, g.nodes().len()),
    };
    let (mut total, mut unknown, mut any) = (0u64, 0usize, false);
    for i in order {
        let n = &g.nodes()[i];
        let ins: Vec<Option<&Vec<usize>>> = n.input.iter().map(|x| shapes.get(x)).collect();
        let in0 = ins.first().copied().flatten().cloned();
        let numel = |s: &[usize]| s.iter().product::<usize>() as u64;
        let int_list = |idx: usize| {
            g.initializer_i64(n.input.get(idx)?)
                .ok()
                .flatten()
                .map(|a| a.iter().copied().collect::<Vec<i64>>())
        };
        let mut flops = 0u64;
        let outs: Option<Vec<Vec<usize>>> = (|| -> Option<Vec<Vec<usize>>> {
            match n.op_type.as_str() {
                "Conv" => {
                    let x = in0.clone()?;
                    let w = ins.get(1).copied().flatten()?;
                    if x.len() != 4 || w.len() != 4 {
                        return None;
                    }
                    let s = attr_ints(n, "strides").ok().flatten().unwrap_or(vec![1, 1]);
                    let d = attr_ints(n, "dilations")
                        .ok()
                        .flatten()
                        .unwrap_or(vec![1, 1]);
                    let p = attr_ints(n, "pads")
                        .ok()
                        .flatten()
                        .unwrap_or(vec![0, 0, 0, 0]);
                    if s.len() != 2 || d.len() != 2 || p.len() != 4 {
                        return None;
                    }
                    let u = |v: i64| usize::try_from(v).ok();
                    let h = pool_out(
                        x[2],
                        w[2],
                        u(s[0])?.max(1),
                        u(d[0])?,
                        u(p[0])?,
                        u(p[2])?,
                        false,
                    )?;
                    let wd = pool_out(
                        x[3],
                        w[3],
                        u(s[1])?.max(1),
                        u(d[1])?,
                        u(p[1])?,
                        u(p[3])?,
                        false,
                    )?;
                    let out = vec![x[0], w[0], h, wd];
                    flops = 2 * numel(&out) * (w[1] * w[2] * w[3]) as u64;
                    Some(vec![out])
                }
                "MaxPool" | "AveragePool" => {
                    let x = in0.clone()?;
                    let k = attr_ints(n, "kernel_shape").ok().flatten()?;
                    if x.len() != 4 || k.len() != 2 {
                        return None;
                    }
                    let s = attr_ints(n, "strides").ok().flatten().unwrap_or(vec![1, 1]);
                    let p = attr_ints(n, "pads")
                        .ok()
                        .flatten()
                        .unwrap_or(vec![0, 0, 0, 0]);
                    let ceil = attr_i(n, "ceil_mode", 0).ok()? != 0;
                    let u = |v: i64| usize::try_from(v).ok();
                    let h = pool_out(
                        x[2],
                        u(k[0])?,
                        u(*s.first()?)?.max(1),
                        1,
                        u(*p.first()?)?,
                        u(*p.get(2)?)?,
                        ceil,
                    )?;
                    let w = pool_out(
                        x[3],
                        u(k[1])?,
                        u(*s.get(1)?)?.max(1),
                        1,
                        u(*p.get(1)?)?,
                        u(*p.get(3)?)?,
                        ceil,
                    )?;
                    let out = vec![x[0], x[1], h, w];
                    flops = numel(&out) * (k[0] * k[1]) as u64;
                    Some(vec![out])
                }
                "GlobalAveragePool" | "GlobalMaxPool" => {
                    let x = in0.clone()?;
                    flops = numel(&x);
                    let mut out = x.clone();
                    for d in out.iter_mut().skip(2) {
                        *d = 1;
                    }
                    Some(vec![out])
                }
                "Relu" | "LeakyRelu" | "Sigmoid" | "Tanh" | "HardSigmoid" | "HardSwish" | "Elu"
                | "Selu" | "Mish" | "Softplus" | "Clip" | "Identity" | "Dropout" | "Exp"
                | "Log" | "Sqrt" | "Neg" | "Abs" | "Softmax" | "BatchNormalization" | "Cast"
                | "Floor" | "Ceil" | "Round" | "Reciprocal" | "Erf" | "Gelu" => {
                    let x = in0.clone()?;
                    flops = numel(&x)
                        * if n.op_type == "BatchNormalization" {
                            2
                        } else {
                            1
                        };
                    Some(vec![x])
                }
                "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Max" | "Min" | "Equal" | "Greater"
                | "Less" | "Where" | "And" | "Or" => {
                    let mut out = in0.clone()?;
                    for s in ins.iter().skip(1) {
                        out = broadcast(&out, s.as_ref()?)?;
                    }
                    flops = numel(&out);
                    Some(vec![out])
                }
                "Concat" => {
                    let axis = attr_i(n, "axis", 0).ok()?;
                    let first = in0.clone()?;
                    let ax = if axis < 0 {
                        first.len() as i64 + axis
                    } else {
                        axis
                    };
                    let ax = usize::try_from(ax).ok().filter(|&a| a < first.len())?;
                    let mut out = first;
                    out[ax] = 0;
                    for s in &ins {
                        out[ax] += s.as_ref()?.get(ax)?;
                    }
                    Some(vec![out])
                }
                "Resize" | "Upsample" => {
                    let x = in0.clone()?;
                    let sizes = int_list(3);
                    if let Some(s) = sizes.filter(|s| s.len() == x.len()) {
                        return Some(vec![s.iter().map(|&v| v.max(0) as usize).collect()]);
                    }
                    let scales_idx = if n.op_type == "Upsample" { 1 } else { 2 };
                    let sc = g.initializer_f32(n.input.get(scales_idx)?).ok().flatten()?;
                    if sc.len() != x.len() {
                        return None;
                    }
                    let out: Vec<usize> = x
                        .iter()
                        .zip(sc.iter())
                        .map(|(&d, &s)| (d as f32 * s).floor() as usize)
                        .collect();
                    flops = numel(&out);
                    Some(vec![out])
                }
                "Reshape" => {
                    let x = in0.clone()?;
                    let spec = int_list(1)?;
                    let total = numel(&x);
                    let mut out = Vec::with_capacity(spec.len());
                    let mut infer = None;
                    for (i, &v) in spec.iter().enumerate() {
                        match v {
                            0 => out.push(*x.get(i)?),
                            -1 => {
                                infer = Some(i);
                                out.push(1);
                            }
                            v if v > 0 => out.push(v as usize),
                            _ => return None,
                        }
                    }
                    if let Some(i) = infer {
                        let rest = numel(&out).max(1);
                        out[i] = (total / rest) as usize;
                    }
                    (numel(&out) == total).then_some(vec![out])
                }
                "Transpose" => {
                    let x = in0.clone()?;
                    let perm = attr_ints(n, "perm")
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| (0..x.len() as i64).rev().collect());
                    let out: Option<Vec<usize>> = perm
                        .iter()
                        .map(|&p| x.get(usize::try_from(p).ok()?).copied())
                        .collect();
                    Some(vec![out?])
                }
                "Flatten" => {
                    let x = in0.clone()?;
                    let axis = attr_i(n, "axis", 1).ok()?;
                    let ax = usize::try_from(if axis < 0 {
                        x.len() as i64 + axis
                    } else {
                        axis
                    })
                    .ok()?
                    .min(x.len());
                    Some(vec![vec![
                        numel(&x[..ax]) as usize,
                        numel(&x[ax..]) as usize,
                    ]])
                }
                "Split" => {
                    let x = in0.clone()?;
                    let axis = attr_i(n, "axis", 0).ok()?;
                    let ax = usize::try_from(if axis < 0 {
                        x.len() as i64 + axis
                    } else {
                        axis
                    })
                    .ok()
                    .filter(|&a| a < x.len())?;
                    let sizes = attr_ints(n, "split")
                        .ok()
                        .flatten()
                        .or_else(|| int_list(1))
                        .unwrap_or_else(|| {
                            let k = n.output.len().max(1);
                            vec![(x[ax] / k) as i64; k]
                        });
                    if sizes.len() != n.output.len() {
                        return None;
                    }
                    Some(
                        sizes
                            .iter()
                            .map(|&s| {
                                let mut o = x.clone();
                                o[ax] = s.max(0) as usize;
                                o
                            })
                            .collect(),
                    )
                }
                "MatMul" => {
                    let a = in0.clone()?;
                    let b = ins.get(1).copied().flatten()?.clone();
                    if a.len() < 2 || b.len() < 2 || a[a.len() - 1] != b[b.len() - 2] {
                        return None;
                    }
                    let batch = broadcast(&a[..a.len() - 2], &b[..b.len() - 2])?;
                    let mut out = batch;
                    out.push(a[a.len() - 2]);
                    out.push(b[b.len() - 1]);
                    flops = 2 * numel(&out) * a[a.len() - 1] as u64;
                    Some(vec![out])
                }
                "Gemm" => {
                    let a = in0.clone()?;
                    let b = ins.get(1).copied().flatten()?.clone();
                    if a.len() != 2 || b.len() != 2 {
                        return None;
                    }
                    let ta = attr_i(n, "transA", 0).ok()? != 0;
                    let tb = attr_i(n, "transB", 0).ok()? != 0;
                    let (m, k) = if ta { (a[1], a[0]) } else { (a[0], a[1]) };
                    let nn = if tb { b[0] } else { b[1] };
                    flops = 2 * (m * k * nn) as u64;
                    Some(vec![vec![m, nn]])
                }
                _ => None,
            }
        })();
        match outs {
            Some(outs) => {
                any = true;
                total = total.saturating_add(flops);
                for (name, s) in n.output.iter().zip(outs) {
                    shapes.insert(name.clone(), s);
                }
            }
            None => unknown += 1,
        }
    }
    (any.then_some(total), unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::testutil::Builder;

    #[test]
    fn conv_flops_and_params() {
        let mut b = Builder::new(&[1, 3, 8, 8], 1);
        let y = b.conv("x", 4, 3, 1, 1, 1, true);
        let g = b.finish(&[&y]);
        let s = GraphStats::of(&g, &HashMap::new());
        assert_eq!(s.params, 4 * 3 * 9 + 4);
        assert_eq!(s.nodes, 1);
        // 2 * (1*4*8*8 outputs) * (3*3*3)
        assert_eq!(s.flops, Some(2 * 4 * 64 * 27));
        assert_eq!(s.flops_unknown_nodes, 0);
    }

    #[test]
    fn report_display_lists_refusals() {
        let mut r = FuseReport::default();
        r.found(PatternKind::ConvBn);
        r.refuse(PatternKind::ConvBn, "bn1", "Conv output also feeds 'x'");
        let s = r.to_string();
        assert!(
            s.contains("conv+bn") && s.contains("bn1") && s.contains("also feeds"),
            "{s}"
        );
        assert!(r.to_json().contains("\"conv-bn\""));
    }
}
