//! The ONNX parser (`cpp/parser.{h,cc}`, `nvonnxparser::IParser`), which fills a builder's network.

use std::fmt;
use std::path::Path;

#[cfg(not(trt_shim))]
use super::Never;
use super::{Network, ParserErrorCode};
#[cfg(trt_shim)]
use crate::error::Error;
use crate::error::Result;

#[cfg(trt_shim)]
use super::{prepare_factory, FactoryUse, Native};

#[cfg(trt_shim)]
#[cxx::bridge(namespace = "trtshim")]
pub(crate) mod ffi {
    #[derive(Debug, Clone)]
    struct ParserErrorDesc {
        code: ParserErrorCode,
        description: String,
        file: String,
        line: i32,
        function: String,
        node_index: i32,
        node_name: String,
        node_operator: String,
    }

    unsafe extern "C++" {
        include!("trt-sys/cpp/parser.h");
        include!("trt-sys/src/shim/common.rs.h");

        type ParserErrorCode = crate::shim::common::ffi::ParserErrorCode;
        type ShimLogger = crate::shim::logger::ffi::ShimLogger;
        type ShimNetwork = crate::shim::builder::ffi::ShimNetwork;

        type ShimParser;
        unsafe fn new_parser(
            network: &ShimNetwork,
            logger: &ShimLogger,
            create_fn: usize,
        ) -> Result<UniquePtr<ShimParser>>;
        fn parse(self: &ShimParser, model: &[u8], model_path: &str) -> bool;
        fn errors(self: &ShimParser) -> Result<Vec<ParserErrorDesc>>;
        fn clear_errors(self: &ShimParser);
        fn supports_operator(self: &ShimParser, op: &str) -> bool;
        /// Shim value -> TensorRT -> shim value; errors when the release lacks the value (enum table tests).
        #[allow(dead_code)]
        fn roundtrip_parser_error_code(v: ParserErrorCode) -> Result<ParserErrorCode>;
    }
}

/// One error recorded by the ONNX parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParserError {
    /// Error code.
    pub code: ParserErrorCode,
    /// The parser's description.
    pub description: String,
    /// Parser source file that raised it.
    pub file: String,
    /// Line in that file.
    pub line: i32,
    /// Function in that file.
    pub function: String,
    /// Index of the ONNX node (-1 when not node-specific).
    pub node_index: i32,
    /// ONNX node name (empty before TensorRT 10 or when unnamed).
    pub node_name: String,
    /// ONNX operator type (empty before TensorRT 10).
    pub node_operator: String,
}

impl fmt::Display for ParserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.node_index >= 0 {
            write!(f, "node {}", self.node_index)?;
            match (self.node_name.is_empty(), self.node_operator.is_empty()) {
                (false, false) => write!(f, " ({}, {})", self.node_name, self.node_operator)?,
                (false, true) => write!(f, " ({})", self.node_name)?,
                (true, false) => write!(f, " ({})", self.node_operator)?,
                (true, true) => {}
            }
        } else {
            f.write_str("model")?;
        }
        write!(f, ": {:?}: {}", self.code, self.description)?;
        if !self.file.is_empty() {
            write!(f, " [{}:{}", self.file, self.line)?;
            if !self.function.is_empty() {
                write!(f, " {}", self.function)?;
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

/// `nvonnxparser::IParser` together with the network it fills. The parser owns weights the network refers to,
/// so the two live and die together (the parser is deleted first).
pub struct Parser {
    #[cfg(trt_shim)]
    ptr: cxx::UniquePtr<ffi::ShimParser>,
    #[cfg(trt_shim)]
    network: Network,
    #[cfg(not(trt_shim))]
    never: Never,
}

handle!(Parser => ffi::ShimParser, |s| &s.ptr);

impl Parser {
    /// Creates an ONNX parser (`createNvOnnxParser` from libnvonnxparser) that fills `network`.
    pub fn new(network: Network) -> Result<Parser> {
        #[cfg(not(trt_shim))]
        match network.never {}
        #[cfg(trt_shim)]
        {
            prepare_factory(FactoryUse::Build)?;
            let lib = crate::loader::onnx_parser()?;
            let addr = lib.create_nv_onnx_parser as usize;
            let logger = network.logger().clone();
            // SAFETY: createNvOnnxParser_INTERNAL resolved by the loader (library open for the process),
            // signature `void*(void* network, void* logger, int version)`; network and logger outlive the parser
            // (Parser owns the network and drops the parser first; the network's builder keeps the logger).
            let r = unsafe { ffi::new_parser(network.shim(), logger.shim(), addr) };
            let ptr = logger.finish("createNvOnnxParser", r)?;
            Ok(Parser { ptr, network })
        }
    }

    /// Parses an ONNX model from memory. `model_path` (optional) lets external weight files resolve. On failure
    /// the error lists every parser error (node index, node name and operator where the release has them,
    /// message); [`Parser::errors`] gives them structured.
    pub fn parse(&mut self, model: &[u8], model_path: Option<&Path>) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = (model, model_path);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let path = model_path
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let ok = self.shim().parse(model, &path);
            self.network.logger().resume_panic();
            if ok {
                return Ok(());
            }
            let errors = self.errors();
            let message = if errors.is_empty() {
                "the parser reported failure without an error record".to_owned()
            } else {
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Err(Error::TensorRt {
                call: "IParser::parse".to_owned(),
                message,
            })
        }
    }

    /// The errors recorded by the last [`Parser::parse`].
    pub fn errors(&self) -> Vec<ParserError> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.shim()
            .errors()
            .unwrap_or_else(|e| {
                vec![ffi::ParserErrorDesc {
                    code: ParserErrorCode::InternalError.to_ffi(),
                    description: format!("the parser's errors could not be copied: {}", e.what()),
                    file: String::new(),
                    line: 0,
                    function: String::new(),
                    node_index: -1,
                    node_name: String::new(),
                    node_operator: String::new(),
                }]
            })
            .into_iter()
            .map(|e| ParserError {
                code: ParserErrorCode::from_ffi(e.code).unwrap_or(ParserErrorCode::Unknown),
                description: e.description,
                file: e.file,
                line: e.line,
                function: e.function,
                node_index: e.node_index,
                node_name: e.node_name,
                node_operator: e.node_operator,
            })
            .collect()
    }

    /// Clears recorded errors.
    pub fn clear_errors(&mut self) {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.shim().clear_errors();
    }

    /// Whether the parser has an importer for ONNX operator `op`.
    pub fn supports_operator(&self, op: &str) -> bool {
        #[cfg(not(trt_shim))]
        {
            let _ = op;
            match self.never {}
        }
        #[cfg(trt_shim)]
        self.shim().supports_operator(op)
    }

    /// The network being filled.
    pub fn network(&self) -> &Network {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        &self.network
    }

    /// The network being filled, mutably (mark outputs, set layer precisions).
    pub fn network_mut(&mut self) -> &mut Network {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        &mut self.network
    }
}
