//! Letterbox pre-processing: aspect-preserving bilinear resize (OpenCV `INTER_LINEAR` semantics),
//! centred constant padding, channel reorder, normalisation, HWC u8 → CHW f32/f16 in one pass
//! straight into a caller's buffer (for example a runtime's pinned host buffer).
//!
//! The resize reproduces OpenCV's fixed-point algorithm for 8-bit images: half-pixel centres
//! (`fx = (dx + 0.5) * scale - 0.5`), taps clamped at the border, 11-bit coefficients
//! (`INTER_RESIZE_COEF_BITS`) rounded to nearest, and the final `(sum + 2^21) >> 22`. OpenCV's
//! SIMD path rounds its vertical pass slightly differently, so results agree within one grey level.
//!
//! Speed comes from doing the vertical pass first on whole source rows (contiguous, vectorised),
//! then one horizontal gather with precomputed taps, and converting each channel plane with a
//! multiply-add (f32) or a 256-entry table (f16); the tap tables are cached per source size.

use half::f16;

use crate::error::{Error, Result};
use crate::image::{ImageView, PixelFormat};

const COEF_BITS: u32 = 11;
const COEF_SCALE: f32 = (1 << COEF_BITS) as f32;
const ROUND: i32 = 1 << (2 * COEF_BITS - 1);

/// Letterbox settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LetterboxConfig {
    /// Network input width.
    pub width: usize,
    /// Network input height.
    pub height: usize,
    /// Grey level of the padding (YOLO uses 114).
    pub pad_value: u8,
    /// "Rect" mode: pad only up to the next multiple of this stride instead of to the full
    /// `width`×`height` (YOLO's `auto=True`); the output size then depends on the image.
    pub rect_stride: Option<usize>,
    /// Allow enlarging images smaller than the network input (YOLO's `scaleup`).
    pub scale_up: bool,
    /// Channel order the network expects (YOLO models: RGB). Input frames in the other order are
    /// swapped on the fly.
    pub output_format: PixelFormat,
    /// Per-channel mean subtracted after scaling to [0, 1], in output channel order.
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by after subtracting the mean.
    pub std: [f32; 3],
}

impl Default for LetterboxConfig {
    fn default() -> Self {
        Self {
            width: 640,
            height: 640,
            pad_value: 114,
            rect_stride: None,
            scale_up: true,
            output_format: PixelFormat::Rgb,
            mean: [0.0; 3],
            std: [1.0; 3],
        }
    }
}

impl LetterboxConfig {
    /// A square `size`×`size` network input with YOLO defaults.
    pub fn square(size: usize) -> Self {
        Self { width: size, height: size, ..Self::default() }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.width == 0 || self.height == 0 {
            return Err(Error::Config(format!(
                "letterbox target size {}x{} must be non-zero",
                self.width, self.height
            )));
        }
        if self.rect_stride == Some(0) {
            return Err(Error::Config("rect_stride must be at least 1".into()));
        }
        if self.std.iter().any(|s| !s.is_finite() || *s == 0.0) || self.mean.iter().any(|m| !m.is_finite()) {
            return Err(Error::Config(format!(
                "mean {:?} must be finite and std {:?} finite and non-zero",
                self.mean, self.std
            )));
        }
        Ok(())
    }

    /// Where an image of `src_width`×`src_height` lands: the geometry of its letterbox.
    pub fn transform_for(&self, src_width: usize, src_height: usize) -> Result<LetterboxTransform> {
        self.validate()?;
        if src_width == 0 || src_height == 0 {
            return Err(Error::EmptyImage { what: "frame".into(), width: src_width, height: src_height });
        }
        let mut r = (self.height as f64 / src_height as f64).min(self.width as f64 / src_width as f64);
        if !self.scale_up {
            r = r.min(1.0);
        }
        let new_w = ((src_width as f64 * r).round() as usize).clamp(1, self.width);
        let new_h = ((src_height as f64 * r).round() as usize).clamp(1, self.height);
        let (mut dw, mut dh) = (self.width - new_w, self.height - new_h);
        if let Some(s) = self.rect_stride {
            dw %= s;
            dh %= s;
        }
        Ok(LetterboxTransform {
            src_width,
            src_height,
            resized_width: new_w,
            resized_height: new_h,
            out_width: new_w + dw,
            out_height: new_h + dh,
            pad_left: dw / 2,
            pad_top: dh / 2,
        })
    }
}

/// The geometry of one letterboxed image: maps points and boxes between the source image and the
/// network input, both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LetterboxTransform {
    /// Source width in pixels.
    pub src_width: usize,
    /// Source height in pixels.
    pub src_height: usize,
    /// Width of the resized image inside the padding.
    pub resized_width: usize,
    /// Height of the resized image inside the padding.
    pub resized_height: usize,
    /// Width of the network input (resized + padding).
    pub out_width: usize,
    /// Height of the network input (resized + padding).
    pub out_height: usize,
    /// Padding columns on the left (the right gets the rest).
    pub pad_left: usize,
    /// Padding rows on top (the bottom gets the rest).
    pub pad_top: usize,
}

