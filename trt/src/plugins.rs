//! Custom TensorRT plugin libraries (`--plugins`): what a library's ELF file says (machine, the TensorRT it links,
//! its registry entry points), how it will be loaded for a TensorRT release, and the name engine sidecars record.
//! Loading one goes through [`Library::load_plugin_library`](crate::Library::load_plugin_library).

pub use trt_sys::plugin_lib::{
    host_machine, inspect_plugin_library, loaded_plugin_libraries, plan_plugin_load, recorded_name,
    PluginLibraryFacts, PluginLibraryInfo, PluginLoadMode, REGISTRY_ENTRY_POINTS,
};
