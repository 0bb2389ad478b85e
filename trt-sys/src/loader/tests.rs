//! Loader tests. The CPU tests need nothing; the real-library tests read the library locations from
//! `TRT_TEST_LEAN_LIB`, `TRT_TEST_DISPATCH_LIB` and `TRT_TEST_CUDART_DIR`, are `#[ignore]`d, and fail loudly
//! when run without them (`cargo test -p trt-sys -- --ignored`).

use super::*;
use std::collections::HashMap;
use std::ffi::OsString;

fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}

fn paths(c: &[Candidate]) -> Vec<String> {
    c.iter().map(|c| c.path.display().to_string()).collect()
}

/// A configuration with one directory per step, to check the order.
fn full_config() -> SearchConfig {
    SearchConfig {
        trt_library: None,
        trt_lib_dirs: vec![p("/trt")],
        cuda_lib_dirs: vec![p("/cuda")],
        ld_library_path: vec![p("/ld1"), p("/ld2")],
        dynamic_loader: true,
        system_dirs: vec![p("/usr/lib/x86_64-linux-gnu"), p("/usr/local/cuda/lib64")],
        python_lib_dirs: vec![p("/venv/site-packages/tensorrt_libs")],
        cache_lib_dirs: vec![p("/cache/nvidia/root/tensorrt_rtx_libs")],
    }
}

// ----- versions ---------------------------------------------------------------------------------------------

#[test]
fn decode_8x_encoding() {
    assert_eq!(Version::decode(8503).unwrap(), Version::new(8, 5, 3));
    assert_eq!(Version::decode(8601).unwrap(), Version::new(8, 6, 1));
    assert_eq!(Version::decode(8210).unwrap(), Version::new(8, 2, 10));
}

#[test]
fn decode_10_and_later_encoding() {
    assert_eq!(Version::decode(100300).unwrap(), Version::new(10, 3, 0));
    assert_eq!(Version::decode(101600).unwrap(), Version::new(10, 16, 0));
    assert_eq!(Version::decode(110400).unwrap(), Version::new(11, 4, 0));
    assert_eq!(Version::decode(110102).unwrap(), Version::new(11, 1, 2));
}

#[test]
fn decode_round_trips_through_encode() {
    for v in [
        Version::new(8, 5, 3),
        Version::new(8, 6, 12),
        Version::new(10, 0, 1),
        Version::new(10, 16, 0),
        Version::new(11, 4, 0),
    ] {
        assert_eq!(
            Version::decode(v.encode()).unwrap(),
            v,
            "{v} encodes to {}",
            v.encode()
        );
    }
}

