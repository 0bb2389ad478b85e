//! On-GPU INT8 calibration for TensorRT ≤ 10.x: a [`Calibrator`] whose `getBatch`
//! copies preprocessed batches to device memory.
//!
//! [`DeviceCalibrator`] holds one [`DeviceBuffer<f32>`] per network input, sized `batch × sample`. Each time
//! TensorRT asks for a batch it pulls the next one from a [`BatchSource`], checks every tensor's name and length
//! against the expected inputs, copies it host → device on its own [`Stream`] and synchronizes before handing the
//! device pointers back (TensorRT reads them as soon as `getBatch` returns). The buffers are reused for the next
//! batch: TensorRT has finished with a batch when it asks for the next one (the `IInt8Calibrator` contract), and
//! they live as long as the calibrator, which the builder config owns until it is dropped.
//!
//! TensorRT only sees `true`/`false` from `getBatch`, so an error (a bad batch, a failed copy) ends calibration
//! and is stashed: the builder's caller must call [`CalibrationHandle::take_error`] after the build and report it,
//! instead of accepting an engine calibrated on fewer batches than intended.
//!
//! The cache side uses TensorRT's calibration-cache text format (`TRT-<version>-<Algorithm>` header, one
//! `tensor: hex(float32 scale)` line per tensor): [`read_cache`](crate::builder::Calibrator::read_cache) serves a
//! cache only when one was given and its header names the calibrator's algorithm (otherwise TensorRT calibrates);
//! [`write_cache`](crate::builder::Calibrator::write_cache) keeps the bytes for the caller to write atomically.

use std::sync::{Arc, Mutex, PoisonError};

use crate::builder::{CalibrationAlgorithm, Calibrator};
use crate::cuda::{Device, DeviceBuffer, Stream};
use crate::dtype::DataType;
use crate::error::{Error, Result};

/// One batch: `(input tensor name, batch × sample f32 values)` for every network input.
pub type Batch = Vec<(String, Vec<f32>)>;

/// Where [`DeviceCalibrator`] gets its batches. Any `Iterator<Item = Result<Batch>> + Send` is one.
pub trait BatchSource: Send {
    /// The next batch, `None` when the data is exhausted.
    fn next_batch(&mut self) -> Option<Result<Batch>>;
}

impl<I: Iterator<Item = Result<Batch>> + Send> BatchSource for I {
    fn next_batch(&mut self) -> Option<Result<Batch>> {
        self.next()
    }
}

/// A network input the calibrator feeds: its name and the number of f32 values of one sample (one batch item).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalibInput {
    /// The input tensor's name, as TensorRT names it in `getBatch`.
    pub name: String,
    /// Values per sample (product of the input's dimensions without the batch dimension).
    pub sample_len: usize,
}

/// The calibrator algorithm named by a calibration cache's `TRT-<version>-<Algorithm>` header, `None` when the
/// header is missing or names an algorithm TensorRT's builder calibrators here do not use.
pub fn cache_header_algorithm(cache: &[u8]) -> Option<CalibrationAlgorithm> {
    let header = cache.split(|&b| b == b'\n').next()?;
    let header = std::str::from_utf8(header).ok()?.trim_end_matches('\r');
    let rest = header.strip_prefix("TRT-")?;
    let (version, algo) = rest.split_once('-')?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match algo {
        "EntropyCalibration2" => Some(CalibrationAlgorithm::Entropy2),
        "MinMaxCalibration" => Some(CalibrationAlgorithm::MinMax),
        _ => None,
    }
}

/// What the calibrator shares with its caller after the builder took it.
#[derive(Debug, Default)]
struct Shared {
    error: Option<Error>,
    written_cache: Option<Vec<u8>>,
    batches: usize,
    dropped_samples: usize,
}

/// The caller's view of a [`DeviceCalibrator`] that was boxed and handed to the builder.
#[derive(Clone, Debug)]
pub struct CalibrationHandle(Arc<Mutex<Shared>>);

impl CalibrationHandle {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The error that ended calibration early, if any (taken: a second call returns `None`).
    pub fn take_error(&self) -> Option<Error> {
        self.lock().error.take()
    }

