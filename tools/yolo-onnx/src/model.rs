//! ONNX model I/O: load from a file or bytes (external data resolved), opset checks, atomic save
//! (inline or external data for models over the 2 GiB protobuf limit).
//!
//! ```no_run
//! # fn main() -> yolo_onnx::Result<()> {
//! let mut model = yolo_onnx::Model::load("yolov7.onnx")?;
//! println!("opset {} with {} nodes", model.opset(), model.graph().nodes().len());
//! model.graph_mut().sort_topologically()?;
//! model.save("yolov7-copy.onnx")?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};

use prost::Message;
use tract_onnx::pb::tensor_proto::DataLocation;
use tract_onnx::pb::{
    GraphProto, ModelProto, OperatorSetIdProto, StringStringEntryProto, TensorProto,
};

use crate::error::{Error, Result};
use crate::graph::{dtype_size, tensor_dims, Graph};

/// Lowest default-domain opset accepted.
pub const MIN_OPSET: i64 = 7;
/// Highest default-domain opset accepted.
pub const MAX_OPSET: i64 = 23;
/// Protobuf messages cannot exceed 2 GiB; larger models must keep weights in an external file.
pub const PROTOBUF_LIMIT: usize = (2usize << 30) - 1;

/// Where tensor data goes when saving.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExternalData {
    /// Inline everything unless the model would exceed the 2 GiB protobuf limit; then move
    /// initializers of at least 1 KiB to `<file name>.data` next to the model.
    #[default]
    Auto,
    /// Always inline; saving a model over 2 GiB is an error.
    Inline,
    /// Move initializers with at least `min_bytes` bytes of `raw_data` to `<file name>.data`.
    External {
        /// Smallest tensor (in bytes) moved to the data file.
        min_bytes: usize,
    },
}

/// Options for [`Model::save_with`].
#[derive(Clone, Debug, Default)]
pub struct SaveOptions {
    /// External data policy.
    pub external_data: ExternalData,
}

/// An ONNX model: the model header (metadata, opsets) and its main [`Graph`].
#[derive(Clone, Debug)]
pub struct Model {
    header: ModelProto,
    graph: Graph,
    source_name: String,
}

fn ir_version_for(opset: i64) -> i64 {
    match opset {
        ..=8 => 3,
        9 => 4,
        10 => 5,
        11 => 6,
        12..=14 => 7,
        15..=18 => 8,
        19..=20 => 9,
        21..=22 => 10,
        _ => 11,
    }
}

