//! `--input-io-formats` / `--output-io-formats` (trtexec's `--inputIOFormats` / `--outputIOFormats`): the element
//! type and memory layout of the network's inputs and outputs.
//!
//! # Syntax (trtexec's)
//! `spec[,spec…]`, one `type:fmt[+fmt…]` per network input (output) in the network's order, or a single one for all
//! of them. Types: `fp32 fp16 bf16 int32 int64 int8 fp8 uint8 bool`; formats: `chw hwc chw2 chw4 hwc8 chw16 chw32
//! dhwc8 cdhw32 dla_linear dla_hwc4 hwc16 dhwc` (`chw` is TensorRT's row-major `kLINEAR`).
//!
//! # What is accepted, and why
//! * Formats: row-major linear only (`chw`, also spelled `linear`). `trt::Session`, which `trt-detect`, `trt-bench`
//!   and services run engines with, sizes its buffers as volume × element size and refuses any other layout
//!   (`trt/src/session.rs`); an engine it cannot run is refused here, when the option is parsed.
//! * Types: those the target release has (FP8 from 8.6, BF16 from 9.0, INT64 from 10.0). On a weakly typed network
//!   (TensorRT ≤ 10.x builder path) TensorRT converts at the boundary (`ITensor::setType`), except to INT8 and FP8,
//!   which need quantization scales trt-build does not set. On a strongly typed network (TensorRT 11.x,
//!   TensorRT-RTX, `--explicit`) the ONNX declares the IO types and `setType` cannot change them: a type other than
//!   the declared one is refused with the fix (declare it in the ONNX).
//!
//! Everything is decided on the ONNX the pipeline produced, before TensorRT is loaded, so `--dry-run` refuses
//! exactly what a build would.

use std::fmt;

use anyhow::{bail, Result};
use serde::Serialize;
use trt::{DataType, TensorFormat, Version};

use super::release::api_level;

/// One `type:fmt[+fmt]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoFormat {
    /// The element type.
    pub dtype: DataType,
    /// The allowed formats (linear only; see the module docs).
    pub formats: Vec<TensorFormat>,
    /// The entry as written, for messages.
    pub spec: String,
}

/// trtexec's type names and TensorRT's types.
const TYPES: [(&str, DataType); 9] = [
    ("fp32", DataType::F32),
    ("fp16", DataType::F16),
    ("bf16", DataType::Bf16),
    ("int32", DataType::I32),
    ("int64", DataType::I64),
    ("int8", DataType::I8),
    ("fp8", DataType::Fp8),
    ("uint8", DataType::U8),
    ("bool", DataType::Bool),
];

/// trtexec's format names and TensorRT's formats.
const FORMATS: [(&str, TensorFormat); 13] = [
    ("chw", TensorFormat::Linear),
    ("hwc", TensorFormat::Hwc),
    ("chw2", TensorFormat::Chw2),
    ("chw4", TensorFormat::Chw4),
    ("hwc8", TensorFormat::Hwc8),
    ("chw16", TensorFormat::Chw16),
    ("chw32", TensorFormat::Chw32),
    ("dhwc8", TensorFormat::Dhwc8),
    ("cdhw32", TensorFormat::Cdhw32),
    ("dla_linear", TensorFormat::DlaLinear),
    ("dla_hwc4", TensorFormat::DlaHwc4),
    ("hwc16", TensorFormat::Hwc16),
    ("dhwc", TensorFormat::Dhwc),
];

/// trtexec's name of a type (`fp16`), or TensorRT's short name for one trtexec does not spell.
pub fn type_name(t: DataType) -> &'static str {
    TYPES
        .iter()
        .find(|(_, d)| *d == t)
        .map_or_else(|| t.name(), |(n, _)| n)
}

/// A format's name in reports and sidecars: `linear` for row-major linear (trtexec's `chw`), else trtexec's name.
pub fn format_name(f: TensorFormat) -> &'static str {
    match f {
        TensorFormat::Linear => "linear",
        other => FORMATS
            .iter()
            .find(|(_, x)| *x == other)
            .map_or("unknown", |(n, _)| n),
    }
}

