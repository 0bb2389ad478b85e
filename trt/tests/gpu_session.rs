//! GPU tests of the session paths that need a real engine: in-place inference through the pinned input buffer,
//! submit/wait, owned sessions, phase times and per-layer profiling. Run on a machine with an NVIDIA GPU, TensorRT
//! (found as in production, or via `TRT_LIBRARY`) and an engine with one f32 or f16 input and a `.json` sidecar,
//! built for this GPU: `TRT_TEST_CUDART_DIR=… TRT_TEST_ENGINE=/path/model.engine cargo test -p trt --test gpu_session -- --ignored`.
//! Without them the tests fail loudly.

mod common;

use std::path::PathBuf;

use half::f16;
use trt::{DataType, Input, Outputs, OwnedSession, SessionConfig, SharedEngine};

fn engine() -> SharedEngine {
    common::setup(None);
    let path: PathBuf = common::required(
        "TRT_TEST_ENGINE",
        "an engine with its .json sidecar, built for this GPU",
    );
    let lib = trt::Library::load().expect("TensorRT and a GPU (this test needs both)");
    let runtime = lib.runtime().expect("runtime");
    runtime
        .load_engine(&path)
        .expect("TRT_TEST_ENGINE loads")
        .into_shared()
}

/// The single input's name, dtype and current (capacity) shape.
fn input_of(session: &OwnedSession) -> (String, DataType, Vec<usize>) {
    let engine = session.engine();
    let t = engine
        .inputs()
        .next()
        .expect("the test engine has an input");
    let shape = session
        .shape(&t.name)
        .unwrap()
        .iter()
        .map(|&d| usize::try_from(d).unwrap())
        .collect();
    (t.name.clone(), t.dtype, shape)
}

/// Deterministic input values in [-1, 1).
fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + seed * 104_729) % 2000) as f32 / 1000.0 - 1.0)
        .collect()
}

/// Output `name` read as `T` and widened to f64.
fn widened<T: trt::Element>(outs: &Outputs<'_>, name: &str, to_f64: impl Fn(T) -> f64) -> Vec<f64> {
    outs.get::<T>(name)
        .unwrap()
        .iter()
        .map(|&v| to_f64(v))
        .collect()
}

/// Every output as raw f32 (f16 and i32 widened), for exact comparison between runs.
fn snapshot(outs: &Outputs<'_>) -> Vec<(String, Vec<i64>, Vec<f64>)> {
    outs.names()
        .map(|name| {
            let data: Vec<f64> = match outs.dtype(name).unwrap() {
                DataType::F32 => widened::<f32>(outs, name, f64::from),
                DataType::F16 => widened(outs, name, |v: f16| f64::from(v.to_f32())),
                DataType::I32 => widened::<i32>(outs, name, f64::from),
                DataType::I8 => widened::<i8>(outs, name, f64::from),
                DataType::U8 => widened::<u8>(outs, name, f64::from),
                DataType::Bool => widened(outs, name, |v: bool| f64::from(u8::from(v))),
                other => panic!("output `{name}` has unsupported type {other}"),
            };
            (name.to_owned(), outs.shape(name).unwrap().to_vec(), data)
        })
        .collect()
}

fn copying_run(
    session: &mut OwnedSession,
    name: &str,
    dtype: DataType,
    shape: &[usize],
    v: &[f32],
) -> Vec<(String, Vec<i64>, Vec<f64>)> {
    let halves: Vec<f16> = v.iter().map(|&x| f16::from_f32(x)).collect();
    let input = match dtype {
        DataType::F32 => Input::from_slice(name, shape, v).unwrap(),
        DataType::F16 => Input::from_slice(name, shape, &halves).unwrap(),
        other => panic!("the test engine's input must be f32 or f16, not {other}"),
    };
    snapshot(&session.infer(&[input]).unwrap())
}

fn write_in_place(session: &mut OwnedSession, name: &str, dtype: DataType, v: &[f32]) {
    match dtype {
        DataType::F32 => {
            let mut view = session.input_mut::<f32>(name).unwrap();
            view.as_slice_mut().unwrap().copy_from_slice(v);
        }
        DataType::F16 => {
            let mut view = session.input_mut::<f16>(name).unwrap();
            for (d, &s) in view.iter_mut().zip(v) {
                *d = f16::from_f32(s);
            }
        }
        other => panic!("the test engine's input must be f32 or f16, not {other}"),
    }
}

