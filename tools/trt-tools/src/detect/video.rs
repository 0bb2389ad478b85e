//! Video for trt-detect (`--features video`): an `ffmpeg` executable, run as a child process, decodes a file, a V4L2
//! camera or a network stream into RGB frames on a pipe, and a second one encodes the annotated frames into an MP4.
//! Nothing is linked: ffmpeg is found at run time ([`Ffmpeg::find`]).
//!
//! The decoder writes each frame as a binary PPM (`-f image2pipe -c:v ppm -pix_fmt rgb24`): raw rgb24 rows behind a
//! `P6 <width> <height> 255` header, so every frame carries its own size and no ffprobe (which static ffmpeg builds
//! such as imageio-ffmpeg's do not ship) and no parsing of ffmpeg's log is needed to read it. The log is kept only
//! for the frame rate (timestamps, the saved video's rate) and for error messages. Frames are passed through as
//! decoded (`-fps_mode passthrough`: none duplicated or dropped), so frame `n` is the source's `n`-th frame, as
//! OpenCV (Ultralytics) counts them.
//!
//! Every child runs in its own process group, so Ctrl-C reaches trt-detect alone: it stops after the current frame
//! ([`watch_signals`]), kills the decoder, lets the encoder finish the video so far and reaps both. A child is killed
//! and reaped on every other way out too (an error, a closed stdout, `--max-frames`): [`Decoder`] and [`Encoder`] do
//! it when dropped.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use yolo_rt::{Image, PixelFormat};

use super::source::VideoSource;

/// Environment variables naming the ffmpeg executable, in the order they are read (after `--ffmpeg`).
pub(super) const FFMPEG_ENV: [&str; 2] = ["TRT_FFMPEG", "FFMPEG"];

/// How to get an ffmpeg, for the error that finds none.
const INSTALL_HINT: &str = "install one (`apt install ffmpeg`, `dnf install ffmpeg`), or a static build from PyPI: \
                            `pip install imageio-ffmpeg` and `--ffmpeg \"$(python3 -c 'import imageio_ffmpeg; \
                            print(imageio_ffmpeg.get_ffmpeg_exe())')\"`";

/// Frames larger than this (either side) are refused as a corrupt stream rather than allocated.
const MAX_SIDE: usize = 32_768;

/// Decoded frames the reader thread may hold ahead of the detector.
const READ_AHEAD: usize = 2;

/// How long to wait for ffmpeg's log to state the frame rate once the first frame is here.
const FPS_WAIT: Duration = Duration::from_secs(2);

/// An ffmpeg executable that runs, and what the decoder's command line needs to know about its release.
#[derive(Debug)]
pub(super) struct Ffmpeg {
    path: PathBuf,
    /// `-fps_mode` (ffmpeg 5.1 and later) or `-vsync` (earlier releases; removed in 7.x).
    fps_flag: &'static str,
    /// The codec the annotated video is encoded with (asked once, on the first video saved).
    codec: OnceLock<Result<Codec, String>>,
}

/// The video codec of `--save-dir`'s MP4s: H.264 when this ffmpeg has libx264, else MPEG-4 part 2 (every build has
/// it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Codec {
    /// `-c:v libx264 -crf 18`.
    X264,
    /// `-c:v mpeg4 -q:v 2`.
    Mpeg4,
}

/// Where [`Ffmpeg::find`] looks, as data (unit-tested without touching the process environment).
pub(super) struct Lookup<'a> {
    /// `--ffmpeg PATH`.
    pub flag: Option<&'a Path>,
    /// The values of [`FFMPEG_ENV`], in order.
    pub env: Vec<(&'static str, Option<OsString>)>,
    /// `PATH`.
    pub path_var: Option<OsString>,
}

impl Lookup<'_> {
    /// This process's `--ffmpeg`, environment and `PATH`.
    pub(super) fn from_env(flag: Option<&Path>) -> Lookup<'_> {
        Lookup {
            flag,
            env: FFMPEG_ENV
                .iter()
                .map(|k| (*k, std::env::var_os(k).filter(|v| !v.is_empty())))
                .collect(),
            path_var: std::env::var_os("PATH"),
        }
    }

    /// The executable: `--ffmpeg`, else the first variable set, else `ffmpeg` in a `PATH` directory. A flag or variable
    /// naming nothing executable is an error of its own (not passed over); finding nothing names every place tried.
    pub(super) fn locate(&self) -> Result<PathBuf, String> {
        if let Some(p) = self.flag {
            return executable(p).map_err(|why| format!("--ffmpeg {}: {why}", p.display()));
        }
        for (name, value) in &self.env {
            if let Some(v) = value {
                let p = Path::new(v);
                // A bare name (`FFMPEG=ffmpeg6`) is looked up on PATH.
                let found = if p.components().count() == 1 {
                    self.on_path(v)
                        .ok_or_else(|| "not found on PATH".to_string())
                } else {
                    executable(p)
                };
                return found.map_err(|why| format!("{name}={}: {why}", p.display()));
            }
        }
        self.on_path(OsStr::new("ffmpeg")).ok_or_else(|| {
            let dirs = self
                .path_var
                .as_ref()
                .map(|v| {
                    std::env::split_paths(v)
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(":")
                })
                .unwrap_or_default();
            format!(
                "no ffmpeg executable to decode videos with: --ffmpeg not given, {} unset, and no `ffmpeg` in PATH \
                 ({}); {INSTALL_HINT}",
                FFMPEG_ENV.join(" and "),
                if dirs.is_empty() { "empty" } else { &dirs }
            )
        })
    }

    fn on_path(&self, name: &OsStr) -> Option<PathBuf> {
        let var = self.path_var.as_ref()?;
        std::env::split_paths(var)
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.join(name))
            .find(|p| executable(p).is_ok())
    }
}

