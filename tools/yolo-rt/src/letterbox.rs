//! Letterbox pre-processing: aspect-preserving bilinear resize (OpenCV `INTER_LINEAR` semantics),
//! centred constant padding, channel reorder, normalisation, HWC u8 → CHW f32/f16 in one pass
//! straight into a caller's buffer (for example a runtime's pinned host buffer).
//!
//! The resize follows OpenCV's algorithm for 8-bit images: half-pixel centres
//! (`fx = (dx + 0.5) * scale - 0.5`), taps clamped at the border and OpenCV's 11-bit coefficients
//! (`INTER_RESIZE_COEF_BITS`). The arithmetic is 16-bit fixed point (see `Plan`), within 4/256 of
//! a grey level of OpenCV's exact integer result before rounding, so results agree within one grey
//! level (OpenCV's own SIMD path rounds differently again) and are nearly always identical.
//!
//! Speed without `unsafe` or anything beyond SSE2: every pass is a plain loop over 16-bit lanes
//! that LLVM turns into 8-lane `pmulhuw`/`paddw`. Where no two output columns share a left tap
//! (every downscale), the horizontal pass blends every lane of the row with the same lane of the
//! next pixel, using per-lane weights precomputed for the plan (contiguous, vectorised), and then
//! copies one 4-byte window per output pixel; otherwise (upscales) it gathers two 8-byte windows
//! per output pixel and blends those. The plan runs either vertical-first (blend the two
//! source rows an output row needs, then resample horizontally) or horizontal-first (resample each
//! needed source row once, cached and shared by the output rows that read it, then blend),
//! whichever a cost model says is cheaper for the sizes: vertical-first for downscales,
//! horizontal-first for upscales. Exact integer downscales — the common camera cases, 1920x1080
//! and 1280x720 to 640 — take exact fast paths instead: odd factors copy one source pixel per
//! output pixel, even factors average 2x2 blocks in integers straight from the two source rows
//! (OpenCV's result bit for bit).
//! Only source rows the output reads are touched. The last pass
//! writes channel-swapped, normalised CHW rows straight into the caller's buffer (f32: a
//! multiply-add; f16: a 256-entry table per channel). Tap tables are cached per source size.

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

/// Which pass runs first. Both read only the source rows the output needs and both stay within
/// one grey level of OpenCV (tests check each); the plan picks the cheaper one for its sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Blend the two source rows of each output row, then resample that row horizontally:
    /// cheapest when there are fewer output rows than source rows in use (downscales).
    VerticalFirst,
    /// Resample each needed source row horizontally once (kept in a two-row cache and shared by
    /// every output row that reads it), then blend two such rows: cheapest for upscales, where
    /// each source row serves several output rows.
    HorizontalFirst,
    /// Every tap on both axes has weights (1, 0) — exact odd integer downscales (1920x1080 →
    /// 640x360) and same-size copies: each output pixel *is* one source pixel, copied as bytes.
    Copy,
    /// Every tap on both axes has weights (½, ½) — exact even integer downscales (1280x720 →
    /// 640x360, 2560x1440 → 640x360): each output pixel is the rounded mean of a 2x2 block,
    /// `(a + b + c + d + 2) >> 2`, which is OpenCV's result bit for bit (its 11-bit weights are
    /// exactly 1024 here; for 2x it even switches to `INTER_AREA`, the same mean).
    Pair,
}

/// Everything precomputed for one (source size, resized size) pair.
///
/// Arithmetic (all 16-bit, so SSE2 vectorises it 8 lanes wide): a grey level enters as
/// `grey * 256 + 128` ([`widen`]), each pass blends two values with 0.16 weights ([`mulhi`]), and
/// `(v + ROUND16) >> 8` gives the output grey level. The worst case stays below 65 475, so nothing
/// overflows; the truncation error is below 4/256 of a grey level on top of OpenCV's own 11-bit
/// weights.
#[derive(Debug)]
struct Plan {
    src: (usize, usize),
    dst: (usize, usize),
    order: Order,
    /// Per output column: element offset of its left tap in a row (`3 * sx`). The right tap is
    /// always 3 elements further (at the right border it reads padding with weight 0).
    xo: Vec<u32>,
    /// Per output column, replicated over 4 lanes: 0.16 weights of the left and right taps.
    xw0: Vec<[u16; 4]>,
    xw1: Vec<[u16; 4]>,
    /// When no two output columns share a left tap (every downscale): the same 0.16 weights per
    /// source *lane* — `lw[3 * s0 + c]` and `rw[3 * s0 + c]` are the left and right weights of the
    /// output column whose left tap is source column `s0`, 0 for source columns no output column
    /// starts at. The horizontal pass is then one contiguous, vectorised loop over the row
    /// ([`blend_lanes`]) followed by a 4-byte copy per output pixel ([`copy_pixels`]), with
    /// exactly the per-lane arithmetic of the gather-then-blend pass, so the same results.
    lanes: Option<(Vec<u16>, Vec<u16>)>,
    /// Per output row.
    y: Vec<RowTap>,
}

