#include "trt-sys/cpp/runtime.h"

#include "trt-sys/src/shim/runtime.rs.h"

#include <cuda_runtime_api.h>

namespace trtshim
{
namespace
{
using CreateFn = void* (*) (void*, std::int32_t);
using InitPluginsFn = bool (*)(void*, char const*);
using RegistryFn = void* (*) ();
constexpr std::int32_t kHeaderVersion = static_cast<std::int32_t>(NV_TENSORRT_VERSION);

std::string name_of(rust::Str s)
{
    return std::string(s);
}
} // namespace

std::unique_ptr<ShimRuntime> new_runtime(ShimLogger const& logger, std::size_t create_fn)
{
    if (create_fn == 0)
    {
        throw_invalid("createInferRuntime_INTERNAL address is null");
    }
    auto fn = reinterpret_cast<CreateFn>(create_fn);
    std::uint64_t mark = logger.error_count();
    void* p = fn(logger.as_trt_logger(), kHeaderVersion);
    if (!p)
    {
        throw_logged(logger, mark, "createInferRuntime", "TensorRT returned no runtime");
    }
    if (logger.error_count() != mark)
    {
        throw_logged(logger, mark, "createInferRuntime", "an error was logged during creation");
    }
    return std::make_unique<ShimRuntime>(static_cast<nvinfer1::IRuntime*>(p), logger);
}

void init_plugins(ShimLogger const& logger, std::size_t init_fn, rust::Str namespace_)
{
    if (init_fn == 0)
    {
        throw_invalid("initLibNvInferPlugins address is null");
    }
    auto fn = reinterpret_cast<InitPluginsFn>(init_fn);
    std::string ns(namespace_);
    std::uint64_t mark = logger.error_count();
    if (!fn(logger.as_trt_logger(), ns.c_str()))
    {
        throw_logged(logger, mark, "initLibNvInferPlugins", "plugin registration failed");
    }
}

void plugin_registry_load_library(ShimLogger const& logger, std::size_t registry_fn, rust::Str path)
{
#if TRTSHIM_AT_LEAST(8, 6)
    if (registry_fn == 0)
    {
        throw_invalid("getPluginRegistry address is null");
    }
    auto fn = reinterpret_cast<RegistryFn>(registry_fn);
    auto* registry = static_cast<nvinfer1::IPluginRegistry*>(fn());
    if (!registry)
    {
        throw_invalid("getPluginRegistry returned no registry");
    }
    std::string file(path);
    std::uint64_t mark = logger.error_count();
    if (!registry->loadLibrary(file.c_str()))
    {
        throw_logged(logger, mark, "IPluginRegistry::loadLibrary", "the registry refused the library");
    }
#else
    (void) logger;
    (void) registry_fn;
    (void) path;
    throw_unsupported("IPluginRegistry::loadLibrary (plugin libraries exporting getPluginCreators need TensorRT 8.6+)");
#endif
}

ShimRuntime::ShimRuntime(nvinfer1::IRuntime* r, ShimLogger const& l)
    : runtime(r)
    , logger(&l)
{
}

std::unique_ptr<ShimEngine> ShimRuntime::deserialize(rust::Slice<std::uint8_t const> blob) const
{
    if (blob.empty())
    {
        throw_invalid("empty engine blob");
    }
    std::uint64_t mark = logger->error_count();
    nvinfer1::ICudaEngine* e = runtime->deserializeCudaEngine(blob.data(), blob.size());
    if (!e)
    {
        throw_logged(*logger, mark, "IRuntime::deserializeCudaEngine",
            "the engine is corrupt, was built by another TensorRT version or for another GPU, or needs a plugin "
            "that is not loaded");
    }
    return std::make_unique<ShimEngine>(e, *logger);
}

EngineValidityDesc ShimRuntime::engine_validity(rust::Slice<std::uint8_t const> blob) const
{
#if TRTSHIM_RTX
    EngineValidityDesc d{};
    d.header_size = runtime->getEngineHeaderSize();
    if (d.header_size <= 0 || static_cast<std::int64_t>(blob.size()) < d.header_size)
    {
        d.validity = 2;
        d.diagnostics = static_cast<std::uint64_t>(nvinfer1::EngineInvalidityDiagnostics::kMALFORMED_ENGINE);
        d.checked = false;
        return d;
    }
    std::uint64_t diagnostics = 0;
    std::uint64_t mark = logger->error_count();
    nvinfer1::EngineValidity v
        = runtime->getEngineValidity(blob.data(), static_cast<std::int64_t>(blob.size()), &diagnostics);
    d.validity = static_cast<std::int32_t>(v);
    d.diagnostics = diagnostics;
    d.checked = true;
    // Without a usable GPU TensorRT-RTX logs why (cudaError 35 reading the GPU's properties) and reports "invalid"
    // with no diagnostic bit: the header was read, the system could not be judged.
    if (logger->error_count() != mark)
    {
        d.logged = rust::String::lossy(logger->errors_since(mark));
    }
    return d;
#else
    (void) blob;
    throw_unsupported("IRuntime::getEngineValidity (TensorRT for RTX only)");
#endif
}

// ------------------------------------------------------------------------------------------------ engine
ShimEngine::ShimEngine(nvinfer1::ICudaEngine* e, ShimLogger const& l)
    : engine(e)
    , logger(&l)
{
}

std::int32_t ShimEngine::num_io_tensors() const
{
    return engine->getNbIOTensors();
}

TensorDesc ShimEngine::io_tensor(std::int32_t index) const
{
    char const* name = (index >= 0 && index < engine->getNbIOTensors()) ? engine->getIOTensorName(index) : nullptr;
    if (!name)
    {
        throw_invalid("IO tensor index " + std::to_string(index) + " out of range (engine has "
            + std::to_string(engine->getNbIOTensors()) + ")");
    }
    TensorDesc d{};
    d.name = rust::String::lossy(name);
    d.mode = from_trt(engine->getTensorIOMode(name));
    d.data_type = from_trt(engine->getTensorDataType(name));
    d.shape = from_dims(engine->getTensorShape(name));
    d.format = from_trt(engine->getTensorFormat(name));
    d.format_desc = rust::String::lossy(str_or_empty(engine->getTensorFormatDesc(name)));
    return d;
}

std::int32_t ShimEngine::num_profiles() const
{
    return engine->getNbOptimizationProfiles();
}

rust::Vec<std::int64_t> ShimEngine::profile_shape(rust::Str tensor, std::int32_t profile, ProfileSelector which) const
{
    std::string name = name_of(tensor);
    nvinfer1::OptProfileSelector sel{};
    if (!to_trt(which, sel))
    {
        throw_unsupported("profile selector");
    }
    nvinfer1::Dims d = engine->getProfileShape(name.c_str(), profile, sel);
    if (d.nbDims < 0)
    {
        throw_invalid("no profile shape for '" + name + "' in profile " + std::to_string(profile)
            + " (unknown tensor, not an input, or profile index out of range)");
    }
    return from_dims(d);
}

std::int64_t ShimEngine::device_memory_size() const
{
#if TRTSHIM_AT_LEAST(10, 0)
    return engine->getDeviceMemorySizeV2();
#else
    return static_cast<std::int64_t>(engine->getDeviceMemorySize());
#endif
}

std::int32_t ShimEngine::num_layers() const
{
    return engine->getNbLayers();
}

rust::String ShimEngine::layer_info_json() const
{
    std::uint64_t mark = logger->error_count();
    std::unique_ptr<nvinfer1::IEngineInspector> inspector(engine->createEngineInspector());
    if (!inspector)
    {
        throw_logged(*logger, mark, "ICudaEngine::createEngineInspector", "TensorRT returned no inspector");
    }
    char const* info = inspector->getEngineInformation(nvinfer1::LayerInformationFormat::kJSON);
    if (!info)
    {
        throw_logged(*logger, mark, "IEngineInspector::getEngineInformation", "TensorRT returned no information");
    }
    return rust::String::lossy(info);
}

std::unique_ptr<ShimHostMemory> ShimEngine::serialize() const
{
    std::uint64_t mark = logger->error_count();
    nvinfer1::IHostMemory* m = engine->serialize();
    if (!m)
    {
        throw_logged(*logger, mark, "ICudaEngine::serialize", "TensorRT returned nothing");
    }
    return std::make_unique<ShimHostMemory>(m);
}

bool ShimEngine::enable_runtime_cache(rust::Slice<std::uint8_t const> blob) const
{
#if TRTSHIM_RTX
    std::uint64_t mark = logger->error_count();
    std::shared_ptr<nvinfer1::IRuntimeConfig> config(engine->createRuntimeConfig());
    if (!config)
    {
        throw_logged(*logger, mark, "ICudaEngine::createRuntimeConfig", "TensorRT returned no runtime config");
    }
    std::shared_ptr<nvinfer1::IRuntimeCache> cache(config->createRuntimeCache());
    if (!cache)
    {
        throw_logged(*logger, mark, "IRuntimeConfig::createRuntimeCache", "TensorRT returned no runtime cache");
    }
    bool accepted = blob.empty() || cache->deserialize(blob.data(), blob.size());
    if (!accepted)
    {
        cache->reset();
    }
    if (!config->setRuntimeCache(*cache))
    {
        throw_logged(*logger, mark, "IRuntimeConfig::setRuntimeCache", "rejected");
    }
    auto* self = const_cast<ShimEngine*>(this);
    self->runtime_cache = cache;
    self->runtime_config = config;
    return accepted;
#else
    (void) blob;
    throw_unsupported("the JIT runtime cache (IRuntimeCache exists only in TensorRT for RTX)");
#endif
}

std::unique_ptr<ShimHostMemory> ShimEngine::serialize_runtime_cache() const
{
#if TRTSHIM_RTX
    if (!runtime_cache)
    {
        throw_invalid("no runtime cache is enabled on this engine");
    }
    std::uint64_t mark = logger->error_count();
    nvinfer1::IHostMemory* m = static_cast<nvinfer1::IRuntimeCache*>(runtime_cache.get())->serialize();
    if (!m)
    {
        throw_logged(*logger, mark, "IRuntimeCache::serialize", "TensorRT returned nothing");
    }
    return std::make_unique<ShimHostMemory>(m);
#else
    throw_unsupported("the JIT runtime cache (IRuntimeCache exists only in TensorRT for RTX)");
#endif
}

std::unique_ptr<ShimContext> ShimEngine::create_context() const
{
    std::uint64_t mark = logger->error_count();
#if TRTSHIM_RTX
    nvinfer1::IExecutionContext* c = runtime_config
        ? engine->createExecutionContext(static_cast<nvinfer1::IRuntimeConfig*>(runtime_config.get()))
        : engine->createExecutionContext();
#else
    nvinfer1::IExecutionContext* c = engine->createExecutionContext();
#endif
    if (!c)
    {
        throw_logged(*logger, mark, "ICudaEngine::createExecutionContext",
            "TensorRT returned no context (out of device memory?)");
    }
    return std::make_unique<ShimContext>(c, *logger);
}

// ------------------------------------------------------------------------------------------------ context
ShimContext::ShimContext(nvinfer1::IExecutionContext* c, ShimLogger const& l)
    : profiler(std::make_unique<ShimProfiler>())
    , context(c)
    , logger(&l)
{
}

void ShimContext::set_input_shape(rust::Str tensor, rust::Slice<std::int64_t const> dims) const
{
    std::string name = name_of(tensor);
    nvinfer1::Dims d = to_dims(dims);
    std::uint64_t mark = logger->error_count();
    if (!context->setInputShape(name.c_str(), d))
    {
        throw_logged(*logger, mark, "IExecutionContext::setInputShape",
            ("'" + name + "' is not an input or the shape is outside the optimization profile").c_str());
    }
}

rust::Vec<std::int64_t> ShimContext::tensor_shape(rust::Str tensor) const
{
    std::string name = name_of(tensor);
    nvinfer1::Dims d = context->getTensorShape(name.c_str());
    if (d.nbDims < 0)
    {
        throw_invalid("no IO tensor named '" + name + "' in this engine");
    }
    return from_dims(d);
}

bool ShimContext::all_input_dimensions_specified() const
{
    return context->allInputDimensionsSpecified();
}

void ShimContext::set_optimization_profile_async(std::int32_t profile, std::size_t stream) const
{
    std::uint64_t mark = logger->error_count();
    if (!context->setOptimizationProfileAsync(profile, reinterpret_cast<cudaStream_t>(stream)))
    {
        throw_logged(*logger, mark, "IExecutionContext::setOptimizationProfileAsync",
            ("profile " + std::to_string(profile) + " cannot be selected").c_str());
    }
}

void ShimContext::set_tensor_address(rust::Str tensor, std::size_t address) const
{
    std::string name = name_of(tensor);
    std::uint64_t mark = logger->error_count();
    if (!context->setTensorAddress(name.c_str(), reinterpret_cast<void*>(address)))
    {
        throw_logged(*logger, mark, "IExecutionContext::setTensorAddress",
            ("'" + name + "' is not an IO tensor or the address is misaligned").c_str());
    }
}

void ShimContext::set_input_consumed_event(std::size_t event) const
{
    std::uint64_t mark = logger->error_count();
    if (!context->setInputConsumedEvent(reinterpret_cast<cudaEvent_t>(event)))
    {
        throw_logged(*logger, mark, "IExecutionContext::setInputConsumedEvent", "rejected");
    }
}

void ShimContext::enqueue_v3(std::size_t stream) const
{
    std::uint64_t mark = logger->error_count();
    if (!context->enqueueV3(reinterpret_cast<cudaStream_t>(stream)))
    {
        throw_logged(*logger, mark, "IExecutionContext::enqueueV3",
            "enqueue failed (an input shape or tensor address is missing, or a CUDA error occurred)");
    }
}

void ShimProfiler::reportLayerTime(char const* layerName, float ms) noexcept
{
    try
    {
        std::string name = str_or_empty(layerName);
        auto it = index.find(name);
        std::size_t i = 0;
        if (it == index.end())
        {
            i = names.size();
            names.push_back(name);
            times.emplace_back();
            index.emplace(std::move(name), i);
        }
        else
        {
            i = it->second;
        }
        times[i].push_back(ms);
    }
    catch (...)
    {
        ++dropped;
    }
}

void ShimContext::enable_profiler() const
{
    context->setProfiler(profiler.get());
    context->setEnqueueEmitsProfile(false);
}

void ShimContext::report_to_profiler() const
{
    if (context->getProfiler() != profiler.get())
    {
        throw_invalid("IExecutionContext::reportToProfiler: layer profiling is not enabled on this context");
    }
    std::uint64_t mark = logger->error_count();
    if (!context->reportToProfiler())
    {
        throw_logged(*logger, mark, "IExecutionContext::reportToProfiler",
            "the layer times of the last enqueue could not be collected");
    }
    ++profiler->reports;
}

LayerTimesDesc ShimContext::layer_times() const
{
    LayerTimesDesc out;
    out.reports = profiler->reports;
    out.dropped = profiler->dropped;
    for (std::size_t i = 0; i < profiler->names.size(); ++i)
    {
        LayerTimeDesc layer;
        layer.name = rust::String::lossy(profiler->names[i]);
        for (float t : profiler->times[i])
        {
            layer.times_ms.push_back(t);
        }
        out.layers.push_back(std::move(layer));
    }
    return out;
}

void ShimContext::reset_layer_times() const
{
    profiler->names.clear();
    profiler->times.clear();
    profiler->index.clear();
    profiler->reports = 0;
    profiler->dropped = 0;
}
} // namespace trtshim
