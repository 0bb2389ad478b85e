//! Streamed per-tensor histograms of |x| with bounded memory.
//!
//! A [`Histogram`] holds a fixed number of bins over `[0, range)` of the absolute value plus the exact
//! minimum and maximum seen. The first non-zero value sets `range` to the batch's max |x|; when a later
//! batch exceeds it, `range` doubles (adjacent bins merge pairwise, exactly) until the new values fit.
//! Memory is `bins × 8` bytes per tensor, independent of how many activations are streamed through.
//! [`Histogram::min_max_only`] keeps the exact min/max and counts without bins (all that min/max calibration
//! needs, and cheaper to stream).

use serde::Serialize;

/// Bins of the |x| histogram (TensorRT's entropy calibrator uses 2048).
pub const DEFAULT_BINS: usize = 2048;

/// Histogram of |x| for one tensor, with exact min/max.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Histogram {
    bins: Vec<u64>,
    range: f32,
    min: f32,
    max: f32,
    count: u64,
    nonfinite: u64,
}

impl Histogram {
    /// An empty histogram with `bins` bins (at least 2, even).
    pub fn new(bins: usize) -> Histogram {
        let bins = bins.max(2).next_multiple_of(2);
        Histogram {
            bins: vec![0; bins],
            range: 0.0,
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            count: 0,
            nonfinite: 0,
        }
    }

    /// A histogram without bins: exact min/max, counts and non-finite counts only ([`Histogram::is_binned`] is
    /// false; its [`Histogram::range`] stays 0).
    pub fn min_max_only() -> Histogram {
        Histogram {
            bins: Vec::new(),
            ..Histogram::new(2)
        }
    }

    /// False for a [`Histogram::min_max_only`] histogram.
    pub fn is_binned(&self) -> bool {
        !self.bins.is_empty()
    }

