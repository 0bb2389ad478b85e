//! The CUDA runtime: raw bindgen bindings ([`sys`]) loaded at run time, and a thin result layer where every
//! call returns [`Result`] (most stay `unsafe`: they take raw pointers and handles).
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

/// `cudaHostAlloc` flags.
pub mod host_alloc_flags {
    pub use super::sys::{
        cudaHostAllocDefault as DEFAULT, cudaHostAllocMapped as MAPPED,
        cudaHostAllocPortable as PORTABLE, cudaHostAllocWriteCombined as WRITE_COMBINED,
    };
}
/// `cudaStreamCreateWithFlags` flags.
pub mod stream_flags {
    pub use super::sys::{cudaStreamDefault as DEFAULT, cudaStreamNonBlocking as NON_BLOCKING};
}
/// `cudaEventCreateWithFlags` flags.
pub mod event_flags {
    pub use super::sys::{
        cudaEventBlockingSync as BLOCKING_SYNC, cudaEventDefault as DEFAULT,
        cudaEventDisableTiming as DISABLE_TIMING, cudaEventInterprocess as INTERPROCESS,
    };
}

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

/// An opened libcudart: the bindgen function table plus the few symbols resolved by hand.
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

/// Calls a bound function, mapping a missing symbol to [`Error::SymbolMissing`] and a non-success code to
/// [`Error::Cuda`]. The arguments must be plain values (they are evaluated inside the `unsafe` block).
macro_rules! cuda_call {
    ($rt:expr, $name:ident ( $($arg:expr),* $(,)? )) => {{
        let rt: &CudaRuntime = $rt;
        let f = rt.api.$name.as_ref().map_err(|_| rt.missing(stringify!($name)))?;
        // SAFETY: the caller of the enclosing function upholds the CUDA runtime's contract for this call; the
        // pointer comes from the library `rt` keeps loaded and has the header's signature.
        let code = unsafe { f($($arg),*) };
        rt.check(stringify!($name), code)
    }};
}

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

    // ----- versions and devices ------------------------------------------------------------------------

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

    /// `cudaGetDeviceCount`.
    pub fn device_count(&self) -> Result<i32> {
        let mut n = 0;
        cuda_call!(self, cudaGetDeviceCount(&mut n))?;
        Ok(n)
    }

    /// `cudaDeviceGetAttribute`.
    pub fn device_attribute(&self, attr: cudaDeviceAttr, device: i32) -> Result<i32> {
        let mut v = 0;
        cuda_call!(self, cudaDeviceGetAttribute(&mut v, attr, device))?;
        Ok(v)
    }

    /// Name and total memory of a device, read release-independently from `cudaGetDeviceProperties[_v2]`
    /// (see the module docs).
    pub fn device_name_and_memory(&self, device: i32) -> Result<(String, usize)> {
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

    /// `cudaSetDevice`.
    pub fn set_device(&self, device: i32) -> Result<()> {
        cuda_call!(self, cudaSetDevice(device))
    }

    /// `cudaGetDevice`.
    pub fn get_device(&self) -> Result<i32> {
        let mut d = 0;
        cuda_call!(self, cudaGetDevice(&mut d))?;
        Ok(d)
    }

    /// `cudaMemGetInfo` on the current device: `(free, total)` bytes. Creates the device context.
    pub fn mem_get_info(&self) -> Result<(usize, usize)> {
        let (mut free, mut total) = (0usize, 0usize);
        cuda_call!(self, cudaMemGetInfo(&mut free, &mut total))?;
        Ok((free, total))
    }

    /// `cudaDeviceSynchronize`.
    pub fn device_synchronize(&self) -> Result<()> {
        cuda_call!(self, cudaDeviceSynchronize())
    }

    /// `cudaGetLastError`: returns and clears the last error of this thread.
    pub fn get_last_error(&self) -> Result<()> {
        let f = self
            .api
            .cudaGetLastError
            .as_ref()
            .map_err(|_| self.missing("cudaGetLastError"))?;
        // SAFETY: no arguments, no preconditions.
        let code = unsafe { f() };
        self.check("cudaGetLastError", code)
    }

    /// `cudaDeviceGetStreamPriorityRange`: `(least, greatest)` priority (greatest is numerically lowest).
    pub fn stream_priority_range(&self) -> Result<(i32, i32)> {
        let (mut least, mut greatest) = (0, 0);
        cuda_call!(
            self,
            cudaDeviceGetStreamPriorityRange(&mut least, &mut greatest)
        )?;
        Ok((least, greatest))
    }

    // ----- memory ----------------------------------------------------------------------------------------

    /// `cudaMalloc`.
    ///
    /// # Safety
    /// The returned device pointer must be freed once with [`CudaRuntime::free`].
    pub unsafe fn malloc(&self, bytes: usize) -> Result<*mut c_void> {
        let mut p = std::ptr::null_mut();
        cuda_call!(self, cudaMalloc(&mut p, bytes))?;
        Ok(p)
    }

    /// `cudaFree`.
    ///
    /// # Safety
    /// `ptr` comes from `cudaMalloc`/`cudaMallocAsync`, is freed once, and no pending work uses it.
    pub unsafe fn free(&self, ptr: *mut c_void) -> Result<()> {
        cuda_call!(self, cudaFree(ptr))
    }

    /// `cudaMallocAsync` (CUDA 11.2+): stream-ordered allocation.
    ///
    /// # Safety
    /// The memory may be used only by work ordered after this call on `stream`; free it once.
    pub unsafe fn malloc_async(&self, bytes: usize, stream: cudaStream_t) -> Result<*mut c_void> {
        let mut p = std::ptr::null_mut();
        cuda_call!(self, cudaMallocAsync(&mut p, bytes, stream))?;
        Ok(p)
    }

    /// `cudaFreeAsync` (CUDA 11.2+).
    ///
    /// # Safety
    /// As [`CudaRuntime::free`], ordered on `stream`.
    pub unsafe fn free_async(&self, ptr: *mut c_void, stream: cudaStream_t) -> Result<()> {
        cuda_call!(self, cudaFreeAsync(ptr, stream))
    }

    /// `cudaHostAlloc` (pinned host memory); `flags` from [`host_alloc_flags`].
    ///
    /// # Safety
    /// The returned pointer must be freed once with [`CudaRuntime::free_host`].
    pub unsafe fn host_alloc(&self, bytes: usize, flags: u32) -> Result<*mut c_void> {
        let mut p = std::ptr::null_mut();
        cuda_call!(self, cudaHostAlloc(&mut p, bytes, flags))?;
        Ok(p)
    }

    /// `cudaFreeHost`.
    ///
    /// # Safety
    /// `ptr` comes from `cudaHostAlloc`, is freed once, and no pending work uses it.
    pub unsafe fn free_host(&self, ptr: *mut c_void) -> Result<()> {
        cuda_call!(self, cudaFreeHost(ptr))
    }

    /// `cudaHostGetDevicePointer` for memory allocated with [`host_alloc_flags::MAPPED`].
    ///
    /// # Safety
    /// `host` points into a live mapped pinned allocation.
    pub unsafe fn host_get_device_pointer(&self, host: *mut c_void) -> Result<*mut c_void> {
        let mut p = std::ptr::null_mut();
        cuda_call!(self, cudaHostGetDevicePointer(&mut p, host, 0))?;
        Ok(p)
    }

    /// `cudaMemcpy`.
    ///
    /// # Safety
    /// `dst` and `src` are valid for `bytes` in the memory spaces `kind` names.
    pub unsafe fn memcpy(
        &self,
        dst: *mut c_void,
        src: *const c_void,
        bytes: usize,
        kind: cudaMemcpyKind,
    ) -> Result<()> {
        cuda_call!(self, cudaMemcpy(dst, src, bytes, kind))
    }

    /// `cudaMemcpyAsync`.
    ///
    /// # Safety
    /// As [`CudaRuntime::memcpy`], and both stay valid (host memory pinned for true asynchrony) until the work
    /// on `stream` completes.
    pub unsafe fn memcpy_async(
        &self,
        dst: *mut c_void,
        src: *const c_void,
        bytes: usize,
        kind: cudaMemcpyKind,
        stream: cudaStream_t,
    ) -> Result<()> {
        cuda_call!(self, cudaMemcpyAsync(dst, src, bytes, kind, stream))
    }

    /// `cudaMemset`.
    ///
    /// # Safety
    /// `ptr` is device memory valid for `bytes`.
    pub unsafe fn memset(&self, ptr: *mut c_void, value: u8, bytes: usize) -> Result<()> {
        cuda_call!(self, cudaMemset(ptr, c_int::from(value), bytes))
    }

    /// `cudaMemsetAsync`.
    ///
    /// # Safety
    /// As [`CudaRuntime::memset`], until the work on `stream` completes.
    pub unsafe fn memset_async(
        &self,
        ptr: *mut c_void,
        value: u8,
        bytes: usize,
        stream: cudaStream_t,
    ) -> Result<()> {
        cuda_call!(
            self,
            cudaMemsetAsync(ptr, c_int::from(value), bytes, stream)
        )
    }

    // ----- streams ---------------------------------------------------------------------------------------

    /// `cudaStreamCreateWithFlags`; `flags` from [`stream_flags`].
    pub fn stream_create_with_flags(&self, flags: u32) -> Result<cudaStream_t> {
        let mut s = std::ptr::null_mut();
        cuda_call!(self, cudaStreamCreateWithFlags(&mut s, flags))?;
        Ok(s)
    }

    /// `cudaStreamCreateWithPriority` (see [`CudaRuntime::stream_priority_range`]).
    pub fn stream_create_with_priority(&self, flags: u32, priority: i32) -> Result<cudaStream_t> {
        let mut s = std::ptr::null_mut();
        cuda_call!(self, cudaStreamCreateWithPriority(&mut s, flags, priority))?;
        Ok(s)
    }

    /// `cudaStreamSynchronize`.
    ///
    /// # Safety
    /// `stream` is a live stream (or null for the legacy default stream).
    pub unsafe fn stream_synchronize(&self, stream: cudaStream_t) -> Result<()> {
        cuda_call!(self, cudaStreamSynchronize(stream))
    }

    /// `cudaStreamQuery`: `Ok(true)` when all work is complete, `Ok(false)` while some is pending.
    ///
    /// # Safety
    /// `stream` is a live stream (or null).
    pub unsafe fn stream_query(&self, stream: cudaStream_t) -> Result<bool> {
        self.ready_or_not(cuda_call!(self, cudaStreamQuery(stream)))
    }

    /// `cudaStreamWaitEvent`: work queued later on `stream` waits for `event`.
    ///
    /// # Safety
    /// Both handles are live.
    pub unsafe fn stream_wait_event(&self, stream: cudaStream_t, event: cudaEvent_t) -> Result<()> {
        cuda_call!(self, cudaStreamWaitEvent(stream, event, 0))
    }

    /// `cudaStreamDestroy`.
    ///
    /// # Safety
    /// `stream` is live and destroyed once; pending work still completes.
    pub unsafe fn stream_destroy(&self, stream: cudaStream_t) -> Result<()> {
        cuda_call!(self, cudaStreamDestroy(stream))
    }

    /// `cudaStreamIsCapturing`: whether `stream` is being captured into a graph.
    ///
    /// # Safety
    /// `stream` is live.
    pub unsafe fn stream_is_capturing(&self, stream: cudaStream_t) -> Result<bool> {
        let mut status = sys::cudaStreamCaptureStatus(0);
        cuda_call!(self, cudaStreamIsCapturing(stream, &mut status))?;
        Ok(status != sys::cudaStreamCaptureStatus::cudaStreamCaptureStatusNone)
    }

    // ----- events ----------------------------------------------------------------------------------------

    /// `cudaEventCreateWithFlags`; `flags` from [`event_flags`].
    pub fn event_create_with_flags(&self, flags: u32) -> Result<cudaEvent_t> {
        let mut e = std::ptr::null_mut();
        cuda_call!(self, cudaEventCreateWithFlags(&mut e, flags))?;
        Ok(e)
    }

    /// `cudaEventRecord`.
    ///
    /// # Safety
    /// Both handles are live.
    pub unsafe fn event_record(&self, event: cudaEvent_t, stream: cudaStream_t) -> Result<()> {
        cuda_call!(self, cudaEventRecord(event, stream))
    }

    /// `cudaEventSynchronize`.
    ///
    /// # Safety
    /// `event` is live.
    pub unsafe fn event_synchronize(&self, event: cudaEvent_t) -> Result<()> {
        cuda_call!(self, cudaEventSynchronize(event))
    }

    /// `cudaEventQuery`: `Ok(true)` when the recorded work is complete.
    ///
    /// # Safety
    /// `event` is live.
    pub unsafe fn event_query(&self, event: cudaEvent_t) -> Result<bool> {
        self.ready_or_not(cuda_call!(self, cudaEventQuery(event)))
    }

    /// `cudaEventElapsedTime` in milliseconds between two completed events.
    ///
    /// # Safety
    /// Both events are live, recorded, and were created without `DISABLE_TIMING`.
    pub unsafe fn event_elapsed_time(&self, start: cudaEvent_t, end: cudaEvent_t) -> Result<f32> {
        let mut ms = 0f32;
        cuda_call!(self, cudaEventElapsedTime(&mut ms, start, end))?;
        Ok(ms)
    }

    /// `cudaEventDestroy`.
    ///
    /// # Safety
    /// `event` is live and destroyed once.
    pub unsafe fn event_destroy(&self, event: cudaEvent_t) -> Result<()> {
        cuda_call!(self, cudaEventDestroy(event))
    }

    // ----- capture and graphs ----------------------------------------------------------------------------

    /// `cudaStreamBeginCapture`.
    ///
    /// # Safety
    /// `stream` is a live non-default stream; until [`CudaRuntime::stream_end_capture`] work on it is recorded,
    /// not run.
    pub unsafe fn stream_begin_capture(
        &self,
        stream: cudaStream_t,
        mode: cudaStreamCaptureMode,
    ) -> Result<()> {
        cuda_call!(self, cudaStreamBeginCapture(stream, mode))
    }

    /// `cudaStreamEndCapture`: the captured graph (destroy it with [`CudaRuntime::graph_destroy`]).
    ///
    /// # Safety
    /// `stream` is live and capturing.
    pub unsafe fn stream_end_capture(&self, stream: cudaStream_t) -> Result<cudaGraph_t> {
        let mut g = std::ptr::null_mut();
        cuda_call!(self, cudaStreamEndCapture(stream, &mut g))?;
        Ok(g)
    }

    /// Instantiates a graph (`cudaGraphInstantiateWithFlags(…, 0)`, or the 11.x five-argument
    /// `cudaGraphInstantiate` on 11.0–11.3 runtimes).
    ///
    /// # Safety
    /// `graph` is live.
    pub unsafe fn graph_instantiate(&self, graph: cudaGraph_t) -> Result<cudaGraphExec_t> {
        let mut exec = std::ptr::null_mut();
        if self.api.cudaGraphInstantiateWithFlags.is_err() {
            if let Some(legacy) = self.graph_instantiate_legacy {
                // SAFETY: 11.x signature (see field docs); null error node and empty log buffer are allowed.
                let code = unsafe {
                    legacy(
                        &mut exec,
                        graph,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        0,
                    )
                };
                self.check("cudaGraphInstantiate", code)?;
                return Ok(exec);
            }
        }
        cuda_call!(self, cudaGraphInstantiateWithFlags(&mut exec, graph, 0))?;
        Ok(exec)
    }

    /// `cudaGraphLaunch`.
    ///
    /// # Safety
    /// Both handles are live; the memory the graph touches stays valid until the launch completes.
    pub unsafe fn graph_launch(&self, exec: cudaGraphExec_t, stream: cudaStream_t) -> Result<()> {
        cuda_call!(self, cudaGraphLaunch(exec, stream))
    }

    /// `cudaGraphExecDestroy`.
    ///
    /// # Safety
    /// `exec` is live and destroyed once.
    pub unsafe fn graph_exec_destroy(&self, exec: cudaGraphExec_t) -> Result<()> {
        cuda_call!(self, cudaGraphExecDestroy(exec))
    }

    /// `cudaGraphDestroy`.
    ///
    /// # Safety
    /// `graph` is live and destroyed once.
    pub unsafe fn graph_destroy(&self, graph: cudaGraph_t) -> Result<()> {
        cuda_call!(self, cudaGraphDestroy(graph))
    }

    fn ready_or_not(&self, r: Result<()>) -> Result<bool> {
        match r {
            Ok(()) => Ok(true),
            Err(Error::Cuda { code, .. }) if code == sys::cudaError::cudaErrorNotReady.0 as i32 => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
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

// ----- process-wide free functions over `loader::cudart()` -------------------------------------------------

/// [`CudaRuntime::check_device_usable`] on the process-wide runtime ([`crate::loader::cudart`]).
pub fn check_device_usable() -> Result<DeviceSummary> {
    crate::loader::cudart()?.check_device_usable()
}

/// [`CudaRuntime::driver_version`] on the process-wide runtime.
pub fn driver_version() -> Result<i32> {
    crate::loader::cudart()?.driver_version()
}

/// [`CudaRuntime::runtime_version`] on the process-wide runtime.
pub fn runtime_version() -> Result<i32> {
    crate::loader::cudart()?.runtime_version()
}

/// [`CudaRuntime::device_count`] on the process-wide runtime.
pub fn device_count() -> Result<i32> {
    crate::loader::cudart()?.device_count()
}

/// [`CudaRuntime::set_device`] on the process-wide runtime.
pub fn set_device(device: i32) -> Result<()> {
    crate::loader::cudart()?.set_device(device)
}

/// [`CudaRuntime::get_device`] on the process-wide runtime.
pub fn get_device() -> Result<i32> {
    crate::loader::cudart()?.get_device()
}

/// [`CudaRuntime::device_synchronize`] on the process-wide runtime.
pub fn device_synchronize() -> Result<()> {
    crate::loader::cudart()?.device_synchronize()
}

/// [`CudaRuntime::mem_get_info`] on the process-wide runtime.
pub fn mem_get_info() -> Result<(usize, usize)> {
    crate::loader::cudart()?.mem_get_info()
}

/// [`CudaRuntime::malloc`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::malloc`].
pub unsafe fn malloc(bytes: usize) -> Result<*mut c_void> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.malloc(bytes) }
}

/// [`CudaRuntime::free`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::free`].
pub unsafe fn free(ptr: *mut c_void) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.free(ptr) }
}

