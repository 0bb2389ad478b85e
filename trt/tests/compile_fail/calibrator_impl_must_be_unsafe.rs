// A calibrator hands TensorRT raw device addresses: implementing it is an `unsafe impl` with a stated contract, so
// safe code cannot give TensorRT the address of a dropped buffer.
use trt::builder::Calibrator;

struct Dangling;

impl Calibrator for Dangling {
    fn batch_size(&self) -> i32 {
        1
    }
    fn next_batch(&mut self, _names: &[String], bindings: &mut [usize]) -> bool {
        let gone = vec![0u8; 16];
        bindings[0] = gone.as_ptr() as usize;
        true
    }
    fn read_cache(&mut self) -> Option<Vec<u8>> {
        None
    }
    fn write_cache(&mut self, _data: &[u8]) {}
}

fn main() {}