#[test]
fn decode_rejects_ambiguous_and_garbage_values() {
    // 10000..=99999 would be a two-digit major in the old encoding or a one-digit major in the new one.
    for bad in [
        i32::MIN,
        -8503,
        -1,
        0,
        7,
        999,
        10000,
        85030,
        99999,
        1_000_000,
        i32::MAX,
    ] {
        let err = Version::decode(bad).expect_err(&format!("{bad} must not decode"));
        match &err {
            Error::InvalidVersion { value, .. } => assert_eq!(*value, i64::from(bad)),
            other => panic!("{bad}: unexpected error {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains(&bad.to_string()) && msg.contains("M*10000"),
            "{msg}"
        );
    }
}

#[test]
fn parser_versions_use_the_five_digit_encoding_everywhere() {
    assert_eq!(
        Version::decode_parser(80500).unwrap(),
        Version::new(8, 5, 0)
    );
    assert_eq!(
        Version::decode_parser(100300).unwrap(),
        Version::new(10, 3, 0)
    );
    assert!(Version::decode_parser(8500).is_err());
    assert!(Version::decode_parser(-1).is_err());
}

#[test]
fn version_display_and_order() {
    assert_eq!(Version::new(10, 3, 0).to_string(), "10.3.0");
    assert!(Version::new(8, 6, 1) < Version::new(10, 0, 0));
    assert!(Version::new(10, 3, 0) < Version::new(10, 16, 0));
}

#[test]
fn dotted_versions_from_build_rs_parse() {
    assert_eq!(
        "10.3.0.26".parse::<Version>().ok(),
        Some(Version::new(10, 3, 0))
    );
    assert_eq!("8.5.2".parse::<Version>().ok(), Some(Version::new(8, 5, 2)));
    assert_eq!("11.1".parse::<Version>().ok(), Some(Version::new(11, 1, 0)));
    assert_eq!("x.1.0".parse::<Version>().ok(), None);
    assert_eq!("".parse::<Version>().ok(), None);
}

// ----- flavors ----------------------------------------------------------------------------------------------

#[test]
fn flavor_from_file_name() {
    use RuntimeFlavor::*;
    let cases = [
        ("libnvinfer.so.10", Some(Full)),
        ("libnvinfer.so", Some(Full)),
        ("libnvinfer.so.10.3.0", Some(Full)),
        ("libnvinfer_lean.so.11", Some(Lean)),
        ("libnvinfer_dispatch.so.11", Some(Dispatch)),
        ("libnvinfer_plugin.so.10", None),
        ("libnvinfer_builder_resource.so.10.3.0", None),
        ("libnvinfer.so10", None),
        ("libnvonnxparser.so.10", None),
        ("my_runtime.so", None),
    ];
    for (name, want) in cases {
        assert_eq!(RuntimeFlavor::from_file_name(name), want, "{name}");
    }
    assert_eq!(
        RuntimeFlavor::major_from_file_name("libnvinfer_lean.so.11"),
        Some(11)
    );
    assert_eq!(
        RuntimeFlavor::major_from_file_name("libnvinfer.so.8.5.2"),
        Some(8)
    );
    assert_eq!(RuntimeFlavor::major_from_file_name("libnvinfer.so"), None);
    assert_eq!(RuntimeFlavor::Lean.file_name(10), "libnvinfer_lean.so.10");
    assert!(
        RuntimeFlavor::Full.can_build()
            && !RuntimeFlavor::Lean.can_build()
            && !RuntimeFlavor::Dispatch.can_build()
    );
}

// ----- search order -----------------------------------------------------------------------------------------

#[test]
fn candidates_follow_the_documented_order() {
    let got = paths(&full_config().candidates(&["libnvonnxparser.so.10"]));
    assert_eq!(
        got,
        [
            "/trt/libnvonnxparser.so.10",
            "/cuda/libnvonnxparser.so.10",
            "/ld1/libnvonnxparser.so.10",
            "/ld2/libnvonnxparser.so.10",
            "libnvonnxparser.so.10",
            "/usr/lib/x86_64-linux-gnu/libnvonnxparser.so.10",
            "/usr/local/cuda/lib64/libnvonnxparser.so.10",
            "/venv/site-packages/tensorrt_libs/libnvonnxparser.so.10",
            "/cache/nvidia/root/tensorrt_rtx_libs/libnvonnxparser.so.10",
        ]
    );
    let origins: Vec<Origin> = full_config()
        .candidates(&["x.so"])
        .iter()
        .map(|c| c.origin)
        .collect();
    use Origin::*;
    assert_eq!(
        origins,
        [
            TrtLibDir,
            CudaLibDir,
            LdLibraryPath,
            LdLibraryPath,
            DynamicLoader,
            SystemDir,
            SystemDir,
            PythonSitePackages,
            ProjectCache
        ]
    );
}

#[test]
fn cudart_names_are_tried_per_location_newest_first() {
    let cfg = SearchConfig {
        cuda_lib_dirs: vec![p("/cuda")],
        dynamic_loader: true,
        ..SearchConfig::default()
    };
    assert_eq!(
        paths(&cfg.candidates(&CUDART_NAMES)),
        [
            "/cuda/libcudart.so.13",
            "/cuda/libcudart.so.12",
            "/cuda/libcudart.so.11.0",
            "libcudart.so.13",
            "libcudart.so.12",
            "libcudart.so.11.0",
        ]
    );
}

#[test]
fn duplicate_directories_keep_their_first_position() {
    let cfg = SearchConfig {
        trt_lib_dirs: vec![p("/same")],
        cuda_lib_dirs: vec![p("/same")],
        ld_library_path: vec![p("/usr/lib/x86_64-linux-gnu")],
        system_dirs: vec![p("/usr/lib/x86_64-linux-gnu"), p("/other")],
        ..SearchConfig::default()
    };
    let c = cfg.candidates(&["libnvinfer_plugin.so.10"]);
    assert_eq!(
        paths(&c),
        [
            "/same/libnvinfer_plugin.so.10",
            "/usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.10",
            "/other/libnvinfer_plugin.so.10"
        ]
    );
    assert_eq!(c[1].origin, Origin::LdLibraryPath);
}

#[test]
fn full_runtime_everywhere_before_lean_before_dispatch() {
    let cfg = SearchConfig {
        trt_lib_dirs: vec![p("/trt")],
        dynamic_loader: true,
        python_lib_dirs: vec![p("/sp/tensorrt_lean_libs")],
        ..SearchConfig::default()
    };
    let c = cfg.tensorrt_candidates(&[10]);
    let got: Vec<(String, Option<RuntimeFlavor>, Option<u32>)> = c
        .iter()
        .map(|c| (c.candidate.path.display().to_string(), c.flavor, c.major))
        .collect();
    use RuntimeFlavor::*;
    let want = [
        ("/trt/libnvinfer.so.10", Full),
        ("libnvinfer.so.10", Full),
        ("/sp/tensorrt_lean_libs/libnvinfer.so.10", Full),
        ("/trt/libnvinfer_lean.so.10", Lean),
        ("libnvinfer_lean.so.10", Lean),
        ("/sp/tensorrt_lean_libs/libnvinfer_lean.so.10", Lean),
        ("/trt/libnvinfer_dispatch.so.10", Dispatch),
        ("libnvinfer_dispatch.so.10", Dispatch),
        ("/sp/tensorrt_lean_libs/libnvinfer_dispatch.so.10", Dispatch),
    ];
    let want: Vec<(String, Option<RuntimeFlavor>, Option<u32>)> = want
        .iter()
        .map(|(p, f)| (p.to_string(), Some(*f), Some(10)))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn several_majors_are_tried_per_location_in_the_given_order() {
    let cfg = SearchConfig::only_dirs([p("/trt")]);
    let got: Vec<String> = cfg
        .tensorrt_candidates(&DEFAULT_TRT_MAJORS)
        .iter()
        .map(|c| c.candidate.path.display().to_string())
        .collect();
    assert_eq!(
        got,
        [
            "/trt/libnvinfer.so.11",
            "/trt/libnvinfer.so.10",
            "/trt/libnvinfer.so.8",
            "/trt/libnvinfer_lean.so.11",
            "/trt/libnvinfer_lean.so.10",
            "/trt/libnvinfer_lean.so.8",
            "/trt/libnvinfer_dispatch.so.11",
            "/trt/libnvinfer_dispatch.so.10",
            "/trt/libnvinfer_dispatch.so.8",
        ]
    );
}

#[test]
fn trt_library_is_the_only_nvinfer_candidate_and_its_dir_comes_first_for_the_rest() {
    let cfg = SearchConfig {
        trt_library: Some(p("/opt/x/libnvinfer_lean.so.11")),
        ..full_config()
    };
    let c = cfg.tensorrt_candidates(&[10]);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].candidate.path, p("/opt/x/libnvinfer_lean.so.11"));
    assert_eq!(c[0].candidate.origin, Origin::TrtLibrary);
    assert_eq!(c[0].flavor, Some(RuntimeFlavor::Lean));
    assert_eq!(c[0].major, Some(11));

    let parser = cfg.candidates(&["libnvonnxparser.so.11"]);
    assert_eq!(parser[0].path, p("/opt/x/libnvonnxparser.so.11"));
    assert_eq!(parser[0].origin, Origin::TrtLibraryDir);
    assert_eq!(parser[1].path, p("/trt/libnvonnxparser.so.11"));

    let renamed = SearchConfig {
        trt_library: Some(p("/opt/x/runtime.so")),
        ..SearchConfig::default()
    };
    let c = renamed.tensorrt_candidates(&[10]);
    assert_eq!((c[0].flavor, c[0].major), (None, None));
}

