// A session is not Sync either (it owns a context).
fn assert_sync<T: Sync>() {}

fn main() {
    assert_sync::<trt::Session<'static>>();
}
