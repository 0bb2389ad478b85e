//! Builders of YOLO-style test graphs, deterministic from a seed (no downloads).
//!
//! * [`GraphBuilder`]: a low-level builder that tracks shapes and adds Conv / BatchNormalization
//!   (with realistic statistics) / activations / RepConv / ELAN / RepNCSPELAN4 / SPPF / Resize /
//!   Concat / ImplicitA / ImplicitM blocks and the two YOLO heads (YOLOv7 `--grid` decode and the
//!   YOLOv9 DFL head).
//! * Ready-made models: [`conv_bn_act_model`], [`repconv_model`], [`elan_model`], [`sppf_model`],
//!   [`fpn_model`], [`yolov7_tiny_slice`], [`yolov9_slice`], [`yolov7_sized`] (the fuse benchmark) and
//!   [`tiny_detector`] (a hand-weighted YOLOv9-style detector of coloured squares for end-to-end
//!   detection tests), all reachable by name through [`sample`].
//!
//! # Realistic weights
//! Conv weights are uniform with variance `1/fan_in`. BatchNormalization statistics follow the
//! expected second moment of the incoming activation (tracked through the graph), so activations stay
//! O(1) through deep slices like in a trained network: `running_var` = expected variance × a
//! log-normal factor (σ = 0.35), `running_mean` ~ N(0, 0.2·σ), `gamma` ∈ [0.5, 1.5], `beta` ~ N(0, 0.3)
//! and about 3 % "dead" channels with `gamma` ≈ 1e-3 and `running_var` ≈ 1e-3 of normal, where the
//! epsilon matters. Epsilon is 1e-3 (YOLOv7/YOLOv9 exports) unless changed with
//! [`GraphBuilder::set_bn_eps`].
//!
//! ```
//! use yolo_onnx::testgen::{Act, GraphBuilder};
//! let mut b = GraphBuilder::new("demo", 7);
//! let x = b.input("images", &[1, 3, 32, 32]);
//! let y = b.repconv(&x, 3, 1, true, Act::Silu);
//! b.output(&y);
//! let model = b.finish();
//! assert_eq!(model.graph().outputs()[0].name, y);
//! ```

use std::collections::HashMap;

use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tract_onnx::pb::{AttributeProto, GraphProto, NodeProto, TensorProto, ValueInfoProto};

use crate::error::{Error, Result};
use crate::graph::{
    make_attr_f, make_attr_i, make_attr_ints, make_attr_s, make_node, make_value_info,
    tensor_from_f32, tensor_from_i64, DataType,
};
use crate::model::Model;

/// Opset of the generated models (YOLOv7/YOLOv9 exports use 12–17; tract is tested on 9–18).
pub const DEFAULT_OPSET: i64 = 13;

/// Activation after a Conv(+BN).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    /// No activation.
    None,
    /// SiLU as exported by PyTorch: `x * Sigmoid(x)`.
    Silu,
    /// LeakyRelu with the given slope (YOLOv7-tiny uses 0.1).
    LeakyRelu(f32),
    /// Relu.
    Relu,
}

/// Full Conv parameters for [`GraphBuilder::conv_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    /// Output channels.
    pub cout: usize,
    /// Kernel size (square).
    pub k: usize,
    /// Stride.
    pub stride: usize,
    /// Padding on every side.
    pub pad: usize,
    /// Dilation.
    pub dilation: usize,
    /// Group count (must divide both channel counts).
    pub groups: usize,
    /// Whether the Conv has a bias input.
    pub bias: bool,
}

impl ConvSpec {
    /// A "same"-padded conv (`pad = k/2`), no groups, no dilation.
    pub fn new(cout: usize, k: usize, stride: usize) -> ConvSpec {
        ConvSpec {
            cout,
            k,
            stride,
            pad: k / 2,
            dilation: 1,
            groups: 1,
            bias: false,
        }
    }
}

/// One detection level fed to a head: the feature value and its stride in input pixels.
#[derive(Clone, Debug)]
pub struct Level {
    /// Feature map value name (NCHW).
    pub value: String,
    /// Stride in input pixels.
    pub stride: usize,
}

/// Shape-tracking, seeded builder of ONNX graphs (see the module documentation).
#[derive(Debug)]
pub struct GraphBuilder {
    name: String,
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    shapes: HashMap<String, Vec<usize>>,
    m2: HashMap<String, f32>,
    rng: ChaCha8Rng,
    counter: usize,
    bn_eps: f32,
    params: usize,
    counting: bool,
    opset: i64,
}

