//! Plugin-library tests. Fixtures are tiny shared libraries compiled with the system C compiler (`cc`, installed by
//! `scripts/test.sh`); the `reallib_` tests link one against the real TensorRT lean runtime (`TRT_TEST_LEAN_LIB`).

use super::*;
use std::process::Command;

fn compile(dir: &Path, name: &str, source: &str, extra: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let out = dir.join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&src)
        .args(extra)
        .status()
        .unwrap_or_else(|e| panic!("these tests compile fixtures with `{cc}` (set CC): {e}"));
    assert!(status.success(), "{cc} failed for {name}");
    out
}

fn err_text(r: Result<impl std::fmt::Debug>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e @ Error::PluginLibrary { .. }) => e.to_string(),
        Err(other) => panic!("expected Error::PluginLibrary, got {other:?}"),
    }
}

fn v(major: u32, minor: u32) -> Version {
    Version::new(major, minor, 0)
}

const PLAIN: &str =
    "#include <string.h>\nint plugin_answer(const char* s) { return (int)strlen(s); }\n";
const WITH_ENTRY: &str = "void* getCreators(int* n) { *n = 0; return 0; }\n\
                          void* getPluginCreators(int* n) { *n = 0; return 0; }\n";
const HIDDEN_ENTRY: &str =
    "static void* getCreators(int* n) { *n = 0; return 0; }\nvoid* keep(void) { return (void*)getCreators; }\n";

#[test]
fn a_missing_file_is_named_with_the_fix() {
    let msg = err_text(inspect_plugin_library(Path::new(
        "/nonexistent/libyolo_layer.so",
    )));
    assert!(msg.contains("/nonexistent/libyolo_layer.so"), "{msg}");
    assert!(msg.contains("no such file"), "{msg}");
}

#[test]
fn a_directory_or_a_text_file_is_not_a_shared_library() {
    let dir = tempfile::tempdir().unwrap();
    let msg = err_text(inspect_plugin_library(dir.path()));
    assert!(msg.contains("is a directory"), "{msg}");
    let txt = dir.path().join("plugin.cpp");
    std::fs::write(&txt, "REGISTER_TENSORRT_PLUGIN(YoloLayerCreator);\n").unwrap();
    let msg = err_text(inspect_plugin_library(&txt));
    assert!(
        msg.contains("not a shared library") && msg.contains("plugin.cpp"),
        "{msg}"
    );
    let empty = dir.path().join("empty.so");
    std::fs::write(&empty, b"").unwrap();
    assert!(err_text(inspect_plugin_library(&empty)).contains("not a shared library"));
}

#[test]
fn a_real_shared_library_reports_its_needed_libraries_and_entry_points() {
    let dir = tempfile::tempdir().unwrap();
    let plain = compile(dir.path(), "libplain.so", PLAIN, &[]);
    let facts = inspect_plugin_library(&plain).unwrap();
    assert_eq!(facts.machine, host_machine());
    let needed = facts.needed.clone().expect("section headers present");
    assert!(
        needed.iter().any(|n| n.starts_with("libc.so")),
        "{needed:?}"
    );
    assert_eq!(facts.registry_entry_points, Some(vec![]));
    assert!(facts.tensorrt_majors().is_empty());

    let entry = compile(dir.path(), "libentry.so", WITH_ENTRY, &[]);
    let facts = inspect_plugin_library(&entry).unwrap();
    assert_eq!(
        facts.registry_entry_points,
        Some(vec![
            "getCreators".to_owned(),
            "getPluginCreators".to_owned()
        ])
    );

    // A file-local symbol of the same name is not an export.
    let hidden = compile(dir.path(), "libhidden.so", HIDDEN_ENTRY, &[]);
    assert_eq!(
        inspect_plugin_library(&hidden)
            .unwrap()
            .registry_entry_points,
        Some(vec![])
    );
}