impl Plan {
    fn new(src: (usize, usize), dst: (usize, usize)) -> Self {
        let xt = taps(src.0, dst.0);
        let yt = taps(src.1, dst.1);
        let y: Vec<RowTap> = yt
            .iter()
            .map(|t| RowTap {
                r0: t.s0,
                r1: t.s1,
                w0: q16(t.w0),
                w1: if t.s1 == t.s0 { 0 } else { q16(t.w1) },
            })
            .collect();
        // Cost model in instructions per element on SSE2 (from the generated code): widening a
        // source byte ~0.5, a two-row blend ~0.9 per 16-bit lane on top of widening both rows,
        // rounding a copied row ~0.6 per lane, the gather ~8 per output pixel and the
        // horizontal blend ~1.2 per lane (4 lanes a pixel).
        let (sw3, dw) = (3.0 * src.0 as f64, dst.0 as f64);
        let hpass = 8.0 * dw + 4.0 * 1.2 * dw;
        let mut used = vec![false; src.1];
        let (mut vertical_first, mut horizontal_first) = (0.0, 0.0);
        for t in &y {
            used[t.r0] = true;
            if t.w1 == 0 {
                vertical_first += 0.5 * sw3 + hpass;
                horizontal_first += 0.6 * 4.0 * dw;
            } else {
                used[t.r1] = true;
                vertical_first += (2.0 * 0.5 + 0.9) * sw3 + hpass;
                horizontal_first += 0.9 * 4.0 * dw;
            }
        }
        let rows = used.iter().filter(|&&u| u).count() as f64;
        horizontal_first += rows * (0.5 * sw3 + hpass);
        let copy = |t: &Tap| t.w1 == 0;
        let half = 1 << (COEF_BITS - 1);
        let pair = |t: &Tap| t.w0 == half && t.w1 == half && t.s1 == t.s0 + 1;
        let order = if xt.iter().all(copy) && yt.iter().all(copy) {
            Order::Copy
        } else if xt.iter().all(pair) && yt.iter().all(pair) {
            Order::Pair
        } else if horizontal_first < vertical_first {
            Order::HorizontalFirst
        } else {
            Order::VerticalFirst
        };
        let distinct = xt.windows(2).all(|p| p[0].s0 < p[1].s0);
        let lanes = distinct.then(|| {
            let (mut lw, mut rw) = (vec![0u16; 3 * src.0], vec![0u16; 3 * src.0]);
            for t in &xt {
                lw[3 * t.s0..3 * t.s0 + 3].fill(q16(t.w0));
                rw[3 * t.s0..3 * t.s0 + 3].fill(q16(t.w1));
            }
            (lw, rw)
        });
        Self {
            src,
            dst,
            order,
            lanes,
            // `s0 + 1 == s1` except at the right border, where OpenCV's weight w1 is 0.
            xo: xt.iter().map(|t| (3 * t.s0) as u32).collect(),
            xw0: xt.iter().map(|t| [q16(t.w0); 4]).collect(),
            xw1: xt.iter().map(|t| [q16(t.w1); 4]).collect(),
            y,
        }
    }

