//! `--tactic-sources` (trtexec's `--tacticSources`): `+NAME` enables and `-NAME` disables a tactic source, starting
//! from the release's defaults (`IBuilderConfig::getTacticSources`), e.g. `-CUDNN,+CUBLAS` or
//! `-EDGE_MASK_CONVOLUTIONS`.
//!
//! The names are TensorRT's `TacticSource` enumerators without the `k` (trtexec also takes `CUBLASLT`). Which exist
//! depends on the release: `CUBLAS`, `CUBLAS_LT` and `CUDNN` up to 10.x (deprecated there), `EDGE_MASK_CONVOLUTIONS`
//! and `JIT_CONVOLUTIONS` in every release including 11.x and TensorRT-RTX. A name no release has is a usage error
//! (exit 2) listing the compiled release's names; a name the target release lacks is refused by the release plan
//! (exit 1), in a dry run too.

use std::fmt;

use serde::Serialize;
use trt::Version;

use super::release::api_level;

/// A tactic source, by TensorRT's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TacticName {
    /// `kCUBLAS` (≤ 10.x).
    Cublas,
    /// `kCUBLAS_LT` (≤ 10.x).
    CublasLt,
    /// `kCUDNN` (≤ 10.x).
    Cudnn,
    /// `kEDGE_MASK_CONVOLUTIONS`.
    EdgeMaskConvolutions,
    /// `kJIT_CONVOLUTIONS`.
    JitConvolutions,
}

impl TacticName {
    /// Every source any release has, in TensorRT's order.
    pub const ALL: [TacticName; 5] = [
        TacticName::Cublas,
        TacticName::CublasLt,
        TacticName::Cudnn,
        TacticName::EdgeMaskConvolutions,
        TacticName::JitConvolutions,
    ];

    /// TensorRT's name without the `k`.
    pub fn as_str(self) -> &'static str {
        match self {
            TacticName::Cublas => "CUBLAS",
            TacticName::CublasLt => "CUBLAS_LT",
            TacticName::Cudnn => "CUDNN",
            TacticName::EdgeMaskConvolutions => "EDGE_MASK_CONVOLUTIONS",
            TacticName::JitConvolutions => "JIT_CONVOLUTIONS",
        }
    }

    /// Parses a name, case-insensitively; trtexec's `CUBLASLT` is `CUBLAS_LT`.
    pub fn parse(s: &str) -> Option<Self> {
        let up = s.trim().to_ascii_uppercase();
        if up == "CUBLASLT" {
            return Some(TacticName::CublasLt);
        }
        Self::ALL.into_iter().find(|t| t.as_str() == up)
    }

    /// Whether `release` has this source (cuBLAS, cuBLASLt and cuDNN were removed in 11.x; TensorRT-RTX 1.5+ has the
    /// 11.x set).
    pub fn exists_in(self, release: Version) -> bool {
        match self {
            TacticName::Cublas | TacticName::CublasLt | TacticName::Cudnn => {
                api_level(release).major <= 10
            }
            TacticName::EdgeMaskConvolutions | TacticName::JitConvolutions => true,
        }
    }

    /// The sources `release` has.
    pub fn of_release(release: Version) -> Vec<TacticName> {
        Self::ALL
            .into_iter()
            .filter(|t| t.exists_in(release))
            .collect()
    }

    /// The `trt` builder's value.
    pub fn to_trt(self) -> trt::builder::TacticSource {
        use trt::builder::TacticSource as T;
        match self {
            TacticName::Cublas => T::Cublas,
            TacticName::CublasLt => T::CublasLt,
            TacticName::Cudnn => T::Cudnn,
            TacticName::EdgeMaskConvolutions => T::EdgeMaskConvolutions,
            TacticName::JitConvolutions => T::JitConvolutions,
        }
    }

    /// From the `trt` builder's value (`None` for a source this tool does not name).
    pub fn from_trt(t: trt::builder::TacticSource) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.to_trt() == t)
    }
}

