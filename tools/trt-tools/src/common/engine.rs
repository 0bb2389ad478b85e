//! `--no-sidecar` of the programs that read engines (trt-bench, trt-detect, trt-inspect): engines made by other tools
//! (trtexec, Ultralytics, TensorRT-YOLO …), which come without a sidecar. See [`trt::foreign`].

use std::path::Path;
use std::sync::Once;

/// `--no-sidecar`.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct SidecarArgs {
    /// Load an engine that has no sidecar (built by trtexec, Ultralytics, TensorRT-YOLO …): IO names, shapes and
    /// types come from the engine itself, and Ultralytics' metadata in front of the engine is stripped (its class
    /// names are used). Provenance checks are off: only for engines from a source you trust.
    #[arg(long)]
    pub no_sidecar: bool,
}

impl SidecarArgs {
    /// Whether `engine` is to be loaded without its sidecar: asked for, or (`implicit`, trtexec's `--loadEngine`
    /// spelling) the engine has none.
    pub fn without_sidecar(&self, engine: &Path, implicit: bool) -> bool {
        self.no_sidecar || (implicit && !trt::sidecar::sidecar_path(engine).exists())
    }
}

/// Says once per process that `engine` is loaded without provenance checks.
pub fn warn_unchecked(engine: &Path) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing::warn!(
            "provenance checks are off (--no-sidecar): {} and any other engine without a sidecar is handed to \
             TensorRT as it is, with no check of who built it, for which TensorRT or GPU, or that it is intact",
            engine.display()
        );
    });
}

/// The checks of an engine without a sidecar that need no TensorRT: the file exists and is an engine file (not
/// empty, Ultralytics' metadata complete). Returns its parts.
pub fn precheck_foreign(engine: &Path) -> anyhow::Result<trt::foreign::ForeignEngine> {
    if !engine.is_file() {
        anyhow::bail!("{}: engine file not found", engine.display());
    }
    Ok(trt::foreign::ForeignEngine::read(engine)?)
}
