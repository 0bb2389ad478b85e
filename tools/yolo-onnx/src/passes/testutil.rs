//! Test-only graph builder with realistic BatchNorm statistics, and a numeric equivalence check.

use std::collections::HashMap;

use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tract_onnx::pb::{AttributeProto, GraphProto, TypeProto, ValueInfoProto};

use crate::exec::{compare_outputs, make_inputs, ExecOptions, Executor, InputKind};
use crate::graph::{
    make_attr_f, make_attr_i, make_attr_ints, make_node, make_value_info, tensor_from_f32,
    DataType, Graph,
};
use crate::model::Model;

pub(crate) struct Builder {
    pub g: Graph,
    pub rng: ChaCha8Rng,
    pub channels: HashMap<String, usize>,
    n: usize,
}

impl Builder {
    /// Graph with one FLOAT input "x" of `shape` (NCHW).
    pub fn new(shape: &[i64], seed: u64) -> Self {
        let proto = GraphProto {
            name: "test".into(),
            input: vec![make_value_info("x", DataType::Float, shape)],
            ..Default::default()
        };
        let mut channels = HashMap::new();
        channels.insert("x".to_string(), shape[1] as usize);
        Builder {
            g: Graph::new(proto),
            rng: ChaCha8Rng::seed_from_u64(seed),
            channels,
            n: 0,
        }
    }

    pub fn fresh(&mut self, base: &str) -> String {
        self.n += 1;
        format!("{base}{}", self.n)
    }

    pub fn init(&mut self, base: &str, shape: &[usize], lo: f32, hi: f32) -> String {
        let name = self.fresh(base);
        let a = ArrayD::from_shape_simple_fn(IxDyn(shape), || self.rng.random_range(lo..hi));
        self.g.set_initializer(tensor_from_f32(&name, &a));
        name
    }

