//! Sidecar verification: good pairs load, and every corrupt or incompatible pair is rejected before the (mock)
//! TensorRT deserializer is reached.

use std::cell::Cell;
use std::fs;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trt::sidecar::{
    self, ComputeCapability, DeviceFacts, GpuInfo, HardwareCompatibility, IoTensorInfo, Precision,
    ProfileInfo, ProfileShapes, RuntimeFacts, Sidecar, SourceInfo, TensorMode, TensorRtInfo,
};
use trt::{DataType, Error, Version};

const TRT: Version = Version::new(10, 3, 0);
const T4: ComputeCapability = ComputeCapability::new(7, 5);

fn sample_sidecar() -> Sidecar {
    let mut s = Sidecar::new(
        TensorRtInfo {
            version: TRT,
            version_compatible: false,
            hardware_compatibility: HardwareCompatibility::None,
            exclude_lean_runtime: false,
            compute_capabilities: Vec::new(),
        },
        GpuInfo {
            name: "Tesla T4".into(),
            compute_capability: T4,
        },
        Precision::Fp16,
    );
    s.io = vec![
        IoTensorInfo {
            name: "images".into(),
            mode: TensorMode::Input,
            dtype: DataType::F32,
            shape: vec![1, 3, -1, -1],
            format: "linear".into(),
        },
        IoTensorInfo {
            name: "output0".into(),
            mode: TensorMode::Output,
            dtype: DataType::F16,
            shape: vec![1, -1, 85],
            format: "linear".into(),
        },
    ];
    s.profiles = vec![ProfileInfo {
        inputs: vec![ProfileShapes {
            name: "images".into(),
            min: vec![1, 3, 320, 320],
            opt: vec![1, 3, 640, 640],
            max: vec![1, 3, 1280, 1280],
        }],
    }];
    s.source = SourceInfo {
        onnx_file: Some("yolov7.onnx".into()),
        onnx_sha256: Some(sidecar::sha256_hex(b"onnx")),
    };
    s.pipeline = vec!["reparameterize".into(), "fp16".into()];
    s
}

fn here() -> RuntimeFacts {
    RuntimeFacts {
        tensorrt: TRT,
        device: Some(DeviceFacts {
            name: "Tesla T4".into(),
            compute_capability: T4,
        }),
        plugins_initialized: false,
        plugin_libraries: Vec::new(),
    }
}

fn engine_bytes(rng: &mut ChaCha8Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.random()).collect()
}

/// Runs `load_with` with a mock deserializer that counts calls and checks it got exactly the written bytes.
fn load_counting(engine: &Path, facts: &RuntimeFacts, calls: &Cell<u32>) -> Result<Vec<u8>, Error> {
    sidecar::load_with(engine, facts, |v| {
        calls.set(calls.get() + 1);
        Ok(v.bytes.clone())
    })
}

fn setup(dir: &Path, name: &str, bytes: &[u8], mut s: Sidecar) -> (PathBuf, Sidecar) {
    let engine = dir.join(name);
    sidecar::write_engine(&engine, bytes, &mut s).expect("write pair");
    (engine, s)
}

#[test]
fn good_pair_loads_and_reaches_deserializer_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let bytes = engine_bytes(&mut rng, 5000);
    let (engine, written) = setup(dir.path(), "model.engine", &bytes, sample_sidecar());
    assert!(dir.path().join("model.engine.json").exists());
    let calls = Cell::new(0);
    let got = load_counting(&engine, &here(), &calls).expect("good pair loads");
    assert_eq!(got, bytes);
    assert_eq!(calls.get(), 1);
    // The sidecar on disk round-trips to what was written, with the engine digest filled in.
    let read = sidecar::read_sidecar(&engine).unwrap();
    assert_eq!(read, written);
    assert_eq!(read.engine.bytes, 5000);
    assert_eq!(read.engine.sha256, sidecar::sha256_hex(&bytes));
    // No temporary files are left behind.
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn rewrite_replaces_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = setup(dir.path(), "m.engine", b"first engine", sample_sidecar());
    let (_, _) = setup(
        dir.path(),
        "m.engine",
        b"second, longer engine",
        sample_sidecar(),
    );
    let calls = Cell::new(0);
    assert_eq!(
        load_counting(&engine, &here(), &calls).unwrap(),
        b"second, longer engine"
    );
}

