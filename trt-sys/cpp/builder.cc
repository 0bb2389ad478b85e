#include "trt-sys/cpp/builder.h"

#include "trt-sys/cpp/enum_detect.h"
#include "trt-sys/src/shim/builder.rs.h"

#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace trtshim
{
namespace
{
// Layer type names by enumerator detection: releases add and remove layer types (kRNN_V2 gone in 10.x, kNMS added
// in 8.6, kPLUGIN_V3 in 10.x, ...). A type the table does not list is reported as "UNKNOWN".
#define LAYER_ROWS(X)                                                                                                  \
    X(kCONVOLUTION) X(kDECONVOLUTION) X(kFULLY_CONNECTED) X(kACTIVATION) X(kPOOLING) X(kLRN) X(kSCALE) X(kSOFTMAX)    \
        X(kCONCATENATION) X(kELEMENTWISE) X(kPLUGIN) X(kUNARY) X(kPADDING) X(kSHUFFLE) X(kREDUCE) X(kTOPK) X(kGATHER) \
            X(kMATRIX_MULTIPLY) X(kRAGGED_SOFTMAX) X(kCONSTANT) X(kRNN_V2) X(kIDENTITY) X(kCAST) X(kPLUGIN_V2)        \
                X(kPLUGIN_V3) X(kSLICE) X(kSHAPE) X(kPARAMETRIC_RELU) X(kRESIZE) X(kTRIP_LIMIT) X(kRECURRENCE)         \
                    X(kITERATOR) X(kLOOP_OUTPUT) X(kSELECT) X(kFILL) X(kQUANTIZE) X(kDEQUANTIZE) X(kCONDITION)         \
                        X(kCONDITIONAL_INPUT) X(kCONDITIONAL_OUTPUT) X(kSCATTER) X(kEINSUM) X(kASSERTION)              \
                            X(kONE_HOT) X(kNON_ZERO) X(kGRID_SAMPLE) X(kNMS) X(kREVERSE_SEQUENCE) X(kNORMALIZATION)    \
                                X(kSQUEEZE) X(kUNSQUEEZE) X(kCUMULATIVE) X(kDYNAMIC_QUANTIZE) X(kATTENTION_INPUT)      \
                                    X(kATTENTION_OUTPUT) X(kROTARY_EMBEDDING) X(kKVCACHE_UPDATE) X(kMOE) X(kDIST_COLLECTIVE)

#define DETECT_ROW(N) TRTSHIM_OPTIONAL_ENUMERATOR(N)
LAYER_ROWS(DETECT_ROW)
#undef DETECT_ROW

std::string layer_kind(nvinfer1::LayerType t)
{
#define NAME_ROW(N)                                                                                                    \
    if (is_##N(t))                                                                                                     \
        return std::string(#N).substr(1);
    LAYER_ROWS(NAME_ROW)
#undef NAME_ROW
    return "UNKNOWN";
}

using CreateFn = void* (*) (void*, std::int32_t);

// The version argument TensorRT's inline factories pass: the compiled headers' NV_TENSORRT_VERSION.
constexpr std::int32_t kHeaderVersion = static_cast<std::int32_t>(NV_TENSORRT_VERSION);

NetworkTensorDesc tensor_desc(nvinfer1::ITensor const* t)
{
    NetworkTensorDesc d{};
    d.name = rust::String::lossy(str_or_empty(t->getName()));
    d.data_type = from_trt(t->getType());
    d.shape = from_dims(t->getDimensions());
    return d;
}

nvinfer1::ILayer* layer_or_throw(nvinfer1::INetworkDefinition& net, std::int32_t index)
{
    // INetworkDefinition::getLayer: null when index is out of range.
    nvinfer1::ILayer* l = (index >= 0 && index < net.getNbLayers()) ? net.getLayer(index) : nullptr;
    if (!l)
    {
        throw_invalid("layer index " + std::to_string(index) + " out of range (network has "
            + std::to_string(net.getNbLayers()) + " layers)");
    }
    return l;
}

#if TRTSHIM_AT_LEAST(10, 0)
// IProgressMonitor (>= 10.0): TensorRT calls these from the building thread; the Rust functions catch panics, and
// stepComplete returning false asks TensorRT to cancel the build (buildSerializedNetwork then returns null).
class ShimProgressMonitor final : public nvinfer1::IProgressMonitor
{
public:
    explicit ShimProgressMonitor(rust::Box<ProgressSink> sink)
        : sink_(std::move(sink))
    {
    }
    void phaseStart(char const* phaseName, char const* parentPhase, std::int32_t nbSteps) noexcept override
    {
        progress_phase_start(*sink_, bytes(phaseName), bytes(parentPhase), nbSteps);
    }
    bool stepComplete(char const* phaseName, std::int32_t step) noexcept override
    {
        return progress_step_complete(*sink_, bytes(phaseName), step);
    }
    void phaseFinish(char const* phaseName) noexcept override
    {
        progress_phase_finish(*sink_, bytes(phaseName));
    }

private:
    static rust::Slice<std::uint8_t const> bytes(char const* s)
    {
        if (!s)
        {
            return {};
        }
        return {reinterpret_cast<std::uint8_t const*>(s), std::char_traits<char>::length(s)};
    }
    rust::Box<ProgressSink> sink_;
};
#endif

#if TRTSHIM_HAS_CALIBRATOR
// IInt8Calibrator (<= 10.x). TensorRT owns nothing here: the config references the calibrator, ShimConfig keeps it
// alive. getBatch fills device pointers (one per input name) that must stay valid until the next getBatch call;
// the Rust side owns that memory. readCalibrationCache returns a pointer TensorRT reads before the next call: it is
// kept in `cache_`.
template <class Base>
class ShimCalibrator final : public Base
{
public:
    explicit ShimCalibrator(rust::Box<CalibratorSink> sink)
        : sink_(std::move(sink))
    {
    }
    std::int32_t getBatchSize() const noexcept override
    {
        return calib_batch_size(*sink_);
    }
    bool getBatch(void* bindings[], char const* names[], std::int32_t nbBindings) noexcept override
    {
        try
        {
            rust::Vec<rust::String> ns;
            std::vector<std::size_t> addrs(static_cast<std::size_t>(nbBindings > 0 ? nbBindings : 0), 0);
            for (std::int32_t i = 0; i < nbBindings; ++i)
            {
                ns.push_back(rust::String::lossy(str_or_empty(names[i])));
            }
            bool ok = calib_get_batch(*sink_, std::move(ns), rust::Slice<std::size_t>(addrs.data(), addrs.size()));
            for (std::int32_t i = 0; ok && i < nbBindings; ++i)
            {
                bindings[i] = reinterpret_cast<void*>(addrs[static_cast<std::size_t>(i)]);
            }
            return ok;
        }
        catch (...)
        {
            return false; // allocation failure: end calibration rather than unwind into TensorRT
        }
    }
    void const* readCalibrationCache(std::size_t& length) noexcept override
    {
        cache_ = calib_read_cache(*sink_);
        length = cache_.size();
        return cache_.empty() ? nullptr : cache_.data();
    }
    void writeCalibrationCache(void const* ptr, std::size_t length) noexcept override
    {
        if (ptr)
        {
            calib_write_cache(*sink_, rust::Slice<std::uint8_t const>(static_cast<std::uint8_t const*>(ptr), length));
        }
    }

private:
    rust::Box<CalibratorSink> sink_;
    rust::Vec<std::uint8_t> cache_;
};
#endif
} // namespace

// ------------------------------------------------------------------------------------------------ builder
ShimBuilder::ShimBuilder(nvinfer1::IBuilder* b, ShimLogger const& l)
    : builder(b)
    , logger(&l)
{
}

std::unique_ptr<ShimBuilder> new_builder(ShimLogger const& logger, std::size_t create_fn)
{
    if (create_fn == 0)
    {
        throw_unsupported("building engines: the loaded TensorRT library exports no createInferBuilder_INTERNAL "
                          "(a lean or dispatch runtime); load the full libnvinfer");
    }
    auto fn = reinterpret_cast<CreateFn>(create_fn);
    std::uint64_t mark = logger.error_count();
    void* p = fn(logger.as_trt_logger(), kHeaderVersion);
    if (!p)
    {
        throw_logged(logger, mark, "createInferBuilder", "TensorRT returned no builder");
    }
    if (logger.error_count() != mark)
    {
        throw_logged(logger, mark, "createInferBuilder", "an error was logged during creation");
    }
    return std::make_unique<ShimBuilder>(static_cast<nvinfer1::IBuilder*>(p), logger);
}

std::int32_t ShimBuilder::num_dla_cores() const
{
    return builder->getNbDLACores();
}

std::unique_ptr<ShimNetwork> ShimBuilder::create_network(bool strongly_typed) const
{
    std::uint32_t flags = 0;
#if !TRTSHIM_AT_LEAST(10, 0)
    flags |= 1U << static_cast<std::uint32_t>(nvinfer1::NetworkDefinitionCreationFlag::kEXPLICIT_BATCH);
    if (strongly_typed)
    {
        throw_unsupported("strongly typed networks (NetworkDefinitionCreationFlag::kSTRONGLY_TYPED needs TensorRT "
                          ">= 10.0; this shim was compiled against " + std::to_string(NV_TENSORRT_MAJOR) + "."
            + std::to_string(NV_TENSORRT_MINOR) + ")");
    }
#elif TRTSHIM_API_MAJOR == 10
    if (strongly_typed)
    {
        flags |= 1U << static_cast<std::uint32_t>(nvinfer1::NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);
    }
#else
    (void) strongly_typed; // 11.x: every network is strongly typed; the flag is deprecated and ignored.
#endif
    std::uint64_t mark = logger->error_count();
    nvinfer1::INetworkDefinition* n = builder->createNetworkV2(flags);
    if (!n)
    {
        throw_logged(*logger, mark, "IBuilder::createNetworkV2", "TensorRT returned no network");
    }
    return std::make_unique<ShimNetwork>(n, *logger);
}

std::unique_ptr<ShimConfig> ShimBuilder::create_config() const
{
    std::uint64_t mark = logger->error_count();
    nvinfer1::IBuilderConfig* c = builder->createBuilderConfig();
    if (!c)
    {
        throw_logged(*logger, mark, "IBuilder::createBuilderConfig", "TensorRT returned no config");
    }
    return std::make_unique<ShimConfig>(c, *logger);
}

std::unique_ptr<ShimProfile> ShimBuilder::create_profile() const
{
    std::uint64_t mark = logger->error_count();
    nvinfer1::IOptimizationProfile* p = builder->createOptimizationProfile();
    if (!p)
    {
        throw_logged(*logger, mark, "IBuilder::createOptimizationProfile", "TensorRT returned no profile");
    }
    return std::make_unique<ShimProfile>(p, *logger);
}

std::unique_ptr<ShimHostMemory> ShimBuilder::build_serialized(ShimNetwork const& network, ShimConfig const& config) const
{
    std::uint64_t mark = logger->error_count();
    nvinfer1::IHostMemory* m = builder->buildSerializedNetwork(*network.network, *config.config);
    if (!m)
    {
        throw_logged(*logger, mark, "IBuilder::buildSerializedNetwork",
            "TensorRT returned no engine (was the build cancelled by the progress monitor?)");
    }
    return std::make_unique<ShimHostMemory>(m);
}

// ------------------------------------------------------------------------------------------------ network
ShimNetwork::ShimNetwork(nvinfer1::INetworkDefinition* n, ShimLogger const& l)
    : network(n)
    , logger(&l)
{
}

std::int32_t ShimNetwork::num_layers() const
{
    return network->getNbLayers();
}

namespace
{
// The plugin type of a plugin layer ("" for any other layer). IPluginV2Layer is deprecated in 11.x but still how
// networks parsed from ONNX carry V2 plugins (EfficientNMS_TRT, custom YOLO layers).
std::string plugin_name_of(nvinfer1::ILayer* l)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    if (l->getType() == nvinfer1::LayerType::kPLUGIN_V2)
    {
        return str_or_empty(static_cast<nvinfer1::IPluginV2Layer*>(l)->getPlugin().getPluginType());
    }
#pragma GCC diagnostic pop
#if TRTSHIM_AT_LEAST(10, 0)
    if (l->getType() == nvinfer1::LayerType::kPLUGIN_V3)
    {
        auto* core = static_cast<nvinfer1::IPluginV3OneCore*>(
            static_cast<nvinfer1::IPluginV3Layer*>(l)->getPlugin().getCapabilityInterface(
                nvinfer1::PluginCapabilityType::kCORE));
        return core ? str_or_empty(core->getPluginName()) : std::string();
    }
#endif
    return std::string();
}
} // namespace

LayerDesc ShimNetwork::layer(std::int32_t index) const
{
    nvinfer1::ILayer* l = layer_or_throw(*network, index);
    LayerDesc d{};
    d.index = index;
    d.name = rust::String::lossy(str_or_empty(l->getName()));
    d.kind = rust::String(layer_kind(l->getType()));
    d.plugin = rust::String::lossy(plugin_name_of(l));
#if TRTSHIM_HAS_LAYER_PRECISION
    d.precision = from_trt(l->getPrecision());
    d.precision_is_set = l->precisionIsSet();
#else
    // 11.x: strongly typed only; a layer has no separate compute precision. Report its first output's type.
    d.precision = l->getNbOutputs() > 0 && l->getOutput(0) ? from_trt(l->getOutput(0)->getType()) : DataType::Unknown;
    d.precision_is_set = false;
#endif
    for (std::int32_t i = 0; i < l->getNbOutputs(); ++i)
    {
        nvinfer1::ITensor const* t = l->getOutput(i);
        d.output_names.push_back(rust::String::lossy(t ? str_or_empty(t->getName()) : std::string()));
        d.output_types.push_back(t ? from_trt(t->getType()) : DataType::Unknown);
    }
    return d;
}

void ShimNetwork::set_layer_precision(std::int32_t index, DataType data_type) const
{
#if TRTSHIM_HAS_LAYER_PRECISION
    nvinfer1::ILayer* l = layer_or_throw(*network, index);
    nvinfer1::DataType t = to_trt_or_throw(data_type);
    std::uint64_t mark = logger->error_count();
    l->setPrecision(t);
    if (logger->error_count() != mark)
    {
        throw_logged(*logger, mark, "ILayer::setPrecision", "rejected");
    }
#else
    (void) index;
    (void) data_type;
    throw_unsupported("per-layer precision (ILayer::setPrecision was removed in TensorRT 11; networks are strongly "
                      "typed: insert casts in the ONNX instead)");
#endif
}

void ShimNetwork::set_layer_output_type(std::int32_t index, std::int32_t output, DataType data_type) const
{
#if TRTSHIM_HAS_LAYER_PRECISION
    nvinfer1::ILayer* l = layer_or_throw(*network, index);
    if (output < 0 || output >= l->getNbOutputs())
    {
        throw_invalid("layer " + std::to_string(index) + " has " + std::to_string(l->getNbOutputs())
            + " outputs; output " + std::to_string(output) + " does not exist");
    }
    nvinfer1::DataType t = to_trt_or_throw(data_type);
    std::uint64_t mark = logger->error_count();
    l->setOutputType(output, t);
    if (logger->error_count() != mark)
    {
        throw_logged(*logger, mark, "ILayer::setOutputType", "rejected");
    }
#else
    (void) index;
    (void) output;
    (void) data_type;
    throw_unsupported("per-layer output types (ILayer::setOutputType was removed in TensorRT 11; networks are "
                      "strongly typed: insert casts in the ONNX instead)");
#endif
}

rust::Vec<NetworkTensorDesc> ShimNetwork::inputs() const
{
    rust::Vec<NetworkTensorDesc> out;
    for (std::int32_t i = 0; i < network->getNbInputs(); ++i)
    {
        if (nvinfer1::ITensor const* t = network->getInput(i))
        {
            out.push_back(tensor_desc(t));
        }
    }
    return out;
}

rust::Vec<NetworkTensorDesc> ShimNetwork::outputs() const
{
    rust::Vec<NetworkTensorDesc> out;
    for (std::int32_t i = 0; i < network->getNbOutputs(); ++i)
    {
        if (nvinfer1::ITensor const* t = network->getOutput(i))
        {
            out.push_back(tensor_desc(t));
        }
    }
    return out;
}

nvinfer1::ITensor* ShimNetwork::find_tensor(std::string const& name) const
{
    for (std::int32_t i = 0; i < network->getNbInputs(); ++i)
    {
        nvinfer1::ITensor* t = network->getInput(i);
        if (t && str_or_empty(t->getName()) == name)
        {
            return t;
        }
    }
    for (std::int32_t i = 0; i < network->getNbLayers(); ++i)
    {
        nvinfer1::ILayer* l = network->getLayer(i);
        for (std::int32_t j = 0; l && j < l->getNbOutputs(); ++j)
        {
            nvinfer1::ITensor* t = l->getOutput(j);
            if (t && str_or_empty(t->getName()) == name)
            {
                return t;
            }
        }
    }
    return nullptr;
}

void ShimNetwork::mark_output(rust::Str tensor) const
{
    std::string name(tensor);
    nvinfer1::ITensor* t = find_tensor(name);
    if (!t)
    {
        throw_invalid("no tensor named '" + name + "' in the network (check the ONNX output/value names)");
    }
    std::uint64_t mark = logger->error_count();
    network->markOutput(*t);
    if (logger->error_count() != mark)
    {
        throw_logged(*logger, mark, "INetworkDefinition::markOutput", "rejected");
    }
}

namespace
{
// The network input or output named `name` (non-owning), else throws naming the IO tensors there are.
nvinfer1::ITensor* io_tensor_or_throw(nvinfer1::INetworkDefinition& net, std::string const& name)
{
    std::string inputs;
    std::string outputs;
    for (std::int32_t i = 0; i < net.getNbInputs(); ++i)
    {
        nvinfer1::ITensor* t = net.getInput(i);
        if (t && str_or_empty(t->getName()) == name)
        {
            return t;
        }
        inputs += (inputs.empty() ? "" : ", ") + (t ? str_or_empty(t->getName()) : std::string());
    }
    for (std::int32_t i = 0; i < net.getNbOutputs(); ++i)
    {
        nvinfer1::ITensor* t = net.getOutput(i);
        if (t && str_or_empty(t->getName()) == name)
        {
            return t;
        }
        outputs += (outputs.empty() ? "" : ", ") + (t ? str_or_empty(t->getName()) : std::string());
    }
    throw_invalid("no network input or output named '" + name + "' (inputs: " + inputs + "; outputs: " + outputs
        + ")");
}

// ITensor::setType exists up to 10.x (deprecated in 10.12+); strongly typed releases dropped it. Detected on the
// declaration so that TensorRT-RTX 1.3/1.4 (a 10.x API) are judged by their own headers.
template <class T, class = void>
struct has_set_type : std::false_type
{
};
template <class T>
struct has_set_type<T, std::void_t<decltype(std::declval<T&>().setType(nvinfer1::DataType{}))>> : std::true_type
{
};

template <class T>
void set_type_or_throw(T& t, nvinfer1::DataType want, ShimLogger const& logger, std::string const& name)
{
    if constexpr (has_set_type<T>::value)
    {
        std::uint64_t mark = logger.error_count();
        t.setType(want);
        if (logger.error_count() != mark)
        {
            throw_logged(logger, mark, "ITensor::setType", ("rejected for '" + name + "'").c_str());
        }
        if (t.getType() != want)
        {
            throw_invalid("ITensor::setType: '" + name + "' kept its type (TensorRT ignored the request)");
        }
    }
    else
    {
        (void) t;
        (void) want;
        (void) logger;
        throw_unsupported("changing the type of network IO tensor '" + name
            + "' (ITensor::setType does not exist in this release: networks are strongly typed and the ONNX declares "
              "IO types; cast in the ONNX instead)");
    }
}

// The shim's formats in declaration order (Unknown, the last, excluded).
constexpr std::uint8_t kShimFormats = static_cast<std::uint8_t>(TensorFormat::Unknown);
constexpr std::uint8_t kShimTacticSources = static_cast<std::uint8_t>(TacticSource::Unknown);
} // namespace

void ShimNetwork::set_io_type(rust::Str tensor, DataType data_type) const
{
    std::string name(tensor);
    nvinfer1::ITensor* t = io_tensor_or_throw(*network, name);
    nvinfer1::DataType want = to_trt_or_throw(data_type);
    if (t->getType() == want)
    {
        return;
    }
    set_type_or_throw(*t, want, *logger, name);
}

void ShimNetwork::set_io_formats(rust::Str tensor, rust::Slice<TensorFormat const> formats) const
{
    std::string name(tensor);
    nvinfer1::ITensor* t = io_tensor_or_throw(*network, name);
    if (formats.empty())
    {
        throw_invalid("no tensor format given for '" + name + "'");
    }
    nvinfer1::TensorFormats mask = 0;
    for (TensorFormat f : formats)
    {
        nvinfer1::TensorFormat tf{};
        if (!to_trt(f, tf))
        {
            throw_unsupported("tensor format " + std::to_string(static_cast<int>(f)) + " in TensorRT "
                + std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR));
        }
        mask |= 1U << static_cast<std::uint32_t>(tf);
    }
    std::uint64_t mark = logger->error_count();
    t->setAllowedFormats(mask);
    if (logger->error_count() != mark)
    {
        throw_logged(*logger, mark, "ITensor::setAllowedFormats", ("rejected for '" + name + "'").c_str());
    }
}

rust::Vec<TensorFormat> ShimNetwork::io_formats(rust::Str tensor) const
{
    nvinfer1::ITensor* t = io_tensor_or_throw(*network, std::string(tensor));
    nvinfer1::TensorFormats mask = t->getAllowedFormats();
    rust::Vec<TensorFormat> out;
    for (std::uint8_t i = 0; i < kShimFormats; ++i)
    {
        nvinfer1::TensorFormat tf{};
        if (to_trt(static_cast<TensorFormat>(i), tf) && (mask & (1U << static_cast<std::uint32_t>(tf))) != 0)
        {
            out.push_back(static_cast<TensorFormat>(i));
        }
    }
    return out;
}

void ShimNetwork::unmark_output(rust::Str tensor) const
{
    std::string name(tensor);
    nvinfer1::ITensor* t = find_tensor(name);
    if (!t)
    {
        throw_invalid("no tensor named '" + name + "' in the network");
    }
    std::uint64_t mark = logger->error_count();
    network->unmarkOutput(*t);
    if (logger->error_count() != mark)
    {
        throw_logged(*logger, mark, "INetworkDefinition::unmarkOutput", "rejected");
    }
}

// ------------------------------------------------------------------------------------------------ config
ShimConfig::ShimConfig(nvinfer1::IBuilderConfig* c, ShimLogger const& l)
    : logger(&l)
    , config(c)
{
}

ShimConfig::~ShimConfig()
{
    config.reset(); // first the config, then what it referenced (member order does the same; explicit for readers)
}

namespace
{
template <class Out, class In>
Out map_or_unsupported(In v, char const* what)
{
    Out out{};
    if (!to_trt(v, out))
    {
        throw_unsupported(std::string(what) + " value " + std::to_string(static_cast<int>(v)) + " in TensorRT "
            + std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR));
    }
    return out;
}
} // namespace

