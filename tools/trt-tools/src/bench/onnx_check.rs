//! `trt-bench ENGINE --compare-onnx MODEL.onnx` (Polygraphy's `run --trt --onnxrt`): the engine and the CPU executor
//! run the same inputs; each output's max / mean absolute error, max relative error and cosine similarity are
//! reported against `--atol` / `--rtol`, and the exit code is 1 beyond them.
//!
//! The inputs are the verifier's (`yolo_onnx::exec::make_inputs`: random, then image-like, seeds counting up) in
//! the model's shapes, converted to each engine input's type (FP16 engines with FP16 IO get the same values rounded
//! to f16; the executor gets them rounded the same way, so only the engine's arithmetic differs). The tolerance rule
//! is the verifier's ([`yolo_onnx::exec::compare_outputs`]): an element fails when `|onnx − engine| > atol +
//! rtol·scale`, `scale` being the largest |value| of that output in the ONNX run.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use half::f16;
use ndarray::ArrayD;
use trt::{DataType, Input, Session, SessionConfig};
use yolo_onnx::exec::{ExecOptions, Executor, InputKind, NamedTensors, TensorValue};
use yolo_onnx::verify::{VerifyOptions, VerifyReport};

use super::io::HostData;

/// `--compare-onnx` and its tolerances.
#[derive(Debug, Clone)]
pub struct OnnxCheck {
    /// The ONNX model the engine was built from.
    pub model: PathBuf,
    /// `--atol`.
    pub atol: f64,
    /// `--rtol`.
    pub rtol: f64,
    /// `--compare-runs`: random-input runs, then as many image-like ones.
    pub runs: usize,
    /// `--shapes` (dynamic inputs).
    pub shapes: Vec<(String, Vec<i64>)>,
}

impl OnnxCheck {
    /// Checks what needs no TensorRT: the model loads and the CPU executor can run it (exit code 1 otherwise), the
    /// tolerances are numbers ≥ 0.
    pub fn precheck(&self) -> Result<Executor> {
        self.options().check()?;
        let model = yolo_onnx::Model::load(&self.model)
            .with_context(|| format!("--compare-onnx {}", self.model.display()))?;
        Executor::new(&model, &self.exec_options()?).with_context(|| {
            format!(
                "--compare-onnx {}: the CPU executor cannot run it",
                self.model.display()
            )
        })
    }

    fn exec_options(&self) -> Result<ExecOptions> {
        let mut o = ExecOptions::default();
        for (name, dims) in &self.shapes {
            let dims = dims
                .iter()
                .map(|&d| {
                    usize::try_from(d)
                        .with_context(|| format!("--shapes {name}: {d} is not a size"))
                })
                .collect::<Result<Vec<_>>>()?;
            o.input_shapes.insert(name.clone(), dims);
        }
        Ok(o)
    }

    fn options(&self) -> VerifyOptions {
        VerifyOptions {
            atol: self.atol,
            rtol: self.rtol,
            random_runs: self.runs,
            image_runs: self.runs,
            ..VerifyOptions::default()
        }
    }
}

/// Runs `engine` and the executor on the same inputs (see the module docs).
pub fn compare(engine: &trt::Engine, exec: &Executor, check: &OnnxCheck) -> Result<VerifyReport> {
    let inputs = exec.inputs();
    for t in engine.inputs() {
        if !inputs.iter().any(|s| s.name == t.name) {
            bail!(
                "the engine's input `{}` is not an input of {} (its inputs: {}); compare the engine with the ONNX it \
                 was built from (trt-build --emit-onnx writes the model TensorRT parsed)",
                t.name,
                check.model.display(),
                names(inputs.iter().map(|s| s.name.as_str()))
            );
        }
    }
    let mut config = SessionConfig::default();
    for s in inputs {
        let dims: Vec<i64> = s.shape.iter().map(|&d| d as i64).collect();
        config = config.with_shape(s.name.clone(), &dims);
    }
    let mut session = engine
        .session(config)
        .context("creating an execution context")?;
    let mut reference = Vec::new();
    for (kind, seed) in yolo_onnx::verify::run_plan(&check.options()) {
        let feed = yolo_onnx::exec::make_inputs(inputs, kind, seed)?;
        let (feed, engine_out) = run_engine(&mut session, feed)?;
        let onnx_out = exec.run(&feed)?;
        reference.push((kind, seed, onnx_out, engine_out));
    }
    report(&reference, check)
}

