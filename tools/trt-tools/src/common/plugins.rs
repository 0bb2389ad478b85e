//! The plugin-library and runtime-cache arguments of the programs that run engines (trt-bench, trt-inspect,
//! trt-detect).

/// `--runtime-cache FILE` / `--no-runtime-cache` of trt-bench and trt-detect: where TensorRT for RTX keeps the
/// kernels it JIT-compiles for this GPU (ignored by other TensorRT releases).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RuntimeCacheArgs {
    /// TensorRT for RTX: keep the JIT runtime cache in FILE (default: next to the engine, as
    /// `<engine>.runtime-cache`), so the next start skips the compilation.
    #[arg(
        long = "runtime-cache",
        value_name = "FILE",
        alias = "runtimeCachePath"
    )]
    pub runtime_cache: Option<std::path::PathBuf>,
    /// TensorRT for RTX: keep no JIT runtime cache (kernels are compiled at every start).
    #[arg(long = "no-runtime-cache", conflicts_with = "runtime_cache")]
    pub no_runtime_cache: bool,
}

impl RuntimeCacheArgs {
    /// The policy for [`trt::LoadOptions::runtime_cache`].
    pub fn policy(&self) -> trt::RuntimeCache {
        match (&self.runtime_cache, self.no_runtime_cache) {
            (_, true) => trt::RuntimeCache::Off,
            (Some(f), false) => trt::RuntimeCache::File(f.clone()),
            (None, false) => trt::RuntimeCache::BesideEngine,
        }
    }
}

/// `--plugins LIB` of trt-bench, trt-inspect and trt-detect (trt-build has its own: it also records them).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PluginArgs {
    /// Plugin library the engine was built with (`trt-build --plugins`); repeatable.
    #[arg(long, value_name = "LIB", aliases = ["staticPlugins", "dynamicPlugins"])]
    pub plugins: Vec<std::path::PathBuf>,
}

impl PluginArgs {
    /// Checks every file (a shared library for this machine) before TensorRT is needed, so a bad one is exit
    /// code 1 on any machine.
    pub fn check(&self) -> anyhow::Result<()> {
        for p in &self.plugins {
            trt::plugins::inspect_plugin_library(p)
                .map_err(|e| anyhow::anyhow!("--plugins: {e}"))?;
        }
        Ok(())
    }

    /// Loads every library into `lib`, in order.
    pub fn load(&self, lib: &trt::Library) -> anyhow::Result<()> {
        for p in &self.plugins {
            lib.load_plugin_library(p)
                .map_err(|e| anyhow::anyhow!("--plugins: {e}"))?;
        }
        Ok(())
    }
}
