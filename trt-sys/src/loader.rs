//! Finding and opening the NVIDIA libraries at run time (libloading); nothing here links against them.
//!
//! # Search order
//! For every library the candidates are tried in this order (see [`SearchConfig::candidates`]):
//!
//! 1. `TRT_LIBRARY`: an explicit libnvinfer file (full, lean or dispatch runtime). When set, it is the *only*
//!    libnvinfer candidate (a wrong explicit path is an error, never silently replaced by another library);
//!    for the other libraries its directory is searched first.
//! 2. `TRT_LIB_DIR` (a `:`-separated list of directories).
//! 3. `CUDA_LIB_DIR` (a `:`-separated list of directories).
//! 4. The loader path: each `LD_LIBRARY_PATH` directory, then the bare file name handed to the dynamic loader
//!    (`ld.so.cache`, the default directories).
//! 5. The usual layouts: `/usr/lib/x86_64-linux-gnu`, `/usr/lib/aarch64-linux-gnu` (JetPack),
//!    `/usr/local/tensorrt/lib`, `/usr/local/cuda/lib64`, `/usr/local/cuda/targets/*/lib`.
//! 6. Python site-packages (`$VIRTUAL_ENV`, `$PYTHONPATH`, then the system, user and pyenv site-packages):
//!    `tensorrt_libs`, `tensorrt_rtx_libs`, `tensorrt_lean_libs`, `tensorrt_dispatch_libs`, `nvidia/*/lib`.
//! 7. The project's own download cache (`$TRT_YOLO_CACHE`, default `~/.cache/trt-yolo`, see
//!    [`PROJECT_CACHE_ROOT`]), laid out like site-packages: where `scripts/demo.sh` and `scripts/test.sh` unpack
//!    NVIDIA's wheels, so the tools they build run with no extra environment.
//!
//! The runtime library is searched as the full runtime (`libnvinfer.so.<major>`, or `libtensorrt_rtx.so.<major>`
//! for TensorRT for RTX) in all locations first; only when none is found anywhere are `libnvinfer_lean.so.<major>`
//! and then `libnvinfer_dispatch.so.<major>` searched, and the result reports which [`RuntimeFlavor`] was loaded.
//! A miss is [`Error::LibraryNotFound`] listing every path tried.
//!
//! # Versions
//! TensorRT and TensorRT for RTX ([`Product`]) number their releases independently (RTX 1.7 forked from the 10.x
//! API). The release to look for is the compiled headers' product and major when the shim is compiled, otherwise
//! TensorRT 11, 10 and 8, then TensorRT-RTX 1 ([`wanted_releases`]). The loaded library's own version
//! (`getInferLibVersion()`; TensorRT-RTX's from `getInferLib{Major,Minor,Patch}Version`) must be of the same product
//! and major, with a minor not older than the compiled one ([`Version::serves`]); otherwise
//! [`Error::VersionMismatch`] names both.

use std::ffi::{c_char, c_void, OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::version::{Product, Version};

/// TensorRT majors tried, in order, when no TensorRT headers were compiled in.
pub const DEFAULT_TRT_MAJORS: [u32; 3] = [11, 10, 8];
/// TensorRT-RTX majors tried after [`DEFAULT_TRT_MAJORS`] when no TensorRT headers were compiled in.
pub const DEFAULT_RTX_MAJORS: [u32; 1] = [1];

/// libcudart file names tried in every location, in order.
pub const CUDART_NAMES: [&str; 3] = ["libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"];

/// Environment variables read by [`SearchConfig::from_env`].
pub const ENV_VARS: [&str; 8] = [
    "TRT_LIBRARY",
    "TRT_YOLO_CACHE",
    "TRT_LIB_DIR",
    "CUDA_LIB_DIR",
    "LD_LIBRARY_PATH",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "HOME",
];

// ---------------------------------------------------------------------------------------------------------
// Versions and flavors
// ---------------------------------------------------------------------------------------------------------

/// Which TensorRT runtime library was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuntimeFlavor {
    /// `libnvinfer.so`: builder and runtime.
    Full,
    /// `libnvinfer_lean.so`: runs engines built with version compatibility; no builder.
    Lean,
    /// `libnvinfer_dispatch.so`: a small dispatcher that loads the lean runtime shipped in an engine; no builder.
    Dispatch,
}

impl RuntimeFlavor {
    /// Search order: the full runtime first, the lean and dispatch runtimes only as fallbacks.
    pub const SEARCH_ORDER: [RuntimeFlavor; 3] = [Self::Full, Self::Lean, Self::Dispatch];

