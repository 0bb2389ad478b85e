// A stand-in for Gst-nvinfer: loads the parser library, feeds it output layers read from files with the documented
// C++ signature, and prints the boxes it returns.
//
//   harness LIBRARY SPEC
//
// SPEC, one item per line:
//   net W H C
//   classes N
//   thresholds T0 T1 ...
//   layer NAME DTYPE RANK D0 D1 ... FILE     (DTYPE: 0 FLOAT, 1 HALF, 3 INT32, 4 INT64; FILE: raw elements)
// Output: one line per box, `box CLASS LEFT TOP WIDTH HEIGHT CONFIDENCE`. Exit 0 when the parser returns true, 3 when
// it returns false, 2 on a harness error.
#include <dlfcn.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "../cpp/nvds_layouts.h"

typedef bool (*ParseFn)(std::vector<NvDsInferLayerInfo> const& outputLayersInfo,
                        NvDsInferNetworkInfo const& networkInfo,
                        NvDsInferParseDetectionParams const& detectionParams,
                        std::vector<NvDsInferObjectDetectionInfo>& objectList);

static size_t element_size(int dtype) {
    switch (dtype) {
        case 0: return 4;
        case 1: return 2;
        case 3: return 4;
        case 4: return 8;
        default: return 1;
    }
}

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: harness LIBRARY SPEC\n");
        return 2;
    }
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
        std::fprintf(stderr, "harness: dlopen: %s\n", dlerror());
        return 2;
    }
    ParseFn parse = reinterpret_cast<ParseFn>(dlsym(lib, "NvDsInferParseCustomYolo"));
    if (parse == nullptr) {
        std::fprintf(stderr, "harness: NvDsInferParseCustomYolo not exported: %s\n", dlerror());
        return 2;
    }
    std::ifstream spec(argv[2]);
    NvDsInferNetworkInfo net{0, 0, 0};
    NvDsInferParseDetectionParams params;
    params.numClassesConfigured = 0;
    std::vector<NvDsInferLayerInfo> layers;
    std::vector<std::vector<char>> buffers;
    std::vector<std::string> names;
    names.reserve(64);
    buffers.reserve(64);
    std::string line;
    while (std::getline(spec, line)) {
        std::istringstream in(line);
        std::string what;
        in >> what;
        if (what == "net") {
            in >> net.width >> net.height >> net.channels;
        } else if (what == "classes") {
            in >> params.numClassesConfigured;
        } else if (what == "thresholds") {
            float t;
            while (in >> t) {
                params.perClassPreclusterThreshold.push_back(t);
                params.perClassPostclusterThreshold.push_back(t);
            }
        } else if (what == "layer") {
            NvDsInferLayerInfo l{};
            std::string name, file;
            int dtype = 0;
            unsigned rank = 0;
            in >> name >> dtype >> rank;
            if (rank > NVDS_YOLO_MAX_DIMS) {
                std::fprintf(stderr, "harness: rank %u\n", rank);
                return 2;
            }
            unsigned elements = 1;
            for (unsigned k = 0; k < rank; ++k) {
                in >> l.inferDims.d[k];
                elements *= l.inferDims.d[k];
            }
            in >> file;
            l.inferDims.numDims = rank;
            l.inferDims.numElements = elements;
            l.dataType = static_cast<NvDsInferDataType>(dtype);
            std::ifstream raw(file, std::ios::binary);
            std::vector<char> bytes((std::istreambuf_iterator<char>(raw)), std::istreambuf_iterator<char>());
            if (bytes.size() != elements * element_size(dtype)) {
                std::fprintf(stderr, "harness: %s holds %zu bytes, expected %zu\n", file.c_str(), bytes.size(),
                             static_cast<size_t>(elements * element_size(dtype)));
                return 2;
            }
            names.push_back(name);
            buffers.push_back(std::move(bytes));
            l.layerName = names.back().c_str();
            l.buffer = buffers.back().data();
            l.bindingIndex = static_cast<int>(layers.size()) + 1;
            l.isInput = 0;
            layers.push_back(l);
        }
    }
    // The input layer nvinfer lists too; the parser must skip it.
    NvDsInferLayerInfo input{};
    input.dataType = FLOAT;
    input.inferDims.numDims = 3;
    input.inferDims.d[0] = net.channels;
    input.inferDims.d[1] = net.height;
    input.inferDims.d[2] = net.width;
    input.layerName = "images";
    input.isInput = 1;
    layers.insert(layers.begin(), input);
    std::vector<NvDsInferObjectDetectionInfo> objects;
    bool ok = parse(layers, net, params, objects);
    for (const auto& o : objects) {
        std::printf("box %u %.9g %.9g %.9g %.9g %.9g\n", o.classId, o.left, o.top, o.width, o.height,
                    o.detectionConfidence);
    }
    return ok ? 0 : 3;
}
