//! TensorRT backend on a GPU. Run on a machine with an NVIDIA GPU, TensorRT and a YOLO engine built for it (with its
//! sidecar): `TRT_TEST_ENGINE=/path/model.engine cargo test -p yolo-rt --test engine_gpu -- --ignored gpu_`.
//! Every test fails loudly when the variable, the libraries or the GPU are missing.

use std::ops::ControlFlow;
use std::path::PathBuf;

use yolo_rt::engine::{engine_io, EngineBackend, EngineOptions};
use yolo_rt::tensor::TensorData;
use yolo_rt::{
    Backend, Detection, Detector, DetectorOptions, Image, InputMut, Letterbox, LetterboxConfig,
};

fn test_engine() -> PathBuf {
    let p = std::env::var_os("TRT_TEST_ENGINE")
        .map(PathBuf::from)
        .expect(
            "TRT_TEST_ENGINE must name a YOLO engine (with its .json sidecar) built for this GPU",
        );
    assert!(
        p.is_file(),
        "TRT_TEST_ENGINE={} does not exist",
        p.display()
    );
    p
}

/// A deterministic frame with a few coloured rectangles (frame `k` shifts them).
fn frame(k: usize) -> Image {
    let (w, h) = (320usize, 240usize);
    let mut img = Image::filled(w, h, yolo_rt::PixelFormat::Rgb, [114, 114, 114]);
    for (i, rgb) in [[220u8, 30, 30], [30, 200, 40], [40, 60, 230]]
        .iter()
        .enumerate()
    {
        let (x0, y0) = (20 + 90 * i + 7 * k, 40 + 50 * i);
        for y in y0..(y0 + 60).min(h) {
            for x in x0..(x0 + 70).min(w) {
                let o = (y * w + x) * 3;
                img.data[o..o + 3].copy_from_slice(rgb);
            }
        }
    }
    img
}

fn owned(views: &[yolo_rt::TensorView<'_>]) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    views
        .iter()
        .map(|v| (v.name.to_owned(), v.shape.to_vec(), v.to_f32().into_owned()))
        .collect()
}

/// Same output names and shapes, values within 1e-3 relative (absolute below 1).
fn assert_outputs_close(
    want: &[(String, Vec<usize>, Vec<f32>)],
    got: &[(String, Vec<usize>, Vec<f32>)],
) {
    assert_eq!(want.len(), got.len());
    for ((wn, ws, wd), (gn, gs, gd)) in want.iter().zip(got) {
        assert_eq!((wn, ws), (gn, gs));
        let worst = wd
            .iter()
            .zip(gd)
            .map(|(a, b)| (a - b).abs() / a.abs().max(1.0))
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-3, "output `{wn}` differs by {worst}");
    }
}

fn fill(backend: &EngineBackend, buf: &mut yolo_rt::InputBuffer, k: usize) {
    let info = backend.input();
    let mut lb = Letterbox::new(LetterboxConfig {
        width: info.width,
        height: info.height,
        ..Default::default()
    })
    .unwrap();
    let img = frame(k);
    match buf.as_mut() {
        InputMut::F32(s) => {
            lb.run_batch_into(&[img.view()], &mut s[..info.image_len()])
                .unwrap();
        }
        InputMut::F16(s) => {
            lb.run_batch_into(&[img.view()], &mut s[..info.image_len()])
                .unwrap();
        }
    }
}

