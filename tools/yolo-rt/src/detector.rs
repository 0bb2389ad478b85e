//! [`Detector`]: letterbox → backend → decode/NMS → boxes in source pixels, one image, a batch, or
//! a pipelined stream that keeps the backend's slots busy (frame N+1 submitted before frame N is
//! waited for) while a worker thread pre-processes the next frames.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::mpsc;

use crate::backend::{Backend, InputBuffer, InputMut};
use crate::classes::load_class_names;
use crate::cpu::{CpuBackend, CpuOptions};
use crate::decode::{DecodeConfig, Decoder, Detection, Layout};
use crate::engine::{EngineBackend, EngineOptions};
use crate::error::{Error, Result};
use crate::image::{Image, ImageView};
use crate::letterbox::{Letterbox, LetterboxConfig, LetterboxTransform};

/// Settings of a [`Detector`].
#[derive(Debug, Clone, Default)]
pub struct DetectorOptions {
    /// Pre-processing; `width`/`height` are taken from the backend's input and `rect_stride` is
    /// ignored (engines have a fixed input size).
    pub letterbox: LetterboxConfig,
    /// Decoding and NMS.
    pub decode: DecodeConfig,
    /// Class names, index = class id, e.g. from a names file ([`load_class_names`]). When empty,
    /// the backend's own are used ([`Backend::class_names`]: the engine sidecar's `class_names` or
    /// `<engine>.names`, the ONNX `names` metadata), else numeric ids.
    pub class_names: Vec<String>,
}

/// Something a pipelined [`Detector`] can take as a frame.
pub trait Frame: Send {
    /// The pixels.
    fn view(&self) -> ImageView<'_>;
}

impl Frame for Image {
    fn view(&self) -> ImageView<'_> {
        Image::view(self)
    }
}
impl Frame for &Image {
    fn view(&self) -> ImageView<'_> {
        Image::view(self)
    }
}
impl<T: Frame + Sync> Frame for std::sync::Arc<T> {
    fn view(&self) -> ImageView<'_> {
        T::view(self)
    }
}

/// One result of [`Detector::detect_pipelined`].
#[derive(Debug)]
pub struct FrameResult<F> {
    /// Position of the frame in the input sequence.
    pub index: usize,
    /// The frame, handed back (for drawing or forwarding).
    pub frame: F,
    /// Its detections, or why it failed (other frames carry on).
    pub detections: Result<Vec<Detection>>,
}

/// A YOLO detector over any [`Backend`].
pub struct Detector {
    backend: Box<dyn Backend>,
    letterbox: Letterbox,
    decoder: Decoder,
    class_names: Vec<String>,
    warnings: Vec<String>,
    buffers: Vec<InputBuffer>,
    speed: Speed,
}

/// Where the time of the last [`Detector::detect`] / [`Detector::detect_batch`] went, per image, in milliseconds
/// (Ultralytics' speed line: preprocess, inference, postprocess).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Speed {
    /// Letterbox and normalization.
    pub preprocess: f64,
    /// The backend's run (upload, kernels, download for an engine).
    pub inference: f64,
    /// Decode and NMS.
    pub postprocess: f64,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("backend", &self.backend.name())
            .field("input", self.backend.input())
            .field("layout", self.decoder.layout())
            .finish()
    }
}