fn env_of(pairs: &[(&str, OsString)]) -> impl Fn(&str) -> Option<OsString> {
    let map: HashMap<String, OsString> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn discover_reads_env_and_expands_layouts_and_site_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mk = |rel: &str| {
        let d = root.join(rel);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    // Layouts.
    let target_sbsa = mk("usr/local/cuda/targets/sbsa-linux/lib");
    let target_x86 = mk("usr/local/cuda/targets/x86_64-linux/lib");
    mk("usr/local/cuda/targets/no-lib-here");
    // Site-packages in every supported place, in reverse of the expected order to prove ordering.
    let pyenv_trt = mk("root/.pyenv/versions/3.11.9/lib/python3.11/site-packages/tensorrt_libs");
    let home = mk("home/u");
    let user_nv = mk("home/u/.local/lib/python3.10/site-packages/nvidia/cu13/lib");
    let local_dist = mk("usr/local/lib/python3.12/dist-packages/tensorrt_dispatch_libs");
    let local_site = mk("usr/local/lib/python3.12/site-packages/nvidia/cuda_runtime/lib");
    let usr_dist = mk("usr/lib/python3/dist-packages/tensorrt_lean_libs");
    let pp = mk("pp");
    let pp_trt = mk("pp/tensorrt_libs");
    let venv = mk("venv");
    let venv_lean = mk("venv/lib/python3.12/site-packages/tensorrt_lean_libs");
    let venv_nv_a = mk("venv/lib/python3.12/site-packages/nvidia/a/lib");
    let venv_nv_b = mk("venv/lib/python3.12/site-packages/nvidia/b/lib");
    mk("venv/lib/python3.12/site-packages/nvidia/c"); // no lib/ inside: skipped
    mk("venv/lib/python3.12/site-packages/other_libs");

    let env = env_of(&[
        ("TRT_LIBRARY", "/x/libnvinfer_lean.so.11".into()),
        ("TRT_LIB_DIR", "/t1:/t2".into()),
        ("CUDA_LIB_DIR", "/c1".into()),
        ("LD_LIBRARY_PATH", "/l1::/l2".into()),
        ("VIRTUAL_ENV", venv.clone().into_os_string()),
        ("PYTHONPATH", pp.clone().into_os_string()),
        ("HOME", home.into_os_string()),
        ("UNRELATED", "/nope".into()),
    ]);
    let cfg = SearchConfig::discover(&env, root);
    assert_eq!(cfg.trt_library, Some(p("/x/libnvinfer_lean.so.11")));
    assert_eq!(cfg.trt_lib_dirs, [p("/t1"), p("/t2")]);
    assert_eq!(cfg.cuda_lib_dirs, [p("/c1")]);
    assert_eq!(
        cfg.ld_library_path,
        [p("/l1"), p("/l2")],
        "empty LD_LIBRARY_PATH entries are dropped"
    );
    assert!(cfg.dynamic_loader);
    assert_eq!(
        cfg.system_dirs,
        [
            root.join("usr/lib/x86_64-linux-gnu"),
            root.join("usr/lib/aarch64-linux-gnu"),
            root.join("usr/local/tensorrt/lib"),
            root.join("usr/local/cuda/lib64"),
            target_sbsa,
            target_x86,
        ]
    );
    assert_eq!(
        cfg.python_lib_dirs,
        [
            venv_lean, venv_nv_a, venv_nv_b, pp_trt, usr_dist, local_site, local_dist, user_nv,
            pyenv_trt
        ]
    );
}

#[test]
fn discover_with_empty_environment_still_lists_the_fixed_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = SearchConfig::discover(&|_| None, tmp.path());
    assert_eq!(cfg.trt_library, None);
    assert!(
        cfg.trt_lib_dirs.is_empty()
            && cfg.cuda_lib_dirs.is_empty()
            && cfg.ld_library_path.is_empty()
    );
    assert_eq!(cfg.system_dirs.len(), 4, "{:?}", cfg.system_dirs);
    assert!(cfg.python_lib_dirs.is_empty());
}