/// [`CudaRuntime::malloc_async`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::malloc_async`].
pub unsafe fn malloc_async(bytes: usize, stream: cudaStream_t) -> Result<*mut c_void> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.malloc_async(bytes, stream) }
}

/// [`CudaRuntime::free_async`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::free_async`].
pub unsafe fn free_async(ptr: *mut c_void, stream: cudaStream_t) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.free_async(ptr, stream) }
}

/// [`CudaRuntime::host_alloc`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::host_alloc`].
pub unsafe fn host_alloc(bytes: usize, flags: u32) -> Result<*mut c_void> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.host_alloc(bytes, flags) }
}

/// [`CudaRuntime::free_host`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::free_host`].
pub unsafe fn free_host(ptr: *mut c_void) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.free_host(ptr) }
}

/// [`CudaRuntime::host_get_device_pointer`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::host_get_device_pointer`].
pub unsafe fn host_get_device_pointer(host: *mut c_void) -> Result<*mut c_void> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.host_get_device_pointer(host) }
}

/// [`CudaRuntime::memcpy`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::memcpy`].
pub unsafe fn memcpy(
    dst: *mut c_void,
    src: *const c_void,
    bytes: usize,
    kind: cudaMemcpyKind,
) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.memcpy(dst, src, bytes, kind) }
}

