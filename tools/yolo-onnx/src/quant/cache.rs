//! TensorRT calibration cache: text, one header line `TRT-<version>-<Algorithm>` (e.g.
//! `TRT-8503-EntropyCalibration2`, `TRT-100300-MinMaxCalibration`) then one `tensor: xxxxxxxx` line per
//! tensor, where `xxxxxxxx` is the IEEE-754 bit pattern of the float32 scale (`amax / 127`) as 8 hex
//! digits, most significant first — what TensorRT's calibrators write and read back.

use crate::error::{Error, Result};

/// Calibrator algorithm named in the cache header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheAlgorithm {
    /// `EntropyCalibration2` (IInt8EntropyCalibrator2).
    Entropy2,
    /// `EntropyCalibration` (IInt8EntropyCalibrator).
    Entropy,
    /// `MinMaxCalibration` (IInt8MinMaxCalibrator).
    MinMax,
    /// `LegacyCalibration` (IInt8LegacyCalibrator).
    Legacy,
}

impl CacheAlgorithm {
    /// The header spelling.
    pub fn header_name(self) -> &'static str {
        match self {
            CacheAlgorithm::Entropy2 => "EntropyCalibration2",
            CacheAlgorithm::Entropy => "EntropyCalibration",
            CacheAlgorithm::MinMax => "MinMaxCalibration",
            CacheAlgorithm::Legacy => "LegacyCalibration",
        }
    }

    fn from_header_name(s: &str) -> Option<Self> {
        Some(match s {
            "EntropyCalibration2" => CacheAlgorithm::Entropy2,
            "EntropyCalibration" => CacheAlgorithm::Entropy,
            "MinMaxCalibration" => CacheAlgorithm::MinMax,
            "LegacyCalibration" => CacheAlgorithm::Legacy,
            _ => return None,
        })
    }
}

/// TensorRT's `NV_TENSORRT_VERSION` number as written in cache headers: `major·1000 + minor·100 + patch`
/// up to 9.x (8.5.3 → 8503) and `major·10000 + minor·100 + patch` from 10.0 (10.3.0 → 100300).
pub fn version_code(major: u32, minor: u32, patch: u32) -> u32 {
    if major >= 10 {
        major * 10_000 + minor * 100 + patch
    } else {
        major * 1000 + minor * 100 + patch
    }
}

/// A parsed or to-be-written calibration cache.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrationCache {
    /// Version number of the header (see [`version_code`]).
    pub version: u32,
    /// Algorithm of the header.
    pub algorithm: CacheAlgorithm,
    /// Tensor name → scale, in file order.
    pub scales: Vec<(String, f32)>,
}

impl CalibrationCache {
    /// The cache text.
    pub fn to_text(&self) -> String {
        let mut s = format!("TRT-{}-{}\n", self.version, self.algorithm.header_name());
        for (name, scale) in &self.scales {
            s.push_str(&format!("{name}: {:08x}\n", scale.to_bits()));
        }
        s
    }

    /// Parses cache text; `what` names the file in errors.
    pub fn parse(bytes: &[u8], what: &str) -> Result<CalibrationCache> {
        let err = |line: usize, m: String| {
            Error::other(format!("calibration cache {what}, line {line}"), m)
        };
        let text = std::str::from_utf8(bytes).map_err(|e| {
            err(
                1,
                format!("not UTF-8 text ({e}); is this a TensorRT calibration cache?"),
            )
        })?;
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().trim();
        let rest = header.strip_prefix("TRT-").ok_or_else(|| {
            err(
                1,
                format!("header `{header}` does not start with TRT-<version>-<Algorithm>"),
            )
        })?;
        let (version, algo) = rest.split_once('-').ok_or_else(|| {
            err(
                1,
                format!("header `{header}` is not TRT-<version>-<Algorithm>"),
            )
        })?;
        let version: u32 = version.parse().map_err(|_| {
            err(
                1,
                format!("header `{header}`: version `{version}` is not a number"),
            )
        })?;
        let algorithm = CacheAlgorithm::from_header_name(algo).ok_or_else(|| {
            err(
                1,
                format!(
                    "header `{header}`: unknown algorithm `{algo}` (EntropyCalibration2, EntropyCalibration, \
                     MinMaxCalibration, LegacyCalibration)"
                ),
            )
        })?;
        let mut scales = Vec::new();
        for (i, line) in lines.enumerate() {
            let line = line.trim_end();
            if line.trim().is_empty() {
                continue;
            }
            let (name, hex) = line
                .rsplit_once(':')
                .ok_or_else(|| err(i + 2, format!("`{line}` is not `tensor: hexscale`")))?;
            let hex = hex.trim();
            if hex.len() != 8 {
                return Err(err(
                    i + 2,
                    format!("tensor '{name}': scale `{hex}` is not 8 hex digits"),
                ));
            }
            let bits = u32::from_str_radix(hex, 16).map_err(|_| {
                err(
                    i + 2,
                    format!("tensor '{name}': scale `{hex}` is not hexadecimal"),
                )
            })?;
            let scale = f32::from_bits(bits);
            if !scale.is_finite() || scale < 0.0 {
                return Err(err(
                    i + 2,
                    format!("tensor '{name}': scale {scale} is not a finite non-negative number"),
                ));
            }
            scales.push((name.to_string(), scale));
        }
        Ok(CalibrationCache {
            version,
            algorithm,
            scales,
        })
    }

    /// Scale of a tensor.
    pub fn scale(&self, name: &str) -> Option<f32> {
        self.scales.iter().find(|(n, _)| n == name).map(|(_, s)| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_bits_and_round_trip() {
        // 1/127 is 0x3c010204 in IEEE-754 single precision.
        let c = CalibrationCache {
            version: version_code(8, 5, 3),
            algorithm: CacheAlgorithm::Entropy2,
            scales: vec![
                ("images".into(), 1.0 / 127.0),
                ("model.0/conv:0".into(), 0.5),
            ],
        };
        let t = c.to_text();
        assert_eq!(
            t,
            "TRT-8503-EntropyCalibration2\nimages: 3c010204\nmodel.0/conv:0: 3f000000\n"
        );
        assert_eq!(CalibrationCache::parse(t.as_bytes(), "x").unwrap(), c);
        assert_eq!(version_code(10, 3, 0), 100300);
    }

    #[test]
    fn bad_caches_name_the_line() {
        let e = CalibrationCache::parse(b"hello\n", "c.cache")
            .unwrap_err()
            .to_string();
        assert!(e.contains("c.cache") && e.contains("TRT-"), "{e}");
        let e = CalibrationCache::parse(b"TRT-8503-MinMaxCalibration\nx: zz\n", "c")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("'x'"), "{e}");
        let e = CalibrationCache::parse(b"TRT-8503-Foo\n", "c")
            .unwrap_err()
            .to_string();
        assert!(e.contains("Foo"), "{e}");
    }
}
