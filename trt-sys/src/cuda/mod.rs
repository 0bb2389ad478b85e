//! The CUDA runtime: raw bindgen bindings ([`sys`]) loaded at run time, and a thin result layer where every
//! call returns [`Result`] (most stay `unsafe`: they take raw pointers and handles).
//!
//! # Layout
//! - [`CudaRuntime`] is one opened libcudart: its path, the raw function table, error names and
//!   [`CudaRuntime::check`], plus what describes that particular library: its versions (the loader compares
//!   candidates with them) and [`CudaRuntime::check_device_usable`]. The process-wide one is
//!   [`crate::loader::cudart`].
//! - The result layer, grouped by area like cudarc's `result` module, calls the process-wide runtime:
//!   [`device`] (`count`, `set`, `synchronize`, …), [`memory`] (`alloc`, `free`, `copy_async`, `host_alloc`, …),
//!   [`stream`] (`create`, `synchronize`, `wait_event`, capture, …), [`event`] (`create`, `record`,
//!   `elapsed_time`, …) and [`graph`] (`instantiate`, `launch`, …). Each function states its safety contract
//!   once.
//! - [`check_device_usable`] runs the device check on the process-wide runtime.
//!
//! # One set of bindings for libcudart 11.4+, 12.x and 13.x
//! [`sys`] is generated from the CUDA 13 headers, but nothing links libcudart: the symbols are resolved from
//! whichever `libcudart.so.{13,12,11.0}` the loader finds. That is sound because every function bound keeps
//! its exported name and C signature across those releases, with these exceptions handled here:
//!
//! - `cudaGetDeviceProperties`: `struct cudaDeviceProp` changed layout in 12.0 (12.x exports the new one as
//!   `cudaGetDeviceProperties_v2`) and again in 13.0. We prefer `_v2` when exported, pass an 8 KiB buffer (far
//!   larger than any release's struct) and read only `name` and `totalGlobalMem`, whose offsets (0 and 288)
//!   have been the same since CUDA 10. Everything else (compute capability, SM count, …) comes from
//!   `cudaDeviceGetAttribute`, whose attribute numbers are stable.
//! - `cudaGraphInstantiate` changed signature in 12.0 (5 arguments before, `flags` after). We bind
//!   `cudaGraphInstantiateWithFlags` instead (same signature since 11.4) and fall back to the 11.x five-argument
//!   form, resolved by hand, only on a pre-12 runtime that lacks it (11.0–11.3).
//! - `cudaMallocAsync`/`cudaFreeAsync` exist from 11.2 on; on older runtimes they report
//!   [`Error::SymbolMissing`].
//!
//! The attribute, error and flag values used are ABI constants that NVIDIA never renumbers.

use std::ffi::{c_int, c_void, CStr};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::loader::LoadedLibrary;

/// Raw bindgen output (see `scripts/gen-cuda-bindings.sh`). C enums are newtypes with associated consts.
#[cfg(not(feature = "regenerate-cuda-bindings"))]
#[rustfmt::skip]
#[allow(warnings, unsafe_op_in_unsafe_fn, missing_docs, clippy::all, clippy::pedantic, clippy::undocumented_unsafe_blocks)]
pub mod sys {
    include!("bindings.rs");
}

/// Raw bindgen output, regenerated at build time (feature `regenerate-cuda-bindings`).
#[cfg(feature = "regenerate-cuda-bindings")]
#[allow(
    warnings,
    unsafe_op_in_unsafe_fn,
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::undocumented_unsafe_blocks
)]
pub mod sys {
    include!(concat!(env!("OUT_DIR"), "/cuda_bindings.rs"));
}

pub use sys::{
    cudaDeviceAttr, cudaError_t, cudaEvent_t, cudaGraphExec_t, cudaGraph_t, cudaMemcpyKind,
    cudaStreamCaptureMode, cudaStream_t, CUDART_VERSION,
};

/// Calls a bound function of a [`CudaRuntime`], mapping a missing symbol to [`Error::SymbolMissing`] and a
/// non-success code to [`Error::Cuda`]. The arguments must be plain values (they are evaluated inside the
/// `unsafe` block). Defined before the area modules so that they can use it.
macro_rules! cuda_call {
    ($rt:expr, $name:ident ( $($arg:expr),* $(,)? )) => {{
        let rt: &$crate::cuda::CudaRuntime = $rt;
        let f = rt.api.$name.as_ref().map_err(|_| rt.missing(stringify!($name)))?;
        // SAFETY: the enclosing function's `# Safety` contract (a safe one passes only values and pointers to
        // its locals) meets the CUDA runtime's contract for this call; the pointer comes from the library `rt`
        // keeps loaded and has the header's signature.
        let code = unsafe { f($($arg),*) };
        rt.check(stringify!($name), code)
    }};
}

