//! `trt-detect` on videos (Ultralytics' `source=video.mp4`), with the generated tiny detector on the CPU backend and a
//! real ffmpeg: the static build of PyPI's imageio-ffmpeg that `scripts/ffmpeg.sh` fetches and names in
//! `TRT_TEST_FFMPEG` (`source scripts/ffmpeg.sh && cargo test -p trt-tools --features video --test trt_detect_video`).
//! The reference of every video frame is the same frame given as a PNG image.
//!
//! Without `--features video` the one test here checks that a video is refused with the way to build one that reads
//! it.

use std::path::PathBuf;

mod common;

/// Where frame `k`'s blue square lies: seven places, each on a grid cell of the 64x64 model input.
const BLUE_AT: [(usize, usize); 7] = [
    (0, 32),
    (64, 32),
    (128, 32),
    (192, 32),
    (192, 96),
    (128, 96),
    (64, 96),
];

/// Grey 256x192 frame `k`: a blue square (class 2) of side 64 at `BLUE_AT[k % 7]`, moving frame by frame, and a
/// green one (class 1) of side 32 at (32, 128); both land on grid cells of the 64x64 model input.
fn scene(k: usize) -> yolo_rt::Image {
    let mut img = yolo_rt::Image::filled(256, 192, yolo_rt::PixelFormat::Rgb, [128, 128, 128]);
    let (bx, by) = BLUE_AT[k % BLUE_AT.len()];
    for (x0, y0, side, rgb) in [(bx, by, 64usize, [0u8, 0, 255]), (32, 128, 32, [0, 255, 0])] {
        for y in y0..y0 + side {
            for x in x0..x0 + side {
                let o = (y * 256 + x) * 3;
                img.data[o..o + 3].copy_from_slice(&rgb);
            }
        }
    }
    img
}

/// A temporary directory with the tiny detector (`tiny.onnx`) and `frames/f_000.png`… of `n` scenes.
fn setup(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.onnx");
    yolo_onnx::testgen::tiny_detector(64, 3)
        .save(&model)
        .unwrap();
    std::fs::create_dir(dir.path().join("frames")).unwrap();
    for k in 0..n {
        let p = dir.path().join(format!("frames/f_{k:03}.png"));
        std::fs::write(&p, scene(k).encode_png().unwrap()).unwrap();
    }
    (dir, model)
}

fn trt_detect() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_trt-detect"));
    c.env_remove("TRT_FFMPEG").env_remove("FFMPEG");
    c
}

