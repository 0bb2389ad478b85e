//! `trt-build` end to end, without TensorRT: argument parsing, dry runs on generated YOLO-style models, recipes,
//! bad inputs, exit codes, and atomic writes under SIGKILL. Tests named `reallib_` need the real TensorRT lean
//! runtime and libcudart (`TRT_TEST_LEAN_LIB`, `TRT_TEST_CUDART_DIR`) and run with `-- --ignored reallib_`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{json, sample, stderr};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_trt-build"))
}

/// A command with no TensorRT to find (see [`common::no_trt_cmd`]).
fn cmd(dir: &Path) -> Command {
    common::no_trt_cmd(bin(), dir)
}

fn run(dir: &Path, args: &[&str]) -> Output {
    cmd(dir).args(args).output().expect("run trt-build")
}

/// [`run`] with the arguments of `line`, split at whitespace.
fn run_line(dir: &Path, line: &str) -> Output {
    run(dir, &line.split_whitespace().collect::<Vec<_>>())
}

/// Asserts a failure: the exit code, one `trt-build: error:` line naming `needle`, no panic.
fn assert_fails(o: &Output, code: i32, needle: &str) {
    common::assert_fails(o, "trt-build", code, needle);
}

#[test]
fn help_documents_exit_codes_and_trtexec_spellings() {
    let o = Command::new(bin()).arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "Exit codes: 0 ok, 1",
        "3 TensorRT",
        "--saveEngine",
        "--minShapes",
        "--memPoolSize=workspace",
        "--inputIOFormats",
        "--tacticSources",
        "--exportLayerInfo",
        "Several optimization profiles",
    ] {
        assert!(out.contains(needle), "{needle} missing from --help");
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["m.onnx", "--no-such-flag"][..],
        &["m.onnx", "--opt-level", "9"],
        &["m.onnx", "-v", "-q"],
    ] {
        let o = run(dir.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn dry_run_plans_each_release_on_a_generated_yolov7_tiny() {
    let dir = tempfile::tempdir().unwrap();
    let m = sample(dir.path(), "yolov7-tiny", "v7tiny.onnx");
    let source = yolo_onnx::Model::load(&m).unwrap();
    let nodes_before = source.graph().nodes().len();

    // TensorRT 10.3: builder flags, no FP16 pass; re-parameterization runs and is verified.
    let o = run_line(
        dir.path(),
        "v7tiny.onnx --fp16 --dry-run --json --trt-release 10.3",
    );
    common::assert_ok(&o);
    let r = json(&o);
    assert_eq!(r["status"], "planned");
    assert_eq!(r["tensorrt"]["version"], "10.3.0");
    assert_eq!(r["tensorrt"]["source"], "--trt-release");
    assert_eq!(r["precision_plan"]["path"], "builder-flags");
    assert_eq!(r["precision_plan"]["builder_fp16"], true);
    assert_eq!(r["precision_plan"]["onnx_fp16_pass"], false);
    assert_eq!(r["precision_plan"]["progress_monitor"], true);
    let steps = r["pipeline"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0]["name"], "reparameterize");
    assert_eq!(steps[0]["verification"]["passed"], true);
    assert!(
        steps[0]["verification"]["min_cosine"].as_f64().unwrap() > 0.99999,
        "{}",
        steps[0]
    );
    // the summary reports the node count change, which must be a reduction on an unfused YOLOv7-tiny slice
    let summary = steps[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("nodes {nodes_before} -> ")),
        "{summary}"
    );
    assert_eq!(r["output"], "engines/out/v7tiny.fp16.gpu.engine");
    assert_eq!(r["sidecar"], "engines/out/v7tiny.fp16.gpu.engine.json");
    assert_eq!(r["model_sha256"].as_str().unwrap().len(), 64);
    assert!(
        !dir.path().join("engines").exists(),
        "a dry run writes no engine"
    );

    // TensorRT 11.1: no FP16 flag; the FP16 ONNX pass runs after re-parameterization, verified, strongly typed.
    let o = run_line(
        dir.path(),
        "v7tiny.onnx --fp16 --dry-run --json --trt-release 11.1 --emit-onnx fp16.onnx",
    );
    common::assert_ok(&o);
    let r = json(&o);
    assert_eq!(r["precision_plan"]["path"], "onnx-passes");
    assert_eq!(r["precision_plan"]["strongly_typed"], true);
    assert_eq!(r["precision_plan"]["builder_fp16"], false);
    let names: Vec<&str> = r["pipeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["reparameterize", "fp16"]);
    assert_eq!(r["pipeline"][1]["verification"]["passed"], true);
    let emitted = yolo_onnx::Model::load(dir.path().join("fp16.onnx")).unwrap();
    let fp16_inits = emitted
        .graph()
        .initializers()
        .iter()
        .filter(|t| t.data_type == 10)
        .count();
    assert!(fp16_inits > 0, "the emitted model holds FP16 weights");

    // TensorRT 8.6: spinner (no progress monitor).
    let o = run_line(
        dir.path(),
        "v7tiny.onnx --fp16 --dry-run --json --trt-release 8.6",
    );
    common::assert_ok(&o);
    assert_eq!(json(&o)["precision_plan"]["progress_monitor"], false);
}

#[test]
fn dry_run_text_plan_and_emitted_onnx_is_the_fused_model() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "yolov9", "v9.onnx");
    let o = run_line(
        dir.path(),
        "v9.onnx --dry-run --trt-release 10.3 --emit-onnx out/v9.fused.onnx -o e/v9.engine",
    );
    common::assert_ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Build plan (dry run)"), "{text}");
    assert!(text.contains("engine      e/v9.engine"), "{text}");
    let emitted = yolo_onnx::Model::load(dir.path().join("out/v9.fused.onnx")).unwrap();
    let original = yolo_onnx::Model::load(dir.path().join("v9.onnx")).unwrap();
    assert!(
        emitted.graph().nodes().len() < original.graph().nodes().len(),
        "re-parameterization removed nodes"
    );
    // --no-reparam emits the model unchanged
    let o = run_line(
        dir.path(),
        "v9.onnx --dry-run --no-reparam --emit-onnx same.onnx",
    );
    common::assert_ok(&o);
    let same = yolo_onnx::Model::load(dir.path().join("same.onnx")).unwrap();
    assert_eq!(same.graph().nodes().len(), original.graph().nodes().len());
}

