//! INT8 calibration on generated YOLO-style graphs: statistics, algorithms, cache, Q/DQ and drift.

use std::collections::{BTreeMap, HashMap};

use ndarray::ArrayD;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tract_onnx::pb::ValueInfoProto;
use yolo_onnx::exec::{image_like, run_model, TensorValue};
use yolo_onnx::graph::{attr_i, make_node, make_value_info, tensor_to_f32, DataType};
use yolo_onnx::quant::{self, algo, Algorithm, CalibrationCache, Collector, QuantizeOptions};
use yolo_onnx::{fuse, FuseOptions, Model};

fn fused(mut m: Model) -> Model {
    fuse(&mut m, &FuseOptions::default()).unwrap();
    m
}

fn samples(shape: &[usize], n: usize, seed: u64) -> Vec<ArrayD<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| image_like(shape, &mut rng)).collect()
}

fn collect(model: &Model, data: &[ArrayD<f32>]) -> quant::Statistics {
    let mut c = Collector::new(model, quant::hist::DEFAULT_BINS).unwrap();
    for s in data {
        c.add(s).unwrap();
    }
    c.finish().unwrap()
}

/// Independent computation: every named tensor as a plain model output, run per sample, all values kept.
fn activations(model: &Model, names: &[String], data: &[ArrayD<f32>]) -> HashMap<String, Vec<f32>> {
    let mut m = model.clone();
    let input = m.graph().inputs()[0].name.clone();
    let outs: Vec<ValueInfoProto> = names
        .iter()
        .filter(|n| **n != input)
        .map(|n| yolo_onnx::graph::float_value_info(n))
        .collect();
    m.graph_mut().edit_proto(|p| p.output = outs);
    let mut all: HashMap<String, Vec<f32>> = HashMap::new();
    for x in data {
        all.entry(input.clone())
            .or_default()
            .extend(x.iter().copied());
        for (n, v) in run_model(&m, &vec![(input.clone(), TensorValue::F32(x.clone()))]).unwrap() {
            all.entry(n).or_default().extend(v.to_f32().iter().copied());
        }
    }
    all
}

#[test]
fn minmax_ranges_are_the_exact_activation_extremes() {
    let model = fused(yolo_onnx::testgen::yolov7_tiny_slice(4, 3));
    let data = samples(&[1, 3, 128, 128], 3, 1);
    let stats = collect(&model, &data);
    assert!(stats.tensors.len() > 20, "{} tensors", stats.tensors.len());
    let names: Vec<String> = stats.order.clone();
    let acts = activations(&model, &names, &data);
    for n in &names {
        let v = &acts[n];
        let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let h = &stats.tensors[n];
        assert_eq!((h.min(), h.max()), (lo, hi), "tensor {n}");
        assert_eq!(h.count() as usize, v.len(), "tensor {n}");
        assert_eq!(
            Algorithm::MinMax.amax(h),
            lo.abs().max(hi.abs()),
            "tensor {n}"
        );
    }
}

/// Reference KL threshold, written from the definition: histogram of |x| over [0, range) with `bins`
/// bins built from the raw values, candidate i in 128..=bins, P = first i bins with the tail added to the
/// last one, Q = 128 merged groups expanded over non-empty bins, both smoothed on counts with eps = 1e-4 (MXNet), KL(P||Q).
fn reference_entropy(values: &[f32], range: f32, bins: usize) -> f32 {
    let mut h = vec![0f64; bins];
    for &x in values {
        let i = ((x.abs() / range * bins as f32) as usize).min(bins - 1);
        h[i] += 1.0;
    }
    // MXNet-style smoothing on counts: empty bins get 1e-4, taken evenly from the others.
    let smooth = |d: &[f64]| -> Option<Vec<f64>> {
        let z = d.iter().filter(|&&x| x == 0.0).count() as f64;
        let nz = d.len() as f64 - z;
        if nz == 0.0 {
            return None;
        }
        let e1 = 1e-4 * z / nz;
        let r: Vec<f64> = d
            .iter()
            .map(|&x| if x == 0.0 { 1e-4 } else { x - e1 })
            .collect();
        r.iter().all(|&x| x > 0.0).then_some(r)
    };
    let mut best = (f64::MAX, bins);
    for i in 128..=bins {
        let mut p: Vec<f64> = h[..i].to_vec();
        p[i - 1] += h[i..].iter().sum::<f64>();
        let mut q = vec![0f64; i];
        for j in 0..128 {
            let (a, b) = (j * i / 128, if j == 127 { i } else { (j + 1) * i / 128 });
            let total: f64 = h[a..b].iter().sum();
            let nz = h[a..b].iter().filter(|&&x| x > 0.0).count() as f64;
            for k in a..b {
                if h[k] > 0.0 {
                    q[k] = total / nz;
                }
            }
        }
        let (Some(p), Some(q)) = (smooth(&p), smooth(&q)) else {
            continue;
        };
        let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
        let kl: f64 = p
            .iter()
            .zip(&q)
            .map(|(a, b)| (a / sp) * ((a / sp) / (b / sq)).ln())
            .sum();
        if kl < best.0 {
            best = (kl, i);
        }
    }
    best.1 as f32 * range / bins as f32
}

