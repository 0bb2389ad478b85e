// An execution context borrows its engine and cannot outlive it.
use trt::Runtime;

fn run(runtime: &Runtime) {
    let context = {
        let engine = runtime.load_engine("model.engine").unwrap();
        engine.create_context().unwrap()
    };
    drop(context);
}

fn main() {}
