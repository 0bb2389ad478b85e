// An execution context is not Sync: two threads cannot use one context at once.
use trt::ExecutionContext;

fn run(context: &ExecutionContext<'_>) {
    std::thread::scope(|s| {
        s.spawn(|| context.all_input_dimensions_specified());
        s.spawn(|| context.all_input_dimensions_specified());
    });
}

fn main() {}
