//! Devices: how many there are, which one is current, waiting for all of them, and the thread's last error.
//! Versions and the device check describe a particular library: see [`CudaRuntime`](super::CudaRuntime).

use super::cudaDeviceAttr;
use crate::error::Result;
use crate::loader::cudart;

/// `cudaGetDeviceCount`.
pub fn count() -> Result<i32> {
    cudart()?.device_count()
}

/// `cudaDeviceGetAttribute`.
pub fn attribute(attr: cudaDeviceAttr, device: i32) -> Result<i32> {
    cudart()?.device_attribute(attr, device)
}

/// `cudaSetDevice`: makes `device` current on the calling thread.
pub fn set(device: i32) -> Result<()> {
    cuda_call!(cudart()?, cudaSetDevice(device))
}

/// `cudaGetDevice`: the device current on the calling thread.
pub fn get() -> Result<i32> {
    let mut d = 0;
    cuda_call!(cudart()?, cudaGetDevice(&mut d))?;
    Ok(d)
}

/// `cudaDeviceSynchronize`: waits for all work on the current device.
pub fn synchronize() -> Result<()> {
    cuda_call!(cudart()?, cudaDeviceSynchronize())
}

/// `cudaGetLastError`: returns and clears the last error of this thread.
pub fn last_error() -> Result<()> {
    cuda_call!(cudart()?, cudaGetLastError())
}