#[test]
#[ignore = "needs GPU"]
fn gpu_engine_backend_describes_the_engine_and_runs() {
    let path = test_engine();
    let mut b = EngineBackend::load(&path, &EngineOptions::default()).unwrap();
    // The backend's view equals the mapping of the engine's own IO description (read through `trt` directly).
    let lib = trt::Library::load().unwrap();
    let engine = lib.runtime().unwrap().load_engine(&path).unwrap();
    let io = engine_io("x", engine.io_tensors(), 0).unwrap();
    assert_eq!(b.input(), &io.input);
    assert_eq!(b.outputs().len(), io.outputs.len());
    assert!(b.name().starts_with("tensorrt "), "{}", b.name());
    assert_eq!(b.sessions(), 2);
    let mut buf = b.alloc_input().unwrap();
    fill(&b, &mut buf, 0);
    let views = b.run(&buf, 1).unwrap();
    assert_eq!(views.len(), io.outputs.len());
    for (v, o) in views.iter().zip(&io.outputs) {
        assert_eq!(v.name, o.name);
        assert_eq!(v.shape.iter().product::<usize>(), v.data.len());
        if let TensorData::F32(d) = v.data {
            assert!(
                d.iter().all(|x| x.is_finite()),
                "output `{}` has NaN/inf",
                v.name
            );
        }
    }
}

#[test]
#[ignore = "needs GPU"]
fn gpu_two_sessions_in_flight_give_the_same_outputs_as_run() {
    let path = test_engine();
    let mut b = EngineBackend::load(&path, &EngineOptions::default()).unwrap();
    let mut bufs = [b.alloc_input().unwrap(), b.alloc_input().unwrap()];
    fill(&b, &mut bufs[0], 0);
    fill(&b, &mut bufs[1], 3);
    let want0 = owned(&b.run(&bufs[0], 1).unwrap());
    let want1 = owned(&b.run(&bufs[1], 1).unwrap());
    // Both batches in flight at once on the two sessions, waited for in order.
    let t0 = b.submit(&bufs[0], 1).unwrap();
    let t1 = b.submit(&bufs[1], 1).unwrap();
    assert!(
        b.submit(&bufs[0], 1).is_err(),
        "a third batch has no free session"
    );
    let got0 = owned(&b.wait(t0).unwrap());
    let got1 = owned(&b.wait(t1).unwrap());
    assert_outputs_close(&want0, &got0);
    assert_outputs_close(&want1, &got1);
}

/// The `Backend` slot API on the two sessions: both slots in flight at once (submitted before
/// either is waited for), each giving the same outputs as a synchronous `run`; busy and empty slots
/// are errors; then the pipelined detector over 2 slots gives the same detections as one by one.
#[test]
#[ignore = "needs GPU"]
fn gpu_pipelined_engine_backend_keeps_two_slots_in_flight() {
    let path = test_engine();
    let mut b = EngineBackend::load(&path, &EngineOptions::default()).unwrap();
    assert_eq!(Backend::slots(&b), 2);
    let mut bufs = [b.alloc_input().unwrap(), b.alloc_input().unwrap()];
    fill(&b, &mut bufs[0], 1);
    fill(&b, &mut bufs[1], 4);
    let want0 = owned(&b.run(&bufs[0], 1).unwrap());
    let want1 = owned(&b.run(&bufs[1], 1).unwrap());
    b.submit_slot(0, &bufs[0], 1).unwrap();
    b.submit_slot(1, &bufs[1], 1).unwrap();
    let e = b.submit_slot(0, &bufs[0], 1).unwrap_err().to_string();
    assert!(e.contains("already has a batch in flight"), "{e}");
    assert!(b.submit_slot(2, &bufs[0], 1).is_err());
    // The host buffers may be reused right after submit (the batch was copied to pinned memory).
    fill(&b, &mut bufs[0], 5);
    let got0 = owned(&b.wait_slot(0, &bufs[0], 1).unwrap());
    let got1 = owned(&b.wait_slot(1, &bufs[1], 1).unwrap());
    let e = b.wait_slot(0, &bufs[0], 1).unwrap_err().to_string();
    assert!(e.contains("nothing was submitted on slot 0"), "{e}");
    assert_outputs_close(&want0, &got0);
    assert_outputs_close(&want1, &got1);
    // Through the detector: 2 slots in flight, results in order and equal to one by one.
    let mut det = Detector::new(Box::new(b), DetectorOptions::default()).unwrap();
    let frames: Vec<Image> = (0..9).map(frame).collect();
    let single = assert_pipelined_equals_one_by_one(&mut det, &frames);
    // Stopping early leaves no slot busy: a plain detect still works.
    det.detect_pipelined(frames.iter(), |_| ControlFlow::Break(()))
        .unwrap();
    assert_eq!(
        det.detect(&frames[0].view()).unwrap().len(),
        single[0].len()
    );
}

