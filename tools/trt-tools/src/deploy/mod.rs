//! Deployment targets for built engines: Triton model repositories ([`triton`]) and DeepStream nvinfer configs
//! ([`deepstream`]). `trt-build --triton-repo/--deepstream` writes them after a build; `trt-inspect E --triton` prints
//! the Triton config of an existing engine.

pub mod deepstream;
pub mod triton;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

/// `trt-build`'s deployment options, validated.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// `--triton-repo DIR` with its name, version and CUDA-graph choice.
    pub triton: Option<(PathBuf, triton::TritonOptions)>,
    /// `--deepstream DIR` with the parser library found for it.
    pub deepstream: Option<(PathBuf, PathBuf)>,
}

impl DeployOptions {
    /// Nothing asked.
    pub fn is_empty(&self) -> bool {
        self.triton.is_none() && self.deepstream.is_none()
    }
}

/// What was written.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Deployed {
    /// The Triton repository entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triton: Option<triton::TritonRepository>,
    /// The DeepStream files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deepstream: Option<deepstream::DeepStreamFiles>,
}

/// Writes the deployment files of the engine just written at `engine` (its sidecar beside it; both are read back and
/// checked against each other first, so what is deployed is what was built).
pub fn write(options: &DeployOptions, engine: &Path) -> Result<Deployed> {
    let mut out = Deployed::default();
    if options.is_empty() {
        return Ok(out);
    }
    let sidecar = trt::sidecar::read_sidecar(engine)
        .with_context(|| format!("reading the sidecar of {}", engine.display()))?;
    let bytes = std::fs::read(engine).with_context(|| format!("reading {}", engine.display()))?;
    sidecar.check_engine_bytes(engine, &bytes)?;
    if let Some((dir, opts)) = &options.triton {
        out.triton = Some(triton::write_repository(dir, opts, &bytes, &sidecar)?);
    }
    if let Some((dir, lib)) = &options.deepstream {
        out.deepstream = Some(deepstream::write(dir, engine, &sidecar, lib)?);
    }
    Ok(out)
}