impl LetterboxTransform {
    /// Horizontal scale from source to network pixels.
    pub fn scale_x(&self) -> f32 {
        self.resized_width as f32 / self.src_width as f32
    }
    /// Vertical scale from source to network pixels.
    pub fn scale_y(&self) -> f32 {
        self.resized_height as f32 / self.src_height as f32
    }

    /// Maps a point in network-input pixels to source-image pixels (not clipped).
    pub fn to_source(&self, x: f32, y: f32) -> (f32, f32) {
        ((x - self.pad_left as f32) / self.scale_x(), (y - self.pad_top as f32) / self.scale_y())
    }

    /// Maps a point in source-image pixels to network-input pixels (the inverse of [`Self::to_source`]).
    pub fn to_network(&self, x: f32, y: f32) -> (f32, f32) {
        (x * self.scale_x() + self.pad_left as f32, y * self.scale_y() + self.pad_top as f32)
    }

    /// Maps an `[x1, y1, x2, y2]` box from network to source pixels and clips it to the image.
    pub fn box_to_source(&self, b: [f32; 4]) -> [f32; 4] {
        let (x1, y1) = self.to_source(b[0], b[1]);
        let (x2, y2) = self.to_source(b[2], b[3]);
        let (w, h) = (self.src_width as f32, self.src_height as f32);
        [x1.clamp(0.0, w), y1.clamp(0.0, h), x2.clamp(0.0, w), y2.clamp(0.0, h)]
    }

    /// Maps an `[x1, y1, x2, y2]` box from source to network pixels (no clipping).
    pub fn box_to_network(&self, b: [f32; 4]) -> [f32; 4] {
        let (x1, y1) = self.to_network(b[0], b[1]);
        let (x2, y2) = self.to_network(b[2], b[3]);
        [x1, y1, x2, y2]
    }

    /// Elements of one CHW image at this size (`3 * out_width * out_height`).
    pub fn tensor_len(&self) -> usize {
        3 * self.out_width * self.out_height
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
}

/// Element types a letterbox can write: `f32` and `half::f16`.
pub trait Element: Copy + Send + Sync + Default + 'static + sealed::Sealed {
    #[doc(hidden)]
    fn from_f32(v: f32) -> Self;
    #[doc(hidden)]
    fn convert_row(dst: &mut [Self], q: &[u8], norm: &ChannelNorm);
}

/// Per-channel normalisation: `v * scale + bias` and its table for all 256 grey levels.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct ChannelNorm {
    scale: f32,
    bias: f32,
    lut16: [f16; 256],
}

impl ChannelNorm {
    fn new(mean: f32, std: f32) -> Self {
        let scale = 1.0 / (255.0 * std);
        let bias = -mean / std;
        let mut lut16 = [f16::ZERO; 256];
        for (v, e) in lut16.iter_mut().enumerate() {
            *e = f16::from_f32(v as f32 * scale + bias);
        }
        Self { scale, bias, lut16 }
    }
    fn value(&self, v: u8) -> f32 {
        v as f32 * self.scale + self.bias
    }
}

impl Element for f32 {
    fn from_f32(v: f32) -> Self {
        v
    }
    #[inline]
    fn convert_row(dst: &mut [f32], q: &[u8], norm: &ChannelNorm) {
        let (s, b) = (norm.scale, norm.bias);
        for (d, &v) in dst.iter_mut().zip(q) {
            *d = v as f32 * s + b;
        }
    }
}

