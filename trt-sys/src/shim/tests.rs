use std::fmt;

use super::*;

#[test]
fn parser_error_display_names_node_operator_and_location() {
    let e = ParserError {
        code: ParserErrorCode::UnsupportedNode,
        description: "No importer registered for op: Foo".into(),
        file: "ModelImporter.cpp".into(),
        line: 42,
        function: "parseNode".into(),
        node_index: 17,
        node_name: "/model.3/Foo".into(),
        node_operator: "Foo".into(),
    };
    assert_eq!(
        e.to_string(),
        "node 17 (/model.3/Foo, Foo): UnsupportedNode: No importer registered for op: Foo \
         [ModelImporter.cpp:42 parseNode]"
    );
    let whole = ParserError {
        node_index: -1,
        node_name: String::new(),
        node_operator: String::new(),
        ..e
    };
    assert!(
        whole.to_string().starts_with("model: UnsupportedNode: "),
        "{whole}"
    );
}

#[test]
fn data_type_bits_cover_every_known_type() {
    for t in DataType::ALL {
        assert_eq!(t.bits().is_none(), *t == DataType::Unknown, "{t:?}");
    }
    assert_eq!(DataType::F16.bits(), Some(16));
    assert_eq!(DataType::I4.bits(), Some(4));
}

#[test]
fn compiled_check_names_both_versions_and_the_library() {
    let path = Path::new("/x/libnvinfer.so.11");
    let err =
        check_compiled(Some(Version::new(10, 3, 0)), Version::new(11, 4, 0), path).unwrap_err();
    let msg = err.to_string();
    for needle in ["10.3.0", "11.4.0", "/x/libnvinfer.so.11"] {
        assert!(msg.contains(needle), "{needle} missing in {msg}");
    }
    // A newer minor serves older headers; the patch never matters.
    assert!(check_compiled(Some(Version::new(11, 1, 0)), Version::new(11, 4, 0), path).is_ok());
    assert!(check_compiled(Some(Version::new(8, 6, 1)), Version::new(8, 6, 0), path).is_ok());
    assert_eq!(
        check_compiled(None, Version::new(11, 4, 0), path),
        Err(Error::TensorRtNotCompiled)
    );
}

#[test]
fn an_older_minor_than_compiled_is_refused() {
    // 8.6 headers call 8.6-only methods through vtable slots an 8.5 library does not have.
    let path = Path::new("/usr/lib/libnvinfer.so.8");
    let msg = check_compiled(Some(Version::new(8, 6, 1)), Version::new(8, 5, 2), path)
        .unwrap_err()
        .to_string();
    for needle in [
        "8.6.1",
        "8.5.2",
        "minor of at least 6",
        "/usr/lib/libnvinfer.so.8",
    ] {
        assert!(msg.contains(needle), "{needle} missing in {msg}");
    }
}

#[test]
fn tensorrt_and_tensorrt_rtx_never_serve_each_other() {
    let path = Path::new("/x/libtensorrt_rtx.so.1");
    let msg = check_compiled(Some(Version::new(11, 4, 0)), Version::rtx(1, 7, 1), path)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("TensorRT 11.4.0") && msg.contains("TensorRT-RTX 1.7.1"),
        "{msg}"
    );
    assert!(check_compiled(Some(Version::rtx(1, 7, 0)), Version::new(1, 7, 1), path).is_err());
    assert!(check_compiled(Some(Version::rtx(1, 6, 1)), Version::rtx(1, 7, 1), path).is_ok());
    assert!(check_compiled(Some(Version::rtx(1, 7, 1)), Version::rtx(1, 6, 1), path).is_err());
}

#[cfg(not(trt_shim))]
mod without_headers {
    use super::*;

    fn assert_not_compiled<T: fmt::Debug>(r: Result<T>) {
        let err = r.unwrap_err();
        assert_eq!(err, Error::TensorRtNotCompiled);
        let msg = err.to_string();
        for var in ["TENSORRT_INCLUDE_DIR", "TENSORRT_ROOT", "CUDA_INCLUDE_DIR"] {
            assert!(msg.contains(var), "{var} missing in {msg}");
        }
    }