impl Model {
    /// A new model around `graph` with the given default-domain opset (not validated).
    pub fn new(graph: GraphProto, opset: i64) -> Model {
        let header = ModelProto {
            ir_version: ir_version_for(opset),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: opset,
            }],
            producer_name: "yolo-onnx".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        };
        Model {
            header,
            graph: Graph::new(graph),
            source_name: "<generated>".into(),
        }
    }

    /// Loads a model file, resolving external data relative to the file's directory, checking the
    /// opset and validating the graph. Errors name the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.into(),
            action: "reading model",
            source,
        })?;
        let dir = path.parent().map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        });
        Self::decode(&bytes, &path.display().to_string(), dir)
    }

    /// Loads a model from bytes. `source_name` labels errors. External data is an error here;
    /// use [`Model::from_bytes_in_dir`] or [`Model::load`].
    pub fn from_bytes(bytes: &[u8], source_name: &str) -> Result<Model> {
        Self::decode(bytes, source_name, None)
    }

    /// Loads a model from bytes, resolving external data relative to `dir`.
    pub fn from_bytes_in_dir(bytes: &[u8], source_name: &str, dir: &Path) -> Result<Model> {
        Self::decode(bytes, source_name, Some(dir))
    }

    fn decode(bytes: &[u8], source_name: &str, dir: Option<&Path>) -> Result<Model> {
        let mut proto = ModelProto::decode(bytes).map_err(|e| Error::Decode {
            source_name: source_name.into(),
            message: e.to_string(),
        })?;
        resolve_external_data(&mut proto, source_name, dir)?;
        Self::from_proto(proto, source_name)
    }

    /// Wraps a decoded [`ModelProto`]: checks that it has a graph and a supported opset and
    /// validates the graph structure. External data must already be resolved.
    pub fn from_proto(mut proto: ModelProto, source_name: &str) -> Result<Model> {
        let graph = proto.graph.take().ok_or_else(|| Error::Opset {
            source_name: source_name.into(),
            message: "model has no graph (is this an ONNX model?)".into(),
        })?;
        check_opset(&proto, source_name)?;
        let model = Model {
            header: proto,
            graph: Graph::new(graph),
            source_name: source_name.into(),
        };
        model
            .graph
            .validate()
            .map_err(|e| e.in_model(source_name))?;
        Ok(model)
    }

    /// File name (or label) the model was loaded from; used in error messages.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// Sets the label used in error messages.
    pub fn set_source_name(&mut self, name: impl Into<String>) {
        self.source_name = name.into();
    }

    /// Default-domain (`""` / `ai.onnx`) opset version, 0 when absent.
    pub fn opset(&self) -> i64 {
        default_opset(&self.header).unwrap_or(0)
    }

    /// Opset version imported for `domain` (`""` for the default domain).
    pub fn opset_for(&self, domain: &str) -> Option<i64> {
        if domain.is_empty() || domain == "ai.onnx" {
            return default_opset(&self.header);
        }
        self.header
            .opset_import
            .iter()
            .find(|o| o.domain == domain)
            .map(|o| o.version)
    }

    /// The model header (everything but the graph, which is `None` here).
    pub fn header(&self) -> &ModelProto {
        &self.header
    }

    /// Height and width from an Ultralytics-style `imgsz` metadata entry (`[640, 640]` or `640`): the size the model
    /// was exported for, used when its input height and width are dynamic.
    pub fn imgsz_hint(&self) -> Option<(usize, usize)> {
        let entry = self
            .header
            .metadata_props
            .iter()
            .find(|p| p.key == "imgsz")?;
        let nums: Vec<usize> = entry
            .value
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect();
        match nums.as_slice() {
            [s] => Some((*s, *s)),
            [h, w] => Some((*h, *w)),
            _ => None,
        }
    }

    /// Mutable model header (metadata, opset imports). Setting `graph` here has no effect.
    pub fn header_mut(&mut self) -> &mut ModelProto {
        &mut self.header
    }

    /// The main graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The main graph, mutable.
    pub fn graph_mut(&mut self) -> &mut Graph {
        &mut self.graph
    }

    /// Validates the graph (dangling inputs, duplicate producers, cycles); errors name the model.
    pub fn validate(&self) -> Result<()> {
        self.graph
            .validate()
            .map_err(|e| e.in_model(&self.source_name))
    }

    /// A full [`ModelProto`] (clones the graph).
    pub fn to_proto(&self) -> ModelProto {
        let mut p = self.header.clone();
        p.graph = Some(self.graph.proto().clone());
        p
    }

    /// Consumes the model into a [`ModelProto`].
    pub fn into_proto(self) -> ModelProto {
        let mut p = self.header;
        p.graph = Some(self.graph.into_proto());
        p
    }

    /// Serialized size in bytes.
    pub fn encoded_len(&self) -> usize {
        self.header.encoded_len() + prost::encoding::message::encoded_len(7, self.graph.proto())
    }

    /// Serializes the model (all data inline). Errors over the 2 GiB protobuf limit.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        encode_parts(&self.header, self.graph.proto(), &self.source_name)
    }

    /// Saves atomically (temporary file in the same directory, then rename) with
    /// [`ExternalData::Auto`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_with(path, &SaveOptions::default())
    }

    /// Saves atomically with explicit options.
    pub fn save_with(&self, path: impl AsRef<Path>, options: &SaveOptions) -> Result<()> {
        let path = path.as_ref();
        let min_bytes = match options.external_data {
            ExternalData::Inline => None,
            ExternalData::External { min_bytes } => Some(min_bytes),
            ExternalData::Auto => (self.encoded_len() > PROTOBUF_LIMIT).then_some(1024),
        };
        let Some(min_bytes) = min_bytes else {
            let bytes = self.to_bytes()?;
            return write_atomic(path, &bytes, "writing model");
        };
        let file_name = path
            .file_name()
            .ok_or_else(|| Error::Io {
                path: path.into(),
                action: "writing model",
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "path has no file name",
                ),
            })?
            .to_string_lossy()
            .into_owned();
        let data_name = format!("{file_name}.data");
        let data_path = path.with_file_name(&data_name);
        let src = self.graph.proto();
        let mut data = Vec::new();
        let mut graph = GraphProto {
            initializer: Vec::with_capacity(src.initializer.len()),
            ..Default::default()
        };
        graph.node = src.node.clone();
        graph.name = src.name.clone();
        graph.sparse_initializer = src.sparse_initializer.clone();
        graph.doc_string = src.doc_string.clone();
        graph.input = src.input.clone();
        graph.output = src.output.clone();
        graph.value_info = src.value_info.clone();
        graph.quantization_annotation = src.quantization_annotation.clone();
        for t in &src.initializer {
            if t.raw_data.len() >= min_bytes && !t.raw_data.is_empty() {
                // Align each tensor to 64 bytes so the data file can be memory-mapped.
                while data.len() % 64 != 0 {
                    data.push(0);
                }
                let offset = data.len();
                data.extend_from_slice(&t.raw_data);
                graph.initializer.push(TensorProto {
                    dims: t.dims.clone(),
                    data_type: t.data_type,
                    name: t.name.clone(),
                    doc_string: t.doc_string.clone(),
                    data_location: Some(DataLocation::External as i32),
                    external_data: vec![
                        kv("location", &data_name),
                        kv("offset", &offset.to_string()),
                        kv("length", &t.raw_data.len().to_string()),
                    ],
                    ..Default::default()
                });
            } else {
                graph.initializer.push(t.clone());
            }
        }
        let bytes = encode_parts(&self.header, &graph, &self.source_name)?;
        write_atomic(&data_path, &data, "writing external data")?;
        write_atomic(path, &bytes, "writing model")
    }
}

