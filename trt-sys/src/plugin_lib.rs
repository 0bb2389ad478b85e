//! Custom TensorRT plugin libraries: what `trt-build --plugins LIB` (trtexec's `--staticPlugins` /
//! `--dynamicPlugins`) loads before parsing, and what a runtime loads before deserializing an engine that uses them.
//!
//! A plugin library registers its creators with the process-wide plugin registry of the loaded libnvinfer in one of
//! two ways, and [`load_plugin_library`] picks the right one from the file itself:
//! * **constructors** (every release): the library registers from its static initializers
//!   (`REGISTER_TENSORRT_PLUGIN`), so opening it with the dynamic loader is the registration. It is opened with
//!   `RTLD_NOW | RTLD_GLOBAL`: an unresolved symbol is an error now, not a crash at the first plugin call.
//! * **registry** (TensorRT ≥ 8.6): the library exports `getPluginCreators` / `getCreators` and is handed to
//!   `IPluginRegistry::loadLibrary` (needs the compiled shim).
//!
//! Before anything runs, the file is read as ELF ([`inspect_plugin_library`]): a file that is not a shared library,
//! one built for another architecture, or one that links another TensorRT major (`libnvinfer.so.8` while 10.x is
//! loaded: opening it would load a second, incompatible TensorRT into the process) is refused with an error naming
//! the file and the fix. Libraries are never closed: the registry keeps pointers into them.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::loader::TensorRtLibs;
use crate::version::Version;

/// Symbols that mark a library written for `IPluginRegistry::loadLibrary` (8.6: `getPluginCreators`, 10.0:
/// `getCreators`).
pub const REGISTRY_ENTRY_POINTS: [&str; 2] = ["getCreators", "getPluginCreators"];

/// What the ELF file says about a plugin library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginLibraryFacts {
    /// `e_machine` (62 = x86-64, 183 = aarch64).
    pub machine: u16,
    /// `DT_NEEDED` entries; `None` when the file has no section headers to read them from.
    pub needed: Option<Vec<String>>,
    /// Defined, exported dynamic symbols among [`REGISTRY_ENTRY_POINTS`] (`None`: unknown, as for `needed`).
    pub registry_entry_points: Option<Vec<String>>,
}

impl PluginLibraryFacts {
    /// TensorRT majors the library links (`libnvinfer.so.N`, `libnvinfer_lean.so.N`, `libnvinfer_dispatch.so.N`,
    /// `libnvinfer_plugin.so.N`), sorted.
    pub fn tensorrt_majors(&self) -> Vec<u32> {
        let mut majors = BTreeSet::new();
        for name in self.needed.iter().flatten() {
            for stem in [
                "libnvinfer.so.",
                "libnvinfer_lean.so.",
                "libnvinfer_dispatch.so.",
                "libnvinfer_plugin.so.",
            ] {
                if let Some(rest) = name.strip_prefix(stem) {
                    let major = rest.split('.').next().unwrap_or("");
                    if let Ok(m) = major.parse::<u32>() {
                        majors.insert(m);
                    }
                }
            }
        }
        majors.into_iter().collect()
    }
}

/// How a plugin library registers its creators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginLoadMode {
    /// Static initializers run when the library is opened (`REGISTER_TENSORRT_PLUGIN`).
    Constructors,
    /// `IPluginRegistry::loadLibrary` (TensorRT ≥ 8.6, library exports `getPluginCreators`/`getCreators`).
    Registry,
}

/// A plugin library loaded into this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginLibraryInfo {
    /// The file (canonical path).
    pub path: PathBuf,
    /// Its file name (what sidecars record).
    pub file_name: String,
    /// How it was registered.
    pub mode: PluginLoadMode,
}

const ELF_MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];
const ET_DYN: u16 = 3;
const SHT_DYNAMIC: u32 = 6;
const SHT_DYNSYM: u32 = 11;
const DT_NULL: i64 = 0;
const DT_NEEDED: i64 = 1;
/// Upper bound on what is read from one table (a corrupt header must not make us allocate gigabytes).
const MAX_TABLE: u64 = 64 << 20;