#[test]
fn a_library_linking_another_tensorrt_major_is_refused_before_it_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    // A stand-in libnvinfer.so.8 to link against (only its soname matters).
    compile(
        dir.path(),
        "libnvinfer.so.8",
        "int getInferLibVersion(void) { return 8503; }\n",
        &["-Wl,-soname,libnvinfer.so.8"],
    );
    let lib_dir = format!("-L{}", dir.path().display());
    let plugin = compile(
        dir.path(),
        "libyolo_layer.so",
        "int getInferLibVersion(void);\nint plugin_version(void) { return getInferLibVersion(); }\n",
        &[&lib_dir, "-l:libnvinfer.so.8", "-Wl,--no-as-needed"],
    );
    let facts = inspect_plugin_library(&plugin).unwrap();
    assert_eq!(facts.tensorrt_majors(), vec![8]);

    let loaded_from = "TensorRT 10.3.0 is loaded from /usr/lib/x86_64-linux-gnu/libnvinfer.so.10";
    let msg = err_text(plan_plugin_load(
        &plugin,
        &facts,
        Version::new(10, 3, 0),
        loaded_from,
    ));
    for needle in [
        "libyolo_layer.so",
        "TensorRT 8",
        "10.3.0",
        "libnvinfer.so.10",
        "rebuild",
    ] {
        assert!(msg.contains(needle), "{needle} missing from {msg}");
    }
    // The same library is fine for an 8.x runtime.
    assert_eq!(
        plan_plugin_load(&plugin, &facts, Version::new(8, 5, 2), loaded_from).unwrap(),
        PluginLoadMode::Constructors
    );
}

#[test]
fn the_load_mode_follows_the_release_for_every_supported_header_branch() {
    let p = Path::new("libp.so");
    let from = "TensorRT is loaded from libnvinfer.so";
    let exporter = PluginLibraryFacts {
        machine: host_machine(),
        needed: Some(vec![]),
        registry_entry_points: Some(vec!["getPluginCreators".into()]),
    };
    let self_registering = PluginLibraryFacts {
        registry_entry_points: Some(vec![]),
        ..exporter.clone()
    };
    let unknown = PluginLibraryFacts {
        needed: None,
        registry_entry_points: None,
        ..exporter.clone()
    };
    // 8.5 has no IPluginRegistry::loadLibrary: an exporter is opened and registers from its constructors.
    assert_eq!(
        plan_plugin_load(p, &exporter, v(8, 5), from).unwrap(),
        PluginLoadMode::Constructors
    );
    for release in [v(8, 6), v(10, 3), v(10, 16), v(11, 1)] {
        assert_eq!(
            plan_plugin_load(p, &exporter, release, from).unwrap(),
            PluginLoadMode::Registry,
            "{release}"
        );
        assert_eq!(
            plan_plugin_load(p, &self_registering, release, from).unwrap(),
            PluginLoadMode::Constructors
        );
        assert_eq!(
            plan_plugin_load(p, &unknown, release, from).unwrap(),
            PluginLoadMode::Constructors
        );
    }
}

fn patched_copy(src: &Path, dir: &Path, name: &str, patch: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(src).unwrap();
    patch(&mut bytes);
    let out = dir.join(name);
    std::fs::write(&out, bytes).unwrap();
    out
}

#[test]
fn wrong_architecture_class_type_and_truncation_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let plain = compile(dir.path(), "libplain.so", PLAIN, &[]);

    let other_machine = if host_machine() == 62 { 183u16 } else { 62 };
    let arm = patched_copy(&plain, dir.path(), "libarm.so", |b| {
        b[18..20].copy_from_slice(&other_machine.to_le_bytes());
    });
    let msg = err_text(inspect_plugin_library(&arm));
    assert!(
        msg.contains("was built for") && msg.contains("rebuild"),
        "{msg}"
    );

    let elf32 = patched_copy(&plain, dir.path(), "lib32.so", |b| b[4] = 1);
    assert!(err_text(inspect_plugin_library(&elf32)).contains("32-bit"));

    let object = patched_copy(&plain, dir.path(), "plugin.o", |b| {
        b[16..18].copy_from_slice(&1u16.to_le_bytes());
    });
    assert!(err_text(inspect_plugin_library(&object)).contains("not a shared library"));

    let truncated = patched_copy(&plain, dir.path(), "libcut.so", |b| b.truncate(b.len() / 2));
    let msg = err_text(inspect_plugin_library(&truncated));
    assert!(msg.contains("truncated or corrupt"), "{msg}");

    let header_only = patched_copy(&plain, dir.path(), "libhead.so", |b| b.truncate(40));
    assert!(err_text(inspect_plugin_library(&header_only)).contains("truncated"));
}