/// Why a format other than row-major linear is refused.
fn layout_refusal(name: &str, format: TensorFormat) -> &'static str {
    match format {
        TensorFormat::Hwc | TensorFormat::Dhwc => {
            "a channel-last layout, not row-major linear (NCHW)"
        }
        TensorFormat::DlaLinear | TensorFormat::DlaHwc4 => "a DLA layout with line-stride padding",
        _ if name.starts_with("chw") || name.starts_with("cdhw") => {
            "a vectorized layout that pads the channel dimension to a multiple of its vector"
        }
        _ => "a vectorized channel-last layout that pads the channel dimension",
    }
}

/// Parses one `--input-io-formats` / `--output-io-formats` value (`what` names the option): comma-separated
/// `type:fmt[+fmt]`. Unknown names and layouts other than row-major linear are errors naming the entry.
pub fn parse(what: &str, value: &str) -> Result<Vec<IoFormat>, String> {
    let mut out = Vec::new();
    for spec in value.split(',').map(str::trim) {
        if spec.is_empty() {
            return Err(format!(
                "{what}: empty entry in `{value}`; write type:format[,type:format…], e.g. fp16:chw"
            ));
        }
        let Some((t, f)) = spec.split_once(':') else {
            return Err(format!(
                "{what}: `{spec}` is not type:format (e.g. fp16:chw)"
            ));
        };
        let Some(&(_, dtype)) = TYPES
            .iter()
            .find(|(n, _)| *n == t.trim().to_ascii_lowercase())
        else {
            return Err(format!(
                "{what}: `{t}` in `{spec}` is not a type; types: {}",
                TYPES.map(|(n, _)| n).join(", ")
            ));
        };
        let mut formats = Vec::new();
        for name in f.split('+').map(|s| s.trim().to_ascii_lowercase()) {
            let format = if name == "linear" {
                TensorFormat::Linear
            } else {
                match FORMATS.iter().find(|(n, _)| *n == name) {
                    Some(&(_, fmt)) => fmt,
                    None => {
                        return Err(format!(
                            "{what}: `{name}` in `{spec}` is not a format; formats: {}",
                            FORMATS.map(|(n, _)| n).join(", ")
                        ))
                    }
                }
            };
            if format != TensorFormat::Linear {
                return Err(format!(
                    "{what}: `{spec}`: `{name}` is {}; trt::Session (trt-detect, trt-bench, services) reads \
                     row-major linear IO only, so an engine with it could not run there. Use `{t}:chw`",
                    layout_refusal(&name, format)
                ));
            }
            if !formats.contains(&format) {
                formats.push(format);
            }
        }
        out.push(IoFormat {
            dtype,
            formats,
            spec: spec.to_owned(),
        });
    }
    Ok(out)
}

/// Input or output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A network input.
    Input,
    /// A network output.
    Output,
}

impl Direction {
    fn option(self) -> &'static str {
        match self {
            Direction::Input => "--input-io-formats",
            Direction::Output => "--output-io-formats",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Input => "input",
            Direction::Output => "output",
        })
    }
}

/// One network IO tensor's type and formats, as the build sets them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IoAssignment {
    /// Tensor name.
    pub name: String,
    /// Input or output.
    pub direction: Direction,
    /// The type the ONNX declares (as TensorRT will parse it), when known.
    pub declared: Option<DataType>,
    /// The type the engine's tensor will have.
    pub dtype: DataType,
    /// The allowed formats, lowercase (`linear`).
    #[serde(serialize_with = "format_names")]
    pub formats: Vec<TensorFormat>,
}

fn format_names<S: serde::Serializer>(f: &[TensorFormat], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(f.len()))?;
    for x in f {
        seq.serialize_element(format_name(*x))?;
    }
    seq.end()
}

/// The TensorRT type an ONNX element type becomes (`None`: a type TensorRT's IO cannot have, or none declared).
/// Before 10.0 TensorRT has no INT64: the parser makes INT64 IO INT32.
pub fn onnx_type(elem: Option<i32>, release: Option<Version>) -> Option<DataType> {
    use yolo_onnx::graph::DataType as D;
    let d = D::try_from(elem?).ok()?;
    Some(match d {
        D::Float => DataType::F32,
        D::Float16 => DataType::F16,
        D::Bfloat16 => DataType::Bf16,
        D::Int32 => DataType::I32,
        D::Int64 if release.is_some_and(|v| api_level(v).major < 10) => DataType::I32,
        D::Int64 => DataType::I64,
        D::Int8 => DataType::I8,
        D::Uint8 => DataType::U8,
        D::Bool => DataType::Bool,
        D::Float8e4m3fn => DataType::Fp8,
        _ => return None,
    })
}

