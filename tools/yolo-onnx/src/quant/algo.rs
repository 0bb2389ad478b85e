//! Calibration algorithms: the clipping threshold (`amax`) of a tensor from its [`Histogram`].
//!
//! * [`Algorithm::MinMax`]: `max(|min|, |max|)` — exact, from the streamed min/max. The default for YOLO
//!   (entropy calibration is known to cost YOLO models 10–20 % mAP; min/max about 1 %).
//! * [`Algorithm::Entropy`]: the threshold minimising the KL divergence between the |x| distribution
//!   clipped at the threshold and its 128-level quantization — the method of TensorRT's entropy
//!   calibrators (EntropyCalibration2 uses 2048 bins and candidate thresholds from bin 128 upwards).
//! * [`Algorithm::Percentile`]: the given percentile of |x| (99.99 by default), at bin resolution.
//!
//! The symmetric int8 scale of a threshold is `amax / 127` ([`scale_of`]).

use serde::Serialize;

use super::hist::Histogram;

/// Default percentile of [`Algorithm::Percentile`].
pub const DEFAULT_PERCENTILE: f64 = 99.99;

/// Number of int8 quantization levels on one side of zero used by the entropy search.
pub const ENTROPY_LEVELS: usize = 128;

/// How the clipping threshold of an activation is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Exact min/max.
    MinMax,
    /// KL divergence over the histogram (TensorRT EntropyCalibration2 style).
    Entropy,
    /// A percentile of |x|, in percent (e.g. 99.99).
    Percentile(f64),
}

impl Algorithm {
    /// Whether the algorithm reads the histogram's bins (entropy, percentile) or only the exact min/max.
    pub fn needs_bins(&self) -> bool {
        !matches!(self, Algorithm::MinMax)
    }

    /// Short name (`minmax`, `entropy`, `percentile`).
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::MinMax => "minmax",
            Algorithm::Entropy => "entropy",
            Algorithm::Percentile(_) => "percentile",
        }
    }

    /// The clipping threshold of `hist` (0 when the tensor was always zero or never seen). On a histogram
    /// without bins ([`Histogram::min_max_only`]) every algorithm gives the min/max threshold; [`super::quantize`]
    /// refuses such statistics for the algorithms that need bins.
    pub fn amax(&self, hist: &Histogram) -> f32 {
        if !hist.is_binned() {
            return hist.abs_max();
        }
        match self {
            Algorithm::MinMax => hist.abs_max(),
            Algorithm::Entropy => entropy_amax(hist),
            Algorithm::Percentile(p) => percentile_amax(hist, *p),
        }
    }
}

/// The symmetric int8 scale for a clipping threshold: `amax / 127`, or 1 for an all-zero tensor (any
/// positive scale represents zero exactly; TensorRT and ONNX reject a zero scale).
pub fn scale_of(amax: f32) -> f32 {
    if amax > 0.0 && amax.is_finite() {
        amax / 127.0
    } else {
        1.0
    }
}

/// `p`-th percentile of |x| at bin resolution: the upper edge of the first bin where the cumulative
/// count reaches `p %` of all values, capped at the exact max |x|.
pub fn percentile_amax(hist: &Histogram, p: f64) -> f32 {
    let total = hist.count();
    if total == 0 || hist.range() == 0.0 {
        return 0.0;
    }
    let target = (p.clamp(0.0, 100.0) / 100.0 * total as f64).ceil() as u64;
    let mut cum = 0u64;
    for (i, &b) in hist.bins().iter().enumerate() {
        cum += b;
        if cum >= target {
            return ((i + 1) as f32 * hist.bin_width()).min(hist.abs_max());
        }
    }
    hist.abs_max()
}

/// Entropy threshold of `hist`: see the module documentation. Returns the upper edge of the chosen bin,
/// capped at the exact max |x|.
pub fn entropy_amax(hist: &Histogram) -> f32 {
    if hist.count() == 0 || hist.range() == 0.0 {
        return 0.0;
    }
    let i = entropy_bin(hist.bins(), ENTROPY_LEVELS);
    (i as f32 * hist.bin_width()).min(hist.abs_max())
}

