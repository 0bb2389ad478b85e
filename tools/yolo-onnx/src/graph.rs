//! Small graph API over the ONNX protobuf types (`tract_onnx::pb`).
//!
//! # Overview (stable API used by the passes, the FP16 pass, the test builders and the CLI)
//!
//! [`Graph`] owns a [`GraphProto`] and keeps an index of its initializers. Everything else is
//! computed on demand, so a pass can freely edit nodes and then ask again:
//!
//! * structure: [`Graph::nodes`], [`Graph::nodes_mut`], [`Graph::add_node`], [`Graph::remove_nodes`],
//!   [`Graph::producers`] (value → (node index, output slot)), [`Graph::consumers`]
//!   (value → node indices), [`Graph::use_counts`] (node-input slots + graph outputs),
//!   [`Graph::topo_order`] / [`Graph::sort_topologically`] (cycle → [`Error::Graph`] naming a node),
//!   [`Graph::validate`] (dangling inputs, duplicate producers, cycles).
//! * values: [`Graph::inputs`] (real inputs, initializers excluded), [`Graph::outputs`],
//!   [`Graph::value_info`], [`Graph::is_graph_output`], [`Graph::replace_uses`], [`Graph::rename_value`],
//!   [`Graph::unique_name`].
//! * initializers: [`Graph::initializer`], [`Graph::initializer_f32`], [`Graph::initializer_i64`],
//!   [`Graph::set_initializer`], [`Graph::remove_initializer`], [`Graph::initializers`].
//! * escape hatch: [`Graph::proto`], [`Graph::edit_proto`] (re-indexes afterwards), [`Graph::into_proto`].
//!
//! Free functions handle tensors ([`tensor_to_f32`], [`tensor_to_i64`], [`tensor_from_f32`],
//! [`tensor_from_i64`], [`tensor_from_f16`], [`tensor_dims`]), attributes ([`attr_i`], [`attr_f`],
//! [`attr_ints`], [`attr_floats`], [`attr_s`], [`attr_t`], [`make_attr_i`], [`make_attr_f`],
//! [`make_attr_ints`], [`make_attr_floats`], [`make_attr_s`], [`make_attr_t`], [`set_attr`]),
//! nodes ([`make_node`], [`node_label`]) and value infos ([`make_value_info`], [`value_info_dims`],
//! [`value_info_elem_type`]).
//!
//! Node indices returned by [`Graph::producers`] and friends are valid until the node list is
//! edited. Values named `""` are absent optional inputs and are ignored everywhere.

use std::collections::{HashMap, HashSet};

use half::{bf16, f16};
use ndarray::{ArrayD, IxDyn};
pub use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_shape_proto, type_proto, AttributeProto, GraphProto,
    NodeProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

use crate::error::{Error, Result};

/// A graph with an initializer index. See the module documentation for the API overview.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    proto: GraphProto,
    init_index: HashMap<String, usize>,
    names: Option<HashSet<String>>,
    counter: u64,
}

impl Graph {
    /// Wraps a [`GraphProto`]. Never fails; call [`Graph::validate`] to check the structure.
    pub fn new(proto: GraphProto) -> Self {
        let mut g = Graph {
            proto,
            init_index: HashMap::new(),
            names: None,
            counter: 0,
        };
        g.reindex();
        g
    }

    fn reindex(&mut self) {
        self.init_index.clear();
        for (i, t) in self.proto.initializer.iter().enumerate() {
            self.init_index.insert(t.name.clone(), i);
        }
        self.names = None;
    }

    /// The underlying protobuf.
    pub fn proto(&self) -> &GraphProto {
        &self.proto
    }

    /// Edits the underlying protobuf directly; the initializer index is rebuilt afterwards.
    pub fn edit_proto<R>(&mut self, f: impl FnOnce(&mut GraphProto) -> R) -> R {
        let r = f(&mut self.proto);
        self.reindex();
        r
    }

    /// Unwraps the protobuf.
    pub fn into_proto(self) -> GraphProto {
        self.proto
    }

    /// Graph name.
    pub fn name(&self) -> &str {
        &self.proto.name
    }

    /// All nodes, in stored order (topological for valid models).
    pub fn nodes(&self) -> &[NodeProto] {
        &self.proto.node
    }

    /// Mutable node list. Node edits do not invalidate the initializer index.
    pub fn nodes_mut(&mut self) -> &mut Vec<NodeProto> {
        self.names = None;
        &mut self.proto.node
    }

    /// Appends a node and returns its index. Run [`Graph::sort_topologically`] when done editing.
    pub fn add_node(&mut self, node: NodeProto) -> usize {
        if let Some(names) = self.names.as_mut() {
            names.insert(node.name.clone());
            names.extend(node.output.iter().cloned());
        }
        self.proto.node.push(node);
        self.proto.node.len() - 1
    }

    /// Removes the nodes at the given indices (duplicates and out-of-range indices are ignored).
    pub fn remove_nodes(&mut self, indices: impl IntoIterator<Item = usize>) {
        let mut kill = vec![false; self.proto.node.len()];
        for i in indices {
            if let Some(k) = kill.get_mut(i) {
                *k = true;
            }
        }
        let mut i = 0;
        self.proto.node.retain(|_| {
            let keep = !kill[i];
            i += 1;
            keep
        });
    }

