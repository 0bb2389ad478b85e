// While the host holds a slice of a pinned buffer, a copy that writes into it cannot be enqueued.
use trt::cuda::{DeviceBuffer, PinnedBuffer, Stream};

fn run(stream: &Stream, src: &DeviceBuffer<f32>, dst: &mut PinnedBuffer<f32>) {
    let host = dst.as_slice().unwrap();
    stream.copy_d2h(src, dst).unwrap();
    println!("{}", host[0]);
}

fn main() {}