    #[test]
    fn every_entry_point_reports_not_compiled() {
        assert!(compiled_version().is_none());
        assert!(compiled_version_string().is_none());
        assert_not_compiled(capabilities());
        assert_not_compiled(builder_flag_available(BuilderFlag::Fp16));
        assert_not_compiled(tactic_source_available(TacticSource::JitConvolutions));
        assert_not_compiled(Logger::new(Severity::Warning, |_, _| {}));
    }
}

#[cfg(trt_shim)]
mod with_headers {
    use super::*;
    use crate::shim::callbacks::{self, LogSink};
    use crate::shim::common::ffi as sys;
    use crate::shim::runtime::{keep_for_process, PLUGIN_LOGGERS};
    use std::sync::{Arc, Mutex};

    fn version() -> Version {
        compiled_version().expect("shim compiled, so a header version exists")
    }

    /// The API level of the compiled headers in TensorRT's numbering (cpp/common.h `TRTSHIM_API_MAJOR`): TensorRT's
    /// own release; TensorRT-RTX 1.5+ behaves like 11.0, 1.3/1.4 like a late 10.x.
    fn api() -> Version {
        let v = version();
        match (v.is_rtx(), v.minor >= 5) {
            (false, _) => v,
            (true, true) => Version::new(11, 0, 0),
            (true, false) => Version::new(10, 99, 0),
        }
    }

    fn rtx() -> bool {
        version().is_rtx()
    }

    fn at_least(major: u32, minor: u32) -> bool {
        let v = api();
        (v.major, v.minor) >= (major, minor)
    }

    #[test]
    fn header_version_matches_build_script() {
        let h = sys::header_version();
        let v = version();
        assert_eq!((h.major, h.minor, h.patch), (v.major, v.minor, v.patch));
        let full = compiled_version_string().unwrap();
        assert_eq!(
            full,
            format!("{}.{}.{}.{}", h.major, h.minor, h.patch, h.build)
        );
    }

    /// Rust enum -> shim enum -> Rust enum is the identity for every value, both print the same name, and the
    /// bridge enum has no value beyond the public enum's (build.rs generated one from the other).
    #[test]
    fn rust_and_shim_enums_map_one_to_one() {
        macro_rules! check {
            ($t:ident) => {
                for v in $t::ALL {
                    assert_eq!(
                        $t::from_ffi(v.to_ffi()),
                        Some(*v),
                        "{}::{v:?}",
                        stringify!($t)
                    );
                    assert_eq!(format!("{v:?}"), format!("{:?}", v.to_ffi()));
                }
                let next = sys::$t {
                    repr: u8::try_from($t::ALL.len()).unwrap(),
                };
                assert_eq!($t::from_ffi(next), None, "{next:?}");
                assert!(
                    format!("{next:?}").contains('('),
                    "{next:?} is a declared value"
                );
            };
        }
        check!(Severity);
        check!(DataType);
        check!(TensorIoMode);
        check!(TensorFormat);
        check!(MemoryPool);
        check!(ProfilingVerbosity);
        check!(DeviceType);
        check!(HardwareCompatibility);
        check!(ProfileSelector);
        check!(BuilderFlag);
        check!(CalibrationAlgorithm);
        check!(ParserErrorCode);
        check!(TacticSource);
    }

