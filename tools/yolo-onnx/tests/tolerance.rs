//! The verification tolerance is scale-aware (`|a − b| ≤ atol + rtol·max|a|` per output): a correct
//! re-parameterization passes with a wide margin, and the classic fold mistakes — a wrong BatchNorm epsilon, a dropped
//! running mean, a dropped RepConv branch, dropped YOLOv7 implicit layers — fail by far, on the same models. Each
//! mistake is made the way a buggy fold makes it: the unfused model is changed in exactly that respect, then fused,
//! and compared with the unchanged original.

use yolo_onnx::graph::{attr_f, make_attr_f, set_attr, tensor_from_f32};
use yolo_onnx::verify::{verify, VerifyOptions};
use yolo_onnx::{fuse, testgen, Model};

/// The worst `tolerance_ratio` over all outputs and runs (1 = exactly at the tolerance), with the default tolerance.
fn worst_ratio(original: &Model, candidate: &Model) -> (f64, bool) {
    let r = verify(original, candidate, &VerifyOptions::default()).unwrap();
    let worst = r
        .worst
        .iter()
        .map(|o| o.tolerance_ratio)
        .fold(0.0, f64::max);
    eprintln!("{}: {worst:.3e} x the tolerance", original.source_name());
    (worst, r.passed)
}

fn fused(m: &Model) -> Model {
    let mut f = m.clone();
    fuse(&mut f, &Default::default()).unwrap();
    f
}

/// Applies `f` to every initializer named by the `index`-th input of every `op` node.
fn edit_inputs(m: &mut Model, op: &str, index: usize, f: impl Fn(&mut [f32])) {
    let names: Vec<String> = m
        .graph()
        .nodes()
        .iter()
        .filter(|n| n.op_type == op)
        .filter_map(|n| n.input.get(index).cloned())
        .collect();
    assert!(!names.is_empty(), "no {op} node");
    for name in names {
        let mut a = m
            .graph()
            .initializer_f32(&name)
            .unwrap()
            .expect("an initializer");
        f(a.as_slice_mut().unwrap());
        m.graph_mut().set_initializer(tensor_from_f32(&name, &a));
    }
}

fn models() -> Vec<(&'static str, Model)> {
    vec![
        ("yolov7-tiny", testgen::yolov7_tiny_slice(4, 21)),
        ("yolov9", testgen::yolov9_slice(4, 22)),
        ("repconv", testgen::repconv_model(16, 3, 1, true, 23)),
    ]
}

#[test]
fn a_correct_fuse_passes_with_a_wide_margin() {
    for (name, m) in models() {
        let (ratio, passed) = worst_ratio(&m, &fused(&m));
        assert!(passed, "{name}: the exact fold fails ({ratio})");
        assert!(
            ratio < 0.2,
            "{name}: the exact fold uses {ratio} of the tolerance"
        );
    }
}

#[test]
fn a_wrong_batchnorm_epsilon_fails_by_far() {
    for (name, m) in models() {
        let mut bad = m.clone();
        for n in bad.graph_mut().nodes_mut() {
            if n.op_type == "BatchNormalization" {
                let eps = attr_f(n, "epsilon", 1e-5).unwrap();
                // Folding with the ONNX default when the model says otherwise (or the other way round).
                let wrong = if (eps - 1e-5).abs() < 1e-9 {
                    1e-3
                } else {
                    1e-5
                };
                set_attr(n, make_attr_f("epsilon", wrong));
            }
        }
        let (ratio, passed) = worst_ratio(&m, &fused(&bad));
        assert!(
            !passed && ratio > 2.0,
            "{name}: wrong epsilon only {ratio} x the tolerance"
        );
    }
}

#[test]
fn a_dropped_running_mean_fails_by_far() {
    for (name, m) in models() {
        let mut bad = m.clone();
        edit_inputs(&mut bad, "BatchNormalization", 3, |mean| mean.fill(0.0));
        let (ratio, passed) = worst_ratio(&m, &fused(&bad));
        assert!(
            !passed && ratio > 100.0,
            "{name}: dropped mean only {ratio} x the tolerance"
        );
    }
}

#[test]
fn a_dropped_repconv_branch_fails_by_far() {
    let m = testgen::repconv_model(16, 3, 1, true, 23);
    // The 1x1 branch of every RepConv: its BatchNorm (fed by a 1x1 Conv) contributes nothing.
    let mut bad = m.clone();
    let one_by_one: Vec<String> = bad
        .graph()
        .nodes()
        .iter()
        .filter(|n| n.op_type == "Conv")
        .filter(|n| {
            let w = bad.graph().initializer(&n.input[1]).unwrap();
            w.dims.len() == 4 && w.dims[2] == 1 && w.dims[3] == 1
        })
        .map(|n| n.output[0].clone())
        .collect();
    assert!(
        !one_by_one.is_empty(),
        "the sample has RepConv 1x1 branches"
    );
    let bns: Vec<(String, String, String)> = bad
        .graph()
        .nodes()
        .iter()
        .filter(|n| n.op_type == "BatchNormalization" && one_by_one.contains(&n.input[0]))
        .map(|n| (n.input[1].clone(), n.input[2].clone(), n.input[3].clone()))
        .collect();
    for (scale, bias, mean) in bns {
        for t in [scale, bias, mean] {
            let mut a = bad.graph().initializer_f32(&t).unwrap().unwrap();
            a.fill(0.0);
            bad.graph_mut().set_initializer(tensor_from_f32(&t, &a));
        }
    }
    let (ratio, passed) = worst_ratio(&m, &fused(&bad));
    assert!(
        !passed && ratio > 100.0,
        "dropped branch only {ratio} x the tolerance"
    );
}

#[test]
fn dropped_implicit_layers_fail_by_far() {
    let m = testgen::yolov7_tiny_slice(4, 21);
    let mut bad = m.clone();
    let names: Vec<String> = m
        .graph()
        .initializers()
        .iter()
        .map(|t| t.name.clone())
        .filter(|n| n.contains("implicit"))
        .collect();
    assert!(!names.is_empty(), "the YOLOv7 sample has implicit layers");
    for name in names {
        let mut a = bad.graph().initializer_f32(&name).unwrap().unwrap();
        // ImplicitA is added (drop = 0), ImplicitM multiplies (drop = 1).
        a.fill(if name.contains("implicit_m") {
            1.0
        } else {
            0.0
        });
        bad.graph_mut().set_initializer(tensor_from_f32(&name, &a));
    }
    let (ratio, passed) = worst_ratio(&m, &fused(&bad));
    assert!(
        !passed && ratio > 20.0,
        "dropped implicit layers only {ratio} x the tolerance"
    );
}

#[test]
fn nan_and_negative_tolerances_are_refused() {
    let m = testgen::sample("conv-bn", 1).unwrap();
    for (atol, rtol) in [(f64::NAN, 1e-4), (1e-4, f64::NAN), (-1.0, 1e-4)] {
        let opts = VerifyOptions {
            atol,
            rtol,
            ..Default::default()
        };
        let err = verify(&m, &m, &opts).unwrap_err().to_string();
        assert!(err.contains("must be a number"), "{err}");
    }
    // +inf turns the element check off (the FP16 check uses cosine alone).
    let opts = VerifyOptions {
        atol: f64::INFINITY,
        ..Default::default()
    };
    assert!(verify(&m, &m, &opts).unwrap().passed);
}