#[test]
#[ignore = "needs GPU"]
fn gpu_detector_pipelined_equals_one_by_one() {
    let path = test_engine();
    let mut det = Detector::from_engine(&path, DetectorOptions::default()).unwrap();
    let frames: Vec<Image> = (0..6).map(frame).collect();
    assert_pipelined_equals_one_by_one(&mut det, &frames);
}

/// Runs `frames` one by one and pipelined through `det`; asserts the pipelined results come in frame order and
/// match (same classes, scores within 1e-3, boxes within half a pixel). Returns the one-by-one results.
fn assert_pipelined_equals_one_by_one(det: &mut Detector, frames: &[Image]) -> Vec<Vec<Detection>> {
    let single: Vec<_> = frames
        .iter()
        .map(|f| det.detect(&f.view()).unwrap())
        .collect();
    let mut piped = Vec::new();
    det.detect_pipelined(frames.iter(), |r| {
        piped.push((r.index, r.detections.unwrap()));
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(piped.len(), frames.len());
    for (i, (index, dets)) in piped.iter().enumerate() {
        assert_eq!(*index, i);
        assert_eq!(dets.len(), single[i].len(), "frame {i}");
        for (a, b) in dets.iter().zip(&single[i]) {
            assert_eq!(a.class_id, b.class_id);
            assert!(
                (a.score - b.score).abs() < 1e-3,
                "frame {i}: {a:?} vs {b:?}"
            );
            for k in 0..4 {
                assert!(
                    (a.bbox[k] - b.bbox[k]).abs() < 0.5,
                    "frame {i}: {a:?} vs {b:?}"
                );
            }
        }
    }
    single
}

#[test]
#[ignore = "needs GPU"]
fn gpu_submit_with_letterboxes_into_the_pinned_buffer_and_matches_run() {
    let path = test_engine();
    let mut b = EngineBackend::load(&path, &EngineOptions::default()).unwrap();
    let mut buf = b.alloc_input().unwrap();
    fill(&b, &mut buf, 2);
    let want = owned(&b.run(&buf, 1).unwrap());
    let info = b.input().clone();
    let mut lb = Letterbox::new(LetterboxConfig {
        width: info.width,
        height: info.height,
        ..Default::default()
    })
    .unwrap();
    let img = frame(2);
    // Pre-processing writes straight into the session's pinned input buffer: no host copy.
    let ticket = b
        .submit_with(1, |dst| {
            match dst {
                InputMut::F32(s) => lb.run_batch_into(&[img.view()], &mut s[..info.image_len()]),
                InputMut::F16(s) => lb.run_batch_into(&[img.view()], &mut s[..info.image_len()]),
            }
            .map(|_| ())
        })
        .unwrap();
    let got = owned(&b.wait(ticket).unwrap());
    assert_eq!(
        got, want,
        "in-place pre-processing gives the same outputs as run()"
    );
    // An error from the fill callback enqueues nothing and frees the session again.
    let e = b
        .submit_with(1, |_| Err(yolo_rt::Error::Config("fill failed".into())))
        .unwrap_err();
    assert!(e.to_string().contains("fill failed"), "{e}");
    let t0 = b.submit(&buf, 1).unwrap();
    let t1 = b.submit(&buf, 1).unwrap();
    let _ = b.wait(t0).unwrap();
    let _ = b.wait(t1).unwrap();
    // The backend owns its engine: nothing else holds it, and dropping the backend frees it.
    assert_eq!(b.engine().holders(), 1 + b.sessions());
}
