//! DeepStream custom bounding-box parser for the YOLO output layouts `yolo-rt` decodes.
//!
//! Built as `libnvds_yolo_parser.so`, it exports `NvDsInferParseCustomYolo` with the signature Gst-nvinfer calls
//! (`parse-bbox-func-name=NvDsInferParseCustomYolo`, `custom-lib-path=…/libnvds_yolo_parser.so`; `trt-build
//! --deepstream DIR` writes that config). For each frame it decodes the output layers with [`yolo_rt::decode`] —
//! the same code the Rust `Detector` runs — into candidate boxes in network-input pixels above each class's
//! `pre-cluster-threshold`, and leaves clustering to nvinfer (`cluster-mode=2`, NMS).
//!
//! Layouts: YOLOv7 `--grid` (`[N, 5+nc]`), YOLOv8/v9 (`[4+nc, N]`), an unconverted YOLOv9 dual head (the main head is
//! decoded) and TensorRT's EfficientNMS outputs. YOLOv7 raw heads and ONNX-NMS outputs are refused with a message.
//!
//! The C++ containers nvinfer passes by reference are read through `cpp/access.cpp`; the struct layouts are
//! declared in `cpp/nvds_layouts.h` from DeepStream's documentation. Nothing here links DeepStream.

use std::cell::RefCell;
use std::collections::HashSet;
use std::ffi::{c_char, c_void, CStr};
use std::sync::Mutex;

use half::f16;
use yolo_rt::decode::{DecodeConfig, Decoder, Layout, OutputInfo};
use yolo_rt::tensor::{TensorData, TensorView};

/// `NVDS_YOLO_MAX_DIMS` in `cpp/nvds_layouts.h` (DeepStream's `NVDSINFER_MAX_DIMS`).
pub const MAX_DIMS: usize = 8;

