//! The timing loop.
//!
//! # What is measured, and how
//! One host thread drives `--streams N` [`trt::Session`]s (each its own execution context, CUDA stream and pinned +
//! device buffers), like trtexec's default single-threaded multi-stream mode. A *round* enqueues one inference on
//! every session ([`Session::infer_async`]) and then waits for each in turn. Per inference:
//! * `enqueue_ms` — host time of `infer_async`: staging the inputs into the session's pinned buffers plus launching
//!   H2D copies, the engine and D2H copies (with `--cuda-graph`, one graph launch);
//! * `latency_ms` — host time from the start of `infer_async` to the moment its outputs are ready (`wait`);
//! * `preprocess_ms` / `postprocess_ms` — with `--end-to-end IMAGE`: yolo-rt's letterbox into the input tensor, and
//!   decode + NMS of the outputs; `latency_ms` then spans preprocessing through NMS.
//!
//! * `h2d_ms` / `compute_ms` / `d2h_ms` — GPU time of each phase of that inference, from CUDA events the session
//!   records around its input copies, the engine and its output copies ([`trt::SessionConfig::phase_timing`],
//!   like trtexec's H2D Latency / GPU Compute Time / D2H Latency). Zero-copy runs (`--no-data-transfers`) have no
//!   copies. A replayed CUDA graph (`--cuda-graph`) is one launch whose phases cannot be told apart: then only the
//!   latency is per inference, and H2D / D2H come from a *transfer probe* after the measured phase — the same byte
//!   counts as the engine's inputs / outputs, pinned host ↔ device, timed with CUDA events ([`probe_transfers`]).
//!
//! * `start_ms` — host time at the start of the inference call, from the start of the measured phase; with
//!   `--export-times`, also `gpu_start_ms` (a CUDA event recorded on the stream just before the inference, against
//!   one recorded on stream 0 when the phase began, like trtexec's trace) and `gpu_ms` (the inference's whole GPU
//!   span, the only GPU figure of a CUDA graph replay).
//!
//! The measured phase's wall time (throughput) starts after the warm-up and ends when the last round completes.
//!
//! Per-layer profiling (`--dump-profile`) never runs in the measured phase: TensorRT's profiler times every layer
//! with its own events, which slows the inference. A separate one-stream runner with
//! [`EngineBench::layer_profiling`] runs after it (see `profile_pass` in the module root).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use trt::cuda::{DeviceBuffer, Event, HostAllocFlags, PinnedBuffer, Stream};
use trt::{DataType, Input, Session, SessionConfig};

use super::io::{self, HostData};
use super::report::{Sample, Timings, TIMES_SCHEMA};
use crate::common::exit;

/// When the measured phase ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// After this many rounds (inferences per stream).
    Iterations(u64),
    /// After this much host time (at least one round).
    Duration(Duration),
}

/// One round of inferences (one per stream).
pub trait Runner {
    /// Runs one inference per stream and returns their samples.
    fn run_round(&mut self) -> Result<Vec<Sample>>;