impl fmt::Display for TacticName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TacticName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One `+NAME` / `-NAME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TacticChange {
    /// The source.
    pub source: TacticName,
    /// `+` (enable) or `-` (disable).
    pub enable: bool,
}

impl fmt::Display for TacticChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", if self.enable { '+' } else { '-' }, self.source)
    }
}

/// The names the compiled TensorRT has, for usage errors: from the compiled headers when a shim is compiled, else
/// every name with the releases that have it.
fn known_names() -> String {
    let compiled: Option<Vec<&str>> = TacticName::ALL
        .into_iter()
        .map(|t| {
            trt::builder::tactic_source_available(t.to_trt())
                .ok()
                .map(|yes| yes.then_some(t.as_str()))
        })
        .collect::<Option<Vec<_>>>()
        .map(|v| v.into_iter().flatten().collect());
    match (compiled, trt::compiled_version()) {
        (Some(names), Some(v)) => format!("the compiled {} has {}", v.label(), names.join(", ")),
        _ => "CUBLAS, CUBLAS_LT, CUDNN (TensorRT ≤ 10.x), EDGE_MASK_CONVOLUTIONS, JIT_CONVOLUTIONS"
            .to_owned(),
    }
}

/// Parses trtexec's `--tacticSources` syntax: comma-separated `+NAME` / `-NAME`. Every entry needs its sign; a
/// source both enabled and disabled is an error (trtexec's rules).
pub fn parse(value: &str) -> Result<Vec<TacticChange>, String> {
    let mut out: Vec<TacticChange> = Vec::new();
    for item in value.split(',').map(str::trim) {
        let (enable, name) = match item.chars().next() {
            Some('+') => (true, &item[1..]),
            Some('-') => (false, &item[1..]),
            _ => {
                return Err(format!(
                    "`{item}`: prefix each tactic source with + (enable) or - (disable), e.g. -CUDNN,+CUBLAS"
                ))
            }
        };
        let Some(source) = TacticName::parse(name) else {
            return Err(format!(
                "`{name}` is not a tactic source; {}",
                known_names()
            ));
        };
        match out.iter().find(|c| c.source == source) {
            Some(c) if c.enable != enable => {
                return Err(format!("{source} is both enabled and disabled"))
            }
            Some(_) => {}
            None => out.push(TacticChange { source, enable }),
        }
    }
    Ok(out)
}

/// The sources enabled after `changes` are applied to `defaults`, in TensorRT's order.
pub fn apply(defaults: &[TacticName], changes: &[TacticChange]) -> Vec<TacticName> {
    TacticName::ALL
        .into_iter()
        .filter(|t| match changes.iter().find(|c| c.source == *t) {
            Some(c) => c.enable,
            None => defaults.contains(t),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trtexec_syntax_parses() {
        let v = parse("-CUDNN,+cublas,+CUBLASLT,-edge_mask_convolutions").unwrap();
        assert_eq!(
            v.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["-CUDNN", "+CUBLAS", "+CUBLAS_LT", "-EDGE_MASK_CONVOLUTIONS"]
        );
        assert_eq!(
            parse("+JIT_CONVOLUTIONS,+JIT_CONVOLUTIONS").unwrap().len(),
            1
        );
    }

    #[test]
    fn mistakes_are_named() {
        assert!(parse("CUDNN")
            .unwrap_err()
            .contains("prefix each tactic source"));
        assert!(parse("").unwrap_err().contains("prefix"));
        let e = parse("+CUDNN,-CUDNN").unwrap_err();
        assert!(e.contains("CUDNN is both enabled and disabled"), "{e}");
        let e = parse("+TENSORCORE").unwrap_err();
        assert!(e.contains("`TENSORCORE` is not a tactic source"), "{e}");
        assert!(
            e.contains("EDGE_MASK_CONVOLUTIONS") && e.contains("JIT_CONVOLUTIONS"),
            "{e}"
        );
    }

    #[test]
    fn sources_follow_the_release() {
        let names = |v: Version| -> Vec<&str> {
            TacticName::of_release(v)
                .iter()
                .map(|t| t.as_str())
                .collect()
        };
        for v in [
            Version::new(8, 5, 0),
            Version::new(10, 3, 0),
            Version::new(10, 16, 0),
        ] {
            assert_eq!(names(v).len(), 5, "{v}");
        }
        for v in [Version::new(11, 1, 0), "rtx-1.7".parse().unwrap()] {
            assert_eq!(
                names(v),
                ["EDGE_MASK_CONVOLUTIONS", "JIT_CONVOLUTIONS"],
                "{v}"
            );
        }
    }

    #[test]
    fn changes_apply_to_the_defaults() {
        use TacticName::*;
        let defaults = [EdgeMaskConvolutions, JitConvolutions];
        assert_eq!(
            apply(&defaults, &parse("-EDGE_MASK_CONVOLUTIONS").unwrap()),
            [JitConvolutions]
        );
        assert_eq!(
            apply(&[Cudnn, JitConvolutions], &parse("+CUBLAS,-CUDNN").unwrap()),
            [Cublas, JitConvolutions]
        );
        assert_eq!(apply(&defaults, &[]), defaults);
        assert!(apply(
            &defaults,
            &parse("-JIT_CONVOLUTIONS,-EDGE_MASK_CONVOLUTIONS").unwrap()
        )
        .is_empty());
    }
}
