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
#include <thread>
#include <unordered_map>

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
    // Errors logged so far *by the calling thread*: the mark a shim call takes before calling TensorRT, so that an
    // error another thread logs meanwhile (one Library serves many threads) never fails this call.
    std::uint64_t error_count() const;
    // Errors logged so far by every thread.
    std::uint64_t total_error_count() const;
    void log_for_test(::trtshim::Severity severity, rust::Str message) const;

    // Errors the calling thread logged after `mark` (a previous error_count()), joined with "; "; when it logged
    // none, the last error any thread logged after the call began (TensorRT may log from its own worker threads),
    // marked as such; "" when there is none.
    std::string errors_since(std::uint64_t mark) const;
    // The ILogger pointer TensorRT factories take (TensorRT never deletes it: the caller owns the logger and must keep
    // it alive as long as any object created with it, which the Rust side guarantees with an Arc).
    void* as_trt_logger() const;

private:
    struct Entry
    {
        std::thread::id thread;
        std::uint64_t thread_seq; // the thread's error_count() after this error
        std::uint64_t seq;        // total_error_count() after this error
        std::string text;
    };
    static constexpr std::size_t kKeep = 16;
    rust::Box<LogSink> sink_;
    mutable std::atomic<int> threshold_;
    mutable std::mutex mu_;
    mutable std::deque<Entry> errors_;
    mutable std::uint64_t count_ = 0;
    // Per-thread error counts; one entry per thread that ever logged an error through this logger.
    mutable std::unordered_map<std::thread::id, std::uint64_t> thread_counts_;
    // total_error_count() at each thread's last error_count() call (for errors_since's fallback).
    mutable std::unordered_map<std::thread::id, std::uint64_t> thread_marks_;
};

std::unique_ptr<ShimLogger> new_logger(rust::Box<LogSink> sink, Severity threshold);

// Throws std::runtime_error("<call> failed: <errors logged since mark, or `fallback`>").
[[noreturn]] void throw_logged(ShimLogger const& logger, std::uint64_t mark, char const* call, char const* fallback);
} // namespace trtshim