    /// Called when a measured phase starts: the samples' timestamps (`start_ms`, `gpu_start_ms`) count from the
    /// first call. Nothing by default.
    fn mark_origin(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Runs rounds for at least `warmup` (at least one round, which also builds CUDA graphs); returns the rounds run.
pub fn warm_up<R: Runner + ?Sized>(runner: &mut R, warmup: Duration) -> Result<u64> {
    let t = Instant::now();
    let mut n = 0;
    loop {
        runner.run_round().context("warm-up inference")?;
        n += 1;
        if t.elapsed() >= warmup {
            return Ok(n);
        }
    }
}

/// Runs the measured phase; returns every sample and the wall time.
pub fn measure<R: Runner + ?Sized>(runner: &mut R, stop: Stop) -> Result<(Vec<Sample>, Duration)> {
    let mut samples = Vec::new();
    runner.mark_origin()?;
    let t = Instant::now();
    let mut rounds = 0u64;
    loop {
        let done = match stop {
            Stop::Iterations(n) => rounds >= n,
            Stop::Duration(d) => rounds > 0 && t.elapsed() >= d,
        };
        if done {
            break;
        }
        samples.extend(runner.run_round()?);
        rounds += 1;
    }
    Ok((samples, t.elapsed()))
}

/// Checks `engine` and its sidecar without TensorRT or a GPU (missing file, missing/corrupt sidecar, length and
/// checksum), so bad input is exit code 1 on any machine.
pub fn precheck_engine(engine: &Path) -> Result<trt::sidecar::Sidecar> {
    if !engine.is_file() {
        bail!(
            "{}: engine file not found (build one with trt-build)",
            engine.display()
        );
    }
    let sidecar = trt::sidecar::read_sidecar(engine)
        .with_context(|| format!("engine {}", engine.display()))?;
    let bytes = std::fs::read(engine).with_context(|| format!("reading {}", engine.display()))?;
    if bytes.len() as u64 != sidecar.engine.bytes {
        bail!(
            "{}: the engine is {} bytes but its sidecar says {}; the file is truncated or was replaced — rebuild it \
             with trt-build",
            engine.display(),
            bytes.len(),
            sidecar.engine.bytes
        );
    }
    sidecar
        .check_engine_bytes(engine, &bytes)
        .with_context(|| format!("engine {}", engine.display()))?;
    Ok(sidecar)
}

/// Loads TensorRT and opens the GPU, registering the standard plugins (`init_plugins`, for engines whose sidecar
/// lists plugins) and loading the custom plugin libraries `plugins`; any failure to load TensorRT or open the GPU is
/// exit code 3 with what is missing (the `trt-inspect system` probe's reasons), a bad plugin library exit code 1.
pub fn load_library(
    init_plugins: bool,
    plugins: &crate::common::plugins::PluginArgs,
    runtime_cache: trt::RuntimeCache,
) -> Result<trt::Library> {
    let lib = trt::Library::load_with(trt::LoadOptions {
        init_plugins,
        runtime_cache,
        ..Default::default()
    })
    .map_err(|e| {
        let report = trt::system::probe();
        let mut msg = format!("cannot run engines on this machine: {e}");
        for b in &report.run_blockers {
            if !msg.contains(b.as_str()) {
                msg.push_str("; ");
                msg.push_str(b);
            }
        }
        msg.push_str(" (run `trt-inspect system` for details)");
        exit::missing(msg)
    })?;
    plugins.load(&lib)?;
    Ok(lib)
}

/// Registers TensorRT's standard plugins when the plugin library is there, for engines without a sidecar (which
/// cannot say whether they need them); without the library, engines that need none still load.
pub fn init_plugins_if_present(lib: &trt::Library) {
    if let Err(e) = lib.init_plugins() {
        tracing::debug!("TensorRT's standard plugins are not registered ({e}); engines that use them will not load");
    }
}

/// Parses `--shapes name:1x3x640x640[,name2:…]` (trtexec syntax; a quoted name may contain `:`).
pub fn parse_shapes(text: &str) -> Result<Vec<(String, Vec<i64>)>, String> {
    let mut out = Vec::new();
    for spec in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, dims) = spec
            .rsplit_once(':')
            .ok_or_else(|| format!("`{spec}`: expected NAME:DIMS such as images:1x3x640x640"))?;
        let name = name.trim_matches(|c| c == '\'' || c == '"');
        if name.is_empty() {
            return Err(format!("`{spec}`: empty tensor name"));
        }
        let dims = dims
            .split('x')
            .map(|d| d.parse::<i64>().ok().filter(|&v| v >= 0))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                format!("`{spec}`: dimensions must be non-negative integers joined by x")
            })?;
        out.push((name.to_string(), dims));
    }
    if out.is_empty() {
        return Err("no shape given (expected e.g. --shapes images:1x3x640x640)".into());
    }
    Ok(out)
}

/// Benchmark settings for the engine path.
#[derive(Debug, Clone)]
pub struct EngineBench {
    /// Concurrent sessions.
    pub streams: usize,
    /// CUDA graph replay.
    pub cuda_graph: bool,
    /// `false`: zero-copy mapped host memory, no H2D / D2H copies.
    pub data_transfers: bool,
    /// Shapes of dynamic inputs.
    pub shapes: Vec<(String, Vec<i64>)>,
    /// `--load-inputs`.
    pub load_inputs: Option<io::InputSource>,
    /// `--end-to-end` image.
    pub end_to_end: Option<PathBuf>,
    /// Record each inference's timestamps on the host and on the GPU (`start_ms`, `gpu_start_ms`: one more CUDA
    /// event per inference), for trtexec's trace (`--export-times`).
    pub trace: bool,
    /// Per-layer profiling on every session (TensorRT's profiler; `--dump-profile` / `--export-profile` create a
    /// separate one-stream runner with it, after the timing loop).
    pub layer_profiling: bool,
}