    /// Resizes `image` row by row, calling `emit(dy, px)` for each output row with its pixels as
    /// grey levels in source channel order (lane 3 unused).
    fn run(&self, image: &ImageView<'_>, s: &mut Scratch, mut emit: impl FnMut(usize, &[[u8; 4]])) {
        let n = 3 * self.src.0;
        let nw = self.dst.0;
        // Rows plus 8 zero elements, so every column's 8-element window is in bounds.
        s.v.resize(n + 8, 0);
        s.v[n..].fill(0);
        s.g0.resize(nw, [0; 4]);
        s.g1.resize(nw, [0; 4]);
        s.px.resize(nw, [0; 4]);
        s.q.resize(n, 0);
        for h in &mut s.h {
            h.resize(nw, [0; 4]);
        }
        // The row cache belongs to this image only.
        s.h_row = [usize::MAX; 2];
        for (dy, ty) in self.y.iter().enumerate() {
            match self.order {
                Order::VerticalFirst => self.vertical_first(image, ty, s),
                Order::HorizontalFirst => self.horizontal_first(image, ty, s),
                Order::Copy => copy_pixels(image.row(ty.r0), &self.xo, &mut s.px),
                Order::Pair => self.pair(image, ty, s),
            }
            emit(dy, &s.px);
        }
    }

    /// [`Order::Pair`]: sums the two source rows (u8 + u8 → u16, vectorised), gathers each output
    /// pixel's two horizontal neighbours and takes the rounded mean of the four.
    fn pair(&self, image: &ImageView<'_>, ty: &RowTap, s: &mut Scratch) {
        let n = 3 * self.src.0;
        if self.lanes.is_some() {
            // Every output column starts at an even source column: sum each lane with the lane
            // of the next pixel in both rows, round, and copy the output columns' pixels out of
            // that row. The same `(a + b + c + d + 2) >> 2` per lane as below.
            pair_lanes(&mut s.q, image.row(ty.r0), image.row(ty.r1));
            copy_pixels(&s.q, &self.xo, &mut s.px);
            return;
        }
        add_rows(&mut s.v[..n], image.row(ty.r0), image.row(ty.r1));
        gather(&s.v, &self.xo, &mut s.g0, &mut s.g1);
        let px = s.px.as_flattened_mut();
        let m = px.len();
        let (g0, g1) = (&s.g0.as_flattened()[..m], &s.g1.as_flattened()[..m]);
        for ((p, &a), &b) in px.iter_mut().zip(g0).zip(g1) {
            *p = ((a + b + 2) >> 2) as u8;
        }
    }

    fn vertical_first(&self, image: &ImageView<'_>, ty: &RowTap, s: &mut Scratch) {
        let n = 3 * self.src.0;
        // 1. Vertical pass on the two source rows (contiguous, vectorised).
        if ty.w1 == 0 {
            widen_row(&mut s.v[..n], image.row(ty.r0));
        } else {
            let (r0, r1) = (image.row(ty.r0), image.row(ty.r1));
            blend(&mut s.v[..n], r0, r1, ty.w0, ty.w1, widen, |v| v);
        }
        // 2. Blend every lane with the lane of the next source pixel using the weights of the
        // output column starting there, then copy the output columns out (downscales).
        if let Some((lw, rw)) = &self.lanes {
            blend_lanes(&mut s.q, &s.v, lw, rw);
            copy_pixels(&s.q, &self.xo, &mut s.px);
            return;
        }
        // 2. Gather both taps' channels per output column; 3. blend them.
        gather(&s.v, &self.xo, &mut s.g0, &mut s.g1);
        let px = s.px.as_flattened_mut();
        let m = px.len();
        let (g0, g1) = (&s.g0.as_flattened()[..m], &s.g1.as_flattened()[..m]);
        let (w0, w1) = (&self.xw0.as_flattened()[..m], &self.xw1.as_flattened()[..m]);
        for ((((p, &a), &b), &x), &y) in px.iter_mut().zip(g0).zip(g1).zip(w0).zip(w1) {
            let h = mulhi(a, x) + mulhi(b, y);
            *p = ((h + ROUND16) >> 8) as u8;
        }
    }