fn kv(k: &str, v: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: k.into(),
        value: v.into(),
    }
}

fn encode_parts(header: &ModelProto, graph: &GraphProto, source_name: &str) -> Result<Vec<u8>> {
    let len = header.encoded_len() + prost::encoding::message::encoded_len(7, graph);
    if len > PROTOBUF_LIMIT {
        return Err(Error::other(
            format!("serializing {source_name}"),
            format!("model is {len} bytes, over the 2 GiB protobuf limit; save it to a file with external data"),
        ));
    }
    let mut buf = Vec::with_capacity(len);
    header
        .encode(&mut buf)
        .map_err(|e| Error::other(format!("serializing {source_name}"), e.to_string()))?;
    prost::encoding::message::encode(7, graph, &mut buf);
    Ok(buf)
}

fn write_atomic(path: &Path, bytes: &[u8], action: &'static str) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let io = |source| Error::Io {
        path: path.into(),
        action,
        source,
    };
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

fn default_opset(p: &ModelProto) -> Option<i64> {
    p.opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
}

fn check_opset(p: &ModelProto, source_name: &str) -> Result<()> {
    let err = |message: String| Error::Opset {
        source_name: source_name.into(),
        message,
    };
    match default_opset(p) {
        None => Err(err(
            "model imports no default-domain (ai.onnx) opset; re-export it with an opset between 7 and 23".into(),
        )),
        Some(v) if !(MIN_OPSET..=MAX_OPSET).contains(&v) => Err(err(format!(
            "unsupported ai.onnx opset {v}: supported opsets are {MIN_OPSET}..={MAX_OPSET}; re-export with e.g. \
             torch.onnx.export(..., opset_version=17)"
        ))),
        Some(_) => Ok(()),
    }
}

/// Replaces EXTERNAL tensor data (initializers and Constant tensors, subgraphs included) by inline
/// `raw_data` read from files relative to `dir`.
fn resolve_external_data(
    proto: &mut ModelProto,
    source_name: &str,
    dir: Option<&Path>,
) -> Result<()> {
    let Some(graph) = proto.graph.as_mut() else {
        return Ok(());
    };
    let mut files: HashMap<PathBuf, File> = HashMap::new();
    resolve_graph(graph, source_name, dir, &mut files)
}