// ------------------------------------------------------------------------------------------ real lean runtime

fn lean_runtime() -> &'static TensorRtLibs {
    static LIBS: std::sync::OnceLock<TensorRtLibs> = std::sync::OnceLock::new();
    LIBS.get_or_init(|| {
        let file = std::env::var_os("TRT_TEST_LEAN_LIB")
            .map(PathBuf::from)
            .expect(
                "TRT_TEST_LEAN_LIB is not set: .ci/run sets it to the real TensorRT lean runtime",
            );
        let cfg = crate::loader::SearchConfig {
            trt_library: Some(file),
            ..Default::default()
        };
        crate::loader::open_tensorrt(&cfg, None).expect("lean runtime opens")
    })
}

#[test]
#[ignore = "needs TRT_TEST_LEAN_LIB (TensorRT 11.x lean runtime) and cc"]
fn reallib_a_self_registering_plugin_binds_to_the_loaded_tensorrt_registry() {
    let trt = lean_runtime();
    let lean = trt.nvinfer.path().to_owned();
    let dir = tempfile::tempdir().unwrap();
    // Like REGISTER_TENSORRT_PLUGIN: the constructor asks the loaded TensorRT for its registry.
    let source = "void* getPluginRegistry(void);\n\
                  static void* registry;\n\
                  __attribute__((constructor)) static void init(void) { registry = getPluginRegistry(); }\n\
                  void* fixture_registry(void) { return registry; }\n";
    let lib_dir = format!("-L{}", lean.parent().unwrap().display());
    let lean_name = format!("-l:{}", lean.file_name().unwrap().to_string_lossy());
    let plugin = compile(
        dir.path(),
        "libfixture_plugin.so",
        source,
        &[&lib_dir, &lean_name],
    );
    assert_eq!(
        inspect_plugin_library(&plugin).unwrap().tensorrt_majors(),
        vec![trt.version.major]
    );

    let info = load_plugin_library_into(trt, &plugin, None).expect("plugin loads");
    assert_eq!(info.mode, PluginLoadMode::Constructors);
    assert_eq!(info.file_name, "libfixture_plugin.so");
    assert!(loaded_plugin_libraries().contains(&info));
    // Loading it again is a no-op.
    assert_eq!(load_plugin_library_into(trt, &plugin, None).unwrap(), info);

    // The constructor ran and got the registry of the TensorRT we loaded (not a second copy of the library).
    // SAFETY: the fixture stays loaded for the process; `void* fixture_registry(void)`.
    let fixture = unsafe { libloading::Library::new(&info.path) }.unwrap();
    // SAFETY: signature as declared in the fixture source above.
    let registry_seen: libloading::Symbol<unsafe extern "C" fn() -> *mut std::ffi::c_void> =
        unsafe { fixture.get(b"fixture_registry") }.unwrap();
    // SAFETY: no arguments; returns the pointer stored by the constructor.
    let seen = unsafe { registry_seen() };
    let get_registry = trt
        .entry
        .get_plugin_registry
        .expect("lean runtime exports getPluginRegistry");
    // SAFETY: `IPluginRegistry* getPluginRegistry() noexcept`, resolved from the open lean runtime.
    let ours = unsafe { get_registry() };
    assert!(
        !seen.is_null(),
        "the fixture's constructor did not get a registry"
    );
    assert_eq!(seen, ours, "the plugin bound to another TensorRT instance");
}