void ShimConfig::set_memory_pool_limit(MemoryPool pool, std::uint64_t bytes) const
{
    auto p = map_or_unsupported<nvinfer1::MemoryPoolType>(pool, "memory pool");
    std::uint64_t mark = logger->error_count();
    config->setMemoryPoolLimit(p, static_cast<std::size_t>(bytes));
    if (logger->error_count() != mark)
    {
        throw_logged(*logger, mark, "IBuilderConfig::setMemoryPoolLimit", "rejected");
    }
}

std::uint64_t ShimConfig::memory_pool_limit(MemoryPool pool) const
{
    auto p = map_or_unsupported<nvinfer1::MemoryPoolType>(pool, "memory pool");
    return static_cast<std::uint64_t>(config->getMemoryPoolLimit(p));
}

void ShimConfig::set_flag(BuilderFlag flag, bool on) const
{
    auto f = map_or_unsupported<nvinfer1::BuilderFlag>(flag, "builder flag");
    if (on)
    {
        config->setFlag(f);
    }
    else
    {
        config->clearFlag(f);
    }
}

bool ShimConfig::flag(BuilderFlag flag) const
{
    auto f = map_or_unsupported<nvinfer1::BuilderFlag>(flag, "builder flag");
    return config->getFlag(f);
}

void ShimConfig::set_dla_core(std::int32_t core) const
{
    if (core < 0)
    {
        throw_invalid("DLA core must be >= 0, got " + std::to_string(core));
    }
    config->setDLACore(core);
}

