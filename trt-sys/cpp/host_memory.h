// IHostMemory: bytes TensorRT produced (serialized engines, timing caches, runtime caches). Created by the builder
// and runtime areas, read by the Rust side through `bytes()`.
#pragma once

#include "trt-sys/cpp/common.h"

#include <cstdint>
#include <memory>

namespace trtshim
{
class ShimHostMemory
{
public:
    explicit ShimHostMemory(nvinfer1::IHostMemory* memory);
    // Caller-owned IHostMemory (delete); data() stays valid until then.
    std::unique_ptr<nvinfer1::IHostMemory> memory;
    rust::Slice<std::uint8_t const> bytes() const;
};
} // namespace trtshim