/// `p` if it is an executable file.
fn executable(p: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(p).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => "no such file".to_string(),
        _ => e.to_string(),
    })?;
    if !meta.is_file() {
        return Err("not a file".into());
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(format!("not executable (chmod +x {})", p.display()));
    }
    Ok(p.to_path_buf())
}

/// The decoder's frame-rate option for the release named by `ffmpeg -version`'s first line: `-fps_mode` from 5.1,
/// `-vsync` before; a version that does not parse (a git build, `N-12345-g…`) is taken as recent.
fn fps_flag(version_line: &str) -> &'static str {
    let v = version_line
        .strip_prefix("ffmpeg version ")
        .unwrap_or("")
        .trim_start_matches('n');
    let mut nums = v
        .split(|c: char| !c.is_ascii_digit())
        .map(|t| t.parse::<u32>().ok());
    match (nums.next().flatten(), nums.next().flatten()) {
        (Some(major), Some(minor)) if (major, minor) < (5, 1) => "-vsync",
        _ => "-fps_mode",
    }
}

/// A child process in its own process group (Ctrl-C reaches trt-detect, which stops the children itself), with no
/// terminal input.
fn command(exe: &Path) -> Command {
    let mut c = Command::new(exe);
    c.stdin(Stdio::null()).process_group(0);
    c
}

impl Ffmpeg {
    /// The ffmpeg to use ([`Lookup::locate`]), checked to run (`-version`).
    pub(super) fn find(flag: Option<&Path>) -> anyhow::Result<Ffmpeg> {
        let path = Lookup::from_env(flag).locate().map_err(|e| anyhow!(e))?;
        let out = command(&path)
            .args(["-hide_banner", "-version"])
            .output()
            .with_context(|| format!("running {} -version", path.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text.lines().next().unwrap_or("").trim().to_string();
        if !out.status.success() || !version.starts_with("ffmpeg version") {
            bail!(
                "{}: not a working ffmpeg (`-version` exited with {} and printed {:?})",
                path.display(),
                out.status,
                version
            );
        }
        Ok(Ffmpeg {
            fps_flag: fps_flag(&version),
            path,
            codec: OnceLock::new(),
        })
    }

    /// Starts decoding `source`; frames come from [`Decoder::next`], every `stride`-th one (0, stride, 2·stride, …).
    pub(super) fn decode(&self, source: &VideoSource, stride: u64) -> anyhow::Result<Decoder> {
        let mut child = command(&self.path)
            .args(decoder_args(source, self.fps_flag))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.path.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Log::default()));
        let stderr_thread = Some(spawn_log_reader(stderr, Arc::clone(&log)));
        let (tx, rx) = std::sync::mpsc::sync_channel(READ_AHEAD);
        let reader = Some(std::thread::spawn(move || {
            read_frames(BufReader::with_capacity(1 << 20, stdout), stride, &tx)
        }));
        Ok(Decoder {
            child,
            waited: None,
            frames: Some(rx),
            reader,
            log,
            stderr_thread,
            decoded: 0,
        })
    }

    /// The codec the annotated videos are written with: libx264 when this ffmpeg lists it, else mpeg4.
    fn codec(&self) -> anyhow::Result<Codec> {
        self.codec
            .get_or_init(|| {
                let out = command(&self.path)
                    .args(["-hide_banner", "-encoders"])
                    .output()
                    .map_err(|e| format!("running {} -encoders: {e}", self.path.display()))?;
                let list = String::from_utf8_lossy(&out.stdout);
                let has = |name: &str| {
                    list.lines()
                        .any(|l| l.split_whitespace().nth(1) == Some(name))
                };
                if has("libx264") {
                    Ok(Codec::X264)
                } else if has("mpeg4") {
                    Ok(Codec::Mpeg4)
                } else {
                    Err(format!(
                        "{} has neither the libx264 nor the mpeg4 encoder to write the annotated video; write the \
                         frames as PNGs instead (--save-frames)",
                        self.path.display()
                    ))
                }
            })
            .clone()
            .map_err(|e| anyhow!(e))
    }