void ShimConfig::set_default_device_type(DeviceType device) const
{
    config->setDefaultDeviceType(map_or_unsupported<nvinfer1::DeviceType>(device, "device type"));
}

void ShimConfig::set_profiling_verbosity(ProfilingVerbosity verbosity) const
{
    config->setProfilingVerbosity(map_or_unsupported<nvinfer1::ProfilingVerbosity>(verbosity, "profiling verbosity"));
}

void ShimConfig::set_builder_optimization_level(std::int32_t level) const
{
#if TRTSHIM_AT_LEAST(8, 6)
    if (level < 0 || level > 5)
    {
        throw_invalid("builder optimization level must be 0..5, got " + std::to_string(level));
    }
    config->setBuilderOptimizationLevel(level);
#else
    (void) level;
    throw_unsupported("builder optimization level (TensorRT >= 8.6)");
#endif
}

void ShimConfig::set_hardware_compatibility(HardwareCompatibility level) const
{
#if TRTSHIM_HAS_COMPATIBILITY
    config->setHardwareCompatibilityLevel(
        map_or_unsupported<nvinfer1::HardwareCompatibilityLevel>(level, "hardware compatibility level"));
#else
    (void) level;
    throw_unsupported("hardware compatibility (TensorRT >= 8.6)");
#endif
}