    /// The cache TensorRT wrote through `writeCalibrationCache`, if it did (taken).
    pub fn take_written_cache(&self) -> Option<Vec<u8>> {
        self.lock().written_cache.take()
    }

    /// Batches handed to TensorRT so far.
    pub fn batches(&self) -> usize {
        self.lock().batches
    }

    /// Samples of a final, short batch that were not used (TensorRT calibrates on full batches only).
    pub fn dropped_samples(&self) -> usize {
        self.lock().dropped_samples
    }
}

/// Moves one batch to memory TensorRT can read. Production: [`GpuUpload`]; tests inject a host-side fake.
trait Upload: Send {
    /// Copies `data` into input `index`'s buffer and waits for the copy to complete; returns its address.
    fn upload(&mut self, index: usize, data: &[f32]) -> Result<usize>;
}

/// Device buffers (one per input) and the stream the copies run on.
struct GpuUpload {
    stream: Stream,
    buffers: Vec<DeviceBuffer<f32>>,
}

impl Upload for GpuUpload {
    fn upload(&mut self, index: usize, data: &[f32]) -> Result<usize> {
        let buf = &mut self.buffers[index];
        // `copy_from_slice` synchronizes the stream before returning, so the data is on the device when
        // TensorRT reads the pointer right after getBatch returns.
        self.stream.copy_from_slice(data, buf)?;
        Ok(buf.as_raw_ptr() as usize)
    }
}

/// An INT8 calibrator (TensorRT ≤ 10.x) feeding preprocessed batches to TensorRT from device memory.
pub struct DeviceCalibrator {
    inputs: Vec<CalibInput>,
    batch_size: usize,
    source: Box<dyn BatchSource>,
    upload: Box<dyn Upload>,
    algorithm: CalibrationAlgorithm,
    cache: Option<Vec<u8>>,
    finished: bool,
    shared: Arc<Mutex<Shared>>,
}