#[test]
fn wildcard_matching() {
    assert!(wildcard_match("python3*", "python3.12"));
    assert!(wildcard_match("python3*", "python3"));
    assert!(!wildcard_match("python3*", "python2.7"));
    assert!(wildcard_match("cu*", "cu13"));
    assert!(wildcard_match("*", "anything"));
    assert!(wildcard_match("a*b*c", "aXbYc"));
    assert!(!wildcard_match("a*b*c", "aXcYb"));
    assert!(!wildcard_match("ab*ba", "aba"));
}

// ----- opening (no libraries present) -----------------------------------------------------------------------

#[test]
fn a_miss_lists_every_path_tried_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let cfg = SearchConfig {
        trt_lib_dirs: vec![a.clone()],
        python_lib_dirs: vec![b.clone()],
        ..SearchConfig::default()
    };
    let err = open_tensorrt(&cfg, Some(Version::new(10, 3, 0))).unwrap_err();
    let Error::LibraryNotFound {
        library,
        tried,
        hint,
    } = &err
    else {
        panic!("unexpected {err:?}")
    };
    assert_eq!(
        library,
        "libnvinfer.so.10 / libnvinfer_lean.so.10 / libnvinfer_dispatch.so.10"
    );
    let want: Vec<PathBuf> = [
        "libnvinfer.so.10",
        "libnvinfer_lean.so.10",
        "libnvinfer_dispatch.so.10",
    ]
    .iter()
    .flat_map(|n| [a.join(n), b.join(n)])
    .collect();
    assert_eq!(tried, &want);
    assert!(
        hint.contains("TRT_LIBRARY") && hint.contains("TRT_LIB_DIR"),
        "{hint}"
    );
    let msg = err.to_string();
    let mut last = 0;
    for path in &want {
        let at = msg
            .find(&path.display().to_string())
            .unwrap_or_else(|| panic!("{} missing in {msg}", path.display()));
        assert!(at >= last, "{} out of order in {msg}", path.display());
        last = at;
    }
}

#[test]
fn cudart_miss_names_all_sonames_and_cuda_lib_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = SearchConfig {
        cuda_lib_dirs: vec![tmp.path().to_owned()],
        ..SearchConfig::default()
    };
    let err = open_cudart(&cfg).unwrap_err();
    let msg = err.to_string();
    for name in CUDART_NAMES {
        assert!(
            msg.contains(&tmp.path().join(name).display().to_string()),
            "{name} missing: {msg}"
        );
    }
    assert!(msg.contains("CUDA_LIB_DIR"), "{msg}");
}

#[test]
fn trt_library_pointing_nowhere_is_an_error_not_a_fallback() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("libnvinfer.so.10");
    let cfg = SearchConfig {
        trt_library: Some(missing.clone()),
        dynamic_loader: true,
        ..SearchConfig::default()
    };
    let err = open_tensorrt(&cfg, None).unwrap_err();
    let Error::LibraryOpen { path, message } = &err else {
        panic!("unexpected {err:?}")
    };
    assert_eq!(path, &missing);
    assert!(message.contains("TRT_LIBRARY"), "{message}");
}

