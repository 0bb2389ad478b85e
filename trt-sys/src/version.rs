//! TensorRT release numbers: the one [`Version`] type of the workspace (the loader's checks, engine sidecars,
//! command-line `--trt-release` values), with the [`Product`] it belongs to.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::loader::RuntimeFlavor;

/// Which TensorRT product a library or a set of headers belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Product {
    /// NVIDIA TensorRT (`libnvinfer.so.<major>`): datacenter GPUs and Jetson.
    #[default]
    TensorRt,
    /// NVIDIA TensorRT for RTX (`libtensorrt_rtx.so.<major>`, headers define `TRT_MAJOR_RTX`): builds engines ahead
    /// of time without a GPU for a list of compute capabilities and JIT-compiles them on the target. Its version
    /// numbers (1.x) are its own.
    Rtx,
}

impl Product {
    /// The product's name as users know it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::TensorRt => "TensorRT",
            Self::Rtx => "TensorRT-RTX",
        }
    }

    /// The builder/runtime library for `flavor`; `None` where the product has no such runtime (RTX has no lean or
    /// dispatch runtime).
    pub fn runtime_file_name(self, flavor: RuntimeFlavor, major: u32) -> Option<String> {
        match self {
            Self::TensorRt => Some(flavor.file_name(major)),
            Self::Rtx => {
                (flavor == RuntimeFlavor::Full).then(|| format!("libtensorrt_rtx.so.{major}"))
            }
        }
    }

    /// The ONNX parser library.
    pub fn parser_file_name(self, major: u32) -> String {
        match self {
            Self::TensorRt => format!("libnvonnxparser.so.{major}"),
            Self::Rtx => format!("libtensorrt_onnxparser_rtx.so.{major}"),
        }
    }

    /// Recognizes a runtime file name of either product: flavour, product and the major it names (if any).
    pub fn from_file_name(name: &str) -> Option<(Product, RuntimeFlavor, Option<u32>)> {
        if let Some(rest) = name.strip_prefix("libtensorrt_rtx.so") {
            if rest.is_empty() || rest.starts_with('.') {
                let major = rest
                    .strip_prefix('.')
                    .and_then(|r| r.split('.').next()?.parse().ok());
                return Some((Self::Rtx, RuntimeFlavor::Full, major));
            }
            return None;
        }
        let flavor = RuntimeFlavor::from_file_name(name)?;
        Some((
            Self::TensorRt,
            flavor,
            RuntimeFlavor::major_from_file_name(name),
        ))
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A TensorRT release number, with the product it belongs to (TensorRT 10.3.0 and TensorRT-RTX 1.7.1 are different
/// libraries with unrelated numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// TensorRT or TensorRT-RTX.
    pub product: Product,
    /// Major, e.g. 10.
    pub major: u32,
    /// Minor, e.g. 3.
    pub minor: u32,
    /// Patch, e.g. 0.
    pub patch: u32,
}

impl Version {
    /// A TensorRT (enterprise) version from its parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            product: Product::TensorRt,
            major,
            minor,
            patch,
        }
    }

    /// A TensorRT-RTX version from its parts.
    pub const fn rtx(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            product: Product::Rtx,
            major,
            minor,
            patch,
        }
    }

    /// Whether this is a TensorRT-RTX version.
    pub const fn is_rtx(self) -> bool {
        matches!(self.product, Product::Rtx)
    }

    /// "TensorRT 10.3.0" / "TensorRT-RTX 1.7.1".
    pub fn label(self) -> String {
        format!("{} {}", self.product, self.numbers())
    }

    /// Whether a library of version `self` can serve code compiled against `compiled`: same product and major, and
    /// a minor that is not older (newer minors only add vtable slots; an older library lacks the ones the headers
    /// call). The patch does not matter.
    pub fn serves(self, compiled: Version) -> bool {
        self.product == compiled.product
            && self.major == compiled.major
            && self.minor >= compiled.minor
    }

    /// Decodes `getInferLibVersion()` / `NV_TENSORRT_VERSION`: `M*1000+m*100+p` for majors below 10 (8503 is
    /// 8.5.3) and `M*10000+m*100+p` from 10 on (100300 is 10.3.0, 110400 is 11.4.0).
    ///
    /// Values that fit neither encoding (negative, below 1000, or 10000..=99999 where the two encodings
    /// overlap and neither is a real release) are [`Error::InvalidVersion`]. TensorRT-RTX reports
    /// `M*10000+m*100+p` with M = 1 (10701 is RTX 1.7.1), which lies in that band: decode RTX versions with
    /// [`Version::decode_rtx`].
    pub fn decode(value: i32) -> Result<Self> {
        Self::decode_from(value, "a TensorRT version integer")
    }

    /// Decodes TensorRT-RTX's `getInferLibVersion()` (`M*10000+m*100+p`: 10701 is 1.7.1).
    pub fn decode_rtx(value: i32) -> Result<Self> {
        Self::decode_m10000(
            value,
            "a TensorRT-RTX version integer",
            Product::Rtx,
            10_000..=99_999,
        )
    }

    /// `M*10000+m*100+p` within `range`, as a version of `product`; anything else is [`Error::InvalidVersion`].
    fn decode_m10000(
        value: i32,
        origin: &str,
        product: Product,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<Self> {
        match u32::try_from(value) {
            Ok(v) if range.contains(&v) => Ok(Self {
                product,
                major: v / 10_000,
                minor: (v / 100) % 100,
                patch: v % 100,
            }),
            _ => Err(Error::InvalidVersion {
                value: i64::from(value),
                origin: origin.to_owned(),
            }),
        }
    }

    pub(crate) fn decode_from(value: i32, origin: &str) -> Result<Self> {
        let invalid = || Error::InvalidVersion {
            value: i64::from(value),
            origin: origin.to_owned(),
        };
        let v = u32::try_from(value).map_err(|_| invalid())?;
        match v {
            // Old encoding: one digit of major (only 5..=9 ever shipped; accept 1..=9).
            1_000..=9_999 => Ok(Self::new(v / 1000, (v / 100) % 10, v % 100)),
            // New encoding: majors 10..=99.
            100_000..=999_999 => Ok(Self::new(v / 10_000, (v / 100) % 100, v % 100)),
            _ => Err(invalid()),
        }
    }

    /// Decodes `getNvOnnxParserVersion()` / `NV_ONNX_PARSER_VERSION`, which is `M*10000+m*100+p` in every
    /// release (80500 is 8.5.0).
    pub fn decode_parser(value: i32) -> Result<Self> {
        Self::decode_parser_from(value, "an ONNX parser version integer")
    }

    /// TensorRT-RTX's parser version (`getNvOnnxParserVersion`, `M*10000+m*100+p` with its own numbering: 200 is
    /// 0.2.0).
    pub(crate) fn decode_rtx_parser_from(value: i32, origin: &str) -> Result<Self> {
        Self::decode_m10000(value, origin, Product::Rtx, 0..=999_999)
    }

    pub(crate) fn decode_parser_from(value: i32, origin: &str) -> Result<Self> {
        Self::decode_m10000(value, origin, Product::TensorRt, 10_000..=999_999)
    }

    /// The integer TensorRT itself uses for this version (`NV_TENSORRT_VERSION`), the inverse of
    /// [`Version::decode`].
    pub const fn encode(self) -> i32 {
        if self.major < 10 && !self.is_rtx() {
            (self.major * 1000 + self.minor * 100 + self.patch) as i32
        } else {
            (self.major * 10_000 + self.minor * 100 + self.patch) as i32
        }
    }
}