pub mod device;
pub mod event;
pub mod graph;
pub mod memory;
pub mod stream;

/// Legacy (CUDA 11.x) `cudaGraphInstantiate(cudaGraphExec_t*, cudaGraph_t, cudaGraphNode_t* errNode, char* log, size_t logSize)`.
type GraphInstantiateLegacyFn = unsafe extern "C" fn(
    *mut cudaGraphExec_t,
    cudaGraph_t,
    *mut *mut c_void,
    *mut std::ffi::c_char,
    usize,
) -> cudaError_t;

/// `cudaGetDeviceProperties[_v2](cudaDeviceProp*, int)`; the struct is written into an oversized buffer.
type GetDevicePropertiesFn = unsafe extern "C" fn(*mut sys::cudaDeviceProp, c_int) -> cudaError_t;

/// Offsets read from `cudaDeviceProp`; checked at compile time against the generated layout so a
/// regeneration that moved them fails to build.
const PROP_NAME_OFFSET: usize = 0;
const PROP_TOTAL_MEM_OFFSET: usize = 288;
const _: () = assert!(std::mem::offset_of!(sys::cudaDeviceProp, name) == PROP_NAME_OFFSET);
const _: () =
    assert!(std::mem::offset_of!(sys::cudaDeviceProp, totalGlobalMem) == PROP_TOTAL_MEM_OFFSET);
/// Size of the buffer handed to `cudaGetDeviceProperties` (any release's struct is about 1 KiB).
const PROP_BUFFER_BYTES: usize = 8192;
const _: () = assert!(std::mem::size_of::<sys::cudaDeviceProp>() <= PROP_BUFFER_BYTES);

/// An opened libcudart: the bindgen function table plus the few symbols resolved by hand. The CUDA calls
/// themselves are the area modules' functions ([`device`], [`memory`], [`stream`], [`event`], [`graph`]), which
/// run on the process-wide runtime.
pub struct CudaRuntime {
    path: PathBuf,
    api: sys::CudaRuntimeApi,
    get_device_properties: Option<(&'static str, GetDevicePropertiesFn)>,
    graph_instantiate_legacy: Option<GraphInstantiateLegacyFn>,
}

impl std::fmt::Debug for CudaRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaRuntime")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Symbols without which the runtime is useless (and which every release since 10.0 exports).
const REQUIRED: [&str; 5] = [
    "cudaGetErrorName",
    "cudaGetErrorString",
    "cudaRuntimeGetVersion",
    "cudaDriverGetVersion",
    "cudaGetDeviceCount",
];

impl CudaRuntime {
    /// Builds the function table from an opened libcudart.
    pub fn from_library(lib: LoadedLibrary) -> Result<Self> {
        for name in REQUIRED {
            lib.symbol_addr(name)?;
        }
        // SAFETY: same C signature in every release for the name resolved (see the module docs); the
        // pointer stays valid because the library moves into `api` below and lives as long as `self`.
        let get_device_properties = unsafe {
            lib.optional_function::<GetDevicePropertiesFn>("cudaGetDeviceProperties_v2")
                .map(|f| ("cudaGetDeviceProperties_v2", f))
                .or_else(|| {
                    lib.optional_function::<GetDevicePropertiesFn>("cudaGetDeviceProperties")
                        .map(|f| ("cudaGetDeviceProperties", f))
                })
        };
        let graph_instantiate_legacy = if lib.has_symbol("cudaGraphInstantiateWithFlags") {
            None
        } else {
            // Only an 11.0-11.3 runtime lacks cudaGraphInstantiateWithFlags; there cudaGraphInstantiate has the
            // five-argument 11.x signature.
            // SAFETY: signature of cudaGraphInstantiate in CUDA 11.x cuda_runtime_api.h.
            unsafe { lib.optional_function::<GraphInstantiateLegacyFn>("cudaGraphInstantiate") }
        };
        let (path, library) = lib.into_parts();
        // SAFETY: `from_library` only looks symbols up (dynamic_link_require_all(false): missing ones are kept
        // as errors); it runs no library code.
        let api = unsafe { sys::CudaRuntimeApi::from_library(library) }.map_err(|e| {
            Error::LibraryOpen {
                path: path.clone(),
                message: e.to_string(),
            }
        })?;
        Ok(Self {
            path,
            api,
            get_device_properties,
            graph_instantiate_legacy,
        })
    }

    /// The libcudart file in use.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw function table (fields are `Result<fn, _>`: a symbol this runtime lacks is an `Err`).
    pub fn api(&self) -> &sys::CudaRuntimeApi {
        &self.api
    }

    fn missing(&self, symbol: &str) -> Error {
        Error::SymbolMissing {
            library: self.path.clone(),
            symbol: symbol.to_owned(),
        }
    }