struct InputTensor {
    name: String,
    shape: Vec<usize>,
    data: HostData,
}

fn to_input<'a>(t: &'a InputTensor) -> Result<Input<'a>> {
    to_input_parts(&t.name, &t.shape, &t.data)
}

/// A session input named `n` of shape `s` over `data`.
pub fn to_input_parts<'a>(n: &'a str, s: &[usize], data: &'a HostData) -> Result<Input<'a>> {
    Ok(match data {
        HostData::F32(v) => Input::from_slice(n, s, v)?,
        HostData::F16(v) => Input::from_slice(n, s, v)?,
        HostData::I8(v) => Input::from_slice(n, s, v)?,
        HostData::I32(v) => Input::from_slice(n, s, v)?,
        HostData::U8(v) => Input::from_slice(n, s, v)?,
        HostData::Bool(v) => Input::from_slice(n, s, v)?,
    })
}

/// The inputs of `engine` for the benchmark: from `--load-inputs`, else (and for inputs a `name:file` list does not
/// name) reproducible random data.
fn make_inputs(session: &Session<'_>, cfg: &EngineBench) -> Result<Vec<InputTensor>> {
    let mut descs = Vec::new();
    for t in session.engine().inputs() {
        let cap = session.capacity_shape(&t.name)?;
        descs.push(io::InputDesc {
            name: t.name.clone(),
            dtype: t.dtype,
            shape: cap
                .iter()
                .map(|&d| usize::try_from(d).unwrap_or(0))
                .collect(),
        });
    }
    let loaded = match &cfg.load_inputs {
        Some(src) => io::load_inputs(src, &descs)?,
        None => vec![None; descs.len()],
    };
    let mut out = Vec::new();
    for (i, (t, file)) in descs.into_iter().zip(loaded).enumerate() {
        let (data, shape) = match file {
            Some(d) => d,
            None => (
                HostData::random(t.dtype, t.shape.iter().product(), 0x5eed + i as u64)?,
                t.shape,
            ),
        };
        out.push(InputTensor {
            name: t.name,
            shape,
            data,
        });
    }
    Ok(out)
}

struct EndToEnd {
    image: yolo_rt::Image,
    letterbox: yolo_rt::Letterbox,
    decoder: yolo_rt::Decoder,
    transform: Option<yolo_rt::LetterboxTransform>,
}

fn end_to_end(image: &Path, session: &Session<'_>, input: &InputTensor) -> Result<EndToEnd> {
    let [_, 3, h, w] = input.shape[..] else {
        bail!(
            "--end-to-end needs a single [B, 3, H, W] image input; `{}` has shape {:?}",
            input.name,
            input.shape
        );
    };
    if !matches!(input.data, HostData::F32(_) | HostData::F16(_)) {
        bail!(
            "--end-to-end needs a float32 or float16 image input; `{}` is {}",
            input.name,
            input.data.dtype().name()
        );
    }
    let img =
        yolo_rt::Image::open(image).with_context(|| format!("--end-to-end {}", image.display()))?;
    let letterbox = yolo_rt::Letterbox::new(yolo_rt::LetterboxConfig {
        width: w,
        height: h,
        ..Default::default()
    })?;
    let mut infos = Vec::new();
    for t in session.engine().outputs() {
        let cap = session.capacity_shape(&t.name)?;
        infos.push(yolo_rt::OutputInfo {
            name: t.name.clone(),
            shape: cap
                .iter()
                .map(|&d| usize::try_from(d).unwrap_or(0))
                .collect(),
        });
    }
    let decoder = yolo_rt::Decoder::new(yolo_rt::DecodeConfig::default(), &infos, (w, h))
        .context("--end-to-end: the engine's outputs are not a YOLO layout yolo-rt can decode")?;
    Ok(EndToEnd {
        image: img,
        letterbox,
        decoder,
        transform: None,
    })
}

struct Stream1<'e> {
    session: Session<'e>,
    inputs: Vec<InputTensor>,
    e2e: Option<EndToEnd>,
    /// `--export-times`: recorded on the session's stream just before each inference's work.
    launch: Option<Event>,
}

/// Where the timestamps of a measured phase count from: a host instant and a CUDA event recorded on stream 0 at
/// that instant (trtexec does the same).
struct Origin {
    host: Instant,
    gpu: Option<Event>,
}