fn normal(rng: &mut ChaCha8Rng) -> f32 {
    // Box–Muller.
    let u1: f32 = rng.random::<f32>().max(1e-12);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

impl GraphBuilder {
    /// A new builder; every random choice derives from `seed`.
    pub fn new(name: &str, seed: u64) -> GraphBuilder {
        GraphBuilder {
            name: name.to_string(),
            nodes: Vec::new(),
            inits: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            shapes: HashMap::new(),
            m2: HashMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            counter: 0,
            bn_eps: 1e-3,
            params: 0,
            counting: false,
            opset: DEFAULT_OPSET,
        }
    }

    /// A builder that only counts parameters (initializers get no data); used to size models.
    pub fn counting(name: &str) -> GraphBuilder {
        GraphBuilder {
            counting: true,
            ..GraphBuilder::new(name, 0)
        }
    }

    /// Sets the BatchNormalization epsilon for the following BN nodes (default 1e-3).
    pub fn set_bn_eps(&mut self, eps: f32) {
        self.bn_eps = eps;
    }

    /// Sets the opset written by [`GraphBuilder::finish`] (default [`DEFAULT_OPSET`]).
    pub fn set_opset(&mut self, opset: i64) {
        self.opset = opset;
    }

    /// The seeded random generator (for custom initializers).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Number of parameters (initializer elements) added so far.
    pub fn param_count(&self) -> usize {
        self.params
    }

    /// A fresh name `base_N`.
    pub fn fresh(&mut self, base: &str) -> String {
        self.counter += 1;
        format!("{base}_{}", self.counter)
    }

    /// Shape of a value created by this builder.
    ///
    /// # Panics
    /// When `v` was not created by this builder (a bug in the calling test code).
    pub fn shape(&self, v: &str) -> &[usize] {
        self.shapes
            .get(v)
            .unwrap_or_else(|| panic!("testgen: unknown value '{v}'"))
    }

    /// Channel count (dim 1) of a value.
    pub fn channels(&self, v: &str) -> usize {
        self.shape(v)[1]
    }

    fn m2_of(&self, v: &str) -> f32 {
        self.m2.get(v).copied().unwrap_or(1.0)
    }

    /// Adds a FLOAT graph input.
    pub fn input(&mut self, name: &str, shape: &[usize]) -> String {
        self.inputs
            .push(make_value_info(name, DataType::Float, &to_i64(shape)));
        self.shapes.insert(name.to_string(), shape.to_vec());
        // Image-like data in [0, 1]: E[x²] ≈ 1/3.
        self.m2.insert(name.to_string(), 0.33);
        name.to_string()
    }

    /// Marks a value as a FLOAT graph output (with its tracked shape).
    pub fn output(&mut self, v: &str) {
        let shape = to_i64(self.shape(v));
        self.outputs
            .push(make_value_info(v, DataType::Float, &shape));
    }

    /// Adds an FLOAT initializer with the given values.
    pub fn initializer(&mut self, base: &str, a: ArrayD<f32>) -> String {
        let name = self.fresh(base);
        self.params += a.len();
        self.shapes.insert(name.clone(), a.shape().to_vec());
        if !self.counting {
            self.inits.push(tensor_from_f32(&name, &a));
        }
        name
    }

    /// Adds an INT64 initializer.
    pub fn initializer_i64(&mut self, base: &str, v: &[i64]) -> String {
        let name = self.fresh(base);
        if !self.counting {
            self.inits.push(tensor_from_i64(
                &name,
                &ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).expect("1-D"),
            ));
        }
        name
    }

    fn init_fn(
        &mut self,
        base: &str,
        shape: &[usize],
        mut f: impl FnMut(&mut ChaCha8Rng) -> f32,
    ) -> String {
        if self.counting {
            self.params += shape.iter().product::<usize>();
            let name = self.fresh(base);
            self.shapes.insert(name.clone(), shape.to_vec());
            return name;
        }
        let rng = &mut self.rng;
        let a = ArrayD::from_shape_simple_fn(IxDyn(shape), || f(rng));
        self.initializer(base, a)
    }

    /// Adds a raw node with one output of the given shape; `m2` is the expected second moment of
    /// the output (used to size following BatchNorm statistics).
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        attrs: Vec<AttributeProto>,
        out_shape: Vec<usize>,
        m2: f32,
    ) -> String {
        let base = op.to_lowercase();
        let name = self.fresh(&base);
        let out = format!("{name}_out");
        self.nodes
            .push(make_node(op, &name, inputs, &[&out], attrs));
        self.shapes.insert(out.clone(), out_shape);
        self.m2.insert(out.clone(), m2);
        out
    }

    /// Conv with "same" padding, no groups and no bias (the Conv of a Conv+BN pair).
    pub fn conv(&mut self, x: &str, cout: usize, k: usize, stride: usize) -> String {
        self.conv_with(x, ConvSpec::new(cout, k, stride))
    }

    /// Conv with full parameters.
    ///
    /// # Panics
    /// On inconsistent parameters (groups not dividing the channels, input not 4-D).
    pub fn conv_with(&mut self, x: &str, s: ConvSpec) -> String {
        let sh = self.shape(x).to_vec();
        assert!(
            sh.len() == 4 && sh[1].is_multiple_of(s.groups) && s.cout.is_multiple_of(s.groups),
            "testgen: bad conv {s:?} on {sh:?}"
        );
        let cin_g = sh[1] / s.groups;
        let fan_in = (cin_g * s.k * s.k) as f32;
        let bound = (3.0 / fan_in).sqrt(); // uniform with variance 1/fan_in
        let w = self.init_fn("w", &[s.cout, cin_g, s.k, s.k], |r| {
            r.random_range(-bound..bound)
        });
        let mut inputs = vec![x.to_string(), w];
        if s.bias {
            inputs.push(self.init_fn("b", &[s.cout], |r| 0.1 * normal(r)));
        }
        let out_hw = |d: usize| (d + 2 * s.pad - s.dilation * (s.k - 1) - 1) / s.stride + 1;
        let shape = vec![sh[0], s.cout, out_hw(sh[2]), out_hw(sh[3])];
        let attrs = vec![
            make_attr_ints("kernel_shape", &[s.k as i64, s.k as i64]),
            make_attr_ints("strides", &[s.stride as i64, s.stride as i64]),
            make_attr_ints("pads", &[s.pad as i64; 4]),
            make_attr_ints("dilations", &[s.dilation as i64, s.dilation as i64]),
            make_attr_i("group", s.groups as i64),
        ];
        let m2 = self.m2_of(x) + if s.bias { 0.01 } else { 0.0 };
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.node("Conv", &refs, attrs, shape, m2)
    }

    /// BatchNormalization (inference form) with realistic statistics (see the module docs).
    pub fn batch_norm(&mut self, x: &str) -> String {
        let c = self.channels(x);
        let var_in = self.m2_of(x).max(1e-4);
        let mut gamma = vec![0f32; c];
        let mut beta = vec![0f32; c];
        let mut mean = vec![0f32; c];
        let mut var = vec![0f32; c];
        for i in 0..c {
            let dead = self.rng.random::<f32>() < 0.03;
            let v = var_in * (0.35 * normal(&mut self.rng)).exp();
            var[i] = if dead { v * 1e-3 } else { v };
            mean[i] = 0.2 * var_in.sqrt() * normal(&mut self.rng);
            gamma[i] = if dead {
                1e-3
            } else {
                self.rng.random_range(0.5f32..1.5)
            };
            beta[i] = 0.3 * normal(&mut self.rng);
        }
        let mut mk = |b: &str, v: Vec<f32>| {
            self.initializer(b, ArrayD::from_shape_vec(IxDyn(&[c]), v).expect("1-D"))
        };
        let (g, b, m, v) = (
            mk("bn_gamma", gamma),
            mk("bn_beta", beta),
            mk("bn_mean", mean),
            mk("bn_var", var),
        );
        let shape = self.shape(x).to_vec();
        let eps = self.bn_eps;
        self.node(
            "BatchNormalization",
            &[x, &g, &b, &m, &v],
            vec![make_attr_f("epsilon", eps)],
            shape,
            1.0,
        )
    }

    /// Applies an activation.
    pub fn act(&mut self, x: &str, act: Act) -> String {
        let shape = self.shape(x).to_vec();
        let m2 = self.m2_of(x);
        match act {
            Act::None => x.to_string(),
            Act::Silu => {
                let s = self.node("Sigmoid", &[x], vec![], shape.clone(), 0.3);
                self.node("Mul", &[x, &s], vec![], shape, 0.5 * m2)
            }
            Act::LeakyRelu(a) => self.node(
                "LeakyRelu",
                &[x],
                vec![make_attr_f("alpha", a)],
                shape,
                0.5 * m2,
            ),
            Act::Relu => self.node("Relu", &[x], vec![], shape, 0.5 * m2),
        }
    }

    /// Sigmoid.
    pub fn sigmoid(&mut self, x: &str) -> String {
        let shape = self.shape(x).to_vec();
        self.node("Sigmoid", &[x], vec![], shape, 0.3)
    }

    /// Conv (no bias) + BatchNormalization + activation: the basic YOLO `Conv` block.
    pub fn conv_bn_act(
        &mut self,
        x: &str,
        cout: usize,
        k: usize,
        stride: usize,
        act: Act,
    ) -> String {
        let c = self.conv(x, cout, k, stride);
        let b = self.batch_norm(&c);
        self.act(&b, act)
    }

    /// Grouped variant of [`GraphBuilder::conv_bn_act`].
    pub fn conv_bn_act_grouped(&mut self, x: &str, spec: ConvSpec, act: Act) -> String {
        let c = self.conv_with(x, spec);
        let b = self.batch_norm(&c);
        self.act(&b, act)
    }

    /// RepConv: 3×3 Conv+BN + 1×1 Conv+BN (+ identity BN when `identity` and the shapes allow it:
    /// same channels, stride 1, else `+ 0` as the official modules export it), summed by Add, then the activation.
    /// `identity = false` gives YOLOv9's RepConvN.
    pub fn repconv(
        &mut self,
        x: &str,
        cout: usize,
        stride: usize,
        identity: bool,
        act: Act,
    ) -> String {
        self.repconv_grouped(x, cout, stride, 1, identity, act)
    }

    /// [`GraphBuilder::repconv`] with a group count.
    pub fn repconv_grouped(
        &mut self,
        x: &str,
        cout: usize,
        stride: usize,
        groups: usize,
        identity: bool,
        act: Act,
    ) -> String {
        let c3 = self.conv_with(
            x,
            ConvSpec {
                groups,
                ..ConvSpec::new(cout, 3, stride)
            },
        );
        let b3 = self.batch_norm(&c3);
        let c1 = self.conv_with(
            x,
            ConvSpec {
                groups,
                ..ConvSpec::new(cout, 1, stride)
            },
        );
        let b1 = self.batch_norm(&c1);
        let shape = self.shape(&b3).to_vec();
        let mut sum = self.node("Add", &[&b3, &b1], vec![], shape.clone(), 2.0);
        if identity && stride == 1 && self.channels(x) == cout {
            let bi = self.batch_norm(x);
            sum = self.node("Add", &[&sum, &bi], vec![], shape, 3.0);
        } else {
            // YOLOv7's RepConv and YOLOv9's RepConvN add `id_out = 0` when there is no identity branch; the export
            // keeps that `+ 0` as an Add with a constant, which the merge leaves in place (a foreign operand).
            let zero = self.scalar("zero", 0.0);
            sum = self.node("Add", &[&sum, &zero], vec![], shape, 2.0);
        }
        self.act(&sum, act)
    }

    /// YOLOv10's RepVGGDW: depthwise 7×7 Conv+BN + depthwise 3×3 Conv+BN (channels kept, stride 1), summed by
    /// Add, then SiLU. [`crate::passes::repconv`] merges it into one depthwise 7×7 Conv.
    pub fn repvgg_dw(&mut self, x: &str) -> String {
        let c = self.channels(x);
        let dw = |k| ConvSpec {
            groups: c,
            ..ConvSpec::new(c, k, 1)
        };
        let c7 = self.conv_with(x, dw(7));
        let b7 = self.batch_norm(&c7);
        let c3 = self.conv_with(x, dw(3));
        let b3 = self.batch_norm(&c3);
        let shape = self.shape(&b7).to_vec();
        let sum = self.node("Add", &[&b7, &b3], vec![], shape, 2.0);
        self.act(&sum, Act::Silu)
    }

    /// Concat along `axis`.
    pub fn concat(&mut self, xs: &[&str], axis: usize) -> String {
        let mut shape = self.shape(xs[0]).to_vec();
        shape[axis] = xs.iter().map(|x| self.shape(x)[axis]).sum();
        let m2 = xs.iter().map(|x| self.m2_of(x)).sum::<f32>() / xs.len() as f32;
        self.node(
            "Concat",
            xs,
            vec![make_attr_i("axis", axis as i64)],
            shape,
            m2,
        )
    }

    /// Element-wise Add of two same-shaped values.
    pub fn add(&mut self, a: &str, b: &str) -> String {
        let shape = self.shape(a).to_vec();
        let m2 = self.m2_of(a) + self.m2_of(b);
        self.node("Add", &[a, b], vec![], shape, m2)
    }

    /// MaxPool with "same" padding.
    pub fn maxpool(&mut self, x: &str, k: usize, stride: usize) -> String {
        let sh = self.shape(x).to_vec();
        let p = k / 2;
        let o = |d: usize| (d + 2 * p - k) / stride + 1;
        let shape = vec![sh[0], sh[1], o(sh[2]), o(sh[3])];
        let m2 = self.m2_of(x) * 1.5;
        let attrs = vec![
            make_attr_ints("kernel_shape", &[k as i64, k as i64]),
            make_attr_ints("strides", &[stride as i64, stride as i64]),
            make_attr_ints("pads", &[p as i64; 4]),
        ];
        self.node("MaxPool", &[x], attrs, shape, m2)
    }

    /// Nearest-neighbour 2× upsampling with Resize (scales input, empty roi).
    pub fn upsample2x(&mut self, x: &str) -> String {
        let sh = self.shape(x).to_vec();
        let scales = self.initializer(
            "scales",
            ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0, 1.0, 2.0, 2.0]).expect("1-D"),
        );
        let m2 = self.m2_of(x);
        self.node(
            "Resize",
            &[x, "", &scales],
            vec![make_attr_s("mode", "nearest")],
            vec![sh[0], sh[1], sh[2] * 2, sh[3] * 2],
            m2,
        )
    }

    /// YOLOv7 ELAN block: two 1×1 branches, a chain of `depth` 3×3 convs on the second, Concat
    /// (both branches plus every second chain output, or all of them when `depth <= 2`), 1×1 fuse.
    pub fn elan(&mut self, x: &str, hidden: usize, cout: usize, depth: usize, act: Act) -> String {
        let a = self.conv_bn_act(x, hidden, 1, 1, act);
        let b = self.conv_bn_act(x, hidden, 1, 1, act);
        let mut parts = vec![a, b.clone()];
        let mut cur = b;
        for i in 0..depth {
            cur = self.conv_bn_act(&cur, hidden, 3, 1, act);
            if depth <= 2 || i % 2 == 1 {
                parts.push(cur.clone());
            }
        }
        parts.reverse();
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let cat = self.concat(&refs, 1);
        self.conv_bn_act(&cat, cout, 1, 1, act)
    }

    /// YOLOv9 RepNBottleneck: RepConvN 3×3 (no identity) then Conv 3×3, with a residual Add when
    /// the channels match.
    pub fn rep_n_bottleneck(&mut self, x: &str, cout: usize) -> String {
        let r = self.repconv(x, cout, 1, false, Act::Silu);
        let c = self.conv_bn_act(&r, cout, 3, 1, Act::Silu);
        if self.channels(x) == cout {
            self.add(x, &c)
        } else {
            c
        }
    }

    /// YOLOv9 RepNCSP: 1×1 → `n` RepNBottlenecks, in parallel with a 1×1, Concat, 1×1.
    pub fn rep_ncsp(&mut self, x: &str, cout: usize, n: usize) -> String {
        let c_ = (cout / 2).max(1);
        let mut a = self.conv_bn_act(x, c_, 1, 1, Act::Silu);
        for _ in 0..n {
            a = self.rep_n_bottleneck(&a, c_);
        }
        let b = self.conv_bn_act(x, c_, 1, 1, Act::Silu);
        let cat = self.concat(&[&a, &b], 1);
        self.conv_bn_act(&cat, cout, 1, 1, Act::Silu)
    }

    /// YOLOv9 RepNCSPELAN4(c1 → c2, c3, c4, n): 1×1 to c3, Split in two halves, two
    /// (RepNCSP + Conv 3×3) stages on the last half, Concat of the four, 1×1 to c2.
    pub fn rep_ncsp_elan4(&mut self, x: &str, c2: usize, c3: usize, c4: usize, n: usize) -> String {
        let a = self.conv_bn_act(x, c3, 1, 1, Act::Silu);
        let sh = self.shape(&a).to_vec();
        let half = vec![sh[0], c3 / 2, sh[2], sh[3]];
        let split = self.initializer_i64("split", &[(c3 / 2) as i64, (c3 - c3 / 2) as i64]);
        let name = self.fresh("split");
        let (y0, y1) = (format!("{name}_out0"), format!("{name}_out1"));
        self.nodes.push(make_node(
            "Split",
            &name,
            &[&a, &split],
            &[&y0, &y1],
            vec![make_attr_i("axis", 1)],
        ));
        let m2 = self.m2_of(&a);
        for y in [&y0, &y1] {
            self.shapes.insert(y.clone(), half.clone());
            self.m2.insert(y.clone(), m2);
        }
        let s1 = self.rep_ncsp(&y1, c4, n);
        let s1 = self.conv_bn_act(&s1, c4, 3, 1, Act::Silu);
        let s2 = self.rep_ncsp(&s1, c4, n);
        let s2 = self.conv_bn_act(&s2, c4, 3, 1, Act::Silu);
        let cat = self.concat(&[&y0, &y1, &s1, &s2], 1);
        self.conv_bn_act(&cat, c2, 1, 1, Act::Silu)
    }

    /// SPPF: 1×1 → three chained 5×5 MaxPools → Concat of the four → 1×1.
    pub fn sppf(&mut self, x: &str, cout: usize, act: Act) -> String {
        let c_ = (self.channels(x) / 2).max(1);
        let a = self.conv_bn_act(x, c_, 1, 1, act);
        let p1 = self.maxpool(&a, 5, 1);
        let p2 = self.maxpool(&p1, 5, 1);
        let p3 = self.maxpool(&p2, 5, 1);
        let cat = self.concat(&[&a, &p1, &p2, &p3], 1);
        self.conv_bn_act(&cat, cout, 1, 1, act)
    }

    /// YOLOv7 ImplicitA: Add of a per-channel constant ([1, C, 1, 1], N(0, 0.02)).
    pub fn implicit_a(&mut self, x: &str) -> String {
        let c = self.channels(x);
        let a = self.init_fn("implicit_a", &[1, c, 1, 1], |r| 0.02 * normal(r));
        let shape = self.shape(x).to_vec();
        let m2 = self.m2_of(x);
        self.node("Add", &[x, &a], vec![], shape, m2)
    }

    /// YOLOv7 ImplicitM: Mul by a per-channel constant ([1, C, 1, 1], N(1, 0.02)).
    pub fn implicit_m(&mut self, x: &str) -> String {
        let c = self.channels(x);
        let m = self.init_fn("implicit_m", &[1, c, 1, 1], |r| 1.0 + 0.02 * normal(r));
        let shape = self.shape(x).to_vec();
        let m2 = self.m2_of(x);
        self.node("Mul", &[x, &m], vec![], shape, m2)
    }

    fn scalar(&mut self, base: &str, v: f32) -> String {
        self.initializer(
            base,
            ArrayD::from_shape_vec(IxDyn(&[1]), vec![v]).expect("scalar"),
        )
    }

    fn reshape(&mut self, x: &str, shape: &[usize]) -> String {
        let s = self.initializer_i64("shape", &to_i64(shape));
        let m2 = self.m2_of(x);
        self.node("Reshape", &[x, &s], vec![], shape.to_vec(), m2)
    }

    fn transpose(&mut self, x: &str, perm: &[usize]) -> String {
        let sh = self.shape(x).to_vec();
        let shape = perm.iter().map(|&p| sh[p]).collect();
        let m2 = self.m2_of(x);
        self.node(
            "Transpose",
            &[x],
            vec![make_attr_ints("perm", &to_i64(perm))],
            shape,
            m2,
        )
    }

    fn slice_last(&mut self, x: &str, start: usize, end: usize) -> String {
        let sh = self.shape(x).to_vec();
        let axis = sh.len() - 1;
        let st = self.initializer_i64("starts", &[start as i64]);
        let en = self.initializer_i64("ends", &[end as i64]);
        let ax = self.initializer_i64("axes", &[axis as i64]);
        let mut shape = sh;
        shape[axis] = end - start;
        let m2 = self.m2_of(x);
        self.node("Slice", &[x, &st, &en, &ax], vec![], shape, m2)
    }

    fn binary(&mut self, op: &str, a: &str, b: &str) -> String {
        let shape = self.shape(a).to_vec();
        let m2 = self.m2_of(a);
        self.node(op, &[a, b], vec![], shape, m2)
    }

    /// YOLOv7 IDetect exported with `--grid`: per level ImplicitA → Conv 1×1 (bias) → ImplicitM →
    /// Reshape [B, na, no, H, W] → Transpose → Sigmoid → xy = (2s − 0.5 + grid)·stride,
    /// wh = (2s)²·anchor → Concat → [B, na·H·W, no]; levels concatenated: `[B, N, 5 + nc]`.
    /// `anchors[level]` lists `(w, h)` pairs in pixels.
    pub fn yolov7_detect(
        &mut self,
        levels: &[Level],
        anchors: &[Vec<(f32, f32)>],
        nc: usize,
    ) -> String {
        let no = 5 + nc;
        let mut outs = Vec::new();
        for (li, lv) in levels.iter().enumerate() {
            let na = anchors[li].len();
            let a = self.implicit_a(&lv.value);
            let c = self.conv_with(
                &a,
                ConvSpec {
                    bias: true,
                    ..ConvSpec::new(na * no, 1, 1)
                },
            );
            let m = self.implicit_m(&c);
            let sh = self.shape(&m).to_vec();
            let (b, h, w) = (sh[0], sh[2], sh[3]);
            let r = self.reshape(&m, &[b, na, no, h, w]);
            let t = self.transpose(&r, &[0, 1, 3, 4, 2]);
            let y = self.sigmoid(&t);
            let xy = self.slice_last(&y, 0, 2);
            let wh = self.slice_last(&y, 2, 4);
            let rest = self.slice_last(&y, 4, no);
            let two = self.scalar("two", 2.0);
            let half = self.scalar("half", 0.5);
            let stride = self.scalar("stride", lv.stride as f32);
            let grid = if self.counting {
                self.params += 2 * 2 * na * h * w;
                self.fresh("grid")
            } else {
                let g = ArrayD::from_shape_fn(IxDyn(&[1, na, h, w, 2]), |d| {
                    if d[4] == 0 {
                        d[3] as f32
                    } else {
                        d[2] as f32
                    }
                });
                self.initializer("grid", g)
            };
            let anchor_grid = if self.counting {
                self.fresh("anchor_grid")
            } else {
                let an = &anchors[li];
                let g = ArrayD::from_shape_fn(IxDyn(&[1, na, h, w, 2]), |d| {
                    if d[4] == 0 {
                        an[d[1]].0
                    } else {
                        an[d[1]].1
                    }
                });
                self.initializer("anchor_grid", g)
            };
            let xy = self.binary("Mul", &xy, &two);
            let xy = self.binary("Sub", &xy, &half);
            let xy = self.binary("Add", &xy, &grid);
            let xy = self.binary("Mul", &xy, &stride);
            let wh = self.binary("Mul", &wh, &two);
            let wh = self.binary("Pow", &wh, &two);
            let wh = self.binary("Mul", &wh, &anchor_grid);
            let cat = self.concat(&[&xy, &wh, &rest], 4);
            outs.push(self.reshape(&cat, &[b, na * h * w, no]));
        }
        let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
        self.concat(&refs, 1)
    }

    /// YOLOv9 DDetect-style head: per level a box branch (Conv 3×3, Conv 3×3, Conv 1×1 → 4·reg_max)
    /// and a class branch (Conv 3×3, Conv 3×3, Conv 1×1 → nc), Concat → Reshape → Concat levels,
    /// DFL (Reshape `[B, 4, reg_max, A]` → Transpose → Softmax → Conv 1×1 with weights 0..reg_max−1 →
    /// Reshape), dist2bbox with anchor points and strides (xywh in pixels), Sigmoid on classes:
    /// `[B, 4 + nc, A]`.
    pub fn yolov9_detect(
        &mut self,
        levels: &[Level],
        nc: usize,
        reg_max: usize,
        hidden: usize,
    ) -> String {
        let mut heads = Vec::new();
        for lv in levels {
            let bx = self.conv_bn_act(&lv.value, hidden, 3, 1, Act::Silu);
            let bx = self.conv_bn_act(&bx, hidden, 3, 1, Act::Silu);
            let bx = self.conv_with(
                &bx,
                ConvSpec {
                    bias: true,
                    ..ConvSpec::new(4 * reg_max, 1, 1)
                },
            );
            let cl = self.conv_bn_act(&lv.value, hidden, 3, 1, Act::Silu);
            let cl = self.conv_bn_act(&cl, hidden, 3, 1, Act::Silu);
            let cl = self.conv_with(
                &cl,
                ConvSpec {
                    bias: true,
                    ..ConvSpec::new(nc, 1, 1)
                },
            );
            heads.push((bx, cl, lv.stride));
        }
        self.dfl_decode(&heads, nc, reg_max)
    }

    /// The decode part of [`GraphBuilder::yolov9_detect`] from per-level raw box logits
    /// ([B, 4·reg_max, H, W]) and class logits ([B, nc, H, W]).
    pub fn dfl_decode(
        &mut self,
        heads: &[(String, String, usize)],
        nc: usize,
        reg_max: usize,
    ) -> String {
        let no = 4 * reg_max + nc;
        let mut flat = Vec::new();
        let mut anchor_pts = Vec::new();
        let mut strides = Vec::new();
        let mut b = 1;
        for (bx, cl, stride) in heads {
            let cat = self.concat(&[bx, cl], 1);
            let sh = self.shape(&cat).to_vec();
            b = sh[0];
            let (h, w) = (sh[2], sh[3]);
            flat.push(self.reshape(&cat, &[b, no, h * w]));
            for y in 0..h {
                for x in 0..w {
                    anchor_pts.push((x as f32 + 0.5, y as f32 + 0.5));
                    strides.push(*stride as f32);
                }
            }
        }
        let a = anchor_pts.len();
        let refs: Vec<&str> = flat.iter().map(String::as_str).collect();
        let all = self.concat(&refs, 2);
        let split = self.initializer_i64("split", &[(4 * reg_max) as i64, nc as i64]);
        let name = self.fresh("split");
        let (box_v, cls_v) = (format!("{name}_box"), format!("{name}_cls"));
        self.nodes.push(make_node(
            "Split",
            &name,
            &[&all, &split],
            &[&box_v, &cls_v],
            vec![make_attr_i("axis", 1)],
        ));
        self.shapes.insert(box_v.clone(), vec![b, 4 * reg_max, a]);
        self.shapes.insert(cls_v.clone(), vec![b, nc, a]);
        // DFL.
        let r = self.reshape(&box_v, &[b, 4, reg_max, a]);
        let t = self.transpose(&r, &[0, 2, 1, 3]);
        let sm = {
            let shape = self.shape(&t).to_vec();
            self.node("Softmax", &[&t], vec![make_attr_i("axis", 1)], shape, 0.1)
        };
        let dfl_w = self.initializer(
            "dfl_w",
            ArrayD::from_shape_fn(IxDyn(&[1, reg_max, 1, 1]), |d| d[1] as f32),
        );
        let dist = self.node(
            "Conv",
            &[&sm, &dfl_w],
            vec![make_attr_ints("kernel_shape", &[1, 1])],
            vec![b, 1, 4, a],
            10.0,
        );
        let dist = self.reshape(&dist, &[b, 4, a]);
        // dist2bbox.
        let ltrb = self.initializer_i64("split", &[2, 2]);
        let name = self.fresh("split");
        let (lt, rb) = (format!("{name}_lt"), format!("{name}_rb"));
        self.nodes.push(make_node(
            "Split",
            &name,
            &[&dist, &ltrb],
            &[&lt, &rb],
            vec![make_attr_i("axis", 1)],
        ));
        self.shapes.insert(lt.clone(), vec![b, 2, a]);
        self.shapes.insert(rb.clone(), vec![b, 2, a]);
        let anchors = self.initializer(
            "anchor_points",
            ArrayD::from_shape_fn(IxDyn(&[1, 2, a]), |d| {
                if d[1] == 0 {
                    anchor_pts[d[2]].0
                } else {
                    anchor_pts[d[2]].1
                }
            }),
        );
        let x1y1 = self.binary("Sub", &anchors, &lt);
        self.shapes.insert(x1y1.clone(), vec![b, 2, a]);
        let x2y2 = self.binary("Add", &anchors, &rb);
        self.shapes.insert(x2y2.clone(), vec![b, 2, a]);
        let s = self.add(&x1y1, &x2y2);
        let half = self.scalar("half", 0.5);
        let cxy = self.binary("Mul", &s, &half);
        let wh = self.binary("Sub", &x2y2, &x1y1);
        let xywh = self.concat(&[&cxy, &wh], 1);
        let st = self.initializer(
            "strides",
            ArrayD::from_shape_vec(IxDyn(&[1, a]), strides).expect("2-D"),
        );
        let dbox = self.binary("Mul", &xywh, &st);
        let cls = self.sigmoid(&cls_v);
        self.concat(&[&dbox, &cls], 1)
    }

    /// Finishes the graph into a [`Model`].
    ///
    /// # Panics
    /// On a counting builder (it holds no data).
    pub fn finish(self) -> Model {
        assert!(
            !self.counting,
            "testgen: a counting builder cannot produce a model"
        );
        let g = GraphProto {
            name: self.name,
            node: self.nodes,
            initializer: self.inits,
            input: self.inputs,
            output: self.outputs,
            ..Default::default()
        };
        let mut m = Model::new(g, self.opset);
        m.set_source_name("<testgen>");
        m
    }
}