#[test]
fn lint_warnings_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "repconv", "rep.onnx");
    let o = run(
        dir.path(),
        &["rep.onnx", "--dry-run", "--no-reparam", "--json"],
    );
    common::assert_ok(&o);
    let r = json(&o);
    let lint: Vec<String> = r["lint"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = yolo_onnx::passes::lint::lint(
        &yolo_onnx::Model::load(dir.path().join("rep.onnx")).unwrap(),
    )
    .iter()
    .map(|w| w.to_string())
    .collect();
    assert!(!expected.is_empty(), "an unfused RepConv model must lint");
    assert_eq!(lint.len(), expected.len());
    // after re-parameterization there is nothing left to warn about
    let o = run(dir.path(), &["rep.onnx", "--dry-run", "--json"]);
    let r = json(&o);
    assert!(
        r["lint"].as_array().unwrap().len() < expected.len(),
        "{}",
        r["lint"]
    );
}

#[test]
fn shapes_and_profiles_are_checked_against_the_model() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "yolov7-tiny", "m.onnx");
    let o = run(
        dir.path(),
        &["m.onnx", "--dry-run", "--shapes", "imgs:1x3x128x128"],
    );
    assert_fails(&o, 1, "unknown tensor `imgs`");
    let o = run(
        dir.path(),
        &["m.onnx", "--dry-run", "--shapes", "images:1x3x640x640"],
    );
    assert_fails(&o, 1, "dimension 2 is fixed to 128");
    let o = run_line(
        dir.path(),
        "m.onnx --dry-run --minShapes=images:1x3x128x256 \
         --optShapes=images:1x3x128x128 --maxShapes=images:1x3x128x128",
    );
    assert_fails(&o, 1, "min 256 > max 128");
    let o = run_line(
        dir.path(),
        "m.onnx --dry-run --shapes images:1x3x128x128 --json",
    );
    common::assert_ok(&o);
    assert_eq!(
        json(&o)["profiles"][0]["inputs"][0]["max"],
        serde_json::json!([1, 3, 128, 128])
    );
}

#[test]
fn bad_model_files_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = sample(dir.path(), "conv-bn", "good.onnx");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(dir.path().join("truncated.onnx"), &bytes[..bytes.len() / 2]).unwrap();
    let mut noise = Vec::with_capacity(4096);
    let mut x: u32 = 0x1234_5678;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push((x >> 24) as u8);
    }
    std::fs::write(dir.path().join("random.onnx"), &noise).unwrap();
    std::fs::write(dir.path().join("empty.onnx"), b"").unwrap();

    assert_fails(
        &run(dir.path(), &["missing.onnx", "--dry-run"]),
        1,
        "missing.onnx",
    );
    assert_fails(
        &run(dir.path(), &["truncated.onnx", "--dry-run"]),
        1,
        "truncated.onnx",
    );
    assert_fails(
        &run(dir.path(), &["random.onnx", "--dry-run"]),
        1,
        "random.onnx",
    );
    assert_fails(&run(dir.path(), &["empty.onnx", "--dry-run"]), 1, "empty");
    assert_fails(&run(dir.path(), &[".", "--dry-run"]), 1, "directory");
}

#[test]
fn options_the_release_cannot_honor_name_option_and_release() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "conv-bn", "m.onnx");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--fp16", "--useDLACore=0", "--trt-release", "11.1"],
            "--dla-core cannot be honored by TensorRT 11.1.0",
        ),
        (
            &["--builderOptimizationLevel=5", "--trt-release", "8.5"],
            "--opt-level cannot be honored by TensorRT 8.5.0",
        ),
        (
            &["--versionCompatible", "--trt-release", "8.5"],
            "--version-compatible cannot be honored by TensorRT 8.5.0",
        ),
        (
            &["--memPoolSize=tacticSharedMem:1M", "--trt-release", "8.6"],
            "tacticSharedMem cannot be honored by TensorRT 8.6.0",
        ),
        (
            &[
                "--fp16",
                "--layerPrecisions=conv:fp16",
                "--trt-release",
                "11.1",
            ],
            "--layer-precisions conv:fp16 cannot be honored by TensorRT 11.1.0",
        ),
        (
            &["--int8", "--trt-release", "10.3"],
            "INT8 needs calibration data",
        ),
        (&["--layerPrecisions=conv:fp8"], "`fp8`"),
    ];
    for (args, needle) in cases {
        let mut a = vec!["m.onnx", "--dry-run"];
        a.extend_from_slice(args);
        assert_fails(&run(dir.path(), &a), 1, needle);
    }
}