    /// Horizontally resamples source row `r` into `h` (values `grey * 256 + 128`).
    fn horizontal(&self, image: &ImageView<'_>, r: usize, s: &mut ScratchRows<'_>) {
        let n = 3 * self.src.0;
        widen_row(&mut s.row[..n], image.row(r));
        gather(s.row, &self.xo, s.g0, s.g1);
        let h = s.h.as_flattened_mut();
        let m = h.len();
        let (g0, g1) = (&s.g0.as_flattened()[..m], &s.g1.as_flattened()[..m]);
        let (w0, w1) = (&self.xw0.as_flattened()[..m], &self.xw1.as_flattened()[..m]);
        for ((((h, &a), &b), &x), &y) in h.iter_mut().zip(g0).zip(g1).zip(w0).zip(w1) {
            *h = mulhi(a, x) + mulhi(b, y);
        }
    }

    fn horizontal_first(&self, image: &ImageView<'_>, ty: &RowTap, s: &mut Scratch) {
        // 1. Make sure both source rows are resampled, reusing cached ones.
        let need: &[usize] = if ty.w1 == 0 {
            &[ty.r0]
        } else {
            &[ty.r0, ty.r1]
        };
        for &r in need {
            if !s.h_row.contains(&r) {
                // Evict the slot this output row does not read.
                let slot = usize::from(s.h_row[0] == ty.r0 || s.h_row[0] == ty.r1);
                let [h0, h1] = &mut s.h;
                let h = if slot == 0 { h0 } else { h1 };
                self.horizontal(
                    image,
                    r,
                    &mut ScratchRows {
                        row: &mut s.v,
                        g0: &mut s.g0,
                        g1: &mut s.g1,
                        h,
                    },
                );
                s.h_row[slot] = r;
            }
        }
        let slot_of = |r: usize| usize::from(s.h_row[0] != r);
        let px = s.px.as_flattened_mut();
        let m = px.len();
        let a = &s.h[slot_of(ty.r0)].as_flattened()[..m];
        // 2. Vertical blend and rounding, lane-wise (vectorised).
        if ty.w1 == 0 {
            for (p, &a) in px.iter_mut().zip(a) {
                *p = ((a + ROUND16) >> 8) as u8;
            }
        } else {
            let b = &s.h[slot_of(ty.r1)].as_flattened()[..m];
            blend(
                px,
                a,
                b,
                ty.w0,
                ty.w1,
                |v| v,
                |v| ((v + ROUND16) >> 8) as u8,
            );
        }
    }
}

/// Widens a row of grey levels to `grey * 256 + 128` ([`widen`]). Not inlined: as its own
/// function the slices are known not to alias, so it vectorises.
#[inline(never)]
fn widen_row(dst: &mut [u16], src: &[u8]) {
    for (d, &a) in dst.iter_mut().zip(src) {
        *d = widen(a);
    }
}

/// `dst = a + b` widened to 16 bits ([`Order::Pair`]'s vertical sum). Not inlined, so that it
/// vectorises (see [`widen_row`]).
#[inline(never)]
fn add_rows(dst: &mut [u16], a: &[u8], b: &[u8]) {
    for ((d, &a), &b) in dst.iter_mut().zip(a).zip(b) {
        *d = u16::from(a) + u16::from(b);
    }
}

/// [`Order::Copy`]: output pixel `x` is the source pixel at byte offset `xo[x]` of `row`, copied
/// as one 4-byte load (lane 3 is the next pixel's first byte, unused) — except the last columns,
/// whose 4-byte window would end past the row.
#[inline(never)]
fn copy_pixels(row: &[u8], xo: &[u32], px: &mut [[u8; 4]]) {
    // `xo` increases, so the columns whose window fits form a prefix.
    let fit = xo.partition_point(|&o| o as usize + 4 <= row.len());
    let (head, tail) = px.split_at_mut(fit.min(px.len()));
    // In bounds by the partition; the `min` (with `last` known to be `len - 4`) lets LLVM drop
    // the per-column check. A row shorter than 4 bytes has an empty head.
    if let Some(last) = row.len().checked_sub(4) {
        for (p, &o) in head.iter_mut().zip(xo) {
            let o = (o as usize).min(last);
            *p = row[o..o + 4].try_into().expect("4 bytes");
        }
    }
    for (p, &o) in tail.iter_mut().zip(&xo[fit..]) {
        let o = o as usize;
        *p = [row[o], row[o + 1], row[o + 2], 0];
    }
}