#[test]
fn entropy_thresholds_match_an_independent_reference() {
    let model = fused(yolo_onnx::testgen::yolov9_slice(4, 5));
    let data = samples(&[1, 3, 128, 128], 2, 9);
    let stats = collect(&model, &data);
    let plan = quant::qdq::plan(&model, &Default::default()).unwrap();
    // The tensors that get Q/DQ pairs (a sample, to keep the test fast).
    let names: Vec<String> = plan
        .activations
        .iter()
        .step_by(5)
        .take(6)
        .cloned()
        .collect();
    let acts = activations(&model, &names, &data);
    let mut checked = 0;
    for n in &names {
        let h = &stats.tensors[n];
        if h.range() == 0.0 {
            continue;
        }
        let ours = algo::entropy_amax(h);
        let reference = reference_entropy(&acts[n], h.range(), h.bins().len()).min(h.abs_max());
        let rel = (ours - reference).abs() / reference;
        eprintln!(
            "{n}: entropy {ours} reference {reference} max {}",
            h.abs_max()
        );
        assert!(
            rel <= 0.01,
            "tensor {n}: entropy threshold {ours} vs reference {reference} ({rel:.4})"
        );
        assert!(ours <= h.abs_max());
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} tensors checked");
}

/// The statistics do not depend on the thread count or on how samples are batched: every histogram is
/// bit-identical to the one-thread, one-sample-at-a-time run.
#[test]
fn statistics_are_identical_for_any_thread_count() {
    let model = fused(yolo_onnx::testgen::yolov7_tiny_slice(4, 21));
    let mut data = samples(&[1, 3, 128, 128], 5, 17);
    // A sample with an outlier, so later samples grow the histograms' ranges.
    data[2].iter_mut().take(7).for_each(|x| *x = 40.0);
    let run = |threads: usize, batched: bool| {
        let mut c = Collector::new(&model, quant::hist::DEFAULT_BINS).unwrap();
        c.set_threads(threads).unwrap();
        assert_eq!(c.threads(), threads);
        if batched {
            c.add_batch(&data[..1]).unwrap();
            c.add_batch(&data[1..]).unwrap();
        } else {
            for s in &data {
                c.add(s).unwrap();
            }
        }
        c.finish().unwrap()
    };
    let one = run(1, false);
    assert_eq!(one.samples, 5);
    let bits = |h: &quant::Histogram| {
        (
            h.bins().to_vec(),
            h.range().to_bits(),
            h.min().to_bits(),
            h.max().to_bits(),
            h.count(),
            h.nonfinite(),
        )
    };
    for (threads, batched) in [(1, true), (2, true), (3, true), (4, false), (8, true)] {
        let other = run(threads, batched);
        assert_eq!(other.samples, one.samples);
        assert_eq!(other.order, one.order, "{threads} threads");
        for (name, h) in &one.tensors {
            assert_eq!(
                bits(h),
                bits(&other.tensors[name]),
                "tensor {name}, {threads} threads, batched {batched}"
            );
        }
    }
    // The input's histogram saw the outlier (its range grew after the first samples).
    assert_eq!(one.tensors[&one.order[0]].max(), 40.0);
    // A sample of the wrong shape anywhere in a batch fails before anything is added.
    let mut c = Collector::new(&model, 256).unwrap();
    c.set_threads(2).unwrap();
    let mut bad = data[..3].to_vec();
    bad[2] = ArrayD::zeros(ndarray::IxDyn(&[1, 3, 64, 64]));
    let e = c.add_batch(&bad).unwrap_err().to_string();
    assert!(e.contains("[1, 3, 64, 64]"), "{e}");
    assert_eq!(c.samples(), 0);
}