fn to_i64(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&d| d as i64).collect()
}

/// Input name of the generated models.
pub const INPUT: &str = "images";

/// Single Conv + BN + activation on a `[1, cin, 16, 16]` input.
pub fn conv_bn_act_model(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    act: Act,
    seed: u64,
) -> Model {
    let mut b = GraphBuilder::new("conv_bn", seed);
    let x = b.input(INPUT, &[1, cin, 16, 16]);
    let y = b.conv_bn_act(&x, cout, k, stride, act);
    b.output(&y);
    b.finish()
}

/// A stack of RepConv blocks on `[1, c, 16, 16]`: `blocks` RepConvs (identity branch when
/// `identity`) with `groups` groups, SiLU.
pub fn repconv_model(c: usize, blocks: usize, groups: usize, identity: bool, seed: u64) -> Model {
    let mut b = GraphBuilder::new("repconv", seed);
    let mut x = b.input(INPUT, &[1, c, 16, 16]);
    for _ in 0..blocks {
        x = b.repconv_grouped(&x, c, 1, groups, identity, Act::Silu);
    }
    b.output(&x);
    b.finish()
}

/// A RepConv-heavy slice for CPU benchmarks: stem + `blocks` RepConvs of width `c` at `size`².
pub fn repconv_bench_model(c: usize, blocks: usize, size: usize, seed: u64) -> Model {
    let mut b = GraphBuilder::new("repconv_bench", seed);
    let x = b.input(INPUT, &[1, 3, size, size]);
    let mut x = b.conv_bn_act(&x, c, 3, 2, Act::Silu);
    for i in 0..blocks {
        x = b.repconv(&x, c, 1, i % 2 == 0, Act::Silu);
    }
    b.output(&x);
    b.finish()
}