    /// Starts writing an MP4 to `out` (atomically: a temporary file beside it, renamed by [`Encoder::finish`]) from
    /// `width`x`height` RGB frames at `fps`.
    pub(super) fn encode(
        &self,
        out: &Path,
        width: usize,
        height: usize,
        fps: f64,
    ) -> anyhow::Result<Encoder> {
        let codec = self.codec()?;
        let tmp = crate::common::fs::temp_beside(out)
            .with_context(|| format!("creating a temporary file beside {}", out.display()))?;
        let mut child = command(&self.path)
            .args(encoder_args(width, height, fps, codec, &tmp))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.path.display()))?;
        let stdin = child.stdin.take();
        let log = Arc::new(Mutex::new(Log::default()));
        let stderr_thread = child
            .stderr
            .take()
            .map(|e| spawn_log_reader(e, Arc::clone(&log)));
        Ok(Encoder {
            child,
            stdin,
            tmp: Some(tmp),
            out: out.to_path_buf(),
            size: (width, height),
            log,
            stderr_thread,
            frames: 0,
            waited: false,
        })
    }
}

/// The input options and `-i` of `source`.
fn input_args(source: &VideoSource) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    match source {
        VideoSource::File(p) => {
            // A decoding error ends the run with an error instead of a shorter video; `file:` keeps a name with a
            // colon from being read as a protocol.
            a.push("-xerror".into());
            a.push("-i".into());
            let mut f = OsString::from("file:");
            f.push(p.as_os_str());
            a.push(f);
        }
        VideoSource::Camera(dev) => {
            a.extend(["-f".into(), "v4l2".into(), "-i".into()]);
            a.push(dev.as_os_str().to_owned());
        }
        VideoSource::Stream(url) => {
            a.extend(["-i".into(), url.into()]);
        }
    }
    a
}

/// The decoder's command line (after the executable): `source`'s first video stream, every decoded frame once, as
/// PPM frames (rgb24) on stdout; the log (level info, no progress lines) on stderr.
pub(super) fn decoder_args(source: &VideoSource, fps_flag: &str) -> Vec<OsString> {
    let mut a: Vec<OsString> = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"]
        .map(OsString::from)
        .to_vec();
    a.extend(input_args(source));
    a.extend(
        [
            "-map",
            "0:v:0",
            fps_flag,
            "passthrough",
            "-f",
            "image2pipe",
            "-c:v",
            "ppm",
            "-pix_fmt",
            "rgb24",
            "pipe:1",
        ]
        .map(OsString::from),
    );
    a
}

/// The encoder's command line: raw `width`x`height` rgb24 frames at `fps` on stdin, encoded to an MP4 at `out`
/// (yuv420p, sides padded to even for the codecs' chroma subsampling).
pub(super) fn encoder_args(
    width: usize,
    height: usize,
    fps: f64,
    codec: Codec,
    out: &Path,
) -> Vec<OsString> {
    let mut a: Vec<OsString> = [
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-video_size",
    ]
    .map(OsString::from)
    .to_vec();
    a.push(format!("{width}x{height}").into());
    a.push("-framerate".into());
    a.push(format_fps(fps).into());
    a.extend(["-i", "pipe:0", "-an"].map(OsString::from));
    if width % 2 == 1 || height % 2 == 1 {
        a.extend(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"].map(OsString::from));
    }
    let codec_args: &[&str] = match codec {
        Codec::X264 => &["-c:v", "libx264", "-preset", "medium", "-crf", "18"],
        Codec::Mpeg4 => &["-c:v", "mpeg4", "-q:v", "2"],
    };
    a.extend(codec_args.iter().map(OsString::from));
    a.extend(
        [
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
        ]
        .map(OsString::from),
    );
    let mut f = OsString::from("file:");
    f.push(out.as_os_str());
    a.push(f);
    a
}

/// A frame rate as ffmpeg reads it: `25`, `29.97`.
fn format_fps(fps: f64) -> String {
    let s = format!("{fps:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

// ---- the child's log ----

/// What is kept of a child's stderr: its last lines (for errors) and the frame rate of the input's first video
/// stream.
#[derive(Debug, Default)]
struct Log {
    lines: VecDeque<String>,
    fps: Option<f64>,
    /// The input's first `Video:` stream line has been read.
    saw_video: bool,
    /// stderr is closed (the child is gone).
    closed: bool,
}

/// Lines kept for an error message.
const LOG_LINES: usize = 40;

impl Log {
    fn push(&mut self, line: &str) {
        if !self.saw_video && line.contains(" Video: ") && line.trim_start().starts_with("Stream #")
        {
            self.saw_video = true;
            self.fps = stream_fps(line);
        }
        if self.lines.len() == LOG_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line.to_string());
    }

    /// The last error lines: ffmpeg's log without the stream descriptions, metadata and summaries, each line's
    /// `[context @ 0x…]` prefix dropped, repeats dropped.
    fn errors(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        for l in &self.lines {
            let t = l.trim_end();
            let boring = t.is_empty()
                || t.starts_with(char::is_whitespace)
                || [
                    "Input #",
                    "Output #",
                    "Stream mapping",
                    "frame=",
                    "Press [q]",
                    "Conversion failed",
                ]
                .iter()
                .any(|p| t.starts_with(p))
                || t.contains("muxing overhead");
            if boring {
                continue;
            }
            let msg = match (t.starts_with('['), t.find("] ")) {
                (true, Some(i)) => t[i + 2..].trim(),
                _ => t,
            };
            // Nested contexts: `[vist#0:0/h264 @ 0x…] [dec:h264 @ 0x…] Decoding error`.
            let msg = match (msg.starts_with('['), msg.find("] ")) {
                (true, Some(i)) => msg[i + 2..].trim(),
                _ => msg,
            };
            if !out.iter().any(|o| o == msg) {
                out.push(msg.to_string());
            }
        }
        let n = out.len();
        let tail = &out[n.saturating_sub(4)..];
        if tail.is_empty() {
            "(ffmpeg printed no error)".into()
        } else {
            tail.join("; ")
        }
    }
}

/// The frame rate of an ffmpeg stream line (`… 256x192 [SAR 1:1 DAR 4:3], 25 fps, 25 tbr, 12800 tbn`): its `fps`,
/// else its `tbr`; ffmpeg prints `29.97`, `25`, or `1k` for thousands.
fn stream_fps(line: &str) -> Option<f64> {
    let value = |unit: &str| {
        line.split(',').find_map(|part| {
            let num = part.trim().strip_suffix(unit)?.trim_end();
            let (num, scale) = match num.strip_suffix('k') {
                Some(n) => (n, 1000.0),
                None => (num, 1.0),
            };
            num.parse::<f64>()
                .ok()
                .map(|v| v * scale)
                .filter(|v| v.is_finite() && *v > 0.0)
        })
    };
    value(" fps").or_else(|| value(" tbr"))
}

fn spawn_log_reader(stderr: impl Read + Send + 'static, log: Arc<Mutex<Log>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(stderr);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    // ffmpeg ends progress-like lines with `\r`; each piece is a line of its own.
                    let text = String::from_utf8_lossy(&buf);
                    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                    for piece in text.split(['\r', '\n']).filter(|p| !p.trim().is_empty()) {
                        log.push(piece);
                    }
                }
            }
        }
        log.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
    })
}