#[test]
fn int8_calibration_with_an_empty_calibration_directory_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "repconv", "m.onnx");
    std::fs::create_dir(dir.path().join("calib")).unwrap();
    for release in ["8.5", "10.3", "11.1"] {
        let o = run(
            dir.path(),
            &[
                "m.onnx",
                "--int8",
                "--calib",
                "calib",
                "--dry-run",
                "--trt-release",
                release,
            ],
        );
        assert_fails(&o, 1, "calibration data calib: no images");
    }
    // the options are validated first
    assert_fails(
        &run(
            dir.path(),
            &["m.onnx", "--int8", "--calib", "nope", "--dry-run"],
        ),
        1,
        "no such directory",
    );
    // a calibration cache alone needs no calibration on <= 10.x (when it covers the network), and is refused on 11.x
    std::fs::write(dir.path().join("c.cache"), "TRT-8503-EntropyCalibration2\n").unwrap();
    assert_fails(
        &run_line(
            dir.path(),
            "m.onnx --int8 --calib-cache c.cache --dry-run --trt-release 8.5",
        ),
        1,
        "has no range for 10 of the 10 tensors",
    );
    // A cache that names every tensor of the fused network (written here from the fused graph) is accepted.
    let mut fused = yolo_onnx::Model::load(dir.path().join("m.onnx")).unwrap();
    yolo_onnx::fuse(&mut fused, &Default::default()).unwrap();
    let cache = yolo_onnx::quant::CalibrationCache {
        version: 8503,
        algorithm: yolo_onnx::quant::CacheAlgorithm::Entropy2,
        scales: yolo_onnx::quant::calibrated_tensors(&fused)
            .unwrap()
            .into_iter()
            .map(|n| (n, 0.01))
            .collect(),
    };
    std::fs::write(dir.path().join("c.cache"), cache.to_text()).unwrap();
    let o = run_line(
        dir.path(),
        "m.onnx --int8 --calib-cache c.cache --dry-run --json --trt-release 8.5",
    );
    common::assert_ok(&o);
    assert_eq!(json(&o)["precision_plan"]["calibrator_from_cache"], true);
    let o = run_line(
        dir.path(),
        "m.onnx --int8 --calib-cache c.cache --dry-run --trt-release 11.1",
    );
    assert_fails(&o, 1, "--calib-cache cannot be honored by TensorRT 11.1.0");
}

/// The calibration cache written by `--calib-cache` carries the version of the release the build targets, so that
/// release reads it as-is (TensorRT skips a cache stamped with another version).
#[test]
fn calibration_cache_header_names_the_target_release() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sample(d, "yolov7-tiny", "m.onnx");
    common::calib_images(d, 4, 7);
    for (release, header) in [
        ("8.5.3", "TRT-8503-"),
        ("10.3", "TRT-100300-"),
        ("8.6.1", "TRT-8601-"),
    ] {
        let o = run_line(
            d,
            &format!("m.onnx --int8 --calib calib --calib-batches 1 --calib-cache c.cache --dry-run --trt-release {release}"),
        );
        common::assert_ok(&o);
        let text = std::fs::read_to_string(d.join("c.cache")).unwrap();
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(header) && first.ends_with("MinMaxCalibration"),
            "{release}: {first}"
        );
        assert!(text.lines().count() > 2, "one line per tensor: {text}");
    }
}

#[test]
fn without_tensorrt_the_build_does_what_it_can_then_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "yolov7-tiny", "m.onnx");
    let o = run_line(
        dir.path(),
        "m.onnx --fp16 --trt-release 10.3 --emit-onnx tensorrt-input.onnx --json",
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("TensorRT cannot build engines on this machine"),
        "{err}"
    );
    assert!(err.contains("TRT_LIBRARY"), "names what to set: {err}");
    let r = json(&o);
    assert_eq!(r["status"], "missing-tensorrt");
    assert_eq!(
        r["pipeline"][0]["name"], "reparameterize",
        "the ONNX pipeline ran first"
    );
    assert!(dir.path().join("tensorrt-input.onnx").exists());
    assert!(
        !dir.path().join("engines").exists(),
        "no engine, no sidecar"
    );
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn shipped_recipes_parse_and_resolve() {
    let engines = repo_root().join("engines");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&engines)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    for model in ["yolov7-tiny", "yolov7", "yolov9-c"] {
        for target in [
            "t4-fp16",
            "t4-int8",
            "xavier-fp16",
            "xavier-int8-dla",
            "orin-fp16",
        ] {
            let p = engines.join(format!("{model}.{target}.toml"));
            assert!(names.contains(&p), "missing recipe {}", p.display());
        }
    }
    for p in &names {
        let r = trt_tools::build::recipe::Recipe::load(p)
            .unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
        assert!(
            r.source.onnx.starts_with(&engines),
            "{}: paths resolve against the recipe dir",
            p.display()
        );
        let stem = p.file_stem().unwrap().to_str().unwrap();
        let target = stem.rsplit('.').next().unwrap();
        let gpu = target.split('-').next().unwrap();
        if stem.starts_with("yolov") {
            assert_eq!(r.target.gpu, gpu, "{}", p.display());
        }
        // every recipe plans on its own release
        let request = trt_tools::build::release::ReleaseRequest {
            precision: r.build.precision.into(),
            calib: if r.calibration.is_some() {
                trt_tools::build::release::CalibSource::Data
            } else {
                trt_tools::build::release::CalibSource::None
            },
            dla_core: r.target.dla_core,
            allow_gpu_fallback: r.target.allow_gpu_fallback,
            opt_level: r.build.opt_level,
            ..Default::default()
        };
        trt_tools::build::release::plan_for_release(r.tensorrt(), &request)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
}