/// `e_machine` of the target this crate was compiled for.
pub fn host_machine() -> u16 {
    if cfg!(target_arch = "aarch64") {
        183
    } else {
        62
    }
}

fn machine_name(m: u16) -> String {
    match m {
        3 => "x86 (32-bit)".into(),
        40 => "ARM (32-bit)".into(),
        62 => "x86-64".into(),
        183 => "aarch64".into(),
        243 => "RISC-V".into(),
        other => format!("machine {other}"),
    }
}

struct Elf<'a> {
    file: &'a File,
    len: u64,
}

impl Elf<'_> {
    fn bytes(&self, offset: u64, size: u64, what: &str) -> std::result::Result<Vec<u8>, String> {
        offset
            .checked_add(size)
            .filter(|end| *end <= self.len && size <= MAX_TABLE)
            .ok_or_else(|| {
                format!("truncated or corrupt ELF file: its {what} lies outside the file")
            })?;
        let mut buf = vec![0u8; size as usize];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| format!("reading its {what}: {e}"))?;
        Ok(buf)
    }
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]))
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]))
}

fn c_str(table: &[u8], offset: u64) -> std::result::Result<String, String> {
    let start = usize::try_from(offset).ok().filter(|s| *s < table.len());
    let Some(start) = start else {
        return Err("corrupt ELF file: a string offset lies outside its string table".into());
    };
    let end = table[start..]
        .iter()
        .position(|b| *b == 0)
        .ok_or("corrupt ELF file: an unterminated string")?;
    Ok(String::from_utf8_lossy(&table[start..start + end]).into_owned())
}

