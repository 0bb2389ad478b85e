#include "trt-sys/cpp/logger.h"

#include "trt-sys/src/shim/logger.rs.h"

#include <stdexcept>

namespace trtshim
{
ShimLogger::ShimLogger(rust::Box<LogSink> sink, ::trtshim::Severity threshold)
    : sink_(std::move(sink))
    , threshold_(static_cast<int>(threshold))
{
}

ShimLogger::~ShimLogger() = default;

void ShimLogger::log(nvinfer1::ILogger::Severity severity, nvinfer1::AsciiChar const* msg) noexcept
{
    ::trtshim::Severity s = from_trt(severity);
    char const* text = msg ? msg : "";
    bool const is_error = s == ::trtshim::Severity::InternalError || s == ::trtshim::Severity::Error;
    try
    {
        if (is_error)
        {
            std::lock_guard<std::mutex> lock(mu_);
            ++count_;
            auto const tid = std::this_thread::get_id();
            std::uint64_t const thread_seq = ++thread_counts_[tid];
            errors_.push_back(Entry{tid, thread_seq, count_, std::string(text)});
            while (errors_.size() > kKeep)
            {
                errors_.pop_front();
            }
        }
    }
    catch (...)
    {
        // Out of memory while keeping the message: the count is what matters for failure detection.
    }
    // Shim severities are ordered most severe first, like TensorRT's.
    if (static_cast<int>(s) <= threshold_.load(std::memory_order_relaxed))
    {
        auto const* bytes = reinterpret_cast<std::uint8_t const*>(text);
        // log_sink_emit never unwinds: the Rust side wraps the callback in catch_unwind.
        log_sink_emit(*sink_, s, rust::Slice<std::uint8_t const>(bytes, std::char_traits<char>::length(text)));
    }
}

void ShimLogger::set_threshold(::trtshim::Severity threshold) const
{
    threshold_.store(static_cast<int>(threshold), std::memory_order_relaxed);
}

rust::Vec<rust::String> ShimLogger::last_errors() const
{
    std::lock_guard<std::mutex> lock(mu_);
    rust::Vec<rust::String> out;
    for (auto const& e : errors_)
    {
        out.push_back(rust::String::lossy(e.text));
    }
    return out;
}

std::uint64_t ShimLogger::error_count() const
{
    std::lock_guard<std::mutex> lock(mu_);
    auto const tid = std::this_thread::get_id();
    thread_marks_[tid] = count_;
    auto it = thread_counts_.find(tid);
    return it == thread_counts_.end() ? 0 : it->second;
}

std::uint64_t ShimLogger::total_error_count() const
{
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
}

void ShimLogger::log_for_test(::trtshim::Severity severity, rust::Str message) const
{
    nvinfer1::ILogger::Severity s{};
    if (!to_trt(severity, s))
    {
        throw_unsupported("severity");
    }
    std::string text(message);
    const_cast<ShimLogger*>(this)->log(s, text.c_str());
}

std::string ShimLogger::errors_since(std::uint64_t mark) const
{
    std::lock_guard<std::mutex> lock(mu_);
    auto const tid = std::this_thread::get_id();
    std::string out;
    for (auto const& e : errors_)
    {
        if (e.thread == tid && e.thread_seq > mark)
        {
            if (!out.empty())
            {
                out += "; ";
            }
            out += e.text;
        }
    }
    if (out.empty())
    {
        auto m = thread_marks_.find(tid);
        std::uint64_t const since = m == thread_marks_.end() ? 0 : m->second;
        if (!errors_.empty() && errors_.back().seq > since)
        {
            out = errors_.back().text + " (logged by another thread)";
        }
    }
    return out;
}

void* ShimLogger::as_trt_logger() const
{
    return static_cast<nvinfer1::ILogger*>(const_cast<ShimLogger*>(this));
}

std::unique_ptr<ShimLogger> new_logger(rust::Box<LogSink> sink, Severity threshold)
{
    return std::make_unique<ShimLogger>(std::move(sink), threshold);
}

[[noreturn]] void throw_logged(ShimLogger const& logger, std::uint64_t mark, char const* call, char const* fallback)
{
    std::string logged = logger.errors_since(mark);
    throw std::runtime_error(std::string(call) + " failed: " + (logged.empty() ? std::string(fallback) : logged));
}
} // namespace trtshim
