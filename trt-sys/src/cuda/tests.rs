//! CUDA layer tests. CPU tests need nothing; `TRT_TEST_CUDART_DIR` tests need a real libcudart (no GPU);
//! `needs GPU` tests need a GPU, a driver and a libcudart the loader finds (e.g. `CUDA_LIB_DIR`). Ignored tests
//! fail loudly when run without what they need.

use super::*;
use crate::loader::{open_cudart, SearchConfig};

#[test]
fn cuda_versions_format_like_nvidia_smi() {
    assert_eq!(format_cuda_version(12040), "12.4");
    assert_eq!(format_cuda_version(11080), "11.8");
    assert_eq!(format_cuda_version(13050), "13.5");
    assert_eq!(format_cuda_version(0), "none");
}

#[test]
fn committed_bindings_carry_no_header_text_and_link_nothing() {
    let text = include_str!("bindings.rs");
    let comment_lines: Vec<&str> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("//") || l.starts_with("/*"))
        .collect();
    // Only bindgen's banner and our two provenance lines.
    assert_eq!(comment_lines.len(), 3, "{comment_lines:#?}");
    assert!(comment_lines
        .iter()
        .all(|l| l.contains("bindgen") || l.contains("gen-cuda-bindings.sh")));
    assert!(
        !text.contains("#[doc"),
        "doc attributes copied from headers"
    );
    assert!(
        !text.contains("#[link"),
        "the bindings must not link libcudart"
    );
    assert!(text.contains("pub struct CudaRuntimeApi"));
}

#[test]
fn bound_enums_are_newtypes_with_the_abi_values() {
    // Values are CUDA ABI constants; a regeneration that renumbered them would break every release.
    assert_eq!(sys::cudaError::cudaErrorInsufficientDriver.0, 35);
    assert_eq!(sys::cudaError::cudaErrorNoDevice.0, 100);
    assert_eq!(sys::cudaError::cudaErrorNotReady.0, 600);
    assert_eq!(cudaMemcpyKind::cudaMemcpyDeviceToHost.0, 2);
    assert_eq!(cudaDeviceAttr::cudaDevAttrComputeCapabilityMajor.0, 75);
    assert_eq!(memory::host_alloc_flags::MAPPED, 2);
    // A value the headers do not list is still representable.
    let unknown = sys::cudaError(123_456);
    assert_ne!(unknown, sys::cudaError::cudaSuccess);
}

fn cudart_from_test_dir() -> CudaRuntime {
    let dir = match std::env::var_os("TRT_TEST_CUDART_DIR") {
        Some(v) if !v.is_empty() => std::path::PathBuf::from(v),
        _ => panic!(
            "TRT_TEST_CUDART_DIR is not set: this test needs a directory with libcudart.so.<N>"
        ),
    };
    open_cudart(&SearchConfig {
        cuda_lib_dirs: vec![dir],
        ..SearchConfig::default()
    })
    .expect("libcudart opens")
}

#[test]
#[ignore = "needs TRT_TEST_CUDART_DIR (libcudart, on a machine WITHOUT a GPU)"]
fn reallib_device_check_on_a_machine_with_no_device_names_the_cuda_problem() {
    let rt = cudart_from_test_dir();
    let err = rt
        .check_device_usable()
        .expect_err("this test runs where no GPU/driver exists");
    let Error::NoCudaDevice { reason } = &err else {
        panic!("unexpected {err:?}")
    };
    assert!(
        reason.contains("driver") || reason.contains("cudaError"),
        "{reason}"
    );
    assert!(
        reason.contains(&rt.path().display().to_string()),
        "{reason}"
    );
    let msg = err.to_string();
    assert!(msg.starts_with("no usable CUDA device"), "{msg}");
}

