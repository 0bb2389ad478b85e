//! Type-level guarantees (compile-time checks; the test bodies only exist to be compiled).

use half::f16;
use trt::cuda::{CudaGraph, Device, DeviceBuffer, Event, PinnedBuffer, Stream};
use trt::{
    DataType, Element, Engine, ExecutionContext, Library, Outputs, OwnedSession, PendingInference,
    Runtime, Session, SharedEngine,
};

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_static<T: 'static>() {}
fn assert_clone<T: Clone>() {}
fn assert_element<T: Element>(dtype: DataType) {
    assert_eq!(T::DTYPE, dtype);
    assert_eq!(T::DTYPE.size(), Some(std::mem::size_of::<T>()));
}

#[test]
fn engines_and_runtimes_are_shareable() {
    assert_send::<Engine>();
    assert_sync::<Engine>();
    assert_send::<Runtime>();
    assert_sync::<Runtime>();
    assert_send::<Library>();
    assert_sync::<Library>();
}

#[test]
fn contexts_and_sessions_move_between_threads() {
    // Send (one worker thread each); !Sync is checked by tests/compile_fail/context_not_sync.rs.
    assert_send::<ExecutionContext<'static>>();
    assert_send::<Session<'static>>();
    assert_send::<PendingInference<'static, 'static>>();
    assert_send::<Outputs<'static>>();
}

#[test]
fn owned_sessions_are_static_and_send() {
    // An OwnedSession keeps its engine alive: 'static, storable next to anything, movable to a worker thread.
    // !Sync is checked by tests/compile_fail/owned_session_not_sync.rs.
    assert_send::<OwnedSession>();
    assert_static::<OwnedSession>();
    assert_send::<SharedEngine>();
    assert_sync::<SharedEngine>();
    assert_static::<SharedEngine>();
    assert_clone::<SharedEngine>();
    // Converting is possible from an owned or an already shared engine.
    fn from_engine(e: Engine) -> SharedEngine {
        e.into_shared()
    }
    fn from_arc(e: std::sync::Arc<Engine>) -> SharedEngine {
        e.into()
    }
    let _ = (from_engine, from_arc);
}

#[test]
fn cuda_objects_are_thread_safe() {
    assert_send::<Device>();
    assert_sync::<Device>();
    assert_send::<Stream>();
    assert_sync::<Stream>();
    assert_send::<Event>();
    assert_sync::<Event>();
    assert_send::<CudaGraph>();
    assert_send::<DeviceBuffer<f32>>();
    assert_sync::<DeviceBuffer<f16>>();
    assert_send::<PinnedBuffer<u8>>();
    assert_sync::<PinnedBuffer<bool>>();
}

#[test]
fn element_types_map_to_tensorrt_types() {
    assert_element::<f32>(DataType::F32);
    assert_element::<f16>(DataType::F16);
    assert_element::<i8>(DataType::I8);
    assert_element::<i32>(DataType::I32);
    assert_element::<u8>(DataType::U8);
    assert_element::<bool>(DataType::Bool);
}

#[test]
fn errors_are_send_sync_and_static() {
    assert_send::<trt::Error>();
    assert_sync::<trt::Error>();
    fn is_std_error<E: std::error::Error + 'static>() {}
    is_std_error::<trt::Error>();
}

#[test]
fn runtime_cache_files_sit_beside_the_engine_unless_named() {
    use std::path::{Path, PathBuf};
    use trt::RuntimeCache;
    assert_eq!(RuntimeCache::default(), RuntimeCache::BesideEngine);
    assert_eq!(
        RuntimeCache::BesideEngine.path_for(Path::new("engines/out/m.engine")),
        Some(PathBuf::from("engines/out/m.engine.runtime-cache"))
    );
    assert_eq!(
        RuntimeCache::File("/var/cache/yolo.rtcache".into()).path_for(Path::new("m.engine")),
        Some(PathBuf::from("/var/cache/yolo.rtcache"))
    );
    assert_eq!(RuntimeCache::Off.path_for(Path::new("m.engine")), None);
}

#[test]
fn atomic_file_writes_replace_whole_files_and_leave_no_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.engine.runtime-cache");
    trt::sidecar::write_file_atomic(&p, b"first").unwrap();
    trt::sidecar::write_file_atomic(&p, b"second, longer").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"second, longer");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let missing = dir.path().join("no-such-dir/x");
    assert!(trt::sidecar::write_file_atomic(&missing, b"x").is_err());
}