    /// Adds values. NaN and ±inf are counted apart ([`Histogram::nonfinite`]) and not binned.
    pub fn add(&mut self, data: &[f32]) {
        // Pass 1, branch-free (vectorizes): min, max and a NaN count. NaN fails both comparisons.
        let (mut lo, mut hi, mut nan) = ([f32::INFINITY; 8], [f32::NEG_INFINITY; 8], [0u32; 8]);
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            for k in 0..8 {
                let x = c[k];
                lo[k] = if x < lo[k] { x } else { lo[k] };
                hi[k] = if x > hi[k] { x } else { hi[k] };
                nan[k] += u32::from(x.is_nan());
            }
        }
        for &x in chunks.remainder() {
            lo[0] = if x < lo[0] { x } else { lo[0] };
            hi[0] = if x > hi[0] { x } else { hi[0] };
            nan[0] += u32::from(x.is_nan());
        }
        let lo = lo.iter().fold(f32::INFINITY, |a, &b| a.min(b));
        let hi = hi.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let nan: u64 = nan.iter().map(|&c| u64::from(c)).sum();
        if nan > 0 || !lo.is_finite() || !hi.is_finite() {
            // Rare: NaN or inf present; filter them out and take the checked path.
            let finite: Vec<f32> = data.iter().copied().filter(|x| x.is_finite()).collect();
            self.nonfinite += (data.len() - finite.len()) as u64;
            if !finite.is_empty() {
                self.add(&finite);
            }
            return;
        }
        if lo > hi {
            return; // empty
        }
        self.min = self.min.min(lo);
        self.max = self.max.max(hi);
        self.count += data.len() as u64;
        if self.bins.is_empty() {
            return;
        }
        self.grow_to(lo.abs().max(hi.abs()));
        let n = self.bins.len();
        if self.range > 0.0 {
            // Pass 2: every value is finite and |x| <= range.
            let k = n as f32 / self.range;
            let bins = &mut self.bins[..n];
            for &x in data {
                bins[((x.abs() * k) as usize).min(n - 1)] += 1;
            }
        } else {
            // Everything so far is zero.
            self.bins[0] += data.len() as u64;
        }
    }

    fn grow_to(&mut self, amax: f32) {
        if amax <= self.range {
            return;
        }
        if self.range == 0.0 {
            // Zeros already counted sit in bin 0, which stays bin 0.
            self.range = amax;
            return;
        }
        let n = self.bins.len();
        while self.range < amax {
            for i in 0..n / 2 {
                self.bins[i] = self.bins[2 * i] + self.bins[2 * i + 1];
            }
            for b in &mut self.bins[n / 2..] {
                *b = 0;
            }
            self.range *= 2.0;
        }
    }

    /// Bin counts of |x| over `[0, range)` (the last bin also holds |x| = range).
    pub fn bins(&self) -> &[u64] {
        &self.bins
    }

    /// Upper edge of the histogram (0 while every value seen is zero).
    pub fn range(&self) -> f32 {
        self.range
    }

    /// Width of one bin (0 without bins).
    pub fn bin_width(&self) -> f32 {
        if self.bins.is_empty() {
            0.0
        } else {
            self.range / self.bins.len() as f32
        }
    }

    /// Exact minimum seen (`+inf` when empty).
    pub fn min(&self) -> f32 {
        self.min
    }

    /// Exact maximum seen (`-inf` when empty).
    pub fn max(&self) -> f32 {
        self.max
    }

    /// Largest |x| seen (0 when empty).
    pub fn abs_max(&self) -> f32 {
        if self.count == 0 {
            0.0
        } else {
            self.min.abs().max(self.max.abs())
        }
    }

    /// Finite values binned.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// NaN / inf values seen (not binned).
    pub fn nonfinite(&self) -> u64 {
        self.nonfinite
    }

    /// Fraction of values with |x| above `amax` (approximate at bin resolution: bins entirely above `amax`
    /// count fully, the bin holding `amax` proportionally).
    pub fn saturation(&self, amax: f32) -> f64 {
        if self.count == 0 || self.range == 0.0 || amax >= self.abs_max() {
            return 0.0;
        }
        let w = self.bin_width() as f64;
        let pos = amax as f64 / w;
        let i = pos.floor() as usize;
        let mut above = 0.0;
        for (j, &b) in self.bins.iter().enumerate().skip(i) {
            if j == i {
                above += b as f64 * (1.0 - (pos - i as f64));
            } else {
                above += b as f64;
            }
        }
        above / self.count as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_merges_bins_exactly() {
        let mut h = Histogram::new(8);
        h.add(&[0.0, 0.5, -0.9, 1.0]);
        assert_eq!(h.range(), 1.0);
        assert_eq!(h.bins(), &[1, 0, 0, 0, 1, 0, 0, 2]);
        h.add(&[3.5]);
        assert_eq!(h.range(), 4.0);
        // Range doubled twice (1 → 2 → 4): bins of width 0.5; [0, .5) ← 0, [.5, 1) ← 0.5, 0.9, 1.0.
        assert_eq!(h.bins(), &[1, 3, 0, 0, 0, 0, 0, 1]);
        assert_eq!(h.count(), 5);
        assert_eq!((h.min(), h.max(), h.abs_max()), (-0.9, 3.5, 3.5));
    }

    #[test]
    fn zeros_then_values_and_nonfinite() {
        let mut h = Histogram::new(4);
        h.add(&[0.0, 0.0, f32::NAN]);
        assert_eq!((h.range(), h.count(), h.nonfinite()), (0.0, 2, 1));
        h.add(&[2.0, f32::INFINITY]);
        assert_eq!(h.range(), 2.0);
        assert_eq!(h.bins(), &[2, 0, 0, 1]);
        assert_eq!(h.nonfinite(), 2);
    }

    #[test]
    fn min_max_only_keeps_extremes_and_counts() {
        let mut h = Histogram::min_max_only();
        h.add(&[0.5, -3.0, f32::NAN, 2.0]);
        h.add(&[7.0]);
        assert!(!h.is_binned() && Histogram::new(4).is_binned());
        assert_eq!((h.min(), h.max(), h.abs_max()), (-3.0, 7.0, 7.0));
        assert_eq!((h.count(), h.nonfinite(), h.range()), (4, 1, 0.0));
        assert_eq!(
            (h.bins().len(), h.bin_width(), h.saturation(1.0)),
            (0, 0.0, 0.0)
        );
    }

    #[test]
    fn saturation_counts_values_above() {
        let mut h = Histogram::new(100);
        let v: Vec<f32> = (1..=100).map(|i| i as f32).collect();
        h.add(&v);
        let s = h.saturation(90.0);
        assert!((s - 0.10).abs() < 0.011, "{s}");
        assert_eq!(h.saturation(100.0), 0.0);
    }
}
