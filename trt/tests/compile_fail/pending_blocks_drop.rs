// Dropping the session (and with it its buffers) while a pending inference borrows it does not compile.
use trt::{Engine, Input, SessionConfig};

fn run(engine: &Engine, data: ndarray::ArrayViewD<'_, f32>) {
    let mut session = engine.session(SessionConfig::default()).unwrap();
    let inputs = [Input::new("images", data)];
    let pending = session.infer_async(&inputs).unwrap();
    drop(session);
    let _ = pending.wait();
}

fn main() {}
