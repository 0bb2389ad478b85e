//! What this machine offers for building and running engines, and why not: the libraries the loader finds, the
//! CUDA driver and GPUs, and the blockers for each. `trt-inspect system` prints it; `trt-build` uses the same probe
//! to say exactly what is missing before it exits with code 3.

use std::path::PathBuf;

use serde::Serialize;
use trt_sys::loader::{self, RuntimeFlavor};

use crate::Version;

/// One shared library: where it was found and what it is, or where it was looked for.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LibraryReport {
    /// Library looked for (`libnvinfer`, `libnvonnxparser`, `libnvinfer_plugin`, `libcudart`).
    pub library: &'static str,
    /// Whether it was opened.
    pub found: bool,
    /// The file opened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Version it reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `full`, `lean` or `dispatch` (libnvinfer only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flavor: Option<String>,
    /// Every path tried when not found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<PathBuf>,
    /// The error when not found or not usable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LibraryReport {
    fn found(
        library: &'static str,
        path: PathBuf,
        version: Option<String>,
        flavor: Option<String>,
    ) -> Self {
        LibraryReport {
            library,
            found: true,
            path: Some(path),
            version,
            flavor,
            tried: Vec::new(),
            error: None,
        }
    }

    fn missing(library: &'static str, err: &trt_sys::Error) -> Self {
        let tried = match err {
            trt_sys::Error::LibraryNotFound { tried, .. } => tried.clone(),
            _ => Vec::new(),
        };
        // The tried list is reported separately; keep the message to its first line plus the hint.
        let error = match err {
            trt_sys::Error::LibraryNotFound { library, hint, .. } => {
                format!("{library} not found. {hint}")
            }
            other => other.to_string(),
        };
        Self::absent(library, tried, error)
    }

    fn skipped(library: &'static str, why: &str) -> Self {
        Self::absent(library, Vec::new(), why.to_string())
    }

    fn absent(library: &'static str, tried: Vec<PathBuf>, error: String) -> Self {
        LibraryReport {
            library,
            found: false,
            path: None,
            version: None,
            flavor: None,
            tried,
            error: Some(error),
        }
    }
}

/// One GPU.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GpuReport {
    /// Ordinal.
    pub ordinal: i32,
    /// Name.
    pub name: String,
    /// `7.5`.
    pub compute_capability: String,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// Jetson-style integrated GPU.
    pub integrated: bool,
}

/// CUDA as seen through libcudart.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CudaReport {
    /// Driver's CUDA version (`12.4`), or `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_version: Option<String>,
    /// Runtime version (`13.0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_version: Option<String>,
    /// Usable GPUs.
    pub gpus: Vec<GpuReport>,
    /// Why no GPU is usable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything `trt-inspect system` reports.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SystemReport {
    /// TensorRT header version the shim was compiled against, or `None` ("not compiled").
    pub compiled_tensorrt: Option<String>,
    /// libnvinfer.
    pub tensorrt: LibraryReport,
    /// libnvonnxparser.
    pub onnx_parser: LibraryReport,
    /// libnvinfer_plugin.
    pub plugins: LibraryReport,
    /// libcudart.
    pub cudart: LibraryReport,
    /// Driver, runtime and GPUs.
    pub cuda: CudaReport,
    /// TensorRT for RTX: the compute capabilities engines can be compiled for here (without a GPU); absent for
    /// TensorRT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtx_targets: Option<Vec<String>>,
    /// Engines can be built here.
    pub can_build: bool,
    /// Why not (each reason one sentence).
    pub build_blockers: Vec<String>,
    /// Engines can be run here.
    pub can_run: bool,
    /// Why not.
    pub run_blockers: Vec<String>,
    /// The loaded TensorRT release (for planning).
    #[serde(skip)]
    pub loaded_version: Option<Version>,
}

