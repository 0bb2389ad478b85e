#include "trt-sys/cpp/host_memory.h"

namespace trtshim
{
ShimHostMemory::ShimHostMemory(nvinfer1::IHostMemory* m)
    : memory(m)
{
}

rust::Slice<std::uint8_t const> ShimHostMemory::bytes() const
{
    if (!memory->data() || memory->size() == 0)
    {
        return {};
    }
    return {static_cast<std::uint8_t const*>(memory->data()), memory->size()};
}
} // namespace trtshim
