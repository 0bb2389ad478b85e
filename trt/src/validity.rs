//! TensorRT for RTX's engine validity check (`IRuntime::getEngineValidity`): judges a serialized engine from its
//! header alone — without a GPU and before TensorRT deserializes a byte of it — and says why it cannot run here.
//!
//! [`Library::engine_validity`](crate::Library::engine_validity) runs it (TensorRT-RTX only); every engine load on
//! TensorRT-RTX ([`Runtime::load_engine`](crate::Runtime::load_engine)) runs it first and turns an invalid verdict
//! into [`Error::EngineInvalid`] with each reason in words.

use std::path::Path;

use crate::error::Error;

/// TensorRT-RTX's verdict on an engine's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Likely to run here.
    Valid,
    /// Likely to run here, with reduced performance.
    Suboptimal,
    /// Cannot run here; see [`EngineValidity::reasons`].
    Invalid,
    /// The header is well-formed, but TensorRT-RTX could not judge this system (no usable GPU: it logs that it
    /// cannot read the GPU's properties and sets no diagnostic bit). See [`EngineValidity::note`].
    WellFormed,
}

/// `IRuntime::getEngineValidity` of one engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineValidity {
    /// The verdict.
    pub verdict: Verdict,
    /// The `EngineInvalidityDiagnostics` bitmask (0 unless invalid).
    pub diagnostics: u64,
    /// Header bytes TensorRT-RTX reads (`getEngineHeaderSize`).
    pub header_size: i64,
    /// What TensorRT-RTX logged during the check (why it could not judge the system).
    pub note: Option<String>,
    /// What the engine was built for, from its sidecar ("compute capabilities 8.6, 8.9"), for the advice.
    pub built_for: Option<String>,
}

/// `kUNSUPPORTED_CC`.
const UNSUPPORTED_CC: u64 = 1 << 1;

/// Every bit [`DIAGNOSTICS`] explains.
const KNOWN_BITS: u64 = {
    let mut bits = 0;
    let mut i = 0;
    while i < DIAGNOSTICS.len() {
        bits |= DIAGNOSTICS[i].0;
        i += 1;
    }
    bits
};

/// `EngineInvalidityDiagnostics` bits (NvInferRuntime.h of TensorRT-RTX 1.3–1.7), each with what it means and what to
/// do. `{cc}` is replaced by this device's compute capability where one is known.
pub const DIAGNOSTICS: [(u64, &str, &str); 7] = [
    (
        1 << 0,
        "version-mismatch",
        "it was built with another TensorRT-RTX release: rebuild it with the TensorRT-RTX loaded here",
    ),
    (
        1 << 1,
        "unsupported-compute-capability",
        "it was not built for this GPU's compute capability{cc}: rebuild with `trt-build --compute-capability{cc_arg}`",
    ),
    (
        1 << 2,
        "old-cuda-driver",
        "the CUDA driver is older than the one it was built with: update the NVIDIA driver",
    ),
    (
        1 << 3,
        "old-cuda-runtime",
        "the CUDA runtime (libcudart) is older than the one it was built with: load a newer libcudart (CUDA_LIB_DIR)",
    ),
    (
        1 << 4,
        "insufficient-gpu-memory",
        "the GPU has too little memory for the engine's weights: free GPU memory or use a smaller model",
    ),
    (
        1 << 5,
        "malformed-engine",
        "it is not a well-formed TensorRT-RTX engine (truncated, corrupt, or not an engine file): rebuild it",
    ),
    (
        1 << 6,
        "cuda-error",
        "the CUDA driver or runtime is not installed correctly (is there a usable NVIDIA GPU and driver?)",
    ),
];

impl EngineValidity {
    /// From the raw status (0 valid, 1 suboptimal, 2 invalid), diagnostics and what TensorRT logged meanwhile. An
    /// "invalid" without any diagnostic bit but with a logged error is [`Verdict::WellFormed`]: the header passed,
    /// the system could not be examined.
    pub fn from_raw(
        status: i32,
        diagnostics: u64,
        header_size: i64,
        logged: Option<String>,
    ) -> Self {
        let verdict = match status {
            0 => Verdict::Valid,
            1 => Verdict::Suboptimal,
            _ if diagnostics == 0 && logged.is_some() => Verdict::WellFormed,
            _ => Verdict::Invalid,
        };
        EngineValidity {
            verdict,
            diagnostics,
            header_size,
            note: logged,
            built_for: None,
        }
    }

    /// Names what the engine was built for ("compute capabilities 8.6, 8.9") in the compute-capability advice.
    pub fn with_built_for(mut self, built_for: impl Into<String>) -> Self {
        self.built_for = Some(built_for.into());
        self
    }