/// Probes the machine with the process-wide loader (the same handles every TensorRT call uses).
pub fn probe() -> SystemReport {
    let compiled = loader::compiled_version();
    let mut build_blockers = Vec::new();
    let mut run_blockers = Vec::new();
    if compiled.is_none() {
        let why = trt_sys::Error::TensorRtNotCompiled.to_string();
        build_blockers.push(why.clone());
        run_blockers.push(why);
    }

    let (tensorrt, loaded, flavor) = match loader::tensorrt() {
        Ok(libs) => (
            LibraryReport::found(
                if libs.version.is_rtx() {
                    "libtensorrt_rtx"
                } else {
                    "libnvinfer"
                },
                libs.nvinfer.path().to_path_buf(),
                Some(libs.version.to_string()),
                Some(libs.flavor.to_string()),
            ),
            Some(libs.version),
            Some(libs.flavor),
        ),
        Err(e) => {
            let why = format!("TensorRT runtime: {}", short(&e));
            build_blockers.push(why.clone());
            run_blockers.push(why);
            (LibraryReport::missing("libnvinfer", &e), None, None)
        }
    };
    if let (Some(v), Some(flavor)) = (loaded, flavor) {
        if !flavor.can_build() {
            build_blockers.push(format!(
                "the loaded TensorRT {v} runtime is the {flavor} runtime, which cannot build engines; the builder \
                 needs the full libnvinfer.so.{} (set TRT_LIBRARY or TRT_LIB_DIR to a full TensorRT install)",
                v.major
            ));
        }
        if flavor == RuntimeFlavor::Dispatch {
            // The dispatch runtime only runs version-compatible engines that embed a lean runtime.
            tracing::debug!("dispatch runtime: only version-compatible engines with an embedded lean runtime run");
        }
    }
    let full = flavor == Some(RuntimeFlavor::Full);
    let rtx = loaded.is_some_and(|v| v.is_rtx());
    let parser_name = if rtx {
        "libtensorrt_onnxparser_rtx"
    } else {
        "libnvonnxparser"
    };
    let onnx_parser = if full {
        match loader::onnx_parser() {
            Ok(p) => LibraryReport::found(
                parser_name,
                p.lib.path().to_path_buf(),
                // The parser's numbers are its own (TensorRT-RTX 1.7 ships parser 0.2.0): no product prefix.
                p.version.map(|v| v.numbers()),
                None,
            ),
            Err(e) => {
                build_blockers.push(format!("ONNX parser: {}", short(&e)));
                LibraryReport::missing(parser_name, &e)
            }
        }
    } else {
        LibraryReport::skipped(
            "libnvonnxparser",
            "not looked for: it needs the full TensorRT runtime",
        )
    };
    let plugins = if rtx {
        LibraryReport::skipped(
            "libnvinfer_plugin",
            "TensorRT for RTX has no standard plugin library",
        )
    } else if full {
        match loader::plugins() {
            Ok(p) => LibraryReport::found(
                "libnvinfer_plugin",
                p.lib.path().to_path_buf(),
                p.version.map(|v| v.to_string()),
                None,
            ),
            // Plugins are optional for models without plugin layers: a warning, not a blocker.
            Err(e) => LibraryReport::missing("libnvinfer_plugin", &e),
        }
    } else {
        LibraryReport::skipped(
            "libnvinfer_plugin",
            "not looked for: it needs the full TensorRT runtime",
        )
    };

    let (cudart, cuda) = match loader::cudart() {
        Ok(rt) => {
            let runtime_version = rt
                .runtime_version()
                .ok()
                .map(trt_sys::cuda::format_cuda_version);
            let lib = LibraryReport::found(
                "libcudart",
                rt.path().to_path_buf(),
                runtime_version.clone(),
                None,
            );
            let cuda = match rt.check_device_usable() {
                Ok(summary) => CudaReport {
                    driver_version: Some(trt_sys::cuda::format_cuda_version(
                        summary.driver_version,
                    )),
                    runtime_version: Some(trt_sys::cuda::format_cuda_version(
                        summary.runtime_version,
                    )),
                    gpus: summary
                        .devices
                        .iter()
                        .map(|d| GpuReport {
                            ordinal: d.ordinal,
                            name: d.name.clone(),
                            compute_capability: format!(
                                "{}.{}",
                                d.compute_capability.0, d.compute_capability.1
                            ),
                            memory_bytes: d.total_memory as u64,
                            integrated: d.integrated,
                        })
                        .collect(),
                    error: None,
                },
                Err(e) => {
                    let why = e.to_string();
                    // TensorRT for RTX builds ahead of time without a GPU; it still needs one to run engines.
                    if !rtx {
                        build_blockers.push(why.clone());
                    }
                    run_blockers.push(why.clone());
                    CudaReport {
                        driver_version: rt
                            .driver_version()
                            .ok()
                            .map(trt_sys::cuda::format_cuda_version),
                        runtime_version,
                        gpus: Vec::new(),
                        error: Some(why),
                    }
                }
            };
            (lib, cuda)
        }
        Err(e) => {
            let why = format!("CUDA runtime: {}", short(&e));
            build_blockers.push(why.clone());
            run_blockers.push(why.clone());
            (
                LibraryReport::missing("libcudart", &e),
                CudaReport {
                    driver_version: None,
                    runtime_version: None,
                    gpus: Vec::new(),
                    error: Some(why),
                },
            )
        }
    };

    let rtx_targets = rtx.then(|| {
        trt_sys::shim::compute_capability_targets()
            .unwrap_or_default()
            .iter()
            .map(|v| format!("{}.{}", v / 10, v % 10))
            .collect()
    });
    SystemReport {
        compiled_tensorrt: compiled.map(|v| v.to_string()),
        rtx_targets,
        tensorrt,
        onnx_parser,
        plugins,
        cudart,
        cuda,
        can_build: build_blockers.is_empty(),
        build_blockers,
        can_run: run_blockers.is_empty(),
        run_blockers,
        loaded_version: loaded,
    }
}