#[test]
fn a_file_the_loader_refuses_is_reported_with_its_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let bogus = tmp.path().join("libnvinfer.so.10");
    std::fs::write(&bogus, b"this is not an ELF file").unwrap();
    let cfg = SearchConfig::only_dirs([tmp.path().to_owned()]);
    let err = open_tensorrt(&cfg, Some(Version::new(10, 3, 0))).unwrap_err();
    let Error::LibraryOpen { path, message } = &err else {
        panic!("unexpected {err:?}")
    };
    assert_eq!(path, &bogus);
    // The loader's own reason, plus the full list of what was tried.
    assert!(
        message.contains("libnvinfer.so.10") && message.contains("paths tried"),
        "{message}"
    );
    assert!(
        message.contains(
            &tmp.path()
                .join("libnvinfer_dispatch.so.10")
                .display()
                .to_string()
        ),
        "{message}"
    );
}

#[test]
fn parser_and_plugins_refuse_a_lean_runtime_with_an_explanation() {
    let trt = TensorRtLibs::stand_in(RuntimeFlavor::Lean, Version::new(11, 4, 0));
    for err in [
        open_onnx_parser(&SearchConfig::default(), &trt).unwrap_err(),
        open_plugins(&SearchConfig::default(), &trt, None).unwrap_err(),
    ] {
        let Error::Unsupported { what, version } = &err else {
            panic!("unexpected {err:?}")
        };
        assert_eq!(version, "11.4.0");
        assert!(
            what.contains("lean") && what.contains("libnvinfer.so.11"),
            "{what}"
        );
    }
}

#[test]
fn symbol_lookup_on_a_real_library() {
    // SAFETY: libc.so.6 is already loaded in this process.
    let lib = unsafe { LoadedLibrary::open(Path::new("libc.so.6")) }.expect("libc opens");
    assert!(lib.symbol_addr("strlen").is_ok());
    let err = lib.symbol_addr("createInferRuntime_INTERNAL").unwrap_err();
    assert!(
        matches!(&err, Error::SymbolMissing { symbol, .. } if symbol == "createInferRuntime_INTERNAL")
    );
    assert!(err.to_string().contains("libc.so.6"), "{err}");
    // SAFETY: `size_t strlen(const char*)`; called on a NUL-terminated literal.
    let strlen: unsafe extern "C" fn(*const c_char) -> usize =
        unsafe { lib.function("strlen") }.unwrap();
    // SAFETY: NUL-terminated string.
    assert_eq!(unsafe { strlen(c"hello".as_ptr()) }, 5);
}

#[test]
fn bare_name_opens_report_the_real_file() {
    // SAFETY: libc.so.6 is already loaded in this process.
    let mut lib = unsafe { LoadedLibrary::open(Path::new("libc.so.6")) }.expect("libc opens");
    lib.resolve_real_path("strlen");
    assert!(lib.path().is_absolute(), "{}", lib.path().display());
    assert!(
        lib.path().to_string_lossy().contains("libc"),
        "{}",
        lib.path().display()
    );
}

// ----- real libraries (env-provided; run with -- --ignored) -------------------------------------------------

fn required_env(var: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => panic!(
            "{var} is not set: this test needs the real library (e.g. {var}=/path/to/it); \
             .ci/run sets TRT_TEST_LEAN_LIB, TRT_TEST_DISPATCH_LIB and TRT_TEST_CUDART_DIR"
        ),
    }
}

fn assert_runtime_without_builder(trt: &TensorRtLibs, flavor: RuntimeFlavor, file: &Path) {
    assert_eq!(trt.flavor, flavor);
    assert_eq!(trt.version.major, 11, "version {}", trt.version);
    // The version must equal what the library itself says through the part getters (10.0+).
    // SAFETY: `int32_t getInferLibMinorVersion() noexcept`, no preconditions; library kept alive by `trt`.
    let minor: VersionFn = unsafe { trt.nvinfer.function("getInferLibMinorVersion") }.unwrap();
    // SAFETY: as above.
    assert_eq!(i64::from(unsafe { minor() }), i64::from(trt.version.minor));
    // SAFETY: as above.
    let raw = unsafe { (trt.entry.get_infer_lib_version)() };
    assert_eq!(Version::decode(raw).unwrap(), trt.version);
    assert!(
        trt.entry.create_infer_builder.is_none(),
        "{flavor} runtime must not export the builder"
    );
    assert!(!trt.nvinfer.has_symbol("createInferBuilder_INTERNAL"));
    assert!(trt.nvinfer.has_symbol("createInferRuntime_INTERNAL"));
    assert_eq!(trt.nvinfer.path(), file);
}

