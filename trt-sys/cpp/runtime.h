// Runtime area: IRuntime (deserialize), ICudaEngine (IO tensors, profiles, device memory, serialize),
// IEngineInspector (layer information as JSON), IExecutionContext (shapes, addresses, events, enqueueV3, the
// per-layer IProfiler) and plugin-library initialisation.
//
// Thread safety (TensorRT developer guide, "Thread Safety"): IRuntime and ICudaEngine may be used from several
// threads at once (deserialize; create contexts); an IExecutionContext must be used by one thread at a time.
#pragma once

#include "trt-sys/cpp/builder.h"

#include <string>
#include <unordered_map>
#include <vector>

namespace trtshim
{
struct TensorDesc;
struct EngineValidityDesc;
struct LayerTimesDesc;
class ShimEngine;
class ShimContext;

class ShimRuntime
{
public:
    ShimRuntime(nvinfer1::IRuntime* runtime, ShimLogger const& logger);
    // Caller-owned IRuntime (delete); every engine it created must be deleted first.
    std::unique_ptr<nvinfer1::IRuntime> runtime;
    ShimLogger const* logger;

    // IRuntime::deserializeCudaEngine(blob, size): caller owns the engine (delete, before the runtime); null when
    // the blob is corrupt, from another TensorRT version/GPU, or needs an absent plugin (errors logged) -> throws.
    std::unique_ptr<ShimEngine> deserialize(rust::Slice<std::uint8_t const> blob) const;
    // IRuntime::getEngineHeaderSize + getEngineValidity(blob, size, &diagnostics) (TensorRT-RTX; others throw
    // "unsupported"): judges an engine from its header alone, without a GPU. A blob shorter than the header is
    // reported as malformed (kMALFORMED_ENGINE) without calling TensorRT, which requires at least the header.
    EngineValidityDesc engine_validity(rust::Slice<std::uint8_t const> blob) const;
};

// createInferRuntime_INTERNAL(logger, NV_TENSORRT_VERSION) through the loader's address: caller owns the runtime
// (delete); null on failure; the logger must outlive it. An error logged during creation fails the call even when
// a pointer came back (TensorRT without a usable CUDA device logs and may still return an object); that pointer is
// leaked on purpose.
std::unique_ptr<ShimRuntime> new_runtime(ShimLogger const& logger, std::size_t create_fn);

// initLibNvInferPlugins(logger, namespace) through the loader's address: registers the standard plugins in the
// plugin registry of the library that exports it; false on failure -> throws. Nothing to delete.
void init_plugins(ShimLogger const& logger, std::size_t init_fn, rust::Str namespace_);

// getPluginRegistry()->loadLibrary(path) through the loader's address of getPluginRegistry (TensorRT >= 8.6; older
// headers throw "unsupported"): the registry owns the library handle for the rest of the process; a null handle
// (file refused, entry points missing; TensorRT logs why) -> throws. Nothing to delete.
void plugin_registry_load_library(ShimLogger const& logger, std::size_t registry_fn, rust::Str path);

class ShimEngine
{
public:
    ShimEngine(nvinfer1::ICudaEngine* engine, ShimLogger const& logger);
    std::unique_ptr<nvinfer1::ICudaEngine> engine;
    ShimLogger const* logger;

    // ICudaEngine::getNbIOTensors. Never fails.
    std::int32_t num_io_tensors() const;
    // getIOTensorName(i) (null when out of range -> throws) + getTensorIOMode/DataType/Shape/Format/FormatDesc.
    // Shapes carry -1 for dynamic dimensions.
    TensorDesc io_tensor(std::int32_t index) const;
    // ICudaEngine::getNbOptimizationProfiles. Never fails.
    std::int32_t num_profiles() const;
    // ICudaEngine::getProfileShape(name, profile, selector): nbDims == -1 for a bad name/index or a non-input -> throws.
    rust::Vec<std::int64_t> profile_shape(rust::Str tensor, std::int32_t profile, ProfileSelector which) const;
    // getDeviceMemorySize (8.x) / getDeviceMemorySizeV2 (>= 10; the only one in 11.x). Never fails.
    std::int64_t device_memory_size() const;
    // ICudaEngine::getNbLayers. Never fails.
    std::int32_t num_layers() const;
    // createEngineInspector (caller-owned, deleted here) + getEngineInformation(kJSON): the string is owned by the
    // inspector and copied before it is deleted; null -> throws. Details need kDETAILED profiling verbosity at build.
    rust::String layer_info_json() const;
    // ICudaEngine::serialize: caller owns the IHostMemory; null -> throws.
    std::unique_ptr<ShimHostMemory> serialize() const;
    // ICudaEngine::createExecutionContext: caller owns the context (delete, before the engine); null when device
    // memory cannot be allocated -> throws. With a runtime cache enabled, contexts are created through the engine's
    // IRuntimeConfig so that they share the cache.
    std::unique_ptr<ShimContext> create_context() const;
    // TensorRT-RTX JIT runtime cache: createRuntimeConfig + createRuntimeCache, deserialize(blob) when the blob is not
    // empty, setRuntimeCache. Returns whether the blob was accepted (false: TensorRT rejected it as from another
    // GPU, driver or release, and the cache starts empty). Call before creating contexts; others throw
    // "unsupported".
    bool enable_runtime_cache(rust::Slice<std::uint8_t const> blob) const;
    // IRuntimeCache::serialize: caller owns the IHostMemory; throws when no cache is enabled.
    std::unique_ptr<ShimHostMemory> serialize_runtime_cache() const;