/// Number of bins `i` (threshold at the upper edge of bin `i - 1`) minimising KL(P‖Q), where P is
/// `bins[..i]` with every count beyond folded into bin `i - 1`, and Q spreads each of `levels` groups'
/// total evenly over its non-empty bins. Candidates run from `levels` to `bins.len()`; ties keep the
/// smallest `i`. Both distributions are smoothed (as `kl_divergence` does) before the divergence is taken.
///
/// Each candidate costs `O(levels)` instead of `O(i)`: with smoothing, P's non-empty bins hold
/// `p - e` (the same `e` for the whole candidate) and Q is constant over the non-empty bins of a group,
/// so `Σ a·ln(a/b)` splits into `Σ (p - e)·ln(p - e)` over P's bins — from prefix sums of `p·ln p`,
/// `ln p` and `p^-m` through the exact series `(p-e)ln(p-e) = p ln p - e(ln p + 1) + Σ_{m≥2} e^m / (m(m-1)p^(m-1))`
/// (`p ≥ 1`, `e` small, so it converges fast; a candidate whose series would not is evaluated directly)
/// — minus one `ln b` per group times the group's smoothed P mass, plus the last bin (which holds the
/// folded tail) on its own. The result equals the direct evaluation up to floating-point rounding
/// (the tests compare both on many histograms).
pub fn entropy_bin(bins: &[u64], levels: usize) -> usize {
    let n = bins.len();
    if n <= levels || levels == 0 {
        return n;
    }
    let table = Prefix::new(bins);
    let mut best = (f64::INFINITY, n);
    for i in levels..=n {
        let kl = table.kl(bins, i, levels);
        if kl < best.0 {
            best = (kl, i);
        }
    }
    best.1
}

/// Smoothing mass given to each empty bin (MXNet's `_smooth_distribution`).
const EPS: f64 = 1e-4;

/// Highest power of the smoothing series kept in the prefix tables.
const SERIES_TERMS: usize = 24;

/// Prefix sums over `bins[..k]` for the candidate search of [`entropy_bin`].
struct Prefix {
    /// Σ bins[..k].
    count: Vec<u64>,
    /// Non-empty bins in bins[..k].
    nonzero: Vec<u64>,
    /// Smallest non-empty count in bins[..k] (`u64::MAX` when none).
    min: Vec<u64>,
    /// Σ b·ln b over non-empty b in bins[..k].
    plogp: Vec<f64>,
    /// Σ ln b over non-empty b in bins[..k].
    logp: Vec<f64>,
    /// `inv[m - 1][k]` = Σ b^-m over non-empty b in bins[..k], m = 1..SERIES_TERMS.
    inv: Vec<Vec<f64>>,
}

impl Prefix {
    fn new(bins: &[u64]) -> Prefix {
        let n = bins.len();
        let mut t = Prefix {
            count: vec![0; n + 1],
            nonzero: vec![0; n + 1],
            min: vec![u64::MAX; n + 1],
            plogp: vec![0.0; n + 1],
            logp: vec![0.0; n + 1],
            inv: vec![vec![0.0; n + 1]; SERIES_TERMS - 1],
        };
        for (k, &b) in bins.iter().enumerate() {
            t.count[k + 1] = t.count[k] + b;
            t.nonzero[k + 1] = t.nonzero[k] + u64::from(b != 0);
            t.min[k + 1] = if b != 0 { t.min[k].min(b) } else { t.min[k] };
            let (mut pl, mut l) = (0.0, 0.0);
            let x = b as f64;
            if b != 0 {
                l = x.ln();
                pl = x * l;
            }
            t.plogp[k + 1] = t.plogp[k] + pl;
            t.logp[k + 1] = t.logp[k] + l;
            let r = if b != 0 { 1.0 / x } else { 0.0 };
            let mut pow = r;
            for m in 0..SERIES_TERMS - 1 {
                t.inv[m][k + 1] = t.inv[m][k] + pow;
                pow *= r;
            }
        }
        t
    }