    /// The file name stem, e.g. `libnvinfer_lean`.
    pub const fn stem(self) -> &'static str {
        match self {
            Self::Full => "libnvinfer",
            Self::Lean => "libnvinfer_lean",
            Self::Dispatch => "libnvinfer_dispatch",
        }
    }

    /// The versioned file name, e.g. `libnvinfer_lean.so.11`.
    pub fn file_name(self, major: u32) -> String {
        format!("{}.so.{major}", self.stem())
    }

    /// Whether this library can build engines (exports `createInferBuilder_INTERNAL`).
    pub const fn can_build(self) -> bool {
        matches!(self, Self::Full)
    }

    /// Recognizes `libnvinfer.so[.N…]`, `libnvinfer_lean.so[.N…]` and `libnvinfer_dispatch.so[.N…]`; any other
    /// name (including `libnvinfer_plugin.so`) is `None`.
    pub fn from_file_name(name: &str) -> Option<Self> {
        Self::SEARCH_ORDER.into_iter().find(|flavor| {
            name.strip_prefix(flavor.stem())
                .and_then(|rest| rest.strip_prefix(".so"))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
    }

    /// The major version in a file name like `libnvinfer.so.10` or `libnvinfer.so.10.3.0`.
    pub fn major_from_file_name(name: &str) -> Option<u32> {
        let flavor = Self::from_file_name(name)?;
        let rest = name.strip_prefix(flavor.stem())?.strip_prefix(".so.")?;
        rest.split('.').next()?.parse().ok()
    }
}

impl fmt::Display for RuntimeFlavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => "full",
            Self::Lean => "lean",
            Self::Dispatch => "dispatch",
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// Loaded libraries
// ---------------------------------------------------------------------------------------------------------

/// An opened shared library and the path it was opened from.
#[derive(Debug)]
pub struct LoadedLibrary {
    path: PathBuf,
    lib: libloading::Library,
}

impl LoadedLibrary {
    /// Opens `path` with the dynamic loader (`RTLD_LAZY | RTLD_LOCAL`). A bare file name (no `/`) goes through
    /// the loader's own search; [`LoadedLibrary::path`] then reports the file that was found.
    ///
    /// # Safety
    /// Opening a library runs its initializers. The caller must trust `path` to be a well-behaved library.
    pub unsafe fn open(path: &Path) -> Result<Self> {
        // SAFETY: forwarded to the caller (see above).
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| Error::LibraryOpen {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self {
            path: path.to_owned(),
            lib,
        })
    }

    /// The path the library was opened from (the real file when it was found by bare name and the loader
    /// could tell).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The address of an exported symbol; [`Error::SymbolMissing`] when absent.
    pub fn symbol_addr(&self, name: &str) -> Result<*mut c_void> {
        let missing = || Error::SymbolMissing {
            library: self.path.clone(),
            symbol: name.to_owned(),
        };
        // SAFETY: we only read the symbol's address, typed as a data pointer; nothing is called or
        // dereferenced here.
        let sym = unsafe { self.lib.get::<*mut c_void>(name.as_bytes()) }.map_err(|_| missing())?;
        let addr = *sym;
        if addr.is_null() {
            return Err(missing());
        }
        Ok(addr)
    }

    /// Whether the library exports `name`.
    pub fn has_symbol(&self, name: &str) -> bool {
        self.symbol_addr(name).is_ok()
    }

    /// Resolves `name` as a function pointer of type `F`.
    ///
    /// # Safety
    /// `F` must be an `unsafe extern "C" fn` type matching the symbol's real signature, and the pointer must not
    /// be called after this library is dropped.
    pub unsafe fn function<F: Copy>(&self, name: &str) -> Result<F> {
        assert_eq!(
            std::mem::size_of::<F>(),
            std::mem::size_of::<*mut c_void>(),
            "F must be a fn pointer"
        );
        let addr = self.symbol_addr(name)?;
        // SAFETY: `F` is a fn pointer type of pointer size (asserted), `addr` is a non-null exported symbol, and
        // the caller guarantees the signature.
        Ok(unsafe { std::mem::transmute_copy::<*mut c_void, F>(&addr) })
    }

    /// Resolves an optional function: `None` when the library does not export it.
    ///
    /// # Safety
    /// As for [`LoadedLibrary::function`].
    pub unsafe fn optional_function<F: Copy>(&self, name: &str) -> Option<F> {
        // SAFETY: forwarded to the caller.
        unsafe { self.function(name) }.ok()
    }

    /// Hands the library over (used to build the bindgen CUDA runtime table).
    pub(crate) fn into_parts(self) -> (PathBuf, libloading::Library) {
        (self.path, self.lib)
    }

    /// Replaces a bare-name path with the file the loader actually mapped, found from one of its symbols.
    fn resolve_real_path(&mut self, symbol: &str) {
        if self.path.components().count() > 1 {
            return;
        }
        if let Ok(addr) = self.symbol_addr(symbol) {
            if let Some(real) = dladdr_file(addr) {
                self.path = real;
            }
        }
    }
}

#[repr(C)]
struct DlInfo {
    dli_fname: *const c_char,
    dli_fbase: *mut c_void,
    dli_sname: *const c_char,
    dli_saddr: *mut c_void,
}

extern "C" {
    fn dladdr(addr: *const c_void, info: *mut DlInfo) -> std::ffi::c_int;
}

/// The file that contains `addr`, via `dladdr`.
fn dladdr_file(addr: *mut c_void) -> Option<PathBuf> {
    let mut info = DlInfo {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    // SAFETY: `info` is a valid, writable Dl_info (same layout as glibc's); dladdr only writes into it.
    let ok = unsafe { dladdr(addr, &mut info) };
    if ok == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dladdr returned a NUL-terminated file name owned by the loader, valid while the library is loaded
    // (it is: we hold a handle); we copy it out immediately.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    use std::os::unix::ffi::OsStrExt;
    let path = PathBuf::from(OsStr::from_bytes(name.to_bytes()));
    path.is_absolute().then_some(path)
}

// ---------------------------------------------------------------------------------------------------------
// Search configuration (pure)
// ---------------------------------------------------------------------------------------------------------

/// Where a candidate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// `TRT_LIBRARY` itself.
    TrtLibrary,
    /// The directory of `TRT_LIBRARY` (searched for the parser, plugins and CUDA runtime).
    TrtLibraryDir,
    /// `TRT_LIB_DIR`.
    TrtLibDir,
    /// `CUDA_LIB_DIR`.
    CudaLibDir,
    /// An `LD_LIBRARY_PATH` directory.
    LdLibraryPath,
    /// A bare file name handed to the dynamic loader.
    DynamicLoader,
    /// One of the usual install layouts.
    SystemDir,
    /// A Python site-packages library directory.
    PythonSitePackages,
    /// The project's own download cache (`$TRT_YOLO_CACHE`, default `~/.cache/trt-yolo`), where `scripts/demo.sh`
    /// and `scripts/test.sh` unpack NVIDIA's wheels.
    ProjectCache,
}

/// One place to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// A file path, or a bare file name when `origin` is [`Origin::DynamicLoader`].
    pub path: PathBuf,
    /// Where it comes from.
    pub origin: Origin,
}

/// Everything the search depends on, already read from the environment and file system, so that the
/// candidate list ([`SearchConfig::candidates`]) is a pure function of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchConfig {
    /// `TRT_LIBRARY`: an explicit libnvinfer file (full, lean or dispatch runtime).
    pub trt_library: Option<PathBuf>,
    /// `TRT_LIB_DIR` entries.
    pub trt_lib_dirs: Vec<PathBuf>,
    /// `CUDA_LIB_DIR` entries.
    pub cuda_lib_dirs: Vec<PathBuf>,
    /// `LD_LIBRARY_PATH` entries.
    pub ld_library_path: Vec<PathBuf>,
    /// Whether to hand the bare file name to the dynamic loader (after `LD_LIBRARY_PATH`).
    pub dynamic_loader: bool,
    /// The usual install layouts, globs expanded, in order.
    pub system_dirs: Vec<PathBuf>,
    /// Library directories inside Python site-packages, in order.
    pub python_lib_dirs: Vec<PathBuf>,
    /// Library directories inside the project's download cache ([`PROJECT_CACHE_ROOT`]), in order.
    pub cache_lib_dirs: Vec<PathBuf>,
}