#[test]
fn missing_sidecar_says_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let engine = dir.path().join("bare.engine");
    fs::write(&engine, b"plan").unwrap();
    let calls = Cell::new(0);
    let err = load_counting(&engine, &here(), &calls).unwrap_err();
    assert!(matches!(err, Error::SidecarMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("bare.engine.json"), "{err}");
    assert!(err.to_string().contains("rebuild"), "{err}");
    assert_eq!(calls.get(), 0);
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    engine_checksum: usize,
    engine_length: usize,
    sidecar_corrupt: usize,
    sidecar_format: usize,
    version: usize,
    gpu: usize,
    plugins: usize,
    plugin_libraries: usize,
}

impl Tally {
    fn record(&mut self, err: &Error) {
        self.cases += 1;
        match err {
            Error::EngineChecksum { .. } => self.engine_checksum += 1,
            Error::EngineLength { .. } => self.engine_length += 1,
            Error::SidecarCorrupt { .. } => self.sidecar_corrupt += 1,
            Error::SidecarFormat { .. } => self.sidecar_format += 1,
            Error::TensorRtVersion { .. } => self.version += 1,
            Error::ComputeCapability { .. } => self.gpu += 1,
            Error::PluginsNotInitialized { .. } => self.plugins += 1,
            Error::PluginLibrariesNotLoaded { .. } => self.plugin_libraries += 1,
            other => panic!("unexpected error kind: {other:?}"),
        }
    }
}