/// ELAN block (YOLOv7, depth 4) on `[1, 16, 16, 16]`.
pub fn elan_model(seed: u64) -> Model {
    let mut b = GraphBuilder::new("elan", seed);
    let x = b.input(INPUT, &[1, 16, 16, 16]);
    let y = b.elan(&x, 8, 32, 4, Act::Silu);
    b.output(&y);
    b.finish()
}

/// SPPF on `[1, 16, 16, 16]`.
pub fn sppf_model(seed: u64) -> Model {
    let mut b = GraphBuilder::new("sppf", seed);
    let x = b.input(INPUT, &[1, 16, 16, 16]);
    let y = b.sppf(&x, 16, Act::Silu);
    b.output(&y);
    b.finish()
}

/// FPN fragment: two scales, 1×1 lateral, Resize 2× upsample, Concat, Conv.
pub fn fpn_model(seed: u64) -> Model {
    let mut b = GraphBuilder::new("fpn", seed);
    let x = b.input(INPUT, &[1, 3, 32, 32]);
    let p3 = b.conv_bn_act(&x, 16, 3, 2, Act::Silu);
    let p4 = b.conv_bn_act(&p3, 32, 3, 2, Act::Silu);
    let lat = b.conv_bn_act(&p4, 16, 1, 1, Act::Silu);
    let up = b.upsample2x(&lat);
    let cat = b.concat(&[&up, &p3], 1);
    let y = b.conv_bn_act(&cat, 16, 3, 1, Act::Silu);
    b.output(&y);
    b.finish()
}

