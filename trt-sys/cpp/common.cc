#include "trt-sys/cpp/common.h"

#include "trt-sys/cpp/enum_detect.h"
#include "trt-sys/src/shim/common.rs.h"

#include <limits>
#include <stdexcept>

namespace trtshim
{
namespace
{
TRTSHIM_OPTIONAL_ENUMERATOR(kINTERNAL_ERROR)
TRTSHIM_OPTIONAL_ENUMERATOR(kERROR)
TRTSHIM_OPTIONAL_ENUMERATOR(kWARNING)
TRTSHIM_OPTIONAL_ENUMERATOR(kINFO)
TRTSHIM_OPTIONAL_ENUMERATOR(kVERBOSE)
TRTSHIM_OPTIONAL_ENUMERATOR(kFLOAT)
TRTSHIM_OPTIONAL_ENUMERATOR(kHALF)
TRTSHIM_OPTIONAL_ENUMERATOR(kINT8)
TRTSHIM_OPTIONAL_ENUMERATOR(kINT32)
TRTSHIM_OPTIONAL_ENUMERATOR(kBOOL)
TRTSHIM_OPTIONAL_ENUMERATOR(kUINT8)
TRTSHIM_OPTIONAL_ENUMERATOR(kFP8)
TRTSHIM_OPTIONAL_ENUMERATOR(kBF16)
TRTSHIM_OPTIONAL_ENUMERATOR(kINT64)
TRTSHIM_OPTIONAL_ENUMERATOR(kINT4)
TRTSHIM_OPTIONAL_ENUMERATOR(kFP4)
TRTSHIM_OPTIONAL_ENUMERATOR(kE8M0)
TRTSHIM_OPTIONAL_ENUMERATOR(kNONE)
TRTSHIM_OPTIONAL_ENUMERATOR(kINPUT)
TRTSHIM_OPTIONAL_ENUMERATOR(kOUTPUT)
TRTSHIM_OPTIONAL_ENUMERATOR(kLINEAR)
TRTSHIM_OPTIONAL_ENUMERATOR(kCHW2)
TRTSHIM_OPTIONAL_ENUMERATOR(kHWC8)
TRTSHIM_OPTIONAL_ENUMERATOR(kCHW4)
TRTSHIM_OPTIONAL_ENUMERATOR(kCHW16)
TRTSHIM_OPTIONAL_ENUMERATOR(kCHW32)
TRTSHIM_OPTIONAL_ENUMERATOR(kDHWC8)
TRTSHIM_OPTIONAL_ENUMERATOR(kCDHW32)
TRTSHIM_OPTIONAL_ENUMERATOR(kHWC)
TRTSHIM_OPTIONAL_ENUMERATOR(kDLA_LINEAR)
TRTSHIM_OPTIONAL_ENUMERATOR(kDLA_HWC4)
TRTSHIM_OPTIONAL_ENUMERATOR(kHWC16)
TRTSHIM_OPTIONAL_ENUMERATOR(kDHWC)
TRTSHIM_OPTIONAL_ENUMERATOR(kWORKSPACE)
TRTSHIM_OPTIONAL_ENUMERATOR(kDLA_MANAGED_SRAM)
TRTSHIM_OPTIONAL_ENUMERATOR(kDLA_LOCAL_DRAM)
TRTSHIM_OPTIONAL_ENUMERATOR(kDLA_GLOBAL_DRAM)
TRTSHIM_OPTIONAL_ENUMERATOR(kTACTIC_DRAM)
TRTSHIM_OPTIONAL_ENUMERATOR(kTACTIC_SHARED_MEMORY)
TRTSHIM_OPTIONAL_ENUMERATOR(kLAYER_NAMES_ONLY)
TRTSHIM_OPTIONAL_ENUMERATOR(kDETAILED)
TRTSHIM_OPTIONAL_ENUMERATOR(kGPU)
TRTSHIM_OPTIONAL_ENUMERATOR(kDLA)
TRTSHIM_OPTIONAL_ENUMERATOR(kAMPERE_PLUS)
TRTSHIM_OPTIONAL_ENUMERATOR(kSAME_COMPUTE_CAPABILITY)
TRTSHIM_OPTIONAL_ENUMERATOR(kMIN)
TRTSHIM_OPTIONAL_ENUMERATOR(kOPT)
TRTSHIM_OPTIONAL_ENUMERATOR(kMAX)
TRTSHIM_OPTIONAL_ENUMERATOR(kFP16)
TRTSHIM_OPTIONAL_ENUMERATOR(kTF32)
TRTSHIM_OPTIONAL_ENUMERATOR(kGPU_FALLBACK)
TRTSHIM_OPTIONAL_ENUMERATOR(kREFIT)
TRTSHIM_OPTIONAL_ENUMERATOR(kDEBUG)
TRTSHIM_OPTIONAL_ENUMERATOR(kDISABLE_TIMING_CACHE)
TRTSHIM_OPTIONAL_ENUMERATOR(kSPARSE_WEIGHTS)
TRTSHIM_OPTIONAL_ENUMERATOR(kOBEY_PRECISION_CONSTRAINTS)
TRTSHIM_OPTIONAL_ENUMERATOR(kPREFER_PRECISION_CONSTRAINTS)
TRTSHIM_OPTIONAL_ENUMERATOR(kDIRECT_IO)
TRTSHIM_OPTIONAL_ENUMERATOR(kVERSION_COMPATIBLE)
TRTSHIM_OPTIONAL_ENUMERATOR(kEXCLUDE_LEAN_RUNTIME)
TRTSHIM_OPTIONAL_ENUMERATOR(kERROR_ON_TIMING_CACHE_MISS)
TRTSHIM_OPTIONAL_ENUMERATOR(kSTRIP_PLAN)
TRTSHIM_OPTIONAL_ENUMERATOR(kWEIGHT_STREAMING)
TRTSHIM_OPTIONAL_ENUMERATOR(kCUBLAS)
TRTSHIM_OPTIONAL_ENUMERATOR(kCUBLAS_LT)
TRTSHIM_OPTIONAL_ENUMERATOR(kCUDNN)
TRTSHIM_OPTIONAL_ENUMERATOR(kEDGE_MASK_CONVOLUTIONS)
TRTSHIM_OPTIONAL_ENUMERATOR(kJIT_CONVOLUTIONS)
} // namespace

// Rows: X(shim enumerator, TensorRT enumerator). A row whose TensorRT enumerator the release lacks maps to "absent".
#define SEVERITY_ROWS(X) X(InternalError, kINTERNAL_ERROR) X(Error, kERROR) X(Warning, kWARNING) X(Info, kINFO) X(Verbose, kVERBOSE)
#define DATATYPE_ROWS(X)                                                                                               \
    X(F32, kFLOAT) X(F16, kHALF) X(I8, kINT8) X(I32, kINT32) X(Bool, kBOOL) X(U8, kUINT8) X(Fp8, kFP8)                \
        X(Bf16, kBF16) X(I64, kINT64) X(I4, kINT4) X(Fp4, kFP4) X(E8m0, kE8M0)
#define IOMODE_ROWS(X) X(None, kNONE) X(Input, kINPUT) X(Output, kOUTPUT)
#define FORMAT_ROWS(X)                                                                                                 \
    X(Linear, kLINEAR) X(Chw2, kCHW2) X(Hwc8, kHWC8) X(Chw4, kCHW4) X(Chw16, kCHW16) X(Chw32, kCHW32)                 \
        X(Dhwc8, kDHWC8) X(Cdhw32, kCDHW32) X(Hwc, kHWC) X(DlaLinear, kDLA_LINEAR) X(DlaHwc4, kDLA_HWC4)              \
            X(Hwc16, kHWC16) X(Dhwc, kDHWC)
#define POOL_ROWS(X)                                                                                                   \
    X(Workspace, kWORKSPACE) X(DlaManagedSram, kDLA_MANAGED_SRAM) X(DlaLocalDram, kDLA_LOCAL_DRAM)                    \
        X(DlaGlobalDram, kDLA_GLOBAL_DRAM) X(TacticDram, kTACTIC_DRAM) X(TacticSharedMemory, kTACTIC_SHARED_MEMORY)
#define VERBOSITY_ROWS(X) X(LayerNamesOnly, kLAYER_NAMES_ONLY) X(None, kNONE) X(Detailed, kDETAILED)
#define DEVICE_ROWS(X) X(Gpu, kGPU) X(Dla, kDLA)
#define HWCOMPAT_ROWS(X) X(None, kNONE) X(AmperePlus, kAMPERE_PLUS) X(SameComputeCapability, kSAME_COMPUTE_CAPABILITY)
#define SELECTOR_ROWS(X) X(Min, kMIN) X(Opt, kOPT) X(Max, kMAX)
#define FLAG_ROWS(X)                                                                                                   \
    X(Fp16, kFP16) X(Int8, kINT8) X(Bf16, kBF16) X(Fp8, kFP8) X(Int4, kINT4) X(Tf32, kTF32)                           \
        X(GpuFallback, kGPU_FALLBACK) X(Refit, kREFIT) X(Debug, kDEBUG) X(DisableTimingCache, kDISABLE_TIMING_CACHE)  \
            X(SparseWeights, kSPARSE_WEIGHTS) X(ObeyPrecisionConstraints, kOBEY_PRECISION_CONSTRAINTS)                \
                X(PreferPrecisionConstraints, kPREFER_PRECISION_CONSTRAINTS) X(DirectIo, kDIRECT_IO)                  \
                    X(VersionCompatible, kVERSION_COMPATIBLE) X(ExcludeLeanRuntime, kEXCLUDE_LEAN_RUNTIME)            \
                        X(ErrorOnTimingCacheMiss, kERROR_ON_TIMING_CACHE_MISS) X(StripPlan, kSTRIP_PLAN)              \
                            X(WeightStreaming, kWEIGHT_STREAMING)
#define TACTIC_ROWS(X)                                                                                                 \
    X(Cublas, kCUBLAS) X(CublasLt, kCUBLAS_LT) X(Cudnn, kCUDNN) X(EdgeMaskConvolutions, kEDGE_MASK_CONVOLUTIONS)      \
        X(JitConvolutions, kJIT_CONVOLUTIONS)

#define TRTSHIM_DEFINE_MAP(ShimT, TrtT, ROWS, FALLBACK)                                                                \
    bool to_trt(ShimT v, TrtT& out)                                                                                    \
    {                                                                                                                  \
        using S = ShimT;                                                                                               \
        switch (v)                                                                                                     \
        {                                                                                                              \
            ROWS(TRTSHIM_TO_ROW)                                                                                       \
        default: return false;                                                                                         \
        }                                                                                                              \
    }                                                                                                                  \
    ShimT from_trt(TrtT v)                                                                                             \
    {                                                                                                                  \
        using S = ShimT;                                                                                               \
        ROWS(TRTSHIM_FROM_ROW)                                                                                         \
        return FALLBACK;                                                                                               \
    }

TRTSHIM_DEFINE_MAP(Severity, nvinfer1::ILogger::Severity, SEVERITY_ROWS, Severity::Error)
TRTSHIM_DEFINE_MAP(DataType, nvinfer1::DataType, DATATYPE_ROWS, DataType::Unknown)
TRTSHIM_DEFINE_MAP(TensorIoMode, nvinfer1::TensorIOMode, IOMODE_ROWS, TensorIoMode::None)
TRTSHIM_DEFINE_MAP(TensorFormat, nvinfer1::TensorFormat, FORMAT_ROWS, TensorFormat::Unknown)
TRTSHIM_DEFINE_MAP(MemoryPool, nvinfer1::MemoryPoolType, POOL_ROWS, MemoryPool::Workspace)
TRTSHIM_DEFINE_MAP(ProfilingVerbosity, nvinfer1::ProfilingVerbosity, VERBOSITY_ROWS, ProfilingVerbosity::None)
TRTSHIM_DEFINE_MAP(DeviceType, nvinfer1::DeviceType, DEVICE_ROWS, DeviceType::Gpu)
#if TRTSHIM_AT_LEAST(8, 6)
TRTSHIM_DEFINE_MAP(HardwareCompatibility, nvinfer1::HardwareCompatibilityLevel, HWCOMPAT_ROWS, HardwareCompatibility::None)
#endif
TRTSHIM_DEFINE_MAP(ProfileSelector, nvinfer1::OptProfileSelector, SELECTOR_ROWS, ProfileSelector::Min)
TRTSHIM_DEFINE_MAP(TacticSource, nvinfer1::TacticSource, TACTIC_ROWS, TacticSource::Unknown)

bool to_trt(BuilderFlag v, nvinfer1::BuilderFlag& out)
{
    using S = BuilderFlag;
    switch (v)
    {
        FLAG_ROWS(TRTSHIM_TO_ROW)
    default: return false;
    }
}

BuilderFlag from_trt(nvinfer1::BuilderFlag v, bool& known)
{
    using S = BuilderFlag;
    known = true;
    FLAG_ROWS(TRTSHIM_FROM_ROW)
    known = false;
    return S::Debug;
}

[[noreturn]] void throw_unsupported(std::string const& what)
{
    throw std::runtime_error("unsupported: " + what);
}

[[noreturn]] void throw_invalid(std::string const& what)
{
    throw std::runtime_error(what);
}

nvinfer1::DataType to_trt_or_throw(DataType v)
{
    nvinfer1::DataType out{};
    if (!to_trt(v, out))
    {
        throw_unsupported("data type " + std::to_string(static_cast<int>(v)) + " in this TensorRT release");
    }
    return out;
}

nvinfer1::Dims to_dims(rust::Slice<std::int64_t const> dims)
{
    nvinfer1::Dims d{};
    if (dims.size() > static_cast<std::size_t>(nvinfer1::Dims::MAX_DIMS))
    {
        throw_invalid("too many dimensions: " + std::to_string(dims.size()) + " (TensorRT allows at most "
            + std::to_string(nvinfer1::Dims::MAX_DIMS) + ")");
    }
    d.nbDims = static_cast<std::int32_t>(dims.size());
    for (std::size_t i = 0; i < dims.size(); ++i)
    {
        using Elem = std::remove_reference_t<decltype(d.d[0])>;
        // 8.x stores int32 dimensions; reject what would not fit instead of truncating.
        if (dims[i] < static_cast<std::int64_t>(std::numeric_limits<Elem>::min())
            || dims[i] > static_cast<std::int64_t>(std::numeric_limits<Elem>::max()))
        {
            throw_invalid("dimension " + std::to_string(i) + " = " + std::to_string(dims[i])
                + " does not fit this TensorRT release's Dims element type");
        }
        d.d[i] = static_cast<Elem>(dims[i]);
    }
    return d;
}

rust::Vec<std::int64_t> from_dims(nvinfer1::Dims const& dims)
{
    rust::Vec<std::int64_t> out;
    // nbDims == -1 is TensorRT's "invalid/unknown" marker: return it as an empty shape.
    for (std::int32_t i = 0; i < dims.nbDims && i < nvinfer1::Dims::MAX_DIMS; ++i)
    {
        out.push_back(static_cast<std::int64_t>(dims.d[i]));
    }
    return out;
}

std::string str_or_empty(char const* s)
{
    return s ? std::string(s) : std::string();
}

namespace
{
#define CC_ROWS(X) X(kCURRENT) X(kSM75) X(kSM80) X(kSM86) X(kSM87) X(kSM89) X(kSM90) X(kSM100) X(kSM110) X(kSM120) X(kSM121)
#define CC_DETECT_ROW(N) TRTSHIM_OPTIONAL_ENUMERATOR(N)
CC_ROWS(CC_DETECT_ROW)
#undef CC_DETECT_ROW
} // namespace

#if TRTSHIM_RTX
bool compute_capability_to_trt(std::int32_t v, nvinfer1::ComputeCapability& out)
{
    nvinfer1::ComputeCapability c{};
#define CC_TO_ROW(N)                                                                                                   \
    if (get_##N(c) && static_cast<std::int32_t>(c) == v)                                                               \
    {                                                                                                                  \
        out = c;                                                                                                       \
        return true;                                                                                                   \
    }
    CC_ROWS(CC_TO_ROW)
#undef CC_TO_ROW
    return false;
}
#endif

rust::Vec<std::int32_t> compute_capability_targets()
{
    rust::Vec<std::int32_t> out;
#if TRTSHIM_RTX
    nvinfer1::ComputeCapability c{};
#define CC_LIST_ROW(N)                                                                                                 \
    if (get_##N(c) && c != nvinfer1::ComputeCapability::kCURRENT)                                                      \
    {                                                                                                                  \
        out.push_back(static_cast<std::int32_t>(c));                                                                   \
    }
    CC_ROWS(CC_LIST_ROW)
#undef CC_LIST_ROW
#endif
    return out;
}

std::string supported_compute_capabilities()
{
    std::string s;
    for (std::int32_t v : compute_capability_targets())
    {
        s += (s.empty() ? "" : ", ") + std::to_string(v / 10) + "." + std::to_string(v % 10);
    }
    return s;
}

HeaderVersion header_version()
{
    return HeaderVersion{static_cast<std::uint32_t>(NV_TENSORRT_MAJOR), static_cast<std::uint32_t>(NV_TENSORRT_MINOR),
        static_cast<std::uint32_t>(NV_TENSORRT_PATCH), static_cast<std::uint32_t>(NV_TENSORRT_BUILD)};
}

ShimCapabilities capabilities()
{
    ShimCapabilities c{};
    c.explicit_batch_flag = !TRTSHIM_AT_LEAST(10, 0); // 8.x: required; 10.x: deprecated and ignored; 11.x: gone
    c.strongly_typed_flag = TRTSHIM_AT_LEAST(10, 0);
    c.strongly_typed_always = TRTSHIM_AT_LEAST(11, 0);
    c.builder_optimization_level = TRTSHIM_AT_LEAST(8, 6);
    c.version_compatible = TRTSHIM_HAS_COMPATIBILITY;
    c.hardware_compatibility = TRTSHIM_HAS_COMPATIBILITY;
    c.progress_monitor = TRTSHIM_AT_LEAST(10, 0);
    c.int8_calibrator = TRTSHIM_HAS_CALIBRATOR;
    c.layer_precision = TRTSHIM_HAS_LAYER_PRECISION;
    // setDLACore/DeviceType::kDLA exist in every enterprise release (8.5 .. 11.x); RTX keeps the declarations but
    // targets no DLA.
    c.dla = !TRTSHIM_RTX;
    c.parser_node_names = TRTSHIM_AT_LEAST(10, 0);
    c.rtx = TRTSHIM_RTX;
    // TensorRT-RTX: compute-capability targets, IRuntime::getEngineValidity and the JIT runtime cache.
    c.compute_capability_targets = TRTSHIM_RTX;
    c.engine_validity = TRTSHIM_RTX;
    c.runtime_cache = TRTSHIM_RTX;
    return c;
}

#define TRTSHIM_ROUNDTRIP(fn, ShimT, TrtT)                                                                             \
    ShimT fn(ShimT v)                                                                                                  \
    {                                                                                                                  \
        TrtT t{};                                                                                                      \
        if (!to_trt(v, t))                                                                                             \
        {                                                                                                              \
            throw_unsupported(#ShimT " value " + std::to_string(static_cast<int>(v)));                                 \
        }                                                                                                              \
        return from_trt(t);                                                                                            \
    }

TRTSHIM_ROUNDTRIP(roundtrip_data_type, DataType, nvinfer1::DataType)
TRTSHIM_ROUNDTRIP(roundtrip_tensor_format, TensorFormat, nvinfer1::TensorFormat)
TRTSHIM_ROUNDTRIP(roundtrip_memory_pool, MemoryPool, nvinfer1::MemoryPoolType)
TRTSHIM_ROUNDTRIP(roundtrip_profiling_verbosity, ProfilingVerbosity, nvinfer1::ProfilingVerbosity)
TRTSHIM_ROUNDTRIP(roundtrip_device_type, DeviceType, nvinfer1::DeviceType)
TRTSHIM_ROUNDTRIP(roundtrip_profile_selector, ProfileSelector, nvinfer1::OptProfileSelector)
TRTSHIM_ROUNDTRIP(roundtrip_severity, Severity, nvinfer1::ILogger::Severity)
TRTSHIM_ROUNDTRIP(roundtrip_tensor_io_mode, TensorIoMode, nvinfer1::TensorIOMode)
TRTSHIM_ROUNDTRIP(roundtrip_tactic_source, TacticSource, nvinfer1::TacticSource)

HardwareCompatibility roundtrip_hardware_compatibility(HardwareCompatibility v)
{
#if TRTSHIM_AT_LEAST(8, 6)
    nvinfer1::HardwareCompatibilityLevel t{};
    if (!to_trt(v, t))
    {
        throw_unsupported("HardwareCompatibility value " + std::to_string(static_cast<int>(v)));
    }
    return from_trt(t);
#else
    (void) v;
    throw_unsupported("hardware compatibility levels (TensorRT >= 8.6)");
#endif
}

BuilderFlag roundtrip_builder_flag(BuilderFlag v)
{
    nvinfer1::BuilderFlag t{};
    if (!to_trt(v, t))
    {
        throw_unsupported("BuilderFlag value " + std::to_string(static_cast<int>(v)));
    }
    bool known = false;
    BuilderFlag back = from_trt(t, known);
    if (!known)
    {
        throw_invalid("BuilderFlag maps to a TensorRT flag the shim cannot map back");
    }
    return back;
}

bool builder_flag_available(BuilderFlag v)
{
    nvinfer1::BuilderFlag t{};
    return to_trt(v, t);
}

bool tactic_source_available(TacticSource v)
{
    nvinfer1::TacticSource t{};
    return to_trt(v, t);
}

rust::Vec<std::int64_t> roundtrip_dims(rust::Slice<std::int64_t const> dims)
{
    return from_dims(to_dims(dims));
}
} // namespace trtshim