/// Whether `release` has IO type `t` (FP8 from 8.6, BF16 from 9.0, INT64 from 10.0).
pub fn release_has_type(t: DataType, release: Version) -> bool {
    let v = api_level(release);
    match t {
        DataType::Fp8 => (v.major, v.minor) >= (8, 6),
        DataType::Bf16 => v.major >= 9,
        DataType::I64 => v.major >= 10,
        _ => true,
    }
}

/// Matches `specs` to `tensors` (name, declared type) by trtexec's rule: one spec per tensor in order, or one for
/// all.
fn broadcast<'a>(
    direction: Direction,
    specs: &'a [IoFormat],
    tensors: &[(String, Option<DataType>)],
) -> Result<Vec<&'a IoFormat>> {
    match specs.len() {
        0 => Ok(Vec::new()),
        1 => Ok(vec![&specs[0]; tensors.len()]),
        n if n == tensors.len() => Ok(specs.iter().collect()),
        n => {
            let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
            bail!(
                "{}: {n} entries for {} network {direction}(s) ({}); give one per {direction} in that order, or one \
                 for all of them",
                direction.option(),
                tensors.len(),
                names.join(", ")
            )
        }
    }
}

/// What the plan knows about the target: the release (when known) and whether the network is strongly typed.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The release planned for.
    pub release: Option<Version>,
    /// The network is strongly typed (11.x, TensorRT-RTX, `--explicit`); `None` when no release is known.
    pub strongly_typed: Option<bool>,
}

/// Assigns `inputs` / `outputs` specs to the model's IO tensors (name, ONNX element type) and checks them against
/// the target. Errors name the option, the entry, the tensor and the fix.
pub fn plan(
    inputs: &[IoFormat],
    outputs: &[IoFormat],
    model_inputs: &[(String, Option<i32>)],
    model_outputs: &[(String, Option<i32>)],
    target: Target,
) -> Result<Vec<IoAssignment>> {
    let mut out = Vec::new();
    for (direction, specs, tensors) in [
        (Direction::Input, inputs, model_inputs),
        (Direction::Output, outputs, model_outputs),
    ] {
        let tensors: Vec<(String, Option<DataType>)> = tensors
            .iter()
            .map(|(n, e)| (n.clone(), onnx_type(*e, target.release)))
            .collect();
        for (spec, (name, declared)) in broadcast(direction, specs, &tensors)?
            .into_iter()
            .zip(&tensors)
        {
            check(direction, spec, name, *declared, target)?;
            out.push(IoAssignment {
                name: name.clone(),
                direction,
                declared: *declared,
                dtype: spec.dtype,
                formats: spec.formats.clone(),
            });
        }
    }
    Ok(out)
}

fn check(
    direction: Direction,
    spec: &IoFormat,
    name: &str,
    declared: Option<DataType>,
    target: Target,
) -> Result<()> {
    let what = direction.option();
    let want = spec.dtype;
    if let Some(v) = target.release {
        if !release_has_type(want, v) {
            bail!(
                "{what} `{}` for {direction} `{name}`: {} has no {} tensors",
                spec.spec,
                v.label(),
                type_name(want)
            );
        }
    }
    if declared == Some(want) {
        return Ok(());
    }
    let declared_name = declared.map_or("an undeclared type", type_name);
    if target.strongly_typed == Some(true) {
        let fix = match (direction, want) {
            (_, DataType::F16) => {
                "declare it in the ONNX: `trt-onnx fp16 MODEL.onnx --io-fp16 -o MODEL.fp16.onnx` makes every graph \
                 input and output FLOAT16, then build that model (a strongly typed network takes its precision from \
                 the ONNX, with or without --fp16); for one tensor, add a Cast node at it in the ONNX"
            }
            _ => "declare it in the ONNX: add a Cast node at that tensor in the exported graph",
        };
        bail!(
            "{what} `{}`: {direction} `{name}` is {declared_name} in the ONNX, and the network is strongly typed \
             (TensorRT 11.x, TensorRT-RTX, --explicit), where the ONNX declares IO types and TensorRT cannot change \
             them (no ITensor::setType); {fix}",
            spec.spec
        );
    }
    if matches!(want, DataType::I8 | DataType::Fp8) {
        bail!(
            "{what} `{}`: {direction} `{name}` is {declared_name} in the ONNX; an {} network {direction} needs a \
             quantization scale (ITensor::setDynamicRange) that trt-build does not set. Keep it {declared_name} and \
             let Q/DQ nodes (--int8) quantize inside the network",
            spec.spec,
            type_name(want)
        );
    }
    Ok(())
}