    /// Σ (b - e)·ln(b - e) over the non-empty b in bins[..k]; `None` when the series would not converge to
    /// rounding level within the table.
    fn sum_xlogx_shifted(&self, k: usize, e: f64) -> Option<f64> {
        let n = self.nonzero[k] as f64;
        let mut s = self.plogp[k] - e * (self.logp[k] + n);
        if e == 0.0 || n == 0.0 {
            return Some(s);
        }
        // Terms e^m / (m (m - 1)) Σ b^-(m-1), all positive and each bounded by e^m n / (m (m - 1)) (b ≥ 1).
        let tol = 1e-13 * s.abs().max(1.0);
        let mut em = e;
        for m in 2..=SERIES_TERMS {
            em *= e;
            let mm = (m * (m - 1)) as f64;
            s += em / mm * self.inv[m - 2][k];
            // Bound of everything after this term: Σ_{m' > m} e^m' n / (m'(m'-1)) ≤ e^(m+1) n / ((m+1) m (1 - e)).
            if e < 1.0 && em * e * n / ((m * (m + 1)) as f64 * (1.0 - e)) < tol {
                return Some(s);
            }
        }
        None
    }

    /// KL(P‖Q) of candidate `i` (see [`entropy_bin`]), equal to [`kl_divergence`] of the explicit P and Q up to
    /// rounding.
    fn kl(&self, bins: &[u64], i: usize, levels: usize) -> f64 {
        let total = self.count[bins.len()];
        let last = bins[i - 1];
        let tail = total - self.count[i];
        let p_last = last + tail;
        // Zeros of P (bins[..i-1] and the folded last bin) and of Q (the empty bins of bins[..i]).
        let zp = (i as u64 - 1 - self.nonzero[i - 1]) + u64::from(p_last == 0);
        let zq = i as u64 - self.nonzero[i];
        let (n, sq) = (i as u64, self.count[i]);
        if zp == n || zq == n {
            return f64::INFINITY;
        }
        let e1p = EPS * zp as f64 / (n - zp) as f64;
        let e1q = EPS * zq as f64 / (n - zq) as f64;
        let minp = if p_last != 0 {
            self.min[i - 1].min(p_last)
        } else {
            self.min[i - 1]
        };
        if minp as f64 - e1p <= 0.0 {
            return f64::INFINITY;
        }
        let Some(plogp) = self.sum_xlogx_shifted(i - 1, e1p) else {
            return direct_kl(bins, i, levels);
        };
        // Σ (p - e1p)·ln(b_group) over P's non-empty bins before the last, group by group; Q's value on the last bin.
        let mut cross = 0.0;
        let mut minq = f64::INFINITY;
        let mut q_last = 0.0;
        for j in 0..levels {
            let (s, e) = (j * i / levels, (j + 1) * i / levels);
            let nz = self.nonzero[e] - self.nonzero[s];
            if nz == 0 {
                continue;
            }
            let sum = self.count[e] - self.count[s];
            let q = sum as f64 / nz as f64;
            minq = minq.min(q);
            let b = q - e1q;
            let (mut mass, mut k) = (sum, nz);
            if e == i {
                if last != 0 {
                    q_last = b;
                    mass -= last;
                    k -= 1;
                }
                if k == 0 {
                    continue;
                }
            }
            if b > 0.0 {
                cross += b.ln() * (mass as f64 - k as f64 * e1p);
            }
        }
        if minq - e1q <= 0.0 {
            return f64::INFINITY;
        }
        let mut sum = plogp - cross;
        if p_last != 0 {
            let a = p_last as f64 - e1p;
            let b = if last != 0 { q_last } else { EPS };
            sum += a * (a / b).ln();
        }
        let sp = total as f64;
        sum / sp + (sq as f64 / sp).ln()
    }
}