impl Version {
    /// The numbers alone, `major.minor.patch` ("1.7.1" for TensorRT-RTX 1.7.1).
    pub fn numbers(self) -> String {
        format!("{}.{}.{}", self.major, self.minor, self.patch)
    }

    /// Parses the canonical spelling only ([`Version`]'s `Display`: `10.3.0`, `RTX 1.7.1`), as files written by
    /// this project store it (engine sidecars): anything [`FromStr`] would read differently is refused.
    pub fn parse_canonical(s: &str) -> std::result::Result<Self, String> {
        let v: Version = s.parse()?;
        if v.to_string() != s {
            return Err(format!(
                "version `{s}` is not written as major.minor.patch (`{v}`)"
            ));
        }
        Ok(v)
    }
}

/// `10.3.0` for TensorRT, `RTX 1.7.1` for TensorRT-RTX (whose numbers are its own): the spelling engine sidecars
/// store.
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_rtx() {
            f.write_str("RTX ")?;
        }
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Reads `10.3`, `10.3.0`, `10.3.0.26` (the build number is ignored: `NvInferVersion.h`'s spelling) and TensorRT
/// for RTX releases with a case-insensitive `RTX` prefix: `RTX 1.7.1`, `rtx-1.7`, `rtx1.7`. Components are decimal
/// numbers without a sign or leading zero. Which releases a tool supports is its own check on top of this.
impl FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim();
        let (product, numbers) = match t.get(..3) {
            Some(p) if p.eq_ignore_ascii_case("rtx") => {
                (Product::Rtx, t[3..].trim_start_matches(['-', ' ']))
            }
            _ => (Product::TensorRt, t),
        };
        let parts: Vec<&str> = numbers.split('.').collect();
        if !(2..=4).contains(&parts.len()) {
            return Err(format!(
                "version `{s}` is not major.minor or major.minor.patch"
            ));
        }
        let num = |p: &str| -> std::result::Result<u32, String> {
            if p.is_empty()
                || !p.bytes().all(|b| b.is_ascii_digit())
                || (p.len() > 1 && p.starts_with('0'))
            {
                return Err(format!("version `{s}` has a bad component `{p}`"));
            }
            p.parse()
                .map_err(|_| format!("version `{s}` has a bad component `{p}`"))
        };
        let major = num(parts[0])?;
        let minor = num(parts[1])?;
        let patch = parts.get(2).map_or(Ok(0), |p| num(p))?;
        if let Some(build) = parts.get(3) {
            num(build)?;
        }
        Ok(Version {
            product,
            major,
            minor,
            patch,
        })
    }
}