    /// Shim -> TensorRT -> shim through the C++ tables: every value the release has comes back unchanged, and the
    /// set of values the release lacks is exactly what its headers say.
    #[test]
    fn cxx_enum_tables_round_trip() {
        fn run<T: Copy + PartialEq + fmt::Debug>(
            all: &[T],
            f: impl Fn(T) -> std::result::Result<T, cxx::Exception>,
            expected_missing: &[T],
        ) {
            let mut missing = Vec::new();
            for v in all {
                match f(*v) {
                    Ok(back) => assert_eq!(back, *v),
                    Err(e) => {
                        assert!(e.what().starts_with("unsupported: "), "{v:?}: {}", e.what());
                        missing.push(*v);
                    }
                }
            }
            assert_eq!(missing, expected_missing);
        }
        let m = api().major;
        let ffi_all = |all: &[DataType]| all.iter().map(|d| d.to_ffi()).collect::<Vec<_>>();

        let mut dt_missing = vec![];
        if !at_least(8, 6) {
            dt_missing.push(DataType::Fp8);
        }
        if m < 10 {
            dt_missing.extend([DataType::Bf16, DataType::I64, DataType::I4]);
        }
        if !at_least(10, 8) {
            dt_missing.extend([DataType::Fp4, DataType::E8m0]);
        }
        dt_missing.push(DataType::Unknown);
        run(
            &ffi_all(DataType::ALL),
            sys::roundtrip_data_type,
            &ffi_all(&dt_missing),
        );

        let sev: Vec<_> = Severity::ALL.iter().map(|s| s.to_ffi()).collect();
        run(&sev, sys::roundtrip_severity, &[]);
        let io: Vec<_> = TensorIoMode::ALL.iter().map(|s| s.to_ffi()).collect();
        run(&io, sys::roundtrip_tensor_io_mode, &[]);
        let sel: Vec<_> = ProfileSelector::ALL.iter().map(|s| s.to_ffi()).collect();
        run(&sel, sys::roundtrip_profile_selector, &[]);
        let dev: Vec<_> = DeviceType::ALL.iter().map(|s| s.to_ffi()).collect();
        run(&dev, sys::roundtrip_device_type, &[]);
        let verb: Vec<_> = ProfilingVerbosity::ALL.iter().map(|s| s.to_ffi()).collect();
        run(&verb, sys::roundtrip_profiling_verbosity, &[]);

        let fmts: Vec<_> = TensorFormat::ALL.iter().map(|s| s.to_ffi()).collect();
        let mut fmt_missing = vec![];
        if !at_least(8, 6) {
            fmt_missing.push(TensorFormat::Dhwc.to_ffi());
        }
        fmt_missing.push(TensorFormat::Unknown.to_ffi());
        run(&fmts, sys::roundtrip_tensor_format, &fmt_missing);

        let pools: Vec<_> = MemoryPool::ALL.iter().map(|s| s.to_ffi()).collect();
        let mut pool_missing = vec![];
        if !at_least(8, 6) {
            pool_missing.push(MemoryPool::TacticDram.to_ffi());
        }
        if m < 10 {
            pool_missing.push(MemoryPool::TacticSharedMemory.to_ffi());
        }
        run(&pools, sys::roundtrip_memory_pool, &pool_missing);

        let hw: Vec<_> = HardwareCompatibility::ALL
            .iter()
            .map(|s| s.to_ffi())
            .collect();
        let hw_missing: Vec<_> = if !at_least(8, 6) {
            hw.clone()
        } else if !at_least(10, 16) {
            vec![HardwareCompatibility::SameComputeCapability.to_ffi()]
        } else {
            vec![]
        };
        if at_least(8, 6) {
            run(&hw, sys::roundtrip_hardware_compatibility, &hw_missing);
        } else {
            for v in &hw {
                assert!(sys::roundtrip_hardware_compatibility(*v).is_err());
            }
        }

        let codes: Vec<_> = ParserErrorCode::ALL.iter().map(|s| s.to_ffi()).collect();
        let mut code_missing = vec![];
        if m < 10 {
            code_missing.extend(
                [
                    ParserErrorCode::UnsupportedNodeAttr,
                    ParserErrorCode::UnsupportedNodeInput,
                    ParserErrorCode::UnsupportedNodeDatatype,
                    ParserErrorCode::UnsupportedNodeDynamic,
                    ParserErrorCode::UnsupportedNodeShape,
                    ParserErrorCode::RefitFailed,
                ]
                .map(|c| c.to_ffi()),
            );
        }
        code_missing.push(ParserErrorCode::Unknown.to_ffi());
        run(
            &codes,
            crate::shim::parser::ffi::roundtrip_parser_error_code,
            &code_missing,
        );
    }