#[test]
#[ignore = "needs TRT_TEST_LEAN_LIB (TensorRT 11.x lean runtime)"]
fn reallib_lean_runtime_opens_through_trt_library() {
    let file = required_env("TRT_TEST_LEAN_LIB");
    let cfg = SearchConfig {
        trt_library: Some(file.clone()),
        ..SearchConfig::default()
    };
    let trt = open_tensorrt(&cfg, None).expect("lean runtime opens");
    assert_runtime_without_builder(&trt, RuntimeFlavor::Lean, &file);
    assert_eq!(
        trt.version.to_string(),
        "11.4.0",
        "the PyPI wheel in CI is 11.4.0"
    );
    // Same library when the compiled headers are an 11.x release.
    let trt = open_tensorrt(&cfg, Some(Version::new(11, 1, 0)))
        .expect("11.1 headers accept an 11.4 runtime");
    assert_eq!(trt.flavor, RuntimeFlavor::Lean);
}

#[test]
#[ignore = "needs TRT_TEST_LEAN_LIB (TensorRT 11.x lean runtime)"]
fn reallib_lean_runtime_is_found_as_a_fallback_when_no_full_runtime_exists() {
    let file = required_env("TRT_TEST_LEAN_LIB");
    let dir = file.parent().unwrap().to_owned();
    let cfg = SearchConfig::only_dirs([dir.clone()]);
    let trt =
        open_tensorrt(&cfg, Some(Version::new(11, 1, 0))).expect("lean runtime found by directory");
    assert_eq!(trt.flavor, RuntimeFlavor::Lean);
    assert_eq!(trt.nvinfer.path(), dir.join("libnvinfer_lean.so.11"));
}

#[test]
#[ignore = "needs TRT_TEST_LEAN_LIB (TensorRT 11.x lean runtime)"]
fn reallib_runtime_with_another_major_than_compiled_is_a_version_mismatch() {
    let file = required_env("TRT_TEST_LEAN_LIB");
    let cfg = SearchConfig {
        trt_library: Some(file.clone()),
        ..SearchConfig::default()
    };
    let err = open_tensorrt(&cfg, Some(Version::new(10, 3, 0))).unwrap_err();
    let Error::VersionMismatch {
        compiled,
        loaded,
        path,
    } = &err
    else {
        panic!("unexpected {err:?}")
    };
    assert!(compiled.contains("10.3.0"), "{compiled}");
    assert_eq!(loaded, "TensorRT 11.4.0");
    assert_eq!(path, &file);
    let msg = err.to_string();
    assert!(msg.contains("10.3.0") && msg.contains("11.4.0"), "{msg}");

    // A file whose name promises another major than the library reports is caught too.
    let tmp = tempfile::tempdir().unwrap();
    let liar = tmp.path().join("libnvinfer_lean.so.10");
    std::os::unix::fs::symlink(&file, &liar).unwrap();
    let cfg = SearchConfig {
        trt_library: Some(liar.clone()),
        ..SearchConfig::default()
    };
    let err = open_tensorrt(&cfg, None).unwrap_err();
    assert!(
        matches!(&err, Error::VersionMismatch { compiled, loaded, .. } if compiled.contains("10") && loaded == "TensorRT 11.4.0"),
        "{err:?}"
    );
}

#[test]
#[ignore = "needs TRT_TEST_RTX_LIB (TensorRT for RTX)"]
fn rtx_library_versions_are_decoded_and_checked_against_the_compiled_headers() {
    let file = required_env("TRT_TEST_RTX_LIB");
    let cfg = SearchConfig {
        trt_library: Some(file.clone()),
        ..SearchConfig::default()
    };
    // Nothing compiled: any supported release is accepted, and RTX's own numbers are read.
    let trt = open_tensorrt(&cfg, None).expect("TensorRT-RTX opens");
    assert!(trt.version.is_rtx(), "{:?}", trt.version);
    assert_eq!(trt.version.major, 1);
    assert!(trt.version.minor >= 6, "{:?}", trt.version);
    assert_eq!(trt.flavor, RuntimeFlavor::Full);
    assert!(trt.entry.create_infer_builder.is_some());
    // The integer it reports is RTX's own encoding, which the TensorRT decoder refuses.
    // SAFETY: `int32_t getInferLibVersion() noexcept`, no arguments.
    let raw = unsafe { (trt.entry.get_infer_lib_version)() };
    assert_eq!(Version::decode_rtx(raw).unwrap(), trt.version);
    assert!(Version::decode(raw).is_err(), "{raw}");
    // TensorRT 11.4 headers cannot drive it, nor can headers of a newer RTX minor.
    for compiled in [
        Version::new(11, 4, 0),
        Version::rtx(1, trt.version.minor + 1, 0),
    ] {
        let err = open_tensorrt(&cfg, Some(compiled)).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::VersionMismatch { .. }), "{err:?}");
        assert!(
            msg.contains(&compiled.label()) && msg.contains("TensorRT-RTX 1."),
            "{msg}"
        );
    }
    // Headers of the same or an older minor can.
    assert!(open_tensorrt(&cfg, Some(Version::rtx(1, trt.version.minor, 0))).is_ok());
    assert!(open_tensorrt(&cfg, Some(Version::rtx(1, 6, 0))).is_ok());
    // Its parser sits beside it under its own name.
    let parser = open_onnx_parser(
        &SearchConfig::only_dirs([file.parent().unwrap().to_owned()]),
        &trt,
    )
    .expect("the RTX parser opens");
    assert!(parser
        .lib
        .path()
        .ends_with("libtensorrt_onnxparser_rtx.so.1"));
}