/// KL of candidate `i` evaluated bin by bin (the definition; used when the series does not apply).
fn direct_kl(bins: &[u64], i: usize, levels: usize) -> f64 {
    let (p, q) = candidate_distributions(bins, i, levels);
    kl_divergence(&p, &q)
}

/// P and Q of candidate `i`, explicitly (see [`entropy_bin`]).
fn candidate_distributions(bins: &[u64], i: usize, levels: usize) -> (Vec<f64>, Vec<f64>) {
    let mut p: Vec<f64> = bins[..i].iter().map(|&b| b as f64).collect();
    p[i - 1] += bins[i..].iter().sum::<u64>() as f64;
    let mut q = vec![0f64; i];
    // Quantize bins[..i] (without the folded outliers) into `levels` groups.
    for j in 0..levels {
        let (start, end) = (j * i / levels, (j + 1) * i / levels);
        let group = &bins[start..end];
        let sum: u64 = group.iter().sum();
        let nonzero = group.iter().filter(|&&b| b != 0).count();
        for (k, &b) in group.iter().enumerate() {
            q[start + k] = if b != 0 {
                sum as f64 / nonzero as f64
            } else {
                0.0
            };
        }
    }
    (p, q)
}

/// KL(P‖Q) of two histograms (counts) after smoothing: each empty bin gets `eps` = 1e-4 counts, taken evenly
/// from the non-empty ones (MXNet's `_smooth_distribution`, as used for TensorRT-style entropy calibration), so Q
/// has no zero where P is non-zero; both are then normalised. Infinite when a non-empty bin would go
/// non-positive. Smoothing keeps each sum, and bins empty in both contribute the same term, so those are
/// counted rather than evaluated (one logarithm per non-empty bin).
fn kl_divergence(p: &[f64], q: &[f64]) -> f64 {
    let (mut zp, mut zq) = (0usize, 0usize);
    let (mut minp, mut minq) = (f64::INFINITY, f64::INFINITY);
    let (mut sp, mut sq) = (0f64, 0f64);
    for (&a, &b) in p.iter().zip(q) {
        sp += a;
        sq += b;
        if a == 0.0 {
            zp += 1;
        } else {
            minp = minp.min(a);
        }
        if b == 0.0 {
            zq += 1;
        } else {
            minq = minq.min(b);
        }
    }
    let n = p.len();
    if zp == n || zq == n {
        return f64::INFINITY;
    }
    let e1p = EPS * zp as f64 / (n - zp) as f64;
    let e1q = EPS * zq as f64 / (n - zq) as f64;
    if minp - e1p <= 0.0 || minq - e1q <= 0.0 {
        return f64::INFINITY;
    }
    let mut both_empty = 0usize;
    let mut kl = 0f64;
    for (&a, &b) in p.iter().zip(q) {
        if a == 0.0 && b == 0.0 {
            both_empty += 1;
            continue;
        }
        let a = if a == 0.0 { EPS } else { a - e1p } / sp;
        let b = if b == 0.0 { EPS } else { b - e1q } / sq;
        kl += a * (a / b).ln();
    }
    if both_empty > 0 {
        kl += both_empty as f64 * (EPS / sp) * (sq / sp).ln();
    }
    kl
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minmax_and_percentile() {
        let mut h = Histogram::new(1000);
        let v: Vec<f32> = (0..10_000).map(|i| (i as f32 - 5000.0) / 1000.0).collect();
        h.add(&v);
        assert_eq!(Algorithm::MinMax.amax(&h), 5.0);
        let p = Algorithm::Percentile(90.0).amax(&h);
        assert!((p - 4.5).abs() < 0.02, "{p}");
        assert_eq!(scale_of(127.0), 1.0);
        assert_eq!(scale_of(0.0), 1.0);
    }

    /// The search as defined: every candidate's P and Q built explicitly, KL bin by bin.
    fn entropy_bin_direct(bins: &[u64], levels: usize) -> (usize, Vec<f64>) {
        let n = bins.len();
        let mut best = (f64::INFINITY, n);
        let mut all = Vec::new();
        for i in levels..=n {
            let kl = direct_kl(bins, i, levels);
            all.push(kl);
            if kl < best.0 {
                best = (kl, i);
            }
        }
        (best.1, all)
    }

    #[test]
    fn fast_search_matches_the_direct_definition() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut shapes = 0;
        for case in 0..24 {
            let n = [2048, 512, 300, 129][case % 4];
            let levels = if case % 5 == 4 { 64 } else { 128 };
            let bins: Vec<u64> = match case % 6 {
                // Bulk near zero, long sparse tail (most bins empty: large smoothing shift).
                0 => (0..n)
                    .map(|k| {
                        if k < 40 {
                            rng.random_range(1000..100_000)
                        } else if rng.random::<f32>() < 0.02 {
                            rng.random_range(1..3)
                        } else {
                            0
                        }
                    })
                    .collect(),
                // Smooth decay with counts of 1 and 0 mixed in.
                1 => (0..n)
                    .map(|k| {
                        let x = 1e6 * (-(k as f64) / (n as f64 / 8.0)).exp();
                        (x as u64).saturating_sub(rng.random_range(0..3))
                    })
                    .collect(),
                // Dense random.
                2 => (0..n).map(|_| rng.random_range(0..50)).collect(),
                // Only a handful of non-empty bins.
                3 => {
                    let mut b = vec![0u64; n];
                    for _ in 0..5 {
                        b[rng.random_range(0..n)] += rng.random_range(1..1000);
                    }
                    b
                }
                // Bulk in the middle, nothing at the top: the last bins are empty.
                4 => (0..n)
                    .map(|k| {
                        if k > n / 4 && k < n / 2 {
                            rng.random_range(1..9)
                        } else {
                            0
                        }
                    })
                    .collect(),
                // Everything in bin 0 but one outlier at the top.
                _ => {
                    let mut b = vec![0u64; n];
                    b[0] = 1_000_000;
                    b[n - 1] = 1;
                    b
                }
            };
            let (want, all) = entropy_bin_direct(&bins, levels);
            let table = Prefix::new(&bins);
            for (k, &d) in all.iter().enumerate() {
                let f = table.kl(&bins, levels + k, levels);
                if d.is_infinite() {
                    assert!(
                        f.is_infinite(),
                        "case {case}, candidate {}: {f} vs {d}",
                        levels + k
                    );
                } else {
                    assert!(
                        (f - d).abs() <= 1e-10 * d.abs().max(1.0),
                        "case {case}, candidate {}: fast {f} vs direct {d}",
                        levels + k
                    );
                }
            }
            let got = entropy_bin(&bins, levels);
            // Equal, or a tie at rounding level in the direct evaluation.
            let (a, b) = (all[got - levels], all[want - levels]);
            assert!(
                got == want || (a - b).abs() <= 1e-10 * b.abs().max(1.0),
                "case {case}: bin {got} (kl {a}) vs direct {want} (kl {b})"
            );
            shapes += usize::from(got == want);
        }
        assert!(
            shapes >= 20,
            "only {shapes} of 24 searches chose the same bin"
        );
    }

    #[test]
    fn entropy_clips_a_long_tail() {
        // Gaussian-ish bulk plus a few huge outliers: the threshold must sit well below the max.
        let mut h = Histogram::new(2048);
        let mut v = Vec::new();
        let mut s = 12345u64;
        for _ in 0..200_000 {
            // sum of uniforms ≈ normal
            let mut acc = 0.0f32;
            for _ in 0..4 {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                acc += (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            }
            v.push(acc);
        }
        v.extend([40.0, -35.0, 38.0]);
        h.add(&v);
        let t = entropy_amax(&h);
        assert!(t > 1.0 && t < 10.0, "threshold {t}");
    }
}