/// Min/max-only statistics (no bins) give the same min/max calibration as full histograms; the algorithms
/// that need bins refuse them.
#[test]
fn min_max_only_statistics_give_the_same_minmax_scales() {
    let model = fused(yolo_onnx::testgen::yolov7_tiny_slice(4, 8));
    let data = samples(&[1, 3, 128, 128], 2, 3);
    let full = collect(&model, &data);
    let mut c = Collector::new(&model, 0).unwrap();
    c.add_batch(&data).unwrap();
    let lean = c.finish().unwrap();
    assert_eq!(lean.order, full.order);
    for (n, h) in &full.tensors {
        let l = &lean.tensors[n];
        assert!(!l.is_binned() && h.is_binned(), "{n}");
        assert_eq!(
            (l.min(), l.max(), l.count()),
            (h.min(), h.max(), h.count()),
            "{n}"
        );
    }
    let opts = QuantizeOptions::default();
    let a = quant::quantize(&model, &full, &opts, &[], 8503).unwrap();
    let b = quant::quantize(&model, &lean, &opts, &[], 8503).unwrap();
    assert_eq!(a.cache, b.cache);
    let e = quant::quantize(
        &model,
        &lean,
        &QuantizeOptions {
            algorithm: Algorithm::Entropy,
            ..Default::default()
        },
        &[],
        8503,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("entropy") && e.contains("min/max only"), "{e}");
}

#[test]
fn qdq_pairs_carry_their_tensor_scales_cache_round_trips_and_drift_is_bounded() {
    let model = fused(yolo_onnx::testgen::yolov7_tiny_slice(4, 11));
    let data = samples(&[1, 3, 128, 128], 4, 2);
    let stats = collect(&model, &data);
    let held_out = samples(&[1, 3, 128, 128], 2, 1234);
    let opts = QuantizeOptions::default();
    let out = quant::quantize(
        &model,
        &stats,
        &opts,
        &held_out,
        quant::cache::version_code(8, 5, 3),
    )
    .unwrap();
    let plan = quant::qdq::plan(&model, &opts.qdq).unwrap();
    assert!(
        !plan.groups.is_empty(),
        "the FPN Concat should form a scale group"
    );

    // Expected scales computed here: exact min/max of each tensor (independent run), group max for Concats.
    let names: Vec<String> = stats.order.clone();
    let acts = activations(&model, &names, &data);
    let mut amax: BTreeMap<String, f32> = acts
        .iter()
        .map(|(n, v)| (n.clone(), v.iter().fold(0f32, |m, x| m.max(x.abs()))))
        .collect();
    for g in &plan.groups {
        let m = g.iter().map(|n| amax[n]).fold(0f32, f32::max);
        for n in g {
            amax.insert(n.clone(), m);
        }
    }

    // Every DQ has a Q feeding it, with the same scale and zero point, and the scale of its tensor.
    let g = out.model.graph();
    let producers = g.producers();
    let (mut acts_seen, mut weights_seen) = (0, 0);
    for dq in g.nodes().iter().filter(|n| n.op_type == "DequantizeLinear") {
        let (qi, _) = producers[&dq.input[0]];
        let q = &g.nodes()[qi];
        assert_eq!(q.op_type, "QuantizeLinear", "{}", dq.name);
        assert_eq!(q.input[1], dq.input[1]);
        assert_eq!(q.input[2], dq.input[2]);
        assert_eq!(
            attr_i(q, "axis", 1).unwrap(),
            attr_i(dq, "axis", 1).unwrap()
        );
        let scale = tensor_to_f32(g.initializer(&dq.input[1]).unwrap()).unwrap();
        let t = &q.input[0];
        if let Some(w) = g.initializer(t) {
            let w = tensor_to_f32(w).unwrap();
            let axis = attr_i(q, "axis", 1).unwrap() as usize;
            let expect: Vec<f32> = w
                .axis_iter(ndarray::Axis(axis))
                .map(|c| c.iter().fold(0f32, |m, x| m.max(x.abs())) / 127.0)
                .collect();
            assert_eq!(
                scale.iter().copied().collect::<Vec<_>>(),
                expect,
                "weight {t}"
            );
            weights_seen += 1;
        } else {
            assert_eq!(scale.ndim(), 0);
            let expect = amax[t] / 127.0;
            assert_eq!(scale[[]], expect, "tensor {t}");
            assert_eq!(out.cache.scale(t), Some(expect), "cache scale of {t}");
            acts_seen += 1;
        }
    }
    assert_eq!(acts_seen, plan.activations.len());
    assert_eq!(weights_seen, plan.weights.len());
    assert!(
        acts_seen > 10 && weights_seen > 10,
        "{acts_seen} activations, {weights_seen} weights"
    );
    // The head's final convolutions stay in floating point.
    assert!(
        out.report
            .kept_float
            .iter()
            .filter(|(_, why)| why.contains("head"))
            .count()
            >= 3,
        "{:?}",
        out.report.kept_float
    );

    // Cache: every calibrated tensor, minmax header, round trip through the parser.
    let text = out.cache.to_text();
    assert!(text.starts_with("TRT-8503-MinMaxCalibration\n"));
    let parsed = CalibrationCache::parse(text.as_bytes(), "test").unwrap();
    assert_eq!(parsed, out.cache);
    assert_eq!(parsed.scales.len(), stats.tensors.len());

    // The Q/DQ model runs on the CPU executor; its drift is reported and bounded.
    assert_eq!(out.report.held_out, 2);
    assert_eq!(out.report.drift.len(), 1);
    eprintln!("{}", out.report.summary_lines().join("\n"));
    let d = &out.report.drift[0];
    assert!(d.cosine > 0.99 && d.cosine < 1.0, "cosine {}", d.cosine);
    assert!(
        d.max_abs > 0.0 && d.max_abs < 0.1 * d.reference_max_abs,
        "{d:?}"
    );
    // The Q/DQ model survives serialization.
    let bytes = out.model.to_bytes().unwrap();
    let back = Model::from_bytes(&bytes, "qdq").unwrap();
    assert_eq!(back.graph().nodes().len(), out.model.graph().nodes().len());
}

