// Access to the C++ containers nvinfer passes (std::vector by reference) for the Rust parser, which sees them as
// opaque pointers. Every function is noexcept towards Rust: a C++ exception never crosses into Rust frames.
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "nvds_layouts.h"

// One output layer, flattened for Rust (see src/ffi.rs).
struct NvdsYoloLayer {
    const char* name;
    int32_t data_type;
    uint32_t num_dims;
    uint32_t dims[NVDS_YOLO_MAX_DIMS];
    const void* buffer;
    int32_t is_input;
};

extern "C" {

size_t nvds_yolo_layer_count(const void* layers) noexcept {
    return static_cast<const std::vector<NvDsInferLayerInfo>*>(layers)->size();
}

int nvds_yolo_layer(const void* layers, size_t i, NvdsYoloLayer* out) noexcept {
    const auto& v = *static_cast<const std::vector<NvDsInferLayerInfo>*>(layers);
    if (i >= v.size() || out == nullptr) {
        return 0;
    }
    const NvDsInferLayerInfo& l = v[i];
    out->name = l.layerName;
    out->data_type = static_cast<int32_t>(l.dataType);
    out->num_dims = l.inferDims.numDims;
    for (unsigned k = 0; k < NVDS_YOLO_MAX_DIMS; ++k) {
        out->dims[k] = l.inferDims.d[k];
    }
    out->buffer = l.buffer;
    out->is_input = l.isInput;
    return 1;
}

unsigned nvds_yolo_classes_configured(const void* params) noexcept {
    return static_cast<const NvDsInferParseDetectionParams*>(params)->numClassesConfigured;
}

size_t nvds_yolo_threshold_count(const void* params) noexcept {
    return static_cast<const NvDsInferParseDetectionParams*>(params)->perClassPreclusterThreshold.size();
}

const float* nvds_yolo_thresholds(const void* params) noexcept {
    return static_cast<const NvDsInferParseDetectionParams*>(params)->perClassPreclusterThreshold.data();
}

int nvds_yolo_push(void* objects, unsigned class_id, float left, float top, float width, float height,
                   float confidence) noexcept {
    try {
        NvDsInferObjectDetectionInfo o;
        o.classId = class_id;
        o.left = left;
        o.top = top;
        o.width = width;
        o.height = height;
        o.detectionConfidence = confidence;
        static_cast<std::vector<NvDsInferObjectDetectionInfo>*>(objects)->push_back(o);
        return 1;
    } catch (...) {
        return 0;
    }
}

}  // extern "C"