/// Runs the benchmark rounds on real sessions.
pub struct SessionRunner<'e> {
    streams: Vec<Stream1<'e>>,
    origin: Option<Origin>,
    trace: bool,
}

fn preprocess(e: &mut EndToEnd, input: &mut InputTensor) -> Result<()> {
    let one = 3 * input.shape[2] * input.shape[3];
    let view = e.image.view();
    let t = match &mut input.data {
        HostData::F32(v) => {
            let mut t = None;
            for chunk in v.chunks_mut(one) {
                t = Some(e.letterbox.run_into(&view, chunk)?);
            }
            t
        }
        HostData::F16(v) => {
            let mut t = None;
            for chunk in v.chunks_mut(one) {
                t = Some(e.letterbox.run_into(&view, chunk)?);
            }
            t
        }
        _ => None,
    };
    e.transform = t;
    Ok(())
}

fn postprocess(e: &mut EndToEnd, outputs: &trt::Outputs<'_>) -> Result<usize> {
    let names: Vec<&str> = outputs.names().collect();
    let mut shapes = Vec::new();
    for n in &names {
        shapes.push(
            outputs
                .shape(n)?
                .iter()
                .map(|&d| usize::try_from(d).unwrap_or(0))
                .collect::<Vec<usize>>(),
        );
    }
    let mut f32s = Vec::new();
    let mut f16s = Vec::new();
    let mut i32s = Vec::new();
    for n in &names {
        match outputs.dtype(n)? {
            DataType::F32 => f32s.push((*n, outputs.get::<f32>(n)?)),
            DataType::F16 => f16s.push((*n, outputs.get::<half::f16>(n)?)),
            DataType::I32 => i32s.push((*n, outputs.get::<i32>(n)?)),
            other => bail!(
                "--end-to-end: output `{n}` is {}, which yolo-rt cannot decode",
                other.name()
            ),
        }
    }
    let mut views = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let data = if let Some((_, a)) = f32s.iter().find(|(m, _)| m == n) {
            yolo_rt::TensorData::F32(a.as_slice().context("output not contiguous")?)
        } else if let Some((_, a)) = f16s.iter().find(|(m, _)| m == n) {
            yolo_rt::TensorData::F16(a.as_slice().context("output not contiguous")?)
        } else if let Some((_, a)) = i32s.iter().find(|(m, _)| m == n) {
            yolo_rt::TensorData::I32(a.as_slice().context("output not contiguous")?)
        } else {
            continue;
        };
        views.push(yolo_rt::TensorView::new(n, &shapes[i], data)?);
    }
    let t = e.transform.as_ref().context("preprocessing did not run")?;
    Ok(e.decoder.decode(&views, 0, t)?.len())
}

impl<'e> SessionRunner<'e> {
    /// One session per stream on `engine`.
    pub fn new(engine: &'e trt::Engine, cfg: &EngineBench) -> Result<Self> {
        let mut streams = Vec::new();
        for _ in 0..cfg.streams.max(1) {
            let mut sc = SessionConfig::default()
                .with_cuda_graph(cfg.cuda_graph)
                .with_phase_timing(true)
                .with_layer_profiling(cfg.layer_profiling);
            if !cfg.data_transfers {
                sc = sc.with_host_flags(HostAllocFlags::mapped());
            }
            for (n, d) in &cfg.shapes {
                sc = sc.with_shape(n.clone(), d);
            }
            let session = engine
                .session(sc)
                .context("creating an execution context")?;
            let inputs = make_inputs(&session, cfg)?;
            let e2e = match &cfg.end_to_end {
                Some(img) => {
                    if inputs.len() != 1 {
                        bail!(
                            "--end-to-end needs an engine with exactly one input; this one has {}",
                            inputs.len()
                        );
                    }
                    Some(end_to_end(img, &session, &inputs[0])?)
                }
                None => None,
            };
            let launch = if cfg.trace {
                Some(Event::new(session.stream().device())?)
            } else {
                None
            };
            streams.push(Stream1 {
                session,
                inputs,
                e2e,
                launch,
            });
        }
        Ok(SessionRunner {
            streams,
            origin: None,
            trace: cfg.trace,
        })
    }

    /// The layer times stream 0's session collected (`None` unless the runner was made with `layer_profiling`).
    pub fn layer_times(&mut self) -> Result<Option<trt::LayerTimes>> {
        Ok(self.streams[0].session.layer_times()?)
    }

