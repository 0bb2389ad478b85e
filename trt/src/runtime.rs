//! Library, Runtime, Engine and ExecutionContext over the `trt-sys` shim.

use std::cell::Cell;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use trt_sys::loader::RuntimeFlavor;
pub use trt_sys::shim::TensorFormat;
pub use trt_sys::shim::{LayerTime, LayerTimes};
use trt_sys::shim::{ProfileSelector, TensorIoMode};

use crate::cuda::{CudaVersions, Device, Event, Stream};
use crate::dtype::DataType;
use crate::error::{Error, Result, Shape};
use crate::logger::Logger;
use crate::session::{Session, SessionConfig};
use crate::sidecar::{self, DeviceFacts, RuntimeFacts, Sidecar, TensorMode, VerifiedEngine};
use crate::Version;

/// Options for [`Library::load_with`].
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// CUDA device ordinal (default 0).
    pub device: usize,
    /// Where TensorRT's messages go (default: warnings and errors into `tracing`).
    pub logger: Logger,
    /// Initialize the TensorRT plugin library (`libnvinfer_plugin`) right away.
    pub init_plugins: bool,
    /// Custom plugin libraries to load right away ([`Library::load_plugin_library`]), in order.
    pub plugin_libraries: Vec<PathBuf>,
    /// Load for building engines only. TensorRT for RTX builds ahead of time without a GPU: with it, a missing or
    /// unusable device is then not an error ([`Library::device`] reports it when asked). Every other TensorRT
    /// needs a usable device either way.
    pub build_only: bool,
    /// TensorRT for RTX's JIT runtime cache (kernels compiled for this GPU on first use): where engines loaded
    /// through this library keep it. Ignored by every other TensorRT.
    pub runtime_cache: RuntimeCache,
}

/// Where a TensorRT for RTX engine's JIT runtime cache lives. TensorRT-RTX compiles an engine's kernels for the GPU
/// it runs on when first used; seeding the next start with the kernels compiled so far makes that start fast. The
/// cache is read when the engine is loaded and written back when the engine is dropped (or by
/// [`Engine::save_runtime_cache`]); one TensorRT rejects (another GPU, driver or release) is replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RuntimeCache {
    /// Next to the engine: `model.engine` keeps it in `model.engine.runtime-cache`.
    #[default]
    BesideEngine,
    /// In this file (`--runtime-cache FILE`).
    File(PathBuf),
    /// No persistent cache (kernels are compiled again at every start).
    Off,
}

impl RuntimeCache {
    /// The cache file for `engine`, `None` when off.
    pub fn path_for(&self, engine: &Path) -> Option<PathBuf> {
        match self {
            RuntimeCache::BesideEngine => {
                let mut name = engine.as_os_str().to_owned();
                name.push(".runtime-cache");
                Some(PathBuf::from(name))
            }
            RuntimeCache::File(p) => Some(p.clone()),
            RuntimeCache::Off => None,
        }
    }
}

/// The loaded TensorRT and CUDA libraries, the device and the logger. Cheap to clone.
///
/// Loading order: libcudart → libnvinfer (full, lean or dispatch) → a usable CUDA device (checked before any
/// TensorRT factory runs) → the shim's logger. Each failure is a clear error; nothing crashes without a GPU.
#[derive(Clone, Debug)]
pub struct Library {
    inner: Arc<LibraryInner>,
}

#[derive(Debug)]
struct LibraryInner {
    logger: Logger,
    shim_logger: trt_sys::shim::Logger,
    version: Version,
    flavor: RuntimeFlavor,
    path: PathBuf,
    cuda: CudaVersions,
    /// The device, or why there is none (only for a build-only TensorRT-RTX library).
    device: std::result::Result<Device, String>,
    plugins: AtomicBool,
    runtime_cache: RuntimeCache,
}

impl Library {
    /// Loads with default [`LoadOptions`].
    pub fn load() -> Result<Library> {
        Self::load_with(LoadOptions::default())
    }

