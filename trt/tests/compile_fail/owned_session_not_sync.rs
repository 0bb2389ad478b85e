// An OwnedSession is not Sync, like Session: two threads cannot use one execution context at once.
use trt::OwnedSession;

fn run(session: &OwnedSession) {
    std::thread::scope(|s| {
        s.spawn(|| session.in_flight());
        s.spawn(|| session.in_flight());
    });
}

fn main() {}