/// More than 1,000 generated corrupt or incompatible pairs; every one is rejected with the right error, and the mock
/// deserializer is never called.
#[test]
fn generated_corrupt_cases_never_reach_tensorrt() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    let bytes = engine_bytes(&mut rng, 3000);
    let (engine, good) = setup(dir.path(), "m.engine", &bytes, sample_sidecar());
    let side_path = sidecar::sidecar_path(&engine);
    let good_side = fs::read(&side_path).unwrap();
    let facts = here();
    let calls = Cell::new(0);
    let mut tally = Tally::default();

    let check = |expect: &str, tally: &mut Tally| {
        let err = match load_counting(&engine, &facts, &calls) {
            Ok(_) => panic!("corrupt case accepted: {expect}"),
            Err(e) => e,
        };
        tally.record(&err);
        assert_eq!(calls.get(), 0, "deserializer reached for {expect}");
    };

    // 1. Engine bit flips (400): checksum catches them.
    for _ in 0..400 {
        let mut b = bytes.clone();
        let i = rng.random_range(0..b.len());
        b[i] ^= 1 << rng.random_range(0..8);
        fs::write(&engine, &b).unwrap();
        check("engine bit flip", &mut tally);
    }
    // 2. Engine truncations and extensions (200).
    for k in 0..200 {
        let b = if k % 4 == 0 {
            let mut b = bytes.clone();
            b.extend((0..rng.random_range(1..64)).map(|_| rng.random::<u8>()));
            b
        } else {
            bytes[..rng.random_range(0..bytes.len())].to_vec()
        };
        fs::write(&engine, &b).unwrap();
        check("engine length", &mut tally);
    }
    fs::write(&engine, &bytes).unwrap();
    // 3. Sidecar bit flips (450) at random positions, plus every bit of the `version` and `compute_capability` lines.
    for _ in 0..450 {
        let mut s = good_side.clone();
        let i = rng.random_range(0..s.len());
        s[i] ^= 1 << rng.random_range(0..8);
        fs::write(&side_path, &s).unwrap();
        check("sidecar bit flip", &mut tally);
    }
    let text = String::from_utf8(good_side.clone()).unwrap();
    for needle in ["\"10.3.0\"", "\"7.5\"", "\"bytes\": 3000"] {
        let start = text.find(needle).expect(needle);
        for i in start..start + needle.len() {
            for bit in 0..8 {
                let mut s = good_side.clone();
                s[i] ^= 1 << bit;
                fs::write(&side_path, &s).unwrap();
                check("targeted sidecar bit flip", &mut tally);
            }
        }
    }
    // 4. Sidecar truncations (100).
    for _ in 0..100 {
        let cut = rng.random_range(0..good_side.len() - 1);
        fs::write(&side_path, &good_side[..cut]).unwrap();
        check("sidecar truncation", &mut tally);
    }
    // 5. Genuine (correctly sealed) sidecars for another TensorRT release or another GPU.
    let write_variant = |f: &dyn Fn(&mut Sidecar)| {
        let mut s = good.clone();
        f(&mut s);
        s.seal();
        fs::write(&side_path, s.to_json()).unwrap();
    };
    let versions = [
        (Version::new(10, 3, 1), false),
        (Version::new(10, 4, 0), false),
        (Version::new(10, 2, 0), false),
        (Version::new(8, 6, 1), false),
        (Version::new(11, 1, 0), false),
        (Version::new(8, 6, 1), true),
        (Version::new(10, 4, 0), true), // version-compatible but newer than the loaded 10.3.0
        (Version::new(11, 0, 0), true),
    ];
    for (v, compat) in versions {
        write_variant(&|s| {
            s.tensorrt.version = v;
            s.tensorrt.version_compatible = compat;
        });
        check("wrong TensorRT version", &mut tally);
    }
    for (cc, hw) in [
        (ComputeCapability::new(8, 7), HardwareCompatibility::None),
        (ComputeCapability::new(7, 2), HardwareCompatibility::None),
        (
            ComputeCapability::new(8, 6),
            HardwareCompatibility::SameComputeCapability,
        ),
        (
            ComputeCapability::new(8, 0),
            HardwareCompatibility::AmperePlus,
        ), // T4 (7.5) is not Ampere+
    ] {
        write_variant(&|s| {
            s.gpu = Some(GpuInfo {
                name: "Orin".into(),
                compute_capability: cc,
            });
            s.tensorrt.hardware_compatibility = hw;
        });
        check("wrong GPU", &mut tally);
    }
    write_variant(&|s| s.plugins = vec!["EfficientNMS_TRT".into()]);
    check("plugins not initialized", &mut tally);
    write_variant(&|s| {
        s.plugins = vec!["YoloLayer_TRT".into()];
        s.plugin_libraries = vec!["libyolo_layer.so".into()];
    });
    check("plugin library not loaded", &mut tally);

    assert!(tally.cases >= 1000, "{tally:?}");
    assert_eq!(tally.engine_checksum, 400, "{tally:?}");
    assert_eq!(tally.engine_length, 200, "{tally:?}");
    assert_eq!(tally.version, 8, "{tally:?}");
    assert_eq!(tally.gpu, 4, "{tally:?}");
    assert_eq!(tally.plugins, 1, "{tally:?}");
    assert_eq!(tally.plugin_libraries, 1, "{tally:?}");
    assert!(tally.sidecar_corrupt > 500, "{tally:?}");
    assert_eq!(calls.get(), 0);

    // And the untouched pair still loads.
    fs::write(&side_path, &good_side).unwrap();
    assert_eq!(load_counting(&engine, &facts, &calls).unwrap(), bytes);
    assert_eq!(calls.get(), 1);
}

