// While a writable view of a pinned input buffer lives, no inference can be enqueued (TensorRT would read the buffer
// while Rust writes it).
use trt::{Engine, SessionConfig};

fn run(engine: &Engine) {
    let mut session = engine.session(SessionConfig::default()).unwrap();
    let mut view = session.input_mut::<f32>("images").unwrap();
    let _ = session.submit_in_place();
    view.fill(1.0);
}

fn main() {}