/// The session's input, two input vectors (from `seeds`) and the copying path's outputs for each: the reference the
/// in-place paths are compared with.
struct Reference {
    name: String,
    dtype: DataType,
    a: Vec<f32>,
    b: Vec<f32>,
    expect_a: Vec<(String, Vec<i64>, Vec<f64>)>,
    expect_b: Vec<(String, Vec<i64>, Vec<f64>)>,
}

fn reference(session: &mut OwnedSession, seeds: (usize, usize)) -> Reference {
    let (name, dtype, shape) = input_of(session);
    let n: usize = shape.iter().product();
    let (a, b) = (values(n, seeds.0), values(n, seeds.1));
    let expect_a = copying_run(session, &name, dtype, &shape, &a);
    let expect_b = copying_run(session, &name, dtype, &shape, &b);
    Reference {
        name,
        dtype,
        a,
        b,
        expect_a,
        expect_b,
    }
}

#[test]
#[ignore = "needs GPU, TensorRT and TRT_TEST_ENGINE"]
fn gpu_in_place_inference_matches_copying_inference() {
    let shared = engine();
    let mut session = shared.session(SessionConfig::default()).unwrap();
    let Reference {
        name,
        dtype,
        a,
        b,
        expect_a,
        expect_b,
    } = reference(&mut session, (1, 2));
    assert_ne!(
        expect_a, expect_b,
        "the engine's outputs do not depend on its input"
    );

    write_in_place(&mut session, &name, dtype, &a);
    assert_eq!(snapshot(&session.infer_in_place().unwrap()), expect_a);
    // The buffer keeps its contents: running again gives the same outputs.
    assert_eq!(snapshot(&session.infer_in_place().unwrap()), expect_a);
    write_in_place(&mut session, &name, dtype, &b);
    let pending = session.infer_async_in_place().unwrap();
    assert_eq!(snapshot(&pending.wait().unwrap()), expect_b);
}

#[test]
#[ignore = "needs GPU, TensorRT and TRT_TEST_ENGINE"]
fn gpu_submit_and_wait_keep_one_inference_in_flight() {
    let shared = engine();
    let mut session = shared.session(SessionConfig::default()).unwrap();
    let Reference {
        name,
        dtype,
        a,
        b,
        expect_a,
        expect_b,
    } = reference(&mut session, (3, 4));

    write_in_place(&mut session, &name, dtype, &a);
    session.submit_in_place().unwrap();
    assert!(session.in_flight());
    // Taking the input view waits for the inference that reads the buffer; the outputs are those of `a`.
    write_in_place(&mut session, &name, dtype, &b);
    assert!(!session.in_flight());
    assert_eq!(snapshot(&session.outputs().unwrap()), expect_a);
    session.submit_in_place().unwrap();
    assert_eq!(snapshot(&session.wait().unwrap()), expect_b);
    // Dropping a session with work in flight synchronizes (no crash, no deferred error).
    session.submit_in_place().unwrap();
    drop(session);
    shared
        .library()
        .device()
        .unwrap()
        .take_deferred_errors()
        .unwrap();
}

#[test]
#[ignore = "needs GPU, TensorRT and TRT_TEST_ENGINE"]
fn gpu_owned_sessions_keep_the_engine_alive() {
    let shared = engine();
    let mut first = shared.session(SessionConfig::default()).unwrap();
    let mut second = shared.session(SessionConfig::default()).unwrap();
    assert_eq!(shared.holders(), 3);
    let (name, dtype, shape) = input_of(&first);
    let v = values(shape.iter().product(), 5);
    let expect = copying_run(&mut first, &name, dtype, &shape, &v);
    let library = shared.library().clone();
    drop(shared);
    // The sessions still own the engine: a worker thread can run one ('static + Send).
    let worker = std::thread::spawn(move || {
        write_in_place(&mut second, &name, dtype, &v);
        let got = snapshot(&second.infer_in_place().unwrap());
        (got, second)
    });
    let (got, second) = worker.join().unwrap();
    assert_eq!(got, expect);
    assert_eq!(first.engine().holders(), 2);
    drop(first);
    assert_eq!(second.engine().holders(), 1);
    drop(second);
    library.device().unwrap().take_deferred_errors().unwrap();
}