/// Where the project's scripts unpack NVIDIA's wheels, below `$TRT_YOLO_CACHE` (default `~/.cache/trt-yolo`); it is
/// laid out like site-packages, so [`SITE_PACKAGES_LIB_DIRS`] apply.
pub const PROJECT_CACHE_ROOT: &str = "nvidia/root";

/// The usual install layouts, relative to the file-system root; `*` is expanded by [`SearchConfig::discover`].
pub const SYSTEM_DIR_PATTERNS: [&str; 5] = [
    "usr/lib/x86_64-linux-gnu",
    "usr/lib/aarch64-linux-gnu",
    "usr/local/tensorrt/lib",
    "usr/local/cuda/lib64",
    "usr/local/cuda/targets/*/lib",
];

/// Python site-packages directories searched after `$VIRTUAL_ENV` and `$PYTHONPATH`, relative to the
/// file-system root (`~` is `$HOME`).
pub const SITE_PACKAGES_PATTERNS: [&str; 5] = [
    "usr/lib/python3*/dist-packages",
    "usr/local/lib/python3*/site-packages",
    "usr/local/lib/python3*/dist-packages",
    "~/.local/lib/python3*/site-packages",
    "root/.pyenv/versions/*/lib/python3*/site-packages",
];

/// Library directories inside one site-packages directory.
pub const SITE_PACKAGES_LIB_DIRS: [&str; 5] = [
    "tensorrt_libs",
    "tensorrt_rtx_libs",
    "tensorrt_lean_libs",
    "tensorrt_dispatch_libs",
    "nvidia/*/lib",
];

impl SearchConfig {
    /// Reads the process environment and the file system (for the glob patterns) once.
    pub fn from_env() -> Self {
        Self::discover(&|name| std::env::var_os(name), Path::new("/"))
    }

    /// Builds the configuration from an environment lookup and a file-system root (`/` in production; a
    /// temporary directory in tests). Only [`ENV_VARS`] are read. Directories from globs and site-packages are
    /// kept only when they exist; the fixed system directories are always listed.
    pub fn discover(env: &dyn Fn(&str) -> Option<OsString>, root: &Path) -> Self {
        let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
        let split = |name: &str| -> Vec<PathBuf> {
            non_empty(name)
                .map(|v| {
                    std::env::split_paths(&v)
                        .filter(|p| !p.as_os_str().is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };

        let mut system_dirs = Vec::new();
        for pattern in SYSTEM_DIR_PATTERNS {
            if pattern.contains('*') {
                system_dirs.extend(glob_dirs(root, pattern));
            } else {
                system_dirs.push(root.join(pattern));
            }
        }

        let mut site_dirs: Vec<PathBuf> = Vec::new();
        if let Some(venv) = non_empty("VIRTUAL_ENV") {
            site_dirs.extend(glob_dirs(Path::new(&venv), "lib/python3*/site-packages"));
        }
        site_dirs.extend(split("PYTHONPATH"));
        let home = non_empty("HOME").map(PathBuf::from);
        for pattern in SITE_PACKAGES_PATTERNS {
            match pattern.strip_prefix("~/") {
                Some(rest) => {
                    if let Some(home) = &home {
                        site_dirs.extend(glob_dirs(home, rest));
                    }
                }
                None => site_dirs.extend(glob_dirs(root, pattern)),
            }
        }
        let mut python_lib_dirs = Vec::new();
        for site in dedup(site_dirs) {
            for sub in SITE_PACKAGES_LIB_DIRS {
                python_lib_dirs.extend(glob_dirs(&site, sub));
            }
        }
        let cache = non_empty("TRT_YOLO_CACHE")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".cache/trt-yolo")));
        let mut cache_lib_dirs = Vec::new();
        if let Some(cache) = cache {
            let root = cache.join(PROJECT_CACHE_ROOT);
            for sub in SITE_PACKAGES_LIB_DIRS {
                cache_lib_dirs.extend(glob_dirs(&root, sub));
            }
        }

        Self {
            trt_library: non_empty("TRT_LIBRARY").map(PathBuf::from),
            trt_lib_dirs: split("TRT_LIB_DIR"),
            cuda_lib_dirs: split("CUDA_LIB_DIR"),
            ld_library_path: split("LD_LIBRARY_PATH"),
            dynamic_loader: true,
            system_dirs,
            python_lib_dirs: dedup(python_lib_dirs),
            cache_lib_dirs: dedup(cache_lib_dirs),
        }
    }

    /// A configuration that looks only in `dirs` (no environment, no loader search, no system or Python
    /// directories). Handy for tests and tools.
    pub fn only_dirs(dirs: impl IntoIterator<Item = PathBuf>) -> Self {
        Self {
            trt_lib_dirs: dirs.into_iter().collect(),
            ..Self::default()
        }
    }

    /// The ordered directory list (without the bare-name step), for libraries other than libnvinfer itself.
    fn locations(&self, include_trt_library_dir: bool) -> Vec<(PathBuf, Origin)> {
        let mut out = Vec::new();
        if include_trt_library_dir {
            if let Some(dir) = self.trt_library.as_deref().and_then(Path::parent) {
                if !dir.as_os_str().is_empty() {
                    out.push((dir.to_owned(), Origin::TrtLibraryDir));
                }
            }
        }
        out.extend(
            self.trt_lib_dirs
                .iter()
                .map(|d| (d.clone(), Origin::TrtLibDir)),
        );
        out.extend(
            self.cuda_lib_dirs
                .iter()
                .map(|d| (d.clone(), Origin::CudaLibDir)),
        );
        out.extend(
            self.ld_library_path
                .iter()
                .map(|d| (d.clone(), Origin::LdLibraryPath)),
        );
        out
    }

    /// The ordered candidate list for a library known by one or more file names: for every location in the
    /// search order, every name in the given order. Duplicate paths keep their first position.
    pub fn candidates(&self, names: &[&str]) -> Vec<Candidate> {
        self.candidates_inner(names, true)
    }