    /// Square-kernel conv with symmetric padding.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        x: &str,
        out_c: usize,
        k: usize,
        stride: usize,
        pad: usize,
        group: usize,
        bias: bool,
    ) -> String {
        self.conv_full(
            x,
            out_c,
            [k, k],
            [stride, stride],
            [pad; 4],
            [1, 1],
            group,
            bias,
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub fn conv_full(
        &mut self,
        x: &str,
        out_c: usize,
        k: [usize; 2],
        s: [usize; 2],
        p: [usize; 4],
        d: [usize; 2],
        group: usize,
        bias: bool,
    ) -> String {
        let in_c = self.channels[x];
        let fan_in = (in_c / group * k[0] * k[1]) as f32;
        let r = (3.0 / fan_in).sqrt();
        let w = self.init("w", &[out_c, in_c / group, k[0], k[1]], -r, r);
        let mut inputs = vec![x.to_string(), w];
        if bias {
            inputs.push(self.init("b", &[out_c], -0.2, 0.2));
        }
        let attrs = vec![
            make_attr_ints("kernel_shape", &[k[0] as i64, k[1] as i64]),
            make_attr_ints("strides", &[s[0] as i64, s[1] as i64]),
            make_attr_ints("pads", &p.map(|v| v as i64)),
            make_attr_ints("dilations", &[d[0] as i64, d[1] as i64]),
            make_attr_i("group", group as i64),
        ];
        let ins: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let y = self.node("Conv", &ins, attrs);
        self.channels.insert(y.clone(), out_c);
        y
    }

    /// Inference BatchNormalization with realistic statistics.
    pub fn bn(&mut self, x: &str, eps: Option<f32>) -> String {
        let c = self.channels[x];
        let scale = self.init("gamma", &[c], 0.7, 1.3);
        let beta = self.init("beta", &[c], -0.2, 0.2);
        let mean = self.init("mean", &[c], -0.5, 0.5);
        let var = self.init("var", &[c], 0.5, 2.0);
        let attrs = eps
            .map(|e| vec![make_attr_f("epsilon", e)])
            .unwrap_or_default();
        let y = self.node(
            "BatchNormalization",
            &[x, &scale, &beta, &mean, &var],
            attrs,
        );
        self.channels.insert(y.clone(), c);
        y
    }

    /// Single-output node; the output keeps the channel count of the first input.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let y = self.fresh(&op.to_lowercase());
        let name = format!("{y}_node");
        self.g.add_node(make_node(op, &name, inputs, &[&y], attrs));
        if let Some(&c) = inputs.first().and_then(|i| self.channels.get(*i)) {
            self.channels.entry(y.clone()).or_insert(c);
        }
        y
    }

    pub fn silu(&mut self, x: &str) -> String {
        let s = self.node("Sigmoid", &[x], vec![]);
        self.node("Mul", &[x, &s], vec![])
    }

    pub fn finish(mut self, outputs: &[&str]) -> Graph {
        self.g.edit_proto(|p| {
            p.output = outputs
                .iter()
                .map(|o| ValueInfoProto {
                    name: o.to_string(),
                    r#type: Some(TypeProto {
                        value: Some(tract_onnx::pb::type_proto::Value::TensorType(
                            tract_onnx::pb::type_proto::Tensor {
                                elem_type: DataType::Float as i32,
                                shape: None,
                            },
                        )),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect()
        });
        self.g
    }

    pub fn model(self, outputs: &[&str]) -> Model {
        Model::new(self.finish(outputs).into_proto(), 13)
    }
}

/// Runs both models on random and image-like inputs; asserts every output matches within `atol`
/// (same names, same shapes). Returns the largest absolute difference seen.
pub(crate) fn assert_equivalent(a: &Model, b: &Model, atol: f64) -> f64 {
    equivalence(a, b, atol, 0.0)
        .values()
        .fold(0.0, |m, &v| f64::max(m, v))
}

/// Like [`assert_equivalent`] with a relative tolerance (`|a − b| ≤ atol + rtol·|a|`); returns the
/// largest absolute difference per output name.
pub(crate) fn equivalence(a: &Model, b: &Model, atol: f64, rtol: f64) -> HashMap<String, f64> {
    let ea = Executor::new(a, &ExecOptions::default()).expect("reference model runs");
    let eb = Executor::new(b, &ExecOptions::default()).expect("fused model runs");
    assert_eq!(
        a.graph().outputs(),
        b.graph().outputs(),
        "output value infos changed"
    );
    let mut worst: HashMap<String, f64> = HashMap::new();
    let mut check = |inputs: &crate::exec::NamedTensors| {
        let oa = ea.run(inputs).unwrap();
        let ob = eb.run(inputs).unwrap();
        for (x, y) in oa.iter().zip(&ob) {
            assert_eq!(x.0, y.0);
            assert_eq!(x.1.shape(), y.1.shape(), "shape of {} changed", x.0);
            assert_eq!(x.1.data_type(), y.1.data_type(), "type of {} changed", x.0);
        }
        for d in compare_outputs(&oa, &ob, atol, rtol).unwrap() {
            assert_eq!(
                d.violations, 0,
                "output {} differs: max abs {} max rel {}",
                d.name, d.max_abs, d.max_rel
            );
            let w = worst.entry(d.name.clone()).or_default();
            *w = w.max(d.max_abs);
        }
    };
    for (kind, seed) in [
        (InputKind::Random, 1),
        (InputKind::Image, 2),
        (InputKind::Random, 3),
    ] {
        let inputs = make_inputs(ea.inputs(), kind, seed).unwrap();
        check(&inputs);
        // Inputs in [-1, 1] too, so negative activations are exercised.
        let shifted: Vec<_> = inputs
            .iter()
            .map(|(n, v)| {
                (
                    n.clone(),
                    crate::exec::TensorValue::F32(v.to_f32().mapv(|x| 2.0 * x - 1.0)),
                )
            })
            .collect();
        check(&shifted);
    }
    worst
}

/// Op histogram helper.
pub(crate) fn count_ops(g: &Graph, op: &str) -> usize {
    g.nodes().iter().filter(|n| n.op_type == op).count()
}