    /// Loads the libraries and opens the device (see the type docs for the order).
    pub fn load_with(options: LoadOptions) -> Result<Library> {
        let cuda = Device::versions()?;
        let trt = trt_sys::loader::tensorrt()?;
        let device = match Device::new(options.device) {
            Ok(d) => Ok(d),
            Err(e) if options.build_only && trt.version.is_rtx() => Err(match e {
                Error::Sys(trt_sys::Error::NoCudaDevice { reason }) => reason,
                other => other.to_string(),
            }),
            Err(e) => return Err(e),
        };
        let shim_logger = options.logger.to_shim()?;
        let lib = Library {
            inner: Arc::new(LibraryInner {
                logger: options.logger,
                shim_logger,
                version: trt.version,
                flavor: trt.flavor,
                path: trt.nvinfer.path().to_owned(),
                cuda,
                device,
                plugins: AtomicBool::new(false),
                runtime_cache: options.runtime_cache,
            }),
        };
        if options.init_plugins {
            lib.init_plugins()?;
        }
        for path in &options.plugin_libraries {
            lib.load_plugin_library(path)?;
        }
        Ok(lib)
    }

    /// The loaded TensorRT version.
    pub fn tensorrt_version(&self) -> Version {
        self.inner.version
    }

    /// Whether the loaded library is TensorRT for RTX.
    pub fn is_rtx(&self) -> bool {
        self.inner.version.is_rtx()
    }

    /// Full, lean or dispatch runtime.
    pub fn flavor(&self) -> RuntimeFlavor {
        self.inner.flavor
    }

    /// Path of the loaded libnvinfer.
    pub fn tensorrt_path(&self) -> &Path {
        &self.inner.path
    }

    /// CUDA driver and runtime versions.
    pub fn cuda_versions(&self) -> &CudaVersions {
        &self.inner.cuda
    }

    /// The device engines run on. An error only for a build-only TensorRT-RTX library on a machine without a
    /// usable GPU ([`LoadOptions::build_only`]).
    pub fn device(&self) -> Result<&Device> {
        self.inner.device.as_ref().map_err(|reason| {
            Error::Sys(trt_sys::Error::NoCudaDevice {
                reason: reason.clone(),
            })
        })
    }

    /// The logger.
    pub fn logger(&self) -> &Logger {
        &self.inner.logger
    }