// ---- decoding ----

/// What the reader thread hands over.
enum Msg {
    /// Frame `index` (0-based, counted over every decoded frame).
    Frame(u64, Image),
    /// The stream ended cleanly after this many frames.
    End(u64),
    /// Reading frame `index` failed.
    Failed(u64, io::Error),
}

/// Reads PPM frames until the end of the stream, sending every `stride`-th; skipped frames are read and dropped.
/// Returns when the stream ends or fails, or when the receiver is gone.
fn read_frames(mut r: impl BufRead, stride: u64, tx: &SyncSender<Msg>) {
    let stride = stride.max(1);
    let mut index = 0u64;
    loop {
        let msg = match read_ppm(&mut r, index.is_multiple_of(stride)) {
            Ok(Some(Some(img))) => Msg::Frame(index, img),
            Ok(Some(None)) => {
                index += 1;
                continue;
            }
            Ok(None) => Msg::End(index),
            Err(e) => Msg::Failed(index, e),
        };
        let last = !matches!(msg, Msg::Frame(..));
        if tx.send(msg).is_err() || last {
            return;
        }
        index += 1;
    }
}

/// One PPM frame: `None` at a clean end of the stream (before a header), `Some(None)` for a frame read and dropped
/// (`keep` false), `Some(Some(image))` otherwise. A stream that ends inside a frame is an `UnexpectedEof` error,
/// anything that is not a P6 frame with maxval 255 an `InvalidData` one.
pub(super) fn read_ppm(r: &mut impl BufRead, keep: bool) -> io::Result<Option<Option<Image>>> {
    if r.fill_buf()?.is_empty() {
        return Ok(None);
    }
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let mut magic = [0u8; 2];
    r.read_exact(&mut magic)?;
    if &magic != b"P6" {
        return Err(bad(format!(
            "expected a P6 frame header, found bytes {magic:02x?}"
        )));
    }
    let mut fields = [0usize; 3];
    for f in &mut fields {
        *f = ppm_number(r)?;
    }
    let [width, height, maxval] = fields;
    if maxval != 255 {
        return Err(bad(format!("frame maxval {maxval}, expected 255 (rgb24)")));
    }
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(bad(format!("frame size {width}x{height}")));
    }
    let len = width * height * 3;
    if !keep {
        let skipped = io::copy(&mut r.take(len as u64), &mut io::sink())?;
        if skipped != len as u64 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        return Ok(Some(None));
    }
    let mut data = vec![0u8; len];
    r.read_exact(&mut data)?;
    Image::from_raw(data, width, height, PixelFormat::Rgb)
        .map(|img| Some(Some(img)))
        .map_err(|e| bad(e.to_string()))
}