/// [`CudaRuntime::memcpy_async`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::memcpy_async`].
pub unsafe fn memcpy_async(
    dst: *mut c_void,
    src: *const c_void,
    bytes: usize,
    kind: cudaMemcpyKind,
    stream: cudaStream_t,
) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.memcpy_async(dst, src, bytes, kind, stream) }
}

/// [`CudaRuntime::memset`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::memset`].
pub unsafe fn memset(ptr: *mut c_void, value: u8, bytes: usize) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.memset(ptr, value, bytes) }
}

/// [`CudaRuntime::memset_async`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::memset_async`].
pub unsafe fn memset_async(
    ptr: *mut c_void,
    value: u8,
    bytes: usize,
    stream: cudaStream_t,
) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.memset_async(ptr, value, bytes, stream) }
}

/// [`CudaRuntime::stream_create_with_flags`] on the process-wide runtime.
pub fn stream_create_with_flags(flags: u32) -> Result<cudaStream_t> {
    crate::loader::cudart()?.stream_create_with_flags(flags)
}

/// [`CudaRuntime::stream_create_with_priority`] on the process-wide runtime.
pub fn stream_create_with_priority(flags: u32, priority: i32) -> Result<cudaStream_t> {
    crate::loader::cudart()?.stream_create_with_priority(flags, priority)
}