    /// Registers TensorRT's standard plugins (idempotent).
    pub fn init_plugins(&self) -> Result<()> {
        if !self.inner.plugins.load(Ordering::Acquire) {
            trt_sys::shim::init_plugins(&self.inner.shim_logger, "")?;
            self.inner.plugins.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Loads a custom plugin library (a `.so` built against this TensorRT) so its plugins can be parsed, built and
    /// deserialized. The file is checked first (a shared library for this machine, linking this TensorRT major);
    /// a library exporting `getPluginCreators`/`getCreators` goes through `IPluginRegistry::loadLibrary` on
    /// TensorRT ≥ 8.6, any other is opened and registers itself from its initializers (`REGISTER_TENSORRT_PLUGIN`).
    /// Loading the same file again is a no-op. Plugin libraries stay loaded for the rest of the process.
    pub fn load_plugin_library(
        &self,
        path: &Path,
    ) -> Result<trt_sys::plugin_lib::PluginLibraryInfo> {
        let info = trt_sys::plugin_lib::load_plugin_library(path, Some(&self.inner.shim_logger))?;
        tracing::info!(
            target: "trt",
            "plugin library {} loaded ({:?})",
            info.path.display(),
            info.mode
        );
        Ok(info)
    }

    /// File names of the custom plugin libraries loaded into this process.
    pub fn plugin_libraries(&self) -> Vec<String> {
        trt_sys::plugin_lib::loaded_plugin_libraries()
            .into_iter()
            .map(|l| l.file_name)
            .collect()
    }

    /// Whether [`Library::init_plugins`] has run.
    pub fn plugins_initialized(&self) -> bool {
        self.inner.plugins.load(Ordering::Acquire)
    }

    /// What an engine sidecar is checked against.
    pub fn runtime_facts(&self) -> RuntimeFacts {
        RuntimeFacts {
            tensorrt: self.inner.version,
            device: self.device().ok().map(|d| DeviceFacts {
                name: d.name().to_owned(),
                compute_capability: d.compute_capability(),
            }),
            plugins_initialized: self.plugins_initialized(),
            plugin_libraries: self.plugin_libraries(),
        }
    }

    /// TensorRT for RTX's judgement of a serialized engine from its header (`IRuntime::getEngineValidity`), without
    /// a GPU; `None` for any other TensorRT, which has no such check.
    pub fn engine_validity(
        &self,
        engine: &[u8],
    ) -> Result<Option<crate::validity::EngineValidity>> {
        if !self.is_rtx() {
            return Ok(None);
        }
        // Its own, silent logger: without a GPU TensorRT-RTX logs an error for every check (it cannot read the GPU's
        // properties), which the verdict reports instead.
        let logger = trt_sys::shim::Logger::new(trt_sys::shim::Severity::InternalError, |_, _| {})?;
        let runtime = trt_sys::shim::Runtime::new_for_inspection(&logger)?;
        let v = runtime.engine_validity(engine)?;
        Ok(Some(crate::validity::EngineValidity::from_raw(
            v.status,
            v.diagnostics,
            v.header_size,
            v.logged,
        )))
    }

    /// This device's compute capability as "8.6", when there is a device.
    fn device_cc(&self) -> Option<String> {
        self.device()
            .ok()
            .map(|d| d.compute_capability().to_string())
    }

    /// A runtime for deserializing engines.
    pub fn runtime(&self) -> Result<Runtime> {
        let shim = trt_sys::shim::Runtime::new(&self.inner.shim_logger)?;
        Ok(Runtime {
            shim,
            library: self.clone(),
        })
    }

    /// A builder (needs the full libnvinfer, not lean/dispatch).
    pub fn builder(&self) -> Result<crate::builder::Builder> {
        Ok(trt_sys::shim::Builder::new(&self.inner.shim_logger)?)
    }

    /// An ONNX parser filling `network`.
    pub fn onnx_parser(
        &self,
        network: crate::builder::Network,
    ) -> Result<crate::builder::OnnxParser> {
        Ok(trt_sys::shim::Parser::new(network)?)
    }
}

/// Deserializes engines (`IRuntime`). `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Runtime {
    shim: trt_sys::shim::Runtime,
    library: Library,
}

impl Runtime {
    /// Loads `path` after verifying it against its sidecar (see [`sidecar`]): TensorRT reads no byte of an engine
    /// that is corrupt, truncated, built for another TensorRT or GPU, or needs uninitialized plugins.
    pub fn load_engine(&self, path: impl AsRef<Path>) -> Result<Engine> {
        let facts = self.library.runtime_facts();
        sidecar::load_with(path.as_ref(), &facts, |verified| {
            self.deserialize_verified(verified)
        })
    }

    /// Deserializes bytes that [`sidecar::load_verified`] checked. On TensorRT for RTX, `getEngineValidity` judges
    /// the header first: an engine for another GPU, release or driver is [`Error::EngineInvalid`] with the reasons.
    pub fn deserialize_verified(&self, verified: &VerifiedEngine) -> Result<Engine> {
        self.check_validity(&verified.bytes, &verified.path, Some(&verified.sidecar))?;
        self.deserialize_file(
            &verified.bytes,
            &verified.path,
            Some(verified.sidecar.clone()),
        )
    }

    /// Deserializes the bytes of the engine file `path` on the library's device, with TensorRT for RTX's runtime
    /// cache when it keeps one.
    fn deserialize_file(
        &self,
        bytes: &[u8],
        path: &Path,
        sidecar: Option<Sidecar>,
    ) -> Result<Engine> {
        // The engine's memory goes to the current device: make it the library's (a worker thread may have another
        // device current, or none).
        self.library.device()?.activate()?;
        let cache_path = if self.library.is_rtx() {
            self.library.inner.runtime_cache.path_for(path)
        } else {
            None
        };
        let shim = match &cache_path {
            Some(p) => {
                let seed = match std::fs::read(p) {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                    Err(e) => {
                        tracing::warn!(target: "trt", "runtime cache {}: cannot read ({e}); starting empty", p.display());
                        Vec::new()
                    }
                };
                let (engine, accepted) = self.shim.deserialize_with_runtime_cache(bytes, &seed)?;
                if !seed.is_empty() && !accepted {
                    tracing::warn!(
                        target: "trt",
                        "runtime cache {} was made for another GPU, driver or TensorRT-RTX release; it starts empty and \
                         is replaced",
                        p.display()
                    );
                }
                engine
            }
            None => self.shim.deserialize(bytes)?,
        };
        let mut engine = Engine::new(shim, self.library.clone(), sidecar, Some(path.to_owned()))?;
        engine.runtime_cache = cache_path;
        Ok(engine)
    }