/// An output layer's elements as nvinfer hands them over (host memory).
#[derive(Debug, Clone, Copy)]
pub enum LayerData<'a> {
    /// `FLOAT`.
    F32(&'a [f32]),
    /// `HALF`.
    F16(&'a [f16]),
    /// `INT32`.
    I32(&'a [i32]),
    /// `INT64`.
    I64(&'a [i64]),
}

/// One output layer: name, dimensions without the batch (as nvinfer's `inferDims`), data.
#[derive(Debug, Clone)]
pub struct Layer<'a> {
    /// The engine's output name.
    pub name: &'a str,
    /// Dimensions, batch excluded.
    pub dims: Vec<usize>,
    /// Elements.
    pub data: LayerData<'a>,
}

/// A box for nvinfer, in network-input pixels (`NvDsInferObjectDetectionInfo`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Object {
    /// Class index.
    pub class_id: u32,
    /// Left edge.
    pub left: f32,
    /// Top edge.
    pub top: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
    /// Confidence.
    pub confidence: f32,
}

/// The per-frame decoder, kept per thread and rebuilt when the layers change.
struct Cached {
    key: Vec<(String, Vec<usize>)>,
    decoder: Decoder,
    classes: Option<usize>,
}

thread_local! {
    static DECODER: RefCell<Option<Cached>> = const { RefCell::new(None) };
}

/// The largest float strictly below `x` (the decoder drops scores at or below its threshold; nvinfer keeps scores at
/// the threshold).
fn just_below(x: f32) -> f32 {
    if x > 0.0 {
        f32::from_bits(x.to_bits() - 1)
    } else {
        -1.0
    }
}

/// Decodes one frame's output layers into candidate boxes in network-input pixels: for class `c`, boxes scoring at
/// least `thresholds[c]` (nvinfer's `perClassPreclusterThreshold`), clipped to the `net` (width, height) image.
/// `classes_configured` (`num-detected-classes`) must equal the model's class count when the layout states one.
pub fn parse(
    layers: &[Layer<'_>],
    net: (usize, usize),
    thresholds: &[f32],
    classes_configured: usize,
) -> Result<Vec<Object>, String> {
    let key: Vec<(String, Vec<usize>)> = layers
        .iter()
        .map(|l| (l.name.to_string(), l.dims.clone()))
        .collect();
    let min_threshold = thresholds.iter().copied().fold(f32::INFINITY, f32::min);
    if thresholds.is_empty() || !min_threshold.is_finite() {
        return Err(format!(
            "no usable pre-cluster-threshold for the {classes_configured} configured classes (got {thresholds:?})"
        ));
    }
    DECODER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|c| c.key != key) {
            *slot = Some(new_decoder(&key, net)?);
        }
        let cached = slot.as_mut().ok_or("internal: no decoder")?;
        if let Some(n) = cached.classes {
            if n != classes_configured {
                return Err(format!(
                    "num-detected-classes={classes_configured} in the nvinfer config, but the model has {n} classes"
                ));
            }
        }
        cached.decoder.set_conf(just_below(min_threshold));
        let shapes: Vec<Vec<usize>> = key
            .iter()
            .map(|(_, d)| std::iter::once(1).chain(d.iter().copied()).collect())
            .collect();
        let views = layers
            .iter()
            .zip(&shapes)
            .map(|(l, shape)| {
                let data = match l.data {
                    LayerData::F32(d) => TensorData::F32(d),
                    LayerData::F16(d) => TensorData::F16(d),
                    LayerData::I32(d) => TensorData::I32(d),
                    LayerData::I64(d) => TensorData::I64(d),
                };
                TensorView::new(l.name, shape, data).map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        cached
            .decoder
            .candidates(&views, 0)
            .map_err(|e| e.to_string())?;
        let (w, h) = (net.0 as f32, net.1 as f32);
        let mut out = Vec::new();
        for c in cached.decoder.last_candidates() {
            let Some(&t) = thresholds.get(c.class_id as usize) else {
                warn_once(format!(
                    "class {} is beyond the {} configured classes; its boxes are dropped",
                    c.class_id,
                    thresholds.len()
                ));
                continue;
            };
            if c.score < t {
                continue;
            }
            let [x1, y1, x2, y2] = c.bbox;
            let (x1, y1) = (x1.clamp(0.0, w), y1.clamp(0.0, h));
            let (x2, y2) = (x2.clamp(0.0, w), y2.clamp(0.0, h));
            if x2 <= x1 || y2 <= y1 {
                continue;
            }
            out.push(Object {
                class_id: c.class_id,
                left: x1,
                top: y1,
                width: x2 - x1,
                height: y2 - y1,
                confidence: c.score,
            });
        }
        Ok(out)
    })
}

fn new_decoder(key: &[(String, Vec<usize>)], net: (usize, usize)) -> Result<Cached, String> {
    let outputs: Vec<OutputInfo> = key
        .iter()
        .map(|(name, d)| OutputInfo {
            name: name.clone(),
            shape: std::iter::once(1).chain(d.iter().copied()).collect(),
        })
        .collect();
    let decoder =
        Decoder::new(DecodeConfig::default(), &outputs, net).map_err(|e| e.to_string())?;
    let classes = match decoder.layout() {
        Layout::V7Grid { classes, .. } | Layout::V9 { classes, .. } | Layout::V9Dual { classes, .. } => {
            Some(*classes)
        }
        Layout::EfficientNms { .. } => None,
        other => {
            return Err(format!(
                "the {} layout is not supported by this parser: export YOLOv7 with --grid (decoded boxes), or use \
                 EfficientNMS end-to-end outputs",
                other.kind()
            ))
        }
    };
    Ok(Cached {
        key: key.to_vec(),
        decoder,
        classes,
    })
}

static WARNED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Prints `message` to stderr once per process (nvinfer calls the parser once per frame).
fn warn_once(message: String) {
    if let Ok(mut w) = WARNED.lock() {
        if w.get_or_insert_with(HashSet::new).insert(message.clone()) {
            eprintln!("nvds-yolo-parser: {message}");
        }
    }
}

mod ffi {
    use std::ffi::{c_char, c_void};

    /// One output layer as `cpp/access.cpp` flattens it.
    #[repr(C)]
    pub struct FlatLayer {
        pub name: *const c_char,
        pub data_type: i32,
        pub num_dims: u32,
        pub dims: [u32; super::MAX_DIMS],
        pub buffer: *const c_void,
        pub is_input: i32,
    }

    extern "C" {
        pub fn nvds_yolo_layer_count(layers: *const c_void) -> usize;
        pub fn nvds_yolo_layer(layers: *const c_void, i: usize, out: *mut FlatLayer) -> i32;
        pub fn nvds_yolo_classes_configured(params: *const c_void) -> u32;
        pub fn nvds_yolo_threshold_count(params: *const c_void) -> usize;
        pub fn nvds_yolo_thresholds(params: *const c_void) -> *const f32;
        pub fn nvds_yolo_push(
            objects: *mut c_void,
            class_id: u32,
            left: f32,
            top: f32,
            width: f32,
            height: f32,
            confidence: f32,
        ) -> i32;
    }
}

/// `NvDsInferNetworkInfo`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NetworkInfo {
    /// Input width.
    pub width: u32,
    /// Input height.
    pub height: u32,
    /// Input channels.
    pub channels: u32,
}