    fn candidates_inner(&self, names: &[&str], include_trt_library_dir: bool) -> Vec<Candidate> {
        let mut out = Vec::new();
        let push_dir = |dir: &Path, origin: Origin, out: &mut Vec<Candidate>| {
            for name in names {
                out.push(Candidate {
                    path: dir.join(name),
                    origin,
                });
            }
        };
        for (dir, origin) in self.locations(include_trt_library_dir) {
            push_dir(&dir, origin, &mut out);
        }
        if self.dynamic_loader {
            for name in names {
                out.push(Candidate {
                    path: PathBuf::from(name),
                    origin: Origin::DynamicLoader,
                });
            }
        }
        for dir in &self.system_dirs {
            push_dir(dir, Origin::SystemDir, &mut out);
        }
        for dir in &self.python_lib_dirs {
            push_dir(dir, Origin::PythonSitePackages, &mut out);
        }
        for dir in &self.cache_lib_dirs {
            push_dir(dir, Origin::ProjectCache, &mut out);
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|c| seen.insert(c.path.clone()));
        out
    }

    /// The ordered TensorRT (enterprise) libnvinfer candidates for the given majors; see
    /// [`SearchConfig::runtime_candidates`].
    pub fn tensorrt_candidates(&self, majors: &[u32]) -> Vec<TrtCandidate> {
        let wanted: Vec<(Product, u32)> = majors.iter().map(|&m| (Product::TensorRt, m)).collect();
        self.runtime_candidates(&wanted)
    }

    /// The ordered runtime-library candidates for the given products and majors: `TRT_LIBRARY` alone when set;
    /// otherwise the full runtime (`libnvinfer.so.<major>`, `libtensorrt_rtx.so.<major>`) in every location, then
    /// the lean runtime, then the dispatch runtime (each for every wanted release in the given order within a
    /// location; TensorRT-RTX has only the full runtime).
    pub fn runtime_candidates(&self, wanted: &[(Product, u32)]) -> Vec<TrtCandidate> {
        if let Some(file) = &self.trt_library {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let known = Product::from_file_name(&name);
            return vec![TrtCandidate {
                candidate: Candidate {
                    path: file.clone(),
                    origin: Origin::TrtLibrary,
                },
                product: known.map(|k| k.0),
                flavor: known.map(|k| k.1),
                major: known.and_then(|k| k.2),
            }];
        }
        let mut out = Vec::new();
        for flavor in RuntimeFlavor::SEARCH_ORDER {
            let names: Vec<String> = wanted
                .iter()
                .filter_map(|&(product, m)| product.runtime_file_name(flavor, m))
                .collect();
            if names.is_empty() {
                continue;
            }
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            for candidate in self.candidates_inner(&names, false) {
                let file = candidate
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let known = Product::from_file_name(&file);
                out.push(TrtCandidate {
                    candidate,
                    product: known.map(|k| k.0),
                    flavor: Some(flavor),
                    major: known.and_then(|k| k.2),
                });
            }
        }
        out
    }
}

/// A libnvinfer candidate with what its file name promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrtCandidate {
    /// Path and origin.
    pub candidate: Candidate,
    /// The product named by the file name (`None` for an unrecognized `TRT_LIBRARY` name).
    pub product: Option<Product>,
    /// The flavor named by the file name (`None` for an unrecognized `TRT_LIBRARY` name).
    pub flavor: Option<RuntimeFlavor>,
    /// The major named by the file name, if any.
    pub major: Option<u32>,
}

fn dedup(dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    dirs.into_iter()
        .filter(|d| seen.insert(d.clone()))
        .collect()
}

/// Expands a relative pattern whose components may contain `*` (matching within one component) under `base`,
/// returning the existing directories in sorted order.
fn glob_dirs(base: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut current = vec![base.to_owned()];
    for component in pattern.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for dir in &current {
            if component.contains('*') {
                let Ok(entries) = std::fs::read_dir(dir) else {
                    continue;
                };
                let mut matched: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok())
                    .filter(|e| wildcard_match(component, &e.file_name().to_string_lossy()))
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect();
                matched.sort();
                next.extend(matched);
            } else {
                let p = dir.join(component);
                if p.is_dir() {
                    next.push(p);
                }
            }
        }
        current = next;
    }
    current
}

/// `*` matches any run of characters (including none); everything else matches itself.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == name;
    }
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------------------
// Opening
// ---------------------------------------------------------------------------------------------------------

/// The outcome of trying candidates in order.
struct Search<'a> {
    library: String,
    hint: &'a str,
    tried: Vec<PathBuf>,
    failures: Vec<(PathBuf, String)>,
}