/// Runs a shipped recipe on a generated stand-in model laid out like a user's checkout.
#[test]
fn recipes_dry_run_on_a_stand_in_model() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("engines")).unwrap();
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    std::fs::create_dir_all(dir.path().join("datasets/calib")).unwrap();
    sample(
        &dir.path().join("models"),
        "yolov7-tiny",
        "yolov7-tiny.onnx",
    );
    for target in ["t4-fp16", "xavier-fp16", "xavier-int8-dla", "t4-int8"] {
        let name = format!("yolov7-tiny.{target}.toml");
        std::fs::copy(
            repo_root().join("engines").join(&name),
            dir.path().join("engines").join(&name),
        )
        .unwrap();
        let recipe = format!("engines/{name}");
        let o = run(
            dir.path(),
            &[
                "--recipe",
                &recipe,
                "--dry-run",
                "--json",
                "--shapes",
                "images:1x3x128x128",
            ],
        );
        if target.contains("int8") {
            // the recipes' calibration directory exists but is empty here
            assert_fails(&o, 1, "no images");
            continue;
        }
        assert_eq!(o.status.code(), Some(0), "{target}: {}", stderr(&o));
        let r = json(&o);
        assert_eq!(r["tensorrt"]["source"], "recipe");
        assert!(
            r["output"]
                .as_str()
                .unwrap()
                .ends_with(&format!("engines/out/yolov7-tiny.{target}.engine")),
            "{}",
            r["output"]
        );
        assert_eq!(r["precision_plan"]["builder_fp16"], true, "{target}");
    }
}

#[test]
fn killed_mid_write_leaves_nothing_at_the_output_path() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "conv-bn", "m.onnx");
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let mut child = cmd(dir.path())
        .args([
            "m.onnx",
            "--dry-run",
            "--quiet",
            "--emit-onnx",
            "out/parsed.onnx",
        ])
        .env(trt_tools::TEST_PAUSE_ENV, "20000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the temporary file to be complete (the writer pauses after fsync, before the rename).
    let deadline = Instant::now() + Duration::from_secs(60);
    let tmp = loop {
        let found = std::fs::read_dir(dir.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().ends_with(".tmp"));
        if let Some(t) = found {
            break t;
        }
        assert!(Instant::now() < deadline, "the writer never started");
        assert!(
            child.try_wait().unwrap().is_none(),
            "trt-build exited before writing"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !dir.path().join("out/parsed.onnx").exists(),
        "partial output at the output path"
    );
    assert!(
        tmp.exists(),
        "the temporary file is what a kill leaves behind"
    );
    // and without the pause the same command writes the file
    let o = run_line(
        dir.path(),
        "m.onnx --dry-run --quiet --emit-onnx out/parsed.onnx",
    );
    common::assert_ok(&o);
    yolo_onnx::Model::load(dir.path().join("out/parsed.onnx")).unwrap();
}

/// Compiles a C source into the shared library `dir/name` with the system C compiler (`CC`, default `cc`).
fn compile_so(dir: &Path, name: &str, source: &str, extra: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let out = dir.join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let ok = Command::new(&cc)
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&src)
        .args(extra)
        .status()
        .unwrap_or_else(|e| panic!("this test compiles a plugin fixture with `{cc}` (set CC): {e}"))
        .success();
    assert!(ok, "{cc} failed for {name}");
    out
}

