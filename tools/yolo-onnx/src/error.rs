//! Error type of the `yolo-onnx` crate.
//!
//! Every variant names what the user has to look at (file, tensor, node) so a
//! message can be acted upon without a debugger.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors raised while loading, inspecting, transforming or saving ONNX models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {action}: {source}")]
    Io {
        /// File that could not be read or written.
        path: PathBuf,
        /// What was being done ("reading model", "writing external data", ...).
        action: &'static str,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a valid ONNX protobuf (truncated, corrupted, not ONNX).
    #[error("{source_name}: not a valid ONNX model (protobuf decode failed: {message}); check that the file is a complete .onnx export")]
    Decode {
        /// File name or label of the byte buffer.
        source_name: String,
        /// Decoder message.
        message: String,
    },
    /// The model declares an operator set this crate does not handle.
    #[error("{source_name}: {message}")]
    Opset {
        /// File name or label of the model.
        source_name: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// External tensor data could not be resolved or written.
    #[error("{source_name}: external data of tensor '{tensor}': {message}")]
    ExternalData {
        /// File name or label of the model.
        source_name: String,
        /// Tensor whose data is external.
        tensor: String,
        /// What is wrong.
        message: String,
    },
    /// The graph structure is invalid (cycle, missing producer, duplicate output, ...).
    #[error("graph: node '{node}': {message}")]
    Graph {
        /// Node at which the problem was detected.
        node: String,
        /// What is wrong.
        message: String,
    },
    /// A tensor (initializer or constant) cannot be decoded or has the wrong type/shape.
    #[error("tensor '{tensor}': {message}")]
    Tensor {
        /// Tensor name.
        tensor: String,
        /// What is wrong.
        message: String,
    },
    /// A node attribute has the wrong type or an invalid value.
    #[error("node '{node}': attribute '{attribute}': {message}")]
    Attribute {
        /// Node name (or op type and index when the node has no name).
        node: String,
        /// Attribute name.
        attribute: String,
        /// What is wrong.
        message: String,
    },
    /// An error found in a specific model file; wraps the underlying error with the file name.
    #[error("{source_name}: {source}")]
    Model {
        /// File name or label of the model.
        source_name: String,
        /// Underlying error (graph, tensor, attribute, ...).
        #[source]
        source: Box<Error>,
    },
    /// Any other failure, with the context it happened in (e.g. running a model on the CPU executor).
    #[error("{context}: {message}")]
    Other {
        /// What was being done.
        context: String,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// Builds an [`Error::Graph`].
    pub fn graph(node: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Graph {
            node: node.into(),
            message: message.into(),
        }
    }

    /// Builds an [`Error::Tensor`].
    pub fn tensor(tensor: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Tensor {
            tensor: tensor.into(),
            message: message.into(),
        }
    }

    /// Builds an [`Error::Attribute`].
    pub fn attribute(
        node: impl Into<String>,
        attribute: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Attribute {
            node: node.into(),
            attribute: attribute.into(),
            message: message.into(),
        }
    }

    /// Wraps `self` in [`Error::Model`] naming `source_name`, unless it already names a file.
    pub fn in_model(self, source_name: &str) -> Self {
        match self {
            Error::Io { .. }
            | Error::Decode { .. }
            | Error::Opset { .. }
            | Error::ExternalData { .. }
            | Error::Model { .. } => self,
            other => Error::Model {
                source_name: source_name.to_string(),
                source: Box::new(other),
            },
        }
    }

    /// Builds an [`Error::Other`].
    pub fn other(context: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Other {
            context: context.into(),
            message: message.into(),
        }
    }
}
