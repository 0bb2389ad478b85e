// An OwnedSession's engine reference cannot outlive the OwnedSession (its Arc keeps the engine alive only while it
// lives), even though the session inside is 'static.
use trt::{Engine, OwnedSession};

fn escape(session: OwnedSession) -> &'static Engine {
    session.session().engine()
}

fn main() {}
