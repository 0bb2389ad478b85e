//! GPU tests: run on a machine with an NVIDIA GPU and libcudart (`TRT_TEST_CUDART_DIR`) with
//! `cargo test -p trt --test gpu -- --ignored`. Without a GPU they fail loudly.

mod common;

use std::time::Duration;

use half::f16;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trt::cuda::{Device, DeviceBuffer, Event, HostAllocFlags, PinnedBuffer};
use trt::Element;
use trt_sys::cuda::cudaMemcpyKind;

fn device() -> Device {
    common::setup(None);
    Device::new(0).expect("a CUDA device (this test needs a GPU)")
}

fn round_trip<T: Element>(dev: &Device, data: &[T]) {
    let stream = dev.stream().unwrap();
    // pinned -> device -> pinned
    let src = PinnedBuffer::from_slice(dev, data).unwrap();
    let mut d = DeviceBuffer::<T>::new(dev, data.len()).unwrap();
    let mut back = PinnedBuffer::<T>::new(dev, data.len(), HostAllocFlags::default()).unwrap();
    stream.copy_h2d(&src, &mut d).unwrap();
    stream.copy_d2h(&d, &mut back).unwrap();
    assert_eq!(
        back.as_slice().unwrap(),
        data,
        "pinned round trip of {} x {}",
        data.len(),
        T::DTYPE
    );
    // pageable -> device -> device -> pageable
    let d2 = DeviceBuffer::from_slice(&stream, data).unwrap();
    let mut d3 = DeviceBuffer::<T>::new(dev, data.len()).unwrap();
    stream.copy_d2d(&d2, &mut d3).unwrap();
    assert_eq!(
        stream.copy_to_vec(&d3).unwrap(),
        data,
        "pageable round trip of {} x {}",
        data.len(),
        T::DTYPE
    );
}

#[test]
#[ignore = "needs GPU"]
fn gpu_copies_round_trip_exactly_for_every_dtype_and_size() {
    let dev = device();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for len in [0usize, 1, 3, 4096, (1 << 20) + 7] {
        round_trip::<f32>(
            &dev,
            &(0..len)
                .map(|_| rng.random::<f32>() * 1e3 - 5e2)
                .collect::<Vec<_>>(),
        );
        round_trip::<f16>(
            &dev,
            &(0..len)
                .map(|_| f16::from_bits(rng.random::<u16>() & 0x7bff))
                .collect::<Vec<_>>(),
        );
        round_trip::<i8>(
            &dev,
            &(0..len).map(|_| rng.random::<i8>()).collect::<Vec<_>>(),
        );
        round_trip::<i32>(
            &dev,
            &(0..len).map(|_| rng.random::<i32>()).collect::<Vec<_>>(),
        );
        round_trip::<u8>(
            &dev,
            &(0..len).map(|_| rng.random::<u8>()).collect::<Vec<_>>(),
        );
        round_trip::<bool>(
            &dev,
            &(0..len).map(|_| rng.random::<bool>()).collect::<Vec<_>>(),
        );
    }
}

#[test]
#[ignore = "needs GPU"]
fn gpu_device_reports_properties_and_memory() {
    let dev = device();
    let p = dev.properties();
    assert!(!p.name.is_empty());
    assert!(p.compute_capability.major >= 5, "{}", p.compute_capability);
    let m = dev.memory_info().unwrap();
    assert!(
        m.free > 0 && m.free <= m.total && m.total <= p.total_memory + (1 << 30),
        "{m:?} vs {p:?}"
    );
}

#[test]
#[ignore = "needs GPU"]
fn gpu_events_time_a_copy() {
    let dev = device();
    let stream = dev.stream().unwrap();
    let n = 64 << 20; // 64 MiB
    let src = PinnedBuffer::<u8>::new(&dev, n, HostAllocFlags::default()).unwrap();
    let mut d = DeviceBuffer::<u8>::new(&dev, n).unwrap();
    let (mut start, mut end) = (Event::new(&dev).unwrap(), Event::new(&dev).unwrap());
    stream.record(&mut start).unwrap();
    stream.copy_h2d(&src, &mut d).unwrap();
    stream.record(&mut end).unwrap();
    let t = start.elapsed(&end).unwrap();
    assert!(t > Duration::ZERO && t < Duration::from_secs(5), "{t:?}");
    // 64 MiB over PCIe/NVLink takes well over a microsecond and is not faster than 2 TB/s.
    assert!(t > Duration::from_micros(30), "{t:?}");
}