    /// `valid`, `suboptimal`, `invalid` or `well-formed`.
    pub fn verdict_name(&self) -> &'static str {
        match self.verdict {
            Verdict::Valid => "valid",
            Verdict::Suboptimal => "suboptimal",
            Verdict::Invalid => "invalid",
            Verdict::WellFormed => "well-formed",
        }
    }

    /// The short names of the diagnostic bits that are set (`"malformed-engine"` …; `"unknown-0x…"` for bits this
    /// crate does not know).
    pub fn codes(&self) -> Vec<String> {
        let mut out: Vec<String> = DIAGNOSTICS
            .iter()
            .filter(|(bit, _, _)| self.diagnostics & bit != 0)
            .map(|(_, code, _)| (*code).to_owned())
            .collect();
        let unknown = self.diagnostics & !KNOWN_BITS;
        if unknown != 0 {
            out.push(format!("unknown-{unknown:#x}"));
        }
        out
    }

    /// Each diagnostic bit in words, with what to do; `device_cc` ("8.6") names this GPU's compute capability in the
    /// advice where known.
    pub fn reasons(&self, device_cc: Option<&str>) -> Vec<String> {
        let (cc, cc_arg) = match device_cc {
            Some(c) => (format!(" ({c})"), format!(" {c}")),
            None => (String::new(), " <this GPU's major.minor>".to_owned()),
        };
        let mut out: Vec<String> = DIAGNOSTICS
            .iter()
            .filter(|(bit, _, _)| self.diagnostics & bit != 0)
            .map(|(bit, _, text)| {
                let text = text.replace("{cc_arg}", &cc_arg).replace("{cc}", &cc);
                match (&self.built_for, *bit) {
                    (Some(built), UNSUPPORTED_CC) => text.replacen(
                        "it was not built for",
                        &format!("it was built for {built}, not for"),
                        1,
                    ),
                    _ => text,
                }
            })
            .collect();
        let unknown = self.diagnostics & !KNOWN_BITS;
        if unknown != 0 || (out.is_empty() && self.verdict == Verdict::Invalid) {
            out.push(format!(
                "TensorRT-RTX reports diagnostics {:#x} this tool does not know: rebuild the engine here",
                self.diagnostics
            ));
        }
        out
    }

    /// `Ok` unless the verdict is [`Verdict::Invalid`]; then [`Error::EngineInvalid`] naming `engine`.
    pub fn check(&self, engine: &Path, device_cc: Option<&str>) -> crate::Result<()> {
        if self.verdict != Verdict::Invalid {
            return Ok(());
        }
        Err(Error::EngineInvalid {
            engine: engine.to_owned(),
            diagnostics: self.diagnostics,
            reasons: self.reasons(device_cc),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bit_is_explained_with_the_fix() {
        let v = EngineValidity::from_raw(2, 0b11, 4096, None);
        assert_eq!(v.verdict, Verdict::Invalid);
        assert_eq!(
            v.codes(),
            ["version-mismatch", "unsupported-compute-capability"]
        );
        let r = v.reasons(Some("7.5"));
        assert_eq!(r.len(), 2);
        assert!(
            r[1].contains("(7.5)") && r[1].contains("--compute-capability 7.5"),
            "{r:?}"
        );
        let r = v.reasons(None);
        assert!(
            r[1].contains("--compute-capability <this GPU's major.minor>"),
            "{r:?}"
        );
        let r = v
            .clone()
            .with_built_for("compute capabilities 8.6")
            .reasons(Some("7.5"));
        assert_eq!(
            r[1],
            "it was built for compute capabilities 8.6, not for this GPU's compute capability (7.5): rebuild with \
             `trt-build --compute-capability 7.5`"
        );
        for (bit, code, _) in DIAGNOSTICS {
            let one = EngineValidity::from_raw(2, bit, 0, None);
            assert_eq!(one.codes(), [code]);
            assert_eq!(one.reasons(None).len(), 1);
        }
    }

    #[test]
    fn unknown_bits_and_bare_invalid_verdicts_are_not_silent() {
        let v = EngineValidity::from_raw(2, 1 << 40, 0, None);
        assert_eq!(v.codes(), ["unknown-0x10000000000"]);
        assert!(v.reasons(None)[0].contains("0x10000000000"));
        let bare = EngineValidity::from_raw(2, 0, 0, None);
        assert_eq!(bare.reasons(None).len(), 1);
        let err = bare
            .check(Path::new("m.engine"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("m.engine") && err.contains("rebuild"), "{err}");
    }

    #[test]
    fn no_bit_but_a_logged_cuda_error_means_well_formed_and_unjudged() {
        // What TensorRT-RTX 1.7 does for a good engine on a machine without a GPU.
        let note = "Error reading CUDA GPU properties (cudaError 35)".to_owned();
        let v = EngineValidity::from_raw(2, 0, 4096, Some(note.clone()));
        assert_eq!(v.verdict, Verdict::WellFormed);
        assert_eq!(v.verdict_name(), "well-formed");
        assert!(v.check(Path::new("m.engine"), None).is_ok());
        assert_eq!(v.note, Some(note));
        // A diagnostic bit always wins over the logged error.
        let bad = EngineValidity::from_raw(2, 1 << 5, 4096, Some("x".into()));
        assert_eq!(bad.verdict, Verdict::Invalid);
    }

    #[test]
    fn valid_and_suboptimal_engines_pass() {
        for status in [0, 1] {
            let v = EngineValidity::from_raw(status, 0, 0, None);
            assert!(v.check(Path::new("m.engine"), None).is_ok());
            assert!(v.reasons(None).is_empty());
        }
        let msg = EngineValidity::from_raw(2, 1 << 5, 0, None)
            .check(Path::new("/e/m.engine"), None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("/e/m.engine") && msg.contains("not a well-formed"),
            "{msg}"
        );
    }
}