    /// Loads an engine file that has no sidecar — one built by trtexec, Ultralytics, TensorRT-YOLO or any other
    /// tool — for a caller whose user asked for exactly that (`--no-sidecar`). Ultralytics' metadata in front of the
    /// engine is split off and kept ([`Engine::embedded_metadata`]); on TensorRT for RTX, `getEngineValidity` judges
    /// the header first. The provenance and integrity checks of [`Runtime::load_engine`] cannot run: TensorRT reads
    /// the bytes as they are, with the trust `trtexec --loadEngine` gives a file (see [`crate::foreign`]).
    pub fn load_engine_without_sidecar(&self, path: impl AsRef<Path>) -> Result<Engine> {
        let foreign = crate::foreign::ForeignEngine::read(path)?;
        self.check_validity(&foreign.engine, &foreign.path, None)?;
        let mut engine = self.deserialize_file(&foreign.engine, &foreign.path, None)?;
        engine.metadata = foreign.metadata;
        Ok(engine)
    }

    /// Deserializes bytes without any sidecar check.
    ///
    /// # Safety
    /// TensorRT trusts engine bytes: a crafted or damaged engine can make it read out of bounds, and version-
    /// compatible engines carry host code that TensorRT executes. Only pass bytes from a trusted source (prefer
    /// [`Runtime::load_engine`]).
    pub unsafe fn deserialize_unverified(&self, bytes: &[u8]) -> Result<Engine> {
        self.check_validity(bytes, Path::new("(engine bytes)"), None)?;
        self.library.device()?.activate()?;
        let shim = self.shim.deserialize(bytes)?;
        Engine::new(shim, self.library.clone(), None, None)
    }

    /// The library.
    pub fn library(&self) -> &Library {
        &self.library
    }

    /// TensorRT for RTX: refuses an engine whose header `getEngineValidity` judges invalid here; `sidecar` names
    /// what it was built for in the advice.
    fn check_validity(&self, bytes: &[u8], engine: &Path, sidecar: Option<&Sidecar>) -> Result<()> {
        if !self.library.is_rtx() {
            return Ok(());
        }
        let v = self.shim.engine_validity(bytes)?;
        let mut validity = crate::validity::EngineValidity::from_raw(
            v.status,
            v.diagnostics,
            v.header_size,
            v.logged,
        );
        if let Some(s) = sidecar.filter(|s| !s.tensorrt.compute_capabilities.is_empty()) {
            validity = validity.with_built_for(s.built_for());
        }
        validity.check(engine, self.library.device_cc().as_deref())
    }
}

/// min/opt/max shapes of an input in one optimization profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileDims {
    /// Smallest allowed shape.
    pub min: Vec<i64>,
    /// Shape TensorRT optimized for.
    pub opt: Vec<i64>,
    /// Largest allowed shape.
    pub max: Vec<i64>,
}

/// One IO tensor of an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoTensor {
    /// Name.
    pub name: String,
    /// Input or output.
    pub mode: TensorMode,
    /// Element type.
    pub dtype: DataType,
    /// Shape, `-1` for dynamic dimensions.
    pub shape: Vec<i64>,
    /// Memory format.
    pub format: TensorFormat,
    /// Per-profile min/opt/max (inputs with dynamic dimensions only; empty otherwise).
    pub profiles: Vec<ProfileDims>,
}

impl IoTensor {
    /// `true` for inputs.
    pub fn is_input(&self) -> bool {
        self.mode == TensorMode::Input
    }