    /// `cudaGetErrorName`, or `"cudaError <code>"` when the runtime cannot say.
    pub fn error_name(&self, code: cudaError_t) -> String {
        self.error_text(code, self.api.cudaGetErrorName.as_ref().ok())
    }

    /// `cudaGetErrorString`, or `"unknown CUDA error <code>"` when the runtime cannot say.
    pub fn error_string(&self, code: cudaError_t) -> String {
        self.error_text(code, self.api.cudaGetErrorString.as_ref().ok())
    }

    fn error_text(
        &self,
        code: cudaError_t,
        f: Option<&unsafe extern "C" fn(cudaError_t) -> *const std::ffi::c_char>,
    ) -> String {
        let text = f.and_then(|f| {
            // SAFETY: cudaGetErrorName/String accept any value and return a static NUL-terminated string (or
            // NULL / "unrecognized error code" for unknown values).
            let p = unsafe { f(code) };
            // SAFETY: non-null pointers from these functions point to static C strings.
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        });
        text.unwrap_or_else(|| format!("cudaError {}", code.0))
    }

    /// Maps a return code to `Ok(())` or [`Error::Cuda`] with the runtime's name and description.
    pub fn check(&self, call: &'static str, code: cudaError_t) -> Result<()> {
        if code == cudaError_t::cudaSuccess {
            return Ok(());
        }
        Err(Error::Cuda {
            call,
            code: i32::try_from(code.0).unwrap_or(i32::MAX),
            name: self.error_name(code),
            message: self.error_string(code),
        })
    }

    // ----- versions and the devices this library sees -------------------------------------------------

    /// `cudaDriverGetVersion`: e.g. 12040 for 12.4; 0 when no driver is installed.
    pub fn driver_version(&self) -> Result<i32> {
        let mut v = 0;
        cuda_call!(self, cudaDriverGetVersion(&mut v))?;
        Ok(v)
    }

    /// `cudaRuntimeGetVersion`: the libcudart version, e.g. 13050.
    pub fn runtime_version(&self) -> Result<i32> {
        let mut v = 0;
        cuda_call!(self, cudaRuntimeGetVersion(&mut v))?;
        Ok(v)
    }

    /// `cudaGetDeviceCount` ([`device::count`] on the process-wide runtime).
    fn device_count(&self) -> Result<i32> {
        let mut n = 0;
        cuda_call!(self, cudaGetDeviceCount(&mut n))?;
        Ok(n)
    }

    /// `cudaDeviceGetAttribute` ([`device::attribute`] on the process-wide runtime).
    fn device_attribute(&self, attr: cudaDeviceAttr, device: i32) -> Result<i32> {
        let mut v = 0;
        cuda_call!(self, cudaDeviceGetAttribute(&mut v, attr, device))?;
        Ok(v)
    }

    /// Name and total memory of a device, read release-independently from `cudaGetDeviceProperties[_v2]`
    /// (see the module docs).
    fn device_name_and_memory(&self, device: i32) -> Result<(String, usize)> {
        #[repr(C, align(16))]
        struct PropBuffer([u8; PROP_BUFFER_BYTES]);
        let (call, f) = self
            .get_device_properties
            .ok_or_else(|| self.missing("cudaGetDeviceProperties"))?;
        let mut buf = Box::new(PropBuffer([0; PROP_BUFFER_BYTES]));
        // SAFETY: the buffer is larger than any release's cudaDeviceProp and 16-byte aligned; the function
        // writes at most one struct into it.
        let code = unsafe { f(buf.0.as_mut_ptr().cast::<sys::cudaDeviceProp>(), device) };
        self.check(call, code)?;
        let name_bytes = &buf.0[PROP_NAME_OFFSET..PROP_NAME_OFFSET + 256];
        let end = name_bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(name_bytes.len());
        let name = String::from_utf8_lossy(&name_bytes[..end]).into_owned();
        let mut mem = [0u8; std::mem::size_of::<usize>()];
        let mem_len = mem.len();
        mem.copy_from_slice(&buf.0[PROP_TOTAL_MEM_OFFSET..PROP_TOTAL_MEM_OFFSET + mem_len]);
        Ok((name, usize::from_ne_bytes(mem)))
    }

    // ----- device check ----------------------------------------------------------------------------------