/// Reads the ELF facts of `path` without loading it. Errors say what is wrong with the file.
pub fn inspect_plugin_library(path: &Path) -> Result<PluginLibraryFacts> {
    let fail = |message: String| Error::PluginLibrary {
        path: path.to_owned(),
        message,
    };
    let file = File::open(path).map_err(|e| {
        fail(if e.kind() == std::io::ErrorKind::NotFound {
            "no such file; pass the path of the plugin's shared library (.so)".into()
        } else {
            format!("cannot read it: {e}")
        })
    })?;
    let meta = file
        .metadata()
        .map_err(|e| fail(format!("cannot stat it: {e}")))?;
    if meta.is_dir() {
        return Err(fail(
            "is a directory; pass the plugin's shared library (.so) itself".into(),
        ));
    }
    let elf = Elf {
        file: &file,
        len: meta.len(),
    };
    let header = elf.bytes(0, 64.min(meta.len()), "header").map_err(fail)?;
    if header.len() < 16 || header[..4] != ELF_MAGIC {
        return Err(fail(
            "is not a shared library (no ELF header); pass the plugin's compiled .so, not a source, archive or \
             text file"
                .into(),
        ));
    }
    if header[4] != 2 || header[5] != 1 {
        return Err(fail(format!(
            "is a {} {}-endian ELF file; TensorRT plugins here must be 64-bit little-endian ({}) shared libraries",
            if header[4] == 1 { "32-bit" } else { "non-64-bit" },
            if header[5] == 2 { "big" } else { "little" },
            machine_name(host_machine())
        )));
    }
    if header.len() < 64 {
        return Err(fail("truncated ELF file: the header is incomplete".into()));
    }
    let e_type = u16_at(&header, 16);
    let machine = u16_at(&header, 18);
    if machine != host_machine() {
        return Err(fail(format!(
            "was built for {} but this program runs on {}; rebuild the plugin for this machine (on Jetson: \
             natively or with an aarch64 cross toolchain against JetPack's TensorRT)",
            machine_name(machine),
            machine_name(host_machine())
        )));
    }
    if e_type != ET_DYN {
        return Err(fail(format!(
            "is an ELF file of type {e_type}, not a shared library (type 3); link the plugin with -shared"
        )));
    }
    let shoff = u64_at(&header, 0x28);
    let shentsize = u64::from(u16_at(&header, 0x3a));
    let shnum = u64::from(u16_at(&header, 0x3c));
    if shoff == 0 || shnum == 0 {
        return Ok(PluginLibraryFacts {
            machine,
            needed: None,
            registry_entry_points: None,
        });
    }
    if shentsize < 64 {
        return Err(fail(format!(
            "corrupt ELF file: section header size {shentsize} < 64"
        )));
    }
    let sections = elf
        .bytes(shoff, shentsize * shnum, "section headers")
        .map_err(fail)?;
    struct Section {
        kind: u32,
        offset: u64,
        size: u64,
        link: u32,
        entsize: u64,
    }
    let section = |i: u64| {
        let b = &sections[(i * shentsize) as usize..];
        Section {
            kind: u32_at(b, 4),
            offset: u64_at(b, 24),
            size: u64_at(b, 32),
            link: u32_at(b, 40),
            entsize: u64_at(b, 56),
        }
    };
    let strings_of = |s: &Section| -> std::result::Result<Vec<u8>, String> {
        let link = u64::from(s.link);
        if link >= shnum {
            return Err(
                "corrupt ELF file: a section links a string table that does not exist".into(),
            );
        }
        let t = section(link);
        elf.bytes(t.offset, t.size, "string table")
    };
    let mut needed = Vec::new();
    let mut entry_points = BTreeSet::new();
    for i in 0..shnum {
        let s = section(i);
        match s.kind {
            SHT_DYNAMIC => {
                let strings = strings_of(&s).map_err(fail)?;
                let table = elf
                    .bytes(s.offset, s.size, "dynamic section")
                    .map_err(fail)?;
                for entry in table.chunks_exact(16) {
                    let tag = u64_at(entry, 0) as i64;
                    if tag == DT_NULL {
                        break;
                    }
                    if tag == DT_NEEDED {
                        needed.push(c_str(&strings, u64_at(entry, 8)).map_err(fail)?);
                    }
                }
            }
            SHT_DYNSYM => {
                let strings = strings_of(&s).map_err(fail)?;
                let table = elf
                    .bytes(s.offset, s.size, "dynamic symbol table")
                    .map_err(fail)?;
                let entsize = if s.entsize == 0 { 24 } else { s.entsize } as usize;
                if entsize < 24 {
                    return Err(fail(format!(
                        "corrupt ELF file: symbol size {entsize} < 24"
                    )));
                }
                for sym in table.chunks_exact(entsize) {
                    let defined = u16_at(sym, 6) != 0;
                    let binding = sym[4] >> 4;
                    if !defined || !(binding == 1 || binding == 2) {
                        continue;
                    }
                    let name = c_str(&strings, u64::from(u32_at(sym, 0))).map_err(fail)?;
                    if REGISTRY_ENTRY_POINTS.contains(&name.as_str()) {
                        entry_points.insert(name);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(PluginLibraryFacts {
        machine,
        needed: Some(needed),
        registry_entry_points: Some(entry_points.into_iter().collect()),
    })
}

/// Decides how `facts` is loaded into TensorRT `loaded` (pure: the per-release logic, unit-tested for every
/// release). Errors when the library links another TensorRT major. `loaded_desc` completes "but …" in that error,
/// e.g. `TensorRT 10.3.0 is loaded from /usr/lib/…/libnvinfer.so.10` or `the build targets TensorRT 10.3.0`.
pub fn plan_plugin_load(
    path: &Path,
    facts: &PluginLibraryFacts,
    loaded: Version,
    loaded_desc: &str,
) -> Result<PluginLoadMode> {
    let majors = facts.tensorrt_majors();
    if let Some(other) = majors.iter().find(|m| **m != loaded.major) {
        return Err(Error::PluginLibrary {
            path: path.to_owned(),
            message: format!(
                "links TensorRT {other} (libnvinfer*.so.{other}) but {loaded_desc}; rebuild the plugin against \
                 TensorRT {} (opening it would load a second TensorRT into the process)",
                loaded.major
            ),
        });
    }
    let registry_capable = loaded.major > 8 || (loaded.major == 8 && loaded.minor >= 6);
    let exports_entry = facts
        .registry_entry_points
        .as_ref()
        .is_some_and(|e| !e.is_empty());
    Ok(if exports_entry && registry_capable {
        PluginLoadMode::Registry
    } else {
        PluginLoadMode::Constructors
    })
}

static LOADED: Mutex<Vec<(PluginLibraryInfo, Option<libloading::os::unix::Library>)>> =
    Mutex::new(Vec::new());

/// The name sidecars record for the plugin library `path`: the file name of its canonical path (a `libx.so` symlink
/// resolves to its target), as [`PluginLibraryInfo::file_name`] reports it once loaded. `None` when the path does
/// not resolve.
pub fn recorded_name(path: &Path) -> Option<String> {
    path.canonicalize()
        .ok()?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

/// Every plugin library loaded by [`load_plugin_library`] in this process, in load order.
pub fn loaded_plugin_libraries() -> Vec<PluginLibraryInfo> {
    LOADED
        .lock()
        .map(|l| l.iter().map(|(i, _)| i.clone()).collect())
        .unwrap_or_default()
}

/// Loads the plugin library `path` into the process-wide TensorRT ([`crate::loader::tensorrt`]).
/// Loading the same file twice is a no-op that returns the first result. `logger` receives what TensorRT logs
/// while a [`PluginLoadMode::Registry`] library is registered (and is required for those).
pub fn load_plugin_library(
    path: &Path,
    logger: Option<&crate::shim::Logger>,
) -> Result<PluginLibraryInfo> {
    load_plugin_library_into(crate::loader::tensorrt()?, path, logger)
}

/// Loads the plugin library `path` for the TensorRT library `trt` (which must stay loaded for the rest of the
/// process, as the one from [`crate::loader::tensorrt`] does).
pub fn load_plugin_library_into(
    trt: &TensorRtLibs,
    path: &Path,
    logger: Option<&crate::shim::Logger>,
) -> Result<PluginLibraryInfo> {
    let facts = inspect_plugin_library(path)?;
    let canonical = path.canonicalize().map_err(|e| Error::PluginLibrary {
        path: path.to_owned(),
        message: format!("cannot resolve its path: {e}"),
    })?;
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((info, _)) = loaded.iter().find(|(i, _)| i.path == canonical) {
        return Ok(info.clone());
    }
    let desc = format!(
        "TensorRT {} is loaded from {}",
        trt.version,
        trt.nvinfer.path().display()
    );
    let mode = plan_plugin_load(path, &facts, trt.version, &desc)?;
    let handle = match mode {
        PluginLoadMode::Constructors => {
            use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
            // SAFETY: opening runs the library's initializers; the user named this file as a TensorRT plugin
            // library, and it was checked above to be a shared library for this machine linking the loaded major.
            let lib = unsafe { Library::open(Some(&canonical), RTLD_NOW | RTLD_GLOBAL) }.map_err(|e| {
                Error::PluginLibrary {
                    path: path.to_owned(),
                    message: format!(
                        "the dynamic loader refused it: {e}; check that its dependencies (CUDA, cuDNN, …) are on \
                         LD_LIBRARY_PATH"
                    ),
                }
            })?;
            Some(lib)
        }
        PluginLoadMode::Registry => {
            let logger = logger.ok_or_else(|| Error::PluginLibrary {
                path: path.to_owned(),
                message: "exports getPluginCreators/getCreators and must be registered through \
                          IPluginRegistry::loadLibrary, which needs a TensorRT logger (load it through \
                          trt::Library::load_plugin_library)"
                    .into(),
            })?;
            crate::shim::load_plugin_library_via_registry(logger, trt, &canonical).map_err(|e| {
                Error::PluginLibrary {
                    path: path.to_owned(),
                    message: format!(
                        "it exports getPluginCreators/getCreators, and TensorRT's IPluginRegistry::loadLibrary \
                         refused it ({e}); TensorRT's log (--verbose) says why — e.g. no creator returned, or a \
                         missing setLoggerFinder"
                    ),
                }
            })?;
            None
        }
    };
    let info = PluginLibraryInfo {
        file_name: canonical
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: canonical,
        mode,
    };
    loaded.push((info.clone(), handle));
    Ok(info)
}

#[cfg(test)]
mod tests;