/// A decimal header field: leading whitespace (and `#` comments) skipped, the digits, and the one whitespace byte
/// after them consumed.
fn ppm_number(r: &mut impl BufRead) -> io::Result<usize> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let mut byte = || -> io::Result<u8> {
        let mut b = [0u8; 1];
        r.read_exact(&mut b)?;
        Ok(b[0])
    };
    let mut b = byte()?;
    loop {
        if b == b'#' {
            while b != b'\n' {
                b = byte()?;
            }
        } else if !b.is_ascii_whitespace() {
            break;
        }
        b = byte()?;
    }
    let mut v: usize = 0;
    let mut digits = 0;
    while b.is_ascii_digit() {
        digits += 1;
        if digits > 9 {
            return Err(bad("frame header number too long"));
        }
        v = v * 10 + usize::from(b - b'0');
        b = byte()?;
    }
    if digits == 0 || !b.is_ascii_whitespace() {
        return Err(bad("malformed frame header"));
    }
    Ok(v)
}

/// A running decoder: ffmpeg on one source, a thread reading its frames, a thread keeping its log. Dropping it kills
/// and reaps ffmpeg and joins both threads.
pub(super) struct Decoder {
    child: Child,
    waited: Option<ExitStatus>,
    frames: Option<Receiver<Msg>>,
    reader: Option<JoinHandle<()>>,
    log: Arc<Mutex<Log>>,
    stderr_thread: Option<JoinHandle<()>>,
    /// Frames decoded so far (kept and skipped).
    decoded: u64,
}

/// What [`Decoder::next`] found.
pub(super) enum Next {
    /// Frame `index` of the source (0-based over every decoded frame, skipped ones included).
    Frame(u64, Image),
    /// The source ended cleanly.
    End,
    /// [`stop_requested`] said to stop (Ctrl-C, SIGTERM, a closed stdout): ffmpeg is killed.
    Stopped,
}