#[test]
fn plugin_libraries_and_class_names_are_checked_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sample(d, "yolov7-tiny", "m.onnx");
    std::fs::write(
        d.join("notes.txt"),
        "REGISTER_TENSORRT_PLUGIN(YoloLayerCreator);\n",
    )
    .unwrap();
    assert_fails(
        &run_line(d, "m.onnx --dry-run --plugins notes.txt"),
        1,
        "notes.txt: is not a shared library",
    );
    assert_fails(
        &run_line(d, "m.onnx --dry-run --staticPlugins gone/libyolo.so"),
        1,
        "gone/libyolo.so: no such file",
    );

    // A plugin built against TensorRT 8 (links libnvinfer.so.8) for a 10.3 build.
    compile_so(
        d,
        "libnvinfer.so.8",
        "int getInferLibVersion(void) { return 8503; }\n",
        &["-Wl,-soname,libnvinfer.so.8"],
    );
    let lib_dir = format!("-L{}", d.display());
    compile_so(
        d,
        "libold_plugin.so",
        "int getInferLibVersion(void);\nint v(void) { return getInferLibVersion(); }\n",
        &[&lib_dir, "-l:libnvinfer.so.8", "-Wl,--no-as-needed"],
    );
    let o = run_line(
        d,
        "m.onnx --dry-run --trt-release 10.3 --plugins libold_plugin.so",
    );
    assert_fails(&o, 1, "libold_plugin.so: links TensorRT 8");
    assert!(
        stderr(&o).contains("the build targets TensorRT 10.3.0 (--trt-release)"),
        "{}",
        stderr(&o)
    );
    common::assert_ok(&run_line(
        d,
        "m.onnx --dry-run --trt-release 8.5 --plugins libold_plugin.so",
    ));

    // A good plugin and a class-name file: both land in the plan.
    compile_so(
        d,
        "libgood_plugin.so",
        "#include <string.h>\nint n(const char* s) { return (int)strlen(s); }\n",
        &[],
    );
    std::fs::write(d.join("names.txt"), "person\nforklift\n\npallet\n").unwrap();
    let o = run_line(
        d,
        "m.onnx --dry-run --json --trt-release 10.3 --plugins libgood_plugin.so --classes names.txt",
    );
    common::assert_ok(&o);
    let r = json(&o);
    assert_eq!(r["builder"]["plugins"][0], "libgood_plugin.so");
    assert_eq!(
        r["class_names"],
        serde_json::json!(["person", "forklift", "pallet"])
    );
    // Without --classes and without `names` metadata, no class names are invented.
    let o = run_line(d, "m.onnx --dry-run --json");
    assert_eq!(json(&o)["class_names"], serde_json::json!([]));

    // Ultralytics-style `names` metadata is the default; --classes overrides it; a malformed entry is an error.
    let with_names = |value: &str, file: &str| {
        let mut m = yolo_onnx::Model::load(d.join("m.onnx")).unwrap();
        let props = &mut m.header_mut().metadata_props;
        props.push(Default::default());
        let e = props.last_mut().unwrap();
        e.key = "names".into();
        e.value = value.into();
        m.save(d.join(file)).unwrap();
    };
    with_names("{0: 'person', 1: \"forklift's cab\"}", "named.onnx");
    let o = run_line(d, "named.onnx --dry-run --json");
    assert_eq!(
        json(&o)["class_names"],
        serde_json::json!(["person", "forklift's cab"])
    );
    let o = run_line(d, "named.onnx --dry-run --json --classes names.txt");
    assert_eq!(json(&o)["class_names"][1], "forklift");
    with_names("{0: 'person', 2: 'pallet'}", "gappy.onnx");
    assert_fails(&run_line(d, "gappy.onnx --dry-run"), 1, "--classes FILE");
    assert_fails(
        &run_line(d, "m.onnx --dry-run --classes missing.txt"),
        1,
        "missing.txt",
    );
    std::fs::write(d.join("empty.txt"), "\n\n").unwrap();
    assert_fails(
        &run_line(d, "m.onnx --dry-run --classes empty.txt"),
        1,
        "no class names",
    );
}

#[test]
fn completions_and_man_page_generate() {
    for what in ["bash", "zsh", "fish", "man"] {
        let o = Command::new(bin())
            .args(["--generate", what])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{what}");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("trt-build"), "{what}");
        // roff escapes `-` as `\-`
        assert!(
            out.replace("\\-", "-").contains("min-shapes"),
            "{what}: options listed"
        );
    }
}

// ---- real TensorRT lean runtime, no GPU --------------------------------------------------------------------------

#[test]
#[ignore = "needs TRT_TEST_* libraries"]
fn reallib_build_with_the_lean_runtime_and_no_gpu_exits_3_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "yolov7-tiny", "m.onnx");
    let mut c = cmd(dir.path());
    common::real_env(&mut c);
    let o = c.args(["m.onnx", "--fp16", "--json"]).output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("lean runtime"),
        "says the lean runtime cannot build: {err}"
    );
    assert!(
        err.contains("no usable CUDA device"),
        "says there is no GPU: {err}"
    );
    let r = json(&o);
    assert_eq!(r["tensorrt"]["version"], "11.4.0");
    assert_eq!(r["tensorrt"]["source"], "loaded library");
    assert_eq!(
        r["precision_plan"]["path"], "onnx-passes",
        "11.x runs the FP16 pass before saying what is missing"
    );
    assert_eq!(r["pipeline"][1]["name"], "fp16");
    assert!(!dir.path().join("engines").exists());
}