/// Reads the layers nvinfer passes.
///
/// # Safety
/// `layers` must point to a live `std::vector<NvDsInferLayerInfo>` whose output layers' buffers hold `numElements`
/// host elements of their `dataType` for the duration of the borrow.
unsafe fn read_layers<'a>(layers: *const c_void) -> Result<Vec<Layer<'a>>, String> {
    // SAFETY: the caller guarantees `layers` is a live vector; the accessor only reads it.
    let n = unsafe { ffi::nvds_yolo_layer_count(layers) };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut flat = ffi::FlatLayer {
            name: std::ptr::null(),
            data_type: 0,
            num_dims: 0,
            dims: [0; MAX_DIMS],
            buffer: std::ptr::null(),
            is_input: 0,
        };
        // SAFETY: `i < n` and `flat` is a valid destination.
        if unsafe { ffi::nvds_yolo_layer(layers, i, &mut flat) } == 0 {
            return Err(format!("internal: layer {i} of {n} unreadable"));
        }
        if flat.is_input != 0 {
            continue;
        }
        let name = if flat.name.is_null() {
            return Err(format!("output layer {i} has no name"));
        } else {
            // SAFETY: nvinfer's layer names are NUL-terminated strings living as long as the engine.
            unsafe { CStr::from_ptr(flat.name as *const c_char) }
                .to_str()
                .map_err(|_| format!("output layer {i}: the name is not UTF-8"))?
        };
        let rank = flat.num_dims as usize;
        if rank > MAX_DIMS {
            return Err(format!(
                "output layer `{name}` has {rank} dimensions (at most {MAX_DIMS})"
            ));
        }
        let dims: Vec<usize> = flat.dims[..rank].iter().map(|&d| d as usize).collect();
        let len: usize = dims.iter().product();
        if flat.buffer.is_null() {
            return Err(format!("output layer `{name}` has no host buffer"));
        }
        // SAFETY: the caller guarantees the buffer holds `len` elements of the layer's type (nvinfer copies every
        // output to host memory before calling the parser), aligned for it.
        let data = unsafe {
            match flat.data_type {
                0 => LayerData::F32(std::slice::from_raw_parts(flat.buffer as *const f32, len)),
                1 => LayerData::F16(std::slice::from_raw_parts(flat.buffer as *const f16, len)),
                3 => LayerData::I32(std::slice::from_raw_parts(flat.buffer as *const i32, len)),
                4 => LayerData::I64(std::slice::from_raw_parts(flat.buffer as *const i64, len)),
                t => {
                    return Err(format!(
                        "output layer `{name}` has data type {t} (INT8 or unknown); build the engine with float \
                         outputs"
                    ))
                }
            }
        };
        out.push(Layer { name, dims, data });
    }
    Ok(out)
}

/// The parser Gst-nvinfer calls (`parse-bbox-func-name=NvDsInferParseCustomYolo`). Returns false, with a message on
/// stderr (once), when the layers cannot be decoded.
///
/// # Safety
/// Called by nvinfer with its documented C++ signature: `outputLayersInfo` (`std::vector<NvDsInferLayerInfo> const&`),
/// `networkInfo`, `detectionParams` (`NvDsInferParseDetectionParams const&`) and `objectList`
/// (`std::vector<NvDsInferObjectDetectionInfo>&`) are references — pointers at the ABI level — to live objects.
#[no_mangle]
pub unsafe extern "C" fn NvDsInferParseCustomYolo(
    output_layers: *const c_void,
    network: *const NetworkInfo,
    detection_params: *const c_void,
    objects: *mut c_void,
) -> bool {
    let run = || -> Result<(), String> {
        if output_layers.is_null()
            || network.is_null()
            || detection_params.is_null()
            || objects.is_null()
        {
            return Err("called with a null argument".into());
        }
        // SAFETY: nvinfer passes live objects (the function's contract).
        let layers = unsafe { read_layers(output_layers) }?;
        // SAFETY: as above.
        let net = unsafe { *network };
        // SAFETY: as above; the pointer and count describe the vector's elements.
        let thresholds = unsafe {
            let n = ffi::nvds_yolo_threshold_count(detection_params);
            let p = ffi::nvds_yolo_thresholds(detection_params);
            if n == 0 || p.is_null() {
                &[][..]
            } else {
                std::slice::from_raw_parts(p, n)
            }
        };
        // SAFETY: as above.
        let configured = unsafe { ffi::nvds_yolo_classes_configured(detection_params) } as usize;
        let found = parse(
            &layers,
            (net.width as usize, net.height as usize),
            thresholds,
            configured,
        )?;
        for o in found {
            // SAFETY: `objects` is nvinfer's live output vector; the accessor catches allocation failures.
            let ok = unsafe {
                ffi::nvds_yolo_push(
                    objects,
                    o.class_id,
                    o.left,
                    o.top,
                    o.width,
                    o.height,
                    o.confidence,
                )
            };
            if ok == 0 {
                return Err("out of memory while returning the boxes".into());
            }
        }
        Ok(())
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            warn_once(e);
            false
        }
        Err(_) => {
            warn_once("internal error (panic) while decoding; please report the model".into());
            false
        }
    }
}