/// The compatible variants are accepted: version-compatible on a newer patch/minor of the same major, Ampere+ on
/// another Ampere GPU, plugins when initialized, another GPU name with the same compute capability.
#[test]
fn compatible_variants_load() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Cell::new(0);
    type Edit = Box<dyn Fn(&mut Sidecar)>;
    let cases: Vec<(Edit, RuntimeFacts)> = vec![
        (
            Box::new(|s: &mut Sidecar| {
                s.tensorrt.version = Version::new(10, 1, 0);
                s.tensorrt.version_compatible = true;
            }),
            here(),
        ),
        (
            Box::new(|s: &mut Sidecar| {
                s.tensorrt.hardware_compatibility = HardwareCompatibility::AmperePlus;
                s.gpu = Some(GpuInfo {
                    name: "NVIDIA A100".into(),
                    compute_capability: ComputeCapability::new(8, 0),
                });
            }),
            RuntimeFacts {
                device: Some(DeviceFacts {
                    name: "Orin".into(),
                    compute_capability: ComputeCapability::new(8, 7),
                }),
                ..here()
            },
        ),
        (
            Box::new(|s: &mut Sidecar| s.plugins = vec!["EfficientNMS_TRT".into()]),
            RuntimeFacts {
                plugins_initialized: true,
                ..here()
            },
        ),
        (
            // Custom plugins come from their own library: loading it is enough.
            Box::new(|s: &mut Sidecar| {
                s.plugins = vec!["YoloLayer_TRT".into()];
                s.plugin_libraries = vec!["libyolo_layer.so".into()];
            }),
            RuntimeFacts {
                plugin_libraries: vec!["libother.so".into(), "libyolo_layer.so".into()],
                ..here()
            },
        ),
        (
            Box::new(|s: &mut Sidecar| {
                s.gpu.as_mut().unwrap().name = "Tesla T4 (other board)".into()
            }),
            here(),
        ),
    ];
    for (i, (edit, facts)) in cases.into_iter().enumerate() {
        let mut s = sample_sidecar();
        edit(&mut s);
        let (engine, _) = setup(
            dir.path(),
            &format!("e{i}.engine"),
            format!("engine {i}").as_bytes(),
            s,
        );
        let got =
            load_counting(&engine, &facts, &calls).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(got, format!("engine {i}").as_bytes());
    }
    assert_eq!(calls.get(), 5);
}

#[test]
fn mismatch_messages_say_what_to_rebuild_with() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = sample_sidecar();
    s.tensorrt.version = Version::new(8, 6, 1);
    let (engine, _) = setup(dir.path(), "old.engine", b"x", s);
    let msg = load_counting(&engine, &here(), &Cell::new(0))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("8.6.1") && msg.contains("rebuild with TensorRT 10.3.0"),
        "{msg}"
    );

    let mut s = sample_sidecar();
    s.gpu = Some(GpuInfo {
        name: "Orin".into(),
        compute_capability: ComputeCapability::new(8, 7),
    });
    let (engine, _) = setup(dir.path(), "orin.engine", b"x", s);
    let msg = load_counting(&engine, &here(), &Cell::new(0))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("Orin")
            && msg.contains("8.7")
            && msg.contains("rebuild on a compute capability 7.5"),
        "{msg}"
    );

    let mut s = sample_sidecar();
    s.plugins = vec!["EfficientNMS_TRT".into()];
    let (engine, _) = setup(dir.path(), "nms.engine", b"x", s);
    let msg = load_counting(&engine, &here(), &Cell::new(0))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("EfficientNMS_TRT") && msg.contains("init_plugins"),
        "{msg}"
    );

    let mut s = sample_sidecar();
    s.plugins = vec!["YoloLayer_TRT".into()];
    s.plugin_libraries = vec!["libyolo_layer.so".into(), "libdecode.so".into()];
    let (engine, _) = setup(dir.path(), "custom.engine", b"x", s);
    let facts = RuntimeFacts {
        plugin_libraries: vec!["libyolo_layer.so".into()],
        ..here()
    };
    let msg = load_counting(&engine, &facts, &Cell::new(0))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("libdecode.so")
            && !msg.contains("libyolo_layer.so,")
            && msg.contains("--plugins"),
        "{msg}"
    );
}