    /// The sidecar's description of this tensor (what `trt-build` records).
    pub fn to_sidecar(&self) -> sidecar::IoTensorInfo {
        sidecar::IoTensorInfo {
            name: self.name.clone(),
            mode: self.mode,
            dtype: self.dtype,
            shape: self.shape.clone(),
            format: format_name(self.format),
        }
    }
}

/// Lowercase name of a tensor format as written in sidecars (`linear`, `chw32`, `dla-hwc4` …).
pub fn format_name(format: TensorFormat) -> String {
    let debug = format!("{format:?}");
    let mut out = String::new();
    let mut prev: Option<char> = None;
    for c in debug.chars() {
        if c.is_ascii_uppercase() && prev.is_some_and(|p| !p.is_ascii_digit()) {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
        prev = Some(c);
    }
    out
}

/// A deserialized engine (`ICudaEngine`). `Send + Sync`: share it between threads, create one
/// [`ExecutionContext`]/[`Session`] per thread.
#[derive(Debug)]
pub struct Engine {
    shim: trt_sys::shim::Engine,
    io: Vec<IoTensor>,
    library: Library,
    sidecar: Option<Sidecar>,
    path: Option<PathBuf>,
    /// The TensorRT-RTX runtime cache file this engine saves to (`None`: no cache).
    runtime_cache: Option<PathBuf>,
    /// Ultralytics' metadata from in front of an engine loaded without a sidecar.
    metadata: Option<crate::foreign::EmbeddedMetadata>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        if self.runtime_cache.is_some() {
            if let Err(e) = self.save_runtime_cache() {
                tracing::warn!(target: "trt", "runtime cache not saved: {e}");
            }
        }
    }
}

impl Engine {
    fn new(
        shim: trt_sys::shim::Engine,
        library: Library,
        sidecar: Option<Sidecar>,
        path: Option<PathBuf>,
    ) -> Result<Engine> {
        let mut io = Vec::new();
        for d in shim.io_tensors()? {
            let mode = match d.mode {
                TensorIoMode::Input => TensorMode::Input,
                TensorIoMode::Output => TensorMode::Output,
                _ => continue,
            };
            let mut profiles = Vec::new();
            if mode == TensorMode::Input && d.shape.iter().any(|&x| x < 0) {
                for p in 0..shim.num_profiles() {
                    profiles.push(ProfileDims {
                        min: shim.profile_shape(&d.name, p, ProfileSelector::Min)?,
                        opt: shim.profile_shape(&d.name, p, ProfileSelector::Opt)?,
                        max: shim.profile_shape(&d.name, p, ProfileSelector::Max)?,
                    });
                }
            }
            io.push(IoTensor {
                name: d.name,
                mode,
                dtype: d.data_type,
                shape: d.shape,
                format: d.format,
                profiles,
            });
        }
        Ok(Engine {
            shim,
            io,
            library,
            sidecar,
            path,
            runtime_cache: None,
            metadata: None,
        })
    }

    /// Writes TensorRT for RTX's JIT runtime cache (the kernels compiled for this GPU so far) to its file
    /// ([`LoadOptions::runtime_cache`]), atomically; returns the file, `None` when this engine keeps no cache (not
    /// TensorRT-RTX, or the cache is off). Dropping the engine does the same.
    pub fn save_runtime_cache(&self) -> Result<Option<PathBuf>> {
        let Some(path) = &self.runtime_cache else {
            return Ok(None);
        };
        let blob = self.shim.serialize_runtime_cache()?;
        sidecar::write_file_atomic(path, blob.as_bytes())?;
        Ok(Some(path.clone()))
    }

    /// The TensorRT-RTX runtime cache file of this engine (`None`: no cache).
    pub fn runtime_cache_path(&self) -> Option<&Path> {
        self.runtime_cache.as_deref()
    }

    /// Every IO tensor, in engine order.
    pub fn io_tensors(&self) -> &[IoTensor] {
        &self.io
    }

    /// Input tensors.
    pub fn inputs(&self) -> impl Iterator<Item = &IoTensor> {
        self.io.iter().filter(|t| t.is_input())
    }