    /// Real graph inputs: `graph.input` entries that are not initializers (IR < 4 lists both).
    pub fn inputs(&self) -> Vec<&ValueInfoProto> {
        self.proto
            .input
            .iter()
            .filter(|v| !self.init_index.contains_key(&v.name))
            .collect()
    }

    /// Graph outputs.
    pub fn outputs(&self) -> &[ValueInfoProto] {
        &self.proto.output
    }

    /// Graph inputs that are not initializers, as declared.
    pub fn declared_inputs(&self) -> Vec<DeclaredIo> {
        self.inputs().into_iter().map(DeclaredIo::of).collect()
    }

    /// Graph outputs, as declared.
    pub fn declared_outputs(&self) -> Vec<DeclaredIo> {
        self.outputs().iter().map(DeclaredIo::of).collect()
    }

    /// Whether `name` is a graph output.
    pub fn is_graph_output(&self, name: &str) -> bool {
        self.proto.output.iter().any(|o| o.name == name)
    }

    /// Whether `name` is a real graph input (not an initializer).
    pub fn is_graph_input(&self, name: &str) -> bool {
        self.proto.input.iter().any(|o| o.name == name) && !self.init_index.contains_key(name)
    }

    /// Type/shape information for a value, looked up in `value_info`, `input` and `output`.
    pub fn value_info(&self, name: &str) -> Option<&ValueInfoProto> {
        self.proto
            .value_info
            .iter()
            .chain(self.proto.input.iter())
            .chain(self.proto.output.iter())
            .find(|v| v.name == name)
    }

    /// Initializer by name.
    pub fn initializer(&self, name: &str) -> Option<&TensorProto> {
        self.init_index
            .get(name)
            .map(|&i| &self.proto.initializer[i])
    }

    /// Whether `name` is an initializer.
    pub fn is_initializer(&self, name: &str) -> bool {
        self.init_index.contains_key(name)
    }

    /// All initializers.
    pub fn initializers(&self) -> &[TensorProto] {
        &self.proto.initializer
    }

    /// Initializer converted to `f32` (any numeric type), `Ok(None)` when `name` is not an initializer.
    pub fn initializer_f32(&self, name: &str) -> Result<Option<ArrayD<f32>>> {
        self.initializer(name).map(tensor_to_f32).transpose()
    }

    /// Integer initializer as `i64`, `Ok(None)` when `name` is not an initializer.
    pub fn initializer_i64(&self, name: &str) -> Result<Option<ArrayD<i64>>> {
        self.initializer(name).map(tensor_to_i64).transpose()
    }

    /// Inserts or replaces (by name) an initializer.
    pub fn set_initializer(&mut self, tensor: TensorProto) {
        if let Some(names) = self.names.as_mut() {
            names.insert(tensor.name.clone());
        }
        match self.init_index.get(&tensor.name) {
            Some(&i) => self.proto.initializer[i] = tensor,
            None => {
                self.init_index
                    .insert(tensor.name.clone(), self.proto.initializer.len());
                self.proto.initializer.push(tensor);
            }
        }
    }

    /// Removes an initializer (and its entry in `graph.input`, if listed there).
    pub fn remove_initializer(&mut self, name: &str) -> Option<TensorProto> {
        let i = *self.init_index.get(name)?;
        let t = self.proto.initializer.remove(i);
        self.proto.input.retain(|v| v.name != name);
        self.reindex();
        Some(t)
    }

    /// Removes every initializer for which `keep` returns false (one re-index for the batch).
    pub fn retain_initializers(&mut self, mut keep: impl FnMut(&TensorProto) -> bool) -> usize {
        let before = self.proto.initializer.len();
        let mut removed = HashSet::new();
        self.proto.initializer.retain(|t| {
            let k = keep(t);
            if !k {
                removed.insert(t.name.clone());
            }
            k
        });
        self.proto.input.retain(|v| !removed.contains(&v.name));
        self.reindex();
        before - self.proto.initializer.len()
    }

    /// Maps each value name to the node (index) and output slot producing it.
    pub fn producers(&self) -> HashMap<String, (usize, usize)> {
        let mut m = HashMap::with_capacity(self.proto.node.len());
        for (i, n) in self.proto.node.iter().enumerate() {
            for (slot, o) in n.output.iter().enumerate() {
                if !o.is_empty() {
                    m.insert(o.clone(), (i, slot));
                }
            }
        }
        m
    }

