// ONNX parser area (NvOnnxParser.h). The parser fills a network the caller owns; it also owns weight memory the
// network refers to, so it must stay alive until buildSerializedNetwork has returned (the Rust side keeps the
// parser and its network together and drops the parser first).
#pragma once

#include "trt-sys/cpp/builder.h"

#include <NvOnnxParser.h>

namespace trtshim
{
struct ParserErrorDesc;

class ShimParser
{
public:
    ShimParser(nvonnxparser::IParser* parser, ShimLogger const& logger);
    // Caller-owned IParser (delete; 8.x destroy() is deprecated).
    std::unique_ptr<nvonnxparser::IParser> parser;
    ShimLogger const* logger;

    // IParser::parse(data, size, modelPath): false on failure, details in getNbErrors()/getError(i) (owned by the
    // parser, valid until clearErrors or the next parse). `model_path` lets external weights resolve ("" = none).
    bool parse(rust::Slice<std::uint8_t const> model, rust::Str model_path) const;
    // Every recorded error: code, description, source location, node index, and (>= 10.0) node name and operator.
    rust::Vec<ParserErrorDesc> errors() const;
    // IParser::clearErrors: void.
    void clear_errors() const;
    // IParser::supportsOperator: true when the parser has an importer for the op type.
    bool supports_operator(rust::Str op) const;
};

// createNvOnnxParser_INTERNAL(network, logger, NV_ONNX_PARSER_VERSION) through the loader's address: caller owns
// the parser (delete); null on failure. Network and logger must outlive the parser. An error logged during creation
// fails the call (the pointer is then leaked on purpose, see new_builder).
std::unique_ptr<ShimParser> new_parser(ShimNetwork const& network, ShimLogger const& logger, std::size_t create_fn);

ParserErrorCode roundtrip_parser_error_code(ParserErrorCode v);
} // namespace trtshim