/// Anchors of YOLOv7-tiny (P3, P4, P5), pixels.
pub fn yolov7_anchors() -> Vec<Vec<(f32, f32)>> {
    vec![
        vec![(12.0, 16.0), (19.0, 36.0), (40.0, 28.0)],
        vec![(36.0, 75.0), (76.0, 55.0), (72.0, 146.0)],
        vec![(142.0, 110.0), (192.0, 243.0), (459.0, 401.0)],
    ]
}

/// A YOLOv7-tiny-like slice on `[1, 3, 128, 128]` with LeakyReLU(0.1): stem, ELAN-tiny blocks,
/// MaxPool downsampling, SPPF, an FPN (Resize + Concat), RepConv before each head (as YOLOv7 uses)
/// and an IDetect head with ImplicitA/ImplicitM exported with `--grid`: output `output`
/// `[1, 3·(16² + 8² + 4²), 5 + nc]` = `[1, 1008, 5 + nc]`.
pub fn yolov7_tiny_slice(nc: usize, seed: u64) -> Model {
    let act = Act::LeakyRelu(0.1);
    let mut b = GraphBuilder::new("yolov7_tiny_slice", seed);
    let x = b.input(INPUT, &[1, 3, 128, 128]);
    let x = b.conv_bn_act(&x, 16, 3, 2, act); // 64
    let x = b.conv_bn_act(&x, 32, 3, 2, act); // 32
    let x = b.elan(&x, 16, 32, 2, act);
    let x = b.maxpool_k2(&x); // 16 (stride 8)
    let p3 = b.elan(&x, 16, 32, 2, act);
    let x = b.maxpool_k2(&p3); // 8
    let p4 = b.elan(&x, 32, 64, 2, act);
    let x = b.maxpool_k2(&p4); // 4
    let x = b.elan(&x, 32, 64, 2, act);
    let p5 = b.sppf(&x, 64, act);
    let lat = b.conv_bn_act(&p5, 32, 1, 1, act);
    let up = b.upsample2x(&lat);
    let l4 = b.conv_bn_act(&p4, 32, 1, 1, act);
    let cat = b.concat(&[&up, &l4], 1);
    let h4 = b.elan(&cat, 16, 32, 2, act);
    let lat = b.conv_bn_act(&h4, 16, 1, 1, act);
    let up = b.upsample2x(&lat);
    let l3 = b.conv_bn_act(&p3, 16, 1, 1, act);
    let cat = b.concat(&[&up, &l3], 1);
    let h3 = b.elan(&cat, 8, 16, 2, act);
    let r3 = b.repconv(&h3, 32, 1, true, act);
    let r4 = b.repconv(&h4, 32, 1, true, act);
    let r5 = b.repconv(&p5, 64, 1, true, act);
    let levels = [
        Level {
            value: r3,
            stride: 8,
        },
        Level {
            value: r4,
            stride: 16,
        },
        Level {
            value: r5,
            stride: 32,
        },
    ];
    let y = b.yolov7_detect(&levels, &yolov7_anchors(), nc);
    let y = b.rename_output(&y, "output");
    b.output(&y);
    b.finish()
}

/// A YOLOv9-like slice on `[1, 3, 128, 128]`: stem, RepNCSPELAN4 blocks (RepConvN inside),
/// SPPF, an FPN (Resize + Concat) and a DFL head (reg_max 16): output `output0`
/// `[1, 4 + nc, 16² + 8² + 4²]` = `[1, 4 + nc, 336]`.
pub fn yolov9_slice(nc: usize, seed: u64) -> Model {
    let mut b = GraphBuilder::new("yolov9_slice", seed);
    let body = yolov9_body(&mut b);
    let y = b.yolov9_detect(&yolov9_levels(&body.h3, &body.h4, &body.p5), nc, 16, 16);
    let y = b.rename_output(&y, "output0");
    b.output(&y);
    b.finish()
}

/// The backbone levels (P3–P5) and neck outputs (H3, H4) of the YOLOv9 slices on `[1, 3, 128, 128]`.
struct Yolov9Body {
    p3: String,
    p4: String,
    p5: String,
    h3: String,
    h4: String,
}

fn yolov9_body(b: &mut GraphBuilder) -> Yolov9Body {
    let x = b.input(INPUT, &[1, 3, 128, 128]);
    let x = b.conv_bn_act(&x, 16, 3, 2, Act::Silu); // 64
    let x = b.conv_bn_act(&x, 32, 3, 2, Act::Silu); // 32
    let x = b.rep_ncsp_elan4(&x, 32, 32, 16, 1);
    let x = b.conv_bn_act(&x, 32, 3, 2, Act::Silu); // 16 (stride 8)
    let p3 = b.rep_ncsp_elan4(&x, 32, 32, 16, 1);
    let x = b.conv_bn_act(&p3, 48, 3, 2, Act::Silu); // 8
    let p4 = b.rep_ncsp_elan4(&x, 48, 48, 24, 1);
    let x = b.conv_bn_act(&p4, 64, 3, 2, Act::Silu); // 4
    let x = b.rep_ncsp_elan4(&x, 64, 64, 32, 1);
    let p5 = b.sppf(&x, 64, Act::Silu);
    let up = b.upsample2x(&p5);
    let cat = b.concat(&[&up, &p4], 1);
    let h4 = b.rep_ncsp_elan4(&cat, 48, 48, 24, 1);
    let up = b.upsample2x(&h4);
    let cat = b.concat(&[&up, &p3], 1);
    let h3 = b.rep_ncsp_elan4(&cat, 32, 32, 16, 1);
    Yolov9Body { p3, p4, p5, h3, h4 }
}