#[test]
fn exclude_keeps_matching_nodes_in_float() {
    let model = fused(yolo_onnx::testgen::yolov7_tiny_slice(4, 1));
    let all = quant::qdq::plan(&model, &Default::default()).unwrap();
    let opts = quant::QdqOptions {
        exclude: vec!["Conv".into()],
        keep_head_float: true,
    };
    let e = quant::qdq::plan(&model, &opts).unwrap_err().to_string();
    assert!(
        e.contains("every quantizable operator is kept") && e.contains("--exclude"),
        "{e}"
    );
    let first = all.quantized_nodes[0].clone();
    let name = first
        .split_whitespace()
        .next()
        .unwrap()
        .trim_matches('\'')
        .to_string();
    let opts = quant::QdqOptions {
        exclude: vec![name.clone()],
        keep_head_float: true,
    };
    let some = quant::qdq::plan(&model, &opts).unwrap();
    assert_eq!(
        some.quantized_nodes.len() + 1,
        all.quantized_nodes.len(),
        "excluding {name}"
    );
    let opts = quant::QdqOptions {
        exclude: vec![],
        keep_head_float: false,
    };
    let more = quant::qdq::plan(&model, &opts).unwrap();
    assert!(more.quantized_nodes.len() > all.quantized_nodes.len());
}

