//! Calibration data for INT8 (`trt-onnx quantize`, `trt-build --int8 --calib DIR`): finding, sampling, loading
//! and preprocessing images or `.npy` tensors, and the driver that streams them through
//! [`yolo_onnx::quant`].
//!
//! * Images (`jpg`, `jpeg`, `png`, `bmp`, found recursively) go through the runtime's letterbox
//!   ([`yolo_rt::Letterbox`]: pad 114, RGB, `/255` then `(x - mean) / std`), so calibration sees exactly what the
//!   deployed detector feeds the engine.
//! * `.npy` files hold float32/float64 tensors of the model input shape (`[3,H,W]`, `[1,3,H,W]` or `[N,3,H,W]`);
//!   any other shape is an error naming the file and both shapes.
//! * Files are sorted, shuffled with a seed and the first `count` taken: the same directory and seed always
//!   calibrate on the same files. A few more are held out for the drift check.
//! * Unreadable files are skipped with a warning and counted; a directory with no usable file is an error.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ndarray::{ArrayD, IxDyn};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use yolo_onnx::quant::{self, Collector, QuantizeOptions, Quantized};
use yolo_onnx::Model;

/// `--calib-algo` of trt-build, `--algo` of `trt-onnx quantize`: how a tensor's range is chosen.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum CalibAlgo {
    /// Per-tensor min/max (default; about 1% mAP cost on YOLO).
    Minmax,
    /// KL-divergence threshold, like TensorRT's EntropyCalibration2.
    Entropy,
    /// A percentile of |x| (99.99 by default).
    Percentile,
}

/// Image extensions read from calibration directories: those the image reader decodes.
pub use yolo_rt::IMAGE_EXTENSIONS;

/// How calibration data is read and preprocessed.
#[derive(Debug, Clone, Serialize)]
pub struct DataOptions {
    /// Samples used for calibration (`None`: every file, after the held-out ones).
    pub count: Option<usize>,
    /// Files held out for the drift check (taken first from the shuffled list, at most a quarter of the files).
    pub held_out: usize,
    /// Seed of the shuffle.
    pub seed: u64,
    /// Samples loaded per batch (memory holds one batch of preprocessed samples at a time; raised to the
    /// calibration thread count so every thread has a sample).
    pub batch_size: usize,
    /// Network input size (width, height) for images; `None`: the model's declared input size.
    pub input_size: Option<(usize, usize)>,
    /// Padding grey level.
    pub pad: u8,
    /// Per-channel mean subtracted after `/255`.
    pub mean: [f32; 3],
    /// Per-channel std divided by after the mean.
    pub std: [f32; 3],
    /// Feed BGR instead of RGB.
    pub bgr: bool,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// Print skipped-file warnings on stderr.
    pub warnings: bool,
}

impl Default for DataOptions {
    fn default() -> Self {
        DataOptions {
            count: None,
            held_out: 4,
            seed: 0,
            batch_size: 8,
            input_size: None,
            pad: 114,
            mean: [0.0; 3],
            std: [1.0; 3],
            bgr: false,
            progress: true,
            warnings: true,
        }
    }
}

/// What loading did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DataSummary {
    /// Directory read.
    pub dir: PathBuf,
    /// Usable files found.
    pub files_found: usize,
    /// Samples streamed through calibration.
    pub calibration_samples: usize,
    /// Held-out samples used for the drift check.
    pub held_out_samples: usize,
    /// Files skipped (unreadable, corrupt), with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Calibration throughput, samples per second (loading + preprocessing + CPU inference).
    pub samples_per_second: f64,
    /// CPU executor that ran the samples (`tract` or `onnxruntime`; `YOLO_ONNX_EXECUTOR` chooses).
    pub executor: String,
}

fn is_calib_file(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .is_some_and(|e| e == "npy" || IMAGE_EXTENSIONS.contains(&e.as_str()))
}