impl Element for f16 {
    fn from_f32(v: f32) -> Self {
        f16::from_f32(v)
    }
    #[inline]
    fn convert_row(dst: &mut [f16], q: &[u8], norm: &ChannelNorm) {
        for (d, &v) in dst.iter_mut().zip(q) {
            *d = norm.lut16[v as usize];
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Tap {
    /// Byte offset of the first tap's pixel in a row (3 * sx).
    o0: u32,
    /// Byte offset of the second tap's pixel (clamped inside the row).
    o1: u32,
    w0: i32,
    w1: i32,
}

/// OpenCV's tap computation for one axis (`cv::resize`, `INTER_LINEAR`, fixed point).
fn taps(src: usize, dst: usize) -> Vec<Tap> {
    let scale = 1.0 / (dst as f64 / src as f64);
    (0..dst)
        .map(|d| {
            let mut f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut s = f.floor() as i64;
            f -= s as f32;
            if s < 0 {
                f = 0.0;
                s = 0;
            }
            if s >= src as i64 - 1 {
                f = 0.0;
                s = src as i64 - 1;
            }
            let s = s as usize;
            let w0 = ((1.0 - f) * COEF_SCALE).round_ties_even() as i32;
            let w1 = (f * COEF_SCALE).round_ties_even() as i32;
            Tap { o0: (3 * s) as u32, o1: (3 * (s + 1).min(src - 1)) as u32, w0, w1 }
        })
        .collect()
}

#[derive(Debug)]
struct Plan {
    src: (usize, usize),
    dst: (usize, usize),
    x: Vec<Tap>,
    y: Vec<Tap>,
}

/// A reusable letterbox: configuration plus cached tap tables and scratch rows, so that steady-state
/// calls allocate nothing.
#[derive(Debug)]
pub struct Letterbox {
    config: LetterboxConfig,
    norm: [ChannelNorm; 3],
    plan: Option<Plan>,
    vrow: Vec<i32>,
    q: Vec<u8>,
}

impl Clone for Letterbox {
    fn clone(&self) -> Self {
        Self { config: self.config.clone(), norm: self.norm.clone(), plan: None, vrow: Vec::new(), q: Vec::new() }
    }
}

impl Letterbox {
    /// A letterbox with the given settings.
    pub fn new(config: LetterboxConfig) -> Result<Self> {
        config.validate()?;
        let norm = std::array::from_fn(|c| ChannelNorm::new(config.mean[c], config.std[c]));
        Ok(Self { config, norm, plan: None, vrow: Vec::new(), q: Vec::new() })
    }

    /// The settings.
    pub fn config(&self) -> &LetterboxConfig {
        &self.config
    }

    /// The geometry an image of this size will get.
    pub fn transform_for(&self, src_width: usize, src_height: usize) -> Result<LetterboxTransform> {
        self.config.transform_for(src_width, src_height)
    }

    /// Letterboxes one image into `out`, which must hold exactly `3 * out_height * out_width`
    /// elements (CHW). Returns the transform for mapping boxes back.
    pub fn run_into<T: Element>(&mut self, image: &ImageView<'_>, out: &mut [T]) -> Result<LetterboxTransform> {
        let t = self.transform_for(image.width(), image.height())?;
        if out.len() != t.tensor_len() {
            return Err(Error::BufferSize {
                what: format!("one 3x{}x{} letterboxed image", t.out_height, t.out_width),
                expected: t.tensor_len(),
                actual: out.len(),
            });
        }
        self.fill(image, &t, out);
        Ok(t)
    }

    /// Letterboxes a batch into `out` (NCHW, `images.len()` images back to back). All images must
    /// land at the same network size (always true without rect mode).
    pub fn run_batch_into<T: Element>(
        &mut self,
        images: &[ImageView<'_>],
        out: &mut [T],
    ) -> Result<Vec<LetterboxTransform>> {
        let ts = images
            .iter()
            .enumerate()
            .map(|(i, im)| {
                self.transform_for(im.width(), im.height()).map_err(|e| match e {
                    Error::EmptyImage { width, height, .. } => {
                        Error::EmptyImage { what: format!("batch item {i}"), width, height }
                    }
                    e => e,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let Some(first) = ts.first() else {
            return Ok(ts);
        };
        if let Some((i, t)) = ts.iter().enumerate().find(|(_, t)| (t.out_width, t.out_height) != (first.out_width, first.out_height)) {
            return Err(Error::Config(format!(
                "rect-mode batch: item {i} letterboxes to {}x{} but item 0 to {}x{}; batch images of one size or disable rect_stride",
                t.out_width, t.out_height, first.out_width, first.out_height
            )));
        }
        let per = first.tensor_len();
        if out.len() != per * images.len() {
            return Err(Error::BufferSize {
                what: format!("{} letterboxed images of 3x{}x{}", images.len(), first.out_height, first.out_width),
                expected: per * images.len(),
                actual: out.len(),
            });
        }
        for ((im, t), chunk) in images.iter().zip(&ts).zip(out.chunks_exact_mut(per)) {
            self.fill(im, t, chunk);
        }
        Ok(ts)
    }

    fn fill<T: Element>(&mut self, image: &ImageView<'_>, t: &LetterboxTransform, out: &mut [T]) {
        let src = (image.width(), image.height());
        let dst = (t.resized_width, t.resized_height);
        if self.plan.as_ref().is_none_or(|p| p.src != src || p.dst != dst) {
            self.plan = Some(Plan { src, dst, x: taps(src.0, dst.0), y: taps(src.1, dst.1) });
        }
        let plan = self.plan.as_ref().expect("plan set above");
        let (ow, oh) = (t.out_width, t.out_height);
        let (nw, nh) = dst;
        let plane = ow * oh;
        // Output channel c reads input channel perm[c].
        let perm = if image.format() == self.config.output_format { [0, 1, 2] } else { [2, 1, 0] };
        let pad: [T; 3] = std::array::from_fn(|c| T::from_f32(self.norm[c].value(self.config.pad_value)));

        // Padding: top and bottom bands, and left/right columns of the image rows.
        let (top, left) = (t.pad_top, t.pad_left);
        for c in 0..3 {
            let p = &mut out[c * plane..(c + 1) * plane];
            p[..top * ow].fill(pad[c]);
            p[(top + nh) * ow..].fill(pad[c]);
            if nw != ow {
                for y in top..top + nh {
                    let row = &mut p[y * ow..(y + 1) * ow];
                    row[..left].fill(pad[c]);
                    row[left + nw..].fill(pad[c]);
                }
            }
        }

        let row_len = 3 * src.0;
        self.vrow.clear();
        self.vrow.resize(row_len + 3, 0);
        self.q.resize(3 * nw, 0);
        let vrow = &mut self.vrow[..];
        let (q0, rest) = self.q.split_at_mut(nw);
        let (q1, q2) = rest.split_at_mut(nw);
        for (dy, ty) in plan.y.iter().enumerate() {
            // Vertical pass on whole source rows (exact integers, so the order of the passes
            // does not change the result).
            let r0 = image.row(ty.o0 as usize / 3);
            if ty.w1 == 0 {
                let w0 = ty.w0;
                for (v, &a) in vrow[..row_len].iter_mut().zip(r0) {
                    *v = a as i32 * w0;
                }
            } else {
                let r1 = image.row(ty.o1 as usize / 3);
                let (w0, w1) = (ty.w0, ty.w1);
                for ((v, &a), &b) in vrow[..row_len].iter_mut().zip(r0).zip(r1) {
                    *v = a as i32 * w0 + b as i32 * w1;
                }
            }
            // Horizontal gather with rounding, into three planar rows. The row has one extra
            // (zero) pixel so both taps come from one fixed-size window: the second tap's weight
            // is 0 wherever its pixel would be the clamped border one.
            for (((tx, a), b), c) in plan.x.iter().zip(q0.iter_mut()).zip(q1.iter_mut()).zip(q2.iter_mut()) {
                let o = tx.o0 as usize;
                let p: &[i32; 6] = vrow[o..o + 6].try_into().expect("window inside padded row");
                let (w0, w1) = (tx.w0, tx.w1);
                *a = ((p[0] * w0 + p[3] * w1 + ROUND) >> 22).min(255) as u8;
                *b = ((p[1] * w0 + p[4] * w1 + ROUND) >> 22).min(255) as u8;
                *c = ((p[2] * w0 + p[5] * w1 + ROUND) >> 22).min(255) as u8;
            }
            let qs: [&[u8]; 3] = [q0, q1, q2];
            let y = top + dy;
            for c in 0..3 {
                let start = c * plane + y * ow + left;
                T::convert_row(&mut out[start..start + nw], qs[perm[c]], &self.norm[c]);
            }
        }
    }
}

/// Letterboxes one image with a one-off [`Letterbox`] (convenient; reuse a `Letterbox` in loops).
pub fn letterbox_into<T: Element>(
    config: &LetterboxConfig,
    image: &ImageView<'_>,
    out: &mut [T],
) -> Result<LetterboxTransform> {
    Letterbox::new(config.clone())?.run_into(image, out)
}

/// Resizes an 8-bit interleaved image with OpenCV `INTER_LINEAR` semantics (no padding), returning
/// packed bytes in the input's channel order. Mainly for tests and tools; the letterbox does not
/// materialise this intermediate image.
pub fn resize_linear(image: &ImageView<'_>, width: usize, height: usize) -> Result<Vec<u8>> {
    if image.width() == 0 || image.height() == 0 || width == 0 || height == 0 {
        return Err(Error::EmptyImage { what: "resize".into(), width: image.width(), height: image.height() });
    }
    let (xt, yt) = (taps(image.width(), width), taps(image.height(), height));
    let mut out = Vec::with_capacity(width * height * 3);
    let mut vrow = vec![0i32; image.width() * 3];
    for ty in &yt {
        let (r0, r1) = (image.row(ty.o0 as usize / 3), image.row(ty.o1 as usize / 3));
        for ((v, &a), &b) in vrow.iter_mut().zip(r0).zip(r1) {
            *v = a as i32 * ty.w0 + b as i32 * ty.w1;
        }
        for tx in &xt {
            for c in 0..3 {
                let s = vrow[tx.o0 as usize + c] * tx.w0 + vrow[tx.o1 as usize + c] * tx.w1;
                out.push(((s + ROUND) >> 22).min(255) as u8);
            }
        }
    }
    Ok(out)
}
