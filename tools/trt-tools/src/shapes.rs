//! Shape specifications in trtexec syntax (`input:1x3x640x640,other:1x2`) and optimization profiles.
//!
//! A profile is a min/opt/max triple; repeating the triple on the command line
//! (`--min-shapes A --opt-shapes B --max-shapes C --min-shapes D …`) makes several profiles, in order.
//! `--shapes S` alone is the static profile min = opt = max = S (as trtexec does for a build).

use std::fmt;

use anyhow::{bail, Result};
use serde::Serialize;

/// One tensor's dimensions in a shape spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorShape {
    /// Input tensor name.
    pub name: String,
    /// Dimensions (all positive).
    pub dims: Vec<i64>,
}

impl fmt::Display for TensorShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, dims_to_string(&self.dims))
    }
}

/// `[1, 3, 640, 640]` → `1x3x640x640`.
pub fn dims_to_string(dims: &[i64]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// Splits on `sep` outside single or double quotes.
fn split_outside_quotes(s: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (None, c) if c == sep => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

/// Parses a trtexec shape spec: `name:AxBxC[,name2:…]`. Names containing `:` or `,` may be quoted
/// (`'input:0':1x3x640x640`). Every dimension must be a positive integer; a name may appear once.
pub fn parse_spec(spec: &str) -> Result<Vec<TensorShape>> {
    let spec = spec.trim();
    if spec.is_empty() {
        bail!("empty shape spec; expected name:AxBxC, e.g. images:1x3x640x640");
    }
    let mut out: Vec<TensorShape> = Vec::new();
    for item in split_outside_quotes(spec, ',') {
        let item = item.trim();
        if item.is_empty() {
            bail!("shape spec `{spec}` has an empty entry (stray comma?)");
        }
        // The dims never contain ':', so the last ':' outside quotes separates name and dims.
        let pieces = split_outside_quotes(item, ':');
        if pieces.len() < 2 {
            bail!("shape `{item}` has no `:`; expected name:AxBxC, e.g. images:1x3x640x640");
        }
        let dims_str = pieces.last().map(String::as_str).unwrap_or_default().trim();
        let name_raw = pieces[..pieces.len() - 1].join(":");
        let name = unquote(name_raw.trim());
        if name.is_empty() {
            bail!("shape `{item}` has an empty tensor name");
        }
        if dims_str.is_empty() {
            bail!("shape of tensor `{name}` is empty; expected dimensions like 1x3x640x640");
        }
        let mut dims = Vec::new();
        for (i, d) in dims_str.split('x').enumerate() {
            let d = d.trim();
            match d.parse::<i64>() {
                Ok(v) if v > 0 => dims.push(v),
                Ok(v) => bail!(
                    "tensor `{name}`: dimension {i} of `{dims_str}` is {v}; every dimension must be positive"
                ),
                Err(_) => bail!("tensor `{name}`: `{d}` in `{dims_str}` is not a dimension; expected AxBxC with positive integers"),
            }
        }
        if out.iter().any(|t| t.name == name) {
            bail!("tensor `{name}` appears twice in shape spec `{spec}`");
        }
        out.push(TensorShape { name, dims });
    }
    Ok(out)
}

fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'\'' || b[0] == b'"') && b[b.len() - 1] == b[0] {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

/// The min/opt/max shapes of one input in one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputRange {
    /// Input tensor name.
    pub name: String,
    /// Smallest shape.
    pub min: Vec<i64>,
    /// Shape TensorRT optimizes for.
    pub opt: Vec<i64>,
    /// Largest shape.
    pub max: Vec<i64>,
}

/// One optimization profile: a range per dynamic input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Profile {
    /// Ranges, one per input named in the profile.
    pub inputs: Vec<InputRange>,
}

/// The raw shape options as given on the command line or in a recipe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShapeArgs {
    /// `--shapes` (static profile).
    pub shapes: Option<String>,
    /// `--min-shapes`, one per profile.
    pub min: Vec<String>,
    /// `--opt-shapes`, one per profile.
    pub opt: Vec<String>,
    /// `--max-shapes`, one per profile.
    pub max: Vec<String>,
}

impl ShapeArgs {
    /// True when no shape option was given.
    pub fn is_empty(&self) -> bool {
        self.shapes.is_none() && self.min.is_empty() && self.opt.is_empty() && self.max.is_empty()
    }
}

