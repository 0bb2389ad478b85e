//! Benchmark inputs and outputs: random tensors, `.npy` / raw files (`--load-inputs`, `--save-outputs`).
//!
//! `.npy`: version 1.0–3.0, C order, little-endian; dtypes `<f4` (float32), `<f2` (float16), `|i1`, `<i4`, `|u1`,
//! `|b1`. Raw files hold the tensor's elements in the engine's dtype, little-endian, row-major, exactly the bytes
//! of the tensor's shape, which comes from the engine (or `--shapes`). `--load-inputs DIR` looks for
//! `<input>.npy`, `<input>.bin`, `<input>.raw`; trtexec's `--loadInputs=name:file[,…]` takes `.npy` by its
//! extension and any other file as raw ([`InputSource`], [`load_inputs`]).

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
        if !bytes.len().is_multiple_of(size) {
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

/// Where `--load-inputs` takes the inputs from.
#[derive(Debug, Clone, PartialEq)]
pub enum InputSource {
    /// `DIR`: `<input>.npy`, else `<input>.bin` / `<input>.raw`, for every input of the engine.
    Dir(PathBuf),
    /// trtexec's `name:file[,name2:file2]`: these inputs from these files (`.npy`, anything else raw); inputs not
    /// named get reproducible random data, as in trtexec.
    Files(Vec<(String, PathBuf)>),
}

impl InputSource {
    /// Parses `--load-inputs`: an existing directory is a `DIR`; a value with a `:` is trtexec's
    /// `name:file[,name2:file2]` (split on the last `:`; a name with a `:` can be quoted, `'input:0':x.bin`);
    /// anything else is taken as a directory, which [`InputSource::check`] then reports missing.
    pub fn parse(text: &str) -> Result<InputSource, String> {
        if Path::new(text).is_dir() || !text.contains(':') {
            return Ok(InputSource::Dir(PathBuf::from(text)));
        }
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        for spec in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, file) = split_name_file(spec)?;
            if files.iter().any(|(n, _)| *n == name) {
                return Err(format!("input `{name}` is given more than once"));
            }
            files.push((name, PathBuf::from(file)));
        }
        // Not empty: the text holds a ':', so some item does.
        Ok(InputSource::Files(files))
    }

    /// Checks that the directory or every file exists (before TensorRT is touched; exit code 1).
    pub fn check(&self) -> Result<()> {
        match self {
            InputSource::Dir(d) => {
                if !d.is_dir() {
                    bail!(
                        "--load-inputs {}: not a directory (give a directory of <input>.npy / .bin / .raw files, or \
                         trtexec's name:file[,name2:file2])",
                        d.display()
                    );
                }
            }
            InputSource::Files(files) => {
                for (name, f) in files {
                    if !f.is_file() {
                        bail!(
                            "--load-inputs: {}: file for input `{name}` not found",
                            f.display()
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// How the report names the inputs: the directory, or the `name:file` list.
    pub fn describe(&self) -> String {
        match self {
            InputSource::Dir(d) => d.display().to_string(),
            InputSource::Files(files) => files
                .iter()
                .map(|(n, f)| format!("{n}:{}", f.display()))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// `name:file` or `'name':file` (trtexec: the name is everything before the last `:` unless quoted).
fn split_name_file(spec: &str) -> Result<(String, String), String> {
    let (name, file) = if let Some(rest) = spec.strip_prefix('\'') {
        let (name, after) = rest
            .split_once('\'')
            .ok_or_else(|| format!("`{spec}`: unterminated quote in the input name"))?;
        let file = after
            .strip_prefix(':')
            .ok_or_else(|| format!("`{spec}`: expected ':' and a file after the quoted name"))?;
        (name, file)
    } else {
        spec.rsplit_once(':')
            .ok_or_else(|| format!("`{spec}`: expected NAME:FILE such as images:input.bin"))?
    };
    if name.is_empty() {
        return Err(format!("`{spec}`: empty input name"));
    }
    if file.is_empty() {
        return Err(format!("`{spec}`: no file for input `{name}`"));
    }
    Ok((name.to_string(), file.to_string()))
}

/// An engine input as the loader sees it: what a session's [`trt::Engine`] describes, so loading can be tested
/// without one.
#[derive(Debug, Clone, PartialEq)]
pub struct InputDesc {
    /// Tensor name.
    pub name: String,
    /// Element type (raw files hold it little-endian).
    pub dtype: DataType,
    /// The shape a raw file fills (the session's capacity shape: the engine's, or `--shapes`).
    pub shape: Vec<usize>,
}

impl std::fmt::Display for InputDesc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dims: Vec<String> = self.shape.iter().map(usize::to_string).collect();
        write!(
            f,
            "{} ({} {})",
            self.name,
            self.dtype.name(),
            dims.join("x")
        )
    }
}

/// A tensor read from a file: its data and shape.
pub type Loaded = (HostData, Vec<usize>);

/// Loads the inputs `src` provides, one entry per `inputs` element in its order: `Some((data, shape))` from a
/// file, `None` for an input to fill with random data (only inputs a `name:file` list does not name). Errors
/// name the file or the tensor: unknown tensor names (with the engine's inputs), missing files, a raw file of the
/// wrong byte size (expected vs found), a `.npy` of another dtype.
pub fn load_inputs(src: &InputSource, inputs: &[InputDesc]) -> Result<Vec<Option<Loaded>>> {
    match src {
        InputSource::Dir(dir) => inputs
            .iter()
            .map(|t| {
                let path = find_input_file(dir, &t.name)?;
                load_file(&path, t).map(Some)
            })
            .collect(),
        InputSource::Files(files) => {
            for (name, _) in files {
                if !inputs.iter().any(|t| t.name == *name) {
                    let list: Vec<String> = inputs.iter().map(ToString::to_string).collect();
                    bail!(
                        "--load-inputs: the engine has no input `{name}`; its inputs are: {}",
                        list.join(", ")
                    );
                }
            }
            inputs
                .iter()
                .map(|t| match files.iter().find(|(n, _)| *n == t.name) {
                    Some((_, path)) => load_file(path, t).map(Some),
                    None => Ok(None),
                })
                .collect()
        }
    }
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

/// Loads input `t` from `path`: `.npy` brings its own shape, any other file is raw (`t`'s dtype, little-endian,
/// exactly `t.shape`'s bytes).
pub fn load_file(path: &Path, t: &InputDesc) -> Result<Loaded> {
    let name = &t.name;
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "--load-inputs: reading {} for input `{name}`",
            path.display()
        )
    })?;
    let (data, shape) = if path.extension().is_some_and(|e| e == "npy") {
        decode_npy(&bytes, path)?
    } else {
        let n: usize = t.shape.iter().product();
        if let Some(size) = t.dtype.size().filter(|_| t.dtype.host_supported()) {
            let expected = n * size;
            if bytes.len() != expected {
                bail!(
                    "{}: raw input `{name}` is {} bytes but the engine's {} [{}] needs {expected} bytes ({n} elements \
                     of {size} bytes); fix the file or --shapes",
                    path.display(),
                    bytes.len(),
                    t.dtype.name(),
                    t.shape
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join("x"),
                );
            }
        }
        let data = HostData::from_le_bytes(t.dtype, &bytes, &path.display().to_string())?;
        (data, t.shape.clone())
    };
    if data.dtype() != t.dtype {
        bail!(
            "{}: input `{name}` is {} in the file but {} in the engine; convert it (e.g. arr.astype(...))",
            path.display(),
            data.dtype().name(),
            t.dtype.name()
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

    fn files(list: &[(&str, &str)]) -> InputSource {
        InputSource::Files(
            list.iter()
                .map(|(n, f)| ((*n).to_string(), PathBuf::from(f)))
                .collect(),
        )
    }

    #[test]
    fn load_inputs_parses_directories_and_trtexec_lists() {
        let p = |s: &str| InputSource::parse(s);
        assert_eq!(p("images:a.bin").unwrap(), files(&[("images", "a.bin")]));
        assert_eq!(
            p("images:x/a.bin, mask:m.npy,").unwrap(),
            files(&[("images", "x/a.bin"), ("mask", "m.npy")])
        );
        // trtexec: the name is everything before the last ':', or a quoted name.
        assert_eq!(p("in:0:x.dat").unwrap(), files(&[("in:0", "x.dat")]));
        assert_eq!(p("'in:0':x.dat").unwrap(), files(&[("in:0", "x.dat")]));
        // Without ':' a value is a directory (checked later), and an existing directory stays one even with ':'.
        assert_eq!(p("inputs").unwrap(), InputSource::Dir("inputs".into()));
        let tmp = tempfile::tempdir().unwrap();
        let odd = tmp.path().join("run:1");
        std::fs::create_dir(&odd).unwrap();
        assert_eq!(
            p(odd.to_str().unwrap()).unwrap(),
            InputSource::Dir(odd.clone())
        );
        for (bad, needle) in [
            (":x.bin", "empty input name"),
            ("images:", "no file for input `images`"),
            ("a:x.bin,a:y.bin", "`a` is given more than once"),
            ("'in:0'x.bin", "expected ':'"),
            ("'in:0:x.bin", "unterminated quote"),
        ] {
            let e = p(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
        assert_eq!(
            files(&[("images", "a.bin"), ("m", "b.npy")]).describe(),
            "images:a.bin,m:b.npy"
        );
    }

    fn desc(name: &str, dtype: DataType, shape: &[usize]) -> InputDesc {
        InputDesc {
            name: name.into(),
            dtype,
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn load_inputs_per_tensor_against_the_engine_inputs() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let inputs = [
            desc("images", DataType::F32, &[1, 3, 2, 2]),
            desc("scale", DataType::I32, &[2]),
        ];
        // A raw f32 file of exactly 12 elements, read back little-endian.
        let pixels: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 1.0).collect();
        let raw: Vec<u8> = pixels.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(dir.join("frame.dat"), &raw).unwrap();
        // A .npy with its own shape.
        std::fs::write(
            dir.join("scale.npy"),
            encode_npy(&HostData::I32(vec![7, -3]), &[1, 2]),
        )
        .unwrap();
        let f = |n: &str| dir.join(n).display().to_string();
        let src = files(&[("images", &f("frame.dat"))]);
        src.check().unwrap();
        let got = load_inputs(&src, &inputs).unwrap();
        assert_eq!(
            got[0],
            Some((HostData::F32(pixels.clone()), vec![1, 3, 2, 2]))
        );
        assert_eq!(
            got[1], None,
            "an input the list does not name gets random data"
        );
        let both = files(&[("scale", &f("scale.npy")), ("images", &f("frame.dat"))]);
        let got = load_inputs(&both, &inputs).unwrap();
        assert_eq!(got[1], Some((HostData::I32(vec![7, -3]), vec![1, 2])));

        // Unknown tensor: the engine's inputs are listed.
        let e = load_inputs(&files(&[("image", &f("frame.dat"))]), &inputs).unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("no input `image`") && e.contains("images (f32 1x3x2x2), scale (i32 2)"),
            "{e}"
        );
        // Missing file: named, with the input.
        let missing = files(&[("images", &f("nope.bin"))]);
        let e = format!("{:#}", missing.check().unwrap_err());
        assert!(e.contains("nope.bin") && e.contains("`images`"), "{e}");
        assert!(format!("{:#}", load_inputs(&missing, &inputs).unwrap_err()).contains("nope.bin"));
        // Wrong byte size: expected vs found.
        std::fs::write(dir.join("short.bin"), &raw[..40]).unwrap();
        let e = format!(
            "{:#}",
            load_inputs(&files(&[("images", &f("short.bin"))]), &inputs).unwrap_err()
        );
        assert!(
            e.contains("short.bin") && e.contains("is 40 bytes") && e.contains("needs 48 bytes"),
            "{e}"
        );
        // A .npy of another dtype.
        std::fs::write(
            dir.join("f.npy"),
            encode_npy(&HostData::F32(vec![1.0, 2.0]), &[2]),
        )
        .unwrap();
        let e = format!(
            "{:#}",
            load_inputs(&files(&[("scale", &f("f.npy"))]), &inputs).unwrap_err()
        );
        assert!(e.contains("f32 in the file but i32 in the engine"), "{e}");

        // DIR: every input from <name>.npy / .bin / .raw; one missing is an error naming what was looked for.
        std::fs::write(dir.join("images.raw"), &raw).unwrap();
        let got = load_inputs(&InputSource::Dir(dir.to_path_buf()), &inputs).unwrap();
        assert_eq!(got[0], Some((HostData::F32(pixels), vec![1, 3, 2, 2])));
        assert_eq!(got[1], Some((HostData::I32(vec![7, -3]), vec![1, 2])));
        let e = format!(
            "{:#}",
            load_inputs(
                &InputSource::Dir(dir.to_path_buf()),
                &[desc("other", DataType::U8, &[4])]
            )
            .unwrap_err()
        );
        assert!(e.contains("other.npy, other.bin, other.raw"), "{e}");
        let e = format!(
            "{:#}",
            InputSource::Dir(dir.join("absent")).check().unwrap_err()
        );
        assert!(e.contains("absent: not a directory"), "{e}");
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