#[test]
fn bad_inputs_give_clear_errors() {
    // No quantizable operator.
    let g = tract_onnx::pb::GraphProto {
        name: "relu".into(),
        node: vec![make_node("Relu", "r", &["x"], &["y"], vec![])],
        input: vec![make_value_info("x", DataType::Float, &[1, 3, 8, 8])],
        output: vec![make_value_info("y", DataType::Float, &[1, 3, 8, 8])],
        ..Default::default()
    };
    let m = Model::new(g, 13);
    let e = quant::qdq::plan(&m, &Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no quantizable operator") && e.contains("Relu"),
        "{e}"
    );

    // Mismatched sample size and no samples.
    let model = fused(yolo_onnx::testgen::yolov7_tiny_slice(4, 3));
    let mut c = Collector::new(&model, 256).unwrap();
    let e = c
        .add(&ArrayD::zeros(ndarray::IxDyn(&[1, 3, 64, 64])))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("[1, 3, 64, 64]") && e.contains("[1, 3, 128, 128]") && e.contains("images"),
        "{e}"
    );
    let e = c.finish().unwrap_err().to_string();
    assert!(e.contains("no calibration sample"), "{e}");

    // Old opset: per-channel Q/DQ impossible.
    let mut old = model.clone();
    old.header_mut()
        .opset_import
        .iter_mut()
        .for_each(|o| o.version = 11);
    let stats = collect(&model, &samples(&[1, 3, 128, 128], 1, 0));
    let e = quant::quantize(&old, &stats, &QuantizeOptions::default(), &[], 8503)
        .unwrap_err()
        .to_string();
    assert!(e.contains("opset 11") && e.contains("13"), "{e}");
}

#[test]
fn integer_shape_tensors_are_not_calibrated() {
    use yolo_onnx::graph::{make_attr_i, make_attr_ints, tensor_from_f32, tensor_from_i64};
    let w = ArrayD::from_shape_fn(ndarray::IxDyn(&[4, 3, 3, 3]), |d| {
        ((d[0] * 7 + d[1] * 3 + d[2] + d[3]) % 5) as f32 - 2.0
    });
    let g = tract_onnx::pb::GraphProto {
        name: "shapes".into(),
        node: vec![
            make_node(
                "Conv",
                "conv",
                &["x", "w"],
                &["c"],
                vec![make_attr_ints("pads", &[1, 1, 1, 1])],
            ),
            make_node("Shape", "shape", &["c"], &["s"], vec![]),
            make_node(
                "Gather",
                "gather",
                &["s", "zero"],
                &["b"],
                vec![make_attr_i("axis", 0)],
            ),
            make_node("Unsqueeze", "unsq", &["b", "axes"], &["bu"], vec![]),
            make_node(
                "Concat",
                "cat",
                &["bu", "minus1"],
                &["shp"],
                vec![make_attr_i("axis", 0)],
            ),
            make_node("Reshape", "reshape", &["c", "shp"], &["r"], vec![]),
            make_node("MatMul", "mm", &["r", "m"], &["y"], vec![]),
        ],
        initializer: vec![
            tensor_from_f32("w", &w),
            tensor_from_i64("zero", &ArrayD::from_elem(ndarray::IxDyn(&[]), 0)),
            tensor_from_i64("axes", &ArrayD::from_elem(ndarray::IxDyn(&[1]), 0)),
            tensor_from_i64("minus1", &ArrayD::from_elem(ndarray::IxDyn(&[1]), -1)),
            tensor_from_f32(
                "m",
                &ArrayD::from_shape_fn(ndarray::IxDyn(&[256, 2]), |d| {
                    (d[0] % 7) as f32 * 0.01 - d[1] as f32 * 0.02
                }),
            ),
        ],
        input: vec![make_value_info("x", DataType::Float, &[1, 3, 8, 8])],
        output: vec![make_value_info("y", DataType::Float, &[1, 2])],
        ..Default::default()
    };
    let model = Model::new(g, 13);
    let data = samples(&[1, 3, 8, 8], 2, 4);
    let stats = collect(&model, &data);
    let names: Vec<&str> = stats.order.iter().map(String::as_str).collect();
    assert_eq!(
        names,
        ["x", "c", "r", "y"],
        "integer tensors must not be calibrated"
    );
    let out = quant::quantize(
        &model,
        &stats,
        &QuantizeOptions {
            qdq: quant::QdqOptions {
                exclude: vec![],
                keep_head_float: false,
            },
            ..Default::default()
        },
        &data[..1],
        8503,
    )
    .unwrap();
    assert_eq!(
        out.report.qdq_activations, 2,
        "{:?}",
        out.report.quantized_nodes
    );
    assert!(out.report.drift[0].cosine > 0.999, "{:?}", out.report.drift);
}