/// Detection levels at strides 8, 16 and 32.
fn yolov9_levels(v3: &str, v4: &str, v5: &str) -> [Level; 3] {
    [(v3, 8), (v4, 16), (v5, 32)].map(|(v, stride)| Level {
        value: v.to_string(),
        stride,
    })
}

/// YOLOv9 as exported before YOLOv9's own re-parameterization (`yolov9-c.pt`, not `-converted`), on
/// `[1, 3, 128, 128]`: the [`yolov9_slice`] backbone and neck with its main DFL head, plus the multi-level auxiliary
/// branch (from the backbone's P3/P4/P5) and its own DFL head — `DualDDetect`. Outputs in DualDDetect's order:
/// `aux` (the auxiliary head) then `output0` (the main head), both `[1, 4 + nc, 336]`.
pub fn yolov9_dual_slice(nc: usize, seed: u64) -> Model {
    let mut b = GraphBuilder::new("yolov9_dual_slice", seed);
    let Yolov9Body { p3, p4, p5, h3, h4 } = yolov9_body(&mut b);
    // Auxiliary branch (CBLinear → CBFuse in YOLOv9, simplified): its own path from the backbone levels.
    let a3 = b.conv_bn_act(&p3, 32, 1, 1, Act::Silu);
    let a3 = b.rep_ncsp_elan4(&a3, 32, 32, 16, 1);
    let a4 = b.conv_bn_act(&a3, 48, 3, 2, Act::Silu);
    let l4 = b.conv_bn_act(&p4, 48, 1, 1, Act::Silu);
    let a4 = b.add(&a4, &l4);
    let a4 = b.rep_ncsp_elan4(&a4, 48, 48, 24, 1);
    let a5 = b.conv_bn_act(&a4, 64, 3, 2, Act::Silu);
    let l5 = b.conv_bn_act(&p5, 64, 1, 1, Act::Silu);
    let a5 = b.add(&a5, &l5);
    let aux = b.yolov9_detect(&yolov9_levels(&a3, &a4, &a5), nc, 16, 16);
    let aux = b.rename_output(&aux, "aux");
    let main = b.yolov9_detect(&yolov9_levels(&h3, &h4, &p5), nc, 16, 16);
    let main = b.rename_output(&main, "output0");
    b.output(&aux);
    b.output(&main);
    b.finish()
}

/// A YOLOv10-style slice on `[1, 3, 64, 64]`: Conv+BN stem, a C2fCIB-like block whose bottleneck holds a
/// RepVGGDW (depthwise 7×7 + 3×3), a RepConv with an identity BN branch, and a 1×1 head: output `output0`
/// `[1, 4 + nc, 16, 16]` (the raw map; the re-parameterization under test is the blocks).
pub fn yolov10_slice(nc: usize, seed: u64) -> Model {
    let mut b = GraphBuilder::new("yolov10_slice", seed);
    let x = b.input(INPUT, &[1, 3, 64, 64]);
    let x = b.conv_bn_act(&x, 16, 3, 2, Act::Silu); // 32
    let x = b.conv_bn_act(&x, 32, 3, 2, Act::Silu); // 16
                                                    // CIB: DW 3×3, PW 1×1, RepVGGDW, PW 1×1, DW 3×3, with the residual.
    let dw3 = |b: &mut GraphBuilder, v: &str| {
        let c = b.channels(v);
        b.conv_bn_act_grouped(
            v,
            ConvSpec {
                groups: c,
                ..ConvSpec::new(c, 3, 1)
            },
            Act::Silu,
        )
    };
    let y = dw3(&mut b, &x);
    let y = b.conv_bn_act(&y, 32, 1, 1, Act::Silu);
    let y = b.repvgg_dw(&y);
    let y = b.conv_bn_act(&y, 32, 1, 1, Act::Silu);
    let y = dw3(&mut b, &y);
    let x = b.add(&x, &y);
    let x = b.repconv(&x, 32, 1, true, Act::Silu);
    let y = b.conv_with(
        &x,
        ConvSpec {
            bias: true,
            ..ConvSpec::new(4 + nc, 1, 1)
        },
    );
    let y = b.rename_output(&y, "output0");
    b.output(&y);
    b.finish()
}

impl GraphBuilder {
    /// MaxPool 2×2 stride 2 (YOLOv7-tiny downsampling).
    pub fn maxpool_k2(&mut self, x: &str) -> String {
        let sh = self.shape(x).to_vec();
        let m2 = self.m2_of(x) * 1.5;
        let attrs = vec![
            make_attr_ints("kernel_shape", &[2, 2]),
            make_attr_ints("strides", &[2, 2]),
        ];
        self.node(
            "MaxPool",
            &[x],
            attrs,
            vec![sh[0], sh[1], sh[2] / 2, sh[3] / 2],
            m2,
        )
    }

    /// Renames the value `v` (produced by the last node that outputs it) to `name`.
    pub fn rename_output(&mut self, v: &str, name: &str) -> String {
        for n in self.nodes.iter_mut() {
            for o in n.output.iter_mut() {
                if o == v {
                    *o = name.to_string();
                }
            }
            for i in n.input.iter_mut() {
                if i == v {
                    *i = name.to_string();
                }
            }
        }
        let s = self.shapes.remove(v).unwrap_or_default();
        self.shapes.insert(name.to_string(), s);
        name.to_string()
    }
}

/// Builds a YOLOv7-like graph (ELAN backbone, SPPF, FPN + PAN with Resize/Concat, RepConv before
/// each head, IDetect with implicit layers and `--grid` decode, 80 classes) on `[1, 3, 640, 640]`
/// whose parameter count is within a few percent of `params` (YOLOv7 has ≈ 36.9 M). Unfused:
/// every Conv has a BatchNormalization and every head a three-branch RepConv. Meant for the fuse
/// benchmark; running it on the CPU executor takes seconds.
pub fn yolov7_sized(params: usize, seed: u64) -> Model {
    fn build(b: &mut GraphBuilder, w: f64) {
        let c = |x: usize| (((x as f64 * w) / 8.0).round().max(1.0) * 8.0) as usize;
        let act = Act::Silu;
        let x = b.input(INPUT, &[1, 3, 640, 640]);
        let x = b.conv_bn_act(&x, c(32), 3, 1, act);
        let x = b.conv_bn_act(&x, c(64), 3, 2, act);
        let x = b.conv_bn_act(&x, c(64), 3, 1, act);
        let x = b.conv_bn_act(&x, c(128), 3, 2, act);
        let x = b.elan(&x, c(64), c(256), 4, act);
        let x = b.conv_bn_act(&x, c(256), 3, 2, act);
        let p3 = b.elan(&x, c(128), c(512), 4, act);
        let x = b.conv_bn_act(&p3, c(512), 3, 2, act);
        let p4 = b.elan(&x, c(256), c(1024), 4, act);
        let x = b.conv_bn_act(&p4, c(1024), 3, 2, act);
        let p5 = b.elan(&x, c(256), c(1024), 4, act);
        let s = b.sppf(&p5, c(512), act);
        let l = b.conv_bn_act(&s, c(256), 1, 1, act);
        let u = b.upsample2x(&l);
        let l4 = b.conv_bn_act(&p4, c(256), 1, 1, act);
        let cat = b.concat(&[&u, &l4], 1);
        let h4 = b.elan(&cat, c(128), c(256), 4, act);
        let l = b.conv_bn_act(&h4, c(128), 1, 1, act);
        let u = b.upsample2x(&l);
        let l3 = b.conv_bn_act(&p3, c(128), 1, 1, act);
        let cat = b.concat(&[&u, &l3], 1);
        let h3 = b.elan(&cat, c(64), c(128), 4, act);
        let d = b.conv_bn_act(&h3, c(256), 3, 2, act);
        let cat = b.concat(&[&d, &h4], 1);
        let n4 = b.elan(&cat, c(128), c(256), 4, act);
        let d = b.conv_bn_act(&n4, c(512), 3, 2, act);
        let cat = b.concat(&[&d, &s], 1);
        let n5 = b.elan(&cat, c(256), c(512), 4, act);
        let r3 = b.repconv(&h3, c(256), 1, true, act);
        let r4 = b.repconv(&n4, c(512), 1, true, act);
        let r5 = b.repconv(&n5, c(1024), 1, true, act);
        let levels = [
            Level {
                value: r3,
                stride: 8,
            },
            Level {
                value: r4,
                stride: 16,
            },
            Level {
                value: r5,
                stride: 32,
            },
        ];
        let y = b.yolov7_detect(&levels, &yolov7_anchors(), 80);
        let y = b.rename_output(&y, "output");
        b.output(&y);
    }
    let count = |w: f64| {
        let mut b = GraphBuilder::counting("count");
        build(&mut b, w);
        b.param_count()
    };
    let mut w = 1.0;
    for _ in 0..3 {
        let p = count(w);
        w *= (params.max(1) as f64 / p as f64).sqrt();
    }
    let mut b = GraphBuilder::new("yolov7_sized", seed);
    build(&mut b, w);
    b.finish()
}