fn resolve_graph(
    g: &mut GraphProto,
    source_name: &str,
    dir: Option<&Path>,
    files: &mut HashMap<PathBuf, File>,
) -> Result<()> {
    for t in g.initializer.iter_mut() {
        resolve_tensor(t, source_name, dir, files)?;
    }
    for n in g.node.iter_mut() {
        for a in n.attribute.iter_mut() {
            if let Some(t) = a.t.as_mut() {
                resolve_tensor(t, source_name, dir, files)?;
            }
            for t in a.tensors.iter_mut() {
                resolve_tensor(t, source_name, dir, files)?;
            }
            for sg in a.g.iter_mut().chain(a.graphs.iter_mut()) {
                resolve_graph(sg, source_name, dir, files)?;
            }
        }
    }
    Ok(())
}

fn resolve_tensor(
    t: &mut TensorProto,
    source_name: &str,
    dir: Option<&Path>,
    files: &mut HashMap<PathBuf, File>,
) -> Result<()> {
    if t.data_location != Some(DataLocation::External as i32) {
        return Ok(());
    }
    let err = |message: String| Error::ExternalData {
        source_name: source_name.into(),
        tensor: t.name.clone(),
        message,
    };
    let Some(dir) = dir else {
        return Err(err("model uses external data; load it from its file path (Model::load) so the data file can be found".into()));
    };
    let get = |k: &str| {
        t.external_data
            .iter()
            .find(|e| e.key == k)
            .map(|e| e.value.clone())
    };
    let location = get("location").ok_or_else(|| err("no 'location' entry".into()))?;
    let rel = Path::new(&location);
    if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(err(format!(
            "location '{location}' must be a relative path inside the model directory (no '..', no absolute path)"
        )));
    }
    let parse = |k: &str| -> Result<Option<u64>> {
        get(k)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| err(format!("'{k}' is not a number: '{v}'")))
            })
            .transpose()
    };
    let offset = parse("offset")?.unwrap_or(0);
    let length = parse("length")?;
    let path = dir.join(rel);
    if !files.contains_key(&path) {
        let f =
            File::open(&path).map_err(|e| err(format!("cannot open {}: {e}", path.display())))?;
        files.insert(path.clone(), f);
    }
    let f = files.get_mut(&path).expect("inserted above");
    let file_len = f
        .metadata()
        .map_err(|e| err(format!("{}: {e}", path.display())))?
        .len();
    let length = length.unwrap_or_else(|| file_len.saturating_sub(offset));
    if offset.checked_add(length).is_none_or(|end| end > file_len) {
        return Err(err(format!(
            "offset {offset} + length {length} is past the end of {} ({file_len} bytes); the data file is truncated or \
             does not belong to this model",
            path.display()
        )));
    }
    let dims = tensor_dims(t)?;
    if let Some(size) = dtype_size(t.data_type) {
        let want = dims.iter().product::<usize>() as u64 * size as u64;
        if want != length {
            return Err(err(format!(
                "length {length} does not match dims {:?} ({want} bytes)",
                t.dims
            )));
        }
    }
    let mut buf = vec![0u8; length as usize];
    f.seek(SeekFrom::Start(offset))
        .and_then(|_| f.read_exact(&mut buf))
        .map_err(|e| err(format!("reading {}: {e}", path.display())))?;
    t.raw_data = buf;
    t.data_location = None;
    t.external_data.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{make_node, make_value_info, tensor_from_f32, DataType};
    use ndarray::{ArrayD, IxDyn};

    fn small(opset: i64) -> Model {
        let g = GraphProto {
            name: "g".into(),
            input: vec![make_value_info("x", DataType::Float, &[1, 4])],
            output: vec![make_value_info("y", DataType::Float, &[1, 4])],
            node: vec![make_node("Add", "add", &["x", "w"], &["y"], vec![])],
            initializer: vec![tensor_from_f32(
                "w",
                &ArrayD::from_shape_vec(IxDyn(&[1, 4]), vec![1.0, 2.0, 3.0, 4.0]).unwrap(),
            )],
            ..Default::default()
        };
        Model::new(g, opset)
    }

    #[test]
    fn roundtrip_bytes_and_file() {
        let m = small(13);
        let bytes = m.to_bytes().unwrap();
        assert_eq!(bytes.len(), m.encoded_len());
        let back = Model::from_bytes(&bytes, "mem").unwrap();
        assert_eq!(back.to_proto(), m.to_proto());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.onnx");
        m.save(&p).unwrap();
        let loaded = Model::load(&p).unwrap();
        assert_eq!(loaded.opset(), 13);
        assert_eq!(initializer_w(&loaded), [1.0, 2.0, 3.0, 4.0]);
        // No temporary files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// The values of the test models' initializer `w`.
    fn initializer_w(m: &Model) -> Vec<f32> {
        let w = m.graph().initializer_f32("w").unwrap().unwrap();
        w.as_slice().unwrap().to_vec()
    }

    #[test]
    fn external_data_roundtrip() {
        let m = small(17);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ext.onnx");
        m.save_with(
            &p,
            &SaveOptions {
                external_data: ExternalData::External { min_bytes: 1 },
            },
        )
        .unwrap();
        assert!(dir.path().join("ext.onnx.data").exists());
        // The model alone cannot be decoded without its directory.
        let bytes = std::fs::read(&p).unwrap();
        let e = Model::from_bytes(&bytes, "ext.onnx")
            .unwrap_err()
            .to_string();
        assert!(e.contains("external") && e.contains("'w'"), "{e}");
        let loaded = Model::load(&p).unwrap();
        assert_eq!(initializer_w(&loaded), [1.0, 2.0, 3.0, 4.0]);
        // Truncated data file: clear error naming the tensor.
        std::fs::write(dir.path().join("ext.onnx.data"), [0u8; 3]).unwrap();
        let e = Model::load(&p).unwrap_err().to_string();
        assert!(e.contains("'w'") && e.contains("past the end"), "{e}");
    }

    #[test]
    fn external_location_escape_refused() {
        let mut m = small(17);
        m.graph_mut().edit_proto(|g| {
            let t = &mut g.initializer[0];
            t.raw_data.clear();
            t.data_location = Some(DataLocation::External as i32);
            t.external_data = vec![kv("location", "../../etc/passwd")];
        });
        let bytes = m.to_bytes().unwrap();
        let e = Model::from_bytes_in_dir(&bytes, "x.onnx", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("relative path"), "{e}");
    }

    #[test]
    fn opset_bounds() {
        for bad in [6, 24] {
            let bytes = small(bad).to_bytes().unwrap();
            let e = Model::from_bytes(&bytes, "old.onnx")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("old.onnx") && e.contains(&format!("opset {bad}")),
                "{e}"
            );
        }
        for good in [7, 23] {
            Model::from_bytes(&small(good).to_bytes().unwrap(), "ok").unwrap();
        }
        let mut m = small(13);
        m.header_mut().opset_import.clear();
        let e = Model::from_bytes(&m.to_bytes().unwrap(), "noop.onnx")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no default-domain"), "{e}");
    }

    #[test]
    fn bad_bytes_and_files() {
        let bytes = small(13).to_bytes().unwrap();
        let e = Model::from_bytes(&bytes[..bytes.len() - 5], "trunc.onnx")
            .unwrap_err()
            .to_string();
        assert!(e.contains("trunc.onnx"), "{e}");
        let e = Model::load("/nonexistent/dir/m.onnx")
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/dir/m.onnx"), "{e}");
        let e = Model::from_bytes(b"", "empty.onnx")
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty.onnx") && e.contains("no graph"), "{e}");
    }

    #[test]
    fn cycle_and_missing_initializer_name_file_and_node() {
        let mut m = small(13);
        m.graph_mut().remove_initializer("w");
        let e = Model::from_bytes(&m.to_bytes().unwrap(), "miss.onnx")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("miss.onnx") && e.contains("'add'") && e.contains("'w'"),
            "{e}"
        );
        let mut m = small(13);
        m.graph_mut()
            .nodes_mut()
            .push(make_node("Relu", "r", &["y2"], &["x2"], vec![]));
        m.graph_mut().nodes_mut()[0].input[0] = "x2".into();
        m.graph_mut().nodes_mut()[1].input[0] = "y".into();
        m.graph_mut().nodes_mut()[1].output[0] = "x2".into();
        let e = Model::from_bytes(&m.to_bytes().unwrap(), "cyc.onnx")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cyc.onnx") && e.contains("cycle"), "{e}");
    }
}
