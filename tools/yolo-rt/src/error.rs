//! The crate's error type.

use std::path::PathBuf;

/// Errors of pre-processing, decoding and the [`Detector`](crate::Detector).
///
/// Every variant names what was wrong (file, tensor, shape) and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An image file could not be read or decoded.
    #[error("cannot read image {path}: {message} (is it a PNG, JPEG, BMP, WebP or TIFF file that is not truncated?)")]
    Image {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        message: String,
    },
    /// An image with zero width or height.
    #[error("image {what} is empty ({width}x{height}); every frame must have at least one pixel")]
    EmptyImage {
        /// Which image (file name or "frame N").
        what: String,
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// Pixel data shorter than its declared geometry, or otherwise inconsistent.
    #[error("invalid image buffer: {0}")]
    InvalidImage(String),
    /// A caller's output buffer has the wrong length.
    #[error("output buffer holds {actual} elements but {expected} are needed ({what})")]
    BufferSize {
        /// What the buffer is for.
        what: String,
        /// Elements needed.
        expected: usize,
        /// Elements given.
        actual: usize,
    },
    /// A bad pre-processing or decoding setting.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The model's outputs fit none of the known YOLO layouts.
    #[error("model outputs {outputs} fit no known YOLO layout: {reason}. Known layouts: YOLOv7 --grid [B,N,5+nc], YOLOv7 raw heads [B,3,H,W,5+nc], YOLOv9/v8 [B,4+nc,N], YOLOv9 dual head (two [B,4+nc,N]), EfficientNMS (num_dets, det_boxes, det_scores, det_classes), ONNX NMS [K,7]; pass the layout explicitly if the names are unusual")]
    UnknownLayout {
        /// The outputs as `name[shape]`.
        outputs: String,
        /// Why no layout matched.
        reason: String,
    },
    /// An output tensor does not have the shape or type the chosen layout needs.
    #[error("output tensor `{tensor}`: {message}")]
    Tensor {
        /// Tensor name.
        tensor: String,
        /// What is wrong.
        message: String,
    },
    /// A class-name file could not be read.
    #[error("cannot read class names from {path}: {message}")]
    ClassNames {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A model's or engine's class-name metadata (ONNX `metadata_props` `names`) is malformed.
    #[error("class names metadata `names` is not valid: {message} (expected a dict like {{0: 'person', 1: 'bicycle'}}, a JSON object {{\"0\": \"person\"}} or a JSON list [\"person\", \"bicycle\"])")]
    NamesMetadata {
        /// What is wrong, with its position.
        message: String,
    },
    /// A model could not be loaded or run by a backend.
    #[error("model {model}: {message}")]
    Model {
        /// Model path or name.
        model: String,
        /// What failed, with the backend's own message.
        message: String,
    },
    /// The requested backend is not available in this build or on this machine.
    #[error("{0}")]
    BackendUnavailable(String),
    /// An I/O error with the file it concerns.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