#[test]
#[ignore = "needs TRT_TEST_LEAN_LIB (TensorRT 11.x lean runtime) and cc"]
fn reallib_a_registry_plugin_needs_a_logger_and_a_missing_dependency_is_reported() {
    let trt = lean_runtime();
    let dir = tempfile::tempdir().unwrap();
    let entry = compile(dir.path(), "libentry_plugin.so", WITH_ENTRY, &[]);
    let msg = err_text(load_plugin_library_into(trt, &entry, None));
    assert!(
        msg.contains("loadLibrary") && msg.contains("libentry_plugin.so"),
        "{msg}"
    );

    // A library whose dependency is not on the loader path: the dynamic loader's reason is passed on.
    compile(
        dir.path(),
        "libdep_missing.so",
        PLAIN,
        &["-Wl,-soname,libdep_missing.so"],
    );
    let lib_dir = format!("-L{}", dir.path().display());
    let plugin = compile(
        dir.path(),
        "libneeds_dep.so",
        "int plugin_answer(const char* s);\nint twice(void) { return 2 * plugin_answer(\"x\"); }\n",
        &[&lib_dir, "-l:libdep_missing.so", "-Wl,--no-as-needed"],
    );
    std::fs::remove_file(dir.path().join("libdep_missing.so")).unwrap();
    let msg = err_text(load_plugin_library_into(trt, &plugin, None));
    assert!(
        msg.contains("libdep_missing.so") && msg.contains("LD_LIBRARY_PATH"),
        "{msg}"
    );
    assert!(!loaded_plugin_libraries()
        .iter()
        .any(|l| l.file_name == "libneeds_dep.so"));
}

/// A plugin library in the 10.x/11.x `loadLibrary` form with one V3 creator (it creates nothing; registration is
/// what is tested), compiled with the C++ compiler against the headers the shim was built with.
#[cfg(trt_shim)]
const V3_CREATOR_LIBRARY: &str = r#"
#include <NvInferRuntime.h>
#include <cstdint>
namespace {
class Creator : public nvinfer1::IPluginCreatorV3One {
public:
    nvinfer1::IPluginV3* createPlugin(char const*, nvinfer1::PluginFieldCollection const*,
                                      nvinfer1::TensorRTPhase) noexcept override { return nullptr; }
    nvinfer1::PluginFieldCollection const* getFieldNames() noexcept override { return &fields; }
    char const* getPluginName() const noexcept override { return "TrtYoloFixture"; }
    char const* getPluginVersion() const noexcept override { return "1"; }
    char const* getPluginNamespace() const noexcept override { return ""; }
private:
    nvinfer1::PluginFieldCollection fields{0, nullptr};
};
Creator creator;
nvinfer1::IPluginCreatorInterface* creators[] = {&creator};
}
extern "C" void setLoggerFinder(nvinfer1::ILoggerFinder*) {}
extern "C" nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& n) { n = 1; return creators; }
"#;

/// With the shim compiled (header matrix), libraries with the 10.x plugin-library entry points go through the real
/// `IPluginRegistry::loadLibrary` of the lean runtime: one with a creator is registered; one whose creator list is
/// empty is refused by TensorRT ("No creator returned"), and the error names the file.
#[cfg(trt_shim)]
#[test]
#[ignore = "needs TRT_TEST_LEAN_LIB (TensorRT 11.x lean runtime), headers of the same major, cc and c++"]
fn reallib_registry_plugin_library_loads_through_iplugin_registry() {
    let trt = lean_runtime();
    let compiled = crate::shim::compiled_version().expect("shim compiled");
    assert_eq!(
        trt.version.major, compiled.major,
        "lean runtime {} vs headers {compiled}",
        trt.version
    );
    let dir = tempfile::tempdir().unwrap();
    let logger = crate::shim::Logger::new(crate::shim::Severity::Info, |_, _| {}).expect("logger");

    let empty = compile(
        dir.path(),
        "libempty_registry_plugin.so",
        "#include <stdint.h>\nvoid setLoggerFinder(void* f) { (void)f; }\n\
         void* getCreators(int32_t* n) { *n = 0; return 0; }\n",
        &[],
    );
    let msg = err_text(load_plugin_library_into(trt, &empty, Some(&logger)));
    assert!(
        msg.contains("libempty_registry_plugin.so") && msg.contains("loadLibrary"),
        "{msg}"
    );

    let src = dir.path().join("creator.cc");
    std::fs::write(&src, V3_CREATOR_LIBRARY).unwrap();
    let plugin = dir.path().join("libv3_creator.so");
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let ok = Command::new(&cxx)
        .args(["-std=c++17", "-shared", "-fPIC", "-w", "-o"])
        .arg(&plugin)
        .arg(&src)
        .arg(format!("-I{}", env!("TRT_SYS_TENSORRT_INCLUDE_DIR")))
        .arg(format!("-I{}", env!("TRT_SYS_CUDA_INCLUDE_DIR")))
        .status()
        .unwrap_or_else(|e| panic!("this test compiles a C++ fixture with `{cxx}` (set CXX): {e}"))
        .success();
    assert!(ok, "{cxx} failed for the V3 creator fixture");
    let info =
        load_plugin_library_into(trt, &plugin, Some(&logger)).expect("the registry accepts it");
    assert_eq!(info.mode, PluginLoadMode::Registry);
    assert!(loaded_plugin_libraries().contains(&info));
}