/// Input size and class count of the default [`tiny_detector`].
pub const TINY_DETECTOR_SIZE: usize = 64;

/// A hand-weighted YOLOv9-style detector of coloured squares, for end-to-end detection tests.
///
/// Input `images` `[1, 3, size, size]` (size a multiple of 32) in [0, 1]; output `output0`
/// `[1, 4 + nc, A]` with `A = Σ (size/s)²` over strides s = 8, 16, 32 (84 for size 64): rows 0..4
/// are `cx, cy, w, h` in input pixels, rows 4.. class scores in [0, 1] — the format of a YOLOv9
/// export. Class `c < 3` is "a square of pure colour channel `c`" (red, green, blue) on a darker
/// or grey background; classes `c ≥ 3` never fire.
///
/// How it responds: at stride `s`, the score of cell (i, j) is
/// `sigmoid(24·r − 18)` where `r` is a colour-opponent centre–surround response (cell mean minus the
/// mean of the 8 neighbouring cells, channel `c` minus half of the other two). A square of side `s`
/// exactly covering one cell of the stride-`s` grid on a uniform background gives r = 1 → score
/// ≈ 0.9975 at that cell with box `(j·s + s/2, i·s + s/2, s, s)` (the box is always the cell: the DFL
/// distributions put half their mass on bins 0 and 1, i.e. distances of 0.5 cells); finer levels
/// respond at most ≈ 0.05 and coarser ones ≈ 0. The graph contains the real decode ops (Split,
/// Reshape, Transpose, Softmax, DFL Conv, dist2bbox, Sigmoid). Runs in well under a second.
///
/// # Panics
/// When `size` is not a positive multiple of 32 or `nc` is 0.
pub fn tiny_detector(size: usize, nc: usize) -> Model {
    assert!(
        size > 0 && size.is_multiple_of(32) && nc > 0,
        "tiny_detector: size must be a multiple of 32, nc > 0"
    );
    let reg_max = 16;
    let mut b = GraphBuilder::new("tiny_detector", 0);
    let x = b.input(INPUT, &[1, 3, size, size]);
    let mut heads = Vec::new();
    for s in [8usize, 16, 32] {
        // Class logits: one Conv (kernel 3s, stride s, pad s) implementing the centre-surround,
        // colour-opponent filter.
        let k = 3 * s;
        let mut w = ArrayD::<f32>::zeros(IxDyn(&[nc, 3, k, k]));
        let mut bias = vec![-18.0f32; nc];
        for c in 0..nc {
            if c >= 3 {
                bias[c] = -30.0;
                continue;
            }
            for ci in 0..3 {
                let colour = if ci == c { 1.0 } else { -0.5 };
                for ky in 0..k {
                    for kx in 0..k {
                        let centre = (s..2 * s).contains(&ky) && (s..2 * s).contains(&kx);
                        let spatial = if centre {
                            1.0 / (s * s) as f32
                        } else {
                            -1.0 / (8 * s * s) as f32
                        };
                        w[[c, ci, ky, kx]] = 24.0 * colour * spatial;
                    }
                }
            }
        }
        let wn = b.initializer("cls_w", w);
        let bn = b.initializer(
            "cls_b",
            ArrayD::from_shape_vec(IxDyn(&[nc]), bias).expect("1-D"),
        );
        let g = size / s;
        let attrs = vec![
            make_attr_ints("kernel_shape", &[k as i64, k as i64]),
            make_attr_ints("strides", &[s as i64, s as i64]),
            make_attr_ints("pads", &[s as i64; 4]),
        ];
        let cls = b.node("Conv", &[&x, &wn, &bn], attrs, vec![1, nc, g, g], 1.0);
        // Box logits: zero weights, bias with equal large logits on bins 0 and 1.
        let bw = b.initializer("box_w", ArrayD::zeros(IxDyn(&[4 * reg_max, 3, 1, 1])));
        let bb = b.initializer(
            "box_b",
            ArrayD::from_shape_fn(IxDyn(&[4 * reg_max]), |d| {
                if d[0] % reg_max < 2 {
                    20.0
                } else {
                    0.0
                }
            }),
        );
        let pooled = {
            let attrs = vec![
                make_attr_ints("kernel_shape", &[s as i64, s as i64]),
                make_attr_ints("strides", &[s as i64, s as i64]),
            ];
            b.node("AveragePool", &[&x], attrs, vec![1, 3, g, g], 0.33)
        };
        let bx = b.node(
            "Conv",
            &[&pooled, &bw, &bb],
            vec![make_attr_ints("kernel_shape", &[1, 1])],
            vec![1, 4 * reg_max, g, g],
            1.0,
        );
        heads.push((bx, cls, s));
    }
    let y = b.dfl_decode(&heads, nc, reg_max);
    let y = b.rename_output(&y, "output0");
    b.output(&y);
    b.finish()
}

/// An input image for [`tiny_detector`]: grey (0.5) background with pure-colour squares.
/// Each square is `(x0, y0, side, class)` in pixels; class `c < 3` paints channel `c` at 1.0 and the
/// others at 0.0. Returns `[1, 3, size, size]`.
pub fn tiny_detector_image(size: usize, squares: &[(usize, usize, usize, usize)]) -> ArrayD<f32> {
    let mut a = ArrayD::<f32>::from_elem(IxDyn(&[1, 3, size, size]), 0.5);
    for &(x0, y0, side, class) in squares {
        for y in y0..(y0 + side).min(size) {
            for x in x0..(x0 + side).min(size) {
                for c in 0..3 {
                    a[[0, c, y, x]] = if c == class % 3 { 1.0 } else { 0.0 };
                }
            }
        }
    }
    a
}

/// Turns the `nth` BatchNormalization of `model` into a training-mode export (three outputs: the running mean and
/// variance too) named `name` — what the passes must leave alone and the CPU executor refuses.
///
/// # Panics
/// When the model has fewer BatchNormalizations.
pub fn make_training_mode_bn(model: &mut Model, nth: usize, name: &str) {
    model.graph_mut().edit_proto(|p| {
        let bn = p
            .node
            .iter_mut()
            .filter(|n| n.op_type == "BatchNormalization")
            .nth(nth)
            .expect("the model has that many BatchNormalizations");
        bn.name = name.into();
        bn.output.push(format!("{name}_running_mean"));
        bn.output.push(format!("{name}_running_var"));
    });
}

/// Names of the models [`sample`] generates.
pub const SAMPLE_KINDS: &[&str] = &[
    "yolov7-tiny",
    "yolov9",
    "yolov9-dual",
    "yolov10",
    "repconv",
    "repconv-bench",
    "conv-bn",
    "elan",
    "sppf",
    "fpn",
    "tiny-detector",
    "yolov7-sized",
];

/// Generates a model by name (see [`SAMPLE_KINDS`]); used by `trt-onnx sample`.
/// `yolov7-tiny` and `yolov9` have 4 classes; `yolov7-sized` has ≈ 36.9 M parameters.
pub fn sample(kind: &str, seed: u64) -> Result<Model> {
    Ok(match kind {
        "yolov7-tiny" => yolov7_tiny_slice(4, seed),
        "yolov9" => yolov9_slice(4, seed),
        "yolov9-dual" => yolov9_dual_slice(4, seed),
        "yolov10" => yolov10_slice(4, seed),
        "repconv" => repconv_model(16, 3, 1, true, seed),
        "repconv-bench" => repconv_bench_model(32, 8, 128, seed),
        "conv-bn" => conv_bn_act_model(3, 16, 3, 1, Act::Silu, seed),
        "elan" => elan_model(seed),
        "sppf" => sppf_model(seed),
        "fpn" => fpn_model(seed),
        "tiny-detector" => tiny_detector(TINY_DETECTOR_SIZE, 3),
        "yolov7-sized" => yolov7_sized(36_900_000, seed),
        other => {
            return Err(Error::other(
                "generating a sample model",
                format!(
                    "unknown kind '{other}'; known kinds: {}",
                    SAMPLE_KINDS.join(", ")
                ),
            ))
        }
    })
}