/// Every image / `.npy` file under `dir` (recursive, sorted). Errors on a missing or empty directory.
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        bail!(
            "calibration data {}: not a directory (expected images or .npy tensors)",
            dir.display()
        );
    }
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .with_context(|| format!("calibration data: cannot list {}", d.display()))?;
        for e in entries {
            let p = e
                .with_context(|| format!("calibration data: cannot list {}", d.display()))?
                .path();
            if p.is_dir() {
                stack.push(p);
            } else if is_calib_file(&p) {
                files.push(p);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        bail!(
            "calibration data {}: no images ({}) or .npy files found (searched recursively); point --calib at a \
             directory of representative frames",
            dir.display(),
            IMAGE_EXTENSIONS.join(", ")
        );
    }
    Ok(files)
}

/// Deterministic order: `files` shuffled with `seed`.
pub fn shuffled(mut files: Vec<PathBuf>, seed: u64) -> Vec<PathBuf> {
    files.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    files
}

/// Reads a little-endian float32/float64 C-order `.npy` file.
pub fn read_npy(path: &Path) -> Result<ArrayD<f32>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let npy = crate::npy::parse(&bytes, path)?;
    let width = match npy.descr.as_str() {
        "<f4" => 4,
        "<f8" => 8,
        other => {
            return Err(crate::npy::bad(
                path,
                format!(
                "dtype '{other}' is not supported (save float32: np.save(f, x.astype(np.float32)))"
            ),
            ))
        }
    };
    let n = npy.elements();
    if npy.data.len() != n * width {
        return Err(crate::npy::bad(
            path,
            format!(
                "shape {:?} needs {} bytes of data, the file has {}",
                npy.shape,
                n * width,
                npy.data.len()
            ),
        ));
    }
    let v: Vec<f32> = if width == 4 {
        npy.data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        npy.data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect()
    };
    Ok(ArrayD::from_shape_vec(IxDyn(&npy.shape), v).expect("length checked"))
}

/// Writes a float32 `.npy` file (used by tests and benchmarks to make tensor calibration sets).
pub fn write_npy(path: &Path, a: &ArrayD<f32>) -> Result<()> {
    let data: Vec<u8> = a.iter().flat_map(|x| x.to_le_bytes()).collect();
    let out = crate::npy::encode("<f4", a.shape(), &data);
    crate::common::fs::atomic_write(path, &out)
        .with_context(|| format!("{}: cannot write", path.display()))
}

/// Turns files into model-input samples.
struct Preprocessor {
    letterbox: yolo_rt::Letterbox,
    shape: Vec<usize>,
}

/// A per-file failure: skipped (bad file) or fatal (data that cannot fit this model).
enum LoadError {
    Skip(String),
    Fatal(anyhow::Error),
}

impl Preprocessor {
    fn new(shape: &[usize], options: &DataOptions) -> Result<Preprocessor> {
        if shape.len() != 4 || shape[1] != 3 {
            bail!("calibration expects an image input [N, 3, H, W]; the model input is {shape:?}");
        }
        let (w, h) = options.input_size.unwrap_or((shape[3], shape[2]));
        if (w, h) != (shape[3], shape[2]) {
            bail!(
                "--input-size {w}x{h} does not match the model input {}x{} (from {shape:?}); drop --input-size or \
                 re-export the model",
                shape[3],
                shape[2]
            );
        }
        let config = yolo_rt::LetterboxConfig {
            width: w,
            height: h,
            pad_value: options.pad,
            output_format: if options.bgr {
                yolo_rt::PixelFormat::Bgr
            } else {
                yolo_rt::PixelFormat::Rgb
            },
            mean: options.mean,
            std: options.std,
            ..yolo_rt::LetterboxConfig::default()
        };
        let letterbox = yolo_rt::Letterbox::new(config)
            .map_err(|e| anyhow::anyhow!("calibration preprocessing: {e}"))?;
        Ok(Preprocessor {
            letterbox,
            shape: shape.to_vec(),
        })
    }

