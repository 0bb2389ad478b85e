//! Engines made by other tools (trtexec, Ultralytics, TensorRT-YOLO …), which come without a sidecar.
//!
//! Such a file is read here without TensorRT: [`ForeignEngine::read`] takes the file apart, and
//! [`Runtime::load_engine_without_sidecar`](crate::Runtime::load_engine_without_sidecar) hands the engine part to
//! TensorRT. What a sidecar would have proved — who built the engine, for which TensorRT and GPU, and that not a byte
//! changed since — is not known; only the checks that need no sidecar run (the file is readable and not empty,
//! Ultralytics' metadata is well-formed, TensorRT for RTX's header check). This is the trust `trtexec --loadEngine`
//! gives any file: use it for engines from a source you trust, and prefer rebuilding with `trt-build`.
//!
//! # Ultralytics' metadata
//! `yolo export format=engine` writes a 4-byte little-endian signed length, that many bytes of JSON (its model
//! metadata: `names`, `imgsz`, `task`, `stride`, `batch`, `version` …), then the serialized engine; Ultralytics'
//! own loader reads the length and the JSON and falls back to a plain engine when the bytes are not text. Here the
//! same rule: a length that fits in the file followed by a JSON object is metadata, anything else is a plain engine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// An engine file without a sidecar, taken apart.
#[derive(Debug, Clone)]
pub struct ForeignEngine {
    /// The file.
    pub path: PathBuf,
    /// The serialized engine (the file without Ultralytics' metadata).
    pub engine: Vec<u8>,
    /// Ultralytics' metadata, when the file starts with it.
    pub metadata: Option<EmbeddedMetadata>,
}

/// The model metadata Ultralytics writes in front of its engines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddedMetadata {
    /// Bytes in front of the engine (the length field and the JSON).
    pub bytes: usize,
    /// Class names by id (`names`); empty when absent or not a usable id → name mapping.
    pub names: Vec<String>,
    /// Why `names` is empty although the metadata has an entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub names_error: Option<String>,
    /// Input size `[height, width]` (`imgsz`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imgsz: Option<[u32; 2]>,
    /// `detect`, `segment`, `pose`, `obb`, `classify` (`task`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The Ultralytics release that exported the engine (`version`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Batch size the engine was exported for (`batch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    /// Largest stride (`stride`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stride: Option<u32>,
    /// Whether the model ends in its own NMS (`end2end`, YOLOv10 / YOLO26 style outputs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end2end: Option<bool>,
    /// The whole JSON object, as written.
    pub json: serde_json::Value,
}

impl ForeignEngine {
    /// Reads `path` and splits off Ultralytics' metadata when there is some. TensorRT is not involved.
    pub fn read(path: impl AsRef<Path>) -> Result<ForeignEngine> {
        let path = path.as_ref();
        let mut bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
        if bytes.is_empty() {
            return Err(Error::ForeignEngine {
                engine: path.to_owned(),
                reason: "the file is empty".into(),
            });
        }
        let metadata = split_ultralytics(&bytes);
        if let Some(m) = &metadata {
            bytes.drain(..m.bytes);
            if bytes.is_empty() {
                return Err(Error::ForeignEngine {
                    engine: path.to_owned(),
                    reason: format!(
                        "the file holds Ultralytics' metadata ({} bytes) but no engine after it; export it again",
                        m.bytes
                    ),
                });
            }
        }
        Ok(ForeignEngine {
            path: path.to_owned(),
            engine: bytes,
            metadata,
        })
    }
}