impl Decoder {
    /// The next kept frame. Waits in short steps, calling `stop` between them so Ctrl-C is honoured even while a
    /// camera or stream delivers nothing. An error names the frame that could not be read and what ffmpeg said.
    pub(super) fn next(&mut self, stop: &dyn Fn() -> bool) -> anyhow::Result<Next> {
        loop {
            if stop() {
                self.kill();
                return Ok(Next::Stopped);
            }
            let Some(rx) = &self.frames else {
                return Ok(Next::End);
            };
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Msg::Frame(i, img)) => {
                    self.decoded = i + 1;
                    return Ok(Next::Frame(i, img));
                }
                Ok(Msg::End(n)) => {
                    self.decoded = n;
                    self.frames = None;
                    let status = self.wait()?;
                    if status.success() {
                        return Ok(Next::End);
                    }
                    return Err(self.failure(n, status, None));
                }
                Ok(Msg::Failed(n, e)) => {
                    self.decoded = n;
                    self.frames = None;
                    // Output that ended inside a frame: ffmpeg closed it and is exiting. Anything else (bytes that
                    // are no frame): it may live on, so it is killed first.
                    if e.kind() != io::ErrorKind::UnexpectedEof {
                        self.kill();
                    }
                    let status = self.wait()?;
                    return Err(self.failure(n, status, Some(e)));
                }
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    self.frames = None;
                    let status = self.wait()?;
                    return Err(self.failure(
                        self.decoded,
                        status,
                        Some(io::Error::other("the frame reader stopped")),
                    ));
                }
            }
        }
    }

    /// Frames decoded so far, those `--vid-stride` skipped included.
    pub(super) fn decoded(&self) -> u64 {
        self.decoded
    }

    /// The frame rate ffmpeg stated for the input (waits up to [`FPS_WAIT`] for its log to say it).
    pub(super) fn fps(&self) -> Option<f64> {
        let start = Instant::now();
        loop {
            {
                let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
                if log.saw_video || log.closed || start.elapsed() > FPS_WAIT {
                    return log.fps;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn failure(&self, frame: u64, status: ExitStatus, read: Option<io::Error>) -> anyhow::Error {
        let said = self.log.lock().unwrap_or_else(|p| p.into_inner()).errors();
        let read = match &read {
            Some(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                "; its output ended inside the frame".into()
            }
            Some(e) => format!("; its output: {e}"),
            None => String::new(),
        };
        if frame == 0 {
            anyhow!("ffmpeg could not read it (ffmpeg {status}{read}): {said}")
        } else {
            anyhow!(
                "frame {frame}: decoding stopped, the video is truncated or corrupt (ffmpeg {status}{read}): \
                 {said}"
            )
        }
    }

    /// Kills ffmpeg (when still running) and drops the frame channel so the reader thread ends.
    fn kill(&mut self) {
        self.frames = None;
        if self.waited.is_none() {
            let _ = self.child.kill();
        }
    }

    fn wait(&mut self) -> anyhow::Result<ExitStatus> {
        if let Some(s) = self.waited {
            return Ok(s);
        }
        let s = self.child.wait().context("waiting for ffmpeg")?;
        self.waited = Some(s);
        self.join_log();
        Ok(s)
    }

    fn join_log(&mut self) {
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        self.kill();
        let _ = self.wait();
        if let Some(t) = self.reader.take() {
            let _ = t.join();
        }
    }
}

// ---- encoding ----

/// A running encoder writing one MP4 into a temporary file. [`Encoder::finish`] closes its input, waits and renames
/// the file into place; dropping it unfinished kills and reaps ffmpeg and removes the temporary file.
pub(super) struct Encoder {
    child: Child,
    stdin: Option<ChildStdin>,
    tmp: Option<tempfile::TempPath>,
    out: PathBuf,
    size: (usize, usize),
    log: Arc<Mutex<Log>>,
    stderr_thread: Option<JoinHandle<()>>,
    frames: u64,
    waited: bool,
}

impl Encoder {
    /// Appends a frame; it must have the video's size.
    pub(super) fn write(&mut self, img: &Image) -> anyhow::Result<()> {
        if (img.width, img.height) != self.size {
            bail!(
                "the frame is {}x{}, the annotated video {} started at {}x{} (the source changed its size); write \
                 frames as PNGs instead (--save-frames)",
                img.width,
                img.height,
                self.out.display(),
                self.size.0,
                self.size.1
            );
        }
        let rgb = img.to_format(PixelFormat::Rgb);
        let stdin = self.stdin.as_mut().expect("open until finish");
        if let Err(e) = stdin.write_all(&rgb.data) {
            let _ = self.child.wait();
            self.waited = true;
            self.join_log();
            let said = self.log.lock().unwrap_or_else(|p| p.into_inner()).errors();
            bail!(
                "writing {}: the encoder stopped ({e}): {said}",
                self.out.display()
            );
        }
        self.frames += 1;
        Ok(())
    }

    /// Ends the video: closes ffmpeg's input, waits for it and renames the file into place. Returns the path and the
    /// number of frames written.
    pub(super) fn finish(mut self) -> anyhow::Result<(PathBuf, u64)> {
        drop(self.stdin.take());
        let status = self
            .child
            .wait()
            .context("waiting for the ffmpeg encoder")?;
        self.waited = true;
        self.join_log();
        if !status.success() {
            let said = self.log.lock().unwrap_or_else(|p| p.into_inner()).errors();
            bail!(
                "writing {}: ffmpeg exited with {status}: {said}",
                self.out.display()
            );
        }
        let tmp = self.tmp.take().expect("present until finish");
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("writing {}", self.out.display()))?;
        crate::common::fs::test_pause_before_rename();
        tmp.persist(&self.out)
            .map_err(|e| e.error)
            .with_context(|| format!("writing {}", self.out.display()))?;
        Ok((self.out.clone(), self.frames))
    }

    fn join_log(&mut self) {
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if !self.waited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.join_log();
        // `tmp`, when still here, removes the unfinished file.
    }
}

// ---- signals ----

/// Set by SIGINT or SIGTERM once [`watch_signals`] ran.
static STOP: AtomicBool = AtomicBool::new(false);
/// The signal that set [`STOP`].
static SIGNAL: AtomicUsize = AtomicUsize::new(0);

/// From now on the first SIGINT (Ctrl-C) or SIGTERM asks trt-detect to stop after the current frame
/// ([`stop_requested`]), and a second one ends it at once the default way.
pub(super) fn watch_signals() -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for sig in [SIGINT, SIGTERM] {
        // The order matters: the default action runs only when an earlier signal already set STOP.
        signal_hook::flag::register_conditional_default(sig, &STOP)
            .and_then(|_| signal_hook::flag::register_usize(sig, &SIGNAL, sig as usize))
            .and_then(|_| signal_hook::flag::register(sig, &STOP))
            .context("installing the Ctrl-C handler")?;
    }
    Ok(())
}

/// The signal that asked trt-detect to stop, if one did.
pub(super) fn stop_requested() -> Option<i32> {
    STOP.load(Ordering::SeqCst)
        .then(|| SIGNAL.load(Ordering::SeqCst) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[OsString]) -> Vec<String> {
        a.iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn decoder_command_lines_per_source_kind() {
        let tail = "-map 0:v:0 -fps_mode passthrough -f image2pipe -c:v ppm -pix_fmt rgb24 pipe:1";
        let head = "-hide_banner -nostdin -nostats -loglevel info";
        let line = |s: VideoSource, flag: &str| strings(&decoder_args(&s, flag)).join(" ");
        assert_eq!(
            line(VideoSource::File("dir/my clip:1.mp4".into()), "-fps_mode"),
            format!("{head} -xerror -i file:dir/my clip:1.mp4 {tail}")
        );
        // Ultralytics' `source=0`: the first V4L2 camera; no -xerror on live sources (a lost packet is not the end).
        assert_eq!(
            line(VideoSource::Camera("/dev/video0".into()), "-fps_mode"),
            format!("{head} -f v4l2 -i /dev/video0 {tail}")
        );
        for url in [
            "rtsp://user:pw@10.0.0.2:554/stream1",
            "rtmp://host/app/key",
            "https://host/clip.mp4",
        ] {
            assert_eq!(
                line(VideoSource::Stream(url.into()), "-fps_mode"),
                format!("{head} -i {url} {tail}")
            );
        }
        // ffmpeg before 5.1 spells it -vsync.
        assert!(line(VideoSource::Camera("/dev/video1".into()), "-vsync")
            .contains("-i /dev/video1 -map 0:v:0 -vsync passthrough "));
    }

    #[test]
    fn encoder_command_lines() {
        let out = Path::new("/o/.clip.mp4.x.tmp");
        assert_eq!(
            strings(&encoder_args(256, 192, 25.0, Codec::X264, out)).join(" "),
            "-hide_banner -nostdin -nostats -loglevel error -y -f rawvideo -pix_fmt rgb24 -video_size 256x192 \
             -framerate 25 -i pipe:0 -an -c:v libx264 -preset medium -crf 18 -pix_fmt yuv420p -movflags +faststart \
             -f mp4 file:/o/.clip.mp4.x.tmp"
        );
        let odd = strings(&encoder_args(255, 192, 29.97, Codec::Mpeg4, out)).join(" ");
        assert!(
            odd.contains("-video_size 255x192 -framerate 29.97 -i pipe:0 -an -vf pad=ceil(iw/2)*2:ceil(ih/2)*2 \
                          -c:v mpeg4 -q:v 2 -pix_fmt yuv420p"),
            "{odd}"
        );
        assert_eq!(format_fps(12.5), "12.5");
        assert_eq!(format_fps(30000.0 / 1001.0), "29.97003");
    }

    #[test]
    fn release_picks_the_frame_rate_option() {
        for (line, want) in [
            (
                "ffmpeg version 4.2.7-0ubuntu0.1 Copyright (c) 2000-2022",
                "-vsync",
            ),
            ("ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright", "-vsync"),
            ("ffmpeg version 5.0.1 Copyright", "-vsync"),
            ("ffmpeg version 5.1.2 Copyright", "-fps_mode"),
            (
                "ffmpeg version n9.0.2-17-g2a571b6068-20260930 Copyright",
                "-fps_mode",
            ),
            ("ffmpeg version N-112345-gabcdef Copyright", "-fps_mode"),
            ("ffmpeg version 7.1 Copyright", "-fps_mode"),
        ] {
            assert_eq!(fps_flag(line), want, "{line}");
        }
    }

    #[test]
    fn frame_rates_from_stream_lines() {
        let l = "  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 256x192 \
                 [SAR 1:1 DAR 4:3], 31 kb/s, 25 fps, 25 tbr, 12800 tbn (default)";
        assert_eq!(stream_fps(l), Some(25.0));
        let l = "  Stream #0:0: Video: h264, yuv420p, 1920x1080, 29.97 fps, 29.97 tbr, 90k tbn";
        assert_eq!(stream_fps(l), Some(29.97));
        let l = "  Stream #0:0: Video: rawvideo (YUY2 / 0x32595559), yuyv422, 640x480, 30 tbr, 1000k tbn";
        assert_eq!(stream_fps(l), Some(30.0));
        assert_eq!(
            stream_fps("  Stream #0:0: Video: mjpeg, 1k fps"),
            Some(1000.0)
        );
        assert_eq!(stream_fps("  Stream #0:0: Video: h264, 90k tbn"), None);
    }

    #[test]
    fn the_log_keeps_errors_without_the_noise() {
        let mut log = Log::default();
        for l in [
            "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 't.mp4':",
            "  Stream #0:0[0x1](und): Video: h264 (High), yuv420p, 256x192, 25 fps, 25 tbr, 12800 tbn",
            "[h264 @ 0x55] Invalid NAL unit size (43 > 14).",
            "[in#0/mov @ 0x56] stream 0, offset 0x178d: partial file",
            "[vist#0:0/h264 @ 0x57] [dec:h264 @ 0x58] Decoding error: Invalid data found when processing input",
            "[h264 @ 0x55] Invalid NAL unit size (43 > 14).",
            "Output #0, image2pipe, to 'pipe:':",
            "  Stream #0:0(und): Video: ppm, rgb24, 256x192, q=2-31, 200 kb/s, 25 fps, 25 tbn (default)",
            "frame=   13 fps=0.0 q=-0.0 Lsize=    1872KiB time=00:00:00.52",
            "Conversion failed!",
        ] {
            log.push(l);
        }
        assert_eq!(log.fps, Some(25.0));
        assert_eq!(
            log.errors(),
            "Invalid NAL unit size (43 > 14).; stream 0, offset 0x178d: partial file; Decoding error: Invalid data \
             found when processing input"
        );
    }

    #[test]
    fn ppm_frames_are_read_skipped_and_checked() {
        let frame = |w: usize, h: usize, v: u8| {
            let mut b = format!("P6\n{w} {h}\n255\n").into_bytes();
            b.extend(std::iter::repeat_n(v, w * h * 3));
            b
        };
        let mut stream = frame(2, 1, 7);
        stream.extend(frame(3, 2, 9));
        stream.extend(b"P6 # comment\n1 1 255\n\x01\x02\x03");
        let mut r = io::Cursor::new(stream);
        let img = read_ppm(&mut r, true).unwrap().unwrap().unwrap();
        assert_eq!((img.width, img.height, img.data), (2, 1, vec![7; 6]));
        assert!(read_ppm(&mut r, false).unwrap().unwrap().is_none());
        let img = read_ppm(&mut r, true).unwrap().unwrap().unwrap();
        assert_eq!(img.data, [1, 2, 3]);
        assert!(read_ppm(&mut r, true).unwrap().is_none(), "clean end");
        // Cut inside the pixels, inside the header, and not a PPM at all.
        let whole = frame(4, 4, 1);
        for (cut, kind) in [
            (whole.len() - 1, io::ErrorKind::UnexpectedEof),
            (5, io::ErrorKind::UnexpectedEof),
        ] {
            for keep in [true, false] {
                let e = read_ppm(&mut io::Cursor::new(&whole[..cut]), keep).unwrap_err();
                assert_eq!(e.kind(), kind, "cut at {cut}");
            }
        }
        for junk in [
            &b"GIF89a"[..],
            b"P6\n4 4\n65535\n",
            b"P6\n0 4\n255\n",
            b"P6\n4x4\n255\n",
        ] {
            let e = read_ppm(&mut io::Cursor::new(junk), true).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{junk:?}");
        }
    }

    #[test]
    fn the_reader_sends_every_stride_th_frame_then_the_end() {
        let mut stream = Vec::new();
        for v in 0..7u8 {
            stream.extend(b"P6\n1 1\n255\n");
            stream.extend([v; 3]);
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        read_frames(io::Cursor::new(stream), 3, &tx);
        let got: Vec<(u64, u8)> = rx
            .try_iter()
            .map(|m| match m {
                Msg::Frame(i, img) => (i, img.data[0]),
                Msg::End(n) => (n, 255),
                Msg::Failed(..) => panic!("failed"),
            })
            .collect();
        assert_eq!(got, [(0, 0), (3, 3), (6, 6), (7, 255)]);
    }

    #[test]
    fn ffmpeg_is_found_by_flag_then_variables_then_path() {
        let dir = tempfile::tempdir().unwrap();
        let mk = |name: &str, exec: bool| {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            let mode = if exec { 0o755 } else { 0o644 };
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        let on_path = mk("bin/ffmpeg", true);
        let from_var = mk("var/ffmpeg", true);
        let flagged = mk("flag/ff", true);
        let plain = mk("plain/ffmpeg", false);
        let path_var = Some(OsString::from(format!(
            "{}:{}",
            dir.path().join("nothing").display(),
            dir.path().join("bin").display()
        )));
        let lookup = |flag: Option<&Path>, trt: Option<&Path>, ff: Option<&Path>| {
            Lookup {
                flag,
                env: vec![
                    ("TRT_FFMPEG", trt.map(|p| p.as_os_str().to_owned())),
                    ("FFMPEG", ff.map(|p| p.as_os_str().to_owned())),
                ],
                path_var: path_var.clone(),
            }
            .locate()
        };
        assert_eq!(
            lookup(Some(&flagged), Some(&from_var), None),
            Ok(flagged.clone())
        );
        assert_eq!(
            lookup(None, Some(&from_var), Some(&plain)),
            Ok(from_var.clone())
        );
        assert_eq!(lookup(None, None, Some(&from_var)), Ok(from_var.clone()));
        assert_eq!(lookup(None, None, None), Ok(on_path.clone()));
        // A bare name in a variable is looked up on PATH.
        assert_eq!(lookup(None, None, Some(Path::new("ffmpeg"))), Ok(on_path));
        // What is named and unusable is an error of its own, naming where it came from.
        let e = lookup(Some(&dir.path().join("none")), None, None).unwrap_err();
        assert!(
            e.starts_with("--ffmpeg ") && e.ends_with("no such file"),
            "{e}"
        );
        let e = lookup(None, None, Some(&plain)).unwrap_err();
        assert!(
            e.starts_with("FFMPEG=") && e.contains("not executable"),
            "{e}"
        );
        // Nothing anywhere: every place tried and how to install one.
        let e = Lookup {
            flag: None,
            env: vec![("TRT_FFMPEG", None), ("FFMPEG", None)],
            path_var: Some(dir.path().join("nothing").into_os_string()),
        }
        .locate()
        .unwrap_err();
        for part in [
            "--ffmpeg not given",
            "TRT_FFMPEG and FFMPEG unset",
            "nothing",
            "apt install ffmpeg",
            "imageio-ffmpeg",
        ] {
            assert!(e.contains(part), "{part}: {e}");
        }
    }
}