/// A real export can hold an op the CPU executor lacks (a custom-domain op TensorRT maps to a plugin): the passes
/// still run and the build goes on, with the check reported as skipped and why, instead of refusing the model.
#[test]
fn an_op_the_cpu_executor_lacks_skips_verification_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    common::custom_op_model(dir.path(), "custom.onnx");
    let o = run(
        dir.path(),
        &[
            "custom.onnx",
            "--fp16",
            "--dry-run",
            "--trt-release",
            "10.3",
            "--explicit",
            "--json",
        ],
    );
    common::assert_ok(&o);
    let r = json(&o);
    let steps = r["pipeline"].as_array().unwrap();
    let fuse = steps
        .iter()
        .find(|s| s["name"] == "reparameterize")
        .unwrap();
    assert!(
        fuse["summary"].as_str().unwrap().contains("conv+bn 1/1"),
        "{fuse}"
    );
    assert!(fuse.get("verification").is_none(), "{fuse}");
    assert!(
        !fuse["verification_skipped"].as_str().unwrap().is_empty(),
        "{fuse}"
    );
    // Text report: the same, in words.
    let o = run(
        dir.path(),
        &["custom.onnx", "--dry-run", "--trt-release", "10.3"],
    );
    common::assert_ok(&o);
    assert!(
        common::stdout(&o).contains("NOT verified"),
        "{}",
        common::stdout(&o)
    );
    let err = common::stderr(&o);
    assert!(
        err.contains("warning: the re-parameterization not verified"),
        "{err}"
    );
}

#[test]
fn usage_mistakes_exit_2_in_every_tool() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "yolov9", "m.onnx");
    std::fs::create_dir(dir.path().join("calib")).unwrap();
    let cases: [(&str, &[&str], &str); 7] = [
        (env!("CARGO_BIN_EXE_trt-build"), &[], "no model given"),
        (
            env!("CARGO_BIN_EXE_trt-build"),
            &["m.onnx", "--memPoolSize=gpuRAM:1G", "--dry-run"],
            "unknown pool `gpuRAM`",
        ),
        (
            env!("CARGO_BIN_EXE_trt-build"),
            &["m.onnx", "--workspace", "abc", "--dry-run"],
            "`abc` is not a size",
        ),
        (
            env!("CARGO_BIN_EXE_trt-build"),
            &["m.onnx", "--mem-pool-size", "foo:1M", "--dry-run"],
            "unknown pool `foo`",
        ),
        (
            env!("CARGO_BIN_EXE_trt-build"),
            &[
                "m.onnx",
                "--calib-on-gpu",
                "--dry-run",
                "--trt-release",
                "10.3",
            ],
            "it needs --int8",
        ),
        (
            env!("CARGO_BIN_EXE_trt-onnx"),
            &[
                "quantize",
                "m.onnx",
                "--calib",
                "calib",
                "-o",
                "q.onnx",
                "--percentile",
                "150",
            ],
            "not a percentile in (0, 100]",
        ),
        (env!("CARGO_BIN_EXE_trt-inspect"), &[], "Usage"),
    ];
    for (exe, args, needle) in cases {
        let o = common::no_trt_cmd(exe, dir.path())
            .args(args)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{exe} {args:?}: {err}");
        assert!(
            err.contains(needle),
            "{exe} {args:?}: `{needle}` not in {err}"
        );
        assert!(
            !err.contains("TensorRT 10.3"),
            "the release is not blamed: {err}"
        );
    }
}

#[test]
fn dry_run_fails_where_the_build_would() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "yolov9", "m.onnx");
    std::fs::write(dir.path().join("afile"), b"x").unwrap();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--int8"], "INT8 needs calibration data"),
        (
            &["-o", "afile/m.engine"],
            "--output afile/m.engine: afile is not a directory",
        ),
        (
            &["--timing-cache", "afile/t.cache"],
            "--timing-cache afile/t.cache: afile is not a directory",
        ),
        (&["--emit-onnx", "adir"], "--emit-onnx adir: is a directory"),
        (
            &["--triton-repo", "afile"],
            "--triton-repo afile/m/config.pbtxt: afile is not a directory",
        ),
    ];
    for (args, needle) in cases {
        let mut a = vec!["m.onnx", "--dry-run", "--no-verify"];
        a.extend_from_slice(args);
        let o = common::no_trt_cmd(env!("CARGO_BIN_EXE_trt-build"), dir.path())
            .args(&a)
            .output()
            .unwrap();
        common::assert_fails(&o, "trt-build", 1, needle);
    }
}