/// Ultralytics' metadata at the start of `file`, when it is there (see the module docs).
pub fn split_ultralytics(file: &[u8]) -> Option<EmbeddedMetadata> {
    let len = i32::from_le_bytes(file.get(..4)?.try_into().ok()?);
    let len = usize::try_from(len).ok().filter(|&n| n >= 2)?;
    let end = len.checked_add(4).filter(|&e| e <= file.len())?;
    let text = std::str::from_utf8(&file[4..end]).ok()?;
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    let obj = json.as_object()?;
    let uint = |k: &str| {
        obj.get(k)
            .and_then(serde_json::Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
    };
    let (names, names_error) = match obj.get("names") {
        None => (Vec::new(), None),
        Some(v) => match names_by_id(v) {
            Ok(n) => (n, None),
            Err(e) => (Vec::new(), Some(e)),
        },
    };
    let imgsz = match obj.get("imgsz") {
        Some(serde_json::Value::Array(a)) => match a.as_slice() {
            [h, w] => h
                .as_u64()
                .zip(w.as_u64())
                .and_then(|(h, w)| Some([u32::try_from(h).ok()?, u32::try_from(w).ok()?])),
            [s] => s
                .as_u64()
                .and_then(|s| u32::try_from(s).ok())
                .map(|s| [s, s]),
            _ => None,
        },
        Some(v) => v
            .as_u64()
            .and_then(|s| u32::try_from(s).ok())
            .map(|s| [s, s]),
        None => None,
    };
    let string = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    Some(EmbeddedMetadata {
        bytes: end,
        names,
        names_error,
        imgsz,
        task: string("task"),
        version: string("version"),
        batch: uint("batch"),
        stride: uint("stride"),
        end2end: obj.get("end2end").and_then(serde_json::Value::as_bool),
        json,
    })
}

/// `{"0": "person", "1": "bicycle"}` (ids `0..n` in any order) or `["person", "bicycle"]` → names by id.
fn names_by_id(v: &serde_json::Value) -> std::result::Result<Vec<String>, String> {
    match v {
        serde_json::Value::Array(a) => a
            .iter()
            .map(|n| {
                n.as_str()
                    .map(str::to_owned)
                    .ok_or("a name is not a string".to_owned())
            })
            .collect(),
        serde_json::Value::Object(o) => {
            let mut by_id = BTreeMap::new();
            for (k, n) in o {
                let id: usize = k
                    .trim()
                    .parse()
                    .map_err(|_| format!("class id `{k}` is not a number"))?;
                let n = n
                    .as_str()
                    .ok_or_else(|| format!("the name of class {id} is not a string"))?;
                by_id.insert(id, n.to_owned());
            }
            if let Some(gap) = (0..by_id.len()).find(|i| !by_id.contains_key(i)) {
                return Err(format!(
                    "class ids are not 0..{}: {gap} is missing",
                    by_id.len()
                ));
            }
            Ok(by_id.into_values().collect())
        }
        _ => Err("`names` is neither an id → name object nor a list".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Ultralytics' exporter writes: the JSON's length (4 bytes, little-endian, signed), the JSON, the engine.
    fn ultralytics_file(meta: &str, engine: &[u8]) -> Vec<u8> {
        let mut f = (meta.len() as i32).to_le_bytes().to_vec();
        f.extend_from_slice(meta.as_bytes());
        f.extend_from_slice(engine);
        f
    }

    const META: &str = r#"{"description": "Ultralytics YOLOv8n model trained on coco.yaml", "author": "Ultralytics", "date": "2026-01-02T03:04:05", "version": "8.3.40", "license": "AGPL-3.0 License", "docs": "https://docs.ultralytics.com", "stride": 32, "task": "detect", "batch": 1, "imgsz": [640, 640], "names": {"0": "person", "1": "bicycle", "2": "car"}, "args": {"batch": 1, "fraction": 1.0, "half": true, "int8": false, "dynamic": false, "nms": false}, "channels": 3}"#;

    #[test]
    fn ultralytics_metadata_is_split_off_and_read() {
        let engine = b"ftrt\0\0\0\0plan bytes".to_vec();
        let file = ultralytics_file(META, &engine);
        let m = split_ultralytics(&file).expect("metadata");
        assert_eq!(m.bytes, 4 + META.len());
        assert_eq!(&file[m.bytes..], &engine[..]);
        assert_eq!(m.names, ["person", "bicycle", "car"]);
        assert_eq!(m.imgsz, Some([640, 640]));
        assert_eq!(m.task.as_deref(), Some("detect"));
        assert_eq!(m.version.as_deref(), Some("8.3.40"));
        assert_eq!((m.batch, m.stride, m.end2end), (Some(1), Some(32), None));
        assert_eq!(m.json["args"]["half"], serde_json::Value::Bool(true));
    }

    #[test]
    fn names_in_any_order_are_by_id_and_gaps_are_reported() {
        let m = split_ultralytics(&ultralytics_file(
            r#"{"names": {"1": "b", "0": "a", "10": "k", "2": "c", "3": "d", "4": "e", "5": "f", "6": "g", "7": "h", "8": "i", "9": "j"}, "imgsz": 320}"#,
            b"x",
        ))
        .unwrap();
        assert_eq!(
            m.names,
            ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]
        );
        assert_eq!(m.imgsz, Some([320, 320]));
        let m = split_ultralytics(&ultralytics_file(
            r#"{"names": {"0": "a", "2": "c"}}"#,
            b"x",
        ))
        .unwrap();
        assert!(m.names.is_empty());
        assert_eq!(
            m.names_error.as_deref(),
            Some("class ids are not 0..2: 1 is missing")
        );
    }

    #[test]
    fn plain_engines_have_no_metadata() {
        // A TensorRT plan starts with its magic tag: as a length it is far beyond the file.
        assert!(split_ultralytics(b"ftrt\0\0\0\0\x02\0\0\0\0\0\0\0").is_none());
        assert!(split_ultralytics(b"vtrt\0\0\0\0\x02\0\0\0").is_none());
        // A length that fits but is followed by bytes that are not a JSON object.
        assert!(split_ultralytics(&ultralytics_file("[1, 2]", b"x")).is_none());
        assert!(split_ultralytics(&ultralytics_file("{\"a\": 1", b"x")).is_none());
        let mut not_text = ultralytics_file("{\"a\": 1}", b"x");
        not_text[5] = 0xff;
        assert!(split_ultralytics(&not_text).is_none());
        // Lengths that are negative or run past the end.
        assert!(split_ultralytics(&[0xff, 0xff, 0xff, 0xff, b'{', b'}']).is_none());
        assert!(split_ultralytics(&[9, 0, 0, 0, b'{', b'}']).is_none());
        assert!(split_ultralytics(&[1, 0]).is_none());
    }

    #[test]
    fn reading_a_file_strips_the_metadata_and_refuses_empty_engines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("yolov8n.engine");
        std::fs::write(&p, ultralytics_file(META, b"PLAN")).unwrap();
        let f = ForeignEngine::read(&p).unwrap();
        assert_eq!(f.engine, b"PLAN");
        assert_eq!(f.metadata.unwrap().names.len(), 3);

        std::fs::write(&p, b"PLAIN ENGINE").unwrap();
        let f = ForeignEngine::read(&p).unwrap();
        assert_eq!(
            (f.engine.as_slice(), f.metadata.is_none()),
            (&b"PLAIN ENGINE"[..], true)
        );

        std::fs::write(&p, ultralytics_file(META, b"")).unwrap();
        let e = ForeignEngine::read(&p).unwrap_err().to_string();
        assert!(e.contains("no engine after it"), "{e}");
        std::fs::write(&p, b"").unwrap();
        let e = ForeignEngine::read(&p).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let e = ForeignEngine::read(dir.path().join("missing.engine"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.engine"), "{e}");
    }
}