/// Builds the profiles from the shape options and checks each one on its own (same tensors in min/opt/max,
/// equal ranks, min ≤ opt ≤ max). Does not look at the model: see [`resolve`].
pub fn profiles(args: &ShapeArgs) -> Result<Vec<Profile>> {
    if let Some(s) = &args.shapes {
        if !(args.min.is_empty() && args.opt.is_empty() && args.max.is_empty()) {
            bail!("--shapes sets a static profile; do not combine it with --min-shapes/--opt-shapes/--max-shapes");
        }
        let shapes = parse_spec(s).map_err(|e| anyhow::anyhow!("--shapes: {e}"))?;
        let inputs = shapes
            .into_iter()
            .map(|t| InputRange {
                name: t.name,
                min: t.dims.clone(),
                opt: t.dims.clone(),
                max: t.dims,
            })
            .collect();
        return Ok(vec![Profile { inputs }]);
    }
    if args.opt.is_empty() && (!args.min.is_empty() || !args.max.is_empty()) {
        bail!(
            "--min-shapes/--max-shapes need --opt-shapes too (one min/opt/max triple per profile)"
        );
    }
    let n = args.opt.len();
    for (flag, list) in [("--min-shapes", &args.min), ("--max-shapes", &args.max)] {
        if !list.is_empty() && list.len() != n {
            bail!(
                "{flag} given {} time(s) but --opt-shapes {n} time(s); repeat the min/opt/max triple once per profile",
                list.len()
            );
        }
    }
    let mut out = Vec::with_capacity(n);
    for p in 0..n {
        let label = |flag: &str| {
            if n > 1 {
                format!("profile {p}: {flag}")
            } else {
                flag.to_string()
            }
        };
        let opt = parse_spec(&args.opt[p])
            .map_err(|e| anyhow::anyhow!("{}: {e}", label("--opt-shapes")))?;
        let min = match args.min.get(p) {
            Some(s) => {
                parse_spec(s).map_err(|e| anyhow::anyhow!("{}: {e}", label("--min-shapes")))?
            }
            None => opt.clone(),
        };
        let max = match args.max.get(p) {
            Some(s) => {
                parse_spec(s).map_err(|e| anyhow::anyhow!("{}: {e}", label("--max-shapes")))?
            }
            None => opt.clone(),
        };
        let prefix = if n > 1 {
            format!("profile {p}: ")
        } else {
            String::new()
        };
        for (flag, list) in [("--min-shapes", &min), ("--max-shapes", &max)] {
            for t in list {
                if !opt.iter().any(|o| o.name == t.name) {
                    bail!(
                        "{prefix}tensor `{}` is in {flag} but not in --opt-shapes",
                        t.name
                    );
                }
            }
        }
        let mut inputs = Vec::new();
        for o in &opt {
            let find = |list: &[TensorShape], flag: &str| -> Result<Vec<i64>> {
                list.iter()
                    .find(|t| t.name == o.name)
                    .map(|t| t.dims.clone())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "{prefix}tensor `{}` is in --opt-shapes but not in {flag}",
                            o.name
                        )
                    })
            };
            let range = InputRange {
                name: o.name.clone(),
                min: find(&min, "--min-shapes")?,
                opt: o.dims.clone(),
                max: find(&max, "--max-shapes")?,
            };
            check_range(&range).map_err(|e| anyhow::anyhow!("{prefix}{e}"))?;
            inputs.push(range);
        }
        out.push(Profile { inputs });
    }
    Ok(out)
}

fn check_range(r: &InputRange) -> Result<()> {
    let name = &r.name;
    if r.min.len() != r.opt.len() || r.max.len() != r.opt.len() {
        bail!(
            "tensor `{name}`: min {}, opt {} and max {} have different ranks",
            dims_to_string(&r.min),
            dims_to_string(&r.opt),
            dims_to_string(&r.max)
        );
    }
    for i in 0..r.opt.len() {
        let (lo, mid, hi) = (r.min[i], r.opt[i], r.max[i]);
        if lo > hi {
            bail!("tensor `{name}`: dimension {i}: min {lo} > max {hi}");
        }
        if lo > mid {
            bail!("tensor `{name}`: dimension {i}: min {lo} > opt {mid}");
        }
        if mid > hi {
            bail!("tensor `{name}`: dimension {i}: opt {mid} > max {hi}");
        }
    }
    Ok(())
}