    /// Samples of one file (an `[N,3,H,W]` .npy gives N).
    fn load(&mut self, path: &Path) -> std::result::Result<Vec<ArrayD<f32>>, LoadError> {
        let is_npy = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
        let one: Vec<usize> = self.shape[1..].to_vec();
        if is_npy {
            let a = read_npy(path).map_err(|e| LoadError::Skip(format!("{e:#}")))?;
            let s = a.shape().to_vec();
            let n = if s == one {
                1
            } else if s.len() == 4 && s[1..] == one[..] && s[0] > 0 {
                s[0]
            } else {
                return Err(LoadError::Fatal(anyhow::anyhow!(
                    "{}: tensor shape {s:?} does not match the model input {:?} (expected [3, H, W], [1, 3, H, W] or \
                     [N, 3, H, W] with the model's H and W)",
                    path.display(),
                    self.shape
                )));
            };
            let mut full = vec![n];
            full.extend(&one);
            let a = a
                .into_shape_with_order(IxDyn(&full))
                .expect("same element count");
            return Ok(a
                .outer_iter()
                .map(|x| {
                    x.to_owned()
                        .into_shape_with_order(IxDyn(&self.shape))
                        .expect("one sample")
                })
                .collect());
        }
        let img = yolo_rt::Image::open(path).map_err(|e| LoadError::Skip(e.to_string()))?;
        let mut out = vec![0f32; self.shape.iter().product()];
        self.letterbox
            .run_into(&img.view(), &mut out)
            .map_err(|e| LoadError::Skip(format!("{}: {e}", path.display())))?;
        Ok(vec![
            ArrayD::from_shape_vec(IxDyn(&self.shape), out).expect("letterbox size")
        ])
    }
}

fn bar(len: usize, options: &DataOptions) -> ProgressBar {
    let b = ProgressBar::new(len as u64);
    if options.progress && std::io::stderr().is_terminal() {
        b.set_draw_target(ProgressDrawTarget::stderr());
        if let Ok(s) = ProgressStyle::with_template(
            "calibrating [{elapsed_precise}] [{bar:30}] {pos}/{len} ({per_sec})",
        ) {
            b.set_style(s.progress_chars("=> "));
        }
    } else {
        b.set_draw_target(ProgressDrawTarget::hidden());
    }
    b
}

