//! What trt-detect reads: images, and video sources (files, V4L2 cameras, network streams), which a build with
//! `--features video` decodes through an `ffmpeg` executable. The kinds are told apart in every build, so a build
//! without the feature names a video as one and says how to get it read.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// File extensions read as videos (case-insensitive); `--video FILE` takes any other name.
pub(super) const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "mkv", "avi", "mov", "webm", "m4v", "mpg", "mpeg", "ts",
];

/// URL schemes read as network streams.
pub(super) const STREAM_SCHEMES: &[&str] = &["rtsp", "rtsps", "rtmp", "rtmps", "http", "https"];

/// One thing to detect in: an image file, or a video source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Input {
    /// An image file (PNG, JPEG, BMP, WebP, TIFF).
    Image(PathBuf),
    /// A video file, camera or stream.
    Video(VideoSource),
}

/// A source of video frames, opened by ffmpeg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum VideoSource {
    /// A file (or a FIFO); a truncated or corrupt one is an error.
    File(PathBuf),
    /// A V4L2 camera device: `0` on the command line is `/dev/video0`.
    Camera(PathBuf),
    /// A network stream: `rtsp://`, `rtmp://`, `http(s)://` (and their TLS spellings).
    Stream(String),
}

impl VideoSource {
    /// How reports and errors name it: the path, device or URL as given.
    pub(super) fn name(&self) -> String {
        match self {
            VideoSource::File(p) | VideoSource::Camera(p) => p.display().to_string(),
            VideoSource::Stream(url) => url.clone(),
        }
    }

    /// The stem of what `--save-dir` writes for it (`NAME.mp4`, `NAME_<frame>.png`, `labels/NAME_<frame>.txt`): a
    /// file's stem, a camera's device name (`video0`), a stream's last path segment (else its host), with characters
    /// other than letters, digits, `.`, `-` and `_` replaced by `_`.
    pub(super) fn stem(&self) -> String {
        let raw = match self {
            VideoSource::File(p) | VideoSource::Camera(p) => p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            VideoSource::Stream(url) => {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                let rest = rest.split(['?', '#']).next().unwrap_or(rest);
                let mut parts = rest.split('/').filter(|s| !s.is_empty());
                let host = parts.next().unwrap_or("");
                // The host without credentials or port.
                let host = host.rsplit('@').next().unwrap_or(host);
                let host = host.split(':').next().unwrap_or(host);
                let last = parts.next_back().map(|s| match s.rsplit_once('.') {
                    Some((stem, _)) if !stem.is_empty() => stem,
                    _ => s,
                });
                last.unwrap_or(host).to_string()
            }
        };
        let clean: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if clean.is_empty() {
            "video".into()
        } else {
            clean
        }
    }
}

/// The input as a camera or network stream when it names one rather than a path: a camera index (`0` →
/// `/dev/video0`, Ultralytics' `source=0`), a V4L2 device (`/dev/video2`) or a stream URL.
pub(super) fn live_source(arg: &OsStr) -> Option<VideoSource> {
    let s = arg.to_str()?;
    if !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()) {
        let index: u32 = s.parse().ok()?;
        return Some(VideoSource::Camera(PathBuf::from(format!(
            "/dev/video{index}"
        ))));
    }
    if let Some(n) = s.strip_prefix("/dev/video") {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            return Some(VideoSource::Camera(PathBuf::from(s)));
        }
    }
    let (scheme, rest) = s.split_once("://")?;
    (STREAM_SCHEMES
        .iter()
        .any(|k| scheme.eq_ignore_ascii_case(k))
        && !rest.is_empty())
    .then(|| VideoSource::Stream(s.to_string()))
}

/// Whether a file name has a video extension.
pub(super) fn is_video_file(p: &Path) -> bool {
    super::files::has_ext(p, VIDEO_EXTENSIONS)
}

/// The error of a build without `--features video` given a video source.
#[cfg_attr(feature = "video", allow(dead_code))]
pub(super) fn not_built(source: &VideoSource) -> String {
    format!(
        "{}: a video source, and this trt-detect was built without video support; rebuild it with `cargo build \
         --release -p trt-tools --features video` (it decodes through an ffmpeg executable, nothing is linked), or \
         give its frames as images",
        source.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cameras_and_streams_are_told_from_paths() {
        let cam = |s: &str| live_source(OsStr::new(s));
        assert_eq!(cam("0"), Some(VideoSource::Camera("/dev/video0".into())));
        assert_eq!(cam("12"), Some(VideoSource::Camera("/dev/video12".into())));
        assert_eq!(
            cam("/dev/video3"),
            Some(VideoSource::Camera("/dev/video3".into()))
        );
        assert_eq!(
            cam("rtsp://user:pw@10.0.0.2:554/live/cam1"),
            Some(VideoSource::Stream(
                "rtsp://user:pw@10.0.0.2:554/live/cam1".into()
            ))
        );
        assert!(matches!(
            cam("RTMP://h/app/key"),
            Some(VideoSource::Stream(_))
        ));
        assert!(matches!(
            cam("https://h/clip.mp4"),
            Some(VideoSource::Stream(_))
        ));
        for path in [
            "clip.mp4",
            "./0",
            "0.png",
            "/dev/video",
            "/dev/videox",
            "ftp://h/x",
            "rtsp://",
            "12345",
        ] {
            assert_eq!(cam(path), None, "{path}");
        }
    }

    #[test]
    fn output_stems() {
        let stem = |s: VideoSource| s.stem();
        assert_eq!(
            stem(VideoSource::File("dir/clip.final.mp4".into())),
            "clip.final"
        );
        assert_eq!(stem(VideoSource::Camera("/dev/video0".into())), "video0");
        assert_eq!(
            stem(VideoSource::Stream(
                "rtsp://u:p@10.0.0.2:554/live/cam 1?x=1".into()
            )),
            "cam_1"
        );
        assert_eq!(
            stem(VideoSource::Stream("https://example.com/v/clip.mp4".into())),
            "clip"
        );
        assert_eq!(
            stem(VideoSource::Stream("rtsp://10.0.0.2:554".into())),
            "10.0.0.2"
        );
    }
}