/// [`CudaRuntime::stream_synchronize`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::stream_synchronize`].
pub unsafe fn stream_synchronize(stream: cudaStream_t) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.stream_synchronize(stream) }
}

/// [`CudaRuntime::stream_query`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::stream_query`].
pub unsafe fn stream_query(stream: cudaStream_t) -> Result<bool> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.stream_query(stream) }
}

/// [`CudaRuntime::stream_wait_event`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::stream_wait_event`].
pub unsafe fn stream_wait_event(stream: cudaStream_t, event: cudaEvent_t) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.stream_wait_event(stream, event) }
}

/// [`CudaRuntime::stream_destroy`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::stream_destroy`].
pub unsafe fn stream_destroy(stream: cudaStream_t) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.stream_destroy(stream) }
}

/// [`CudaRuntime::event_create_with_flags`] on the process-wide runtime.
pub fn event_create_with_flags(flags: u32) -> Result<cudaEvent_t> {
    crate::loader::cudart()?.event_create_with_flags(flags)
}

/// [`CudaRuntime::event_record`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::event_record`].
pub unsafe fn event_record(event: cudaEvent_t, stream: cudaStream_t) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.event_record(event, stream) }
}

/// [`CudaRuntime::event_synchronize`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::event_synchronize`].
pub unsafe fn event_synchronize(event: cudaEvent_t) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.event_synchronize(event) }
}