#[test]
#[ignore = "needs GPU"]
fn gpu_streams_order_through_buffer_markers() {
    let dev = device();
    let (a, b) = (dev.stream().unwrap(), dev.stream().unwrap());
    let n = 8 << 20;
    let data: Vec<i32> = (0..n as i32).collect();
    let src = PinnedBuffer::from_slice(&dev, &data).unwrap();
    let mut d = DeviceBuffer::<i32>::new(&dev, n).unwrap();
    let mut out = PinnedBuffer::<i32>::new(&dev, n, HostAllocFlags::default()).unwrap();
    a.copy_h2d(&src, &mut d).unwrap(); // on stream a
    b.copy_d2h(&d, &mut out).unwrap(); // stream b must wait for a through d's marker
    assert_eq!(out.as_slice().unwrap(), &data[..]);
    // Dropping a buffer right after enqueuing work on it waits instead of freeing memory in use.
    let mut d2 = DeviceBuffer::<i32>::new(&dev, n).unwrap();
    a.copy_h2d(&src, &mut d2).unwrap();
    drop(d2);
    drop(src);
    dev.take_deferred_errors().unwrap();
}

#[test]
#[ignore = "needs GPU"]
fn gpu_graph_replays_captured_copies() {
    let dev = device();
    let stream = dev.stream().unwrap();
    let n = 1 << 16;
    let mut input = PinnedBuffer::<f32>::new(&dev, n, HostAllocFlags::default()).unwrap();
    let d = DeviceBuffer::<f32>::new(&dev, n).unwrap();
    let mut output = PinnedBuffer::<f32>::new(&dev, n, HostAllocFlags::default()).unwrap();
    let (ip, dp, op, bytes) = (
        input.as_mut_slice().unwrap().as_mut_ptr(),
        d.as_raw_ptr(),
        output.as_mut_slice().unwrap().as_mut_ptr(),
        n * 4,
    );
    // SAFETY: the three buffers outlive the graph (dropped after it below) and the host touches them only after
    // synchronizing the stream following each launch.
    let graph = unsafe {
        stream.capture(|s| {
            s.copy_raw_async(dp, ip.cast(), bytes, cudaMemcpyKind::cudaMemcpyHostToDevice)?;
            s.copy_raw_async(op.cast(), dp, bytes, cudaMemcpyKind::cudaMemcpyDeviceToHost)?;
            Ok(())
        })
    }
    .expect("capture copies");
    for round in 0..3 {
        let values: Vec<f32> = (0..n).map(|i| (i * (round + 1)) as f32 + 0.5).collect();
        input.as_mut_slice().unwrap().copy_from_slice(&values);
        // SAFETY: see above.
        unsafe { graph.launch(&stream) }.unwrap();
        stream.synchronize().unwrap();
        assert_eq!(output.as_slice().unwrap(), &values[..], "round {round}");
    }
    drop(graph);
}

#[test]
#[ignore = "needs GPU"]
fn gpu_mapped_pinned_memory_has_a_device_pointer() {
    let dev = device();
    let b = PinnedBuffer::<f32>::new(&dev, 1024, HostAllocFlags::mapped()).unwrap();
    assert!(b.mapped_device_ptr().is_some());
    assert_eq!(
        b.as_slice().unwrap(),
        &[0.0f32; 1024][..],
        "pinned memory starts zeroed"
    );
}

#[test]
#[ignore = "needs GPU and TRT_TEST_LEAN_LIB (a shim compiled with TensorRT headers)"]
fn gpu_lean_runtime_rejects_bogus_engines_without_crashing() {
    common::setup(Some("TRT_TEST_LEAN_LIB"));
    let lib = trt::Library::load().expect("library with a GPU");
    let runtime = lib.runtime().expect("runtime");
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    for len in [0usize, 1, 16, 1024, 65536] {
        let bogus: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        // SAFETY: deliberately untrusted bytes; this test checks TensorRT's own header validation.
        let r = unsafe { runtime.deserialize_unverified(&bogus) };
        assert!(r.is_err(), "{len} bogus bytes were accepted");
    }
    // And through the sidecar path: a bogus engine without a sidecar never reaches TensorRT.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bogus.engine");
    std::fs::write(&path, b"not an engine").unwrap();
    assert!(matches!(
        runtime.load_engine(&path).unwrap_err(),
        trt::Error::SidecarMissing { .. }
    ));
}