    /// Forgets the layer times collected so far (those of the warm-up).
    pub fn reset_layer_times(&mut self) -> Result<()> {
        for st in &mut self.streams {
            st.session.reset_layer_times()?;
        }
        Ok(())
    }

    /// Byte counts of inputs and outputs (for the transfer probe).
    pub fn io_bytes(&self) -> Result<(usize, usize)> {
        let s = &self.streams[0].session;
        let mut inb = 0;
        let mut outb = 0;
        for t in s.engine().io_tensors() {
            let n: i64 = s.capacity_shape(&t.name)?.iter().product();
            let b = usize::try_from(n).unwrap_or(0) * t.dtype.size().unwrap_or(0);
            if t.is_input() {
                inb += b;
            } else {
                outb += b;
            }
        }
        Ok((inb, outb))
    }

    /// Writes every output of stream 0's last inference to `dir` as `<name>.npy`.
    pub fn save_outputs(&mut self, dir: &Path) -> Result<Vec<PathBuf>> {
        let outputs = self.streams[0].session.outputs()?;
        let mut written = Vec::new();
        for n in outputs.names() {
            let (shape, data) = output_host_data(&outputs, n)?;
            let path = dir.join(format!("{}.npy", io::file_stem(n)));
            crate::common::fs::atomic_write(&path, &io::encode_npy(&data, &shape))
                .with_context(|| format!("writing {}", path.display()))?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Output `n` copied to the host, with its shape.
pub fn output_host_data(outputs: &trt::Outputs<'_>, n: &str) -> Result<(Vec<usize>, HostData)> {
    let shape = outputs
        .shape(n)?
        .iter()
        .map(|&d| usize::try_from(d).unwrap_or(0))
        .collect();
    let data = match outputs.dtype(n)? {
        DataType::F32 => HostData::F32(outputs.get::<f32>(n)?.iter().copied().collect()),
        DataType::F16 => HostData::F16(outputs.get::<half::f16>(n)?.iter().copied().collect()),
        DataType::I8 => HostData::I8(outputs.get::<i8>(n)?.iter().copied().collect()),
        DataType::I32 => HostData::I32(outputs.get::<i32>(n)?.iter().copied().collect()),
        DataType::U8 => HostData::U8(outputs.get::<u8>(n)?.iter().copied().collect()),
        DataType::Bool => HostData::Bool(outputs.get::<bool>(n)?.iter().copied().collect()),
        other => bail!(
            "output `{n}` is {}, which the host side does not read",
            other.name()
        ),
    };
    Ok((shape, data))
}

impl Runner for SessionRunner<'_> {
    fn mark_origin(&mut self) -> Result<()> {
        if self.origin.is_some() {
            return Ok(());
        }
        let gpu = if self.trace {
            let stream = self.streams[0].session.stream();
            let mut e = Event::new(stream.device())?;
            stream.record(&mut e)?;
            Some(e)
        } else {
            None
        };
        self.origin = Some(Origin {
            host: Instant::now(),
            gpu,
        });
        Ok(())
    }

    fn run_round(&mut self) -> Result<Vec<Sample>> {
        let mut starts = Vec::with_capacity(self.streams.len());
        let mut pending = Vec::with_capacity(self.streams.len());
        for (k, st) in self.streams.iter_mut().enumerate() {
            let t0 = Instant::now();
            let pre = match &mut st.e2e {
                Some(e) => {
                    preprocess(e, &mut st.inputs[0])?;
                    Some(t0.elapsed())
                }
                None => None,
            };
            let inputs = st.inputs.iter().map(to_input).collect::<Result<Vec<_>>>()?;
            if let Some(e) = &mut st.launch {
                st.session.stream().record(e)?;
            }
            let t1 = Instant::now();
            let p = st
                .session
                .infer_async(&inputs)
                .with_context(|| format!("inference on stream {k}"))?;
            starts.push((t0, t1, t1.elapsed(), pre));
            pending.push((p, &mut st.e2e));
        }
        let mut samples = Vec::with_capacity(pending.len());
        let origin = self.origin.as_ref();
        for (k, ((p, e2e), (t0, t1, enqueue, pre))) in pending.into_iter().zip(starts).enumerate() {
            let outputs = p
                .wait()
                .with_context(|| format!("inference on stream {k}"))?;
            let t2 = Instant::now();
            let post = match e2e {
                Some(e) => {
                    postprocess(e, &outputs)?;
                    Some(t2.elapsed())
                }
                None => None,
            };
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            samples.push(Sample {
                stream: k,
                start_ms: origin.map(|o| ms(t1.saturating_duration_since(o.host))),
                enqueue_ms: ms(enqueue),
                latency_ms: ms(t0.elapsed()),
                preprocess_ms: pre.map(ms),
                postprocess_ms: post.map(ms),
                ..Sample::default()
            });
        }
        // Every inference of the round has completed: read its phase events.
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        for (sample, st) in samples.iter_mut().zip(&self.streams) {
            if let Some(t) = st.session.phase_times()? {
                sample.h2d_ms = t.h2d.map(ms);
                sample.compute_ms = t.compute.map(ms);
                sample.d2h_ms = t.d2h.map(ms);
                sample.gpu_ms = self.trace.then(|| ms(t.total));
            }
            if let (Some(o), Some(launch)) = (origin.and_then(|o| o.gpu.as_ref()), &st.launch) {
                sample.gpu_start_ms = Some(ms(o.elapsed(launch)?));
            }
        }
        Ok(samples)
    }
}

/// H2D and D2H times (ms) of `in_bytes` / `out_bytes` pinned ↔ device copies, `reps` each, timed with CUDA events.
pub fn probe_transfers(
    device: &trt::cuda::Device,
    in_bytes: usize,
    out_bytes: usize,
    reps: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let stream = Stream::new(device)?;
    let mut start = Event::new(device)?;
    let mut end = Event::new(device)?;
    let mut time = |bytes: usize, h2d: bool| -> Result<Vec<f64>> {
        let bytes = bytes.max(1);
        let mut host = PinnedBuffer::<u8>::new(device, bytes, HostAllocFlags::default())?;
        let mut dev = DeviceBuffer::<u8>::new(device, bytes)?;
        let mut out = Vec::with_capacity(reps);
        for _ in 0..reps {
            stream.record(&mut start)?;
            if h2d {
                stream.copy_h2d(&host, &mut dev)?;
            } else {
                stream.copy_d2h(&dev, &mut host)?;
            }
            stream.record(&mut end)?;
            out.push(start.elapsed(&end)?.as_secs_f64() * 1e3);
        }
        stream.synchronize()?;
        Ok(out)
    };
    let h = time(in_bytes, true)?;
    let d = time(out_bytes, false)?;
    Ok((h, d))
}

/// Raw timings of a measured phase.
pub fn timings(
    engine: &str,
    batch: usize,
    streams: usize,
    samples: Vec<Sample>,
    wall: Duration,
) -> Timings {
    Timings {
        schema: TIMES_SCHEMA.into(),
        engine: engine.into(),
        batch,
        streams,
        wall_time_s: wall.as_secs_f64(),
        gpu_compute_source: None,
        transfer_probe: None,
        samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        calls: u64,
        streams: usize,
    }

    impl Runner for Fake {
        fn run_round(&mut self) -> Result<Vec<Sample>> {
            self.calls += 1;
            Ok((0..self.streams)
                .map(|s| Sample {
                    stream: s,
                    enqueue_ms: 0.1,
                    latency_ms: self.calls as f64,
                    ..Sample::default()
                })
                .collect())
        }
    }

    #[test]
    fn iterations_are_rounds_times_streams() {
        let mut f = Fake {
            calls: 0,
            streams: 3,
        };
        let (s, _) = measure(&mut f, Stop::Iterations(7)).unwrap();
        assert_eq!(f.calls, 7);
        assert_eq!(s.len(), 21);
        assert_eq!(s.iter().filter(|x| x.stream == 2).count(), 7);
    }

    #[test]
    fn duration_runs_at_least_once_and_warmup_runs() {
        let mut f = Fake {
            calls: 0,
            streams: 1,
        };
        let (s, _) = measure(&mut f, Stop::Duration(Duration::ZERO)).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(warm_up(&mut f, Duration::ZERO).unwrap(), 1);
    }

    #[test]
    fn shapes_parse() {
        assert_eq!(
            parse_shapes("images:1x3x640x640,'a:b':2x3").unwrap(),
            vec![
                ("images".to_string(), vec![1, 3, 640, 640]),
                ("a:b".to_string(), vec![2, 3])
            ]
        );
        assert!(parse_shapes("images").is_err());
        assert!(parse_shapes("images:1x-1").is_err());
    }
}