impl std::fmt::Debug for DeviceCalibrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCalibrator")
            .field("inputs", &self.inputs)
            .field("batch_size", &self.batch_size)
            .field("algorithm", &self.algorithm)
            .field("has_cache", &self.cache.is_some())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl DeviceCalibrator {
    /// A calibrator for `inputs` with `batch_size` samples per batch, allocating one `batch × sample` device
    /// buffer per input on `device`. `algorithm` is the one passed to
    /// [`BuilderConfig::set_int8_calibrator`](crate::builder::BuilderConfig::set_int8_calibrator); a cache given
    /// with [`with_cache`](Self::with_cache) is served only if its header names the same algorithm.
    pub fn new(
        device: &Device,
        inputs: Vec<CalibInput>,
        batch_size: usize,
        algorithm: CalibrationAlgorithm,
        source: Box<dyn BatchSource>,
    ) -> Result<Self> {
        check_inputs(&inputs, batch_size)?;
        let stream = Stream::new(device)?;
        let buffers = inputs
            .iter()
            .map(|i| DeviceBuffer::new(device, i.sample_len * batch_size))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::with_upload(
            inputs,
            batch_size,
            algorithm,
            source,
            Box::new(GpuUpload { stream, buffers }),
        ))
    }

    fn with_upload(
        inputs: Vec<CalibInput>,
        batch_size: usize,
        algorithm: CalibrationAlgorithm,
        source: Box<dyn BatchSource>,
        upload: Box<dyn Upload>,
    ) -> Self {
        DeviceCalibrator {
            inputs,
            batch_size,
            source,
            upload,
            algorithm,
            cache: None,
            finished: false,
            shared: Arc::default(),
        }
    }

    /// Checks the calibrator against the network it calibrates: every calibration input is a network input of type
    /// f32 with a static per-sample volume equal to its `sample_len`, whose batch dimension (when static) is the
    /// calibrator's batch size. `network` lists `(name, data type, dims)` of the network inputs (`-1`: dynamic, which
    /// TensorRT fills from the first profile's opt shape; pass those dims resolved). Call it before handing the
    /// calibrator to TensorRT: a mismatch would let TensorRT read past the calibration buffers.
    pub fn check_network_inputs(&self, network: &[(String, DataType, Vec<i64>)]) -> Result<()> {
        for input in &self.inputs {
            let Some((_, dtype, dims)) = network.iter().find(|(n, _, _)| *n == input.name) else {
                return Err(Error::InvalidArgument(format!(
                    "calibration input `{}` is not an input of the network (inputs: {})",
                    input.name,
                    network
                        .iter()
                        .map(|(n, _, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            if *dtype != DataType::F32 {
                return Err(Error::InvalidArgument(format!(
                    "calibration input `{}` is {dtype} in the network; the calibrator feeds f32",
                    input.name
                )));
            }
            let (batch, sample) = dims
                .split_first()
                .map_or((None, &[][..]), |(b, s)| (Some(*b), s));
            let volume = sample.iter().try_fold(1usize, |acc, &d| {
                usize::try_from(d).ok().and_then(|d| acc.checked_mul(d))
            });
            if volume != Some(input.sample_len) {
                return Err(Error::InvalidArgument(format!(
                    "calibration input `{}`: the network's per-sample shape {:?} holds {} values, the calibrator's \
                     samples {}",
                    input.name,
                    sample,
                    volume.map_or("an unknown number of".to_owned(), |v| v.to_string()),
                    input.sample_len
                )));
            }
            if let Some(b) = batch.filter(|&b| b >= 0) {
                if usize::try_from(b).ok() != Some(self.batch_size) {
                    return Err(Error::InvalidArgument(format!(
                        "calibration input `{}`: the network's batch is {b}, the calibrator's {}",
                        input.name, self.batch_size
                    )));
                }
            }
        }
        Ok(())
    }

    /// Serves `cache` (a `TRT-<version>-<Algorithm>` calibration cache) to TensorRT when its header names this
    /// calibrator's algorithm; otherwise it is ignored (with a warning) and TensorRT calibrates on the batches.
    pub fn with_cache(mut self, cache: Vec<u8>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// A handle that outlives the boxed calibrator: the stashed error, the written cache, counters.
    pub fn handle(&self) -> CalibrationHandle {
        CalibrationHandle(Arc::clone(&self.shared))
    }

    /// The error that ended calibration early, if any (taken).
    pub fn take_error(&self) -> Option<Error> {
        self.handle().take_error()
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fail(&mut self, e: Error) -> bool {
        tracing::error!("INT8 calibration stopped: {e}");
        self.finished = true;
        let mut s = self.shared();
        if s.error.is_none() {
            s.error = Some(e);
        }
        false
    }

    /// Pulls, checks and uploads the next batch; `Ok(false)` at the end of the data.
    fn try_next(&mut self, names: &[String], bindings: &mut [usize]) -> Result<bool> {
        if names.len() != bindings.len() {
            return Err(Error::InvalidArgument(format!(
                "getBatch: TensorRT passed {} names but {} bindings",
                names.len(),
                bindings.len()
            )));
        }
        // Map TensorRT's names to our inputs before consuming data.
        let mut slots = Vec::with_capacity(names.len());
        for name in names {
            let Some(i) = self.inputs.iter().position(|x| &x.name == name) else {
                return Err(Error::InvalidArgument(format!(
                    "TensorRT asks for calibration input `{name}`, which the calibrator was not given (inputs: {})",
                    self.input_names()
                )));
            };
            slots.push(i);
        }
        let Some(batch) = self.source.next_batch() else {
            return Ok(false);
        };
        let batch = batch?;
        let mut data: Vec<Option<Vec<f32>>> = vec![None; self.inputs.len()];
        let mut samples = None;
        for (name, values) in batch {
            let Some(i) = self.inputs.iter().position(|x| x.name == name) else {
                return Err(Error::InvalidArgument(format!(
                    "calibration batch has tensor `{name}`, which is not a network input (inputs: {})",
                    self.input_names()
                )));
            };
            let input = &self.inputs[i];
            if values.is_empty() || values.len() % input.sample_len != 0 {
                return Err(Error::InvalidArgument(format!(
                    "calibration batch tensor `{name}` has {} values, not a multiple of its sample size {} \
                     (preprocess to the network's input shape)",
                    values.len(),
                    input.sample_len
                )));
            }
            let n = values.len() / input.sample_len;
            if n > self.batch_size {
                return Err(Error::InvalidArgument(format!(
                    "calibration batch tensor `{name}` holds {n} samples, more than the batch size {}",
                    self.batch_size
                )));
            }
            if *samples.get_or_insert(n) != n {
                return Err(Error::InvalidArgument(format!(
                    "calibration batch tensor `{name}` holds {n} samples but other inputs hold {}",
                    samples.unwrap_or(0)
                )));
            }
            if data[i].replace(values).is_some() {
                return Err(Error::InvalidArgument(format!(
                    "calibration batch has tensor `{name}` twice"
                )));
            }
        }
        if let Some(missing) = slots.iter().find(|&&i| data[i].is_none()) {
            return Err(Error::InvalidArgument(format!(
                "calibration batch lacks input `{}`",
                self.inputs[*missing].name
            )));
        }
        let n = samples.unwrap_or(0);
        if n < self.batch_size {
            // TensorRT calibrates on full batches only: a short batch is the end of the data.
            tracing::warn!(
                "calibration: last batch has {n} of {} samples; dropped",
                self.batch_size
            );
            self.shared().dropped_samples += n;
            return Ok(false);
        }
        for (slot, &i) in bindings.iter_mut().zip(&slots) {
            let values = data[i].as_deref().unwrap_or_default();
            *slot = self.upload.upload(i, values)?;
        }
        self.shared().batches += 1;
        Ok(true)
    }

    fn input_names(&self) -> String {
        let names: Vec<&str> = self.inputs.iter().map(|i| i.name.as_str()).collect();
        names.join(", ")
    }
}

fn check_inputs(inputs: &[CalibInput], batch_size: usize) -> Result<()> {
    if batch_size == 0 || i32::try_from(batch_size).is_err() {
        return Err(Error::InvalidArgument(format!(
            "calibration batch size {batch_size}: must be between 1 and {}",
            i32::MAX
        )));
    }
    if inputs.is_empty() {
        return Err(Error::InvalidArgument(
            "calibrator: no network inputs given".into(),
        ));
    }
    for (k, i) in inputs.iter().enumerate() {
        if i.sample_len == 0 {
            return Err(Error::InvalidArgument(format!(
                "calibration input `{}`: sample size 0 (give the input's fixed per-sample shape)",
                i.name
            )));
        }
        if inputs[..k].iter().any(|o| o.name == i.name) {
            return Err(Error::InvalidArgument(format!(
                "calibration input `{}` listed twice",
                i.name
            )));
        }
    }
    Ok(())
}

/// Serves a calibration cache to TensorRT's builder (≤ 10.x) and nothing else: no batches, so TensorRT takes every
/// range from the cache (`trt-build --calib-cache FILE`, or a cache computed in Rust).
#[derive(Debug, Clone)]
pub struct CacheCalibrator {
    cache: Vec<u8>,
}

impl CacheCalibrator {
    /// A calibrator serving `cache` (a `TRT-<version>-<Algorithm>` calibration cache).
    pub fn new(cache: Vec<u8>) -> Self {
        CacheCalibrator { cache }
    }
}

// SAFETY: `next_batch` never returns `true` and writes no address: TensorRT reads only the cache.
unsafe impl Calibrator for CacheCalibrator {
    fn batch_size(&self) -> i32 {
        1
    }

    fn next_batch(&mut self, _names: &[String], _bindings: &mut [usize]) -> bool {
        false
    }

    fn read_cache(&mut self) -> Option<Vec<u8>> {
        Some(self.cache.clone())
    }

    fn write_cache(&mut self, _data: &[u8]) {}
}

// SAFETY: `try_next` writes into `bindings` only the addresses of this calibrator's own device buffers, allocated in
// `new` as `batch_size × sample_len` f32 on the calibrator's device, owned by it (so alive until it is dropped with the
// builder config, after the build), and rewritten only by the next `next_batch` call. Their size matches the network
// input when `check_network_inputs` passed (trt-build calls it), and `try_next` refuses batches of another size.
unsafe impl Calibrator for DeviceCalibrator {
    fn batch_size(&self) -> i32 {
        // Checked in `new`.
        i32::try_from(self.batch_size).unwrap_or(i32::MAX)
    }

    fn next_batch(&mut self, names: &[String], bindings: &mut [usize]) -> bool {
        if self.finished {
            return false;
        }
        match self.try_next(names, bindings) {
            Ok(true) => true,
            Ok(false) => {
                self.finished = true;
                false
            }
            Err(e) => self.fail(e),
        }
    }

    fn read_cache(&mut self) -> Option<Vec<u8>> {
        let cache = self.cache.as_ref()?;
        match cache_header_algorithm(cache) {
            Some(a) if a == self.algorithm => Some(cache.clone()),
            _ => {
                tracing::warn!(
                    "calibration cache ignored: its header does not name the {:?} calibrator; calibrating on the GPU",
                    self.algorithm
                );
                None
            }
        }
    }

    fn write_cache(&mut self, data: &[u8]) {
        self.shared().written_cache = Some(data.to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the fake copy received: `(input index, values)` per upload.
    type Log = Arc<Mutex<Vec<(usize, Vec<f32>)>>>;

    /// Host-side stand-in for the device copy: records what was "uploaded" and returns distinct addresses.
    struct FakeUpload {
        log: Log,
        fail_at: Option<usize>,
    }

    impl Upload for FakeUpload {
        fn upload(&mut self, index: usize, data: &[f32]) -> Result<usize> {
            let mut log = self.log.lock().unwrap();
            if self.fail_at == Some(log.len()) {
                return Err(Error::InvalidArgument("fake copy failed".into()));
            }
            log.push((index, data.to_vec()));
            Ok(0x1000 * (index + 1) + log.len())
        }
    }

    fn inputs() -> Vec<CalibInput> {
        vec![
            CalibInput {
                name: "images".into(),
                sample_len: 3,
            },
            CalibInput {
                name: "scale".into(),
                sample_len: 1,
            },
        ]
    }

    fn batch(k: usize, n: usize) -> Batch {
        vec![
            (
                "scale".into(),
                (0..n).map(|i| (k * 10 + i) as f32).collect(),
            ),
            (
                "images".into(),
                (0..3 * n).map(|i| (k * 100 + i) as f32).collect(),
            ),
        ]
    }

    fn calib(batches: Vec<Result<Batch>>, fail_at: Option<usize>) -> (DeviceCalibrator, Log) {
        let log = Arc::default();
        let c = DeviceCalibrator::with_upload(
            inputs(),
            2,
            CalibrationAlgorithm::MinMax,
            Box::new(batches.into_iter()),
            Box::new(FakeUpload {
                log: Arc::clone(&log),
                fail_at,
            }),
        );
        (c, log)
    }

    fn names() -> Vec<String> {
        vec!["images".into(), "scale".into()]
    }

    #[test]
    fn the_network_must_match_what_the_calibrator_uploads() {
        let (c, _) = calib(Vec::new(), None);
        let net = |images: Vec<i64>, dt: DataType| {
            vec![
                ("images".to_owned(), dt, images),
                ("scale".to_owned(), DataType::F32, vec![2, 1]),
            ]
        };
        assert!(c
            .check_network_inputs(&net(vec![2, 3], DataType::F32))
            .is_ok());
        assert!(
            c.check_network_inputs(&net(vec![-1, 3], DataType::F32))
                .is_ok(),
            "dynamic batch"
        );
        let err = |n: Vec<(String, DataType, Vec<i64>)>| {
            c.check_network_inputs(&n).unwrap_err().to_string()
        };
        // A bigger sample than the buffers hold would make TensorRT read past them.
        let e = err(net(vec![2, 4], DataType::F32));
        assert!(
            e.contains("`images`") && e.contains("4 values") && e.contains("3"),
            "{e}"
        );
        let e = err(net(vec![2, -1], DataType::F32));
        assert!(e.contains("unknown number"), "{e}");
        let e = err(net(vec![4, 3], DataType::F32));
        assert!(e.contains("batch is 4") && e.contains("2"), "{e}");
        let e = err(net(vec![2, 3], DataType::F16));
        assert!(e.contains("f16") && e.contains("feeds f32"), "{e}");
        let e = err(vec![("images".to_owned(), DataType::F32, vec![2, 3])]);
        assert!(e.contains("`scale` is not an input"), "{e}");
    }

    #[test]
    fn serves_batches_in_binding_order_then_ends() {
        let (mut c, log) = calib(
            vec![Ok(batch(0, 2)), Ok(batch(1, 2)), Ok(batch(2, 1))],
            None,
        );
        let h = c.handle();
        assert_eq!(c.batch_size(), 2);
        let mut b = [0usize; 2];
        assert!(c.next_batch(&names(), &mut b));
        // Binding 0 is `images` (input 0), binding 1 `scale` (input 1), whatever order the batch listed them in.
        assert_eq!(b, [0x1000 + 1, 0x2000 + 2]);
        assert!(c.next_batch(&names(), &mut b));
        // The third batch is short (1 of 2 samples): end of data, samples counted as dropped.
        assert!(!c.next_batch(&names(), &mut b));
        assert!(!c.next_batch(&names(), &mut b));
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 4);
        assert_eq!(log[0], (0, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]));
        assert_eq!(log[1], (1, vec![0.0, 1.0]));
        assert_eq!(log[2], (0, (100..106).map(|v| v as f32).collect()));
        assert_eq!(log[3], (1, vec![10.0, 11.0]));
        assert_eq!(h.batches(), 2);
        assert_eq!(h.dropped_samples(), 1);
        assert!(h.take_error().is_none());
    }

    #[test]
    fn wrong_size_is_stashed_naming_the_tensor() {
        let mut bad = batch(0, 2);
        bad[1].1.pop(); // images: 5 values, sample size 3
        let (mut c, log) = calib(vec![Ok(batch(0, 2)), Ok(bad), Ok(batch(2, 2))], None);
        let mut b = [0usize; 2];
        assert!(c.next_batch(&names(), &mut b));
        assert!(!c.next_batch(&names(), &mut b));
        // Finished: no later batch is served after an error.
        assert!(!c.next_batch(&names(), &mut b));
        assert_eq!(log.lock().unwrap().len(), 2);
        let msg = c.take_error().expect("error stashed").to_string();
        assert!(
            msg.contains("`images`") && msg.contains("5 values"),
            "{msg}"
        );
        assert!(c.take_error().is_none());
    }

    #[test]
    fn unknown_missing_and_mismatched_tensors() {
        let mut extra = batch(0, 2);
        extra.push(("mask".into(), vec![0.0; 2]));
        let missing = vec![batch(0, 2).remove(1)];
        let mut uneven = batch(0, 2);
        uneven[0].1.pop(); // scale: 1 sample, images: 2
        for (b, want) in [
            (extra, "`mask`"),
            (missing, "lacks input `scale`"),
            (uneven, "holds 2 samples but other inputs hold 1"),
        ] {
            let (mut c, _) = calib(vec![Ok(b)], None);
            assert!(!c.next_batch(&names(), &mut [0; 2]));
            let msg = c.take_error().unwrap().to_string();
            assert!(msg.contains(want), "{msg} lacks {want}");
        }
        // TensorRT asking for an input we were not given.
        let (mut c, _) = calib(vec![Ok(batch(0, 2))], None);
        assert!(!c.next_batch(&["input0".to_string()], &mut [0]));
        let msg = c.take_error().unwrap().to_string();
        assert!(
            msg.contains("`input0`") && msg.contains("images, scale"),
            "{msg}"
        );
    }

    #[test]
    fn source_and_copy_errors_are_stashed() {
        let (mut c, _) = calib(
            vec![Err(Error::InvalidArgument("bad.png: unreadable".into()))],
            None,
        );
        let h = c.handle();
        assert!(!c.next_batch(&names(), &mut [0; 2]));
        assert!(h.take_error().unwrap().to_string().contains("bad.png"));

        let (mut c, _) = calib(vec![Ok(batch(0, 2))], Some(1));
        assert!(!c.next_batch(&names(), &mut [0; 2]));
        assert!(c
            .take_error()
            .unwrap()
            .to_string()
            .contains("fake copy failed"));
    }

    #[test]
    fn cache_served_only_for_matching_algorithm() {
        let (c, _) = calib(vec![], None);
        let mut c = c;
        assert_eq!(c.read_cache(), None);
        let minmax = b"TRT-100300-MinMaxCalibration\nimages: 3c010a14\n".to_vec();
        let entropy = b"TRT-8503-EntropyCalibration2\nimages: 3c010a14\n".to_vec();
        let mut c = c.with_cache(entropy.clone());
        assert_eq!(c.read_cache(), None);
        c.cache = Some(minmax.clone());
        assert_eq!(c.read_cache(), Some(minmax));
        let h = c.handle();
        c.write_cache(&entropy);
        assert_eq!(h.take_written_cache(), Some(entropy));
        assert_eq!(h.take_written_cache(), None);
    }

    #[test]
    fn header_algorithms() {
        use CalibrationAlgorithm::*;
        assert_eq!(
            cache_header_algorithm(b"TRT-8503-EntropyCalibration2\n"),
            Some(Entropy2)
        );
        assert_eq!(
            cache_header_algorithm(b"TRT-100300-MinMaxCalibration"),
            Some(MinMax)
        );
        assert_eq!(
            cache_header_algorithm(b"TRT-100300-MinMaxCalibration\r\nx: 1\n"),
            Some(MinMax)
        );
        assert_eq!(
            cache_header_algorithm(b"TRT-8503-LegacyCalibration\n"),
            None
        );
        assert_eq!(cache_header_algorithm(b"TRT--MinMaxCalibration\n"), None);
        assert_eq!(cache_header_algorithm(b"images: 3c010a14\n"), None);
        assert_eq!(cache_header_algorithm(b""), None);
    }

    #[test]
    fn invalid_configuration() {
        let mut dup = inputs();
        dup[1].name = "images".into();
        let mut zero = inputs();
        zero[0].sample_len = 0;
        for (i, bs, want) in [
            (inputs(), 0, "batch size 0"),
            (vec![], 1, "no network inputs"),
            (dup, 1, "`images` listed twice"),
            (zero, 1, "`images`: sample size 0"),
        ] {
            let msg = check_inputs(&i, bs).unwrap_err().to_string();
            assert!(msg.contains(want), "{msg}");
        }
    }

    #[test]
    #[ignore = "needs GPU"]
    fn gpu_copies_two_batches_and_reads_them_back() {
        let device = Device::new(0).expect("a CUDA device");
        let mut c = DeviceCalibrator::new(
            &device,
            inputs(),
            2,
            CalibrationAlgorithm::MinMax,
            Box::new(vec![Ok(batch(0, 2)), Ok(batch(1, 2))].into_iter()),
        )
        .expect("calibrator");
        let h = c.handle();
        let stream = Stream::new(&device).unwrap();
        for k in 0..2 {
            let mut b = [0usize; 2];
            assert!(c.next_batch(&names(), &mut b), "{:?}", h.take_error());
            let want = batch(k, 2);
            for (slot, (idx, name)) in [(0, "images"), (1, "scale")].into_iter().enumerate() {
                let len = inputs()[idx].sample_len * 2;
                let mut back = vec![0f32; len];
                // SAFETY: `b[slot]` is the calibrator's live device buffer of `len` f32s, synchronized after the copy.
                unsafe {
                    trt_sys::cuda::memory::copy_async(
                        back.as_mut_ptr().cast(),
                        b[slot] as *const std::ffi::c_void,
                        len * 4,
                        trt_sys::cuda::cudaMemcpyKind::cudaMemcpyDeviceToHost,
                        stream.as_raw(),
                    )
                    .unwrap();
                }
                stream.synchronize().unwrap();
                let expected = &want.iter().find(|(n, _)| n == name).unwrap().1;
                assert_eq!(&back, expected, "batch {k} input {name}");
            }
        }
        assert!(!c.next_batch(&names(), &mut [0; 2]));
        assert!(h.take_error().is_none());
        assert_eq!(h.batches(), 2);
    }
}
