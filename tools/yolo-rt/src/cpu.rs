//! CPU backend: runs the ONNX model on the pure-Rust executor (`yolo_onnx::exec`, tract-onnx).
//! Slow but exact enough for checks, CI and machines without a GPU.

use std::collections::HashMap;
use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use yolo_onnx::exec::{ExecOptions, Executor, TensorValue};
use yolo_onnx::Model;

use crate::backend::{check_run_args, Backend, InputBuffer, InputInfo, InputRef, InputType};
use crate::decode::OutputInfo;
use crate::error::{Error, Result};
use crate::tensor::{Tensor, TensorBuf, TensorView};

/// Options for loading an ONNX model on the CPU.
#[derive(Debug, Clone, Default)]
pub struct CpuOptions {
    /// Input size (width, height) when the model's is dynamic.
    pub input_size: Option<(usize, usize)>,
    /// Batch size when the model's is dynamic (default 1).
    pub batch: Option<usize>,
}

/// The CPU backend.
pub struct CpuBackend {
    model_name: String,
    exec: Executor,
    input: InputInfo,
    outputs: Vec<OutputInfo>,
    results: Vec<Tensor>,
    class_names: Option<Vec<String>>,
}

impl std::fmt::Debug for CpuBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuBackend")
            .field("model", &self.model_name)
            .field("input", &self.input)
            .finish()
    }
}

impl CpuBackend {
    /// Loads an ONNX file and prepares it for the CPU executor.
    pub fn load(path: impl AsRef<Path>, options: &CpuOptions) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let err = |message: String| Error::Model {
            model: name.clone(),
            message,
        };
        if !path.is_file() {
            return Err(err("file not found".into()));
        }
        // yolo-onnx's error already names the file and says what is wrong: keep its text, once.
        let model = Model::load(path).map_err(|e| {
            let text = e.to_string();
            let prefix = format!("{name}: ");
            err(text.strip_prefix(&prefix).unwrap_or(&text).to_string())
        })?;
        Self::from_model(&model, &name, options)
    }

    /// Prepares an in-memory model (`name` labels errors).
    pub fn from_model(model: &Model, name: &str, options: &CpuOptions) -> Result<Self> {
        let err = |message: String| Error::Model {
            model: name.to_string(),
            message,
        };
        let inputs = model.graph().declared_inputs();
        if inputs.len() != 1 {
            return Err(err(format!(
                "a detector has one image input, this model has {}",
                inputs.len()
            )));
        }
        // The declared dims come from the model itself; the executor is prepared once they are all known, so that
        // an error preparing it (an op it lacks, a custom op) is reported as what it is.
        let mut exec_opts = ExecOptions::default();
        let declared = inputs[0].dims.clone().unwrap_or_default();
        let input_name = inputs[0].name.clone();
        if declared.len() != 4 || declared[1].is_some_and(|c| c != 3) {
            return Err(err(format!(
                "input `{input_name}` must be [B,3,H,W], is {declared:?}"
            )));
        }
        let batch = declared[0]
            .map(|b| b as usize)
            .or(options.batch)
            .unwrap_or(1)
            .max(1);
        let (h, w) = match (declared[2], declared[3], options.input_size) {
            (Some(h), Some(w), given) => {
                if let Some((gw, gh)) = given.filter(|&(gw, gh)| (gw, gh) != (w as usize, h as usize)) {
                    return Err(err(format!(
                        "input `{input_name}` is fixed at {w}x{h} (WxH); the input size {gw}x{gh} was asked for: \
                         drop it or export the model with dynamic height/width"
                    )));
                }
                (h as usize, w as usize)
            }
            (dh, dw, Some((w, h))) => {
                if dh.is_some_and(|d| d as usize != h) || dw.is_some_and(|d| d as usize != w) {
                    return Err(err(format!(
                        "input `{input_name}` is {declared:?}; the input size {w}x{h} (WxH) breaks its fixed dimension"
                    )));
                }
                (h, w)
            }
            _ => match model.imgsz_hint() {
                Some((h, w)) => (h, w),
                None => {
                    return Err(err(format!(
                        "input `{input_name}` has a dynamic height/width ({declared:?}) and the model names no \
                         `imgsz`: give the size, e.g. --imgsz 640"
                    )))
                }
            },
        };
        exec_opts.input_shapes = HashMap::from([(input_name.clone(), vec![batch, 3, h, w])]);
        let exec = Executor::new(model, &exec_opts).map_err(|e| err(e.to_string()))?;
        // ONNX element types: 1 = FLOAT, 10 = FLOAT16.
        let dtype = match exec.inputs()[0].data_type {
            1 => InputType::F32,
            10 => InputType::F16,
            _ => {
                let other = exec.inputs()[0].dtype_name();
                return Err(err(format!(
                    "input `{input_name}` has type {other}; FLOAT or FLOAT16 is needed"
                )));
            }
        };
        let outputs = exec
            .outputs()
            .iter()
            .map(|o| OutputInfo {
                name: o.name.clone(),
                shape: o.shape.clone(),
            })
            .collect();
        Ok(Self {
            model_name: name.to_string(),
            exec,
            input: InputInfo {
                name: input_name,
                max_batch: batch,
                height: h,
                width: w,
                dtype,
            },
            outputs,
            results: Vec::new(),
            class_names: names_metadata(model, name),
        })
    }
}

