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
        Self {
            width: size,
            height: size,
            ..Self::default()
        }
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
        if self.std.iter().any(|s| !s.is_finite() || *s == 0.0)
            || self.mean.iter().any(|m| !m.is_finite())
        {
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
            return Err(Error::EmptyImage {
                what: "frame".into(),
                width: src_width,
                height: src_height,
            });
        }
        let mut r =
            (self.height as f64 / src_height as f64).min(self.width as f64 / src_width as f64);
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
        (
            (x - self.pad_left as f32) / self.scale_x(),
            (y - self.pad_top as f32) / self.scale_y(),
        )
    }

    /// Maps a point in source-image pixels to network-input pixels (the inverse of [`Self::to_source`]).
    pub fn to_network(&self, x: f32, y: f32) -> (f32, f32) {
        (
            x * self.scale_x() + self.pad_left as f32,
            y * self.scale_y() + self.pad_top as f32,
        )
    }

    /// Maps an `[x1, y1, x2, y2]` box from network to source pixels and clips it to the image.
    pub fn box_to_source(&self, b: [f32; 4]) -> [f32; 4] {
        let (x1, y1) = self.to_source(b[0], b[1]);
        let (x2, y2) = self.to_source(b[2], b[3]);
        let (w, h) = (self.src_width as f32, self.src_height as f32);
        [
            x1.clamp(0.0, w),
            y1.clamp(0.0, h),
            x2.clamp(0.0, w),
            y2.clamp(0.0, h),
        ]
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
    /// Writes one resized row: `px[x][k]` is the grey level of source channel `k` at column `x`
    /// (lane 3 unused); `dst[k]` is the output row that channel goes to, normalised with `norm[k]`.
    #[doc(hidden)]
    fn convert_pixels(dst: [&mut [Self]; 3], px: &[[u8; 4]], norm: [&ChannelNorm; 3]);
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
    fn convert_pixels(dst: [&mut [f32]; 3], px: &[[u8; 4]], norm: [&ChannelNorm; 3]) {
        let n = px.len();
        let [d0, d1, d2] = dst;
        let (d0, d1, d2) = (&mut d0[..n], &mut d1[..n], &mut d2[..n]);
        let [(s0, b0), (s1, b1), (s2, b2)] = norm.map(|m| (m.scale, m.bias));
        // One 32-bit load per pixel, lanes split with shifts: vectorises without shuffles.
        for (((p, a), b), c) in px.iter().zip(d0).zip(d1).zip(d2) {
            let v = u32::from_le_bytes(*p);
            *a = (v & 0xff) as i32 as f32 * s0 + b0;
            *b = ((v >> 8) & 0xff) as i32 as f32 * s1 + b1;
            *c = ((v >> 16) & 0xff) as i32 as f32 * s2 + b2;
        }
    }
}

impl Element for f16 {
    fn from_f32(v: f32) -> Self {
        f16::from_f32(v)
    }
    #[inline]
    fn convert_pixels(dst: [&mut [f16]; 3], px: &[[u8; 4]], norm: [&ChannelNorm; 3]) {
        let n = px.len();
        let [d0, d1, d2] = dst;
        let (d0, d1, d2) = (&mut d0[..n], &mut d1[..n], &mut d2[..n]);
        let [l0, l1, l2] = norm.map(|m| &m.lut16);
        for (((p, a), b), c) in px.iter().zip(d0).zip(d1).zip(d2) {
            *a = l0[usize::from(p[0])];
            *b = l1[usize::from(p[1])];
            *c = l2[usize::from(p[2])];
        }
    }
}

/// One output coordinate's taps, as OpenCV computes them (`cv::resize`, `INTER_LINEAR`): the first
/// source index, the second (clamped inside the image) and 11-bit weights.
#[derive(Debug, Clone, Copy)]
struct Tap {
    s0: usize,
    s1: usize,
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
            Tap {
                s0: s,
                s1: (s + 1).min(src - 1),
                w0,
                w1,
            }
        })
        .collect()
}

/// An 11-bit OpenCV weight as a 0.16 fixed-point multiplier for [`mulhi`] (2048 saturates to
/// 65535, an error below 1/256 of a grey level).
fn q16(w: i32) -> u16 {
    (w << (16 - COEF_BITS)).clamp(0, 0xffff) as u16
}

/// High half of an unsigned 16-bit product (SSE2 `pmulhuw` once vectorised).
#[inline(always)]
fn mulhi(a: u16, b: u16) -> u16 {
    ((u32::from(a) * u32::from(b)) >> 16) as u16
}

/// A grey level as `grey * 256 + 128`: the half that rounds the final `>> 8` to nearest rides
/// along from the start (the weights sum to 1), and the `| 128` keeps LLVM from narrowing
/// `(a << 8) * w >> 16` into a 32-bit multiply that SSE2 lacks, so it stays one `pmulhuw`.
#[inline(always)]
fn widen(a: u8) -> u16 {
    u16::from(a) << 8 | 128
}