/// Serialized in the canonical spelling ([`Version`]'s `Display`: `"10.3.0"`, `"RTX 1.7.1"`) and read back in that
/// spelling only ([`Version::parse_canonical`]): the form engine sidecars store.
impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        Version::parse_canonical(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `FromStr` reads every spelling users and headers write; `parse_canonical` only `Display`'s (sidecars).
    #[test]
    fn spellings() {
        for (text, want) in [
            ("10.3", Version::new(10, 3, 0)),
            ("10.3.0", Version::new(10, 3, 0)),
            ("10.3.0.26", Version::new(10, 3, 0)),
            (" 8.5.2 ", Version::new(8, 5, 2)),
            ("rtx-1.7", Version::rtx(1, 7, 0)),
            ("rtx1.7", Version::rtx(1, 7, 0)),
            ("RTX 1.7.1", Version::rtx(1, 7, 1)),
        ] {
            assert_eq!(text.parse::<Version>(), Ok(want), "{text}");
        }
        for bad in [
            "",
            "10",
            "10..0",
            "a.b.c",
            "01.2.3",
            "+1.2.3",
            "1.2.3.4.5",
            "rtx",
            "rtx-x.1",
        ] {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
        for v in [Version::new(10, 3, 0), Version::rtx(1, 7, 1)] {
            assert_eq!(Version::parse_canonical(&v.to_string()), Ok(v));
        }
        assert_eq!(Version::rtx(1, 7, 1).to_string(), "RTX 1.7.1");
        assert_eq!(Version::rtx(1, 7, 1).label(), "TensorRT-RTX 1.7.1");
        for bad in [
            "10.3",
            "10.3.0.1",
            "10..0",
            "01.2.3",
            "",
            "rtx-1.7.1",
            "RTX 1.7",
            " 10.3.0",
        ] {
            assert!(Version::parse_canonical(bad).is_err(), "{bad}");
        }
    }
}
