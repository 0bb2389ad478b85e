//! The `.npy` container (NumPy format versions 1–3, C order), shared by calibration data (`calib_data`) and
//! trt-bench's `--load-inputs` / `--save-outputs` (`bench::io`). Element decoding stays with each caller.

use std::path::Path;

use anyhow::Result;

/// A parsed `.npy` file: dtype descriptor (e.g. `<f4`), shape, and the raw little-endian element bytes.
pub struct Npy<'a> {
    /// NumPy dtype descriptor without quotes, e.g. `<f4`, `|u1`.
    pub descr: String,
    /// Dimensions (C order).
    pub shape: Vec<usize>,
    /// The element bytes after the header.
    pub data: &'a [u8],
}

impl Npy<'_> {
    /// Number of elements the shape describes.
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }
}

/// The error every `.npy` problem is reported with: it names the file.
pub fn bad(path: &Path, message: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{}: not a readable .npy tensor: {message}", path.display())
}

/// Parses the header of a `.npy` file's bytes; `path` names it in errors. Fortran order is refused.
pub fn parse<'a>(bytes: &'a [u8], path: &Path) -> Result<Npy<'a>> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad(path, "missing the \\x93NUMPY magic"));
    }
    let (hlen, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(path, format!("format version {v} is not supported"))),
    };
    let header = bytes
        .get(start..start.saturating_add(hlen))
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad(path, "truncated or non-UTF-8 header"))?;
    let descr = header_value(header, "descr")
        .and_then(|v| v.strip_prefix('\''))
        .and_then(|v| v.split('\'').next())
        .ok_or_else(|| bad(path, "no 'descr' in the header"))?;
    if header_value(header, "fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err(bad(
            path,
            "Fortran order is not supported (save with np.ascontiguousarray)",
        ));
    }
    let shape_text = header_value(header, "shape")
        .and_then(|v| v.strip_prefix('('))
        .and_then(|v| v.split(')').next())
        .ok_or_else(|| bad(path, "no 'shape' in the header"))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(path, format!("bad dimension `{s}` in 'shape'")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Npy {
        descr: descr.to_string(),
        shape,
        data: &bytes[start + hlen..],
    })
}

/// Encodes a version-1 `.npy` file: `descr` (e.g. `<f4`), C-order `shape`, little-endian element bytes.
pub fn encode(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims = match shape {
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn header_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    header[at..]
        .trim_start()
        .strip_prefix(':')
        .map(str::trim_start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_header_and_data() {
        let data: Vec<u8> = (0..24u8).collect();
        let bytes = encode("<f4", &[2, 3], &data);
        assert_eq!(bytes[..6], *b"\x93NUMPY");
        assert_eq!(
            (10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize) % 64,
            0
        );
        let npy = parse(&bytes, Path::new("x.npy")).unwrap();
        assert_eq!(npy.descr, "<f4");
        assert_eq!(npy.shape, vec![2, 3]);
        assert_eq!(npy.elements(), 6);
        assert_eq!(npy.data, &data[..]);
        let one = encode("|u1", &[5], &[1, 2, 3, 4, 5]);
        let one = parse(&one, Path::new("y.npy")).unwrap();
        assert_eq!(one.shape, vec![5]);
    }

    #[test]
    fn errors_name_the_file() {
        for bytes in [
            &b"nope"[..],
            b"\x93NUMPY\x09\x00\x00\x00",
            b"\x93NUMPY\x01\x00\xff\x00{",
        ] {
            let e = parse(bytes, Path::new("dir/t.npy"))
                .err()
                .unwrap()
                .to_string();
            assert!(
                e.starts_with("dir/t.npy: not a readable .npy tensor"),
                "{e}"
            );
        }
        let mut fortran = encode("<f4", &[1], &[0; 4]);
        let at = fortran.windows(5).position(|w| w == b"False").unwrap();
        fortran[at..at + 5].copy_from_slice(b"True ");
        let e = parse(&fortran, Path::new("f.npy"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("Fortran order"), "{e}");
    }
}