    /// Maps each value name to the nodes consuming it (each node once, in node order). Values
    /// referenced from inside a subgraph count as consumed by the node owning the subgraph.
    pub fn consumers(&self) -> HashMap<String, Vec<usize>> {
        let mut m: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, n) in self.proto.node.iter().enumerate() {
            for name in node_inputs_deep(n) {
                let v = m.entry(name).or_default();
                if v.last() != Some(&i) {
                    v.push(i);
                }
            }
        }
        m
    }

    /// Number of uses of each value: node input slots (subgraph references included) plus one per
    /// graph output entry. A value used twice by one node counts twice.
    pub fn use_counts(&self) -> HashMap<String, usize> {
        let mut m: HashMap<String, usize> = HashMap::new();
        for n in &self.proto.node {
            for name in node_inputs_deep(n) {
                *m.entry(name).or_default() += 1;
            }
        }
        for o in &self.proto.output {
            *m.entry(o.name.clone()).or_default() += 1;
        }
        m
    }

    /// Replaces every use of value `old` by `new` in node inputs (subgraphs included). Graph
    /// outputs are not touched.
    pub fn replace_uses(&mut self, old: &str, new: &str) {
        for n in &mut self.proto.node {
            replace_in_node(n, old, new);
        }
    }

    /// Renames a value everywhere: producer output, uses, graph outputs/inputs and value infos.
    pub fn rename_value(&mut self, old: &str, new: &str) {
        for n in &mut self.proto.node {
            for o in n.output.iter_mut() {
                if o == old {
                    *o = new.to_string();
                }
            }
            replace_in_node(n, old, new);
        }
        for v in self
            .proto
            .output
            .iter_mut()
            .chain(self.proto.input.iter_mut())
            .chain(self.proto.value_info.iter_mut())
        {
            if v.name == old {
                v.name = new.to_string();
            }
        }
        if let Some(names) = self.names.as_mut() {
            names.insert(new.to_string());
        }
    }

    /// Returns a name starting with `base` not used by any node, value or initializer, and reserves it.
    pub fn unique_name(&mut self, base: &str) -> String {
        if self.names.is_none() {
            let mut s = HashSet::new();
            for n in &self.proto.node {
                s.insert(n.name.clone());
                s.extend(n.output.iter().cloned());
                s.extend(n.input.iter().cloned());
            }
            for t in &self.proto.initializer {
                s.insert(t.name.clone());
            }
            for v in self
                .proto
                .input
                .iter()
                .chain(&self.proto.output)
                .chain(&self.proto.value_info)
            {
                s.insert(v.name.clone());
            }
            self.names = Some(s);
        }
        let names = self.names.as_mut().expect("name set was just built");
        let mut candidate = base.to_string();
        while candidate.is_empty() || names.contains(&candidate) {
            self.counter += 1;
            candidate = format!("{base}_{}", self.counter);
        }
        names.insert(candidate.clone());
        candidate
    }

    /// Indices of the nodes in a topological order (stable: original order where possible).
    ///
    /// Errors with [`Error::Graph`] naming a node on a cycle.
    pub fn topo_order(&self) -> Result<Vec<usize>> {
        let n = self.proto.node.len();
        let producers = self.producers();
        let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, node) in self.proto.node.iter().enumerate() {
            for name in node_inputs_deep(node) {
                if let Some(&(p, _)) = producers.get(&name) {
                    if !preds[i].contains(&p) {
                        preds[i].push(p);
                        succs[p].push(i);
                    }
                }
            }
        }
        let mut indeg: Vec<usize> = preds.iter().map(Vec::len).collect();
        // Min-heap on index keeps the original order when it is already valid.
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = (0..n)
            .filter(|&i| indeg[i] == 0)
            .map(std::cmp::Reverse)
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(std::cmp::Reverse(i)) = ready.pop() {
            order.push(i);
            for &s in &succs[i] {
                indeg[s] -= 1;
                if indeg[s] == 0 {
                    ready.push(std::cmp::Reverse(s));
                }
            }
        }
        if order.len() == n {
            return Ok(order);
        }
        // Find a node that is on a cycle: walk predecessors among unfinished nodes until one repeats.
        let start = (0..n).find(|&i| indeg[i] > 0).unwrap_or(0);
        let mut seen = vec![usize::MAX; n];
        let mut path = Vec::new();
        let mut cur = start;
        while seen[cur] == usize::MAX {
            seen[cur] = path.len();
            path.push(cur);
            match preds[cur].iter().copied().find(|&p| indeg[p] > 0) {
                Some(p) => cur = p,
                None => break,
            }
        }
        let cycle: Vec<String> = if seen[cur] != usize::MAX {
            path[seen[cur]..]
                .iter()
                .rev()
                .map(|&i| node_label(&self.proto.node[i], i))
                .collect()
        } else {
            vec![node_label(&self.proto.node[start], start)]
        };
        Err(Error::graph(
            cycle[0].clone(),
            format!("graph has a cycle: {} -> {}", cycle.join(" -> "), cycle[0]),
        ))
    }

    /// Reorders the nodes topologically (see [`Graph::topo_order`]).
    pub fn sort_topologically(&mut self) -> Result<()> {
        let order = self.topo_order()?;
        if order.iter().enumerate().all(|(i, &j)| i == j) {
            return Ok(());
        }
        let mut old: Vec<Option<NodeProto>> = std::mem::take(&mut self.proto.node)
            .into_iter()
            .map(Some)
            .collect();
        self.proto.node = order.into_iter().filter_map(|i| old[i].take()).collect();
        Ok(())
    }

    /// Checks the structure: every node input is a graph input, an initializer or a node output;
    /// no value has two producers; graph outputs are produced; no cycles.
    pub fn validate(&self) -> Result<()> {
        let mut produced: HashSet<&str> = HashSet::new();
        for v in self.proto.input.iter() {
            produced.insert(v.name.as_str());
        }
        for t in &self.proto.initializer {
            produced.insert(t.name.as_str());
        }
        for (i, n) in self.proto.node.iter().enumerate() {
            for o in n.output.iter().filter(|o| !o.is_empty()) {
                if !produced.insert(o.as_str()) {
                    return Err(Error::graph(
                        node_label(n, i),
                        format!("output '{o}' is already produced by another node, graph input or initializer"),
                    ));
                }
            }
        }
        for (i, n) in self.proto.node.iter().enumerate() {
            for inp in n.input.iter().filter(|s| !s.is_empty()) {
                if !produced.contains(inp.as_str()) {
                    return Err(Error::graph(
                        node_label(n, i),
                        format!(
                            "input '{inp}' is not a graph input, an initializer or the output of any node \
                             (missing initializer? re-export the model with its weights)"
                        ),
                    ));
                }
            }
        }
        for o in &self.proto.output {
            if !produced.contains(o.name.as_str()) {
                return Err(Error::graph(
                    format!("<graph output {}>", o.name),
                    format!(
                        "graph output '{}' is not produced by any node, input or initializer",
                        o.name
                    ),
                ));
            }
        }
        self.topo_order().map(|_| ())
    }
}