/// A note for types `trt::Session` cannot hold (it reads f32, f16, i8, i32, u8 and bool), or `None`.
pub fn session_note(a: &IoAssignment) -> Option<String> {
    (!a.dtype.host_supported()).then(|| {
        format!(
            "{} `{}` will be {}: trt::Session (trt-detect, trt-bench) holds f32, f16, i8, i32, u8 and bool only; run \
             this engine with your own buffers",
            a.direction,
            a.name,
            type_name(a.dtype)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Vec<IoFormat>, String> {
        parse("--input-io-formats", s)
    }

    #[test]
    fn trtexec_specs_parse() {
        let v = p("fp16:chw,fp32:chw,int32:linear,uint8:chw+chw").unwrap();
        assert_eq!(
            v.iter().map(|f| f.dtype).collect::<Vec<_>>(),
            [DataType::F16, DataType::F32, DataType::I32, DataType::U8]
        );
        assert!(v.iter().all(|f| f.formats == [TensorFormat::Linear]));
        assert_eq!(v[0].spec, "fp16:chw");
        for (name, dtype) in TYPES {
            assert_eq!(p(&format!("{name}:chw")).unwrap()[0].dtype, dtype);
        }
        assert_eq!(p("FP16:CHW").unwrap()[0].dtype, DataType::F16);
    }

    #[test]
    fn every_layout_but_linear_is_refused_with_the_reason_and_the_spec() {
        for (name, format) in FORMATS {
            if format == TensorFormat::Linear {
                continue;
            }
            let e = p(&format!("fp32:chw,fp16:{name}")).unwrap_err();
            assert!(
                e.contains(&format!("`fp16:{name}`"))
                    && e.contains("linear")
                    && e.contains("trt::Session"),
                "{e}"
            );
        }
        let e = p("fp16:chw32").unwrap_err();
        assert!(
            e.contains("vectorized") && e.contains("Use `fp16:chw`"),
            "{e}"
        );
        assert!(p("fp16:hwc").unwrap_err().contains("channel-last"));
        assert!(p("fp16:dla_hwc4").unwrap_err().contains("DLA"));
        // A linear format among others still lets TensorRT pick the other one.
        assert!(p("fp16:chw+hwc8").unwrap_err().contains("`fp16:chw+hwc8`"));
    }

    #[test]
    fn malformed_specs_name_the_entry() {
        assert!(p("fp16").unwrap_err().contains("`fp16` is not type:format"));
        assert!(p("half:chw")
            .unwrap_err()
            .contains("`half` in `half:chw` is not a type"));
        assert!(p("int4:chw").unwrap_err().contains("types: fp32, fp16"));
        assert!(p("fp16:nchw")
            .unwrap_err()
            .contains("`nchw` in `fp16:nchw` is not a format"));
        assert!(p("fp16:chw,").unwrap_err().contains("empty entry"));
    }

    fn io(names: &[(&str, i32)]) -> Vec<(String, Option<i32>)> {
        names
            .iter()
            .map(|(n, e)| (n.to_string(), Some(*e)))
            .collect()
    }

    const F32: i32 = 1;
    const F16: i32 = 10;

    fn weak(v: Version) -> Target {
        Target {
            release: Some(v),
            strongly_typed: Some(false),
        }
    }

    #[test]
    fn one_spec_applies_to_all_and_several_go_in_order() {
        let ins = io(&[("a", F32), ("b", F32)]);
        let outs = io(&[("y", F32)]);
        let t = weak(Version::new(10, 3, 0));
        let all = plan(&p("fp16:chw").unwrap(), &[], &ins, &outs, t).unwrap();
        assert_eq!(all.len(), 2);
        assert!(all
            .iter()
            .all(|a| a.dtype == DataType::F16 && a.declared == Some(DataType::F32)));
        let each = plan(
            &p("fp16:chw,fp32:chw").unwrap(),
            &p("fp16:chw").unwrap(),
            &ins,
            &outs,
            t,
        )
        .unwrap();
        let got: Vec<(&str, Direction, DataType)> = each
            .iter()
            .map(|a| (a.name.as_str(), a.direction, a.dtype))
            .collect();
        assert_eq!(
            got,
            [
                ("a", Direction::Input, DataType::F16),
                ("b", Direction::Input, DataType::F32),
                ("y", Direction::Output, DataType::F16)
            ]
        );
        let e = plan(
            &p("fp16:chw,fp16:chw,fp16:chw").unwrap(),
            &[],
            &ins,
            &outs,
            t,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("3 entries for 2 network input(s) (a, b)"), "{e}");
        let e = plan(&[], &p("fp16:chw,fp16:chw").unwrap(), &ins, &outs, t)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--output-io-formats") && e.contains("(y)"),
            "{e}"
        );
    }

    #[test]
    fn strongly_typed_networks_take_only_the_declared_type() {
        let ins = io(&[("images", F32)]);
        let outs = io(&[("output0", F32)]);
        let st = Target {
            release: Some("rtx-1.7".parse().unwrap()),
            strongly_typed: Some(true),
        };
        assert!(plan(
            &p("fp32:chw").unwrap(),
            &p("fp32:chw").unwrap(),
            &ins,
            &outs,
            st
        )
        .is_ok());
        let e = plan(&p("fp16:chw").unwrap(), &[], &ins, &outs, st)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`images` is fp32 in the ONNX")
                && e.contains("strongly typed")
                && e.contains("--io-fp16"),
            "{e}"
        );
        let e = plan(&[], &p("int32:chw").unwrap(), &ins, &outs, st)
            .unwrap_err()
            .to_string();
        assert!(e.contains("output `output0`") && e.contains("Cast"), "{e}");
        // An FP16-IO model takes fp16:chw.
        let half = io(&[("images", F16)]);
        let a = plan(&p("fp16:chw").unwrap(), &[], &half, &outs, st).unwrap();
        assert_eq!(a[0].declared, Some(DataType::F16));
        // The same request on a weakly typed 10.x network is a conversion TensorRT makes.
        assert!(plan(
            &p("fp16:chw").unwrap(),
            &[],
            &ins,
            &outs,
            weak(Version::new(10, 3, 0))
        )
        .is_ok());
    }

    #[test]
    fn types_follow_the_release_and_quantized_io_is_refused() {
        let ins = io(&[("x", F32)]);
        let e = plan(
            &p("bf16:chw").unwrap(),
            &[],
            &ins,
            &[],
            weak(Version::new(8, 6, 0)),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("TensorRT 8.6.0 has no bf16 tensors"), "{e}");
        assert!(plan(
            &p("bf16:chw").unwrap(),
            &[],
            &ins,
            &[],
            weak(Version::new(10, 3, 0))
        )
        .is_ok());
        assert!(plan(
            &p("fp8:chw").unwrap(),
            &[],
            &ins,
            &[],
            weak(Version::new(8, 5, 0))
        )
        .is_err());
        assert!(plan(
            &p("int64:chw").unwrap(),
            &[],
            &ins,
            &[],
            weak(Version::new(8, 6, 0))
        )
        .is_err());
        let e = plan(
            &p("int8:chw").unwrap(),
            &[],
            &ins,
            &[],
            weak(Version::new(10, 3, 0)),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("quantization scale"), "{e}");
        // Declared INT8 IO (a quantized export) keeps its type.
        let q = io(&[("x", 3)]);
        assert!(plan(
            &p("int8:chw").unwrap(),
            &[],
            &q,
            &[],
            weak(Version::new(10, 3, 0))
        )
        .is_ok());
        // No release known: the layout and count rules still hold; types are checked once a release is.
        let unknown = Target {
            release: None,
            strongly_typed: None,
        };
        assert!(plan(&p("bf16:chw").unwrap(), &[], &ins, &[], unknown).is_ok());
    }

    #[test]
    fn onnx_types_as_tensorrt_parses_them() {
        assert_eq!(onnx_type(Some(1), None), Some(DataType::F32));
        assert_eq!(onnx_type(Some(10), None), Some(DataType::F16));
        assert_eq!(
            onnx_type(Some(7), Some(Version::new(10, 3, 0))),
            Some(DataType::I64)
        );
        assert_eq!(
            onnx_type(Some(7), Some(Version::new(8, 6, 0))),
            Some(DataType::I32)
        );
        assert_eq!(onnx_type(Some(11), None), None, "DOUBLE");
        assert_eq!(onnx_type(None, None), None);
    }
}
