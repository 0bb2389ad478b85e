// The types Gst-nvinfer hands a custom bounding-box parser, declared from DeepStream's public documentation of
// `nvdsinfer.h` and `nvdsinfer_custom_impl.h` (DeepStream 6.x / 7.x), so that this library builds without the
// DeepStream SDK. Field order and types follow the documented structs; only the leading members of
// NvDsInferParseDetectionParams are declared, because only they are read (DeepStream's own struct continues with
// more members, which does not move these).
#ifndef NVDS_YOLO_PARSER_LAYOUTS_H
#define NVDS_YOLO_PARSER_LAYOUTS_H

#include <vector>

#define NVDS_YOLO_MAX_DIMS 8

extern "C" {

// NvDsInferDims: rank, sizes (batch excluded), element count.
typedef struct {
    unsigned int numDims;
    unsigned int d[NVDS_YOLO_MAX_DIMS];
    unsigned int numElements;
} NvDsInferDims;

// NvDsInferDataType: FLOAT, HALF, INT8, INT32, INT64 (INT64 in DeepStream 6.4+).
typedef enum {
    FLOAT = 0,
    HALF = 1,
    INT8 = 2,
    INT32 = 3,
    INT64 = 4
} NvDsInferDataType;

// NvDsInferLayerInfo: `dims` is the deprecated alias of `inferDims` (a union of the same type).
typedef struct {
    NvDsInferDataType dataType;
    union {
        NvDsInferDims inferDims;
        NvDsInferDims dims;
    };
    int bindingIndex;
    const char* layerName;
    void* buffer;
    int isInput;
} NvDsInferLayerInfo;

// NvDsInferNetworkInfo: the network input size.
typedef struct {
    unsigned int width;
    unsigned int height;
    unsigned int channels;
} NvDsInferNetworkInfo;

// NvDsInferObjectDetectionInfo (alias NvDsInferParseObjectInfo): a box in network-input pixels.
typedef struct {
    unsigned int classId;
    float left;
    float top;
    float width;
    float height;
    float detectionConfidence;
} NvDsInferObjectDetectionInfo;

}  // extern "C"

typedef NvDsInferObjectDetectionInfo NvDsInferParseObjectInfo;

// NvDsInferParseDetectionParams (leading members).
typedef struct {
    unsigned int numClassesConfigured;
    std::vector<float> perClassPreclusterThreshold;
    std::vector<float> perClassPostclusterThreshold;
} NvDsInferParseDetectionParams;

#endif