fn preprocess(
    lb: &mut Letterbox,
    images: &[ImageView<'_>],
    buf: &mut InputBuffer,
    per: usize,
) -> Result<Vec<LetterboxTransform>> {
    let n = images.len() * per;
    match buf.as_mut() {
        InputMut::F32(s) => {
            let len = s.len();
            lb.run_batch_into(images, s.get_mut(..n).ok_or_else(|| short(n, len))?)
        }
        InputMut::F16(s) => {
            let len = s.len();
            lb.run_batch_into(images, s.get_mut(..n).ok_or_else(|| short(n, len))?)
        }
    }
}

fn short(expected: usize, actual: usize) -> Error {
    Error::BufferSize {
        what: "backend input buffer".into(),
        expected,
        actual,
    }
}

impl Detector {
    /// A detector on `backend`. Detects the output layout (or checks the forced one).
    pub fn new(backend: Box<dyn Backend>, options: DetectorOptions) -> Result<Self> {
        let input = backend.input().clone();
        let mut lb = options.letterbox;
        lb.width = input.width;
        lb.height = input.height;
        lb.rect_stride = None;
        let letterbox = Letterbox::new(lb)?;
        let decoder = Decoder::new(
            options.decode,
            backend.outputs(),
            (input.width, input.height),
        )?;
        let classes = match decoder.layout() {
            Layout::V7Grid { classes, .. }
            | Layout::V7RawHeads { classes, .. }
            | Layout::V9 { classes, .. }
            | Layout::V9Dual { classes, .. } => Some(*classes),
            _ => None,
        };
        // The caller's names (a names file), else the model's own (sidecar, ONNX metadata), else
        // none: numeric ids.
        let (class_names, source) = if !options.class_names.is_empty() {
            (options.class_names, "given")
        } else {
            match backend.class_names() {
                Some(names) => (names.to_vec(), "from the model"),
                None => (Vec::new(), ""),
            }
        };
        let mut warnings = decoder.warnings().to_vec();
        if let Some(nc) = classes {
            if !class_names.is_empty() && class_names.len() != nc {
                let w = format!(
                    "the model has {nc} classes but {} class names were {source}; ids without a name are shown as \
                     numbers",
                    class_names.len()
                );
                tracing::warn!("{w}");
                warnings.push(w);
            }
        }
        Ok(Self {
            backend,
            letterbox,
            decoder,
            class_names,
            warnings,
            buffers: Vec::new(),
            speed: Speed::default(),
        })
    }

    /// A detector running `onnx` on the CPU backend.
    pub fn from_onnx(onnx: impl AsRef<Path>, options: DetectorOptions) -> Result<Self> {
        let backend = CpuBackend::load(onnx, &CpuOptions::default())?;
        Self::new(Box::new(backend), options)
    }

    /// A detector running the TensorRT engine at `engine` (verified against its sidecar; see
    /// [`EngineBackend::load`]) with default [`EngineOptions`]. When `options.class_names` is empty, class names
    /// come from the sidecar, else from `<engine>.names` ([`crate::engine::class_names_path`]).
    pub fn from_engine(engine: impl AsRef<Path>, options: DetectorOptions) -> Result<Self> {
        Self::from_engine_with(engine, options, &EngineOptions::default())
    }

    /// [`Detector::from_engine`] with explicit [`EngineOptions`] (device, profile, sessions, CUDA graphs).
    pub fn from_engine_with(
        engine: impl AsRef<Path>,
        options: DetectorOptions,
        engine_options: &EngineOptions,
    ) -> Result<Self> {
        let backend = EngineBackend::load(engine, engine_options)?;
        Self::new(Box::new(backend), options)
    }

    /// The backend.
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }
    /// The decoder (layout, warnings, thresholds).
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }
    /// The decoder, to change thresholds.
    pub fn decoder_mut(&mut self) -> &mut Decoder {
        &mut self.decoder
    }
    /// Per-image milliseconds of the last [`Detector::detect`] or [`Detector::detect_batch`] call.
    pub fn last_speed(&self) -> Speed {
        self.speed
    }
    /// What the user should hear about once: the decoder's notes (e.g. an ignored auxiliary branch) and a class-name
    /// count that differs from the model's classes.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
    /// Class names (may be empty).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }
    /// Replaces the class names.
    pub fn set_class_names(&mut self, names: Vec<String>) {
        self.class_names = names;
    }
    /// Reads class names from a file (see [`load_class_names`]).
    pub fn load_class_names(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.class_names = load_class_names(path.as_ref())?;
        Ok(())
    }
    /// The name of class `id`, if known.
    pub fn class_name(&self, id: u32) -> Option<&str> {
        self.class_names.get(id as usize).map(String::as_str)
    }

    fn ensure_buffers(&mut self, n: usize) -> Result<()> {
        while self.buffers.len() < n {
            self.buffers.push(self.backend.alloc_input()?);
        }
        Ok(())
    }

    /// Detects objects in one image.
    pub fn detect(&mut self, image: &ImageView<'_>) -> Result<Vec<Detection>> {
        Ok(self
            .detect_batch(std::slice::from_ref(image))?
            .pop()
            .unwrap_or_default())
    }

    /// Detects objects in several images, running them in batches of the backend's `max_batch`.
    pub fn detect_batch(&mut self, images: &[ImageView<'_>]) -> Result<Vec<Vec<Detection>>> {
        self.ensure_buffers(1)?;
        let info = self.backend.input().clone();
        let mut all = Vec::with_capacity(images.len());
        let ms = |t: std::time::Instant| t.elapsed().as_secs_f64() * 1e3;
        let mut speed = Speed::default();
        for chunk in images.chunks(info.max_batch.max(1)) {
            let t0 = std::time::Instant::now();
            let ts = preprocess(
                &mut self.letterbox,
                chunk,
                &mut self.buffers[0],
                info.image_len(),
            )?;
            speed.preprocess += ms(t0);
            let t1 = std::time::Instant::now();
            let outs = self.backend.run(&self.buffers[0], chunk.len())?;
            speed.inference += ms(t1);
            let t2 = std::time::Instant::now();
            all.extend(self.decoder.decode_batch(&outs, &ts)?);
            speed.postprocess += ms(t2);
        }
        let n = images.len().max(1) as f64;
        self.speed = Speed {
            preprocess: speed.preprocess / n,
            inference: speed.inference / n,
            postprocess: speed.postprocess / n,
        };
        Ok(all)
    }

    /// Runs a stream of frames through a pipeline: a worker thread letterboxes upcoming frames
    /// into spare input buffers while the backend runs up to [`Backend::slots`] frames at once
    /// (the TensorRT backend: two sessions on their own streams), and frame N+1 is submitted
    /// ([`Backend::submit_slot`]) *before* frame N is waited for ([`Backend::wait_slot`]) and
    /// decoded. So with a GPU backend, N+1's upload and kernels overlap N's download and decode,
    /// and the host letterboxes N+2 meanwhile; with a one-slot backend only the letterbox overlaps.
    ///
    /// `sink` gets every result in frame order and may stop the stream with
    /// `ControlFlow::Break`; batches still in flight are then waited for and dropped. A frame that
    /// fails (empty image, backend error) is reported through its own result, with its index; the
    /// stream goes on.
    pub fn detect_pipelined<I, F, S>(&mut self, frames: I, mut sink: S) -> Result<()>
    where
        I: IntoIterator<Item = F>,
        I::IntoIter: Send,
        F: Frame,
        S: FnMut(FrameResult<F>) -> ControlFlow<()>,
    {
        let slots = self.backend.slots().max(1);
        // One buffer per slot in flight, plus one for the worker to fill meanwhile.
        self.ensure_buffers(slots + 1)?;
        let per = self.backend.input().image_len();
        let (free_tx, free_rx) = mpsc::channel::<InputBuffer>();
        let (ready_tx, ready_rx) =
            mpsc::sync_channel::<(usize, F, InputBuffer, Result<LetterboxTransform>)>(1);
        for b in self.buffers.drain(..) {
            free_tx.send(b).expect("receiver alive");
        }
        let mut lb = self.letterbox.clone();
        let frames = frames.into_iter();
        let backend = &mut self.backend;
        let decoder = &mut self.decoder;
        let mut returned = Vec::new();
        std::thread::scope(|s| {
            let worker = s.spawn(move || {
                for (i, frame) in frames.enumerate() {
                    let Ok(mut buf) = free_rx.recv() else { break };
                    let r = preprocess(&mut lb, &[frame.view()], &mut buf, per)
                        .map(|mut v| v.remove(0));
                    if ready_tx.send((i, frame, buf, r)).is_err() {
                        break;
                    }
                }
                free_rx
            });
            // Moved in, so that both channel ends the worker may block on are dropped (and the
            // worker ends) however this closure exits, a panicking sink included.
            let (free_tx, ready_rx) = (free_tx, ready_rx);
            let mut queue: VecDeque<InFlight<F>> = VecDeque::with_capacity(slots);
            let mut free_slots: Vec<usize> = (0..slots).rev().collect();
            let mut more = true;
            loop {
                // Keep every slot busy: submit the next frames before waiting for the oldest.
                while more && queue.len() < slots {
                    let Ok((index, frame, buf, r)) = ready_rx.recv() else {
                        more = false;
                        break;
                    };
                    let state = r.and_then(|t| {
                        let slot = free_slots.pop().expect("fewer frames queued than slots");
                        match backend.submit_slot(slot, &buf, 1) {
                            Ok(()) => Ok((t, slot)),
                            Err(e) => {
                                free_slots.push(slot);
                                Err(e)
                            }
                        }
                    });
                    queue.push_back(InFlight {
                        index,
                        frame,
                        buf,
                        state,
                    });
                }
                let Some(job) = queue.pop_front() else { break };
                let detections = job.state.and_then(|(t, slot)| {
                    free_slots.push(slot);
                    let outs = backend.wait_slot(slot, &job.buf, 1)?;
                    decoder.decode(&outs, 0, &t)
                });
                if let Err(mpsc::SendError(buf)) = free_tx.send(job.buf) {
                    returned.push(buf);
                }
                let result = FrameResult {
                    index: job.index,
                    frame: job.frame,
                    detections,
                };
                if sink(result).is_break() {
                    break;
                }
            }
            // Stopped early: finish what is in flight (the backend must not keep a batch
            // submitted), and take back every buffer so that the worker can end.
            for job in queue {
                if let Ok((_, slot)) = job.state {
                    if let Err(e) = backend.wait_slot(slot, &job.buf, 1) {
                        tracing::debug!("frame {} dropped after the sink stopped: {e}", job.index);
                    }
                }
                returned.push(job.buf);
            }
            drop(free_tx);
            for (_, _, buf, _) in ready_rx.iter() {
                returned.push(buf);
            }
            match worker.join() {
                Ok(free_rx) => returned.extend(free_rx.try_iter()),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        self.buffers = returned;
        Ok(())
    }
}

/// A frame of [`Detector::detect_pipelined`] between submission and its result: its input buffer
/// and, when it was letterboxed and submitted, its transform and slot (else the error).
struct InFlight<F> {
    index: usize,
    frame: F,
    buf: InputBuffer,
    state: Result<(LetterboxTransform, usize)>,
}