/// All value names a node reads: its inputs plus, for nodes with subgraphs (If/Loop/Scan), every
/// value referenced inside them (an over-approximation of the captured outer values).
pub fn node_inputs_deep(node: &NodeProto) -> Vec<String> {
    let mut v: Vec<String> = node
        .input
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    for a in &node.attribute {
        for g in a.g.iter().chain(a.graphs.iter()) {
            collect_graph_refs(g, &mut v);
        }
    }
    v
}

fn collect_graph_refs(g: &GraphProto, out: &mut Vec<String>) {
    for n in &g.node {
        out.extend(node_inputs_deep(n));
    }
    for o in &g.output {
        out.push(o.name.clone());
    }
}

fn replace_in_node(n: &mut NodeProto, old: &str, new: &str) {
    for i in n.input.iter_mut() {
        if i == old {
            *i = new.to_string();
        }
    }
    for a in n.attribute.iter_mut() {
        for g in a.g.iter_mut().chain(a.graphs.iter_mut()) {
            for sn in g.node.iter_mut() {
                replace_in_node(sn, old, new);
            }
            for o in g.output.iter_mut() {
                if o.name == old {
                    o.name = new.to_string();
                }
            }
        }
    }
}

/// A printable label for a node: its name, or `OpType#index` when it has none.
pub fn node_label(node: &NodeProto, index: usize) -> String {
    if node.name.is_empty() {
        format!("{}#{index}", node.op_type)
    } else {
        node.name.clone()
    }
}

/// Builds a node in the default domain.
pub fn make_node(
    op_type: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attributes: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: op_type.to_string(),
        name: name.to_string(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attributes,
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Attributes

/// Attribute by name.
pub fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn attr_type(a: &AttributeProto) -> AttributeType {
    AttributeType::try_from(a.r#type).unwrap_or(AttributeType::Undefined)
}

fn wrong_type(node: &NodeProto, a: &AttributeProto, want: &str) -> Error {
    Error::attribute(
        node_label(node, 0),
        a.name.clone(),
        format!("expected {want}, found {}", attr_type(a).as_str_name()),
    )
}

/// Integer attribute, `default` when absent.
pub fn attr_i(node: &NodeProto, name: &str, default: i64) -> Result<i64> {
    match attr(node, name) {
        None => Ok(default),
        Some(a) => match attr_type(a) {
            AttributeType::Int | AttributeType::Undefined => Ok(a.i),
            _ => Err(wrong_type(node, a, "INT")),
        },
    }
}

/// Float attribute, `default` when absent.
pub fn attr_f(node: &NodeProto, name: &str, default: f32) -> Result<f32> {
    match attr(node, name) {
        None => Ok(default),
        Some(a) => match attr_type(a) {
            AttributeType::Float | AttributeType::Undefined => Ok(a.f),
            _ => Err(wrong_type(node, a, "FLOAT")),
        },
    }
}

/// Integer-list attribute, `None` when absent.
pub fn attr_ints(node: &NodeProto, name: &str) -> Result<Option<Vec<i64>>> {
    match attr(node, name) {
        None => Ok(None),
        Some(a) => match attr_type(a) {
            AttributeType::Ints | AttributeType::Undefined => Ok(Some(a.ints.clone())),
            _ => Err(wrong_type(node, a, "INTS")),
        },
    }
}

/// Float-list attribute, `None` when absent.
pub fn attr_floats(node: &NodeProto, name: &str) -> Result<Option<Vec<f32>>> {
    match attr(node, name) {
        None => Ok(None),
        Some(a) => match attr_type(a) {
            AttributeType::Floats | AttributeType::Undefined => Ok(Some(a.floats.clone())),
            _ => Err(wrong_type(node, a, "FLOATS")),
        },
    }
}

/// String attribute (UTF-8, lossy), `None` when absent.
pub fn attr_s(node: &NodeProto, name: &str) -> Result<Option<String>> {
    match attr(node, name) {
        None => Ok(None),
        Some(a) => match attr_type(a) {
            AttributeType::String | AttributeType::Undefined => {
                Ok(Some(String::from_utf8_lossy(&a.s).into_owned()))
            }
            _ => Err(wrong_type(node, a, "STRING")),
        },
    }
}

/// Tensor attribute, `None` when absent or not a tensor.
pub fn attr_t<'a>(node: &'a NodeProto, name: &str) -> Option<&'a TensorProto> {
    attr(node, name).and_then(|a| a.t.as_ref())
}

/// Builds an INT attribute.
pub fn make_attr_i(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

/// Builds a FLOAT attribute.
pub fn make_attr_f(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f: v,
        ..Default::default()
    }
}

/// Builds an INTS attribute.
pub fn make_attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

/// Builds a FLOATS attribute.
pub fn make_attr_floats(name: &str, v: &[f32]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Floats as i32,
        floats: v.to_vec(),
        ..Default::default()
    }
}

