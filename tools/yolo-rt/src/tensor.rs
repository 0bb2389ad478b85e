//! Output tensors as backends hand them over: a name, a shape and typed data.

use std::borrow::Cow;

use half::f16;

use crate::error::{Error, Result};

/// Borrowed element data of a tensor.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum TensorData<'a> {
    /// 32-bit floats.
    F32(&'a [f32]),
    /// 16-bit floats.
    F16(&'a [f16]),
    /// 32-bit integers (TensorRT's `num_dets`, `det_classes`).
    I32(&'a [i32]),
    /// 64-bit integers (ONNX NMS indices).
    I64(&'a [i64]),
}

impl TensorData<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(d) => d.len(),
            TensorData::F16(d) => d.len(),
            TensorData::I32(d) => d.len(),
            TensorData::I64(d) => d.len(),
        }
    }
    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Element type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            TensorData::F32(_) => "f32",
            TensorData::F16(_) => "f16",
            TensorData::I32(_) => "i32",
            TensorData::I64(_) => "i64",
        }
    }
}

/// A borrowed output tensor.
#[derive(Debug, Clone, Copy)]
pub struct TensorView<'a> {
    /// Output name as in the model/engine.
    pub name: &'a str,
    /// Dimensions.
    pub shape: &'a [usize],
    /// Elements, row-major.
    pub data: TensorData<'a>,
}

impl<'a> TensorView<'a> {
    /// A view; checks that the element count matches the shape.
    pub fn new(name: &'a str, shape: &'a [usize], data: TensorData<'a>) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(Error::Tensor {
                tensor: name.into(),
                message: format!(
                    "shape {shape:?} needs {n} elements but the data has {}",
                    data.len()
                ),
            });
        }
        Ok(Self { name, shape, data })
    }

    /// The elements as f32 (borrowed when already f32).
    pub fn to_f32(&self) -> Cow<'a, [f32]> {
        match self.data {
            TensorData::F32(d) => Cow::Borrowed(d),
            TensorData::F16(d) => Cow::Owned(d.iter().map(|v| v.to_f32()).collect()),
            TensorData::I32(d) => Cow::Owned(d.iter().map(|&v| v as f32).collect()),
            TensorData::I64(d) => Cow::Owned(d.iter().map(|&v| v as f32).collect()),
        }
    }

    /// The elements as i64 (floats are truncated; used for counts and class ids).
    pub fn to_i64(&self) -> Vec<i64> {
        match self.data {
            TensorData::F32(d) => d.iter().map(|&v| v as i64).collect(),
            TensorData::F16(d) => d.iter().map(|v| v.to_f32() as i64).collect(),
            TensorData::I32(d) => d.iter().map(|&v| v as i64).collect(),
            TensorData::I64(d) => d.to_vec(),
        }
    }
}

/// Owned element data.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TensorBuf {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 16-bit floats.
    F16(Vec<f16>),
    /// 32-bit integers.
    I32(Vec<i32>),
    /// 64-bit integers.
    I64(Vec<i64>),
}

/// An owned output tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Output name.
    pub name: String,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Elements, row-major.
    pub data: TensorBuf,
}

impl Tensor {
    /// An f32 tensor; checks the element count.
    pub fn f32(name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        Self::checked(name.into(), shape, TensorBuf::F32(data))
    }
    /// An i32 tensor; checks the element count.
    pub fn i32(name: impl Into<String>, shape: Vec<usize>, data: Vec<i32>) -> Result<Self> {
        Self::checked(name.into(), shape, TensorBuf::I32(data))
    }
    /// Any tensor; checks the element count.
    pub fn checked(name: String, shape: Vec<usize>, data: TensorBuf) -> Result<Self> {
        let t = Self { name, shape, data };
        t.view_checked()?;
        Ok(t)
    }
    fn view_checked(&self) -> Result<TensorView<'_>> {
        TensorView::new(&self.name, &self.shape, self.data_view())
    }
    fn data_view(&self) -> TensorData<'_> {
        match &self.data {
            TensorBuf::F32(d) => TensorData::F32(d),
            TensorBuf::F16(d) => TensorData::F16(d),
            TensorBuf::I32(d) => TensorData::I32(d),
            TensorBuf::I64(d) => TensorData::I64(d),
        }
    }
    /// Borrowed view.
    pub fn view(&self) -> TensorView<'_> {
        TensorView {
            name: &self.name,
            shape: &self.shape,
            data: self.data_view(),
        }
    }
}