/// Added before the final `>> 8`: the mean truncation of the four `mulhi` (about 2/256 of a grey
/// level), so results are rounded to nearest like OpenCV's.
const ROUND16: u16 = 2;

/// One output row's vertical taps: source rows and 0.16 weights (`w1 == 0`: copy row `r0`).
#[derive(Debug, Clone, Copy)]
struct RowTap {
    r0: usize,
    r1: usize,
    w0: u16,
    w1: u16,
}

/// Everything precomputed for one (source size, resized size) pair.
///
/// Arithmetic (all 16-bit, so SSE2 vectorises it 8 lanes wide): a row of the vertical blend holds
/// `grey * 256` (`mulhi(a << 8, w0) + mulhi(b << 8, w1)`), the horizontal blend multiplies two of
/// those by 0.16 weights again, and `(h + ROUND16) >> 8` gives the grey level. The worst case stays
/// below 65 473, so nothing overflows; the truncation error is below 4/256 of a grey level on top
/// of OpenCV's own 11-bit weights.
#[derive(Debug)]
struct Plan {
    src: (usize, usize),
    dst: (usize, usize),
    /// Per output column: element offset of its left tap in a blended row (`3 * sx`). The right tap
    /// is always 3 elements further (at the right border it reads padding with weight 0).
    xo: Vec<u32>,
    /// Per output column, replicated over 4 lanes: 0.16 weights of the left and right taps.
    xw0: Vec<[u16; 4]>,
    xw1: Vec<[u16; 4]>,
    /// Per output row.
    y: Vec<RowTap>,
}

impl Plan {
    fn new(src: (usize, usize), dst: (usize, usize)) -> Self {
        let xt = taps(src.0, dst.0);
        let yt = taps(src.1, dst.1);
        Self {
            src,
            dst,
            // `s0 + 1 == s1` except at the right border, where OpenCV's weight w1 is 0.
            xo: xt.iter().map(|t| (3 * t.s0) as u32).collect(),
            xw0: xt.iter().map(|t| [q16(t.w0); 4]).collect(),
            xw1: xt.iter().map(|t| [q16(t.w1); 4]).collect(),
            y: yt
                .iter()
                .map(|t| RowTap {
                    r0: t.s0,
                    r1: t.s1,
                    w0: q16(t.w0),
                    w1: if t.s1 == t.s0 { 0 } else { q16(t.w1) },
                })
                .collect(),
        }
    }

    /// Resizes output row `dy` into `s.px` (grey levels in source channel order, lane 3 unused).
    fn resize_row(&self, image: &ImageView<'_>, dy: usize, s: &mut Scratch) {
        let n = 3 * self.src.0;
        let nw = self.dst.0;
        // Blended row plus 8 zero elements, so every column's 8-element window is in bounds.
        s.v.resize(n + 8, 0);
        s.g0.resize(nw, [0; 4]);
        s.g1.resize(nw, [0; 4]);
        s.px.resize(nw, [0; 4]);
        let ty = self.y[dy];
        let v = &mut s.v[..n];
        let r0 = &image.row(ty.r0)[..n];
        // 1. Vertical pass on the two source rows (contiguous, vectorised).
        if ty.w1 == 0 {
            for (v, &a) in v.iter_mut().zip(r0) {
                *v = widen(a);
            }
        } else {
            let r1 = &image.row(ty.r1)[..n];
            let (w0, w1) = (ty.w0, ty.w1);
            for ((v, &a), &b) in v.iter_mut().zip(r0).zip(r1) {
                *v = mulhi(widen(a), w0) + mulhi(widen(b), w1);
            }
        }
        // 2. Gather: one 16-byte window per output column holds both taps' three channels; copy
        //    the two 4-lane halves (the only scalar step, two loads and stores per column).
        let v = &s.v[..];
        for ((a, b), &o) in s.g0.iter_mut().zip(s.g1.iter_mut()).zip(&self.xo) {
            let o = o as usize;
            let w = &v[o..o + 8];
            *a = w[..4].try_into().expect("4 lanes");
            *b = w[3..7].try_into().expect("4 lanes");
        }
        // 3. Horizontal blend and rounding, lane-wise over flat 16-bit arrays (vectorised).
        let px = s.px.as_flattened_mut();
        let m = px.len();
        let (g0, g1) = (&s.g0.as_flattened()[..m], &s.g1.as_flattened()[..m]);
        let (w0, w1) = (&self.xw0.as_flattened()[..m], &self.xw1.as_flattened()[..m]);
        for ((((p, &a), &b), &x), &y) in px.iter_mut().zip(g0).zip(g1).zip(w0).zip(w1) {
            let h = mulhi(a, x) + mulhi(b, y);
            *p = ((h + ROUND16) >> 8) as u8;
        }
    }
}

/// Scratch rows reused between calls.
#[derive(Debug, Default)]
struct Scratch {
    v: Vec<u16>,
    g0: Vec<[u16; 4]>,
    g1: Vec<[u16; 4]>,
    px: Vec<[u8; 4]>,
}