/// The optional fields are omitted when empty (older sidecars keep verifying) and round-trip when set.
#[test]
fn optional_plugin_libraries_and_class_names_round_trip() {
    let mut s = sample_sidecar();
    s.set_engine(b"x");
    s.seal();
    let json = s.to_json();
    assert!(
        !json.contains("plugin_libraries") && !json.contains("class_names"),
        "{json}"
    );
    let mut t = sample_sidecar();
    t.plugin_libraries = vec!["libyolo_layer.so".into()];
    t.class_names = vec!["person".into(), "forklift's cab".into()];
    t.set_engine(b"x");
    t.seal();
    let back = Sidecar::from_json(&t.to_json(), std::path::Path::new("t.engine.json")).unwrap();
    assert_eq!(back, t);
}

#[test]
fn newer_format_version_is_its_own_error() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, good) = setup(dir.path(), "f.engine", b"x", sample_sidecar());
    let mut s = good.clone();
    s.format_version = 2;
    s.seal();
    fs::write(sidecar::sidecar_path(&engine), s.to_json()).unwrap();
    let err = load_counting(&engine, &here(), &Cell::new(0)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::SidecarFormat {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn unknown_field_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = setup(dir.path(), "u.engine", b"x", sample_sidecar());
    let path = sidecar::sidecar_path(&engine);
    let text = fs::read_to_string(&path).unwrap().replacen(
        "\"precision\"",
        "\"surprise\": 1,\n  \"precision\"",
        1,
    );
    fs::write(&path, text).unwrap();
    let err = load_counting(&engine, &here(), &Cell::new(0)).unwrap_err();
    assert!(err.to_string().contains("surprise"), "{err}");
}

#[test]
fn failed_write_cleans_up_and_leaves_no_mismatched_pair() {
    let dir = tempfile::tempdir().unwrap();
    // The "engine" path is a directory: the final rename fails.
    let engine = dir.path().join("blocked.engine");
    fs::create_dir(&engine).unwrap();
    fs::write(engine.join("keep"), b"x").unwrap();
    fs::write(sidecar::sidecar_path(&engine), b"{\"old\": true}").unwrap();
    let err = sidecar::write_engine(&engine, b"new engine", &mut sample_sidecar()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("blocked.engine"), "{err}");
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // Temporary files are removed, and the old sidecar is gone rather than left describing another engine.
    assert_eq!(names, vec!["blocked.engine".to_owned()], "{names:?}");
}

/// A TensorRT for RTX engine compiled ahead of time for T4 and A10: no build GPU, its targets instead.
fn rtx_sidecar(targets: &[ComputeCapability]) -> Sidecar {
    let mut s = sample_sidecar();
    s.tensorrt.version = Version::rtx(1, 7, 1);
    s.tensorrt.compute_capabilities = targets.to_vec();
    s.gpu = None;
    s
}

fn facts(version: Version, cc: ComputeCapability, gpu: &str) -> RuntimeFacts {
    RuntimeFacts {
        tensorrt: version,
        device: Some(DeviceFacts {
            name: gpu.into(),
            compute_capability: cc,
        }),
        plugins_initialized: false,
        plugin_libraries: Vec::new(),
    }
}

#[test]
fn rtx_sidecars_round_trip_with_their_targets_and_no_build_gpu() {
    let a10 = ComputeCapability::new(8, 6);
    let mut s = rtx_sidecar(&[T4, a10]);
    s.set_engine(b"engine");
    s.seal();
    let json = s.to_json();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["tensorrt"]["version"], "RTX 1.7.1");
    assert_eq!(
        v["tensorrt"]["compute_capabilities"],
        serde_json::json!(["7.5", "8.6"])
    );
    assert!(v.get("gpu").is_none(), "{json}");
    let back = Sidecar::from_json(&json, Path::new("m.engine.json")).unwrap();
    assert_eq!(back, s);
    assert!(back.tensorrt.version.is_rtx());
    assert_eq!(back.built_for(), "compute capabilities 7.5, 8.6");
    assert_eq!(
        rtx_sidecar(&[]).built_for(),
        "TensorRT-RTX's default compute capabilities"
    );
    assert_eq!(
        sample_sidecar().built_for(),
        "Tesla T4 (compute capability 7.5)"
    );
    // A TensorRT sidecar keeps its old form: no new field appears.
    let mut t = sample_sidecar();
    t.seal();
    let tj = t.to_json();
    assert!(
        !tj.contains("compute_capabilities") && !tj.contains("RTX"),
        "{tj}"
    );
    assert!(tj.contains("\"gpu\""), "{tj}");
}