std::int32_t ShimConfig::add_profile(ShimProfile const& profile) const
{
    std::uint64_t mark = logger->error_count();
    std::int32_t idx = config->addOptimizationProfile(profile.profile);
    if (idx < 0)
    {
        throw_logged(*logger, mark, "IBuilderConfig::addOptimizationProfile",
            "the profile is invalid (every dynamic input needs min/opt/max with min <= opt <= max)");
    }
    return idx;
}

std::unique_ptr<ShimTimingCache> ShimConfig::create_timing_cache(rust::Slice<std::uint8_t const> blob) const
{
    std::uint64_t mark = logger->error_count();
    nvinfer1::ITimingCache* c = config->createTimingCache(blob.empty() ? nullptr : blob.data(), blob.size());
    if (!c)
    {
        throw_logged(*logger, mark, "IBuilderConfig::createTimingCache",
            "the timing cache blob is corrupt or from another TensorRT version; delete it to start a new one");
    }
    return std::make_unique<ShimTimingCache>(c, *logger);
}

void ShimConfig::set_timing_cache(std::unique_ptr<ShimTimingCache> cache, bool ignore_mismatch) const
{
    if (!cache)
    {
        throw_invalid("null timing cache");
    }
    std::uint64_t mark = logger->error_count();
    if (!config->setTimingCache(*cache->cache, ignore_mismatch))
    {
        throw_logged(*logger, mark, "IBuilderConfig::setTimingCache",
            "the timing cache does not match this device/TensorRT version");
    }
    auto* self = const_cast<ShimConfig*>(this);
    self->timing_cache = std::move(cache->cache);
}