impl<'a> Search<'a> {
    fn new(library: String, hint: &'a str) -> Self {
        Self {
            library,
            hint,
            tried: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Tries one candidate: `None` when it does not exist or the loader refused it (recorded).
    fn try_open(&mut self, candidate: &Candidate) -> Option<LoadedLibrary> {
        self.tried.push(candidate.path.clone());
        let bare = candidate.origin == Origin::DynamicLoader;
        if !bare && !candidate.path.exists() {
            return None;
        }
        // SAFETY: candidates are NVIDIA libraries found in the documented locations or named by the user.
        match unsafe { LoadedLibrary::open(&candidate.path) } {
            Ok(lib) => Some(lib),
            Err(e) => {
                let message = match e {
                    Error::LibraryOpen { message, .. } => message,
                    other => other.to_string(),
                };
                // A bare name the loader cannot find is a plain miss; any other refusal is worth reporting.
                let name = candidate.path.to_string_lossy();
                let plain_miss =
                    bare && message.contains(&format!("{name}: cannot open shared object file"));
                if !plain_miss {
                    self.failures.push((candidate.path.clone(), message));
                }
                None
            }
        }
    }

    /// The error for "nothing could be opened".
    fn into_error(self) -> Error {
        match self.failures.into_iter().next() {
            Some((path, message)) => {
                let mut message = format!("{message}\n{}", self.hint);
                message.push_str("\npaths tried:");
                for p in &self.tried {
                    message.push_str(&format!("\n  {}", p.display()));
                }
                Error::LibraryOpen { path, message }
            }
            None => Error::LibraryNotFound {
                library: self.library,
                tried: self.tried,
                hint: self.hint.to_owned(),
            },
        }
    }
}

/// Opens the first candidate that exists and loads.
fn open_first(candidates: &[Candidate], library: String, hint: &str) -> Result<LoadedLibrary> {
    let mut search = Search::new(library, hint);
    for c in candidates {
        if let Some(lib) = search.try_open(c) {
            return Ok(lib);
        }
    }
    Err(search.into_error())
}

/// `createInferBuilder_INTERNAL` / `createInferRuntime_INTERNAL`: `(ILogger*, NV_TENSORRT_VERSION) -> object*`.
pub type CreateInferFn = unsafe extern "C" fn(*mut c_void, i32) -> *mut c_void;
/// `createInferRefitter_INTERNAL`: `(ICudaEngine*, ILogger*, NV_TENSORRT_VERSION) -> IRefitter*`.
pub type CreateRefitterFn = unsafe extern "C" fn(*mut c_void, *mut c_void, i32) -> *mut c_void;
/// `int32_t f()`: `getInferLibVersion`, `getNvOnnxParserVersion`, …
pub type VersionFn = unsafe extern "C" fn() -> i32;
/// `getPluginRegistry`: `() -> IPluginRegistry*`.
pub type PluginRegistryFn = unsafe extern "C" fn() -> *mut c_void;
/// `createNvOnnxParser_INTERNAL`: `(INetworkDefinition*, ILogger*, NV_ONNX_PARSER_VERSION) -> IParser*`.
pub type CreateParserFn = unsafe extern "C" fn(*mut c_void, *mut c_void, i32) -> *mut c_void;
/// `setInternalLibraryPath`: `(char const* path) -> bool`.
pub type SetLibraryPathFn = unsafe extern "C" fn(*const c_char) -> bool;
/// `initLibNvInferPlugins`: `(ILogger*, char const* namespace) -> bool`.
pub type InitPluginsFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> bool;

/// Raw C entry points of libnvinfer. They stay valid as long as the [`TensorRtLibs`] they came from (for
/// [`tensorrt`], forever); do not keep copies beyond that.
#[derive(Debug, Clone, Copy)]
pub struct TrtEntryPoints {
    /// `getInferLibVersion`.
    pub get_infer_lib_version: VersionFn,
    /// `createInferBuilder_INTERNAL`; absent in the lean and dispatch runtimes.
    pub create_infer_builder: Option<CreateInferFn>,
    /// `createInferRuntime_INTERNAL`.
    pub create_infer_runtime: CreateInferFn,
    /// `createInferRefitter_INTERNAL`.
    pub create_infer_refitter: Option<CreateRefitterFn>,
    /// `getPluginRegistry`.
    pub get_plugin_registry: Option<PluginRegistryFn>,
    /// `setInternalLibraryPath` (full runtime, 11.x and later): where the builder looks for its internal
    /// libraries (e.g. `libnvinfer_builder_resource`); pass the directory of [`TensorRtLibs::nvinfer`] when it
    /// is not on the loader path.
    pub set_internal_library_path: Option<SetLibraryPathFn>,
}

/// The opened TensorRT runtime library.
#[derive(Debug)]
pub struct TensorRtLibs {
    /// The library (its path is what was loaded).
    pub nvinfer: LoadedLibrary,
    /// Full, lean or dispatch.
    pub flavor: RuntimeFlavor,
    /// What the library reports (`getInferLibVersion`).
    pub version: Version,
    /// Resolved C entry points.
    pub entry: TrtEntryPoints,
}

/// The opened ONNX parser library.
#[derive(Debug)]
pub struct ParserLib {
    /// The library.
    pub lib: LoadedLibrary,
    /// `createNvOnnxParser_INTERNAL`.
    pub create_nv_onnx_parser: CreateParserFn,
    /// `getNvOnnxParserVersion`, when exported.
    pub get_parser_version: Option<VersionFn>,
    /// The decoded parser version, when `getNvOnnxParserVersion` is exported.
    pub version: Option<Version>,
}

/// The opened TensorRT plugin library.
#[derive(Debug)]
pub struct PluginLib {
    /// The library.
    pub lib: LoadedLibrary,
    /// `initLibNvInferPlugins`.
    pub init_lib_nvinfer_plugins: InitPluginsFn,
    /// The version the library reports itself (TensorRT 8.x); `None` where it exports no version of its own.
    pub version: Option<Version>,
}

fn tensorrt_hint(wanted: &[(Product, u32)]) -> String {
    let names: Vec<String> = wanted
        .iter()
        .filter_map(|&(p, m)| p.runtime_file_name(RuntimeFlavor::Full, m))
        .collect();
    let rtx_only = wanted.iter().all(|(p, _)| *p == Product::Rtx);
    let install = if rtx_only {
        "or install TensorRT for RTX (`bash scripts/demo.sh` unpacks PyPI's tensorrt-rtx-cu13-libs into \
         ~/.cache/trt-yolo, where it is found by default)"
    } else {
        "or install TensorRT (Debian/JetPack packages, the TensorRT tarball under /usr/local/tensorrt, or the pip \
         wheels)"
    };
    format!(
        "Set TRT_LIBRARY to a TensorRT runtime file (libnvinfer, libnvinfer_lean, libnvinfer_dispatch or \
         libtensorrt_rtx), or TRT_LIB_DIR to the directory that holds {}; {install}.",
        names.join(" / ")
    )
}

/// The releases searched for: the compiled headers' product and major, or every default when nothing was compiled
/// (TensorRT [`DEFAULT_TRT_MAJORS`], then TensorRT-RTX [`DEFAULT_RTX_MAJORS`]).
pub fn wanted_releases(compiled: Option<Version>) -> Vec<(Product, u32)> {
    match compiled {
        Some(v) => vec![(v.product, v.major)],
        None => DEFAULT_TRT_MAJORS
            .iter()
            .map(|&m| (Product::TensorRt, m))
            .chain(DEFAULT_RTX_MAJORS.iter().map(|&m| (Product::Rtx, m)))
            .collect(),
    }
}

/// Opens the TensorRT runtime library without caching. `compiled` is the version of the TensorRT headers the shim
/// was compiled against (`None` when no shim is compiled: then every release of [`wanted_releases`] is searched
/// and any of them is accepted).
///
/// The loaded library must report (through `getInferLibVersion`, or `getInferLib{Major,Minor,Patch}Version` on
/// TensorRT-RTX) the product and major that were asked for and, when headers were compiled, a minor that is not
/// older than theirs ([`Version::serves`]); its file name's major must agree too. Otherwise
/// [`Error::VersionMismatch`] names both versions.
pub fn open_tensorrt(config: &SearchConfig, compiled: Option<Version>) -> Result<TensorRtLibs> {
    let wanted = wanted_releases(compiled);
    let hint = tensorrt_hint(&wanted);
    let candidates = config.runtime_candidates(&wanted);
    let library = match &config.trt_library {
        Some(file) => format!("TRT_LIBRARY={}", file.display()),
        None => candidates
            .iter()
            .filter_map(|c| c.candidate.path.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .fold(Vec::<String>::new(), |mut acc, n| {
                if !acc.contains(&n) {
                    acc.push(n);
                }
                acc
            })
            .join(" / "),
    };

    if let Some(file) = &config.trt_library {
        if !file.exists() {
            return Err(Error::LibraryOpen {
                path: file.clone(),
                message: "TRT_LIBRARY names a file that does not exist; point it at libnvinfer.so.<major> \
                          (or the lean/dispatch runtime, or libtensorrt_rtx.so.1) or unset it to search the usual \
                          locations"
                    .to_owned(),
            });
        }
    }

    let mut search = Search::new(library, &hint);
    for c in &candidates {
        let Some(mut lib) = search.try_open(&c.candidate) else {
            if c.candidate.origin == Origin::TrtLibrary {
                // An explicit file that the loader refused: report it, do not search elsewhere.
                return Err(search.into_error());
            }
            continue;
        };
        lib.resolve_real_path("getInferLibVersion");
        return finish_tensorrt(lib, c, compiled, &wanted);
    }
    Err(search.into_error())
}

/// Reads the version a runtime library reports about itself. TensorRT >= 10 and TensorRT-RTX export the parts;
/// they must agree with the integer where both exist.
fn library_version(
    lib: &LoadedLibrary,
    get_version: VersionFn,
    product: Product,
) -> Result<Version> {
    let origin = format!("getInferLibVersion() of {}", lib.path().display());
    // SAFETY: `getInferLibVersion` takes no arguments, has no preconditions and only returns a constant.
    let raw = unsafe { get_version() };
    // SAFETY: `int32_t getInferLib{Major,Minor,Patch}Version() noexcept` (NvInferRuntime.h, 10.0+ and RTX); each
    // takes no arguments and returns a constant.
    let parts = unsafe {
        (
            lib.optional_function::<VersionFn>("getInferLibMajorVersion"),
            lib.optional_function::<VersionFn>("getInferLibMinorVersion"),
            lib.optional_function::<VersionFn>("getInferLibPatchVersion"),
        )
    };
    let version = match product {
        Product::Rtx => match parts {
            // SAFETY: as above.
            (Some(ma), Some(mi), Some(pa)) => unsafe {
                let part = |v: i32| {
                    u32::try_from(v).map_err(|_| Error::InvalidVersion {
                        value: i64::from(v),
                        origin: format!("{origin} (a negative version part)"),
                    })
                };
                Version::rtx(part(ma())?, part(mi())?, part(pa())?)
            },
            _ => Version::decode_rtx(raw).map_err(|_| Error::InvalidVersion {
                value: i64::from(raw),
                origin: origin.clone(),
            })?,
        },
        Product::TensorRt => Version::decode_from(raw, &origin)?,
    };
    if let (Some(major_fn), Product::TensorRt) = (parts.0, product) {
        // SAFETY: as above, no arguments and no preconditions.
        let major = unsafe { major_fn() };
        if i64::from(major) != i64::from(version.major) {
            return Err(Error::InvalidVersion {
                value: i64::from(raw),
                origin: format!("{origin} (getInferLibMajorVersion() says {major})"),
            });
        }
    }
    Ok(version)
}

fn finish_tensorrt(
    lib: LoadedLibrary,
    candidate: &TrtCandidate,
    compiled: Option<Version>,
    wanted: &[(Product, u32)],
) -> Result<TensorRtLibs> {
    // The types below are the C signatures declared in NvInferRuntime.h / NvInferRuntimeBase.h / NvInfer.h for
    // every supported release, and the pointers live inside `lib`, which the returned struct owns.
    // SAFETY: `int32_t getInferLibVersion() noexcept`.
    let get_version: VersionFn = unsafe { lib.function("getInferLibVersion") }?;
    // SAFETY: `void* createInferRuntime_INTERNAL(void* logger, int32_t version) noexcept`.
    let create_infer_runtime: CreateInferFn =
        unsafe { lib.function("createInferRuntime_INTERNAL") }?;
    // SAFETY: `void* createInferBuilder_INTERNAL(void* logger, int32_t version) noexcept`.
    let create_infer_builder = unsafe { lib.optional_function("createInferBuilder_INTERNAL") };
    // SAFETY: `void* createInferRefitter_INTERNAL(void* engine, void* logger, int32_t version) noexcept`.
    let create_infer_refitter = unsafe { lib.optional_function("createInferRefitter_INTERNAL") };
    // SAFETY: `IPluginRegistry* getPluginRegistry() noexcept` (returned as an opaque pointer).
    let get_plugin_registry = unsafe { lib.optional_function("getPluginRegistry") };
    // SAFETY: `bool setInternalLibraryPath(AsciiChar const* path) noexcept` (NvInfer.h, 11.x and RTX).
    let set_internal_library_path = unsafe { lib.optional_function("setInternalLibraryPath") };
    let entry = TrtEntryPoints {
        get_infer_lib_version: get_version,
        create_infer_builder,
        create_infer_runtime,
        create_infer_refitter,
        get_plugin_registry,
        set_internal_library_path,
    };

    // The product: from the file name; for an unrecognized TRT_LIBRARY name, the compiled one (or TensorRT).
    let product = candidate
        .product
        .or(compiled.map(|c| c.product))
        .unwrap_or_default();
    let version = library_version(&lib, get_version, product)?;

    let path = lib.path().to_owned();
    let mismatch = |expected: String| Error::VersionMismatch {
        compiled: expected,
        loaded: version.label(),
        path: path.clone(),
    };
    if let Some(c) = compiled {
        if !version.serves(c) {
            return Err(mismatch(format!(
                "{} (compiled headers: the library must be {} {}.x with a minor of at least {}; rebuild against its \
                 headers or install that release)",
                c.label(),
                c.product,
                c.major,
                c.minor
            )));
        }
    } else if !wanted.contains(&(version.product, version.major)) {
        return Err(mismatch(or_list(wanted)));
    }
    if let Some(m) = candidate.major {
        if m != version.major {
            return Err(mismatch(format!(
                "{} {m}.x (from the file name)",
                version.product
            )));
        }
    }

    let flavor = candidate.flavor.unwrap_or({
        // An unrecognized TRT_LIBRARY file name: decide by what it exports.
        if entry.create_infer_builder.is_some() {
            RuntimeFlavor::Full
        } else {
            RuntimeFlavor::Lean
        }
    });
    Ok(TensorRtLibs {
        nvinfer: lib,
        flavor,
        version,
        entry,
    })
}

/// "TensorRT 11.x, TensorRT 10.x or TensorRT-RTX 1.x".
fn or_list(wanted: &[(Product, u32)]) -> String {
    let list: Vec<String> = wanted.iter().map(|(p, m)| format!("{p} {m}.x")).collect();
    match list.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => list.concat(),
    }
}

fn requires_full(trt: &TensorRtLibs, what: &str) -> Result<()> {
    if trt.flavor == RuntimeFlavor::Full {
        return Ok(());
    }
    Err(Error::Unsupported {
        what: format!(
            "{what} with the {} runtime {} (it needs the full runtime libnvinfer.so.{}; set TRT_LIBRARY or \
             TRT_LIB_DIR to a full TensorRT install)",
            trt.flavor,
            trt.nvinfer.path().display(),
            trt.version.major
        ),
        version: trt.version.to_string(),
    })
}

/// Opens libnvonnxparser matching an opened libnvinfer, without caching. Needs the full runtime (the parser
/// depends on `libnvinfer.so.<major>`, which the dynamic loader matches to the already opened library).
pub fn open_onnx_parser(config: &SearchConfig, trt: &TensorRtLibs) -> Result<ParserLib> {
    requires_full(trt, "the ONNX parser")?;
    let product = trt.version.product;
    let name = product.parser_file_name(trt.version.major);
    let hint = format!(
        "The ONNX parser ships with full {product} installs; set TRT_LIB_DIR to the directory that holds {name}."
    );
    let mut lib = open_first(&config.candidates(&[&name]), name, &hint)?;
    lib.resolve_real_path("createNvOnnxParser_INTERNAL");
    // SAFETY: signatures as declared in NvOnnxParser.h (8.5 through 11.x); pointers owned with `lib`.
    let create_nv_onnx_parser: CreateParserFn =
        unsafe { lib.function("createNvOnnxParser_INTERNAL") }?;
    // SAFETY: as above.
    let get_parser_version: Option<VersionFn> =
        unsafe { lib.optional_function("getNvOnnxParserVersion") };
    let version = match get_parser_version {
        Some(f) => {
            // SAFETY: `int getNvOnnxParserVersion()` has no arguments and no preconditions.
            let raw = unsafe { f() };
            let origin = format!("getNvOnnxParserVersion() of {}", lib.path().display());
            let v = match product {
                Product::TensorRt => Version::decode_parser_from(raw, &origin)?,
                Product::Rtx => Version::decode_rtx_parser_from(raw, &origin)?,
            };
            // TensorRT's parser carries TensorRT's major; TensorRT-RTX's parser has numbers of its own (0.2.0 with
            // RTX 1.7), so only its file name ties it to the runtime.
            if product == Product::TensorRt && v.major != trt.version.major {
                return Err(Error::VersionMismatch {
                    compiled: format!(
                        "{}.x (to match {})",
                        trt.version.major,
                        trt.nvinfer.path().display()
                    ),
                    loaded: v.to_string(),
                    path: lib.path().to_owned(),
                });
            }
            Some(v)
        }
        None => None,
    };
    Ok(ParserLib {
        lib,
        create_nv_onnx_parser,
        get_parser_version,
        version,
    })
}

/// Opens libnvinfer_plugin matching an opened libnvinfer, without caching. Needs the full runtime.
///
/// Where the plugin library reports a version of its own (TensorRT 8.x's exports `getInferLibVersion`), it must
/// be of the loaded runtime's product and major and not newer than it, and serve the `compiled` headers
/// ([`Version::serves`]); otherwise [`Error::PluginVersionMismatch`] names both. TensorRT 10 and later export only
/// `initLibNvInferPlugins`: there the file name's major (`libnvinfer_plugin.so.<loaded major>`) is what is checked.
pub fn open_plugins(
    config: &SearchConfig,
    trt: &TensorRtLibs,
    compiled: Option<Version>,
) -> Result<PluginLib> {
    requires_full(trt, "the TensorRT plugin library")?;
    if trt.version.is_rtx() {
        return Err(Error::Unsupported {
            what: format!(
                "the standard plugin library (libnvinfer_plugin): {} {} has none",
                trt.version.product,
                trt.nvinfer.path().display()
            ),
            version: trt.version.label(),
        });
    }
    let name = format!("libnvinfer_plugin.so.{}", trt.version.major);
    let hint = format!("Set TRT_LIB_DIR to the directory that holds {name} (it ships with full TensorRT installs).");
    let mut lib = open_first(&config.candidates(&[&name]), name, &hint)?;
    lib.resolve_real_path("initLibNvInferPlugins");
    // SAFETY: `bool initLibNvInferPlugins(void* logger, char const* libNamespace)` (NvInferPlugin.h, all
    // supported releases); owned with `lib`.
    let init_lib_nvinfer_plugins: InitPluginsFn = unsafe { lib.function("initLibNvInferPlugins") }?;
    let version = own_version(&lib)?;
    if let Some(v) = version {
        check_plugin_version(v, trt.version, compiled, lib.path())?;
    }
    Ok(PluginLib {
        lib,
        init_lib_nvinfer_plugins,
        version,
    })
}

/// The version a library reports through a `getInferLibVersion` of its own; `None` when the symbol is absent or
/// resolves into another file (a dependency's: the plugin library links libnvinfer, which exports one too).
pub fn own_version(lib: &LoadedLibrary) -> Result<Option<Version>> {
    let Ok(addr) = lib.symbol_addr("getInferLibVersion") else {
        return Ok(None);
    };
    let owner = dladdr_file(addr).and_then(|p| p.canonicalize().ok());
    if owner.is_none() || owner != lib.path().canonicalize().ok() {
        return Ok(None);
    }
    // SAFETY: `int32_t getInferLibVersion() noexcept`, defined in this very library (checked above), which
    // outlives the call.
    let f: VersionFn = unsafe { lib.function("getInferLibVersion") }?;
    // SAFETY: no arguments; returns an integer.
    let raw = unsafe { f() };
    let origin = format!("getInferLibVersion() of {}", lib.path().display());
    Version::decode_from(raw, &origin).map(Some)
}

/// A plugin library of version `plugin` next to the loaded runtime `loaded`, for code compiled against
/// `compiled`: same product and major as the runtime and not newer than it (it calls into the runtime), and
/// serving the compiled headers.
pub fn check_plugin_version(
    plugin: Version,
    loaded: Version,
    compiled: Option<Version>,
    path: &Path,
) -> Result<()> {
    let expected = if !loaded.serves(plugin) {
        format!("the loaded runtime, {}", loaded.label())
    } else if let Some(c) = compiled.filter(|c| !plugin.serves(*c)) {
        format!("the compiled headers, {}", c.label())
    } else {
        return Ok(());
    };
    Err(Error::PluginVersionMismatch {
        plugin: plugin.label(),
        expected,
        path: path.to_owned(),
    })
}

/// Opens libcudart (trying [`CUDART_NAMES`] in every location), without caching.
///
/// A libcudart whose major is newer than the installed driver supports (see [`cudart_fits_driver`]) is passed
/// over for a later candidate that fits; if none fits, the first one found is used (and the device check then
/// reports `cudaErrorInsufficientDriver`). Libraries passed over stay loaded: unloading a CUDA runtime that
/// has talked to the driver is not safe.
pub fn open_cudart(config: &SearchConfig) -> Result<crate::cuda::CudaRuntime> {
    let hint = "Set CUDA_LIB_DIR to the directory that holds libcudart.so.<N> (a CUDA toolkit's lib64, or the \
                nvidia/cu13/lib or nvidia/cuda_runtime/lib directory of the nvidia-cuda-runtime wheel).";
    let mut search = Search::new(CUDART_NAMES.join(" / "), hint);
    let mut fallback: Option<crate::cuda::CudaRuntime> = None;
    for candidate in config.candidates(&CUDART_NAMES) {
        let Some(mut lib) = search.try_open(&candidate) else {
            continue;
        };
        lib.resolve_real_path("cudaRuntimeGetVersion");
        let rt = match crate::cuda::CudaRuntime::from_library(lib) {
            Ok(rt) => rt,
            Err(e) => {
                search
                    .failures
                    .push((candidate.path.clone(), e.to_string()));
                continue;
            }
        };
        let fits = match (rt.runtime_version(), rt.driver_version()) {
            (Ok(runtime), Ok(driver)) => cudart_fits_driver(runtime, driver),
            _ => true,
        };
        if fits {
            std::mem::forget(fallback.take());
            return Ok(rt);
        }
        match fallback {
            None => fallback = Some(rt),
            Some(_) => std::mem::forget(rt),
        }
    }
    fallback.ok_or_else(|| search.into_error())
}

/// Whether a libcudart reporting `runtime` (`cudaRuntimeGetVersion`) can work with a driver reporting `driver`
/// (`cudaDriverGetVersion`): always when there is no driver (0: the device check reports that), otherwise when
/// the runtime's major is not newer than the driver's (CUDA minor-version compatibility covers the rest).
pub fn cudart_fits_driver(runtime: i32, driver: i32) -> bool {
    driver <= 0 || runtime / 1000 <= driver / 1000
}

// ---------------------------------------------------------------------------------------------------------
// Cached, process-wide handles
// ---------------------------------------------------------------------------------------------------------

/// The TensorRT version of the headers the shim was compiled against (from `NvInferVersion.h`, passed by
/// build.rs as `TRT_SYS_TENSORRT_VERSION`), `None` when no TensorRT headers were found at build time.
pub fn compiled_version() -> Option<Version> {
    let v: Version = option_env!("TRT_SYS_TENSORRT_VERSION")?.parse().ok()?;
    Some(match option_env!("TRT_SYS_TENSORRT_PRODUCT") {
        Some("rtx") => Version {
            product: Product::Rtx,
            ..v
        },
        _ => v,
    })
}

fn config() -> &'static SearchConfig {
    static CONFIG: OnceLock<SearchConfig> = OnceLock::new();
    CONFIG.get_or_init(SearchConfig::from_env)
}

/// libnvinfer (full, lean or dispatch), opened once per process from [`SearchConfig::from_env`]. A failure is
/// cached too and returned on every call.
pub fn tensorrt() -> Result<&'static TensorRtLibs> {
    static LIB: OnceLock<Result<TensorRtLibs>> = OnceLock::new();
    LIB.get_or_init(|| open_tensorrt(config(), compiled_version()))
        .as_ref()
        .map_err(Clone::clone)
}