/// Class names from the model's `names` metadata (Ultralytics-style exports), when present and
/// well-formed; a malformed entry is logged and ignored (the detector falls back to ids).
fn names_metadata(model: &Model, name: &str) -> Option<Vec<String>> {
    let entry = model
        .header()
        .metadata_props
        .iter()
        .find(|p| p.key == "names")?;
    match crate::classes::parse_names_metadata(&entry.value) {
        Ok(names) if !names.is_empty() => Some(names),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!("{name}: ignoring the model's class names: {e}");
            None
        }
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        "cpu (tract-onnx)".into()
    }
    fn input(&self) -> &InputInfo {
        &self.input
    }
    fn outputs(&self) -> &[OutputInfo] {
        &self.outputs
    }
    /// From the ONNX `names` metadata ([`crate::classes::parse_names_metadata`]).
    fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }
    fn run(&mut self, input: &InputBuffer, batch: usize) -> Result<Vec<TensorView<'_>>> {
        check_run_args(&self.input, input, batch)?;
        let i = &self.input;
        let shape = IxDyn(&[i.max_batch, 3, i.height, i.width]);
        let n = i.max_batch * i.image_len();
        let err = |message: String| Error::Model {
            model: self.model_name.clone(),
            message,
        };
        let value = match input.as_ref() {
            InputRef::F32(d) => TensorValue::F32(
                ArrayD::from_shape_vec(shape, d[..n].to_vec()).map_err(|e| err(e.to_string()))?,
            ),
            InputRef::F16(d) => TensorValue::F16(
                ArrayD::from_shape_vec(shape, d[..n].to_vec()).map_err(|e| err(e.to_string()))?,
            ),
        };
        let out = self
            .exec
            .run(&vec![(i.name.clone(), value)])
            .map_err(|e| err(e.to_string()))?;
        self.results.clear();
        for (name, v) in out {
            let shape = v.shape().to_vec();
            let data = match v {
                TensorValue::F32(a) => TensorBuf::F32(a.iter().copied().collect()),
                TensorValue::F16(a) => TensorBuf::F16(a.iter().copied().collect()),
                TensorValue::I64(a) => TensorBuf::I64(a.iter().copied().collect()),
                #[allow(unreachable_patterns)]
                _ => {
                    return Err(err(format!(
                        "output `{name}` has an unsupported element type"
                    )))
                }
            };
            self.results.push(Tensor::checked(name, shape, data)?);
        }
        // Real output shapes may differ from the declared ones (data-dependent K); report them.
        Ok(self.results.iter().map(Tensor::view).collect())
    }
}