    /// Output tensors.
    pub fn outputs(&self) -> impl Iterator<Item = &IoTensor> {
        self.io.iter().filter(|t| !t.is_input())
    }

    /// The IO tensor called `name` ([`Error::UnknownTensor`] lists the names that exist).
    pub fn tensor(&self, name: &str) -> Result<&IoTensor> {
        self.io
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::UnknownTensor {
                name: name.to_owned(),
                kind: "IO",
                available: self.io.iter().map(|t| t.name.clone()).collect(),
            })
    }

    /// The engine's IO tensors and optimization profiles in sidecar form.
    pub fn sidecar_io(&self) -> (Vec<sidecar::IoTensorInfo>, Vec<sidecar::ProfileInfo>) {
        let io = self.io.iter().map(IoTensor::to_sidecar).collect();
        let profiles = (0..self.num_profiles())
            .map(|p| sidecar::ProfileInfo {
                inputs: self
                    .inputs()
                    .filter_map(|t| {
                        t.profiles.get(p).map(|d| sidecar::ProfileShapes {
                            name: t.name.clone(),
                            min: d.min.clone(),
                            opt: d.opt.clone(),
                            max: d.max.clone(),
                        })
                    })
                    .collect(),
            })
            .collect();
        (io, profiles)
    }

    /// Number of optimization profiles.
    pub fn num_profiles(&self) -> usize {
        self.shim.num_profiles()
    }

    /// Device memory a context needs (bytes).
    pub fn device_memory_size(&self) -> u64 {
        self.shim.device_memory_size()
    }

    /// The sidecar the engine was verified against (`None` for unverified loads).
    pub fn sidecar(&self) -> Option<&Sidecar> {
        self.sidecar.as_ref()
    }

    /// Ultralytics' model metadata (class names, input size, task …) when the engine was loaded without a sidecar
    /// from a file that starts with it ([`Runtime::load_engine_without_sidecar`]).
    pub fn embedded_metadata(&self) -> Option<&crate::foreign::EmbeddedMetadata> {
        self.metadata.as_ref()
    }

    /// The engine file (`None` when loaded from bytes).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The library.
    pub fn library(&self) -> &Library {
        &self.library
    }

    /// Layer information as JSON (`IEngineInspector`).
    pub fn layer_info_json(&self) -> Result<String> {
        Ok(self.shim.layer_info_json()?)
    }

    /// A new execution context (allocates TensorRT's activation memory). The context borrows the engine.
    pub fn create_context(&self) -> Result<ExecutionContext<'_>> {
        self.library.device()?.activate()?;
        let shim = self.shim.create_execution_context()?;
        Ok(ExecutionContext {
            shim,
            engine: self,
            profile: 0,
            _not_sync: PhantomData,
        })
    }

    /// A session owning a context, a stream and pinned + device buffers for every IO tensor (the common path).
    /// Create several for concurrent inference on one engine (each has its own stream).
    pub fn session(&self, config: SessionConfig) -> Result<Session<'_>> {
        Session::new(self, config)
    }

    /// Moves the engine behind an `Arc` so that sessions can share ownership of it
    /// ([`SharedEngine::session`](crate::SharedEngine::session) → [`OwnedSession`](crate::OwnedSession), which
    /// is `'static` and can live in the same struct as the engine).
    pub fn into_shared(self) -> crate::SharedEngine {
        crate::SharedEngine::new(self)
    }
}

/// Per-inference state (`IExecutionContext`). Borrows its engine, so it cannot outlive it. `Send`, not `Sync`:
/// TensorRT allows one thread at a time on a context.
#[derive(Debug)]
pub struct ExecutionContext<'engine> {
    shim: trt_sys::shim::ExecutionContext,
    engine: &'engine Engine,
    /// The optimization profile selected on this context (TensorRT starts every context on profile 0).
    profile: usize,
    /// `Cell` is `Send + !Sync`: keeps the context `!Sync` in every build.
    _not_sync: PhantomData<Cell<()>>,
}