/// Calibrates `model` (FP32, re-parameterized) on the data under `dir` and builds the Q/DQ model, the TensorRT
/// cache (header version `cache_version`, see [`quant::cache::version_code`]) and the report. Nothing is written.
pub fn calibrate_dir(
    model: &Model,
    dir: &Path,
    data: &DataOptions,
    options: &QuantizeOptions,
    cache_version: u32,
) -> Result<(Quantized, DataSummary)> {
    // Cheap checks first: quantizable ops, then the data directory, then the executor.
    quant::qdq::plan(model, &options.qdq).map_err(|e| anyhow::anyhow!("{e}"))?;
    let files = shuffled(discover(dir)?, data.seed);
    // --input-size: checked against the declared input, and the concrete size of a dynamic H/W input.
    let shape = match data.input_size {
        Some((w, h)) => {
            let declared = model
                .graph()
                .inputs()
                .first()
                .and_then(|v| yolo_onnx::graph::value_info_dims(v))
                .unwrap_or_default();
            if declared.len() == 4 {
                let (dh, dw) = (declared[2], declared[3]);
                if dh.is_some_and(|d| d as usize != h) || dw.is_some_and(|d| d as usize != w) {
                    bail!(
                        "--input-size {w}x{h} does not match the model input {}x{} ({declared:?}); drop \
                         --input-size or re-export the model",
                        dw.map_or("?".into(), |d| d.to_string()),
                        dh.map_or("?".into(), |d| d.to_string())
                    );
                }
            }
            Some(vec![1, 3, h, w])
        }
        None => None,
    };
    // Min/max calibration needs no histogram bins: keep only the exact extremes (cheaper to stream).
    let bins = if options.algorithm.needs_bins() {
        options.bins
    } else {
        0
    };
    let backend = crate::common::executor::cpu_backend()?;
    let mut collector =
        Collector::with_backend(model, bins, shape.as_deref(), backend).map_err(|e| {
            anyhow::anyhow!(
                "{e}{}",
                if data.input_size.is_none() {
                    "; give --input-size WxH for a model with a dynamic input size"
                } else {
                    ""
                }
            )
        })?;
    let mut pre = Preprocessor::new(collector.sample_shape(), data)?;
    let held = data.held_out.min(files.len() / 4);
    let (held_files, calib_files) = files.split_at(held);
    let want = data.count.unwrap_or(usize::MAX);
    let mut summary = DataSummary {
        dir: dir.to_path_buf(),
        files_found: files.len(),
        executor: collector.backend().to_string(),
        ..Default::default()
    };
    let skip = |summary: &mut DataSummary, path: &Path, why: String| {
        if data.warnings {
            eprintln!("warning: calibration: skipping {}: {why}", path.display());
        }
        summary.skipped.push((path.to_path_buf(), why));
    };
    let progress = bar(want.min(calib_files.len()), data);
    let started = std::time::Instant::now();
    // Load at least one sample per collector thread at a time, so every thread has work.
    let batch = data.batch_size.max(collector.threads()).max(1);
    let mut next = 0;
    while summary.calibration_samples < want && next < calib_files.len() {
        // Load one batch, then run it.
        let mut samples = Vec::with_capacity(batch);
        while samples.len() < batch
            && next < calib_files.len()
            && summary.calibration_samples + samples.len() < want
        {
            let path = &calib_files[next];
            next += 1;
            match pre.load(path) {
                Ok(v) => samples.extend(v),
                Err(LoadError::Skip(why)) => skip(&mut summary, path, why),
                Err(LoadError::Fatal(e)) => return Err(e),
            }
        }
        // The collector runs the batch on its threads; the statistics do not depend on how many.
        samples.truncate(want - summary.calibration_samples);
        collector
            .add_batch(&samples)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        summary.calibration_samples += samples.len();
        progress.inc(samples.len() as u64);
    }
    progress.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    if summary.calibration_samples == 0 {
        let first = summary
            .skipped
            .first()
            .map(|(p, w)| format!(" (first: {}: {w})", p.display(), w = w))
            .unwrap_or_default();
        bail!(
            "calibration data {}: none of the {} files could be used: {} unreadable{first}",
            dir.display(),
            calib_files.len(),
            summary.skipped.len()
        );
    }
    summary.samples_per_second = summary.calibration_samples as f64 / secs.max(1e-9);
    let stats = collector.finish().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut held_out = Vec::new();
    for path in held_files {
        match pre.load(path) {
            Ok(v) => held_out.extend(v),
            Err(LoadError::Skip(why)) => skip(&mut summary, path, why),
            Err(LoadError::Fatal(e)) => return Err(e),
        }
    }
    summary.held_out_samples = held_out.len();
    let q = quant::quantize(model, &stats, options, &held_out, cache_version)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((q, summary))
}

/// Preprocessed calibration samples of a directory, concatenated in batches of `batch` samples — for a calibrator
/// that hands them to TensorRT itself (`trt-build --calib-on-gpu`). The same discovery, seeded shuffle,
/// preprocessing and skip rules as [`calibrate_dir`] (bad files are skipped with a warning; data that cannot fit
/// the input is an error); no files are held out. The last batch may be short.
pub struct SampleBatches {
    pre: Preprocessor,
    files: std::vec::IntoIter<PathBuf>,
    pending: Vec<f32>,
    batch: usize,
    sample_len: usize,
    left: usize,
    warnings: bool,
    dir: PathBuf,
    yielded: usize,
    skipped: usize,
}

impl SampleBatches {
    /// Batches of `batch` samples for an input of shape `[N, 3, H, W]` (N is ignored) from `dir`, at most
    /// `data.count` samples.
    pub fn new(dir: &Path, shape: &[usize], batch: usize, data: &DataOptions) -> Result<Self> {
        if batch == 0 {
            bail!("calibration batch size 0: give at least 1");
        }
        let mut one = shape.to_vec();
        if let Some(n) = one.first_mut() {
            *n = 1;
        }
        let pre = Preprocessor::new(&one, data)?;
        let files = shuffled(discover(dir)?, data.seed);
        Ok(SampleBatches {
            pre,
            files: files.into_iter(),
            pending: Vec::new(),
            batch,
            sample_len: one.iter().product(),
            left: data.count.unwrap_or(usize::MAX),
            warnings: data.warnings,
            dir: dir.to_path_buf(),
            yielded: 0,
            skipped: 0,
        })
    }