/// [`CudaRuntime::event_query`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::event_query`].
pub unsafe fn event_query(event: cudaEvent_t) -> Result<bool> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.event_query(event) }
}

/// [`CudaRuntime::event_elapsed_time`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::event_elapsed_time`].
pub unsafe fn event_elapsed_time(start: cudaEvent_t, end: cudaEvent_t) -> Result<f32> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.event_elapsed_time(start, end) }
}

/// [`CudaRuntime::event_destroy`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::event_destroy`].
pub unsafe fn event_destroy(event: cudaEvent_t) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.event_destroy(event) }
}

/// [`CudaRuntime::stream_begin_capture`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::stream_begin_capture`].
pub unsafe fn stream_begin_capture(
    stream: cudaStream_t,
    mode: cudaStreamCaptureMode,
) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.stream_begin_capture(stream, mode) }
}

/// [`CudaRuntime::stream_end_capture`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::stream_end_capture`].
pub unsafe fn stream_end_capture(stream: cudaStream_t) -> Result<cudaGraph_t> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.stream_end_capture(stream) }
}

/// [`CudaRuntime::graph_instantiate`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::graph_instantiate`].
pub unsafe fn graph_instantiate(graph: cudaGraph_t) -> Result<cudaGraphExec_t> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.graph_instantiate(graph) }
}

/// [`CudaRuntime::graph_launch`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::graph_launch`].
pub unsafe fn graph_launch(exec: cudaGraphExec_t, stream: cudaStream_t) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.graph_launch(exec, stream) }
}

/// [`CudaRuntime::graph_exec_destroy`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::graph_exec_destroy`].
pub unsafe fn graph_exec_destroy(exec: cudaGraphExec_t) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.graph_exec_destroy(exec) }
}

/// [`CudaRuntime::graph_destroy`] on the process-wide runtime.
///
/// # Safety
/// See [`CudaRuntime::graph_destroy`].
pub unsafe fn graph_destroy(graph: cudaGraph_t) -> Result<()> {
    // SAFETY: forwarded.
    unsafe { crate::loader::cudart()?.graph_destroy(graph) }
}

/// [`CudaRuntime::get_last_error`] on the process-wide runtime.
pub fn get_last_error() -> Result<()> {
    crate::loader::cudart()?.get_last_error()
}

#[cfg(test)]
mod tests;
