//! Tensor element types: the engine's [`DataType`] and the sealed [`Element`] trait for host types.
//!
//! Each IO tensor has its own element type; the safe API is generic over the element per call
//! (`outputs.get::<f16>("scores")`, `Input::new("images", view_of_u8)`), so an engine with an `u8` image input, `f16`
//! boxes and an `i32` count output is used with exactly those Rust types, and a mismatch is a
//! [`DtypeMismatch`](crate::Error::DtypeMismatch) naming the tensor.

use std::fmt;

use half::f16;

/// Element type of a TensorRT tensor (superset of what the host can hold through [`Element`]): the one data type of
/// the workspace, shared with the shim's bridges (`trt_sys::shim::DataType`).
pub use trt_sys::shim::DataType;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
    impl Sealed for i8 {}
    impl Sealed for i32 {}
    impl Sealed for u8 {}
    impl Sealed for bool {}
}

/// A host element type that can live in CUDA buffers and be exchanged with a TensorRT tensor.
///
/// Sealed: implemented for `f32`, [`half::f16`], `i8`, `i32`, `u8` and `bool` only.
///
/// # Safety
/// Implementors are plain-old-data with no padding, `align_of <= 8`, and [`Element::first_invalid`] reports every
/// byte pattern that is not a valid value (only `bool` has any), so bytes written by the GPU can be viewed as `Self`
/// after that check.
pub unsafe trait Element:
    sealed::Sealed + Copy + Send + Sync + Default + fmt::Debug + PartialEq + 'static
{
    /// The TensorRT data type with this host representation.
    const DTYPE: DataType;
    /// `true` when some byte patterns are not valid values and must be checked ([`Element::first_invalid`]).
    const NEEDS_VALIDATION: bool = false;

    /// Index of the first element whose bytes are not a valid value, scanning `bytes` (a multiple of the size).
    fn first_invalid(bytes: &[u8]) -> Option<usize> {
        let _ = bytes;
        None
    }
}

// SAFETY: f32 is POD, every bit pattern valid.
unsafe impl Element for f32 {
    const DTYPE: DataType = DataType::F32;
}
// SAFETY: f16 is a repr(transparent) u16, every bit pattern valid.
unsafe impl Element for f16 {
    const DTYPE: DataType = DataType::F16;
}
// SAFETY: POD, every bit pattern valid.
unsafe impl Element for i8 {
    const DTYPE: DataType = DataType::I8;
}
// SAFETY: POD, every bit pattern valid.
unsafe impl Element for i32 {
    const DTYPE: DataType = DataType::I32;
}
// SAFETY: POD, every bit pattern valid.
unsafe impl Element for u8 {
    const DTYPE: DataType = DataType::U8;
}
// SAFETY: one byte; only 0 and 1 are valid, which `first_invalid` checks.
unsafe impl Element for bool {
    const DTYPE: DataType = DataType::Bool;
    const NEEDS_VALIDATION: bool = true;

    fn first_invalid(bytes: &[u8]) -> Option<usize> {
        bytes.iter().position(|&b| b > 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: Element>() {
        assert_eq!(
            T::DTYPE.size(),
            Some(std::mem::size_of::<T>()),
            "{}",
            T::DTYPE
        );
        assert!(T::DTYPE.host_supported());
        assert!(std::mem::align_of::<T>() <= 8);
    }

    #[test]
    fn host_types_match_sizes() {
        check::<f32>();
        check::<f16>();
        check::<i8>();
        check::<i32>();
        check::<u8>();
        check::<bool>();
        assert!(!DataType::Fp8.host_supported());
        assert_eq!(DataType::I4.size(), None);
    }

    #[test]
    fn bool_validation_finds_bad_byte() {
        assert_eq!(bool::first_invalid(&[0, 1, 1, 0]), None);
        assert_eq!(bool::first_invalid(&[0, 1, 2, 0]), Some(2));
        assert_eq!(f32::first_invalid(&[0xff; 8]), None);
    }

    #[test]
    fn serde_names_match_display() {
        // The names sidecars and reports have always used, and E8M0's own since the one DataType (it was "unknown").
        let names: Vec<&str> = DataType::ALL.iter().map(|d| d.name()).collect();
        assert_eq!(
            names,
            [
                "f32", "f16", "i8", "i32", "bool", "u8", "fp8", "bf16", "i64", "i4", "fp4", "e8m0",
                "unknown"
            ]
        );
        for &dt in DataType::ALL {
            let json = serde_json::to_string(&dt).unwrap();
            assert_eq!(json, format!("\"{}\"", dt.name()));
            let back: DataType = serde_json::from_str(&json).unwrap();
            assert_eq!(back, dt);
        }
    }
}