    /// f32 values per sample.
    pub fn sample_len(&self) -> usize {
        self.sample_len
    }
}

impl Iterator for SampleBatches {
    type Item = Result<Vec<f32>>;

    fn next(&mut self) -> Option<Result<Vec<f32>>> {
        let want = self.batch.min(self.left) * self.sample_len;
        while self.pending.len() < want {
            let Some(path) = self.files.next() else { break };
            match self.pre.load(&path) {
                Ok(v) => v.iter().for_each(|a| self.pending.extend(a.iter())),
                Err(LoadError::Skip(why)) => {
                    self.skipped += 1;
                    if self.warnings {
                        eprintln!("warning: calibration: skipping {}: {why}", path.display());
                    }
                }
                Err(LoadError::Fatal(e)) => {
                    self.left = 0;
                    return Some(Err(e));
                }
            }
        }
        if self.pending.is_empty() || want == 0 {
            if self.yielded == 0 && self.left > 0 {
                self.left = 0;
                return Some(Err(anyhow::anyhow!(
                    "calibration data {}: no usable file ({} skipped)",
                    self.dir.display(),
                    self.skipped
                )));
            }
            return None;
        }
        let take = want.min(self.pending.len());
        let rest = self.pending.split_off(take);
        let out = std::mem::replace(&mut self.pending, rest);
        let samples = out.len() / self.sample_len;
        self.left -= samples;
        self.yielded += samples;
        Some(Ok(out))
    }
}

#[cfg(test)]
mod sample_batches_tests {
    use super::*;

    #[test]
    fn calibration_scans_take_every_decodable_image_format() {
        for f in [
            "a.png", "b.JPG", "c.jpeg", "d.bmp", "e.webp", "f.TIFF", "g.tif", "h.npy",
        ] {
            assert!(is_calib_file(Path::new(f)), "{f}");
        }
        for f in ["i.gif", "j.txt", "k"] {
            assert!(!is_calib_file(Path::new(f)), "{f}");
        }
    }

    #[test]
    fn batches_concatenate_samples_and_end_short() {
        let dir = tempfile::tempdir().unwrap();
        // 3 single samples and one file of 2: 5 samples of [3, 2, 2].
        for k in 0..3 {
            let a = ArrayD::from_elem(IxDyn(&[3, 2, 2]), k as f32);
            write_npy(&dir.path().join(format!("s{k}.npy")), &a).unwrap();
        }
        let a = ArrayD::from_shape_fn(IxDyn(&[2, 3, 2, 2]), |i| 10.0 + i[0] as f32);
        write_npy(&dir.path().join("pair.npy"), &a).unwrap();
        let data = DataOptions {
            warnings: false,
            ..Default::default()
        };
        let b = SampleBatches::new(dir.path(), &[4, 3, 2, 2], 2, &data).unwrap();
        assert_eq!(b.sample_len(), 12);
        let batches: Vec<Vec<f32>> = b.map(|r| r.unwrap()).collect();
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            [24, 24, 12]
        );
        let mut firsts: Vec<f32> = batches
            .iter()
            .flat_map(|b| b.chunks(12).map(|c| c[0]))
            .collect();
        firsts.sort_by(f32::total_cmp);
        assert_eq!(firsts, [0.0, 1.0, 2.0, 10.0, 11.0]);

        let limited = SampleBatches::new(
            dir.path(),
            &[1, 3, 2, 2],
            2,
            &DataOptions {
                count: Some(3),
                ..data.clone()
            },
        );
        let n: usize = limited.unwrap().map(|r| r.unwrap().len() / 12).sum();
        assert_eq!(n, 3);

        // A tensor of the wrong size is an error naming the file.
        let bad = ArrayD::from_elem(IxDyn(&[3, 5, 5]), 0.0);
        write_npy(&dir.path().join("bad.npy"), &bad).unwrap();
        let err = SampleBatches::new(dir.path(), &[1, 3, 2, 2], 8, &data)
            .unwrap()
            .find_map(|r| r.err())
            .unwrap();
        assert!(format!("{err:#}").contains("bad.npy"), "{err:#}");
    }
}