/// Adds `delta` to one weight (`[0, 0, 1, 1]`) of the first Conv: the smallest change a numerical check must catch.
pub fn perturb_first_conv_weight(model: &mut Model, delta: f32) {
    let w = model
        .graph()
        .nodes()
        .iter()
        .find(|n| n.op_type == "Conv")
        .expect("a Conv node")
        .input[1]
        .clone();
    let mut a = model
        .graph()
        .initializer_f32(&w)
        .expect("a float weight")
        .expect("an initializer");
    a[[0, 0, 1, 1]] += delta;
    model.graph_mut().set_initializer(tensor_from_f32(&w, &a));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{
        find, make_inputs, run_model, ExecOptions, Executor, InputKind, TensorValue,
    };

    fn run(m: &Model, kind: InputKind, seed: u64) -> ArrayD<f32> {
        let e = Executor::new(m, &ExecOptions::default()).unwrap();
        let inputs = make_inputs(e.inputs(), kind, seed).unwrap();
        e.run(&inputs).unwrap()[0].1.to_f32()
    }

    fn op_count(m: &Model, op: &str) -> usize {
        m.graph().nodes().iter().filter(|n| n.op_type == op).count()
    }

    #[test]
    fn deterministic_from_seed() {
        let a = yolov9_slice(4, 1).to_bytes().unwrap();
        let b = yolov9_slice(4, 1).to_bytes().unwrap();
        let c = yolov9_slice(4, 2).to_bytes().unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn small_models_validate_and_run_with_declared_shapes() {
        for kind in [
            "conv-bn",
            "repconv",
            "elan",
            "sppf",
            "fpn",
            "yolov7-tiny",
            "yolov9",
            "tiny-detector",
        ] {
            let m = sample(kind, 3).unwrap();
            m.validate().unwrap();
            let e = Executor::new(&m, &ExecOptions::default()).unwrap();
            let out = e
                .run(&make_inputs(e.inputs(), InputKind::Image, 1).unwrap())
                .unwrap();
            let declared = &e.outputs()[0].shape;
            assert_eq!(out[0].1.shape(), declared.as_slice(), "{kind}");
            let y = out[0].1.to_f32();
            assert!(y.iter().all(|v| v.is_finite()), "{kind}: non-finite output");
            // Realistic statistics keep activations O(1): neither exploding nor vanishing.
            if !kind.starts_with("yolo") && kind != "tiny-detector" {
                let rms = (y.iter().map(|v| v * v).sum::<f32>() / y.len() as f32).sqrt();
                assert!((0.05..20.0).contains(&rms), "{kind}: rms {rms}");
            }
        }
        assert!(sample("nope", 0)
            .unwrap_err()
            .to_string()
            .contains("yolov7-tiny"));
    }

    #[test]
    fn patterns_present() {
        let m = repconv_model(8, 2, 1, true, 0);
        assert_eq!(op_count(&m, "BatchNormalization"), 6);
        assert_eq!(op_count(&m, "Add"), 4);
        let m = repconv_model(8, 1, 2, false, 0);
        assert!(m
            .graph()
            .nodes()
            .iter()
            .filter(|n| n.op_type == "Conv")
            .all(|n| crate::graph::attr_i(n, "group", 1).unwrap() == 2));
        let v7 = yolov7_tiny_slice(4, 0);
        for op in [
            "LeakyRelu",
            "Resize",
            "MaxPool",
            "Pow",
            "Transpose",
            "Slice",
        ] {
            assert!(op_count(&v7, op) > 0, "v7 lacks {op}");
        }
        let v9 = yolov9_slice(4, 0);
        for op in ["Softmax", "Split", "Resize", "Sigmoid"] {
            assert!(op_count(&v9, op) > 0, "v9 lacks {op}");
        }
        // BN epsilon is YOLO's 1e-3 and the variances span orders of magnitude.
        let vars: Vec<f32> = v9
            .graph()
            .initializers()
            .iter()
            .filter(|t| t.name.starts_with("bn_var"))
            .flat_map(|t| crate::graph::tensor_to_f32(t).unwrap().into_iter())
            .collect();
        let (lo, hi) = vars
            .iter()
            .fold((f32::MAX, 0f32), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(hi / lo > 1e3, "variance range {lo}..{hi}");
    }

    #[test]
    fn v7_grid_decode_is_in_pixels() {
        let m = yolov7_tiny_slice(4, 5);
        let y = run(&m, InputKind::Image, 2);
        assert_eq!(y.shape(), &[1, 3 * (256 + 64 + 16), 9]);
        // Row 0 is cell (0, 0) of P3 with anchor 0: xy = (2·sigmoid − 0.5 + 0)·8 ∈ (−4, 12).
        assert!(y[[0, 0, 0]] > -4.0 && y[[0, 0, 0]] < 12.0);
        // Last row: P5 cell (3, 3), anchor 2: x ∈ (2.5·32, 5.5·32), w ∈ (0, 4·459).
        let last = y.shape()[1] - 1;
        assert!(
            y[[0, last, 0]] > 80.0 && y[[0, last, 0]] < 176.0,
            "{}",
            y[[0, last, 0]]
        );
        assert!(y[[0, last, 2]] > 0.0 && y[[0, last, 2]] < 4.0 * 459.0);
        assert!(y
            .indexed_iter()
            .filter(|(d, _)| d[2] >= 4)
            .all(|(_, v)| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn v9_dfl_output_is_valid() {
        let m = yolov9_slice(4, 5);
        let y = run(&m, InputKind::Random, 2);
        assert_eq!(y.shape(), &[1, 8, 336]);
        for a in 0..336 {
            let (w, h) = (y[[0, 2, a]], y[[0, 3, a]]);
            // DFL distances are in [0, 15] cells: width in [0, 30·stride].
            assert!(
                w >= 0.0 && h >= 0.0 && w <= 30.0 * 32.0,
                "anchor {a}: {w}x{h}"
            );
            for c in 4..8 {
                assert!((0.0..=1.0).contains(&y[[0, c, a]]));
            }
        }
    }

    #[test]
    fn tiny_detector_finds_the_square() {
        let m = tiny_detector(64, 3);
        // A red 16×16 square at (16, 32): stride-16 cell (row 2, col 1).
        let img = tiny_detector_image(64, &[(16, 32, 16, 0)]);
        let t = std::time::Instant::now();
        let out = run_model(&m, &vec![(INPUT.into(), TensorValue::F32(img))]).unwrap();
        assert!(t.elapsed().as_secs_f32() < 5.0);
        let y = find(&out, "output0").unwrap().to_f32();
        assert_eq!(y.shape(), &[1, 7, 84]);
        // Best anchor for class 0.
        let (best, score) =
            (0..84)
                .map(|a| (a, y[[0, 4, a]]))
                .fold((0, 0.0), |b, x| if x.1 > b.1 { x } else { b });
        assert!(score > 0.99, "score {score}");
        assert_eq!(best, 64 + 2 * 4 + 1);
        let bx: Vec<f32> = (0..4).map(|r| y[[0, r, best]]).collect();
        for (got, want) in bx.iter().zip([24.0, 40.0, 16.0, 16.0]) {
            assert!((got - want).abs() < 0.05, "{bx:?}");
        }
        // Every other (anchor, class) stays low.
        for a in 0..84 {
            for c in 4..7 {
                if (a, c) != (best, 4) {
                    assert!(
                        y[[0, c, a]] < 0.1,
                        "anchor {a} class {} = {}",
                        c - 4,
                        y[[0, c, a]]
                    );
                }
            }
        }
        // A green square is class 1.
        let img = tiny_detector_image(64, &[(0, 0, 8, 1)]);
        let y = find(
            &run_model(&m, &vec![(INPUT.into(), TensorValue::F32(img))]).unwrap(),
            "output0",
        )
        .unwrap()
        .to_f32();
        assert!(y[[0, 5, 0]] > 0.99 && y[[0, 4, 0]] < 0.1);
    }

    #[test]
    fn yolov7_sized_hits_parameter_target() {
        let mut b = GraphBuilder::counting("c");
        let x = b.input("x", &[1, 3, 8, 8]);
        b.conv(&x, 4, 3, 1);
        assert_eq!(b.param_count(), 4 * 3 * 9);
        // Count-only sizing of the full model (cheap), checked against a small real build.
        let m = yolov7_sized(2_000_000, 1);
        let p: usize = m
            .graph()
            .initializers()
            .iter()
            .map(|t| t.dims.iter().product::<i64>() as usize)
            .sum();
        assert!((1_800_000..2_200_000).contains(&p), "{p}");
        assert!(op_count(&m, "BatchNormalization") > 50);
    }
}