#[test]
#[ignore = "needs TRT_TEST_DISPATCH_LIB (TensorRT 11.x dispatch runtime)"]
fn reallib_dispatch_runtime_opens_through_trt_library() {
    let file = required_env("TRT_TEST_DISPATCH_LIB");
    let cfg = SearchConfig {
        trt_library: Some(file.clone()),
        ..SearchConfig::default()
    };
    let trt = open_tensorrt(&cfg, None).expect("dispatch runtime opens");
    assert_runtime_without_builder(&trt, RuntimeFlavor::Dispatch, &file);
    assert_eq!(
        trt.version.to_string(),
        "11.4.0",
        "the PyPI wheel in CI is 11.4.0"
    );
    let err = open_onnx_parser(&cfg, &trt).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
}

#[test]
#[ignore = "needs TRT_TEST_DISPATCH_LIB (TensorRT 11.x dispatch runtime)"]
fn reallib_dispatch_runtime_under_an_unrecognized_name_is_classified_by_its_exports() {
    let file = required_env("TRT_TEST_DISPATCH_LIB");
    let tmp = tempfile::tempdir().unwrap();
    let renamed = tmp.path().join("custom_runtime.so");
    std::os::unix::fs::symlink(&file, &renamed).unwrap();
    let cfg = SearchConfig {
        trt_library: Some(renamed.clone()),
        ..SearchConfig::default()
    };
    let trt = open_tensorrt(&cfg, None).expect("renamed runtime opens");
    // No builder export: not the full runtime. Lean and dispatch cannot be told apart by exports.
    assert_eq!(trt.flavor, RuntimeFlavor::Lean);
    assert!(trt.entry.create_infer_builder.is_none());
}

#[test]
#[ignore = "needs TRT_TEST_CUDART_DIR (directory with libcudart.so.13/12/11.0)"]
fn reallib_cudart_opens_through_cuda_lib_dir() {
    let dir = required_env("TRT_TEST_CUDART_DIR");
    let cfg = SearchConfig {
        cuda_lib_dirs: vec![dir.clone()],
        ..SearchConfig::default()
    };
    let rt = open_cudart(&cfg).expect("libcudart opens");
    assert_eq!(rt.path().parent(), Some(dir.as_path()));
    let file = rt
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let major_in_name: i32 = file
        .strip_prefix("libcudart.so.")
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let version = rt
        .runtime_version()
        .expect("cudaRuntimeGetVersion works without a GPU");
    assert_eq!(
        version / 1000,
        major_in_name,
        "runtime version {version} vs {file}"
    );
}

#[test]
fn accepted_majors_read_as_a_sentence() {
    assert_eq!(
        or_list(&wanted_releases(None)),
        "TensorRT 11.x, TensorRT 10.x, TensorRT 8.x or TensorRT-RTX 1.x"
    );
    assert_eq!(or_list(&[(Product::TensorRt, 10)]), "TensorRT 10.x");
    assert_eq!(or_list(&[]), "");
}

// ----- TensorRT for RTX -------------------------------------------------------------------------------------

#[test]
fn rtx_versions_decode_from_their_own_encoding() {
    // getInferLibVersion() of TensorRT-RTX 1.7.1 is 10701: in the band the TensorRT decoder refuses.
    assert!(Version::decode(10701).is_err());
    assert_eq!(Version::decode_rtx(10701).unwrap(), Version::rtx(1, 7, 1));
    assert_eq!(Version::decode_rtx(10601).unwrap(), Version::rtx(1, 6, 1));
    assert_eq!(Version::rtx(1, 7, 1).encode(), 10701);
    assert!(Version::decode_rtx(100300).is_err());
    assert_eq!(Version::rtx(1, 7, 1).label(), "TensorRT-RTX 1.7.1");
    assert_eq!(Version::new(10, 3, 0).label(), "TensorRT 10.3.0");
    // The parser has numbers of its own (200 is 0.2.0 in RTX 1.7).
    assert_eq!(
        Version::decode_rtx_parser_from(200, "test").unwrap(),
        Version::rtx(0, 2, 0)
    );
}

