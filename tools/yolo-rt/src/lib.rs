//! YOLO pre- and post-processing for services around TensorRT engines (and a CPU backend):
//!
//! - [`letterbox`]: aspect-preserving resize with OpenCV `INTER_LINEAR` semantics, padding,
//!   normalisation, HWC u8 → CHW f32/f16 written straight into a caller's (pinned) buffer;
//! - [`decode`]: output layout detection (YOLOv7 grid/raw heads, YOLOv9/v8, YOLOv9 dual head,
//!   EfficientNMS, ONNX NMS) and decoding; [`nms`]: class-aware/agnostic NMS;
//! - [`Detector`]: letterbox → [`Backend`] → decode → boxes in source pixels, single, batched and
//!   pipelined; [`CpuBackend`] runs the ONNX on the pure-Rust executor, [`EngineBackend`] a TensorRT
//!   engine;
//! - [`draw`]: annotated images for people.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backend;
pub mod classes;
pub mod cpu;
pub mod decode;
pub mod detector;
pub mod draw;
pub mod engine;
pub mod error;
pub mod image;
pub mod letterbox;
pub mod nms;
pub mod tensor;

pub use backend::{Backend, HostBuffer, InputBuffer, InputInfo, InputMut, InputRef, InputType};
pub use classes::{load_class_names, parse_names_metadata};
pub use cpu::{CpuBackend, CpuOptions};
pub use decode::{
    detect_layout, DecodeConfig, Decoder, DetectedLayout, Detection, Layout, LayoutKind,
    OutputInfo, RawHeadConfig,
};
pub use detector::{Detector, DetectorOptions, Frame, FrameResult, Speed};
pub use engine::{EngineBackend, EngineOptions};
pub use error::{Error, Result};
pub use image::{Image, ImageView, PixelFormat, IMAGE_EXTENSIONS};
pub use letterbox::{letterbox_into, Element, Letterbox, LetterboxConfig, LetterboxTransform};
pub use nms::{Candidate, Nms, NmsConfig};
pub use tensor::{Tensor, TensorBuf, TensorData, TensorView};
