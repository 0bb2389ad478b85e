// The ILogger implementation handed to every TensorRT factory. Messages at or above the threshold go to a Rust
// callback (which catches its own panics); errors are always kept (the last few) so that a failing call can carry
// them in its exception, and counted so that "an error was logged while this object was created" is detectable.
#pragma once

#include "trt-sys/cpp/common.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

namespace trtshim
{
struct LogSink;

class ShimLogger final : public nvinfer1::ILogger
{
public:
    ShimLogger(rust::Box<LogSink> sink, ::trtshim::Severity threshold);
    ~ShimLogger() override;
    ShimLogger(ShimLogger const&) = delete;
    ShimLogger& operator=(ShimLogger const&) = delete;

    // Called by TensorRT from any thread (noexcept per ILogger); serialised by a mutex.
    void log(nvinfer1::ILogger::Severity severity, nvinfer1::AsciiChar const* msg) noexcept override;

    void set_threshold(::trtshim::Severity threshold) const;
    rust::Vec<rust::String> last_errors() const;
    std::uint64_t error_count() const;
    void log_for_test(::trtshim::Severity severity, rust::Str message) const;

    // Errors logged after `mark` (a previous error_count()), joined with "; ", or "" when none.
    std::string errors_since(std::uint64_t mark) const;
    // The ILogger pointer TensorRT factories take (TensorRT never deletes it: the caller owns the logger and must keep
    // it alive as long as any object created with it, which the Rust side guarantees with an Arc).
    void* as_trt_logger() const;

private:
    static constexpr std::size_t kKeep = 16;
    rust::Box<LogSink> sink_;
    mutable std::atomic<int> threshold_;
    mutable std::mutex mu_;
    mutable std::deque<std::pair<std::uint64_t, std::string>> errors_;
    mutable std::uint64_t count_ = 0;
};

std::unique_ptr<ShimLogger> new_logger(rust::Box<LogSink> sink, Severity threshold);

// Throws std::runtime_error("<call> failed: <errors logged since mark, or `fallback`>").
[[noreturn]] void throw_logged(ShimLogger const& logger, std::uint64_t mark, char const* call, char const* fallback);
} // namespace trtshim