    /// Checks that a driver and at least one device are usable, and describes them. Call before any TensorRT
    /// factory: without a usable device TensorRT may log an error and return an unusable object.
    ///
    /// A missing driver, `cudaErrorInsufficientDriver`, `cudaErrorNoDevice`, any other failure of
    /// `cudaGetDeviceCount` or of the per-device queries, and zero devices are [`Error::NoCudaDevice`] whose
    /// reason names the CUDA problem.
    pub fn check_device_usable(&self) -> Result<DeviceSummary> {
        let runtime_version = self.runtime_version()?;
        let rt = format!(
            "CUDA runtime {} ({})",
            format_cuda_version(runtime_version),
            self.path.display()
        );
        let no_device = |reason: String| Error::NoCudaDevice { reason };
        let driver_version = match self.driver_version() {
            Ok(0) => {
                return Err(no_device(format!(
                    "no NVIDIA driver is loaded (cudaDriverGetVersion reports 0; {rt}); install the NVIDIA driver \
                     or run the container with GPU access (e.g. --gpus all / the NVIDIA container runtime)"
                )))
            }
            Ok(v) => v,
            Err(e) => return Err(no_device(format!("{e}; {rt}"))),
        };
        let driver = format!(
            "driver supports CUDA {}",
            format_cuda_version(driver_version)
        );
        let count = match self.device_count() {
            Ok(n) => n,
            Err(Error::Cuda {
                code,
                name,
                message,
                ..
            }) => {
                let advice = if code == sys::cudaError::cudaErrorInsufficientDriver.0 as i32 {
                    "the driver is older than the CUDA runtime: update the driver or use a libcudart no newer than \
                     the driver (CUDA_LIB_DIR)"
                } else if code == sys::cudaError::cudaErrorNoDevice.0 as i32 {
                    "no CUDA-capable GPU is visible: check nvidia-smi, CUDA_VISIBLE_DEVICES and the container's GPU access"
                } else {
                    "check nvidia-smi and the driver installation"
                };
                return Err(no_device(format!(
                    "cudaGetDeviceCount failed with {name} ({code}): {message}; {driver}, {rt}; {advice}"
                )));
            }
            Err(e) => return Err(e),
        };
        if count <= 0 {
            return Err(no_device(format!(
                "cudaGetDeviceCount reports {count} devices; {driver}, {rt}"
            )));
        }
        let mut devices = Vec::new();
        for ordinal in 0..count {
            let describe = || -> Result<DeviceInfo> {
                let major = self
                    .device_attribute(cudaDeviceAttr::cudaDevAttrComputeCapabilityMajor, ordinal)?;
                let minor = self
                    .device_attribute(cudaDeviceAttr::cudaDevAttrComputeCapabilityMinor, ordinal)?;
                let multiprocessors =
                    self.device_attribute(cudaDeviceAttr::cudaDevAttrMultiProcessorCount, ordinal)?;
                let integrated =
                    self.device_attribute(cudaDeviceAttr::cudaDevAttrIntegrated, ordinal)? != 0;
                let (name, total_memory) = self.device_name_and_memory(ordinal)?;
                Ok(DeviceInfo {
                    ordinal,
                    name,
                    compute_capability: (major, minor),
                    multiprocessors,
                    integrated,
                    total_memory,
                })
            };
            match describe() {
                Ok(info) => devices.push(info),
                Err(e) => {
                    return Err(no_device(format!(
                        "device {ordinal} cannot be queried: {e}; {driver}, {rt}"
                    )))
                }
            }
        }
        Ok(DeviceSummary {
            driver_version,
            runtime_version,
            runtime_path: self.path.clone(),
            devices,
        })
    }
}

/// What [`check_device_usable`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSummary {
    /// `cudaDriverGetVersion` (e.g. 12040).
    pub driver_version: i32,
    /// `cudaRuntimeGetVersion` (e.g. 13050).
    pub runtime_version: i32,
    /// The libcudart in use.
    pub runtime_path: PathBuf,
    /// Every visible device.
    pub devices: Vec<DeviceInfo>,
}

/// One CUDA device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Device ordinal.
    pub ordinal: i32,
    /// Marketing name, e.g. "Tesla T4".
    pub name: String,
    /// `(major, minor)`, e.g. `(7, 5)`.
    pub compute_capability: (i32, i32),
    /// Streaming multiprocessors.
    pub multiprocessors: i32,
    /// Integrated GPU sharing memory with the host (Jetson).
    pub integrated: bool,
    /// Total device memory in bytes.
    pub total_memory: usize,
}

/// Formats a CUDA version integer (`1000*major + 10*minor`): 12040 is "12.4", 11080 is "11.8", 0 is "none".
pub fn format_cuda_version(v: i32) -> String {
    if v <= 0 {
        return "none".to_owned();
    }
    format!("{}.{}", v / 1000, (v % 1000) / 10)
}

/// [`CudaRuntime::check_device_usable`] on the process-wide runtime ([`crate::loader::cudart`]).
pub fn check_device_usable() -> Result<DeviceSummary> {
    crate::loader::cudart()?.check_device_usable()
}

/// Maps `cudaErrorNotReady` to `Ok(false)` and success to `Ok(true)` (`cudaStreamQuery`, `cudaEventQuery`).
fn ready_or_not(r: Result<()>) -> Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(Error::Cuda { code, .. }) if code == sys::cudaError::cudaErrorNotReady.0 as i32 => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests;