std::unique_ptr<ShimHostMemory> ShimConfig::serialize_timing_cache() const
{
    nvinfer1::ITimingCache const* c = config->getTimingCache();
    if (!c)
    {
        throw_invalid("no timing cache is attached to this builder config");
    }
    std::uint64_t mark = logger->error_count();
    nvinfer1::IHostMemory* m = c->serialize();
    if (!m)
    {
        throw_logged(*logger, mark, "ITimingCache::serialize", "TensorRT returned nothing");
    }
    return std::make_unique<ShimHostMemory>(m);
}

void ShimConfig::set_progress_monitor(rust::Box<ProgressSink> sink) const
{
#if TRTSHIM_AT_LEAST(10, 0)
    auto monitor = std::make_shared<ShimProgressMonitor>(std::move(sink));
    config->setProgressMonitor(monitor.get());
    const_cast<ShimConfig*>(this)->progress_monitor = monitor;
#else
    (void) sink;
    throw_unsupported("build progress monitor (IProgressMonitor needs TensorRT >= 10.0)");
#endif
}

void ShimConfig::set_int8_calibrator(rust::Box<CalibratorSink> sink, CalibrationAlgorithm algo) const
{
#if TRTSHIM_HAS_CALIBRATOR
    std::shared_ptr<nvinfer1::IInt8Calibrator> cal;
    if (algo == CalibrationAlgorithm::MinMax)
    {
        cal = std::make_shared<ShimCalibrator<nvinfer1::IInt8MinMaxCalibrator>>(std::move(sink));
    }
    else
    {
        cal = std::make_shared<ShimCalibrator<nvinfer1::IInt8EntropyCalibrator2>>(std::move(sink));
    }
    config->setInt8Calibrator(cal.get());
    const_cast<ShimConfig*>(this)->calibrator = cal;
#else
    (void) sink;
    (void) algo;
    throw_unsupported("INT8 calibrators (removed in TensorRT 11; quantize with Q/DQ nodes in the ONNX instead)");
#endif
}

