// Shared helpers of the TensorRT shim: version macros, enum mapping (shim <-> TensorRT, both ways), Dims
// conversion, and the failure convention.
//
// Failure convention: TensorRT methods are noexcept and report failure by returning null/false and logging through
// the ILogger. Every shim function that can fail turns that into a thrown std::runtime_error whose message carries
// the errors logged since the call began (ShimLogger::errors_since); cxx turns the exception into Err on the Rust
// side. A message starting with "unsupported: " means the compiled TensorRT release lacks the feature.
//
// Linking: the shim references no TensorRT symbol. Objects are created only through entry-point addresses that the
// Rust loader resolved with dlsym; inline header helpers that reference library symbols (createInferBuilder,
// createInferRuntime, nvonnxparser::createParser, getPluginRegistry, ...) are never called.
#pragma once

#include <NvInfer.h>
#include <NvInferRuntime.h>
#include <NvInferVersion.h>

#include <cstdint>
#include <string>

#include "rust/cxx.h"

// API level. Enterprise TensorRT gates on its own release number. TensorRT for RTX (TRT_MAJOR_RTX defined;
// NV_TENSORRT_MAJOR is 1 there) forked from the 10.x API: RTX 1.5 and later behave like 11.x (always strongly typed,
// no FP16/INT8 builder flags, no ILayer::setPrecision/setOutputType), 1.3/1.4 like a late 10.x. No RTX release has
// INT8 calibrators, DLA, version/hardware compatibility, lean/dispatch runtimes or a plugin library.
#if defined(TRT_MAJOR_RTX)
#define TRTSHIM_RTX 1
#define TRTSHIM_API_MAJOR (NV_TENSORRT_MINOR >= 5 ? 11 : 10)
#define TRTSHIM_API_MINOR (NV_TENSORRT_MINOR >= 5 ? 0 : 99)
#else
#define TRTSHIM_RTX 0
#define TRTSHIM_API_MAJOR NV_TENSORRT_MAJOR
#define TRTSHIM_API_MINOR NV_TENSORRT_MINOR
#endif

// True when the compiled API level is at least maj.min (enterprise numbering; see above for RTX).
#define TRTSHIM_AT_LEAST(maj, min) \
    (TRTSHIM_API_MAJOR > (maj) || (TRTSHIM_API_MAJOR == (maj) && TRTSHIM_API_MINOR >= (min)))
// IInt8Calibrator and IBuilderConfig::setInt8Calibrator: enterprise <= 10.x only.
#define TRTSHIM_HAS_CALIBRATOR (!TRTSHIM_RTX && NV_TENSORRT_MAJOR <= 10)
// ILayer::setPrecision/setOutputType/getPrecision: API level <= 10.x.
#define TRTSHIM_HAS_LAYER_PRECISION (TRTSHIM_API_MAJOR <= 10)
// Version/hardware compatibility, builder optimization level: enterprise 8.6+ (RTX has the optimization level only).
#define TRTSHIM_HAS_COMPATIBILITY (!TRTSHIM_RTX && TRTSHIM_AT_LEAST(8, 6))

