//! Bytes TensorRT produced (`IHostMemory`, `cpp/host_memory.{h,cc}`): serialized engines, timing caches, runtime
//! caches. The builder and runtime bridges take `ShimHostMemory` over from this one.

use std::fmt;

#[cfg(not(trt_shim))]
use super::Never;

#[cfg(trt_shim)]
#[cxx::bridge(namespace = "trtshim")]
pub(crate) mod ffi {
    unsafe extern "C++" {
        include!("trt-sys/cpp/host_memory.h");

        type ShimHostMemory;
        fn bytes(self: &ShimHostMemory) -> &[u8];
    }

    // Builder and runtime return `UniquePtr<ShimHostMemory>` through an alias; cxx instantiates it only in the
    // bridge that declares the type.
    impl UniquePtr<ShimHostMemory> {}
}

/// Bytes TensorRT produced (a serialized engine or timing cache).
pub struct HostMemory {
    #[cfg(trt_shim)]
    pub(super) ptr: cxx::UniquePtr<ffi::ShimHostMemory>,
    #[cfg(not(trt_shim))]
    never: Never,
}

// SAFETY: IHostMemory is an immutable byte buffer once returned; reading it from several threads is fine and
// deleting it needs no particular thread.
#[cfg(trt_shim)]
unsafe impl Send for HostMemory {}
// SAFETY: see Send; only `data()`/`size()` are called through `&self`.
#[cfg(trt_shim)]
unsafe impl Sync for HostMemory {}

impl HostMemory {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.ptr.as_ref().map_or(&[], |m| m.bytes())
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }
}

// Not `handle!`: the length is worth printing, and a null pointer reads as no bytes here.
impl fmt::Debug for HostMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostMemory")
            .field("len", &self.len())
            .finish()
    }
}