/// libnvonnxparser matching [`tensorrt`], opened once per process.
pub fn onnx_parser() -> Result<&'static ParserLib> {
    static LIB: OnceLock<Result<ParserLib>> = OnceLock::new();
    LIB.get_or_init(|| open_onnx_parser(config(), tensorrt()?))
        .as_ref()
        .map_err(Clone::clone)
}

/// libnvinfer_plugin matching [`tensorrt`], opened once per process.
pub fn plugins() -> Result<&'static PluginLib> {
    static LIB: OnceLock<Result<PluginLib>> = OnceLock::new();
    LIB.get_or_init(|| open_plugins(config(), tensorrt()?, compiled_version()))
        .as_ref()
        .map_err(Clone::clone)
}

/// libcudart, opened once per process.
pub fn cudart() -> Result<&'static crate::cuda::CudaRuntime> {
    static LIB: OnceLock<Result<crate::cuda::CudaRuntime>> = OnceLock::new();
    LIB.get_or_init(|| open_cudart(config()))
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(test)]
impl TensorRtLibs {
    /// A runtime of `flavor` reporting `version`, for tests of what is opened next to it: the process's own libc
    /// stands in for libnvinfer (already loaded, so opening it runs no initializers) and the entry points are inert.
    pub(crate) fn stand_in(flavor: RuntimeFlavor, version: Version) -> Self {
        extern "C" fn no_version() -> i32 {
            0
        }
        extern "C" fn no_object(_: *mut c_void, _: i32) -> *mut c_void {
            std::ptr::null_mut()
        }
        // SAFETY: libc.so.6 is already loaded in this process; opening it again runs no new initializers.
        let nvinfer = unsafe { LoadedLibrary::open(Path::new("libc.so.6")) }.expect("libc opens");
        TensorRtLibs {
            nvinfer,
            flavor,
            version,
            entry: TrtEntryPoints {
                get_infer_lib_version: no_version,
                create_infer_builder: None,
                create_infer_runtime: no_object,
                create_infer_refitter: None,
                get_plugin_registry: None,
                set_internal_library_path: None,
            },
        }
    }
}

#[cfg(test)]
mod tests;