void ShimConfig::set_compute_capabilities(rust::Slice<std::int32_t const> targets) const
{
#if TRTSHIM_RTX
    std::vector<nvinfer1::ComputeCapability> ccs;
    for (std::int32_t v : targets)
    {
        nvinfer1::ComputeCapability cc{};
        if (!compute_capability_to_trt(v, cc))
        {
            throw_invalid("compute capability " + std::to_string(v / 10) + "." + std::to_string(v % 10)
                + " is not a target of TensorRT-RTX " + std::to_string(NV_TENSORRT_MAJOR) + "."
                + std::to_string(NV_TENSORRT_MINOR) + " (targets: " + supported_compute_capabilities() + ")");
        }
        if (cc == nvinfer1::ComputeCapability::kCURRENT && targets.size() != 1)
        {
            throw_invalid("compute capability `current` (the GPU present) cannot be combined with other targets");
        }
        ccs.push_back(cc);
    }
    std::uint64_t mark = logger->error_count();
    if (!config->setNbComputeCapabilities(static_cast<std::int32_t>(ccs.size())))
    {
        throw_logged(*logger, mark, "IBuilderConfig::setNbComputeCapabilities", "rejected");
    }
    for (std::size_t i = 0; i < ccs.size(); ++i)
    {
        if (!config->setComputeCapability(ccs[i], static_cast<std::int32_t>(i)))
        {
            throw_logged(*logger, mark, "IBuilderConfig::setComputeCapability", "rejected");
        }
    }
#else
    (void) targets;
    throw_unsupported("compute-capability targets (IBuilderConfig::setComputeCapability exists only in TensorRT for "
                      "RTX; TensorRT builds for the GPU it runs on, or use hardware compatibility)");
#endif
}