namespace trtshim
{
enum class Severity : std::uint8_t;
enum class DataType : std::uint8_t;
enum class TensorIoMode : std::uint8_t;
enum class TensorFormat : std::uint8_t;
enum class MemoryPool : std::uint8_t;
enum class ProfilingVerbosity : std::uint8_t;
enum class DeviceType : std::uint8_t;
enum class HardwareCompatibility : std::uint8_t;
enum class ProfileSelector : std::uint8_t;
enum class BuilderFlag : std::uint8_t;
enum class CalibrationAlgorithm : std::uint8_t;
enum class ParserErrorCode : std::uint8_t;
enum class TacticSource : std::uint8_t;
struct HeaderVersion;
struct ShimCapabilities;

// Throws std::runtime_error("unsupported: <what> (TensorRT <compiled version>)").
[[noreturn]] void throw_unsupported(std::string const& what);
// Throws std::runtime_error(what).
[[noreturn]] void throw_invalid(std::string const& what);

// Enum maps. to_trt returns false when the compiled release does not have the value; from_trt maps values the shim
// does not know to Unknown (or the closest documented fallback).
bool to_trt(Severity v, nvinfer1::ILogger::Severity& out);
Severity from_trt(nvinfer1::ILogger::Severity v);
bool to_trt(DataType v, nvinfer1::DataType& out);
DataType from_trt(nvinfer1::DataType v);
bool to_trt(TensorIoMode v, nvinfer1::TensorIOMode& out);
TensorIoMode from_trt(nvinfer1::TensorIOMode v);
bool to_trt(TensorFormat v, nvinfer1::TensorFormat& out);
TensorFormat from_trt(nvinfer1::TensorFormat v);
bool to_trt(MemoryPool v, nvinfer1::MemoryPoolType& out);
MemoryPool from_trt(nvinfer1::MemoryPoolType v);
bool to_trt(ProfilingVerbosity v, nvinfer1::ProfilingVerbosity& out);
ProfilingVerbosity from_trt(nvinfer1::ProfilingVerbosity v);
bool to_trt(DeviceType v, nvinfer1::DeviceType& out);
DeviceType from_trt(nvinfer1::DeviceType v);
#if TRTSHIM_AT_LEAST(8, 6)
bool to_trt(HardwareCompatibility v, nvinfer1::HardwareCompatibilityLevel& out);
HardwareCompatibility from_trt(nvinfer1::HardwareCompatibilityLevel v);
#endif
bool to_trt(ProfileSelector v, nvinfer1::OptProfileSelector& out);
ProfileSelector from_trt(nvinfer1::OptProfileSelector v);
bool to_trt(BuilderFlag v, nvinfer1::BuilderFlag& out);
BuilderFlag from_trt(nvinfer1::BuilderFlag v, bool& known);
// TacticSource: kCUBLAS/kCUBLAS_LT/kCUDNN exist up to 10.x (deprecated there), the convolution sources in every
// release; 11.x renumbered what is left (a source's bit is 1 << its value in the compiled headers).
bool to_trt(TacticSource v, nvinfer1::TacticSource& out);
TacticSource from_trt(nvinfer1::TacticSource v);

// Converting variants that throw (unsupported / invalid) instead of returning false.
nvinfer1::DataType to_trt_or_throw(DataType v);
nvinfer1::Dims to_dims(rust::Slice<std::int64_t const> dims);
rust::Vec<std::int64_t> from_dims(nvinfer1::Dims const& dims);
// Null-safe C string -> std::string.
std::string str_or_empty(char const* s);

#if TRTSHIM_RTX
// ComputeCapability (TensorRT-RTX): v is the enumerator's value (SM number, or 1 for kCURRENT); false when the
// compiled release does not list it.
bool compute_capability_to_trt(std::int32_t v, nvinfer1::ComputeCapability& out);
#endif
// The compute-capability targets of the compiled release ("7.5, 8.0, ..."; "" outside TensorRT-RTX).
std::string supported_compute_capabilities();
rust::Vec<std::int32_t> compute_capability_targets();

HeaderVersion header_version();
ShimCapabilities capabilities();
DataType roundtrip_data_type(DataType v);
TensorFormat roundtrip_tensor_format(TensorFormat v);
MemoryPool roundtrip_memory_pool(MemoryPool v);
ProfilingVerbosity roundtrip_profiling_verbosity(ProfilingVerbosity v);
DeviceType roundtrip_device_type(DeviceType v);
HardwareCompatibility roundtrip_hardware_compatibility(HardwareCompatibility v);
ProfileSelector roundtrip_profile_selector(ProfileSelector v);
BuilderFlag roundtrip_builder_flag(BuilderFlag v);
Severity roundtrip_severity(Severity v);
TensorIoMode roundtrip_tensor_io_mode(TensorIoMode v);
ParserErrorCode roundtrip_parser_error_code(ParserErrorCode v);
bool builder_flag_available(BuilderFlag v);
TacticSource roundtrip_tactic_source(TacticSource v);
bool tactic_source_available(TacticSource v);
rust::Vec<std::int64_t> roundtrip_dims(rust::Slice<std::int64_t const> dims);
} // namespace trtshim