#[test]
#[ignore = "needs GPU, TensorRT and TRT_TEST_ENGINE"]
fn gpu_phase_times_split_each_inference_and_graphs_report_the_total() {
    let shared = engine();
    let mut session = shared
        .session(SessionConfig::default().with_phase_timing(true))
        .unwrap();
    assert_eq!(session.phase_times().unwrap(), None, "nothing ran yet");
    let (name, dtype, shape) = input_of(&session);
    let n: usize = shape.iter().product();
    copying_run(&mut session, &name, dtype, &shape, &values(n, 5));
    let t = session.phase_times().unwrap().expect("times after a run");
    let (h2d, compute, d2h) = (
        t.h2d.expect("h2d measured"),
        t.compute.expect("compute measured"),
        t.d2h.expect("d2h measured"),
    );
    assert!(!compute.is_zero(), "{t:?}");
    // The phases are consecutive intervals of the same stream: they add up to the total (event resolution ~0.5 us).
    let sum = h2d + compute + d2h;
    let slack = std::time::Duration::from_micros(5);
    assert!(sum <= t.total + slack && t.total <= sum + slack, "{t:?}");

    // Without phase timing nothing is recorded.
    let mut plain = shared.session(SessionConfig::default()).unwrap();
    copying_run(&mut plain, &name, dtype, &shape, &values(n, 5));
    assert_eq!(plain.phase_times().unwrap(), None);

    // A replayed CUDA graph is one launch: only the total is known.
    let mut graphed = shared
        .session(
            SessionConfig::default()
                .with_phase_timing(true)
                .with_cuda_graph(true),
        )
        .unwrap();
    for seed in 0..3 {
        copying_run(&mut graphed, &name, dtype, &shape, &values(n, seed));
    }
    let g = graphed
        .phase_times()
        .unwrap()
        .expect("times after graph runs");
    if graphed.graph_active() {
        assert_eq!((g.h2d, g.compute, g.d2h), (None, None, None), "{g:?}");
        assert!(!g.total.is_zero());
    }
}

/// The layer names the engine inspector lists (`IEngineInspector`: plain strings with layer-names-only verbosity,
/// `{"Name": ...}` objects with detailed verbosity).
fn inspector_layer_names(engine: &trt::Engine) -> Vec<String> {
    let info: serde_json::Value =
        serde_json::from_str(&engine.layer_info_json().unwrap()).expect("inspector JSON");
    info["Layers"]
        .as_array()
        .expect("the inspector lists layers")
        .iter()
        .map(|l| match l {
            serde_json::Value::String(s) => s.clone(),
            other => other["Name"]
                .as_str()
                .expect("a detailed layer has a Name")
                .to_owned(),
        })
        .collect()
}

/// Per-layer profiling (TensorRT's IProfiler through the shim's profiler): one report per inference, every layer the
/// engine inspector names, and the layer times add up to no more than the GPU time the phase events measured for the
/// same inferences (the layers run inside the engine's enqueue, which the compute events bracket; an engine whose
/// layers run in parallel on auxiliary streams could exceed it, as trtexec warns).
#[test]
#[ignore = "needs GPU, TensorRT and TRT_TEST_ENGINE"]
fn gpu_layer_profiling_reports_inspector_layers_within_the_gpu_time() {
    const RUNS: usize = 20;
    let shared = engine();
    assert!(
        shared
            .session(
                SessionConfig::default()
                    .with_layer_profiling(true)
                    .with_cuda_graph(true)
            )
            .is_err(),
        "profiling with CUDA graphs is refused"
    );
    let mut plain = shared.session(SessionConfig::default()).unwrap();
    assert_eq!(plain.layer_times().unwrap(), None, "profiling is off");
    let mut session = shared
        .session(
            SessionConfig::default()
                .with_layer_profiling(true)
                .with_phase_timing(true),
        )
        .unwrap();
    let (name, dtype, shape) = input_of(&session);
    let n: usize = shape.iter().product();
    copying_run(&mut session, &name, dtype, &shape, &values(n, 1));
    session.reset_layer_times().unwrap();
    assert_eq!(
        session.layer_times().unwrap().unwrap().reports,
        0,
        "reset forgets the warm-up"
    );
    let mut gpu_ms = 0.0f64;
    for seed in 0..RUNS {
        copying_run(&mut session, &name, dtype, &shape, &values(n, seed));
        let t = session.phase_times().unwrap().expect("phase times");
        gpu_ms += t.compute.expect("compute measured").as_secs_f64() * 1e3;
    }
    let times = session.layer_times().unwrap().expect("profiling is on");
    assert_eq!(times.reports, RUNS as u64, "{times:?}");
    assert_eq!(times.dropped, 0);
    assert!(!times.layers.is_empty(), "no layer reported");
    let sum: f64 = times
        .layers
        .iter()
        .flat_map(|l| &l.times_ms)
        .map(|&t| f64::from(t))
        .sum();
    assert!(sum > 0.0, "{times:?}");
    // Event resolution is about 0.5 us per event pair: allow a few microseconds per inference.
    assert!(
        sum <= gpu_ms + 0.005 * RUNS as f64,
        "layer times {sum} ms exceed the GPU compute time {gpu_ms} ms of the same {RUNS} inferences"
    );
    for l in &times.layers {
        assert!(
            l.times_ms.len() <= RUNS,
            "{}: {} times",
            l.name,
            l.times_ms.len()
        );
    }
    let names = inspector_layer_names(shared.as_engine());
    for l in &times.layers {
        assert!(
            names.contains(&l.name),
            "profiled layer `{}` is not among the inspector's layers {names:?}",
            l.name
        );
    }
}