#[test]
#[ignore = "needs TRT_TEST_CUDART_DIR (libcudart, on a machine WITHOUT a GPU)"]
fn reallib_error_codes_map_to_the_runtime_names() {
    let rt = cudart_from_test_dir();
    let err = rt
        .check("cudaMalloc", sys::cudaError::cudaErrorMemoryAllocation)
        .unwrap_err();
    let Error::Cuda {
        call,
        code,
        name,
        message,
    } = &err
    else {
        panic!("unexpected {err:?}")
    };
    assert_eq!((*call, *code), ("cudaMalloc", 2));
    assert_eq!(name, "cudaErrorMemoryAllocation");
    assert!(!message.is_empty() && message != name, "{message}");
    assert!(rt.check("cudaFree", sys::cudaError::cudaSuccess).is_ok());
    // Without a driver, calls that need one fail with a CUDA error, never a crash (the result layer on the
    // process-wide runtime: trt-sys/tests/process_wide_loading.rs).
    let mut p = std::ptr::null_mut();
    let malloc = rt.api().cudaMalloc.as_ref().expect("cudaMalloc is bound");
    // SAFETY: cudaMalloc(void**, size_t) with a valid out-pointer; nothing is dereferenced.
    let err = rt
        .check("cudaMalloc", unsafe { malloc(&mut p, 16) })
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Cuda {
                call: "cudaMalloc",
                ..
            }
        ),
        "{err:?}"
    );
}

// ----- GPU tests ----------------------------------------------------------------------------------------

