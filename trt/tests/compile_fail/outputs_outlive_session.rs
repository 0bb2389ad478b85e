// Output views borrow the session's pinned buffers: they cannot outlive the session.
use trt::{Engine, Input, SessionConfig};

fn run(engine: &Engine, data: ndarray::ArrayViewD<'_, f32>) {
    let view = {
        let mut session = engine.session(SessionConfig::default()).unwrap();
        let inputs = [Input::new("images", data)];
        let outputs = session.infer(&inputs).unwrap();
        outputs.get::<f32>("output0").unwrap()
    };
    println!("{view:?}");
}

fn main() {}