#[test]
fn verbose_means_the_projects_messages_and_the_plan_reads_plainly() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "yolov9", "m.onnx");
    let o = common::no_trt_cmd(env!("CARGO_BIN_EXE_trt-build"), dir.path())
        .args(["m.onnx", "--dry-run", "-v"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    common::assert_ok(&o);
    let err = stderr(&o);
    // The CPU executor's own debug log (tens of thousands of lines) stays out; no colour codes into a pipe.
    assert!(
        err.lines().count() < 200,
        "{} lines on stderr",
        err.lines().count()
    );
    assert!(!err.contains("tract"), "{err}");
    assert!(!err.contains('\u{1b}'), "ANSI codes in a pipe");
    let out = common::stdout(&o);
    assert!(!out.contains("[]") && !out.contains("Fp16"), "{out}");
}

/// trtexec's `--inputIOFormats`/`--outputIOFormats` in a dry run: checked against the ONNX the pipeline produced and
/// the release planned for, with trtexec's count rule; what a build would refuse, the dry run refuses.
#[test]
fn io_formats_are_planned_against_the_onnx_and_the_release() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "yolov9", "m.onnx");
    // Weakly typed 10.3: an FP16 input is a conversion TensorRT makes at the boundary; one entry for all outputs.
    let o = run_line(
        dir.path(),
        "m.onnx --dry-run --json --no-verify --trt-release 10.3 --inputIOFormats=fp16:chw --outputIOFormats=fp32:chw",
    );
    common::assert_ok(&o);
    let r = json(&o);
    let io = r["io_formats"].as_array().unwrap();
    assert_eq!(io[0]["name"], "images", "{r}");
    assert_eq!(io[0]["direction"], "input");
    assert_eq!(io[0]["dtype"], "f16");
    assert_eq!(io[0]["declared"], "f32");
    assert_eq!(io[0]["formats"], serde_json::json!(["linear"]));
    let outputs = yolo_onnx::Model::load(dir.path().join("m.onnx"))
        .unwrap()
        .graph()
        .outputs()
        .len();
    assert_eq!(io.len(), 1 + outputs, "one spec applies to every output");
    // TensorRT-RTX builds strongly typed networks: the ONNX's FP32 input cannot become FP16 there.
    let o = run_line(
        dir.path(),
        "m.onnx --dry-run --no-verify --trt-release rtx-1.7 --fp16 --input-io-formats fp16:chw -o x.engine",
    );
    assert_fails(&o, 1, "`images` is fp32 in the ONNX");
    assert!(stderr(&o).contains("--io-fp16"), "{}", stderr(&o));
    assert!(!dir.path().join("x.engine").exists());
    // ... and takes the declared type as is.
    let o = run_line(
        dir.path(),
        "m.onnx --dry-run --no-verify --trt-release rtx-1.7 --input-io-formats fp32:chw",
    );
    common::assert_ok(&o);
    // A model with FP16 IO (trt-onnx fp16 --io-fp16) takes fp16:chw on RTX.
    let t = Command::new(env!("CARGO_BIN_EXE_trt-onnx"))
        .current_dir(dir.path())
        .args([
            "fp16",
            "m.onnx",
            "--io-fp16",
            "-o",
            "m16.onnx",
            "--no-verify",
        ])
        .output()
        .unwrap();
    common::assert_ok(&t);
    let o = run_line(
        dir.path(),
        "m16.onnx --dry-run --no-verify --json --trt-release rtx-1.7 --input-io-formats fp16:chw --output-io-formats fp16:chw",
    );
    common::assert_ok(&o);
    assert_eq!(json(&o)["io_formats"][0]["declared"], "f16");
    // Types the release lacks, entries that do not match the network, quantized IO without scales.
    for (line, code, needle) in [
        (
            "--trt-release 8.6 --input-io-formats bf16:chw",
            1,
            "TensorRT 8.6.0 has no bf16 tensors",
        ),
        (
            "--trt-release 10.3 --input-io-formats fp16:chw,fp16:chw",
            1,
            "2 entries for 1 network input(s) (images)",
        ),
        (
            "--trt-release 10.3 --input-io-formats int8:chw",
            1,
            "quantization scale",
        ),
        ("--input-io-formats fp16:chw32", 2, "`fp16:chw32`"),
        ("--outputIOFormats=fp16:hwc", 2, "channel-last"),
    ] {
        let o = run_line(dir.path(), &format!("m.onnx --dry-run --no-verify {line}"));
        if code == 2 {
            // clap's usage error.
            common::assert_code(&o, 2);
            assert!(stderr(&o).contains(needle), "{line}: {}", stderr(&o));
        } else {
            assert_fails(&o, code, needle);
        }
    }
}

/// `--tactic-sources`: trtexec's `+NAME,-NAME`; names a release lacks are refused by the plan, in a dry run too.
#[test]
fn tactic_sources_are_checked_against_the_release() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "conv-bn", "m.onnx");
    let o = run_line(
        dir.path(),
        "m.onnx --dry-run --json --trt-release 10.3 --tacticSources=-CUDNN,+CUBLAS",
    );
    common::assert_ok(&o);
    let r = json(&o);
    assert_eq!(
        r["builder"]["tactic_source_changes"],
        serde_json::json!([
            {"source": "CUDNN", "enable": false},
            {"source": "CUBLAS", "enable": true}
        ]),
        "{r}"
    );
    for release in ["11.4", "rtx-1.7"] {
        let o = run_line(
            dir.path(),
            &format!("m.onnx --dry-run --trt-release {release} --tactic-sources -CUDNN"),
        );
        assert_fails(&o, 1, "--tactic-sources -CUDNN cannot be honored");
        assert!(
            stderr(&o).contains("its sources are EDGE_MASK_CONVOLUTIONS, JIT_CONVOLUTIONS"),
            "{}",
            stderr(&o)
        );
    }
    let o = run_line(
        dir.path(),
        "m.onnx --dry-run --trt-release rtx-1.7 --tactic-sources -EDGE_MASK_CONVOLUTIONS",
    );
    common::assert_ok(&o);
    assert!(
        common::stdout(&o).contains("tactics     -EDGE_MASK_CONVOLUTIONS"),
        "{}",
        common::stdout(&o)
    );
    let o = run_line(dir.path(), "m.onnx --dry-run --tactic-sources +WINOGRAD");
    common::assert_code(&o, 2);
    assert!(
        stderr(&o).contains("`WINOGRAD` is not a tactic source"),
        "{}",
        stderr(&o)
    );
}