    // Kept alive for the engine's contexts (declared after `engine`: destroyed first).
    std::shared_ptr<void> runtime_cache;
    std::shared_ptr<void> runtime_config;
};

// IProfiler that keeps every time TensorRT reports, per layer, in the order layers were first reported (execution
// order). reportLayerTime runs on the thread that calls IExecutionContext::reportToProfiler (or enqueueV3 when the
// enqueue emits the profile), never concurrently for one context. A failed allocation drops the time and is counted.
class ShimProfiler : public nvinfer1::IProfiler
{
public:
    void reportLayerTime(char const* layerName, float ms) noexcept override;

    std::vector<std::string> names;
    std::vector<std::vector<float>> times;
    std::unordered_map<std::string, std::size_t> index;
    std::uint64_t reports{0};
    std::uint64_t dropped{0};
};

class ShimContext
{
public:
    ShimContext(nvinfer1::IExecutionContext* context, ShimLogger const& logger);
    // Declared before `context`: destroyed after it (the context holds a pointer to it once profiling is on).
    std::unique_ptr<ShimProfiler> profiler;
    std::unique_ptr<nvinfer1::IExecutionContext> context;
    ShimLogger const* logger;

    // IExecutionContext::setInputShape: false when the name is not an input or the shape is outside the profile.
    void set_input_shape(rust::Str tensor, rust::Slice<std::int64_t const> dims) const;
    // IExecutionContext::getTensorShape: nbDims == -1 for an unknown name -> throws; outputs may carry -1 until
    // every input shape is set.
    rust::Vec<std::int64_t> tensor_shape(rust::Str tensor) const;
    // IExecutionContext::allInputDimensionsSpecified. Never fails.
    bool all_input_dimensions_specified() const;
    // IExecutionContext::setOptimizationProfileAsync(index, stream): false on a bad index -> throws.
    void set_optimization_profile_async(std::int32_t profile, std::size_t stream) const;
    // IExecutionContext::setTensorAddress(name, ptr): false for an unknown name or misaligned pointer -> throws.
    // The memory must stay valid until enqueued work completes (the caller's responsibility: unsafe on the Rust side).
    void set_tensor_address(rust::Str tensor, std::size_t address) const;
    // IExecutionContext::setInputConsumedEvent(cudaEvent_t): false on failure -> throws; 0 clears it.
    void set_input_consumed_event(std::size_t event) const;
    // IExecutionContext::enqueueV3(cudaStream_t): false when the work could not be enqueued (shapes/addresses
    // missing, CUDA error) -> throws. Asynchronous: completion is known only after the stream synchronises.
    void enqueue_v3(std::size_t stream) const;
    // IExecutionContext::setProfiler(this context's ShimProfiler) + setEnqueueEmitsProfile(false): every enqueueV3
    // from now on records per-layer timers, and report_to_profiler() turns the last enqueue's timers into layer
    // times. Never fails. (Profiling slows inference: keep it out of timed runs.)
    void enable_profiler() const;
    // IExecutionContext::reportToProfiler: hands the layer times of the previous enqueueV3 to the profiler (call
    // once per enqueue, after its stream is synchronized); false -> throws; without enable_profiler() -> throws.
    void report_to_profiler() const;
    // The collected times: per layer (first-reported order) every reported time in ms, plus how many
    // reportToProfiler calls delivered them and how many times were dropped. Never fails.
    LayerTimesDesc layer_times() const;
    // Forgets the collected times (the profiler stays attached). Never fails.
    void reset_layer_times() const;
};
} // namespace trtshim
