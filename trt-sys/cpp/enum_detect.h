// Enumerator detection for the shim's enum tables. TensorRT releases add and remove enumerators (kFP4, kE8M0,
// kTACTIC_SHARED_MEMORY, BuilderFlag::kFP16 is gone in 11.x, ...). Instead of guessing the exact release of each
// change, the tables ask the compiled headers whether `E::kNAME` exists (SFINAE on a dependent name), so one table
// serves every release from 8.5 to 11.x. Methods (not enumerators) are gated on NV_TENSORRT_MAJOR/MINOR instead.
#pragma once

#include <type_traits>

// For enumerator name N: get_N(E& out) sets out = E::N and returns true when the release has it; is_N(E v) tests v.
#define TRTSHIM_OPTIONAL_ENUMERATOR(N)                                                                                 \
    template <class E, class = void>                                                                                   \
    struct has_##N : std::false_type                                                                                   \
    {                                                                                                                  \
    };                                                                                                                 \
    template <class E>                                                                                                 \
    struct has_##N<E, std::void_t<decltype(E::N)>> : std::true_type                                                    \
    {                                                                                                                  \
    };                                                                                                                 \
    template <class E>                                                                                                 \
    inline bool get_##N(E& out)                                                                                        \
    {                                                                                                                  \
        if constexpr (has_##N<E>::value)                                                                               \
        {                                                                                                              \
            out = E::N;                                                                                                \
            return true;                                                                                               \
        }                                                                                                              \
        else                                                                                                           \
        {                                                                                                              \
            (void) out;                                                                                                \
            return false;                                                                                              \
        }                                                                                                              \
    }                                                                                                                  \
    template <class E>                                                                                                 \
    inline bool is_##N(E v)                                                                                            \
    {                                                                                                                  \
        if constexpr (has_##N<E>::value)                                                                               \
        {                                                                                                              \
            return v == E::N;                                                                                          \
        }                                                                                                              \
        else                                                                                                           \
        {                                                                                                              \
            (void) v;                                                                                                  \
            return false;                                                                                              \
        }                                                                                                              \
    }

// Table helpers: X(ShimName, kTRT_NAME) rows.
#define TRTSHIM_TO_ROW(S_, N)                                                                                          \
    case S::S_: return get_##N(out);
#define TRTSHIM_FROM_ROW(S_, N)                                                                                        \
    if (is_##N(v))                                                                                                     \
        return S::S_;