/// `--sparsity force`: the pipeline prunes every Conv weight to 2:4 along its input channels before TensorRT; the
/// emitted ONNX (what TensorRT parses) has the pattern, the other weights are untouched, and the report warns.
#[test]
fn sparsity_force_prunes_the_onnx_tensorrt_parses() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "yolov7-tiny", "m.onnx");
    let o = run_line(
        dir.path(),
        "m.onnx --dry-run --json --sparsity force --emit-onnx pruned.onnx",
    );
    common::assert_ok(&o);
    let r = json(&o);
    assert_eq!(
        common::step_names(&r),
        ["reparameterize", "prune-2:4"],
        "{r}"
    );
    assert_eq!(r["builder"]["sparsity"], "force");
    assert!(
        r["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("changes the model's outputs")),
        "{r}"
    );
    // Without --json the warning goes to stderr.
    let o = run_line(dir.path(), "m.onnx --dry-run --sparsity force");
    common::assert_ok(&o);
    assert!(
        stderr(&o).contains("warning: --sparsity force:")
            && stderr(&o).contains("changes the model's outputs"),
        "{}",
        stderr(&o)
    );
    let emitted = dir.path().join("pruned.onnx");
    let fused = dir.path().join("fused.onnx");
    let o = run_line(dir.path(), "m.onnx --dry-run --emit-onnx fused.onnx");
    common::assert_ok(&o);
    let (p, f) = (
        yolo_onnx::Model::load(&emitted).unwrap(),
        yolo_onnx::Model::load(&fused).unwrap(),
    );
    let mut convs = 0;
    for node in p.graph().nodes().iter().filter(|n| n.op_type == "Conv") {
        let w = &node.input[1];
        let pruned = p.graph().initializer_f32(w).unwrap().unwrap();
        let orig = f.graph().initializer_f32(w).unwrap().unwrap();
        let dims = pruned.shape().to_vec();
        let (k, c, rs) = (dims[0], dims[1], dims[2] * dims[3]);
        for ki in 0..k {
            for s in 0..rs {
                for start in (0..c).step_by(4) {
                    let group: Vec<usize> = (start..(start + 4).min(c)).collect();
                    let at = |ci: usize| (ki * c + ci) * rs + s;
                    let (pv, ov) = (pruned.as_slice().unwrap(), orig.as_slice().unwrap());
                    let kept: Vec<usize> = group
                        .iter()
                        .copied()
                        .filter(|&ci| pv[at(ci)] != 0.0)
                        .collect();
                    assert!(kept.len() <= 2, "{w}: {kept:?}");
                    // Survivors are unchanged and no smaller than any dropped value of their group.
                    let dropped_max = group
                        .iter()
                        .filter(|ci| !kept.contains(ci))
                        .map(|&ci| ov[at(ci)].abs())
                        .fold(0.0f32, f32::max);
                    for &ci in &kept {
                        assert_eq!(pv[at(ci)], ov[at(ci)]);
                        assert!(ov[at(ci)].abs() >= dropped_max, "{w}");
                    }
                }
            }
        }
        convs += 1;
    }
    assert!(convs > 5, "{convs} Conv layers");
    // Only weights changed: same nodes, same biases.
    assert_eq!(p.graph().nodes().len(), f.graph().nodes().len());
    // `enable` leaves the ONNX alone (TensorRT uses sparse kernels only where weights already have the pattern).
    let o = run_line(dir.path(), "m.onnx --dry-run --sparsity enable --json");
    common::assert_ok(&o);
    assert_eq!(common::step_names(&json(&o)), ["reparameterize"]);
}

/// `--dump-layer-info`/`--export-layer-info` need a machine that runs engines (the inspector reads a deserialized
/// engine): without one, exit 3 before any work, in a dry run too, saying where to do it instead.
#[test]
fn layer_info_without_a_gpu_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "conv-bn", "m.onnx");
    for line in [
        "m.onnx --dumpLayerInfo --emit-onnx e.onnx",
        "m.onnx --export-layer-info l.json --emit-onnx e.onnx --dry-run",
    ] {
        let o = run_line(dir.path(), line);
        assert_fails(&o, 3, "trt-inspect ENGINE --export-layer-info FILE");
        assert!(
            stderr(&o).contains("need a usable GPU here"),
            "{}",
            stderr(&o)
        );
        assert!(
            !dir.path().join("e.onnx").exists() && !dir.path().join("l.json").exists(),
            "{line}: nothing ran"
        );
    }
    // trt-inspect refuses the same way on an engine, and names the model mistake on an ONNX.
    let o = common::no_trt_cmd(env!("CARGO_BIN_EXE_trt-inspect"), dir.path())
        .args(["m.onnx", "--export-layer-info", "l.json"])
        .output()
        .unwrap();
    common::assert_fails(&o, "trt-inspect", 1, "is an ONNX model");
    let engine = common::write_engine(
        dir.path(),
        b"not a real plan",
        (10, 3, 0),
        &["reparameterize"],
    );
    let o = common::no_trt_cmd(env!("CARGO_BIN_EXE_trt-inspect"), dir.path())
        .arg(&engine)
        .args(["--export-layer-info", "l.json"])
        .output()
        .unwrap();
    common::assert_fails(
        &o,
        "trt-inspect",
        3,
        "--export-layer-info needs TensorRT and a GPU",
    );
    assert!(!dir.path().join("l.json").exists());
}
