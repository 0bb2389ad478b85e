// A writable view of a pinned input buffer cannot be taken while an inference that reads it is pending.
use trt::{Engine, SessionConfig};

fn run(engine: &Engine) {
    let mut session = engine.session(SessionConfig::default()).unwrap();
    let pending = session.infer_async_in_place().unwrap();
    let _ = session.input_mut::<f32>("images");
    let _ = pending.wait();
}

fn main() {}