#[cfg(not(feature = "video"))]
#[test]
fn video_sources_need_the_video_feature() {
    let (dir, model) = setup(1);
    let clip = dir.path().join("clip.mp4");
    std::fs::write(&clip, b"not decoded").unwrap();
    let dat = dir.path().join("capture.dat");
    std::fs::write(&dat, b"x").unwrap();
    for (args, named) in [
        (
            vec![clip.clone().into_os_string()],
            clip.display().to_string(),
        ),
        (vec!["0".into()], "/dev/video0".to_string()),
        (
            vec!["rtsp://cam/live".into()],
            "rtsp://cam/live".to_string(),
        ),
        (
            vec!["--video".into(), dat.clone().into_os_string()],
            dat.display().to_string(),
        ),
    ] {
        let o = trt_detect()
            .arg("--model")
            .arg(&model)
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&format!("trt-detect: error: {named}: a video source"))
                && err.contains("--features video"),
            "{args:?}: {err}"
        );
    }
    // In a directory, a video is skipped with the same hint and the images are still read.
    std::fs::copy(&clip, dir.path().join("frames/clip.mp4")).unwrap();
    let o = trt_detect()
        .arg("--model")
        .arg(&model)
        .arg(dir.path().join("frames"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("clip.mp4")
            && err.contains("1 of them are videos, read by a build with `--features video`"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("f_000.png: 2 detection(s)"));
}

#[cfg(feature = "video")]
mod video {
    use super::*;
    use crate::common::{assert_ok, json};
    use serde_json::Value;
    use std::io::BufRead;
    use std::path::Path;
    use std::process::{Command, Output, Stdio};
    use std::time::{Duration, Instant};

    /// The ffmpeg executable of `scripts/ffmpeg.sh` (fails, saying so, when it was not sourced).
    fn ffmpeg() -> PathBuf {
        let p = std::env::var_os("TRT_TEST_FFMPEG").map(PathBuf::from).expect(
            "TRT_TEST_FFMPEG is unset: `source scripts/ffmpeg.sh` (it fetches PyPI's static ffmpeg into \
             ~/.cache/trt-yolo) before `cargo test -p trt-tools --features video`",
        );
        assert!(
            p.is_file(),
            "TRT_TEST_FFMPEG={} does not exist",
            p.display()
        );
        p
    }

    /// Runs ffmpeg with `args` (quiet, overwriting) and asserts it succeeded.
    fn run_ffmpeg(args: &[&str], cwd: &Path) {
        let o = Command::new(ffmpeg())
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
            .args(args)
            .current_dir(cwd)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "ffmpeg {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// `frames/f_%03d.png` encoded into `dir/name` at 10 fps with `codec` arguments.
    fn encode(dir: &Path, name: &str, codec: &[&str]) -> PathBuf {
        let mut args = vec!["-framerate", "10", "-i", "frames/f_%03d.png"];
        args.extend(codec);
        args.push(name);
        run_ffmpeg(&args, dir);
        dir.join(name)
    }

    /// The number of frames and their size when ffmpeg decodes `video` back (raw rgb24 through a pipe).
    fn decode_back(video: &Path) -> (usize, Vec<u8>) {
        let o = Command::new(ffmpeg())
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"])
            .arg(video)
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (o.stdout.len() / (256 * 192 * 3), o.stdout)
    }

    /// trt-detect with the model and `--ffmpeg` (unless `ffmpeg` is false), killed after two minutes so a hang fails.
    fn detect(model: &Path, with_ffmpeg: bool) -> Command {
        let mut c = trt_detect();
        c.arg("--model").arg(model);
        if with_ffmpeg {
            c.arg("--ffmpeg").arg(ffmpeg());
        }
        c
    }

    fn output(c: &mut Command) -> Output {
        let child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d = done.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while !d.load(std::sync::atomic::Ordering::SeqCst) {
                if start.elapsed() > Duration::from_secs(120) {
                    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let o = child.wait_with_output().unwrap();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        o
    }

    /// The reference: the frames as PNG images, one `--json` run; detections per frame index.
    fn reference(dir: &Path, model: &Path, extra: &[&str]) -> (Vec<Value>, Output) {
        let o = output(
            detect(model, false)
                .current_dir(dir)
                .arg(dir.join("frames"))
                .arg("--json")
                .args(extra),
        );
        assert_ok(&o);
        let v = json(&o);
        let dets: Vec<Value> = v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["detections"].clone())
            .collect();
        // Every frame has both squares, and the blue one moves: frame indexes can be told apart by their boxes.
        for (k, d) in dets.iter().enumerate() {
            assert_eq!(d.as_array().unwrap().len(), 2, "frame {k}: {d}");
        }
        (dets, o)
    }

    /// The blue square's box.
    fn blue_box(dets: &Value) -> Vec<f64> {
        dets.as_array()
            .unwrap()
            .iter()
            .find(|d| d["class_id"] == 2)
            .expect("the blue square")["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    }

    /// A lossless video (FFV1 in Matroska) decodes to the very pixels of its PNG frames: every frame's detections
    /// are those of the same frame given as an image, value for value, and so are its labels and annotated frame.
    #[test]
    fn video_frames_detect_like_the_same_frames_as_images() {
        let (dir, model) = setup(6);
        let clip = encode(
            dir.path(),
            "clip.mkv",
            &["-c:v", "ffv1", "-pix_fmt", "bgr0"],
        );
        let (want, _) = reference(dir.path(), &model, &["--save-dir", "ref", "--save-txt"]);
        let o = output(
            detect(&model, true)
                .current_dir(dir.path())
                .arg(&clip)
                .args(["--json", "--save-dir", "out", "--save-txt", "--save-frames"]),
        );
        assert_ok(&o);
        let v = json(&o);
        let frames = v["images"].as_array().unwrap();
        assert_eq!(frames.len(), 6, "{v:#}");
        for (k, f) in frames.iter().enumerate() {
            assert_eq!(f["path"], clip.display().to_string());
            assert_eq!(f["frame"], k);
            let t = f["timestamp_s"].as_f64().unwrap();
            assert!((t - k as f64 / 10.0).abs() < 1e-9, "frame {k}: {t}");
            assert_eq!(
                (f["width"].as_u64(), f["height"].as_u64()),
                (Some(256), Some(192))
            );
            assert_eq!(f["detections"], want[k], "frame {k}");
            assert!(f["speed_ms"]["inference"].as_f64().is_some());
            // The annotated frame and the labels are the image run's.
            let ours = dir.path().join(format!("out/clip_{k}.png"));
            assert_eq!(
                f["annotated"],
                ours.strip_prefix(dir.path()).unwrap().display().to_string()
            );
            let a = yolo_rt::Image::open(&ours).unwrap();
            let b = yolo_rt::Image::open(dir.path().join(format!("ref/f_{k:03}.png"))).unwrap();
            assert!(
                a == b,
                "annotated frame {k} differs from the annotated image"
            );
            assert_eq!(
                std::fs::read_to_string(dir.path().join(format!("out/labels/clip_{k}.txt")))
                    .unwrap(),
                std::fs::read_to_string(dir.path().join(format!("ref/labels/f_{k:03}.txt")))
                    .unwrap(),
                "labels of frame {k}"
            );
        }
        let videos = v["videos"].as_array().unwrap();
        assert_eq!(videos.len(), 1);
        let s = &videos[0];
        assert_eq!(
            (&s["frames"], &s["decoded"], &s["fps"], &s["ended"]),
            (
                &Value::from(6),
                &Value::from(6),
                &Value::from(10.0),
                &Value::from("end")
            ),
            "{s}"
        );
        // --save-frames writes PNGs, no video.
        assert!(!dir.path().join("out/clip.mp4").exists());
    }

    /// An MP4 (H.264, lossy) with `--vid-stride 2`: frames 0, 2, 4, 6 are detected in, each where its image
    /// reference has the boxes; the annotated video has those 4 frames at 5 fps; `--max-frames` stops early.
    #[test]
    fn mp4_vid_stride_max_frames_and_the_saved_video() {
        let (dir, model) = setup(7);
        let clip = encode(
            dir.path(),
            "clip.mp4",
            &["-c:v", "libx264", "-pix_fmt", "yuv420p"],
        );
        let (want, _) = reference(dir.path(), &model, &[]);
        let out = dir.path().join("out");
        let o = output(
            detect(&model, false)
                .env("TRT_FFMPEG", ffmpeg())
                .arg(&clip)
                .args(["--vid-stride", "2", "--json", "--save-dir"])
                .arg(&out),
        );
        assert_ok(&o);
        let v = json(&o);
        let frames = v["images"].as_array().unwrap();
        let idx: Vec<u64> = frames
            .iter()
            .map(|f| f["frame"].as_u64().unwrap())
            .collect();
        assert_eq!(idx, [0, 2, 4, 6], "{v:#}");
        for f in frames {
            let k = f["frame"].as_u64().unwrap() as usize;
            let (got, exp) = (blue_box(&f["detections"]), blue_box(&want[k]));
            assert!(
                got.iter().zip(&exp).all(|(g, e)| (g - e).abs() < 2.0),
                "frame {k}: blue box {got:?}, the image's {exp:?}"
            );
            let (x, y) = BLUE_AT[k];
            assert!(
                (exp[0] - x as f64).abs() < 1.0 && (exp[1] - y as f64).abs() < 1.0,
                "{exp:?}"
            );
            assert_eq!(f["detections"].as_array().unwrap().len(), 2, "frame {k}");
            assert!(f.get("annotated").is_none(), "frames go into the video");
        }
        let s = &v["videos"][0];
        assert_eq!(
            (&s["frames"], &s["decoded"], &s["vid_stride"]),
            (&Value::from(4), &Value::from(7), &Value::from(2))
        );
        let saved = out.join("clip.mp4");
        assert_eq!(s["annotated"], saved.display().to_string());
        let (n, pixels) = decode_back(&saved);
        assert_eq!(n, 4, "frames in {}", saved.display());
        // The annotated video shows the boxes: the blue box's bottom edge (class 2's colour, not grey) in its
        // second frame (source frame 2: the square at x 128..192, y 32..96).
        let px = |frame: usize, x: usize, y: usize| {
            let o = ((frame * 192 + y) * 256 + x) * 3;
            [pixels[o], pixels[o + 1], pixels[o + 2]]
        };
        let edge = px(1, 160, 95);
        let colour = yolo_rt::draw::class_colour(2);
        assert!(
            edge.iter()
                .zip(colour)
                .all(|(a, b)| (*a as i32 - b as i32).abs() < 40),
            "{edge:?} vs {colour:?}"
        );
        let probe = Command::new(ffmpeg())
            .arg("-hide_banner")
            .arg("-i")
            .arg(&saved)
            .output()
            .unwrap();
        let info = String::from_utf8_lossy(&probe.stderr);
        assert!(
            info.contains("Video: h264") && info.contains("256x192") && info.contains(" 5 fps"),
            "{info}"
        );
        // No temporary file is left beside it.
        let names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["clip.mp4"]);

        // --max-frames 2 with the text output: frames 0 and 2, the speed on every line, then the summary.
        let o = output(detect(&model, true).arg(&clip).args([
            "--vid-stride",
            "2",
            "--max-frames",
            "2",
        ]));
        assert_ok(&o);
        let text = String::from_utf8_lossy(&o.stdout);
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(" frame ")).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].starts_with(&format!(
                "{} frame 0 (0.000 s): 2 detection(s), 256x192; speed ",
                clip.display()
            )),
            "{text}"
        );
        assert!(
            lines[1].contains(" frame 2 (0.200 s): ") && lines[1].contains("ms inference"),
            "{text}"
        );
        assert!(
            text.contains("2 frame(s) detected in") && text.contains("stopped at --max-frames"),
            "{text}"
        );
    }

    /// A truncated video is an error naming the file and the frame that could not be read; the frames before it
    /// are reported. Neither a panic nor a hang (every run here is killed after two minutes).
    #[test]
    fn truncated_and_corrupt_videos_are_clear_errors() {
        let (dir, model) = setup(6);
        // 60 frames with the index in front (faststart): a cut file still opens and decodes up to the cut.
        run_ffmpeg(
            &[
                "-stream_loop",
                "9",
                "-framerate",
                "10",
                "-i",
                "frames/f_%03d.png",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-movflags",
                "+faststart",
                "full.mp4",
            ],
            dir.path(),
        );
        let full = std::fs::read(dir.path().join("full.mp4")).unwrap();
        let cut = dir.path().join("cut.mp4");
        std::fs::write(&cut, &full[..full.len() * 6 / 10]).unwrap();
        let o = output(detect(&model, true).arg(&cut).arg("--json"));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        let line = err
            .lines()
            .find(|l| l.starts_with("trt-detect: error: "))
            .unwrap_or_else(|| panic!("no error line: {err}"));
        assert!(
            line.contains(&format!("{}: frame ", cut.display()))
                && line.contains("truncated or corrupt"),
            "{err}"
        );
        let v = json(&o);
        let s = &v["videos"][0];
        let n = s["frames"].as_u64().unwrap();
        assert!(n > 0 && n < 60, "{s}");
        assert_eq!(s["ended"], "error");
        assert!(
            line.contains(&format!(": frame {n}: ")),
            "the first frame not read is {n}: {line}"
        );
        assert_eq!(v["images"].as_array().unwrap().len() as u64, n);

        // Garbage with a video name, and a file cut before its index: ffmpeg cannot open them.
        let junk = dir.path().join("junk.mp4");
        std::fs::write(&junk, b"this is no video").unwrap();
        let plain = std::fs::read(encode(dir.path(), "plain.mp4", &["-c:v", "libx264"])).unwrap();
        let headless = dir.path().join("headless.mp4");
        std::fs::write(&headless, &plain[..plain.len() / 2]).unwrap();
        for bad in [&junk, &headless] {
            // A good image beside it is still processed; the video's failure makes it exit 1.
            let o = output(
                detect(&model, true)
                    .arg(bad)
                    .arg(dir.path().join("frames/f_000.png")),
            );
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{err}");
            assert!(
                err.contains(&format!(
                    "trt-detect: error: {}: ffmpeg could not read it",
                    bad.display()
                )) && err.contains("Invalid data found when processing input"),
                "{err}"
            );
            assert!(String::from_utf8_lossy(&o.stdout).contains("f_000.png: 2 detection(s)"));
        }
    }

    /// No ffmpeg: an error that says what was tried and how to get one, before the model is loaded (exit 1).
    #[test]
    fn a_missing_ffmpeg_is_a_clear_error() {
        let (dir, model) = setup(1);
        let clip = dir.path().join("clip.mp4");
        std::fs::write(&clip, b"x").unwrap();
        let empty = dir.path().join("empty-bin");
        std::fs::create_dir(&empty).unwrap();
        let o = output(detect(&model, false).env("PATH", &empty).arg(&clip));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        for part in [
            "trt-detect: error: no ffmpeg executable to decode videos with",
            "--ffmpeg not given",
            "TRT_FFMPEG and FFMPEG unset",
            &empty.display().to_string(),
            "apt install ffmpeg",
            "pip install imageio-ffmpeg",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
        assert_eq!(err.lines().count(), 1, "{err}");
        let o = output(
            detect(&model, false)
                .arg("--ffmpeg")
                .arg(dir.path().join("nope"))
                .arg(&clip),
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!(
                "--ffmpeg {}: no such file",
                dir.path().join("nope").display()
            )),
            "{err}"
        );
        let o = output(
            detect(&model, false)
                .env("FFMPEG", dir.path().join("tiny.onnx"))
                .arg(&clip),
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("FFMPEG=") && err.contains("not executable"),
            "{err}"
        );
        // `ffmpeg` on PATH is found (a link named ffmpeg to the real one).
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(ffmpeg(), bin.join("ffmpeg")).unwrap();
        let clip = encode(dir.path(), "one.mkv", &["-c:v", "ffv1"]);
        let o = output(detect(&model, false).env("PATH", &bin).arg(&clip));
        assert_ok(&o);
        assert!(String::from_utf8_lossy(&o.stdout).contains(" frame 0 (0.000 s): 2 detection(s)"));
    }

    /// Processes whose command line mentions `needle` (ffmpeg children left behind would).
    fn processes_mentioning(needle: &str) -> Vec<String> {
        let mut found = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            if !e
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
            {
                continue;
            }
            if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                if cmd.contains(needle) && cmd.contains("image2pipe") {
                    found.push(cmd);
                }
            }
        }
        found
    }

    /// A live source: a FIFO a real-time ffmpeg writes a Matroska stream into for a minute. Returns the writer.
    fn live_fifo(dir: &Path) -> (PathBuf, std::process::Child) {
        let fifo = dir.join("live.mkv");
        assert!(Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let writer = Command::new(ffmpeg())
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-nostdin",
                "-y",
                "-re",
                "-stream_loop",
                "-1",
            ])
            .args([
                "-framerate",
                "10",
                "-i",
                "frames/f_%03d.png",
                "-t",
                "60",
                "-c:v",
                "ffv1",
                "-f",
                "matroska",
            ])
            .arg(&fifo)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        (fifo, writer)
    }

    /// Reads stdout lines of `child` until one contains `what` (a minute at most).
    fn wait_for_line(
        child: &mut std::process::Child,
        what: &str,
    ) -> std::io::BufReader<std::process::ChildStdout> {
        let mut r = std::io::BufReader::new(child.stdout.take().unwrap());
        let start = Instant::now();
        let mut line = String::new();
        loop {
            line.clear();
            let n = r.read_line(&mut line).unwrap();
            assert!(n > 0, "stdout ended before a line with {what:?}");
            if line.contains(what) {
                return r;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no {what:?} within a minute"
            );
        }
    }

    fn wait_timeout(child: &mut std::process::Child, secs: u64) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            if start.elapsed() > Duration::from_secs(secs) {
                let _ = child.kill();
                panic!("trt-detect did not stop within {secs} s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ctrl-C on a live source: trt-detect stops after the current frame, kills and reaps its ffmpeg, saves the
    /// annotated video so far (no temporary file left) and exits 130.
    #[test]
    fn ctrl_c_stops_a_live_source_and_saves_what_was_seen() {
        let (dir, model) = setup(6);
        let (fifo, mut writer) = live_fifo(dir.path());
        let out = dir.path().join("out");
        let mut child = detect(&model, true)
            .arg(&fifo)
            .arg("--save-dir")
            .arg(&out)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _stdout = wait_for_line(&mut child, " frame 2 ");
        assert!(
            !processes_mentioning(&fifo.display().to_string()).is_empty(),
            "the decoder runs"
        );
        assert!(Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success());
        let status = wait_timeout(&mut child, 30);
        let _ = writer.kill();
        let _ = writer.wait();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(130), "{err}");
        assert!(!err.contains("panicked") && !err.contains("error"), "{err}");
        assert_eq!(
            processes_mentioning(&fifo.display().to_string()),
            Vec::<String>::new()
        );
        let names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["live.mp4"], "the video, and no temporary file");
        let (n, _) = decode_back(&out.join("live.mp4"));
        assert!(n >= 3, "{n} frames saved");
    }

    /// A closed stdout (`| head -1`) ends a live source when nothing else is written: ffmpeg is killed and reaped,
    /// exit 0.
    #[test]
    fn a_closed_stdout_stops_a_live_source() {
        let (dir, model) = setup(6);
        let (fifo, mut writer) = live_fifo(dir.path());
        let mut child = detect(&model, true)
            .arg(&fifo)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(wait_for_line(&mut child, " frame 0 "));
        let status = wait_timeout(&mut child, 30);
        let _ = writer.kill();
        let _ = writer.wait();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(0), "{err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{err}"
        );
        assert_eq!(
            processes_mentioning(&fifo.display().to_string()),
            Vec::<String>::new()
        );
    }
}
