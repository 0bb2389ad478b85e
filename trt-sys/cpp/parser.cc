#include "trt-sys/cpp/parser.h"

#include "trt-sys/cpp/enum_detect.h"
#include "trt-sys/src/shim/parser.rs.h"

namespace trtshim
{
namespace
{
TRTSHIM_OPTIONAL_ENUMERATOR(kSUCCESS)
TRTSHIM_OPTIONAL_ENUMERATOR(kINTERNAL_ERROR)
TRTSHIM_OPTIONAL_ENUMERATOR(kMEM_ALLOC_FAILED)
TRTSHIM_OPTIONAL_ENUMERATOR(kMODEL_DESERIALIZE_FAILED)
TRTSHIM_OPTIONAL_ENUMERATOR(kINVALID_VALUE)
TRTSHIM_OPTIONAL_ENUMERATOR(kINVALID_GRAPH)
TRTSHIM_OPTIONAL_ENUMERATOR(kINVALID_NODE)
TRTSHIM_OPTIONAL_ENUMERATOR(kUNSUPPORTED_GRAPH)
TRTSHIM_OPTIONAL_ENUMERATOR(kUNSUPPORTED_NODE)
TRTSHIM_OPTIONAL_ENUMERATOR(kUNSUPPORTED_NODE_ATTR)
TRTSHIM_OPTIONAL_ENUMERATOR(kUNSUPPORTED_NODE_INPUT)
TRTSHIM_OPTIONAL_ENUMERATOR(kUNSUPPORTED_NODE_DATATYPE)
TRTSHIM_OPTIONAL_ENUMERATOR(kUNSUPPORTED_NODE_DYNAMIC)
TRTSHIM_OPTIONAL_ENUMERATOR(kUNSUPPORTED_NODE_SHAPE)
TRTSHIM_OPTIONAL_ENUMERATOR(kREFIT_FAILED)

#define PARSER_CODE_ROWS(X)                                                                                            \
    X(Success, kSUCCESS) X(InternalError, kINTERNAL_ERROR) X(MemAllocFailed, kMEM_ALLOC_FAILED)                       \
        X(ModelDeserializeFailed, kMODEL_DESERIALIZE_FAILED) X(InvalidValue, kINVALID_VALUE)                          \
            X(InvalidGraph, kINVALID_GRAPH) X(InvalidNode, kINVALID_NODE) X(UnsupportedGraph, kUNSUPPORTED_GRAPH)     \
                X(UnsupportedNode, kUNSUPPORTED_NODE) X(UnsupportedNodeAttr, kUNSUPPORTED_NODE_ATTR)                  \
                    X(UnsupportedNodeInput, kUNSUPPORTED_NODE_INPUT)                                                  \
                        X(UnsupportedNodeDatatype, kUNSUPPORTED_NODE_DATATYPE)                                        \
                            X(UnsupportedNodeDynamic, kUNSUPPORTED_NODE_DYNAMIC)                                      \
                                X(UnsupportedNodeShape, kUNSUPPORTED_NODE_SHAPE) X(RefitFailed, kREFIT_FAILED)

bool to_trt(ParserErrorCode v, nvonnxparser::ErrorCode& out)
{
    using S = ParserErrorCode;
    switch (v)
    {
        PARSER_CODE_ROWS(TRTSHIM_TO_ROW)
    default: return false;
    }
}

ParserErrorCode from_trt(nvonnxparser::ErrorCode v)
{
    using S = ParserErrorCode;
    PARSER_CODE_ROWS(TRTSHIM_FROM_ROW)
    return S::Unknown;
}

using CreateParserFn = void* (*) (void*, void*, int);
} // namespace

ParserErrorCode roundtrip_parser_error_code(ParserErrorCode v)
{
    nvonnxparser::ErrorCode t{};
    if (!to_trt(v, t))
    {
        throw_unsupported("ParserErrorCode value " + std::to_string(static_cast<int>(v)));
    }
    return from_trt(t);
}

ShimParser::ShimParser(nvonnxparser::IParser* p, ShimLogger const& l)
    : parser(p)
    , logger(&l)
{
}

std::unique_ptr<ShimParser> new_parser(ShimNetwork const& network, ShimLogger const& logger, std::size_t create_fn)
{
    if (create_fn == 0)
    {
        throw_unsupported("ONNX parsing: libnvonnxparser exports no createNvOnnxParser_INTERNAL");
    }
    auto fn = reinterpret_cast<CreateParserFn>(create_fn);
    std::uint64_t mark = logger.error_count();
    void* p = fn(static_cast<void*>(network.network.get()), logger.as_trt_logger(),
        static_cast<int>(NV_ONNX_PARSER_VERSION));
    if (!p)
    {
        throw_logged(logger, mark, "createNvOnnxParser", "the ONNX parser library returned no parser");
    }
    if (logger.error_count() != mark)
    {
        throw_logged(logger, mark, "createNvOnnxParser", "an error was logged during creation");
    }
    return std::make_unique<ShimParser>(static_cast<nvonnxparser::IParser*>(p), logger);
}

bool ShimParser::parse(rust::Slice<std::uint8_t const> model, rust::Str model_path) const
{
    std::string path(model_path);
    return parser->parse(model.data(), model.size(), path.empty() ? nullptr : path.c_str());
}

rust::Vec<ParserErrorDesc> ShimParser::errors() const
{
    rust::Vec<ParserErrorDesc> out;
    for (int i = 0; i < parser->getNbErrors(); ++i)
    {
        nvonnxparser::IParserError const* e = parser->getError(i);
        if (!e)
        {
            continue;
        }
        ParserErrorDesc d{};
        d.code = from_trt(e->code());
        d.description = rust::String::lossy(str_or_empty(e->desc()));
        d.file = rust::String::lossy(str_or_empty(e->file()));
        d.line = e->line();
        d.function = rust::String::lossy(str_or_empty(e->func()));
        d.node_index = e->node();
#if TRTSHIM_AT_LEAST(10, 0)
        d.node_name = rust::String::lossy(str_or_empty(e->nodeName()));
        d.node_operator = rust::String::lossy(str_or_empty(e->nodeOperator()));
#endif
        out.push_back(std::move(d));
    }
    return out;
}

void ShimParser::clear_errors() const
{
    parser->clearErrors();
}

bool ShimParser::supports_operator(rust::Str op) const
{
    std::string name(op);
    return parser->supportsOperator(name.c_str());
}
} // namespace trtshim
