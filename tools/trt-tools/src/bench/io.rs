//! Benchmark inputs and outputs: random tensors, `.npy` / raw files (`--load-inputs`, `--save-outputs`).
//!
//! `.npy`: version 1.0–3.0, C order, little-endian; dtypes `<f4` (float32), `<f2` (float16), `|i1`, `<i4`, `|u1`,
//! `|b1`. Raw files (`.bin` / `.raw`) hold the tensor's elements in the engine's dtype, little-endian, row-major;
//! their shape comes from the engine (or `--shapes`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use half::f16;
use rand::{Rng, SeedableRng};
use trt::DataType;

/// A host tensor of one of the element types a `trt::Session` accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum HostData {
    /// float32.
    F32(Vec<f32>),
    /// float16.
    F16(Vec<f16>),
    /// int8.
    I8(Vec<i8>),
    /// int32.
    I32(Vec<i32>),
    /// uint8.
    U8(Vec<u8>),
    /// bool.
    Bool(Vec<bool>),
}

impl HostData {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            HostData::F32(v) => v.len(),
            HostData::F16(v) => v.len(),
            HostData::I8(v) => v.len(),
            HostData::I32(v) => v.len(),
            HostData::U8(v) => v.len(),
            HostData::Bool(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The TensorRT data type.
    pub fn dtype(&self) -> DataType {
        match self {
            HostData::F32(_) => DataType::F32,
            HostData::F16(_) => DataType::F16,
            HostData::I8(_) => DataType::I8,
            HostData::I32(_) => DataType::I32,
            HostData::U8(_) => DataType::U8,
            HostData::Bool(_) => DataType::Bool,
        }
    }

    /// Little-endian bytes.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            HostData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            HostData::F16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            HostData::I8(v) => v.iter().map(|&x| x as u8).collect(),
            HostData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            HostData::U8(v) => v.clone(),
            HostData::Bool(v) => v.iter().map(|&x| u8::from(x)).collect(),
        }
    }

    /// Decodes little-endian bytes of `dtype`; `what` names the source in errors.
    pub fn from_le_bytes(dtype: DataType, bytes: &[u8], what: &str) -> Result<HostData> {
        let size = dtype
            .size()
            .filter(|_| dtype.host_supported())
            .with_context(|| {
                format!(
                    "{what}: element type {} is not supported (f32, f16, i8, i32, u8, bool)",
                    dtype.name()
                )
            })?;
        if bytes.len() % size != 0 {
            bail!(
                "{what}: {} bytes is not a whole number of {}-byte {} elements",
                bytes.len(),
                size,
                dtype.name()
            );
        }
        Ok(match dtype {
            DataType::F32 => HostData::F32(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            DataType::F16 => HostData::F16(
                bytes
                    .chunks_exact(2)
                    .map(|c| f16::from_le_bytes([c[0], c[1]]))
                    .collect(),
            ),
            DataType::I8 => HostData::I8(bytes.iter().map(|&b| b as i8).collect()),
            DataType::I32 => HostData::I32(
                bytes
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            DataType::U8 => HostData::U8(bytes.to_vec()),
            DataType::Bool => {
                if let Some(i) = bytes.iter().position(|&b| b > 1) {
                    bail!("{what}: bool element {i} is {}, not 0 or 1", bytes[i]);
                }
                HostData::Bool(bytes.iter().map(|&b| b == 1).collect())
            }
            other => bail!("{what}: element type {} is not supported", other.name()),
        })
    }

    /// Reproducible random data: floats uniform in [0, 1), integers in [-8, 8) / [0, 16), bools fair.
    pub fn random(dtype: DataType, len: usize, seed: u64) -> Result<HostData> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        Ok(match dtype {
            DataType::F32 => HostData::F32((0..len).map(|_| rng.random::<f32>()).collect()),
            DataType::F16 => HostData::F16(
                (0..len)
                    .map(|_| f16::from_f32(rng.random::<f32>()))
                    .collect(),
            ),
            DataType::I8 => HostData::I8((0..len).map(|_| rng.random_range(-8..8)).collect()),
            DataType::I32 => HostData::I32((0..len).map(|_| rng.random_range(-8..8)).collect()),
            DataType::U8 => HostData::U8((0..len).map(|_| rng.random_range(0..16)).collect()),
            DataType::Bool => HostData::Bool((0..len).map(|_| rng.random::<bool>()).collect()),
            other => bail!(
                "cannot generate random {} data; pass the input with --load-inputs",
                other.name()
            ),
        })
    }
}