/// Checks that the process-wide runtime has a usable device and makes device 0 current; panics with the
/// reason otherwise.
fn gpu() {
    let rt =
        crate::loader::cudart().unwrap_or_else(|e| panic!("needs GPU: libcudart not found: {e}"));
    let summary = rt
        .check_device_usable()
        .unwrap_or_else(|e| panic!("needs GPU: {e}"));
    assert!(!summary.devices.is_empty());
    device::set(0).expect("cudaSetDevice(0)");
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
#[ignore = "needs GPU"]
fn gpu_device_summary_is_consistent() {
    gpu();
    let s = check_device_usable().unwrap();
    assert!(
        s.driver_version >= 11000 && s.runtime_version >= 11000,
        "{s:?}"
    );
    let d = &s.devices[0];
    assert!(!d.name.is_empty() && d.name.is_ascii(), "{d:?}");
    assert!(
        d.compute_capability.0 >= 5 && d.multiprocessors > 0,
        "{d:?}"
    );
    let (free, total) = memory::info().unwrap();
    assert!(free <= total);
    // cudaDeviceProp.totalGlobalMem (read at a fixed offset) and cudaMemGetInfo describe the same memory: a
    // wrong offset would read garbage.
    let diff = d.total_memory.abs_diff(total);
    assert!(
        diff <= total / 100,
        "totalGlobalMem {} vs cudaMemGetInfo total {total}",
        d.total_memory
    );
    assert_eq!(device::get().unwrap(), 0);
    assert!(device::count().unwrap() >= 1);
}

#[test]
#[ignore = "needs GPU"]
fn gpu_malloc_memcpy_memset_round_trip() {
    gpu();
    let n = 1 << 20;
    let src = pattern(n, 7);
    let mut back = vec![0u8; n];
    // SAFETY: the device buffer is n bytes; host slices are n bytes; synchronous copies.
    unsafe {
        let d = memory::alloc(n).unwrap();
        assert!(!d.is_null());
        memory::copy(
            d,
            src.as_ptr().cast(),
            n,
            cudaMemcpyKind::cudaMemcpyHostToDevice,
        )
        .unwrap();
        memory::set(d.cast::<u8>().wrapping_add(100).cast(), 0xAB, 50).unwrap();
        memory::copy(
            back.as_mut_ptr().cast(),
            d,
            n,
            cudaMemcpyKind::cudaMemcpyDeviceToHost,
        )
        .unwrap();
        memory::free(d).unwrap();
    }
    let mut want = src.clone();
    want[100..150].fill(0xAB);
    assert_eq!(back, want);
}

#[test]
#[ignore = "needs GPU"]
fn gpu_allocation_failure_is_a_named_cuda_error() {
    gpu();
    // SAFETY: an impossible request; nothing is dereferenced.
    let err = unsafe { memory::alloc(1usize << 60) }.unwrap_err();
    let Error::Cuda { call, name, .. } = &err else {
        panic!("unexpected {err:?}")
    };
    assert_eq!(*call, "cudaMalloc");
    assert_eq!(name, "cudaErrorMemoryAllocation");
    // Not sticky: the last error can be cleared and work continues.
    let _ = device::last_error();
    device::last_error().expect("cleared");
}

#[test]
#[ignore = "needs GPU"]
fn gpu_pinned_mapped_memory_is_visible_to_the_device() {
    gpu();
    let n = 4096;
    // SAFETY: every pointer below is valid for n bytes; copies are synchronous; each allocation freed once.
    unsafe {
        let host = memory::host_alloc(
            n,
            memory::host_alloc_flags::PORTABLE | memory::host_alloc_flags::MAPPED,
        )
        .unwrap();
        let host_bytes = std::slice::from_raw_parts_mut(host.cast::<u8>(), n);
        host_bytes.copy_from_slice(&pattern(n, 3));
        let mapped = memory::host_device_pointer(host).unwrap();
        let d = memory::alloc(n).unwrap();
        assert!(!mapped.is_null());
        // Default: the runtime classifies the mapped pointer itself (UVA).
        memory::copy(d, mapped, n, cudaMemcpyKind::cudaMemcpyDefault).unwrap();
        let mut back = vec![0u8; n];
        memory::copy(
            back.as_mut_ptr().cast(),
            d,
            n,
            cudaMemcpyKind::cudaMemcpyDeviceToHost,
        )
        .unwrap();
        assert_eq!(back, pattern(n, 3));
        memory::free(d).unwrap();
        memory::free_host(host).unwrap();
    }
}

#[test]
#[ignore = "needs GPU"]
fn gpu_streams_events_and_cross_stream_waits() {
    gpu();
    let n = 32 << 20;
    let (least, greatest) = stream::priority_range().unwrap();
    assert!(greatest <= least);
    let a = stream::create_with_priority(stream::flags::NON_BLOCKING, greatest).unwrap();
    let b = stream::create(stream::flags::NON_BLOCKING).unwrap();
    let start = event::create(event::flags::DEFAULT).unwrap();
    let stop = event::create(event::flags::DEFAULT).unwrap();
    let copied = event::create(event::flags::DISABLE_TIMING).unwrap();
    // SAFETY: pinned and device buffers are n bytes and outlive the synchronizations below; handles are live
    // until destroyed at the end.
    unsafe {
        let pinned = memory::host_alloc(n, memory::host_alloc_flags::DEFAULT).unwrap();
        let pinned_bytes = std::slice::from_raw_parts_mut(pinned.cast::<u8>(), n);
        pinned_bytes.copy_from_slice(&pattern(n, 11));
        let d = memory::alloc(n).unwrap();
        event::record(start, a).unwrap();
        memory::copy_async(d, pinned, n, cudaMemcpyKind::cudaMemcpyHostToDevice, a).unwrap();
        event::record(copied, a).unwrap();
        event::record(stop, a).unwrap();
        // Stream b reads d only after stream a's copy.
        stream::wait_event(b, copied).unwrap();
        let mut back = vec![0u8; n];
        let back_pinned = memory::host_alloc(n, memory::host_alloc_flags::DEFAULT).unwrap();
        memory::copy_async(back_pinned, d, n, cudaMemcpyKind::cudaMemcpyDeviceToHost, b).unwrap();
        stream::synchronize(b).unwrap();
        assert!(stream::query(b).unwrap());
        event::synchronize(stop).unwrap();
        assert!(event::query(stop).unwrap());
        let ms = event::elapsed_time(start, stop).unwrap();
        assert!(ms > 0.0 && ms < 10_000.0, "{ms} ms for a {n}-byte copy");
        back.copy_from_slice(std::slice::from_raw_parts(back_pinned.cast::<u8>(), n));
        assert!(
            back == pattern(n, 11),
            "data copied on stream b differs from what stream a wrote"
        );
        memory::free(d).unwrap();
        memory::free_host(pinned).unwrap();
        memory::free_host(back_pinned).unwrap();
        for e in [start, stop, copied] {
            event::destroy(e).unwrap();
        }
        stream::destroy(a).unwrap();
        stream::destroy(b).unwrap();
    }
}

#[test]
#[ignore = "needs GPU"]
fn gpu_stream_ordered_allocation() {
    gpu();
    let n = 1 << 16;
    let s = stream::create(stream::flags::NON_BLOCKING).unwrap();
    let mut back = vec![0u8; n];
    // SAFETY: the stream-ordered buffer is used only on `s` between its allocation and free; the host vec
    // outlives the synchronization.
    unsafe {
        let d = memory::alloc_async(n, s).unwrap();
        memory::set_async(d, 0x5A, n, s).unwrap();
        memory::copy_async(
            back.as_mut_ptr().cast(),
            d,
            n,
            cudaMemcpyKind::cudaMemcpyDeviceToHost,
            s,
        )
        .unwrap();
        memory::free_async(d, s).unwrap();
        stream::synchronize(s).unwrap();
        stream::destroy(s).unwrap();
    }
    assert!(back.iter().all(|&b| b == 0x5A));
}

#[test]
#[ignore = "needs GPU"]
fn gpu_graph_capture_of_a_memcpy_replays_the_copy() {
    gpu();
    let n = 1 << 20;
    let s = stream::create(stream::flags::NON_BLOCKING).unwrap();
    // SAFETY: both device buffers are n bytes and live until freed after the last synchronization; captured
    // work does not run until the graph is launched.
    unsafe {
        let src = memory::alloc(n).unwrap();
        let dst = memory::alloc(n).unwrap();
        memory::copy(
            src,
            pattern(n, 1).as_ptr().cast(),
            n,
            cudaMemcpyKind::cudaMemcpyHostToDevice,
        )
        .unwrap();
        memory::set(dst, 0, n).unwrap();

        stream::begin_capture(s, cudaStreamCaptureMode::cudaStreamCaptureModeThreadLocal).unwrap();
        assert!(stream::is_capturing(s).unwrap());
        memory::copy_async(dst, src, n, cudaMemcpyKind::cudaMemcpyDeviceToDevice, s).unwrap();
        let graph = stream::end_capture(s).unwrap();
        assert!(!stream::is_capturing(s).unwrap());
        assert!(!graph.is_null());

        // Capturing recorded the copy without running it.
        let mut back = vec![1u8; n];
        memory::copy(
            back.as_mut_ptr().cast(),
            dst,
            n,
            cudaMemcpyKind::cudaMemcpyDeviceToHost,
        )
        .unwrap();
        assert!(
            back.iter().all(|&b| b == 0),
            "capture must not execute the copy"
        );

        let exec = graph::instantiate(graph).unwrap();
        graph::launch(exec, s).unwrap();
        stream::synchronize(s).unwrap();
        memory::copy(
            back.as_mut_ptr().cast(),
            dst,
            n,
            cudaMemcpyKind::cudaMemcpyDeviceToHost,
        )
        .unwrap();
        assert!(back == pattern(n, 1), "first launch copied wrong data");

        // A second launch copies the *current* source contents.
        memory::copy(
            src,
            pattern(n, 99).as_ptr().cast(),
            n,
            cudaMemcpyKind::cudaMemcpyHostToDevice,
        )
        .unwrap();
        graph::launch(exec, s).unwrap();
        stream::synchronize(s).unwrap();
        memory::copy(
            back.as_mut_ptr().cast(),
            dst,
            n,
            cudaMemcpyKind::cudaMemcpyDeviceToHost,
        )
        .unwrap();
        assert!(back == pattern(n, 99), "relaunch copied wrong data");

        graph::exec_destroy(exec).unwrap();
        graph::destroy(graph).unwrap();
        memory::free(src).unwrap();
        memory::free(dst).unwrap();
        stream::destroy(s).unwrap();
    }
    device::synchronize().unwrap();
}
