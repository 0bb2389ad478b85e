// Starting another inference (which rewrites the session's buffers) while one is pending does not compile.
use trt::{Engine, Input, SessionConfig};

fn run(engine: &Engine, data: ndarray::ArrayViewD<'_, f32>) {
    let mut session = engine.session(SessionConfig::default()).unwrap();
    let inputs = [Input::new("images", data)];
    let pending = session.infer_async(&inputs).unwrap();
    let _ = session.infer(&inputs);
    let _ = pending.wait();
}

fn main() {}