    #[test]
    fn builder_flags_follow_the_release() {
        let m = api().major;
        let avail = |f| builder_flag_available(f).unwrap();
        // TensorRT 11 removed the weak-typing precision flags; 8.x/10.x have FP16 and INT8.
        assert_eq!(avail(BuilderFlag::Fp16), m <= 10);
        assert_eq!(avail(BuilderFlag::Int8), m <= 10);
        assert_eq!(avail(BuilderFlag::Bf16), m == 10);
        assert_eq!(avail(BuilderFlag::Fp8), at_least(8, 6) && m <= 10);
        assert_eq!(avail(BuilderFlag::VersionCompatible), at_least(8, 6));
        assert_eq!(avail(BuilderFlag::StripPlan), m >= 10);
        assert_eq!(avail(BuilderFlag::ObeyPrecisionConstraints), m <= 10);
        assert!(avail(BuilderFlag::Tf32));
        assert!(avail(BuilderFlag::GpuFallback));
        for f in BuilderFlag::ALL {
            let r = sys::roundtrip_builder_flag(f.to_ffi());
            assert_eq!(r.is_ok(), avail(*f), "{f:?}");
            if let Ok(back) = r {
                assert_eq!(BuilderFlag::from_ffi(back), Some(*f));
            }
        }
    }

    /// cuBLAS, cuBLASLt and cuDNN tactic sources exist up to 10.x (NvInferRuntime.h of 8.5 .. 10.16 lists them;
    /// 11.x and TensorRT-RTX 1.5+ keep only the convolution sources), and every source the release has maps back.
    #[test]
    fn tactic_sources_follow_the_release() {
        let legacy = api().major <= 10;
        for t in TacticSource::ALL {
            let want = match t {
                TacticSource::Cublas | TacticSource::CublasLt | TacticSource::Cudnn => legacy,
                TacticSource::EdgeMaskConvolutions | TacticSource::JitConvolutions => true,
                TacticSource::Unknown => false,
            };
            assert_eq!(tactic_source_available(*t).unwrap(), want, "{t:?}");
            match sys::roundtrip_tactic_source(t.to_ffi()) {
                Ok(back) => {
                    assert!(want, "{t:?}");
                    assert_eq!(TacticSource::from_ffi(back), Some(*t));
                }
                Err(e) => {
                    assert!(!want, "{t:?}: {}", e.what());
                    assert!(e.what().starts_with("unsupported: "), "{}", e.what());
                }
            }
        }
    }

    #[test]
    fn capabilities_follow_the_release() {
        let c = capabilities().unwrap();
        let m = api().major;
        assert_eq!(c.explicit_batch_flag, m == 8);
        assert_eq!(c.strongly_typed_always, m >= 11);
        assert_eq!(c.progress_monitor, m >= 10);
        assert_eq!(c.int8_calibrator, m <= 10 && !rtx());
        assert_eq!(c.layer_precision, m <= 10);
        assert_eq!(c.builder_optimization_level, at_least(8, 6));
        assert_eq!(c.parser_node_names, m >= 10);
        // TensorRT-RTX: no DLA, no version/hardware compatibility; it targets compute capabilities instead.
        assert_eq!(c.rtx, rtx());
        assert_eq!(c.dla, !rtx());
        assert_eq!(c.version_compatible, at_least(8, 6) && !rtx());
        assert_eq!(c.hardware_compatibility, at_least(8, 6) && !rtx());
        assert_eq!(c.compute_capability_targets, rtx());
    }

    #[test]
    fn dims_convert_within_release_limits() {
        assert_eq!(
            sys::roundtrip_dims(&[1, 3, 640, 640]).unwrap(),
            vec![1, 3, 640, 640]
        );
        assert_eq!(
            sys::roundtrip_dims(&[-1, 3, -1, -1]).unwrap(),
            vec![-1, 3, -1, -1]
        );
        assert_eq!(sys::roundtrip_dims(&[]).unwrap(), Vec::<i64>::new());
        let nine = [1i64; 9];
        let e = sys::roundtrip_dims(&nine).unwrap_err();
        assert!(e.what().contains("at most 8"), "{}", e.what());
        let big = [1i64 << 40];
        // 8.x stores int32 dimensions: refuse rather than truncate. 10.x+ has 64-bit Dims.
        assert_eq!(sys::roundtrip_dims(&big).is_ok(), api().major >= 10);
    }

    type Seen = Arc<Mutex<Vec<(Severity, String)>>>;