impl<'engine> ExecutionContext<'engine> {
    /// The engine.
    pub fn engine(&self) -> &'engine Engine {
        self.engine
    }

    fn input(&self, name: &str) -> Result<&'engine IoTensor> {
        let engine: &'engine Engine = self.engine;
        engine
            .inputs()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::UnknownTensor {
                name: name.to_owned(),
                kind: "input",
                available: engine.inputs().map(|t| t.name.clone()).collect(),
            })
    }

    /// Sets the shape of input `name`, checking rank, static dimensions and the profile's min/max first.
    pub fn set_input_shape(&mut self, name: &str, dims: &[i64]) -> Result<()> {
        let t = self.input(name)?;
        check_shape_against(t, dims, self.profile)?;
        Ok(self.shim.set_input_shape(name, dims)?)
    }

    /// The current shape of IO tensor `name` (outputs: after shape inference; `-1` while inputs are unset).
    pub fn tensor_shape(&self, name: &str) -> Result<Vec<i64>> {
        self.engine.tensor(name)?;
        Ok(self.shim.tensor_shape(name)?)
    }

    /// Whether every input's dimensions are specified.
    pub fn all_input_dimensions_specified(&self) -> bool {
        self.shim.all_input_dimensions_specified()
    }

    /// Errors with the first input whose shape still has `-1` dimensions.
    pub fn check_all_dims_specified(&self) -> Result<()> {
        for t in self.engine.inputs() {
            let shape = self.shim.tensor_shape(&t.name)?;
            if shape.iter().any(|&d| d < 0) {
                return Err(Error::UnspecifiedDims {
                    tensor: t.name.clone(),
                    shape: Shape(shape),
                });
            }
        }
        if !self.shim.all_input_dimensions_specified() {
            return Err(Error::InvalidArgument(
                "TensorRT reports unspecified input dimensions".into(),
            ));
        }
        Ok(())
    }

    /// The optimization profile selected on this context; shapes are checked against it.
    pub fn profile(&self) -> usize {
        self.profile
    }

    /// Selects optimization profile `profile` (work enqueued on `stream`).
    pub fn set_optimization_profile(&mut self, profile: usize, stream: &Stream) -> Result<()> {
        if profile >= self.engine.num_profiles().max(1) {
            return Err(Error::InvalidArgument(format!(
                "optimization profile {profile} does not exist; the engine has {}",
                self.engine.num_profiles()
            )));
        }
        // SAFETY: `stream` is a live stream of the library's device.
        unsafe {
            self.shim
                .set_optimization_profile_async(profile, stream.as_raw())
        }?;
        self.profile = profile;
        Ok(())
    }

    /// Binds IO tensor `name` to device memory.
    ///
    /// # Safety
    /// `address` must point to device memory (or mapped pinned memory) large enough for the tensor at every shape
    /// used, aligned for its type, and stay valid and untouched by the host until every enqueue using it has
    /// completed.
    pub unsafe fn set_tensor_address(
        &mut self,
        name: &str,
        address: *mut std::ffi::c_void,
    ) -> Result<()> {
        self.engine.tensor(name)?;
        // SAFETY: forwarded contract.
        Ok(unsafe { self.shim.set_tensor_address(name, address) }?)
    }

    /// Sets the event TensorRT records once inputs of the next enqueue may be overwritten.
    ///
    /// # Safety
    /// `event` must outlive every enqueue that records it.
    pub unsafe fn set_input_consumed_event(&mut self, event: &Event) -> Result<()> {
        // SAFETY: forwarded contract.
        Ok(unsafe { self.shim.set_input_consumed_event(event.as_raw()) }?)
    }

    /// Enqueues inference on `stream` (`enqueueV3`). Inputs may be reused after the input-consumed event, outputs
    /// read after the stream is synchronized.
    ///
    /// # Safety
    /// Every tensor address set on this context must satisfy [`ExecutionContext::set_tensor_address`] until the work
    /// completes, and all input shapes must be set.
    pub unsafe fn enqueue(&mut self, stream: &Stream) -> Result<()> {
        self.engine.library.device()?.activate()?;
        // SAFETY: forwarded contract.
        Ok(unsafe { self.shim.enqueue_v3(stream.as_raw()) }?)
    }

    /// Turns on per-layer profiling (TensorRT's `IProfiler`, like trtexec's `--dumpProfile`): every enqueue from now
    /// on records per-layer timers, and [`report_layer_times`](Self::report_layer_times) collects those of the last
    /// enqueue. Profiling slows inference: time inferences on a context without it.
    pub fn enable_layer_profiling(&mut self) {
        self.shim.enable_profiler();
    }

    /// Collects the layer times of the last enqueue (`IExecutionContext::reportToProfiler`). Call it once per
    /// enqueue, after the enqueue's stream is synchronized and before the next enqueue; [`Session`] does this
    /// itself ([`SessionConfig::layer_profiling`]). Fails unless profiling is enabled.
    pub fn report_layer_times(&mut self) -> Result<()> {
        Ok(self.shim.report_to_profiler()?)
    }

    /// Every layer time collected so far, per layer in execution order.
    pub fn layer_times(&self) -> LayerTimes {
        self.shim.layer_times()
    }

    /// Forgets the layer times collected so far (profiling stays on).
    pub fn reset_layer_times(&mut self) {
        self.shim.reset_layer_times();
    }
}