/// Builds a STRING attribute.
pub fn make_attr_s(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

/// Builds a TENSOR attribute.
pub fn make_attr_t(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Tensor as i32,
        t: Some(t),
        ..Default::default()
    }
}

/// Sets (inserts or replaces by name) an attribute on a node.
pub fn set_attr(node: &mut NodeProto, a: AttributeProto) {
    match node.attribute.iter_mut().find(|x| x.name == a.name) {
        Some(x) => *x = a,
        None => node.attribute.push(a),
    }
}

// ---------------------------------------------------------------------------------------------
// Value infos

/// Builds a tensor value info. Negative dims become unnamed dynamic dimensions.
pub fn make_value_info(name: &str, elem_type: DataType, dims: &[i64]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|&d| tensor_shape_proto::Dimension {
            value: (d >= 0).then_some(tensor_shape_proto::dimension::Value::DimValue(d)),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: elem_type as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Shape of a tensor value info: `None` when unknown; each dim `None` when symbolic/unknown.
pub fn value_info_dims(vi: &ValueInfoProto) -> Option<Vec<Option<i64>>> {
    match vi.r#type.as_ref()?.value.as_ref()? {
        type_proto::Value::TensorType(t) => Some(
            t.shape
                .as_ref()?
                .dim
                .iter()
                .map(|d| match d.value {
                    Some(tensor_shape_proto::dimension::Value::DimValue(v)) if v >= 0 => Some(v),
                    _ => None,
                })
                .collect(),
        ),
    }
}

/// Element type (a [`DataType`] value) of a tensor value info.
pub fn value_info_elem_type(vi: &ValueInfoProto) -> Option<i32> {
    match vi.r#type.as_ref()?.value.as_ref()? {
        type_proto::Value::TensorType(t) => Some(t.elem_type),
    }
}

/// A float tensor value named `name` with no declared shape (what a graph output added for inspection declares).
pub fn float_value_info(name: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: None,
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A graph input or output as the model declares it: the one conversion from ONNX's `ValueInfoProto` that the CPU
/// executor, the build pipeline's reports and the tools' IO listings share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredIo {
    /// Value name.
    pub name: String,
    /// ONNX element type number; `None` when the value declares no tensor type.
    pub elem_type: Option<i32>,
    /// Declared dims, `None` for a dynamic one; `None` when the value declares no shape.
    pub dims: Option<Vec<Option<i64>>>,
}

impl DeclaredIo {
    /// What `vi` declares.
    pub fn of(vi: &ValueInfoProto) -> Self {
        DeclaredIo {
            name: vi.name.clone(),
            elem_type: value_info_elem_type(vi),
            dims: value_info_dims(vi),
        }
    }

    /// Printable element type name (`FLOAT`, …; `?` when none is declared).
    pub fn dtype_name(&self) -> &'static str {
        self.elem_type.map(dtype_name).unwrap_or("?")
    }
}

/// Printable name of an ONNX element type number.
pub fn dtype_name(data_type: i32) -> &'static str {
    DataType::try_from(data_type)
        .map(|d| d.as_str_name())
        .unwrap_or("UNKNOWN")
}

// ---------------------------------------------------------------------------------------------
// Tensors

/// Dimensions of a tensor, checked (non-negative, element count fits in memory arithmetic).
pub fn tensor_dims(t: &TensorProto) -> Result<Vec<usize>> {
    let mut numel: usize = 1;
    let mut dims = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        let d = usize::try_from(d)
            .map_err(|_| Error::tensor(&t.name, format!("negative dimension {d}")))?;
        numel = numel
            .checked_mul(d)
            .filter(|&n| n <= (1usize << 40))
            .ok_or_else(|| {
                Error::tensor(&t.name, format!("dimensions {:?} are too large", t.dims))
            })?;
        dims.push(d);
    }
    Ok(dims)
}

