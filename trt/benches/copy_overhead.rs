//! Copy + synchronization overhead of pinned vs pageable host buffers (CUDA only; the per-inference overhead of
//! `Session::infer` over the engine's GPU time needs a full TensorRT and a real engine and is not measured here).
//!
//! `cargo bench -p trt --bench copy_overhead`. Prints a table and ratios; exits with code 2 and a clear message
//! when there is no GPU.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use trt::cuda::{Device, DeviceBuffer, HostAllocFlags, PinnedBuffer, Stream};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(iters: usize, mut f: impl FnMut() -> trt::Result<()>) -> trt::Result<Duration> {
    f()?; // warm-up
    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        f()?;
        samples.push(t.elapsed());
    }
    Ok(median(samples))
}

fn bench_size(
    dev: &Device,
    stream: &Stream,
    label: &str,
    in_elems: usize,
    out_elems: usize,
) -> trt::Result<()> {
    let iters = 50;
    let mut pin_in = PinnedBuffer::<f32>::new(dev, in_elems, HostAllocFlags::default())?;
    pin_in
        .as_mut_slice()?
        .iter_mut()
        .enumerate()
        .for_each(|(i, v)| *v = i as f32);
    let mut pin_out = PinnedBuffer::<f32>::new(dev, out_elems, HostAllocFlags::default())?;
    let mut d_in = DeviceBuffer::<f32>::new(dev, in_elems)?;
    let d_out = DeviceBuffer::<f32>::new(dev, out_elems)?;
    let page_in: Vec<f32> = (0..in_elems).map(|i| i as f32).collect();
    let mut page_out = vec![0f32; out_elems];

    let pinned = time(iters, || {
        stream.copy_h2d(&pin_in, &mut d_in)?;
        stream.copy_d2h(&d_out, &mut pin_out)?;
        stream.synchronize()
    })?;
    let pageable = time(iters, || {
        stream.copy_from_slice(&page_in, &mut d_in)?;
        stream.copy_to_slice(&d_out, &mut page_out)
    })?;
    let mb = ((in_elems + out_elems) * 4) as f64 / 1e6;
    println!(
        "{label:<28} {mb:>8.2} MB  pinned {:>9.3} ms ({:>6.2} GB/s)  pageable {:>9.3} ms ({:>6.2} GB/s)  pageable/pinned {:>5.2}x",
        pinned.as_secs_f64() * 1e3,
        mb / 1e3 / pinned.as_secs_f64(),
        pageable.as_secs_f64() * 1e3,
        mb / 1e3 / pageable.as_secs_f64(),
        pageable.as_secs_f64() / pinned.as_secs_f64()
    );
    Ok(())
}

fn run() -> trt::Result<()> {
    let dev = Device::new(0)?;
    let stream = dev.stream()?;
    println!("device: {} (sm {})", dev.name(), dev.compute_capability());
    let sync = time(1000, || stream.synchronize())?;
    println!(
        "empty stream synchronize: {:.2} us (median)",
        sync.as_secs_f64() * 1e6
    );
    bench_size(&dev, &stream, "tiny (1 KiB in/out)", 256, 256)?;
    bench_size(
        &dev,
        &stream,
        "yolo 1x3x320x320 / 6300x85",
        3 * 320 * 320,
        6300 * 85,
    )?;
    bench_size(
        &dev,
        &stream,
        "yolo 1x3x640x640 / 25200x85",
        3 * 640 * 640,
        25200 * 85,
    )?;
    bench_size(
        &dev,
        &stream,
        "batch 8x3x640x640",
        8 * 3 * 640 * 640,
        8 * 25200 * 85,
    )?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("copy_overhead benchmark NOT RUN: {e}");
            if e.is_no_device() {
                eprintln!(
                    "it needs an NVIDIA GPU and libcudart (set CUDA_LIB_DIR); nothing was measured"
                );
            }
            ExitCode::from(2)
        }
    }
}