/// `dst = out(inp(a) * w0 + inp(b) * w1)` in 0.16 fixed point, lane-wise. Written over explicit
/// 8-lane chunks: as a plain loop with loop-invariant weights LLVM vectorises it 4 lanes wide in
/// 32 bits (with SSE2's slow emulated 32-bit multiply) instead of 8 lanes of `pmulhuw`. Not inlined, so
/// that the slices keep their no-alias guarantee, which the 8-lane (SLP) vectoriser needs.
#[inline(never)]
fn blend<A: Copy, D>(
    dst: &mut [D],
    a: &[A],
    b: &[A],
    w0: u16,
    w1: u16,
    inp: impl Fn(A) -> u16,
    out: impl Fn(u16) -> D,
) {
    let (w0v, w1v) = ([w0; 8], [w1; 8]);
    let n = dst.len().min(a.len()).min(b.len());
    let n8 = n - n % 8;
    let (d8, a8, b8) = (&mut dst[..n8], &a[..n8], &b[..n8]);
    for ((d, a), b) in d8
        .chunks_exact_mut(8)
        .zip(a8.chunks_exact(8))
        .zip(b8.chunks_exact(8))
    {
        for i in 0..8 {
            d[i] = out(mulhi(inp(a[i]), w0v[i]) + mulhi(inp(b[i]), w1v[i]));
        }
    }
    for ((d, &a), &b) in dst[n8..n].iter_mut().zip(&a[n8..n]).zip(&b[n8..n]) {
        *d = out(mulhi(inp(a), w0) + mulhi(inp(b), w1));
    }
}

/// `q[k] = round(v[k] * lw[k] + v[k + 3] * rw[k])` in 0.16 fixed point: each lane blended with
/// the same lane of the next source pixel (`v` has zero padding past the row), rounded to a grey
/// level exactly as the gather-then-blend pass does. Over explicit 8-lane chunks and not inlined,
/// for the same reasons as [`blend`].
#[inline(never)]
fn blend_lanes(q: &mut [u8], v: &[u16], lw: &[u16], rw: &[u16]) {
    let n = q
        .len()
        .min(lw.len())
        .min(rw.len())
        .min(v.len().saturating_sub(3));
    let (q, a, b, lw, rw) = (&mut q[..n], &v[..n], &v[3..n + 3], &lw[..n], &rw[..n]);
    let n8 = n - n % 8;
    for ((((d, a), b), x), y) in q[..n8]
        .chunks_exact_mut(8)
        .zip(a.chunks_exact(8))
        .zip(b.chunks_exact(8))
        .zip(lw.chunks_exact(8))
        .zip(rw.chunks_exact(8))
    {
        for i in 0..8 {
            d[i] = ((mulhi(a[i], x[i]) + mulhi(b[i], y[i]) + ROUND16) >> 8) as u8;
        }
    }
    for i in n8..n {
        q[i] = ((mulhi(a[i], lw[i]) + mulhi(b[i], rw[i]) + ROUND16) >> 8) as u8;
    }
}

/// `q[k] = (a[k] + a[k + 3] + b[k] + b[k + 3] + 2) >> 2` for two source rows: [`Order::Pair`]'s
/// 2x2 mean of every lane with the same lane of the next pixel (the last pixel's lanes, which no
/// output column starts at, are left as they are).
#[inline(never)]
fn pair_lanes(q: &mut [u8], a: &[u8], b: &[u8]) {
    let n = q.len().min(a.len()).min(b.len()).saturating_sub(3);
    let (q, a0, a1, b0, b1) = (&mut q[..n], &a[..n], &a[3..n + 3], &b[..n], &b[3..n + 3]);
    for ((((d, &a0), &a1), &b0), &b1) in q.iter_mut().zip(a0).zip(a1).zip(b0).zip(b1) {
        let s = u16::from(a0) + u16::from(a1) + u16::from(b0) + u16::from(b1);
        *d = ((s + 2) >> 2) as u8;
    }
}

/// Copies, per output column, the 4-lane windows of its left and right taps out of `row` (which
/// has at least 8 elements past every offset): the only scalar step, two loads and two stores.
#[inline]
fn gather<E: Copy>(row: &[E], xo: &[u32], g0: &mut [[E; 4]], g1: &mut [[E; 4]]) {
    // Offsets are in bounds by construction; the `min` (with `last` known to be `len - 8`) lets
    // LLVM drop the per-column check.
    let last = row
        .len()
        .checked_sub(8)
        .expect("rows carry 8 elements of padding");
    for ((a, b), &o) in g0.iter_mut().zip(g1.iter_mut()).zip(xo) {
        let o = (o as usize).min(last);
        let w = &row[o..o + 8];
        *a = w[..4].try_into().expect("4 lanes");
        *b = w[3..7].try_into().expect("4 lanes");
    }
}