/// Checks `dims` against the tensor's rank, static dimensions and (for dynamic inputs) profile `profile`.
pub(crate) fn check_shape_against(t: &IoTensor, dims: &[i64], profile: usize) -> Result<()> {
    let mismatch = |hint: String| Error::ShapeMismatch {
        tensor: t.name.clone(),
        expected: Shape(t.shape.clone()),
        actual: Shape(dims.to_vec()),
        hint,
    };
    if dims.len() != t.shape.len() {
        return Err(mismatch(format!(
            "rank {} expected, got rank {}",
            t.shape.len(),
            dims.len()
        )));
    }
    for (i, (&want, &got)) in t.shape.iter().zip(dims).enumerate() {
        if got < 0 {
            return Err(mismatch(format!("dimension {i} must be concrete")));
        }
        if want >= 0 && want != got {
            return Err(mismatch(format!(
                "dimension {i} is fixed to {want} in the engine"
            )));
        }
    }
    if let Some(p) = t.profiles.get(profile) {
        for (i, &got) in dims.iter().enumerate() {
            if got < p.min[i] || got > p.max[i] {
                return Err(mismatch(format!(
                    "dimension {i} must lie within the optimization profile: min {} max {} (rebuild the engine with a \
                     wider profile to accept it)",
                    Shape(p.min.clone()),
                    Shape(p.max.clone())
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dynamic_input() -> IoTensor {
        IoTensor {
            name: "images".into(),
            mode: TensorMode::Input,
            dtype: DataType::F32,
            shape: vec![1, 3, -1, -1],
            format: TensorFormat::Linear,
            profiles: vec![ProfileDims {
                min: vec![1, 3, 320, 320],
                opt: vec![1, 3, 640, 640],
                max: vec![1, 3, 1280, 1280],
            }],
        }
    }

    #[test]
    fn format_names_are_lowercase_kebab() {
        assert_eq!(format_name(TensorFormat::Linear), "linear");
        assert_eq!(format_name(TensorFormat::Chw32), "chw32");
        assert_eq!(format_name(TensorFormat::DlaHwc4), "dla-hwc4");
        assert_eq!(format_name(TensorFormat::Hwc16), "hwc16");
    }

    #[test]
    fn shape_checks_name_the_problem() {
        let t = dynamic_input();
        assert!(check_shape_against(&t, &[1, 3, 640, 480], 0).is_ok());
        let e = check_shape_against(&t, &[1, 3, 640], 0)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`images`") && e.contains("rank 4 expected"),
            "{e}"
        );
        let e = check_shape_against(&t, &[1, 4, 640, 640], 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("dimension 1 is fixed to 3"), "{e}");
        let e = check_shape_against(&t, &[1, 3, 2000, 640], 0)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("max [1, 3, 1280, 1280]") && e.contains("[1, 3, 2000, 640]"),
            "{e}"
        );
        let e = check_shape_against(&t, &[1, 3, -1, 640], 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("dimension 2 must be concrete"), "{e}");
    }
}
