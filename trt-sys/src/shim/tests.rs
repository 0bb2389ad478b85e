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
    assert_eq!(DataType::Half.bits(), Some(16));
    assert_eq!(DataType::Int4.bits(), Some(4));
}

#[test]
fn major_check_names_both_versions_and_the_library() {
    let path = Path::new("/x/libnvinfer.so.11");
    let err = check_major(
        Some(TrtVersion::new(10, 3, 0)),
        TrtVersion::new(11, 4, 0),
        path,
    )
    .unwrap_err();
    let msg = err.to_string();
    for needle in ["10.3.0", "11.4.0", "/x/libnvinfer.so.11"] {
        assert!(msg.contains(needle), "{needle} missing in {msg}");
    }
    assert!(check_major(
        Some(TrtVersion::new(11, 1, 0)),
        TrtVersion::new(11, 4, 0),
        path
    )
    .is_ok());
    assert_eq!(
        check_major(None, TrtVersion::new(11, 4, 0), path),
        Err(Error::TensorRtNotCompiled)
    );
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
        assert_not_compiled(Logger::new(Severity::Warning, |_, _| {}));
    }
}

#[cfg(trt_shim)]
mod with_headers {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn version() -> TrtVersion {
        compiled_version().expect("shim compiled, so a header version exists")
    }

    fn at_least(major: u32, minor: u32) -> bool {
        let v = version();
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

    /// Rust enum -> shim enum -> Rust enum is the identity for every value.
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
                }
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
        let m = version().major;
        let ffi_all = |all: &[DataType]| all.iter().map(|d| d.to_ffi()).collect::<Vec<_>>();

        let mut dt_missing = vec![];
        if !at_least(8, 6) {
            dt_missing.push(DataType::Fp8);
        }
        if m < 10 {
            dt_missing.extend([DataType::Bf16, DataType::Int64, DataType::Int4]);
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
        run(&codes, sys::roundtrip_parser_error_code, &code_missing);
    }

    #[test]
    fn builder_flags_follow_the_release() {
        let m = version().major;
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

    #[test]
    fn capabilities_follow_the_release() {
        let c = capabilities().unwrap();
        let m = version().major;
        assert_eq!(c.explicit_batch_flag, m == 8);
        assert_eq!(c.strongly_typed_always, m >= 11);
        assert_eq!(c.progress_monitor, m >= 10);
        assert_eq!(c.int8_calibrator, m <= 10);
        assert_eq!(c.layer_precision, m <= 10);
        assert_eq!(c.builder_optimization_level, at_least(8, 6));
        assert_eq!(c.parser_node_names, m >= 10);
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
        assert_eq!(sys::roundtrip_dims(&big).is_ok(), version().major >= 10);
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
}