/// Re-marking a buffer's last use on another stream (`end_raw_use`) must not forget a copy still running on the
/// first stream: the host view waits for both. A 256 MiB device-to-host copy takes milliseconds, so a view that only
/// waited for the second stream would read a partly written buffer.
#[test]
#[ignore = "needs GPU"]
fn gpu_end_raw_use_on_another_stream_keeps_the_running_copy_covered() {
    let dev = device();
    let (s1, s2) = (dev.stream().unwrap(), dev.stream().unwrap());
    let n = 64 << 20; // 64 Mi f32 = 256 MiB
    let pattern: Vec<f32> = (0..n).map(|i| (i % 1021) as f32).collect();
    let src = DeviceBuffer::from_slice(&s1, &pattern).unwrap();
    s1.synchronize().unwrap();
    for _ in 0..3 {
        let mut host = PinnedBuffer::<f32>::new(&dev, n, HostAllocFlags::default()).unwrap();
        host.as_mut_slice().unwrap().fill(-1.0);
        s1.copy_d2h(&src, &mut host).unwrap();
        host.end_raw_use(&s2).unwrap();
        let seen = host.as_slice().unwrap();
        let bad = seen.iter().zip(&pattern).filter(|(a, b)| a != b).count();
        assert_eq!(
            bad, 0,
            "{bad} elements read before the copy on the first stream finished"
        );
    }
}

/// A copy between buffers of one device on a stream of another is refused before anything is queued (needs two GPUs
/// to show; with one it checks that same-device copies still work).
#[test]
#[ignore = "needs GPU"]
fn gpu_copies_refuse_buffers_of_another_device() {
    let dev = device();
    let n = trt::cuda::Device::count().unwrap_or(1);
    let data = vec![1.0f32; 1024];
    let s = dev.stream().unwrap();
    let a = DeviceBuffer::from_slice(&s, &data).unwrap();
    let mut b = DeviceBuffer::<f32>::new(&dev, data.len()).unwrap();
    s.copy_d2d(&a, &mut b).unwrap();
    assert_eq!(s.copy_to_vec(&b).unwrap(), data);
    if n > 1 {
        let other = Device::new(1).unwrap();
        let s_other = other.stream().unwrap();
        let err = s_other.copy_d2d(&a, &mut b).unwrap_err().to_string();
        assert!(
            err.contains("device 0") && err.contains("device 1"),
            "{err}"
        );
    }
}

/// Deserialization makes the runtime's device current on the calling thread before TensorRT allocates anything
/// (a worker thread may have another device current). Shown with two GPUs: the library belongs to the last one and
/// the worker thread has device 0 current; with one GPU both are device 0 and the test checks the call leaves it
/// current.
#[test]
#[ignore = "needs GPU and TRT_TEST_LEAN_LIB (a shim compiled with TensorRT headers)"]
fn gpu_deserialization_makes_the_runtimes_device_current() {
    common::setup(Some("TRT_TEST_LEAN_LIB"));
    let count = Device::count().expect("a CUDA device (this test needs a GPU)");
    let target = count - 1;
    let lib = trt::Library::load_with(trt::LoadOptions {
        device: target,
        ..Default::default()
    })
    .expect("library with a GPU");
    let runtime = lib.runtime().expect("runtime");
    std::thread::scope(|s| {
        s.spawn(|| {
            trt_sys::cuda::device::set(0).unwrap();
            // SAFETY: deliberately bogus bytes; TensorRT's header check refuses them after the device switch.
            let r = unsafe { runtime.deserialize_unverified(b"not an engine, 32 bytes of text.") };
            assert!(r.is_err(), "bogus bytes were accepted");
            assert_eq!(
                trt_sys::cuda::device::get().unwrap(),
                target as i32,
                "deserialization did not make the runtime's device current"
            );
        })
        .join()
        .unwrap();
    });
}
