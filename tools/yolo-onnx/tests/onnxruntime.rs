//! onnxruntime as the CPU executor, checked against tract (an independent implementation of every operator).
//!
//! The `ortlib_` tests need a real libonnxruntime (`ORT_DYLIB_PATH`): `scripts/test.sh` fetches PyPI's onnxruntime
//! wheel (scripts/onnxruntime.sh) and runs them with `--ignored ortlib_`; there a missing library fails them.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use yolo_onnx::exec::{
    compare_outputs, image_like, make_inputs, onnxruntime_status, Backend, ExecOptions, Executor,
    InputKind,
};
use yolo_onnx::quant::{self, Algorithm, Collector};
use yolo_onnx::verify::{verify, VerifyOptions};
use yolo_onnx::{fuse, testgen, FuseOptions, Model};

fn need_ort() {
    if let Err(e) = onnxruntime_status() {
        panic!("these tests need onnxruntime (scripts/onnxruntime.sh sets ORT_DYLIB_PATH): {e}");
    }
}

fn exec(m: &Model, backend: Backend) -> Executor {
    let e = Executor::new(
        m,
        &ExecOptions {
            backend,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(e.backend(), backend, "{}", m.source_name());
    e
}

#[test]
fn backend_names_parse_and_bad_ones_are_errors() {
    assert_eq!(Backend::parse("tract").unwrap(), Backend::Tract);
    assert_eq!(Backend::parse("ORT").unwrap(), Backend::OnnxRuntime);
    assert_eq!(
        Backend::parse(" onnxruntime ").unwrap(),
        Backend::OnnxRuntime
    );
    assert_eq!(Backend::parse("auto").unwrap(), Backend::Auto);
    let e = Backend::parse("cuda").unwrap_err().to_string();
    assert!(
        e.contains("YOLO_ONNX_EXECUTOR=cuda") && e.contains("tract, onnxruntime or auto"),
        "{e}"
    );
    assert_eq!(ExecOptions::default().backend, Backend::Tract);
}

#[test]
#[ignore = "needs libonnxruntime (scripts/onnxruntime.sh)"]
fn ortlib_outputs_match_tract_on_yolo_samples() {
    need_ort();
    for kind in [
        "yolov7-tiny",
        "yolov9",
        "yolov10",
        "repconv",
        "sppf",
        "fpn",
        "tiny-detector",
    ] {
        let m = testgen::sample(kind, 2).unwrap();
        let (t, o) = (exec(&m, Backend::Tract), exec(&m, Backend::OnnxRuntime));
        assert_eq!(t.inputs(), o.inputs(), "{kind}");
        for (k, kind_in) in [InputKind::Random, InputKind::Image]
            .into_iter()
            .enumerate()
        {
            let feed = make_inputs(t.inputs(), kind_in, 10 + k as u64).unwrap();
            let (a, b) = (t.run(&feed).unwrap(), o.run(&feed).unwrap());
            assert_eq!(a.len(), b.len(), "{kind}");
            for ((na, va), (nb, vb)) in a.iter().zip(&b) {
                assert_eq!(na, nb, "{kind}");
                assert_eq!(va.shape(), vb.shape(), "{kind}: {na}");
            }
            for d in compare_outputs(&a, &b, 1e-4, 1e-4).unwrap() {
                assert_eq!(d.violations, 0, "{kind}: {} differs: {d:?}", d.name);
                assert!(d.cosine > 0.999_999, "{kind}: {d:?}");
            }
        }
    }
}

#[test]
#[ignore = "needs libonnxruntime (scripts/onnxruntime.sh)"]
fn ortlib_calibration_statistics_match_tract_for_every_thread_count() {
    need_ort();
    let mut m = testgen::yolov7_tiny_slice(4, 1);
    fuse(&mut m, &FuseOptions::default()).unwrap();
    let shape = [1, 3, 128, 128];
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let data: Vec<_> = (0..5).map(|_| image_like(&shape, &mut rng)).collect();
    let run = |backend: Backend, bins: usize, threads: usize| {
        let mut c = Collector::with_backend(&m, bins, None, backend).unwrap();
        assert_eq!(c.backend(), backend);
        c.set_threads(threads).unwrap();
        c.add_batch(&data).unwrap();
        c.finish().unwrap()
    };
    let plan = quant::qdq::plan(&m, &Default::default()).unwrap();
    for bins in [0, quant::hist::DEFAULT_BINS] {
        let reference = run(Backend::Tract, bins, 1);
        let one = run(Backend::OnnxRuntime, bins, 1);
        let two = run(Backend::OnnxRuntime, bins, 2);
        assert_eq!(reference.order, one.order);
        assert!(reference.order.len() > 50, "{}", reference.order.len());
        for name in &reference.order {
            let (r, a, b) = (
                &reference.tensors[name],
                &one.tensors[name],
                &two.tensors[name],
            );
            // onnxruntime's statistics do not depend on the thread count, to the bit.
            assert_eq!(a, b, "{name}");
            assert_eq!(r.count(), a.count(), "{name}");
            let tol = 1e-4 * r.min().abs().max(r.max().abs()).max(1e-3);
            assert!(
                (r.min() - a.min()).abs() <= tol,
                "{name}: min {} vs {}",
                r.min(),
                a.min()
            );
            assert!(
                (r.max() - a.max()).abs() <= tol,
                "{name}: max {} vs {}",
                r.max(),
                a.max()
            );
        }
        let (algorithm, rel) = if bins == 0 {
            (Algorithm::MinMax, 1e-3)
        } else {
            (Algorithm::Percentile(99.99), 2e-2)
        };
        let (tr, or) = (
            quant::scales(&reference, algorithm, &plan),
            quant::scales(&one, algorithm, &plan),
        );
        for (name, t) in &tr {
            let o = or[name];
            for (t, o) in [(t.0, o.0), (t.1, o.1)] {
                assert!(
                    (t - o).abs() <= rel * t.abs().max(1e-6),
                    "{name}: threshold {t} vs {o}"
                );
            }
        }
    }
}

#[test]
#[ignore = "needs libonnxruntime (scripts/onnxruntime.sh)"]
fn ortlib_verification_passes_exact_fusion_and_catches_one_changed_weight() {
    need_ort();
    let original = testgen::sample("yolov7-tiny", 3).unwrap();
    let mut fused = original.clone();
    fuse(&mut fused, &FuseOptions::default()).unwrap();
    let options = VerifyOptions {
        exec: ExecOptions {
            backend: Backend::OnnxRuntime,
            ..Default::default()
        },
        ..Default::default()
    };
    let ok = verify(&original, &fused, &options).unwrap();
    assert!(ok.passed, "{}", ok.to_text());
    assert_eq!(ok.executor, Some(Backend::OnnxRuntime));
    let mut broken = fused.clone();
    testgen::perturb_first_conv_weight(&mut broken, 0.5);
    let bad = verify(&original, &broken, &options).unwrap();
    assert!(!bad.passed, "{}", bad.to_text());
    // Auto picks onnxruntime when it is there.
    let auto = Executor::new(
        &fused,
        &ExecOptions {
            backend: Backend::Auto,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(auto.backend(), Backend::OnnxRuntime);
}

#[test]
#[ignore = "needs libonnxruntime (scripts/onnxruntime.sh)"]
fn ortlib_dynamic_batch_and_wrong_inputs_are_errors_not_crashes() {
    need_ort();
    let m = testgen::sample("yolov7-tiny", 1).unwrap();
    let o = exec(&m, Backend::OnnxRuntime);
    let mut feed = make_inputs(o.inputs(), InputKind::Random, 1).unwrap();
    // A sample of another shape is refused before onnxruntime sees it.
    feed[0].1 = yolo_onnx::exec::TensorValue::F32(ndarray::ArrayD::zeros(vec![1, 3, 64, 64]));
    let e = o.run(&feed).unwrap_err().to_string();
    assert!(e.contains("differs from the prepared shape"), "{e}");
    // A model onnxruntime rejects is an error naming onnxruntime when it was asked for.
    let mut broken = m.clone();
    broken.graph_mut().edit_proto(|p| {
        p.node[0].op_type = "NoSuchOp".into();
    });
    let e = Executor::new(
        &broken,
        &ExecOptions {
            backend: Backend::OnnxRuntime,
            ..Default::default()
        },
    );
    assert!(e.is_err());
}

/// The FP16 check runs the FP16 model emulated in FP32 (Cast to FLOAT16 and back after every FP16 value): onnxruntime
/// must keep those rounding casts (it does not fold a lossy Cast pair), or the check would compare FP32 with FP32.
#[test]
#[ignore = "needs libonnxruntime (scripts/onnxruntime.sh)"]
fn ortlib_fp16_emulation_keeps_its_rounding() {
    need_ort();
    let m = testgen::sample("yolov7-tiny", 4).unwrap();
    let mut h = m.clone();
    let report = yolo_onnx::fp16::convert(&mut h, &Default::default()).unwrap();
    assert!(report.fp16_nodes > 0);
    let emulated = yolo_onnx::fp16::emulate_in_f32(&h).unwrap();
    let feed = make_inputs(exec(&m, Backend::Tract).inputs(), InputKind::Image, 3).unwrap();
    let run = |model: &Model, backend| exec(model, backend).run(&feed).unwrap();
    let (t32, tem) = (run(&m, Backend::Tract), run(&emulated, Backend::Tract));
    let (o32, oem) = (
        run(&m, Backend::OnnxRuntime),
        run(&emulated, Backend::OnnxRuntime),
    );
    let worst = |a, b| {
        compare_outputs(a, b, 0.0, 0.0)
            .unwrap()
            .iter()
            .map(|d| (d.max_abs, d.cosine))
            .fold((0.0f64, 1.0f64), |(m, c), (x, y)| (m.max(x), c.min(y)))
    };
    let (tract_rounding, _) = worst(&t32, &tem);
    let (ort_rounding, _) = worst(&o32, &oem);
    assert!(tract_rounding > 0.0, "the emulation rounds");
    assert!(
        ort_rounding >= 0.25 * tract_rounding,
        "onnxruntime dropped the FP16 rounding: {ort_rounding} vs tract's {tract_rounding}"
    );
    let (_, agree) = worst(&tem, &oem);
    assert!(agree > 0.9999, "the emulations agree: cosine {agree}");
}