rust::Vec<std::int32_t> ShimConfig::compute_capabilities() const
{
    rust::Vec<std::int32_t> out;
#if TRTSHIM_RTX
    for (std::int32_t i = 0; i < config->getNbComputeCapabilities(); ++i)
    {
        out.push_back(static_cast<std::int32_t>(config->getComputeCapability(i)));
    }
#endif
    return out;
}

void ShimConfig::set_tactic_sources(rust::Slice<TacticSource const> sources) const
{
    nvinfer1::TacticSources mask = 0;
    for (TacticSource s : sources)
    {
        mask |= 1U << static_cast<std::uint32_t>(map_or_unsupported<nvinfer1::TacticSource>(s, "tactic source"));
    }
    std::uint64_t mark = logger->error_count();
    if (!config->setTacticSources(mask))
    {
        throw_logged(*logger, mark, "IBuilderConfig::setTacticSources", "rejected");
    }
}

rust::Vec<TacticSource> ShimConfig::tactic_sources() const
{
    nvinfer1::TacticSources mask = config->getTacticSources();
    rust::Vec<TacticSource> out;
    for (std::uint8_t i = 0; i < kShimTacticSources; ++i)
    {
        nvinfer1::TacticSource ts{};
        if (to_trt(static_cast<TacticSource>(i), ts) && (mask & (1U << static_cast<std::uint32_t>(ts))) != 0)
        {
            out.push_back(static_cast<TacticSource>(i));
        }
    }
    return out;
}