/// A reusable letterbox: configuration plus cached tap tables and scratch rows, so that steady-state
/// calls allocate nothing.
#[derive(Debug)]
pub struct Letterbox {
    config: LetterboxConfig,
    norm: [ChannelNorm; 3],
    plan: Option<Plan>,
    scratch: Scratch,
}

impl Clone for Letterbox {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            norm: self.norm.clone(),
            plan: None,
            scratch: Scratch::default(),
        }
    }
}
impl Letterbox {
    /// A letterbox with the given settings.
    pub fn new(config: LetterboxConfig) -> Result<Self> {
        config.validate()?;
        let norm = std::array::from_fn(|c| ChannelNorm::new(config.mean[c], config.std[c]));
        Ok(Self {
            config,
            norm,
            plan: None,
            scratch: Scratch::default(),
        })
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
    pub fn run_into<T: Element>(
        &mut self,
        image: &ImageView<'_>,
        out: &mut [T],
    ) -> Result<LetterboxTransform> {
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
                self.transform_for(im.width(), im.height())
                    .map_err(|e| match e {
                        Error::EmptyImage { width, height, .. } => Error::EmptyImage {
                            what: format!("batch item {i}"),
                            width,
                            height,
                        },
                        e => e,
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let Some(first) = ts.first() else {
            return Ok(ts);
        };
        if let Some((i, t)) = ts
            .iter()
            .enumerate()
            .find(|(_, t)| (t.out_width, t.out_height) != (first.out_width, first.out_height))
        {
            return Err(Error::Config(format!(
                "rect-mode batch: item {i} letterboxes to {}x{} but item 0 to {}x{}; batch images of one size or disable rect_stride",
                t.out_width, t.out_height, first.out_width, first.out_height
            )));
        }
        let per = first.tensor_len();
        if out.len() != per * images.len() {
            return Err(Error::BufferSize {
                what: format!(
                    "{} letterboxed images of 3x{}x{}",
                    images.len(),
                    first.out_height,
                    first.out_width
                ),
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
        if self
            .plan
            .as_ref()
            .is_none_or(|p| p.src != src || p.dst != dst)
        {
            self.plan = Some(Plan::new(src, dst));
        }
        let plan = self.plan.as_ref().expect("plan set above");
        let (ow, oh) = (t.out_width, t.out_height);
        let (nw, nh) = dst;
        let plane = ow * oh;
        // Output channel c reads source channel perm[c] (perm is its own inverse).
        let perm = if image.format() == self.config.output_format {
            [0, 1, 2]
        } else {
            [2, 1, 0]
        };
        let pad: [T; 3] =
            std::array::from_fn(|c| T::from_f32(self.norm[c].value(self.config.pad_value)));

        let (top, left) = (t.pad_top, t.pad_left);
        let (p0, rest) = out.split_at_mut(plane);
        let (p1, p2) = rest.split_at_mut(plane);
        let mut planes = [p0, p1, p2];
        // Padding: top and bottom bands, and left/right columns of the image rows.
        for (p, &v) in planes.iter_mut().zip(&pad) {
            p[..top * ow].fill(v);
            p[(top + nh) * ow..].fill(v);
            if nw != ow {
                for row in p[top * ow..(top + nh) * ow].chunks_exact_mut(ow) {
                    row[..left].fill(v);
                    row[left + nw..].fill(v);
                }
            }
        }
        // Source channel k goes to output plane perm[k], normalised with that plane's settings.
        let norm = perm.map(|c| &self.norm[c]);
        for dy in 0..nh {
            plan.resize_row(image, dy, &mut self.scratch);
            let start = (top + dy) * ow + left;
            let [a, b, c] = &mut planes;
            let mut rows = [
                &mut a[start..start + nw],
                &mut b[start..start + nw],
                &mut c[start..start + nw],
            ];
            if perm[0] != 0 {
                rows.swap(0, 2);
            }
            T::convert_pixels(rows, &self.scratch.px, norm);
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
/// packed bytes in the input's channel order. Same arithmetic as the letterbox (so tests of this
/// function test its resize); the letterbox itself never materialises this intermediate image.
pub fn resize_linear(image: &ImageView<'_>, width: usize, height: usize) -> Result<Vec<u8>> {
    if image.width() == 0 || image.height() == 0 || width == 0 || height == 0 {
        return Err(Error::EmptyImage {
            what: "resize".into(),
            width: image.width(),
            height: image.height(),
        });
    }
    let plan = Plan::new((image.width(), image.height()), (width, height));
    let mut scratch = Scratch::default();
    let mut out = Vec::with_capacity(width * height * 3);
    for dy in 0..height {
        plan.resize_row(image, dy, &mut scratch);
        out.extend(scratch.px.iter().flat_map(|p| [p[0], p[1], p[2]]));
    }
    Ok(out)
}