/// Scratch rows reused between calls.
#[derive(Debug, Default)]
struct Scratch {
    /// Vertically blended row (vertical-first) or widened source row (horizontal-first), with 8
    /// zero elements of padding.
    v: Vec<u16>,
    /// Both taps' lanes per output column.
    g0: Vec<[u16; 4]>,
    g1: Vec<[u16; 4]>,
    /// Two horizontally resampled source rows and which rows they are (horizontal-first).
    h: [Vec<[u16; 4]>; 2],
    h_row: [usize; 2],
    /// The output row's pixels.
    px: Vec<[u8; 4]>,
    /// A horizontally resampled row in source lanes ([`blend_lanes`], [`pair_lanes`]).
    q: Vec<u8>,
}

/// The scratch a horizontal pass writes, borrowed apart from the row cache.
struct ScratchRows<'a> {
    row: &'a mut [u16],
    g0: &'a mut [[u16; 4]],
    g1: &'a mut [[u16; 4]],
    h: &'a mut [[u16; 4]],
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
        plan.run(image, &mut self.scratch, |dy, px| {
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
            T::convert_pixels(rows, px, norm);
        });
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
    plan.run(image, &mut scratch, |_, px| {
        out.extend(px.iter().flat_map(|p| [p[0], p[1], p[2]]));
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Image;

    /// OpenCV's scalar `INTER_LINEAR` for 8-bit images, exactly: 11-bit weights, 32-bit sums,
    /// `(sum + 2^21) >> 22`.
    fn opencv_exact(img: &Image, dw: usize, dh: usize) -> Vec<u8> {
        let (xt, yt) = (taps(img.width, dw), taps(img.height, dh));
        let p = |x: usize, y: usize, c: usize| i32::from(img.data[(y * img.width + x) * 3 + c]);
        let mut out = Vec::with_capacity(dw * dh * 3);
        for ty in &yt {
            for tx in &xt {
                for c in 0..3 {
                    let row = |y| p(tx.s0, y, c) * tx.w0 + p(tx.s1, y, c) * tx.w1;
                    let s = row(ty.s0) * ty.w0 + row(ty.s1) * ty.w1;
                    out.push(((s + (1 << 21)) >> 22).clamp(0, 255) as u8);
                }
            }
        }
        out
    }

    fn image(w: usize, h: usize, seed: u32) -> Image {
        // Gradients, hard edges and pseudo-random noise (an LCG, to stay dependency-free).
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        let mut data = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let noise = (state >> 24) as usize % 61;
                    let edge = if (x / 7 + y / 5) % 2 == 0 { 0 } else { 160 };
                    data.push(((x * (c + 1) * 5 + y * 3 + edge + noise) % 256) as u8);
                }
            }
        }
        Image::from_raw(data, w, h, PixelFormat::Bgr).unwrap()
    }

    fn resize_with(img: &Image, dw: usize, dh: usize, order: Order) -> Vec<u8> {
        let mut plan = Plan::new((img.width, img.height), (dw, dh));
        plan.order = order;
        let mut out = Vec::new();
        plan.run(&img.view(), &mut Scratch::default(), |_, px| {
            out.extend(px.iter().flat_map(|p| [p[0], p[1], p[2]]));
        });
        out
    }

    /// Both pass orders, whichever the cost model would pick, against OpenCV's exact integer
    /// arithmetic: never more than one grey level apart and almost always identical.
    #[test]
    fn both_orders_match_opencv_fixed_point() {
        let cases = [
            (1000, 750, 640, 480),
            (333, 517, 206, 320),
            (320, 240, 640, 480),
            (97, 61, 160, 101),
            (64, 48, 64, 48),
            (300, 9, 7, 100),
            (2, 2, 9, 5),
            (1, 1, 3, 2),
            (5, 1, 2, 1),
        ];
        for (i, &(sw, sh, dw, dh)) in cases.iter().enumerate() {
            let img = image(sw, sh, i as u32);
            let want = opencv_exact(&img, dw, dh);
            for order in [Order::VerticalFirst, Order::HorizontalFirst] {
                let got = resize_with(&img, dw, dh, order);
                assert_eq!(got.len(), want.len());
                let max = got.iter().zip(&want).map(|(a, b)| a.abs_diff(*b)).max();
                let same = got.iter().zip(&want).filter(|(a, b)| a == b).count();
                let frac = same as f64 / want.len() as f64;
                assert!(
                    max <= Some(1) && frac > 0.98,
                    "{sw}x{sh} -> {dw}x{dh} {order:?}: max diff {max:?}, {frac:.4} identical"
                );
            }
        }
    }

    #[test]
    fn cost_model_picks_horizontal_first_for_upscales_only() {
        assert_eq!(
            Plan::new((320, 240), (640, 480)).order,
            Order::HorizontalFirst
        );
        assert_eq!(
            Plan::new((1921, 1080), (640, 360)).order,
            Order::VerticalFirst
        );
        assert_eq!(
            Plan::new((1000, 750), (640, 480)).order,
            Order::VerticalFirst
        );
    }

    /// Exact integer downscales (and same-size copies) take the fast paths, which are OpenCV's
    /// integer result bit for bit, including the rightmost columns of [`copy_pixels`].
    #[test]
    fn integer_factors_take_exact_fast_paths() {
        let cases = [
            (1920, 1080, 640, 360, Order::Copy),
            (1280, 720, 640, 360, Order::Pair),
            (2560, 1440, 640, 360, Order::Pair),
            (96, 54, 32, 18, Order::Copy),
            (64, 36, 32, 18, Order::Pair),
            (40, 30, 40, 30, Order::Copy),
            (2, 1, 2, 1, Order::Copy),
            (55, 35, 11, 7, Order::Copy),
            (128, 72, 32, 18, Order::Pair),
            (4, 2, 2, 1, Order::Pair),
        ];
        for (i, &(sw, sh, dw, dh, order)) in cases.iter().enumerate() {
            assert_eq!(Plan::new((sw, sh), (dw, dh)).order, order, "{sw}x{sh}");
            let img = image(sw, sh, 100 + i as u32);
            let want = opencv_exact(&img, dw, dh);
            let got = resize_with(&img, dw, dh, order);
            assert!(
                got == want,
                "{sw}x{sh} -> {dw}x{dh} {order:?} differs from OpenCV"
            );
            // The general passes agree within one grey level.
            let general = resize_with(&img, dw, dh, Order::VerticalFirst);
            let max = general.iter().zip(&got).map(|(a, b)| a.abs_diff(*b)).max();
            assert!(max <= Some(1), "{sw}x{sh}: {max:?}");
        }
        // Non-uniform weights never take them.
        assert_eq!(
            Plan::new((1000, 750), (640, 480)).order,
            Order::VerticalFirst
        );
        assert_eq!(
            Plan::new((320, 240), (640, 480)).order,
            Order::HorizontalFirst
        );
        assert_eq!(
            Plan::new((1281, 720), (640, 360)).order,
            Order::VerticalFirst
        );
    }

    /// The worst case of the 16-bit arithmetic (all 255, weights rounding up) neither overflows
    /// (debug builds would panic) nor leaves 255.
    #[test]
    fn white_stays_white_without_overflow() {
        let img = Image::from_raw(vec![255; 37 * 23 * 3], 37, 23, PixelFormat::Rgb).unwrap();
        for (dw, dh) in [(11, 7), (100, 61), (37, 23), (53, 41)] {
            for order in [Order::VerticalFirst, Order::HorizontalFirst] {
                let got = resize_with(&img, dw, dh, order);
                assert!(got.iter().all(|&v| v == 255), "{dw}x{dh} {order:?}");
            }
        }
        let black = Image::from_raw(vec![0; 37 * 23 * 3], 37, 23, PixelFormat::Rgb).unwrap();
        for order in [Order::VerticalFirst, Order::HorizontalFirst] {
            assert!(resize_with(&black, 53, 41, order).iter().all(|&v| v == 0));
        }
    }
}