/// One line for a loader error: a missing library says how many places were tried and what to set.
fn short(e: &trt_sys::Error) -> String {
    match e {
        trt_sys::Error::LibraryNotFound {
            library,
            tried,
            hint,
        } => {
            format!(
                "{library} not found ({} locations tried). {hint}",
                tried.len()
            )
        }
        other => other
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

impl SystemReport {
    /// The human-readable report.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "TensorRT headers (compiled in): {}",
            self.compiled_tensorrt.as_deref().unwrap_or("not compiled")
        );
        for lib in [
            &self.tensorrt,
            &self.onnx_parser,
            &self.plugins,
            &self.cudart,
        ] {
            if lib.found {
                let _ = write!(
                    s,
                    "{:<18} {}",
                    lib.library,
                    lib.path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                );
                if let Some(v) = &lib.version {
                    let _ = write!(s, "  version {v}");
                }
                if let Some(f) = &lib.flavor {
                    let _ = write!(s, "  ({f} runtime)");
                }
                s.push('\n');
            } else {
                let _ = writeln!(
                    s,
                    "{:<18} not found: {}",
                    lib.library,
                    lib.error.as_deref().unwrap_or("")
                );
                for t in &lib.tried {
                    let _ = writeln!(s, "{:<18}   tried {}", "", t.display());
                }
            }
        }
        let _ = writeln!(
            s,
            "CUDA driver:       {}",
            self.cuda.driver_version.as_deref().unwrap_or("unknown")
        );
        let _ = writeln!(
            s,
            "CUDA runtime:      {}",
            self.cuda.runtime_version.as_deref().unwrap_or("unknown")
        );
        if self.cuda.gpus.is_empty() {
            let _ = writeln!(
                s,
                "GPUs:              none usable{}",
                self.cuda
                    .error
                    .as_ref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
        }
        for g in &self.cuda.gpus {
            let _ = writeln!(
                s,
                "GPU {}:             {} (compute capability {}, {:.1} GiB{})",
                g.ordinal,
                g.name,
                g.compute_capability,
                g.memory_bytes as f64 / f64::from(1u32 << 30),
                if g.integrated { ", integrated" } else { "" }
            );
        }
        let yes_no = |ok: bool, blockers: &[String]| {
            if ok {
                "yes".to_string()
            } else {
                format!(
                    "no\n{}",
                    blockers
                        .iter()
                        .map(|b| format!("  - {b}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            }
        };
        if let Some(t) = &self.rtx_targets {
            let _ = writeln!(
                s,
                "TensorRT-RTX:      builds without a GPU for compute capabilities {} (--compute-capability)",
                t.join(", ")
            );
        }
        let _ = writeln!(
            s,
            "Build engines here: {}",
            yes_no(self.can_build, &self.build_blockers)
        );
        let _ = writeln!(
            s,
            "Run engines here:   {}",
            yes_no(self.can_run, &self.run_blockers)
        );
        s
    }

    /// What `trt-build` prints when it cannot build: every blocker, one per line.
    pub fn missing_for_build(&self) -> Option<String> {
        if self.can_build {
            return None;
        }
        let mut s = String::from("TensorRT cannot build engines on this machine:");
        for b in &self.build_blockers {
            s.push_str("\n  - ");
            s.push_str(b);
        }
        s.push_str("\n(`trt-inspect system` shows the full report)");
        Some(s)
    }
}
