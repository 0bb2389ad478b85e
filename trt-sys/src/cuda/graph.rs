//! CUDA graphs captured from a stream ([`super::stream::begin_capture`] / [`super::stream::end_capture`]):
//! instantiation, launch and destruction.

use super::{cudaGraphExec_t, cudaGraph_t, cudaStream_t};
use crate::error::Result;
use crate::loader::cudart;

/// Instantiates a graph (`cudaGraphInstantiateWithFlags(…, 0)`, or the 11.x five-argument
/// `cudaGraphInstantiate` on 11.0–11.3 runtimes). Destroy the result with [`exec_destroy`].
///
/// # Safety
/// `graph` is live.
pub unsafe fn instantiate(graph: cudaGraph_t) -> Result<cudaGraphExec_t> {
    let rt = cudart()?;
    let mut exec = std::ptr::null_mut();
    if rt.api.cudaGraphInstantiateWithFlags.is_err() {
        if let Some(legacy) = rt.graph_instantiate_legacy {
            // SAFETY: 11.x signature (see `GraphInstantiateLegacyFn`); null error node and empty log buffer are
            // allowed; the caller keeps `graph` live.
            let code = unsafe {
                legacy(
                    &mut exec,
                    graph,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    0,
                )
            };
            rt.check("cudaGraphInstantiate", code)?;
            return Ok(exec);
        }
    }
    cuda_call!(rt, cudaGraphInstantiateWithFlags(&mut exec, graph, 0))?;
    Ok(exec)
}

/// `cudaGraphLaunch`.
///
/// # Safety
/// Both handles are live; the memory the graph touches stays valid until the launch completes.
pub unsafe fn launch(exec: cudaGraphExec_t, stream: cudaStream_t) -> Result<()> {
    cuda_call!(cudart()?, cudaGraphLaunch(exec, stream))
}

/// `cudaGraphExecDestroy`.
///
/// # Safety
/// `exec` is live and destroyed once.
pub unsafe fn exec_destroy(exec: cudaGraphExec_t) -> Result<()> {
    cuda_call!(cudart()?, cudaGraphExecDestroy(exec))
}

/// `cudaGraphDestroy`.
///
/// # Safety
/// `graph` is live and destroyed once.
pub unsafe fn destroy(graph: cudaGraph_t) -> Result<()> {
    cuda_call!(cudart()?, cudaGraphDestroy(graph))
}
