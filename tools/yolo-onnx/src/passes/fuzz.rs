//! Property test: mutated models (byte flips, truncation, node shuffles, dropped initializers,
//! attribute damage) go through load → lint → fuse without panicking.

use proptest::prelude::*;
use prost::Message;

use crate::model::Model;
use crate::passes::{fuse, lint::lint, FuseOptions};
use crate::testgen;

/// A small graph with every pattern: Constant, Identity, Dropout, Conv+BN, RepConv with identity
/// BN, ImplicitA/ImplicitM.
fn all_patterns() -> Vec<u8> {
    use crate::graph::{make_attr_t, make_node, tensor_from_f32};
    use crate::passes::testutil::Builder;
    let mut b = Builder::new(&[1, 4, 6, 6], 77);
    let a = b.conv("x", 4, 3, 1, 1, 1, false);
    let a = b.bn(&a, Some(1e-3));
    let c = b.conv("x", 4, 1, 1, 0, 1, false);
    let c = b.bn(&c, Some(1e-3));
    let i = b.bn("x", Some(1e-3));
    let s = b.node("Add", &[&a, &c], vec![]);
    let s = b.node("Add", &[&s, &i], vec![]);
    let s = b.silu(&s);
    let s = b.node("Identity", &[&s], vec![]);
    let s = b.node("Dropout", &[&s], vec![]);
    b.g.add_node(make_node(
        "Constant",
        "ia_const",
        &[],
        &["ia"],
        vec![make_attr_t(
            "value",
            tensor_from_f32(
                "ia",
                &ndarray::ArrayD::from_elem(ndarray::IxDyn(&[1, 4, 1, 1]), 0.1),
            ),
        )],
    ));
    b.channels.insert("ia".into(), 4);
    let s = b.node("Add", &[&s, "ia"], vec![]);
    let h = b.conv(&s, 6, 1, 1, 0, 1, true);
    let im = b.init("im", &[1, 6, 1, 1], 0.5, 1.5);
    let h = b.node("Mul", &[&h, &im], vec![]);
    b.model(&[&h]).to_bytes().unwrap()
}

fn seeds() -> Vec<Vec<u8>> {
    vec![
        all_patterns(),
        testgen::repconv_model(4, 1, 2, true, 1).to_bytes().unwrap(),
        testgen::conv_bn_act_model(3, 4, 3, 1, testgen::Act::Silu, 2)
            .to_bytes()
            .unwrap(),
    ]
}

fn exercise(bytes: &[u8]) {
    let Ok(model) = Model::from_bytes(bytes, "fuzz.onnx") else {
        return;
    };
    let _ = lint(&model);
    let mut m = model.clone();
    if fuse(&mut m, &FuseOptions::default()).is_ok() {
        // A fused model must still be a valid model with the same outputs.
        m.validate().expect("fuse produced an invalid graph");
        assert_eq!(m.graph().outputs(), model.graph().outputs());
        let _ = m.to_bytes();
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Shuffle(u64),
    DropInit(usize),
    Attr(usize, i64),
    Rewire(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<u64>().prop_map(Mutation::Shuffle),
        any::<usize>().prop_map(Mutation::DropInit),
        (any::<usize>(), -3i64..5).prop_map(|(i, v)| Mutation::Attr(i, v)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Rewire(a, b)),
    ]
}

fn apply(seed: &[u8], muts: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for m in muts {
        match *m {
            Mutation::Flip(i, b) if !bytes.is_empty() => {
                let n = bytes.len();
                bytes[i % n] ^= b;
            }
            Mutation::Truncate(i) if !bytes.is_empty() => {
                let n = bytes.len();
                bytes.truncate(i % n);
            }
            _ => {
                // Structural mutations work on the decoded proto (if it still decodes).
                let Ok(mut p) = tract_onnx::pb::ModelProto::decode(bytes.as_slice()) else {
                    continue;
                };
                let Some(g) = p.graph.as_mut() else { continue };
                match *m {
                    Mutation::Shuffle(s) => {
                        let n = g.node.len();
                        for k in 0..n {
                            let j = (s.wrapping_mul(6364136223846793005).wrapping_add(k as u64)
                                >> 7) as usize
                                % n;
                            g.node.swap(k, j);
                        }
                    }
                    Mutation::DropInit(i) if !g.initializer.is_empty() => {
                        let n = g.initializer.len();
                        g.initializer.remove(i % n);
                    }
                    Mutation::Attr(i, v) if !g.node.is_empty() => {
                        let n = g.node.len();
                        let node = &mut g.node[i % n];
                        if let Some(a) = node.attribute.first_mut() {
                            a.i = v;
                            a.ints.iter_mut().for_each(|x| *x = v);
                        }
                    }
                    Mutation::Rewire(a, b) if !g.node.is_empty() => {
                        let n = g.node.len();
                        let src = g.node[b % n].output.first().cloned().unwrap_or_default();
                        if let Some(inp) = g.node[a % n].input.first_mut() {
                            *inp = src;
                        }
                    }
                    _ => {}
                }
                bytes = p.encode_to_vec();
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn mutated_models_never_panic(which in 0usize..3, muts in prop::collection::vec(mutation(), 1..4)) {
        thread_local!(static SEEDS: Vec<Vec<u8>> = seeds());
        let bytes = SEEDS.with(|s| apply(&s[which], &muts));
        exercise(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn mutated_yolo_slices_never_panic(muts in prop::collection::vec(mutation(), 1..4)) {
        thread_local!(static SLICE: Vec<u8> = testgen::yolov7_tiny_slice(2, 3).to_bytes().unwrap());
        let bytes = SLICE.with(|s| apply(s, &muts));
        exercise(&bytes);
    }
}

#[test]
fn random_bytes_are_clean_errors() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    for len in [0usize, 1, 7, 100, 4096] {
        for _ in 0..50 {
            let b: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            if let Err(e) = Model::from_bytes(&b, "random.bin") {
                assert!(e.to_string().contains("random.bin"), "{e}");
            } else {
                exercise(&b);
            }
        }
    }
}

#[test]
fn shuffled_nodes_still_load_and_fuse() {
    // Node order is not part of the graph's meaning: shuffled seeds must load and fuse fully.
    for (k, seed) in seeds().iter().enumerate() {
        for s in 0..5u64 {
            let bytes = apply(seed, &[Mutation::Shuffle(s * 7919 + k as u64)]);
            let model = Model::from_bytes(&bytes, "shuffled.onnx").expect("shuffled model loads");
            let mut m = model.clone();
            let r = fuse(&mut m, &FuseOptions::default()).expect("shuffled model fuses");
            assert_eq!(
                r.count(crate::passes::PatternKind::ConvBn).found,
                r.count(crate::passes::PatternKind::ConvBn).fused
            );
            assert_eq!(
                crate::passes::testutil::count_ops(m.graph(), "BatchNormalization"),
                0,
                "{r}"
            );
        }
    }
}