fn is_external(t: &TensorProto) -> bool {
    t.data_location == Some(tract_onnx::pb::tensor_proto::DataLocation::External as i32)
}

/// Number of bytes per element in `raw_data` for fixed-size types.
pub fn dtype_size(data_type: i32) -> Option<usize> {
    use DataType as D;
    Some(match DataType::try_from(data_type).ok()? {
        D::Float | D::Int32 | D::Uint32 => 4,
        D::Double | D::Int64 | D::Uint64 | D::Complex64 => 8,
        D::Float16 | D::Bfloat16 | D::Int16 | D::Uint16 => 2,
        D::Int8 | D::Uint8 | D::Bool => 1,
        _ => return None,
    })
}

fn check_len(t: &TensorProto, have: usize, want: usize, field: &str) -> Result<()> {
    if have != want {
        return Err(Error::tensor(
            &t.name,
            format!(
                "{field} holds {have} values but dims {:?} need {want}",
                t.dims
            ),
        ));
    }
    Ok(())
}

fn raw_chunks<'a, const N: usize>(
    t: &'a TensorProto,
    numel: usize,
) -> Result<impl Iterator<Item = [u8; N]> + 'a> {
    let want = numel
        .checked_mul(N)
        .ok_or_else(|| Error::tensor(&t.name, "too large"))?;
    if t.raw_data.len() != want {
        return Err(Error::tensor(
            &t.name,
            format!(
                "raw_data has {} bytes but dims {:?} of {} need {want}",
                t.raw_data.len(),
                t.dims,
                dtype_name(t.data_type)
            ),
        ));
    }
    Ok(t.raw_data.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    }))
}

/// What decoding a tensor's values needs: its dims, element count, whether the values are in `raw_data` (else in
/// the typed fields) and its data type; an error for external data that was not loaded or an unknown type.
fn loaded_layout(t: &TensorProto) -> Result<(Vec<usize>, usize, bool, DataType)> {
    if is_external(t) {
        return Err(Error::tensor(
            &t.name,
            "data is in an external file that was not loaded; load the model from its file path",
        ));
    }
    let dims = tensor_dims(t)?;
    let numel: usize = dims.iter().product();
    let raw = !t.raw_data.is_empty() || numel == 0;
    let dt = DataType::try_from(t.data_type)
        .map_err(|_| Error::tensor(&t.name, format!("unknown data type {}", t.data_type)))?;
    Ok((dims, numel, raw, dt))
}

/// Converts a numeric tensor to `f32` (from FLOAT, FLOAT16, BFLOAT16, DOUBLE, integer and BOOL
/// types, stored in `raw_data` or the typed fields).
pub fn tensor_to_f32(t: &TensorProto) -> Result<ArrayD<f32>> {
    let (dims, numel, raw, dt) = loaded_layout(t)?;
    use DataType as D;
    let v: Vec<f32> = match (dt, raw) {
        (D::Float, true) => raw_chunks::<4>(t, numel)?.map(f32::from_le_bytes).collect(),
        (D::Float, false) => {
            check_len(t, t.float_data.len(), numel, "float_data")?;
            t.float_data.clone()
        }
        (D::Float16, true) => raw_chunks::<2>(t, numel)?
            .map(|b| f16::from_le_bytes(b).to_f32())
            .collect(),
        (D::Bfloat16, true) => raw_chunks::<2>(t, numel)?
            .map(|b| bf16::from_le_bytes(b).to_f32())
            .collect(),
        (D::Float16, false) => {
            check_len(t, t.int32_data.len(), numel, "int32_data")?;
            t.int32_data
                .iter()
                .map(|&b| f16::from_bits(b as u16).to_f32())
                .collect()
        }
        (D::Bfloat16, false) => {
            check_len(t, t.int32_data.len(), numel, "int32_data")?;
            t.int32_data
                .iter()
                .map(|&b| bf16::from_bits(b as u16).to_f32())
                .collect()
        }
        (D::Double, true) => raw_chunks::<8>(t, numel)?
            .map(|b| f64::from_le_bytes(b) as f32)
            .collect(),
        (D::Double, false) => {
            check_len(t, t.double_data.len(), numel, "double_data")?;
            t.double_data.iter().map(|&x| x as f32).collect()
        }
        _ => tensor_to_i64(t)?.iter().map(|&x| x as f32).collect(),
    };
    ArrayD::from_shape_vec(IxDyn(&dims), v).map_err(|e| Error::tensor(&t.name, e.to_string()))
}