/// The verifier's report of (kind, seed, ONNX outputs, engine outputs) runs.
pub fn report(
    runs: &[(InputKind, u64, NamedTensors, NamedTensors)],
    check: &OnnxCheck,
) -> Result<VerifyReport> {
    let mut out = Vec::new();
    for (kind, seed, onnx, engine) in runs {
        // Outputs TensorRT kept (an engine may drop an unused auxiliary output, never add one).
        let kept: NamedTensors = onnx
            .iter()
            .filter(|(n, _)| engine.iter().any(|(m, _)| m == n))
            .cloned()
            .collect();
        if kept.is_empty() {
            bail!(
                "no output of the engine ({}) is an output of {} ({})",
                names(engine.iter().map(|(n, _)| n.as_str())),
                check.model.display(),
                names(onnx.iter().map(|(n, _)| n.as_str()))
            );
        }
        let outputs = yolo_onnx::exec::compare_outputs(&kept, engine, check.atol, check.rtol)?;
        out.push(yolo_onnx::verify::VerifyRun {
            kind: *kind,
            seed: *seed,
            outputs,
        });
    }
    Ok(yolo_onnx::verify::summarize(check.atol, check.rtol, out))
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// The engine input for `value` in the engine's type, and the value the executor gets: the same numbers, rounded as
/// the engine's type rounds them.
pub fn to_engine_input(
    name: &str,
    value: &TensorValue,
    dtype: DataType,
) -> Result<(HostData, TensorValue)> {
    let shape = value.shape().to_vec();
    let f = value.to_f32();
    Ok(match (dtype, value) {
        (DataType::F32, TensorValue::F32(_) | TensorValue::F16(_)) => {
            (HostData::F32(f.iter().copied().collect()), TensorValue::F32(f))
        }
        (DataType::F16, TensorValue::F32(_) | TensorValue::F16(_)) => {
            let h: Vec<f16> = f.iter().map(|&x| f16::from_f32(x)).collect();
            let back = ArrayD::from_shape_vec(shape, h.clone())?;
            let v = match value {
                TensorValue::F16(_) => TensorValue::F16(back),
                _ => TensorValue::F32(back.mapv(f16::to_f32)),
            };
            (HostData::F16(h), v)
        }
        (DataType::I32, TensorValue::I64(a)) => {
            let v = a
                .iter()
                .map(|&x| i32::try_from(x).with_context(|| format!("input `{name}`: {x} does not fit int32")))
                .collect::<Result<Vec<_>>>()?;
            (HostData::I32(v), value.clone())
        }
        (other, _) => bail!(
            "input `{name}`: the engine takes {} and the ONNX model {}; --compare-onnx feeds float32/float16 and \
             int64→int32 inputs",
            other.name(),
            yolo_onnx::graph::dtype_name(value.data_type() as i32).to_lowercase()
        ),
    })
}

/// An engine output as the executor would give it (float types as f32, integers as i64).
pub fn from_engine_output(name: &str, shape: &[usize], data: HostData) -> Result<TensorValue> {
    let s = shape.to_vec();
    let value = || -> std::result::Result<TensorValue, ndarray::ShapeError> {
        Ok(match data {
            HostData::F32(v) => TensorValue::F32(ArrayD::from_shape_vec(s, v)?),
            HostData::F16(v) => TensorValue::F32(ArrayD::from_shape_vec(s, v)?.mapv(f16::to_f32)),
            HostData::I32(v) => TensorValue::I64(ArrayD::from_shape_vec(s, v)?.mapv(i64::from)),
            HostData::I8(v) => TensorValue::I64(ArrayD::from_shape_vec(s, v)?.mapv(i64::from)),
            HostData::U8(v) => TensorValue::I64(ArrayD::from_shape_vec(s, v)?.mapv(i64::from)),
            HostData::Bool(v) => TensorValue::I64(ArrayD::from_shape_vec(s, v)?.mapv(i64::from)),
        })
    };
    value().with_context(|| format!("output `{name}`"))
}

/// One inference of `feed` on the engine: the feed as the engine saw it (rounded to its input types) and the outputs.
fn run_engine(
    session: &mut Session<'_>,
    feed: NamedTensors,
) -> Result<(NamedTensors, NamedTensors)> {
    let engine = session.engine();
    let mut host = Vec::new();
    let mut seen = Vec::new();
    for (name, value) in feed {
        match engine.inputs().find(|t| t.name == name) {
            Some(t) => {
                let (h, v) = to_engine_input(&name, &value, t.dtype)?;
                host.push((name.clone(), value.shape().to_vec(), h));
                seen.push((name, v));
            }
            // An input TensorRT dropped (unused by every output): the executor still gets it.
            None => seen.push((name, value)),
        }
    }
    let inputs = host
        .iter()
        .map(|(n, s, h)| super::run::to_input_parts(n, s, h))
        .collect::<Result<Vec<Input<'_>>>>()?;
    let outputs = session.infer(&inputs).context("running the engine")?;
    let mut out = Vec::new();
    for n in outputs.names() {
        let (shape, data) = super::run::output_host_data(&outputs, n)?;
        out.push((n.to_owned(), from_engine_output(n, &shape, data)?));
    }
    Ok((seen, out))
}

/// `--compare-onnx` needs a model path that exists (checked before TensorRT).
pub fn check_path(model: &Path) -> Result<()> {
    if !model.is_file() {
        bail!("--compare-onnx {}: model not found", model.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> OnnxCheck {
        OnnxCheck {
            model: "m.onnx".into(),
            atol: 1e-3,
            rtol: 1e-3,
            runs: 1,
            shapes: Vec::new(),
        }
    }

    fn t(v: &[f32]) -> TensorValue {
        TensorValue::F32(ArrayD::from_shape_vec(vec![v.len()], v.to_vec()).unwrap())
    }

    #[test]
    fn inputs_are_rounded_as_the_engine_rounds_them() {
        let v = t(&[0.1, 1.0 / 3.0, 1000.7]);
        let (h, seen) = to_engine_input("images", &v, DataType::F16).unwrap();
        let HostData::F16(h) = h else { panic!() };
        assert_eq!(h, [0.1f32, 1.0 / 3.0, 1000.7].map(f16::from_f32));
        // The executor gets exactly the engine's values, as f32.
        assert_eq!(
            seen,
            TensorValue::F32(
                ArrayD::from_shape_vec(vec![3], h.iter().map(|x| x.to_f32()).collect()).unwrap()
            )
        );
        let (h, seen) = to_engine_input("images", &v, DataType::F32).unwrap();
        assert_eq!(
            (h, seen),
            (HostData::F32(vec![0.1, 1.0 / 3.0, 1000.7]), v.clone())
        );
        let e = to_engine_input("images", &v, DataType::I8)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("input `images`: the engine takes i8 and the ONNX model float"),
            "{e}"
        );
        let big = TensorValue::I64(ArrayD::from_shape_vec(vec![1], vec![1i64 << 40]).unwrap());
        let e = to_engine_input("ids", &big, DataType::I32)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not fit int32"), "{e}");
    }

    #[test]
    fn outputs_are_compared_by_name_with_the_verifier_rule() {
        let onnx = vec![
            ("boxes".to_owned(), t(&[10.0, 20.0, 30.0, 40.0])),
            ("aux".to_owned(), t(&[1.0])),
        ];
        // Within atol + rtol·scale = 1e-3 + 1e-3·40 = 0.041.
        let close = vec![("boxes".to_owned(), t(&[10.02, 20.0, 29.97, 40.0]))];
        let r = report(&[(InputKind::Random, 0, onnx.clone(), close)], &check()).unwrap();
        assert!(r.passed, "{}", r.to_text());
        assert_eq!(
            r.worst.len(),
            1,
            "the output the engine dropped is not compared"
        );
        assert!((r.worst[0].max_abs - 0.03).abs() < 1e-5);
        // One element beyond it fails the whole check.
        let far = vec![("boxes".to_owned(), t(&[10.0, 20.0, 30.0, 40.05]))];
        let r = report(&[(InputKind::Image, 1, onnx.clone(), far)], &check()).unwrap();
        assert!(!r.passed);
        assert_eq!(r.worst[0].violations, 1);
        assert!(r.to_text().contains("FAIL"), "{}", r.to_text());
        // A NaN in the engine's output is a mismatch, never a pass.
        let nan = vec![("boxes".to_owned(), t(&[10.0, f32::NAN, 30.0, 40.0]))];
        let r = report(&[(InputKind::Random, 0, onnx.clone(), nan)], &check()).unwrap();
        assert!(!r.passed);
        // Nothing in common: an error naming both sides.
        let other = vec![("output0".to_owned(), t(&[1.0]))];
        let e = report(&[(InputKind::Random, 0, onnx, other)], &check())
            .unwrap_err()
            .to_string();
        assert!(e.contains("`output0`") && e.contains("`boxes`"), "{e}");
    }

    #[test]
    fn engine_outputs_become_executor_values() {
        let v = from_engine_output(
            "o",
            &[2],
            HostData::F16(vec![f16::from_f32(1.5), f16::from_f32(-2.0)]),
        )
        .unwrap();
        assert_eq!(v, t(&[1.5, -2.0]));
        let v = from_engine_output("n", &[1], HostData::I32(vec![7])).unwrap();
        assert_eq!(
            v,
            TensorValue::I64(ArrayD::from_shape_vec(vec![1], vec![7]).unwrap())
        );
        let e = from_engine_output("o", &[3], HostData::F32(vec![1.0])).unwrap_err();
        assert!(format!("{e:#}").contains("output `o`"), "{e:#}");
    }

    #[test]
    fn bad_tolerances_are_refused() {
        let mut c = check();
        c.atol = f64::NAN;
        assert!(c.options().check().is_err());
        c.atol = -1.0;
        assert!(c.options().check().is_err());
    }
}