// ------------------------------------------------------------------------------------------------ profile
ShimProfile::ShimProfile(nvinfer1::IOptimizationProfile* p, ShimLogger const& l)
    : profile(p)
    , logger(&l)
{
}

void ShimProfile::set_dimensions(rust::Str input, ProfileSelector which, rust::Slice<std::int64_t const> dims) const
{
    std::string name(input);
    auto sel = map_or_unsupported<nvinfer1::OptProfileSelector>(which, "profile selector");
    nvinfer1::Dims d = to_dims(dims);
    std::uint64_t mark = logger->error_count();
    if (!profile->setDimensions(name.c_str(), sel, d))
    {
        throw_logged(*logger, mark, "IOptimizationProfile::setDimensions",
            ("invalid dimensions for input '" + name + "' (min <= opt <= max, same rank, no -1)").c_str());
    }
}

rust::Vec<std::int64_t> ShimProfile::dimensions(rust::Str input, ProfileSelector which) const
{
    std::string name(input);
    auto sel = map_or_unsupported<nvinfer1::OptProfileSelector>(which, "profile selector");
    nvinfer1::Dims d = profile->getDimensions(name.c_str(), sel);
    if (d.nbDims < 0)
    {
        throw_invalid("no dimensions set for input '" + name + "' in this profile");
    }
    return from_dims(d);
}

// ------------------------------------------------------------------------------------------------ caches, memory
ShimTimingCache::ShimTimingCache(nvinfer1::ITimingCache* c, ShimLogger const& l)
    : cache(c)
    , logger(&l)
{
}

std::unique_ptr<ShimHostMemory> ShimTimingCache::serialize() const
{
    std::uint64_t mark = logger->error_count();
    nvinfer1::IHostMemory* m = cache->serialize();
    if (!m)
    {
        throw_logged(*logger, mark, "ITimingCache::serialize", "TensorRT returned nothing");
    }
    return std::make_unique<ShimHostMemory>(m);
}
} // namespace trtshim