/// Converts an integer or BOOL tensor to `i64`.
pub fn tensor_to_i64(t: &TensorProto) -> Result<ArrayD<i64>> {
    let (dims, numel, raw, dt) = loaded_layout(t)?;
    use DataType as D;
    let v: Vec<i64> = match (dt, raw) {
        (D::Int64, true) => raw_chunks::<8>(t, numel)?.map(i64::from_le_bytes).collect(),
        (D::Int64, false) => {
            check_len(t, t.int64_data.len(), numel, "int64_data")?;
            t.int64_data.clone()
        }
        (D::Uint64, true) => raw_chunks::<8>(t, numel)?
            .map(|b| u64::from_le_bytes(b) as i64)
            .collect(),
        (D::Int32, true) => raw_chunks::<4>(t, numel)?
            .map(|b| i32::from_le_bytes(b) as i64)
            .collect(),
        (D::Uint32, true) => raw_chunks::<4>(t, numel)?
            .map(|b| u32::from_le_bytes(b) as i64)
            .collect(),
        (D::Int16, true) => raw_chunks::<2>(t, numel)?
            .map(|b| i16::from_le_bytes(b) as i64)
            .collect(),
        (D::Uint16, true) => raw_chunks::<2>(t, numel)?
            .map(|b| u16::from_le_bytes(b) as i64)
            .collect(),
        (D::Int8, true) => raw_chunks::<1>(t, numel)?
            .map(|b| b[0] as i8 as i64)
            .collect(),
        (D::Uint8 | D::Bool, true) => raw_chunks::<1>(t, numel)?.map(|b| b[0] as i64).collect(),
        (D::Int32 | D::Int16 | D::Uint16 | D::Int8 | D::Uint8 | D::Bool, false) => {
            check_len(t, t.int32_data.len(), numel, "int32_data")?;
            t.int32_data.iter().map(|&x| x as i64).collect()
        }
        (D::Uint32 | D::Uint64, false) => {
            check_len(t, t.uint64_data.len(), numel, "uint64_data")?;
            t.uint64_data.iter().map(|&x| x as i64).collect()
        }
        _ => {
            return Err(Error::tensor(
                &t.name,
                format!(
                    "data type {} is not an integer type",
                    dtype_name(t.data_type)
                ),
            ))
        }
    };
    ArrayD::from_shape_vec(IxDyn(&dims), v).map_err(|e| Error::tensor(&t.name, e.to_string()))
}

/// Builds a FLOAT tensor (little-endian `raw_data`).
pub fn tensor_from_f32(name: &str, a: &ArrayD<f32>) -> TensorProto {
    raw_tensor(name, a, DataType::Float, |x| x.to_le_bytes())
}

/// Builds a FLOAT16 tensor (little-endian `raw_data`).
pub fn tensor_from_f16(name: &str, a: &ArrayD<f16>) -> TensorProto {
    raw_tensor(name, a, DataType::Float16, |x| x.to_le_bytes())
}

/// Builds an INT64 tensor (little-endian `raw_data`).
pub fn tensor_from_i64(name: &str, a: &ArrayD<i64>) -> TensorProto {
    raw_tensor(name, a, DataType::Int64, |x| x.to_le_bytes())
}