#[test]
fn rtx_engines_run_on_their_targets_only_and_only_on_tensorrt_rtx() {
    let engine = Path::new("/e/m.engine");
    let a10 = ComputeCapability::new(8, 6);
    let s = rtx_sidecar(&[T4, a10]);
    let rtx = Version::rtx(1, 7, 1);
    assert!(s
        .check_compatible(engine, &facts(rtx, T4, "Tesla T4"))
        .is_ok());
    assert!(s
        .check_compatible(engine, &facts(rtx, a10, "NVIDIA A10"))
        .is_ok());
    let l4 = ComputeCapability::new(8, 9);
    let err = s
        .check_compatible(engine, &facts(rtx, l4, "NVIDIA L4"))
        .unwrap_err();
    assert!(
        matches!(err, Error::ComputeCapabilityTargets { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    for needle in [
        "/e/m.engine",
        "7.5, 8.6",
        "NVIDIA L4",
        "--compute-capability 8.9",
    ] {
        assert!(msg.contains(needle), "`{needle}` not in {msg}");
    }
    // TensorRT (enterprise) cannot run it, whatever its numbers.
    let err = s
        .check_compatible(engine, &facts(Version::new(1, 7, 1), T4, "Tesla T4"))
        .unwrap_err();
    assert!(matches!(err, Error::TensorRtVersion { .. }), "{err:?}");
    assert!(err.to_string().contains("RTX 1.7.1"), "{err}");
    // Another RTX release neither (TensorRT-RTX's validity check would say the same).
    assert!(s
        .check_compatible(engine, &facts(Version::rtx(1, 6, 1), T4, "Tesla T4"))
        .is_err());
    // Built for the library's default targets: the sidecar leaves the GPU to TensorRT-RTX's validity check.
    let default_set = rtx_sidecar(&[]);
    assert!(default_set
        .check_compatible(engine, &facts(rtx, l4, "NVIDIA L4"))
        .is_ok());
    // Without a device nothing but the version can be judged.
    let none = RuntimeFacts {
        device: None,
        ..facts(rtx, T4, "x")
    };
    assert!(matches!(
        s.check_compatible(engine, &none),
        Err(Error::NoDeviceForEngine { .. })
    ));
}

/// A sidecar's TensorRT version is read in its canonical spelling only: what `FromStr` would accept from a command
/// line (`10.3`, `rtx-1.7.1`) is a corrupt sidecar here.
#[test]
fn sidecar_versions_are_read_in_their_canonical_spelling_only() {
    let mut s = sample_sidecar();
    s.seal();
    let json = s.to_json();
    let canonical = format!("\"version\": \"{}\"", s.tensorrt.version);
    assert!(json.contains(&canonical), "{json}");
    assert!(Sidecar::from_json(&json, Path::new("m.engine.json")).is_ok());
    let v = s.tensorrt.version;
    for other in [
        format!("{}.{}", v.major, v.minor),
        format!("{}.{}.{}.1", v.major, v.minor, v.patch),
        format!("rtx-{}.{}.{}", v.major, v.minor, v.patch),
    ] {
        let bad = json.replace(&canonical, &format!("\"version\": \"{other}\""));
        assert!(
            Sidecar::from_json(&bad, Path::new("m.engine.json")).is_err(),
            "{other} was accepted"
        );
    }
}