/// A model input as the model declares it: `None` for a dynamic (symbolic or unknown) dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInput {
    /// Tensor name.
    pub name: String,
    /// Declared dimensions.
    pub dims: Vec<Option<i64>>,
}

/// `[Some(1), None, Some(640)]` → `1x?x640`.
pub fn model_dims_to_string(dims: &[Option<i64>]) -> String {
    dims.iter()
        .map(|d| d.map_or_else(|| "?".to_string(), |v| v.to_string()))
        .collect::<Vec<_>>()
        .join("x")
}

/// Checks the profiles against the model's inputs: every named tensor is an input, ranks match, fixed dimensions
/// are respected, and every input with a dynamic dimension has a range in every profile. Returns the profiles to
/// build (empty for a fully static model given no shapes).
pub fn resolve(model: &[ModelInput], profiles: &[Profile]) -> Result<Vec<Profile>> {
    let names = || {
        model
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (p, prof) in profiles.iter().enumerate() {
        let prefix = if profiles.len() > 1 {
            format!("profile {p}: ")
        } else {
            String::new()
        };
        for r in &prof.inputs {
            let Some(input) = model.iter().find(|i| i.name == r.name) else {
                bail!(
                    "{prefix}unknown tensor `{}` in the shape options; the model's inputs are: {}",
                    r.name,
                    names()
                );
            };
            if input.dims.len() != r.opt.len() {
                bail!(
                    "{prefix}tensor `{}`: the model declares rank {} ({}), the shape options give rank {} ({})",
                    r.name,
                    input.dims.len(),
                    model_dims_to_string(&input.dims),
                    r.opt.len(),
                    dims_to_string(&r.opt)
                );
            }
            for (i, d) in input.dims.iter().enumerate() {
                if let Some(fixed) = *d {
                    for (what, v) in [("min", r.min[i]), ("opt", r.opt[i]), ("max", r.max[i])] {
                        if v != fixed {
                            bail!(
                                "{prefix}tensor `{}`: dimension {i} is fixed to {fixed} in the model ({}), but {what} gives {v}",
                                r.name,
                                model_dims_to_string(&input.dims)
                            );
                        }
                    }
                }
            }
        }
        for input in model.iter().filter(|i| i.dims.iter().any(Option::is_none)) {
            if !prof.inputs.iter().any(|r| r.name == input.name) {
                bail!(
                    "{prefix}input `{}` has dynamic dimensions ({}) but no shape; give --shapes {}:{} or a \
                     --min-shapes/--opt-shapes/--max-shapes triple",
                    input.name,
                    model_dims_to_string(&input.dims),
                    input.name,
                    example_dims(&input.dims)
                );
            }
        }
    }
    if profiles.is_empty() {
        if let Some(input) = model.iter().find(|i| i.dims.iter().any(Option::is_none)) {
            bail!(
                "input `{}` has dynamic dimensions ({}); give --shapes {}:{} (static) or a \
                 --min-shapes/--opt-shapes/--max-shapes triple",
                input.name,
                model_dims_to_string(&input.dims),
                input.name,
                example_dims(&input.dims)
            );
        }
    }
    Ok(profiles.to_vec())
}

/// An example concrete shape for a message: dynamic batch → 1, dynamic spatial → 640.
fn example_dims(dims: &[Option<i64>]) -> String {
    dims.iter()
        .enumerate()
        .map(|(i, d)| d.unwrap_or(if i == 0 { 1 } else { 640 }).to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// Input name → concrete dims for the CPU executor.
pub type InputShapes = std::collections::HashMap<String, Vec<usize>>;

/// The concrete input shapes for running `model` on the CPU executor: `--shapes` first, then every dynamic dimension
/// chosen (batch 1; height and width of an image input from the model's `imgsz` metadata, else 640). Returns the
/// shapes and, for the inputs whose shapes were chosen, `name:AxBxC` to tell the user.
///
/// A given shape must agree with every fixed dimension the model declares.
pub fn cpu_shapes(
    model: &yolo_onnx::Model,
    given: Option<&str>,
) -> anyhow::Result<(InputShapes, Vec<String>)> {
    let mut shapes = std::collections::HashMap::new();
    let given = match given {
        Some(spec) => parse_spec(spec).map_err(|e| anyhow::anyhow!("--shapes: {e}"))?,
        None => Vec::new(),
    };
    let graph = model.graph();
    let inputs: Vec<_> = graph
        .inputs()
        .into_iter()
        .filter(|vi| !graph.is_initializer(&vi.name))
        .collect();
    for g in &given {
        if !inputs.iter().any(|vi| vi.name == g.name) {
            let names: Vec<&str> = inputs.iter().map(|vi| vi.name.as_str()).collect();
            bail!(
                "--shapes names `{}`, which is not an input of the model (inputs: {})",
                g.name,
                names.join(", ")
            );
        }
        let declared = inputs
            .iter()
            .find(|vi| vi.name == g.name)
            .and_then(|vi| yolo_onnx::graph::value_info_dims(vi));
        if let Some(declared) = declared {
            let agrees = declared.len() == g.dims.len()
                && declared
                    .iter()
                    .zip(&g.dims)
                    .all(|(d, &v)| d.is_none_or(|d| d == v));
            if !agrees {
                bail!(
                    "--shapes {g}: the model declares `{}` as {}; give a shape that keeps its fixed dimensions",
                    g.name,
                    model_dims_to_string(&declared)
                );
            }
        }
        shapes.insert(g.name.clone(), g.dims.iter().map(|&d| d as usize).collect());
    }
    let imgsz = model.imgsz_hint().unwrap_or((640, 640));
    let mut chosen = Vec::new();
    for vi in inputs {
        if shapes.contains_key(&vi.name) {
            continue;
        }
        let Some(dims) = yolo_onnx::graph::value_info_dims(vi) else {
            continue;
        };
        if dims.iter().all(Option::is_some) {
            continue;
        }
        let rank = dims.len();
        let mut out = Vec::with_capacity(rank);
        for (i, d) in dims.iter().enumerate() {
            out.push(match (d, i, rank) {
                (Some(v), _, _) => *v as usize,
                (None, 0, _) => 1,
                (None, 2, 4) => imgsz.0,
                (None, 3, 4) => imgsz.1,
                (None, _, _) => bail!(
                    "input `{}` has a dynamic dimension {i} ({}) that cannot be chosen; give --shapes {}:…",
                    vi.name,
                    model_dims_to_string(&dims),
                    vi.name
                ),
            });
        }
        chosen.push(format!(
            "{}:{}",
            vi.name,
            out.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join("x")
        ));
        shapes.insert(vi.name.clone(), out);
    }
    Ok((shapes, chosen))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn parses_trtexec_syntax() {
        let v = parse_spec("images:1x3x640x640,im_info:1x2").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(
            v[0],
            TensorShape {
                name: "images".into(),
                dims: vec![1, 3, 640, 640]
            }
        );
        assert_eq!(v[1].dims, vec![1, 2]);
        assert_eq!(v[0].to_string(), "images:1x3x640x640");
    }

    #[test]
    fn quoted_names_may_hold_colons_and_commas() {
        let v = parse_spec("'input:0':1x3x8x8,\"a,b\":2").unwrap();
        assert_eq!(v[0].name, "input:0");
        assert_eq!(v[1].name, "a,b");
        assert_eq!(v[1].dims, vec![2]);
        // unquoted colon in the name: the last colon separates the dims
        assert_eq!(parse_spec("input:0:1x3").unwrap()[0].name, "input:0");
    }

    #[test]
    fn bad_specs_name_the_problem() {
        for (spec, needle) in [
            ("", "empty shape spec"),
            ("images", "no `:`"),
            ("images:", "is empty"),
            (":1x3", "empty tensor name"),
            ("images:1x0x3", "must be positive"),
            ("images:1x-3", "must be positive"),
            ("images:1xax3", "`a`"),
            ("images:1x3,", "empty entry"),
            ("a:1,a:2", "appears twice"),
        ] {
            let e = parse_spec(spec).unwrap_err().to_string();
            assert!(e.contains(needle), "{spec}: {e}");
        }
    }

    #[test]
    fn static_shapes_make_one_profile() {
        let p = profiles(&ShapeArgs {
            shapes: s("x:1x3x64x64"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].inputs[0].min, p[0].inputs[0].max);
        assert_eq!(p[0].inputs[0].opt, vec![1, 3, 64, 64]);
    }

    #[test]
    fn repeated_triples_make_several_profiles() {
        let args = ShapeArgs {
            shapes: None,
            min: vec!["x:1x3x320x320".into(), "x:8x3x640x640".into()],
            opt: vec!["x:1x3x640x640".into(), "x:8x3x640x640".into()],
            max: vec!["x:1x3x1280x1280".into(), "x:16x3x640x640".into()],
        };
        let p = profiles(&args).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].inputs[0].max, vec![1, 3, 1280, 1280]);
        assert_eq!(p[1].inputs[0].min, vec![8, 3, 640, 640]);
        assert_eq!(p[1].inputs[0].max, vec![16, 3, 640, 640]);
    }

    #[test]
    fn opt_alone_is_a_static_profile() {
        let p = profiles(&ShapeArgs {
            opt: vec!["x:2x3".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p[0].inputs[0].min, vec![2, 3]);
        assert_eq!(p[0].inputs[0].max, vec![2, 3]);
    }

    #[test]
    fn range_errors_name_tensor_and_dimension() {
        let mk = |min: &str, opt: &str, max: &str| ShapeArgs {
            shapes: None,
            min: vec![min.into()],
            opt: vec![opt.into()],
            max: vec![max.into()],
        };
        let e = profiles(&mk("x:1x3x640", "x:1x3x640", "x:1x3x320"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`x`") && e.contains("dimension 2") && e.contains("min 640 > max 320"),
            "{e}"
        );
        let e = profiles(&mk("x:1x3x64", "x:1x3x128", "x:1x3x96"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("opt 128 > max 96"), "{e}");
        let e = profiles(&mk("x:1x3", "x:1x3x1", "x:1x3x1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("different ranks"), "{e}");
        let e = profiles(&mk("y:1", "x:1", "x:1")).unwrap_err().to_string();
        assert!(
            e.contains("`y` is in --min-shapes but not in --opt-shapes"),
            "{e}"
        );
        let e = profiles(&mk("x:1", "x:1,z:2", "x:1"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`z` is in --opt-shapes but not in --min-shapes"),
            "{e}"
        );
    }

    #[test]
    fn mismatched_triple_counts_are_rejected() {
        let args = ShapeArgs {
            shapes: None,
            min: vec!["x:1".into(), "x:1".into()],
            opt: vec!["x:1".into()],
            max: vec![],
        };
        assert!(profiles(&args)
            .unwrap_err()
            .to_string()
            .contains("--min-shapes given 2 time(s)"));
        let args = ShapeArgs {
            shapes: None,
            min: vec!["x:1".into()],
            opt: vec![],
            max: vec!["x:1".into()],
        };
        assert!(profiles(&args)
            .unwrap_err()
            .to_string()
            .contains("need --opt-shapes"));
        let args = ShapeArgs {
            shapes: s("x:1"),
            min: vec!["x:1".into()],
            opt: vec![],
            max: vec![],
        };
        assert!(profiles(&args)
            .unwrap_err()
            .to_string()
            .contains("static profile"));
    }

    fn yolo_input(dynamic: bool) -> Vec<ModelInput> {
        let d = if dynamic {
            vec![None, Some(3), None, None]
        } else {
            vec![Some(1), Some(3), Some(640), Some(640)]
        };
        vec![ModelInput {
            name: "images".into(),
            dims: d,
        }]
    }

    #[test]
    fn resolve_checks_against_model_inputs() {
        let p = profiles(&ShapeArgs {
            shapes: s("imgs:1x3x640x640"),
            ..Default::default()
        })
        .unwrap();
        let e = resolve(&yolo_input(true), &p).unwrap_err().to_string();
        assert!(
            e.contains("unknown tensor `imgs`") && e.contains("images"),
            "{e}"
        );

        let p = profiles(&ShapeArgs {
            shapes: s("images:1x4x640x640"),
            ..Default::default()
        })
        .unwrap();
        let e = resolve(&yolo_input(true), &p).unwrap_err().to_string();
        assert!(e.contains("dimension 1 is fixed to 3"), "{e}");

        let p = profiles(&ShapeArgs {
            shapes: s("images:1x3x640"),
            ..Default::default()
        })
        .unwrap();
        assert!(resolve(&yolo_input(true), &p)
            .unwrap_err()
            .to_string()
            .contains("rank 4"));

        let e = resolve(&yolo_input(true), &[]).unwrap_err().to_string();
        assert!(
            e.contains("dynamic dimensions (?x3x?x?)") && e.contains("images:1x3x640x640"),
            "{e}"
        );

        assert!(resolve(&yolo_input(false), &[]).unwrap().is_empty());
        let p = profiles(&ShapeArgs {
            shapes: s("images:4x3x320x320"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(resolve(&yolo_input(true), &p).unwrap(), p);
    }
}