/// A tensor of `data_type` whose `raw_data` holds each element's little-endian bytes.
fn raw_tensor<T: Copy, const N: usize>(
    name: &str,
    a: &ArrayD<T>,
    data_type: DataType,
    le_bytes: impl Fn(T) -> [u8; N],
) -> TensorProto {
    let mut raw = Vec::with_capacity(a.len() * N);
    for &x in a.iter() {
        raw.extend_from_slice(&le_bytes(x));
    }
    TensorProto {
        name: name.into(),
        dims: a.shape().iter().map(|&d| d as i64).collect(),
        data_type: data_type as i32,
        raw_data: raw,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> Graph {
        let mut g = GraphProto {
            input: vec![make_value_info("x", DataType::Float, &[1, 2])],
            output: vec![make_value_info("z", DataType::Float, &[1, 2])],
            ..Default::default()
        };
        // Stored out of order on purpose.
        g.node.push(make_node("Relu", "b", &["y"], &["z"], vec![]));
        g.node.push(make_node("Relu", "a", &["x"], &["y"], vec![]));
        Graph::new(g)
    }

    #[test]
    fn topo_sort_reorders() {
        let mut g = chain();
        assert_eq!(g.topo_order().unwrap(), vec![1, 0]);
        g.sort_topologically().unwrap();
        assert_eq!(g.nodes()[0].name, "a");
        g.validate().unwrap();
    }

    #[test]
    fn cycle_names_node() {
        let mut g = chain();
        g.nodes_mut()[1].input[0] = "z".into();
        let e = g.topo_order().unwrap_err().to_string();
        assert!(e.contains("cycle"), "{e}");
        assert!(e.contains("'a'") || e.contains("'b'"), "{e}");
    }

    #[test]
    fn missing_input_names_node_and_tensor() {
        let mut g = chain();
        g.nodes_mut()[1].input[0] = "w_missing".into();
        let e = g.validate().unwrap_err().to_string();
        assert!(e.contains("node 'a'") && e.contains("w_missing"), "{e}");
    }

    #[test]
    fn producers_consumers_uses() {
        let g = chain();
        let p = g.producers();
        assert_eq!(p["y"], (1, 0));
        let c = g.consumers();
        assert_eq!(c["y"], vec![0]);
        let u = g.use_counts();
        assert_eq!(u["z"], 1);
        assert_eq!(u["x"], 1);
    }

    #[test]
    fn unique_names_do_not_collide() {
        let mut g = chain();
        let a = g.unique_name("y");
        let b = g.unique_name("y");
        assert_ne!(a, "y");
        assert_ne!(a, b);
        assert_eq!(g.unique_name("fresh"), "fresh");
    }

    #[test]
    fn replace_and_rename() {
        let mut g = chain();
        g.rename_value("z", "out");
        assert_eq!(g.outputs()[0].name, "out");
        assert_eq!(g.nodes()[0].output[0], "out");
        g.replace_uses("y", "x");
        assert_eq!(g.nodes()[0].input[0], "x");
    }

    #[test]
    fn tensor_roundtrips_and_typed_fields() {
        let a = ArrayD::from_shape_vec(
            IxDyn(&[2, 3]),
            (0..6).map(|x| x as f32 * 0.5 - 1.0).collect(),
        )
        .unwrap();
        let t = tensor_from_f32("w", &a);
        assert_eq!(tensor_to_f32(&t).unwrap(), a);
        let t16 = tensor_from_f16("h", &a.mapv(f16::from_f32));
        assert_eq!(tensor_to_f32(&t16).unwrap(), a);
        let typed = TensorProto {
            name: "t".into(),
            dims: vec![3],
            data_type: DataType::Float as i32,
            float_data: vec![1.0, 2.0, 3.0],
            ..Default::default()
        };
        assert_eq!(
            tensor_to_f32(&typed).unwrap().as_slice().unwrap(),
            &[1.0, 2.0, 3.0]
        );
        let d = TensorProto {
            name: "d".into(),
            dims: vec![2],
            data_type: DataType::Double as i32,
            double_data: vec![1.5, -2.0],
            ..Default::default()
        };
        assert_eq!(tensor_to_f32(&d).unwrap().as_slice().unwrap(), &[1.5, -2.0]);
        let i = tensor_from_i64(
            "i",
            &ArrayD::from_shape_vec(IxDyn(&[2]), vec![-7, 9]).unwrap(),
        );
        assert_eq!(tensor_to_i64(&i).unwrap().as_slice().unwrap(), &[-7, 9]);
        assert_eq!(tensor_to_f32(&i).unwrap().as_slice().unwrap(), &[-7.0, 9.0]);
        let i32t = TensorProto {
            name: "i32".into(),
            dims: vec![2],
            data_type: DataType::Int32 as i32,
            int32_data: vec![4, -5],
            ..Default::default()
        };
        assert_eq!(tensor_to_i64(&i32t).unwrap().as_slice().unwrap(), &[4, -5]);
    }

    #[test]
    fn bad_tensors_error_not_panic() {
        let t = TensorProto {
            name: "bad".into(),
            dims: vec![1 << 40, 1 << 40],
            data_type: DataType::Float as i32,
            ..Default::default()
        };
        assert!(tensor_to_f32(&t).unwrap_err().to_string().contains("bad"));
        let t = TensorProto {
            name: "short".into(),
            dims: vec![4],
            data_type: DataType::Float as i32,
            raw_data: vec![0; 7],
            ..Default::default()
        };
        assert!(tensor_to_f32(&t)
            .unwrap_err()
            .to_string()
            .contains("raw_data has 7 bytes"));
        let t = TensorProto {
            name: "neg".into(),
            dims: vec![-1],
            data_type: 1,
            ..Default::default()
        };
        assert!(tensor_to_f32(&t).is_err());
    }

    #[test]
    fn attributes_with_defaults_and_type_errors() {
        let n = make_node(
            "Conv",
            "c",
            &[],
            &[],
            vec![
                make_attr_i("group", 2),
                make_attr_ints("pads", &[1, 1, 1, 1]),
                make_attr_f("epsilon", 1e-3),
            ],
        );
        assert_eq!(attr_i(&n, "group", 1).unwrap(), 2);
        assert_eq!(attr_i(&n, "missing", 7).unwrap(), 7);
        assert_eq!(attr_ints(&n, "pads").unwrap().unwrap(), vec![1, 1, 1, 1]);
        assert_eq!(attr_f(&n, "epsilon", 1e-5).unwrap(), 1e-3);
        let e = attr_f(&n, "group", 0.0).unwrap_err().to_string();
        assert!(e.contains("'c'") && e.contains("group"), "{e}");
    }

    #[test]
    fn initializer_index_tracks_edits() {
        let mut g = chain();
        g.set_initializer(tensor_from_f32("w", &ArrayD::zeros(IxDyn(&[2]))));
        g.set_initializer(tensor_from_f32("v", &ArrayD::ones(IxDyn(&[3]))));
        assert!(g.is_initializer("w"));
        g.remove_initializer("w");
        assert!(!g.is_initializer("w"));
        assert_eq!(g.initializer_f32("v").unwrap().unwrap().len(), 3);
        assert_eq!(g.retain_initializers(|_| false), 1);
        assert!(g.initializers().is_empty());
    }
}