#[test]
fn serving_needs_the_same_product_and_major_and_no_older_minor() {
    let rtx17 = Version::rtx(1, 7, 1);
    assert!(rtx17.serves(Version::rtx(1, 7, 0)));
    assert!(rtx17.serves(Version::rtx(1, 6, 1)));
    assert!(!Version::rtx(1, 6, 1).serves(rtx17));
    assert!(!Version::new(1, 7, 1).serves(rtx17), "product differs");
    assert!(!Version::new(10, 3, 0).serves(Version::new(10, 16, 0)));
    assert!(Version::new(10, 16, 0).serves(Version::new(10, 3, 0)));
    assert!(!Version::new(11, 1, 0).serves(Version::new(10, 16, 0)));
}

#[test]
fn rtx_file_names_are_recognized() {
    assert_eq!(
        Product::from_file_name("libtensorrt_rtx.so.1"),
        Some((Product::Rtx, RuntimeFlavor::Full, Some(1)))
    );
    assert_eq!(
        Product::from_file_name("libtensorrt_rtx.so"),
        Some((Product::Rtx, RuntimeFlavor::Full, None))
    );
    assert_eq!(
        Product::from_file_name("libnvinfer_lean.so.11"),
        Some((Product::TensorRt, RuntimeFlavor::Lean, Some(11)))
    );
    assert_eq!(Product::from_file_name("libtensorrt_rtxx.so.1"), None);
    assert_eq!(
        Product::from_file_name("libtensorrt_onnxparser_rtx.so.1"),
        None
    );
    assert_eq!(
        Product::Rtx.parser_file_name(1),
        "libtensorrt_onnxparser_rtx.so.1"
    );
    assert_eq!(Product::Rtx.runtime_file_name(RuntimeFlavor::Lean, 1), None);
}

#[test]
fn rtx_is_searched_after_every_tensorrt_release_and_alone_when_compiled() {
    let cfg = SearchConfig::only_dirs([p("/d")]);
    let names = |wanted: &[(Product, u32)]| -> Vec<String> {
        cfg.runtime_candidates(wanted)
            .iter()
            .map(|c| c.candidate.path.display().to_string())
            .collect()
    };
    let all = names(&wanted_releases(None));
    assert_eq!(
        all,
        [
            "/d/libnvinfer.so.11",
            "/d/libnvinfer.so.10",
            "/d/libnvinfer.so.8",
            "/d/libtensorrt_rtx.so.1",
            "/d/libnvinfer_lean.so.11",
            "/d/libnvinfer_lean.so.10",
            "/d/libnvinfer_lean.so.8",
            "/d/libnvinfer_dispatch.so.11",
            "/d/libnvinfer_dispatch.so.10",
            "/d/libnvinfer_dispatch.so.8",
        ]
    );
    assert_eq!(
        names(&wanted_releases(Some(Version::rtx(1, 7, 1)))),
        ["/d/libtensorrt_rtx.so.1"]
    );
    let rtx = cfg.runtime_candidates(&[(Product::Rtx, 1)]);
    assert_eq!(rtx[0].product, Some(Product::Rtx));
    assert_eq!(rtx[0].major, Some(1));
}

#[test]
fn the_project_cache_is_searched_last_and_follows_trt_yolo_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cache = root.join("cache");
    let rtx = cache.join("nvidia/root/tensorrt_rtx_libs");
    let cudart = cache.join("nvidia/root/nvidia/cu13/lib");
    std::fs::create_dir_all(&rtx).unwrap();
    std::fs::create_dir_all(&cudart).unwrap();
    let env = env_of(&[("TRT_YOLO_CACHE", cache.clone().into_os_string())]);
    let cfg = SearchConfig::discover(&env, root);
    assert_eq!(cfg.cache_lib_dirs, [rtx.clone(), cudart]);
    let c = cfg.candidates(&["libtensorrt_rtx.so.1"]);
    let last = c.last().unwrap();
    assert_eq!(last.origin, Origin::ProjectCache);
    // Without TRT_YOLO_CACHE: ~/.cache/trt-yolo.
    let home = root.join("home");
    let home_rtx = home.join(".cache/trt-yolo/nvidia/root/tensorrt_rtx_libs");
    std::fs::create_dir_all(&home_rtx).unwrap();
    let env = env_of(&[("HOME", home.into_os_string())]);
    assert_eq!(
        SearchConfig::discover(&env, root).cache_lib_dirs,
        [home_rtx]
    );
}

#[test]
fn cudart_newer_than_the_driver_is_passed_over() {
    assert!(
        cudart_fits_driver(12040, 12020),
        "minor-version compatibility"
    );
    assert!(cudart_fits_driver(11080, 12020));
    assert!(!cudart_fits_driver(13050, 12080));
    assert!(cudart_fits_driver(13050, 13000));
    assert!(
        cudart_fits_driver(13050, 0),
        "no driver: keep the runtime, the device check reports it"
    );
}