/// A leaked `PendingInference` (`mem::forget`) leaves the inference in flight: the session's next call waits for it
/// before touching a buffer, and its outputs are the ones a plain inference gives.
#[test]
#[ignore = "needs GPU, TensorRT and TRT_TEST_ENGINE"]
fn gpu_a_forgotten_pending_inference_is_waited_for_by_the_next_call() {
    let shared = engine();
    let mut session = shared.session(SessionConfig::default()).unwrap();
    let (name, dtype, shape) = input_of(&session);
    let n: usize = shape.iter().product();
    let (a, b) = (values(n, 3), values(n, 4));
    let expect_a = copying_run(&mut session, &name, dtype, &shape, &a);
    write_in_place(&mut session, &name, dtype, &a);
    std::mem::forget(session.infer_async_in_place().unwrap());
    assert!(
        session.in_flight(),
        "the forgotten inference is still in flight"
    );
    // The next call (reading the outputs) waits for the forgotten inference first: they are a's.
    assert_eq!(snapshot(&session.outputs().unwrap()), expect_a);
    assert!(!session.in_flight());
    write_in_place(&mut session, &name, dtype, &b);
    std::mem::forget(session.infer_async_in_place().unwrap());
    drop(session); // Drop waits too (a sanitizer or the next test's allocations would show a use after free)
    shared
        .library()
        .device()
        .unwrap()
        .take_deferred_errors()
        .unwrap();
}

/// An engine whose IO uses a vectorized format (built with e.g. `trtexec --inputIOFormats=fp16:chw16`) is refused
/// when a session is made, naming the tensor and its format, before any buffer is sized from its volume; its
/// execution context can still be made (the refusal is the session's, not the engine's).
#[test]
#[ignore = "needs GPU, TensorRT and TRT_TEST_VECTORIZED_ENGINE"]
fn gpu_sessions_refuse_an_engine_with_vectorized_io() {
    common::setup(None);
    let path: PathBuf = common::required(
        "TRT_TEST_VECTORIZED_ENGINE",
        "an engine with a vectorized IO format (trtexec --inputIOFormats=fp16:chw16) and its .json sidecar",
    );
    let lib = trt::Library::load().expect("TensorRT and a GPU (this test needs both)");
    let engine = lib
        .runtime()
        .expect("runtime")
        .load_engine(&path)
        .expect("TRT_TEST_VECTORIZED_ENGINE loads")
        .into_shared();
    let vectorized: Vec<String> = engine
        .inputs()
        .chain(engine.outputs())
        .filter(|t| t.format != trt::TensorFormat::Linear)
        .map(|t| t.name.clone())
        .collect();
    assert!(!vectorized.is_empty(), "the test engine's IO is all linear");
    let err = engine
        .session(SessionConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        vectorized.iter().any(|n| err.contains(&format!("`{n}`")))
            && err.contains("linear IO formats"),
        "{err}"
    );
    engine
        .create_context()
        .expect("the engine itself is usable");
}