/// The standard plugin library is judged by the version it reports itself (TensorRT 8.x exports
/// `getInferLibVersion`), not by its file name: one older than the compiled headers or newer than the loaded
/// runtime is refused naming both versions; one without a version function of its own (TensorRT 10+, or one
/// that only inherits libnvinfer's through a dependency) is accepted on its file name.
#[test]
fn the_standard_plugin_library_is_checked_by_its_own_version() {
    use crate::loader::{open_plugins, RuntimeFlavor, SearchConfig};
    let trt = TensorRtLibs::stand_in(RuntimeFlavor::Full, Version::new(8, 6, 1));
    const INIT: &str =
        "int initLibNvInferPlugins(void* l, const char* n) { (void)l; (void)n; return 1; }\n";
    let plugin_dir = |name: &str, source: &str, extra: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        compile(dir.path(), "libnvinfer_plugin.so.8", source, extra);
        let config = SearchConfig {
            trt_lib_dirs: vec![dir.path().to_owned()],
            ..SearchConfig::default()
        };
        (dir, config, name.to_owned())
    };
    let compiled = Some(Version::new(8, 6, 0));
    let own = |raw: i32| format!("{INIT}int getInferLibVersion(void) {{ return {raw}; }}\n");

    // Its own 8.6.1: accepted and recorded.
    let (_d, config, _) = plugin_dir("8.6.1", &own(8601), &[]);
    let lib = open_plugins(&config, &trt, compiled).expect("a matching plugin library opens");
    assert_eq!(lib.version, Some(Version::new(8, 6, 1)));

    // Older than the compiled headers, newer than the loaded runtime: refused, both versions named, with the fix.
    for (raw, plugin, expected) in [
        (
            8503,
            "TensorRT 8.5.3",
            "the compiled headers, TensorRT 8.6.0",
        ),
        (8700, "TensorRT 8.7.0", "the loaded runtime, TensorRT 8.6.1"),
    ] {
        let (_d, config, _) = plugin_dir("", &own(raw), &[]);
        let err = open_plugins(&config, &trt, compiled).unwrap_err();
        assert!(
            matches!(&err, Error::PluginVersionMismatch { path, .. } if path.ends_with("libnvinfer_plugin.so.8")),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&format!(
                "is the TensorRT plugin library of {plugin}, which cannot serve {expected}"
            )) && msg.contains(
                "point TRT_LIB_DIR at the libnvinfer_plugin that ships with the loaded TensorRT"
            ),
            "{msg}"
        );
    }

    // No version function of its own: accepted on its file name, version unknown.
    let (_d, config, _) = plugin_dir("", INIT, &[]);
    assert_eq!(open_plugins(&config, &trt, compiled).unwrap().version, None);

    // A getInferLibVersion that only comes from a dependency (libnvinfer's) is not the plugin's own.
    let dep_dir = tempfile::tempdir().unwrap();
    compile(
        dep_dir.path(),
        "libfakeinfer.so",
        "int getInferLibVersion(void) { return 8503; }\n",
        &[],
    );
    let dep = dep_dir.path().to_str().unwrap();
    let (_d, config, _) = plugin_dir(
        "",
        INIT,
        &[
            &format!("-L{dep}"),
            &format!("-Wl,-rpath,{dep}"),
            "-l:libfakeinfer.so",
        ],
    );
    let lib = open_plugins(&config, &trt, compiled)
        .expect("the dependency's version is not the plugin's");
    assert_eq!(lib.version, None);
}