    fn collecting_logger(threshold: Severity) -> (Logger, Seen) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let logger = Logger::new(threshold, move |sev, msg| {
            s.lock().unwrap().push((sev, msg.to_owned()))
        })
        .unwrap();
        (logger, seen)
    }

    #[test]
    fn logger_filters_by_threshold_and_keeps_errors() {
        let (logger, seen) = collecting_logger(Severity::Warning);
        logger.log(Severity::Info, "info hidden").unwrap();
        logger.log(Severity::Warning, "warn shown").unwrap();
        logger.log(Severity::Error, "first error").unwrap();
        logger.log(Severity::InternalError, "second error").unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                (Severity::Warning, "warn shown".to_owned()),
                (Severity::Error, "first error".to_owned()),
                (Severity::InternalError, "second error".to_owned()),
            ]
        );
        assert_eq!(logger.error_count(), 2);
        assert_eq!(
            logger.last_errors(),
            vec!["first error".to_owned(), "second error".to_owned()]
        );
        logger.set_threshold(Severity::Verbose);
        logger.log(Severity::Verbose, "now shown").unwrap();
        assert_eq!(seen.lock().unwrap().last().unwrap().1, "now shown");
    }

    #[test]
    fn logger_keeps_only_the_last_sixteen_errors() {
        let (logger, _) = collecting_logger(Severity::InternalError);
        for i in 0..20 {
            logger.log(Severity::Error, &format!("e{i}")).unwrap();
        }
        let errs = logger.last_errors();
        assert_eq!(errs.len(), 16);
        assert_eq!(errs.first().unwrap(), "e4");
        assert_eq!(errs.last().unwrap(), "e19");
        assert_eq!(logger.error_count(), 20);
    }

    /// One Library's logger serves every thread: an error logged by another thread while a call runs must not be
    /// attributed to that call (it would fail "an error was logged during creation").
    #[test]
    fn errors_are_counted_per_thread_for_call_marks() {
        let (logger, _) = collecting_logger(Severity::InternalError);
        let logger = Arc::new(logger);
        logger.log(Severity::Error, "main before").unwrap();
        let mark = logger.error_count();
        assert_eq!(mark, 1);
        let other = logger.clone();
        std::thread::spawn(move || {
            other.log(Severity::Error, "worker").unwrap();
            assert_eq!(other.error_count(), 1, "the worker's own count");
        })
        .join()
        .unwrap();
        assert_eq!(
            logger.error_count(),
            mark,
            "the worker's error is not this thread's"
        );
        assert_eq!(logger.total_error_count(), 2);
        logger.log(Severity::Error, "main after").unwrap();
        assert_eq!(logger.error_count(), 2);
        assert_eq!(
            logger.last_errors(),
            vec![
                "main before".to_owned(),
                "worker".to_owned(),
                "main after".to_owned()
            ]
        );
    }

    #[test]
    fn callback_panic_is_reraised_after_the_call_not_unwound_through_cxx() {
        let logger = Logger::new(Severity::Info, |_, msg| panic!("callback saw {msg}")).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            logger.log(Severity::Error, "boom")
        }));
        let payload = r.expect_err("the panic must surface in Rust");
        let text = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert_eq!(text, "callback saw boom");
        // The logger still works and recorded the error before calling back.
        assert_eq!(logger.last_errors(), vec!["boom".to_owned()]);
    }

    #[test]
    fn non_utf8_messages_are_delivered_lossily() {
        let seen: Seen = Arc::default();
        let s = seen.clone();
        let sink = LogSink {
            callback: Box::new(move |sev, msg| s.lock().unwrap().push((sev, msg.to_owned()))),
            panic: Arc::default(),
        };
        callbacks::log_sink_emit(&sink, sys::Severity::Warning, b"bad \xff byte");
        assert_eq!(
            *seen.lock().unwrap(),
            vec![(Severity::Warning, "bad \u{fffd} byte".to_owned())]
        );
    }

    /// Needs the real TensorRT 11 lean runtime and no usable GPU: run with
    /// `TRT_TEST_LEAN_LIB=/work/ext/wh/tensorrt_lean_libs/libnvinfer_lean.so.11
    ///  CUDA_LIB_DIR=/work/ext/wh/nvidia/cu13/lib cargo test -p trt-sys -- --ignored lean`
    /// (TRT_LIBRARY is set from TRT_TEST_LEAN_LIB when not already set).
    #[test]
    #[ignore = "needs TRT_TEST_LEAN_LIB"]
    fn reallib_lean_runtime_without_gpu_fails_with_a_cuda_error() {
        let lib = std::env::var_os("TRT_TEST_LEAN_LIB")
            .expect("set TRT_TEST_LEAN_LIB to libnvinfer_lean.so.<major>");
        if std::env::var_os("TRT_LIBRARY").is_none() {
            // SAFETY-free in edition 2021; this ignored test runs alone before anything reads the loader config.
            std::env::set_var("TRT_LIBRARY", &lib);
        }
        let libs = crate::loader::tensorrt().expect("the lean runtime loads");
        assert_eq!(
            libs.version.major,
            version().major,
            "loaded {} vs compiled {}",
            libs.version,
            version()
        );
        assert!(
            libs.entry.create_infer_builder.is_none(),
            "a lean runtime has no builder"
        );
        let (logger, _) = collecting_logger(Severity::Warning);
        let err = Runtime::new(&logger).expect_err("no GPU here: creating a runtime must fail");
        let msg = err.to_string();
        eprintln!("runtime error: {msg}");
        match &err {
            Error::NoCudaDevice { .. } | Error::Cuda { .. } => {}
            Error::LibraryNotFound { library, .. } => assert!(library.contains("cudart"), "{msg}"),
            other => panic!("expected a CUDA error, got {other:?}: {msg}"),
        }
        assert!(msg.to_lowercase().contains("cuda"), "{msg}");
        // Building is impossible with a lean runtime whatever the CUDA state.
        assert!(Builder::new(&logger).is_err());
    }

    /// The real TensorRT for RTX library (`TRT_TEST_RTX_LIB`, and libcudart through `CUDA_LIB_DIR` or the project
    /// cache), loaded process-wide through `TRT_LIBRARY` (set from `TRT_TEST_RTX_LIB` when not already set).
    #[cfg(trt_shim_rtx)]
    fn rtx_libs() -> &'static crate::loader::TensorRtLibs {
        let lib = std::env::var_os("TRT_TEST_RTX_LIB").expect(
            "set TRT_TEST_RTX_LIB to libtensorrt_rtx.so.1 (scripts/nvidia-wheels.sh sets it)",
        );
        if std::env::var_os("TRT_LIBRARY").is_none() {
            // Edition 2021; scripts/test.sh sets TRT_LIBRARY itself, so concurrent tests never get here.
            std::env::set_var("TRT_LIBRARY", &lib);
        }
        let libs = crate::loader::tensorrt().expect("TensorRT-RTX loads");
        assert_eq!(
            libs.nvinfer.path(),
            Path::new(&lib),
            "TRT_LIBRARY and TRT_TEST_RTX_LIB name different libraries"
        );
        libs
    }

    #[cfg(trt_shim_rtx)]
    #[test]
    #[ignore = "needs TRT_TEST_RTX_LIB (TensorRT for RTX) and libcudart"]
    fn rtx_library_and_parser_report_their_own_versions() {
        let libs = rtx_libs();
        assert!(libs.version.is_rtx(), "{}", libs.version.label());
        assert!(
            libs.version.serves(version()),
            "loaded {} vs compiled {}",
            libs.version,
            version()
        );
        assert_eq!(libs.flavor, crate::loader::RuntimeFlavor::Full);
        assert!(
            libs.entry.create_infer_builder.is_some(),
            "TensorRT-RTX builds engines"
        );
        let parser = crate::loader::onnx_parser().expect("the RTX ONNX parser loads");
        assert!(
            parser
                .lib
                .path()
                .ends_with("libtensorrt_onnxparser_rtx.so.1"),
            "{}",
            parser.lib.path().display()
        );
        let pv = parser.version.expect("the RTX parser exports its version");
        assert!(pv.is_rtx() && pv.major == 0, "parser version {pv:?}");
        let err = crate::loader::plugins().expect_err("TensorRT-RTX has no plugin library");
        assert!(err.to_string().contains("has none"), "{err}");
    }

    #[cfg(trt_shim_rtx)]
    #[test]
    #[ignore = "needs TRT_TEST_RTX_LIB (TensorRT for RTX) and libcudart"]
    fn rtx_builder_and_compute_capability_targets_need_no_gpu() {
        rtx_libs();
        let (logger, _) = collecting_logger(Severity::Warning);
        let mut builder = Builder::new(&logger).expect("an RTX builder needs no GPU");
        let _network = builder
            .create_network(true)
            .expect("a strongly typed network");
        let mut config = builder.create_config().unwrap();
        assert!(
            config.compute_capabilities().unwrap().is_empty(),
            "default: the library's own set"
        );
        let targets = compute_capability_targets().unwrap();
        assert!(
            targets.contains(&75) && targets.contains(&86),
            "{targets:?}"
        );
        config.set_compute_capabilities(&[75, 86]).unwrap();
        assert_eq!(config.compute_capabilities().unwrap(), [75, 86]);
        let err = config
            .set_compute_capabilities(&[70])
            .unwrap_err()
            .to_string();
        assert!(err.contains("7.0") && err.contains("7.5"), "{err}");
        let err = config
            .set_compute_capabilities(&[COMPUTE_CAPABILITY_CURRENT, 75])
            .unwrap_err()
            .to_string();
        assert!(err.contains("current"), "{err}");
        // Tactic sources: the release's default set reads back, a changed set is what TensorRT then reports, and a
        // source RTX lacks (cuDNN) is refused by name before TensorRT sees a mask.
        let defaults = config.tactic_sources().unwrap();
        assert!(
            defaults.iter().all(|t| matches!(
                t,
                TacticSource::EdgeMaskConvolutions | TacticSource::JitConvolutions
            )),
            "{defaults:?}"
        );
        config
            .set_tactic_sources(&[TacticSource::EdgeMaskConvolutions])
            .unwrap();
        assert_eq!(
            config.tactic_sources().unwrap(),
            [TacticSource::EdgeMaskConvolutions]
        );
        config.set_tactic_sources(&[]).unwrap();
        assert!(config.tactic_sources().unwrap().is_empty());
        let r = config.set_tactic_sources(&[TacticSource::Cudnn]);
        assert!(matches!(r, Err(Error::Unsupported { .. })), "{r:?}");
        // What RTX lacks is refused by name, never silently dropped.
        let r = config.set_hardware_compatibility(HardwareCompatibility::AmperePlus);
        assert!(matches!(r, Err(Error::Unsupported { .. })), "{r:?}");
        assert!(
            config.set_flag(BuilderFlag::Fp16, true).is_err(),
            "RTX 1.5+ has no FP16 flag"
        );
    }

    #[cfg(trt_shim_rtx)]
    #[test]
    #[ignore = "needs TRT_TEST_RTX_LIB (TensorRT for RTX) and libcudart"]
    fn rtx_runtime_needs_a_gpu_but_the_validity_check_does_not() {
        rtx_libs();
        let (logger, _) = collecting_logger(Severity::Warning);
        let err = Runtime::new(&logger)
            .expect_err("no GPU here: a runtime to deserialize with must fail");
        assert!(
            matches!(err, Error::NoCudaDevice { .. } | Error::Cuda { .. }),
            "{err:?}"
        );
        let silent = Logger::new(Severity::InternalError, |_, _| {}).unwrap();
        let runtime =
            Runtime::new_for_inspection(&silent).expect("an inspection runtime needs no GPU");
        for bytes in [
            &b"not an engine"[..],
            &[0u8; 4096][..],
            &b"ftrt".repeat(2000)[..],
        ] {
            let v = runtime.engine_validity(bytes).unwrap();
            assert_eq!(v.status, 2, "{v:?}");
            assert_ne!(
                v.diagnostics & (1 << 5),
                0,
                "kMALFORMED_ENGINE expected: {v:?}"
            );
            assert!(v.header_size > 0, "{v:?}");
        }
    }

    /// The plugin library keeps the logger it was handed for the rest of the process: such a logger survives every
    /// handle of the caller (a `Library` dropped after `init_plugins` must not leave the plugins logging into freed
    /// memory).
    #[test]
    fn loggers_handed_to_the_plugin_library_live_for_the_process() {
        let before = plugin_loggers_kept();
        let (logger, seen) = collecting_logger(Severity::Warning);
        keep_for_process(&logger);
        drop(logger);
        assert_eq!(plugin_loggers_kept(), before + 1);
        let kept = PLUGIN_LOGGERS.lock().unwrap().last().unwrap().clone();
        kept.log(Severity::Error, "a plugin logs late").unwrap();
        assert_eq!(seen.lock().unwrap().last().unwrap().1, "a plugin logs late");
    }
}