fn npy_descr(dtype: DataType) -> Option<&'static str> {
    Some(match dtype {
        DataType::F32 => "<f4",
        DataType::F16 => "<f2",
        DataType::I8 => "|i1",
        DataType::I32 => "<i4",
        DataType::U8 => "|u1",
        DataType::Bool => "|b1",
        _ => return None,
    })
}

fn descr_dtype(descr: &str) -> Option<DataType> {
    Some(match descr {
        "<f4" => DataType::F32,
        "<f2" => DataType::F16,
        "|i1" | "<i1" => DataType::I8,
        "<i4" => DataType::I32,
        "|u1" | "<u1" => DataType::U8,
        "|b1" => DataType::Bool,
        _ => return None,
    })
}

/// Encodes `data` as a `.npy` file of the given shape.
pub fn encode_npy(data: &HostData, shape: &[usize]) -> Vec<u8> {
    let descr = npy_descr(data.dtype()).unwrap_or("|u1");
    crate::npy::encode(descr, shape, &data.to_le_bytes())
}

/// Decodes a `.npy` file's bytes; `path` names it in errors.
pub fn decode_npy(bytes: &[u8], path: &Path) -> Result<(HostData, Vec<usize>)> {
    let npy = crate::npy::parse(bytes, path)?;
    let dtype = descr_dtype(&npy.descr).ok_or_else(|| {
        crate::npy::bad(
            path,
            format!(
                "dtype {} is not supported (float32, float16, int8, int32, uint8, bool, little-endian)",
                npy.descr
            ),
        )
    })?;
    let n = npy.elements();
    let data = HostData::from_le_bytes(dtype, npy.data, &path.display().to_string())?;
    if data.len() != n {
        return Err(crate::npy::bad(
            path,
            format!(
                "shape {:?} needs {n} elements but the file holds {}",
                npy.shape,
                data.len()
            ),
        ));
    }
    Ok((data, npy.shape))
}

/// File name stem for a tensor name (`/`, `:` and other path characters become `_`).
pub fn file_stem(tensor: &str) -> String {
    tensor
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The file holding tensor `name` in `dir`: `<stem>.npy`, else `<stem>.bin` or `<stem>.raw`.
pub fn find_input_file(dir: &Path, name: &str) -> Result<PathBuf> {
    let stem = file_stem(name);
    for ext in ["npy", "bin", "raw"] {
        let p = dir.join(format!("{stem}.{ext}"));
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!(
        "--load-inputs {}: no file for input `{name}` (looked for {stem}.npy, {stem}.bin, {stem}.raw)",
        dir.display()
    )
}

/// Loads input `name` of `dtype` from `dir`; raw files take `shape`, `.npy` files bring their own shape.
pub fn load_input(
    dir: &Path,
    name: &str,
    dtype: DataType,
    shape: &[usize],
) -> Result<(HostData, Vec<usize>)> {
    let path = find_input_file(dir, name)?;
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let (data, shape) = if path.extension().is_some_and(|e| e == "npy") {
        decode_npy(&bytes, &path)?
    } else {
        let data = HostData::from_le_bytes(dtype, &bytes, &path.display().to_string())?;
        let n: usize = shape.iter().product();
        if data.len() != n {
            bail!(
                "{}: raw input `{name}` holds {} {} elements but shape {shape:?} needs {n}; fix the file or --shapes",
                path.display(),
                data.len(),
                dtype.name()
            );
        }
        (data, shape.to_vec())
    };
    if data.dtype() != dtype {
        bail!(
            "{}: input `{name}` is {} in the file but {} in the engine; convert it (e.g. arr.astype(...))",
            path.display(),
            data.dtype().name(),
            dtype.name()
        );
    }
    Ok((data, shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip_each_dtype() {
        for dt in [
            DataType::F32,
            DataType::F16,
            DataType::I8,
            DataType::I32,
            DataType::U8,
            DataType::Bool,
        ] {
            let d = HostData::random(dt, 24, 7).unwrap();
            let bytes = encode_npy(&d, &[2, 3, 4]);
            assert_eq!((bytes.len() - d.to_le_bytes().len()) % 64, 0);
            let (back, shape) = decode_npy(&bytes, Path::new("x.npy")).unwrap();
            assert_eq!(shape, vec![2, 3, 4]);
            assert_eq!(back, d);
        }
    }

    #[test]
    fn npy_errors_name_file() {
        let e = decode_npy(b"hello", Path::new("in.npy")).unwrap_err();
        assert!(format!("{e:#}").contains("in.npy"));
        let mut b = encode_npy(&HostData::F32(vec![1.0; 6]), &[2, 3]);
        b.truncate(b.len() - 4);
        assert!(
            format!("{:#}", decode_npy(&b, Path::new("t.npy")).unwrap_err()).contains("needs 6")
        );
    }
}
