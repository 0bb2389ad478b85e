//! [`Detector`]: letterbox → backend → decode/NMS → boxes in source pixels, one image, a batch, or
//! a pipelined stream that pre-processes frame N+1 on a worker thread while frame N runs.

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
    /// Class names, index = class id (may be empty).
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
    buffers: Vec<InputBuffer>,
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
        if let Some(nc) = classes {
            if !options.class_names.is_empty() && options.class_names.len() != nc {
                tracing::warn!(
                    "the model has {nc} classes but {} class names were given",
                    options.class_names.len()
                );
            }
        }
        Ok(Self {
            backend,
            letterbox,
            decoder,
            class_names: options.class_names,
            buffers: Vec::new(),
        })
    }

    /// A detector running `onnx` on the CPU backend.
    pub fn from_onnx(onnx: impl AsRef<Path>, options: DetectorOptions) -> Result<Self> {
        let backend = CpuBackend::load(onnx, &CpuOptions::default())?;
        Self::new(Box::new(backend), options)
    }

    /// A detector running the TensorRT engine at `engine` (verified against its sidecar; see
    /// [`EngineBackend::load`]) with default [`EngineOptions`]. When `options.class_names` is empty, class names
    /// come from `<engine>.names` if that file exists ([`crate::engine::class_names_path`]).
    pub fn from_engine(engine: impl AsRef<Path>, options: DetectorOptions) -> Result<Self> {
        Self::from_engine_with(engine, options, &EngineOptions::default())
    }

    /// [`Detector::from_engine`] with explicit [`EngineOptions`] (device, profile, sessions, CUDA graphs).
    pub fn from_engine_with(
        engine: impl AsRef<Path>,
        mut options: DetectorOptions,
        engine_options: &EngineOptions,
    ) -> Result<Self> {
        let backend = EngineBackend::load(engine, engine_options)?;
        if options.class_names.is_empty() {
            if let Some(names) = backend.class_names() {
                options.class_names = names.to_vec();
            }
        }
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
        for chunk in images.chunks(info.max_batch.max(1)) {
            let ts = preprocess(
                &mut self.letterbox,
                chunk,
                &mut self.buffers[0],
                info.image_len(),
            )?;
            let outs = self.backend.run(&self.buffers[0], chunk.len())?;
            all.extend(self.decoder.decode_batch(&outs, &ts)?);
        }
        Ok(all)
    }

    /// Runs a stream of frames with pre-processing on a worker thread: while the backend runs
    /// frame N, frame N+1 is letterboxed into the second of two input buffers. `sink` gets every
    /// result in order and may stop the stream with `ControlFlow::Break`. A frame that fails
    /// (empty image, backend error) is reported through its result; the stream goes on.
    pub fn detect_pipelined<I, F, S>(&mut self, frames: I, mut sink: S) -> Result<()>
    where
        I: IntoIterator<Item = F>,
        I::IntoIter: Send,
        F: Frame,
        S: FnMut(FrameResult<F>) -> ControlFlow<()>,
    {
        self.ensure_buffers(2)?;
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
            for (index, frame, buf, r) in ready_rx.iter() {
                let detections = r.and_then(|t| {
                    let outs = backend.run(&buf, 1)?;
                    decoder.decode(&outs, 0, &t)
                });
                if let Err(mpsc::SendError(buf)) = free_tx.send(buf) {
                    returned.push(buf);
                }
                if sink(FrameResult {
                    index,
                    frame,
                    detections,
                })
                .is_break()
                {
                    break;
                }
            }
            // Stop feeding the worker; take back what it still hands over so that it can end.
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
