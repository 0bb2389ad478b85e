//! Letterbox against an independent float reference of OpenCV INTER_LINEAR, and its transform.

use half::f16;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use yolo_rt::letterbox::resize_linear;
use yolo_rt::{Error, Image, Letterbox, LetterboxConfig, PixelFormat};

/// Straightforward float reimplementation of cv::resize(INTER_LINEAR) for 8-bit 3-channel images:
/// half-pixel centres, border taps clamped, bilinear weights, round to nearest.
fn reference_resize(src: &Image, dw: usize, dh: usize) -> Vec<u8> {
    let (sw, sh) = (src.width, src.height);
    let tap = |d: usize, s: usize, dn: usize| -> (usize, usize, f64) {
        let scale = s as f64 / dn as f64;
        let f = (d as f64 + 0.5) * scale - 0.5;
        let mut i = f.floor();
        let mut frac = f - i;
        if i < 0.0 {
            i = 0.0;
            frac = 0.0;
        }
        if i >= (s - 1) as f64 {
            i = (s - 1) as f64;
            frac = 0.0;
        }
        let i = i as usize;
        (i, (i + 1).min(s - 1), frac)
    };
    let mut out = vec![0u8; dw * dh * 3];
    for y in 0..dh {
        let (y0, y1, fy) = tap(y, sh, dh);
        for x in 0..dw {
            let (x0, x1, fx) = tap(x, sw, dw);
            for c in 0..3 {
                let p = |xx: usize, yy: usize| src.data[(yy * sw + xx) * 3 + c] as f64;
                let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
                let bot = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
                let v = top * (1.0 - fy) + bot * fy;
                out[(y * dw + x) * 3 + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

fn random_image(rng: &mut ChaCha8Rng, w: usize, h: usize, format: PixelFormat) -> Image {
    // Smooth gradients plus noise: exercises interpolation, not just noise averaging.
    let mut data = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let g = ((x * (c + 1) * 7 + y * 5) % 256) as i32;
                let n: i32 = rng.random_range(-40..=40);
                data.push((g + n).clamp(0, 255) as u8);
            }
        }
    }
    Image::from_raw(data, w, h, format).unwrap()
}

#[test]
fn resize_matches_float_reference_within_one_level() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let cases = [
        (1920, 1080, 640, 360),
        (97, 61, 40, 25),
        (33, 17, 80, 41),
        (640, 480, 640, 480),
        (5, 3, 13, 11),
        (300, 200, 123, 77),
        (1, 1, 4, 4),
        (7, 1, 3, 1),
    ];
    for (sw, sh, dw, dh) in cases {
        let img = random_image(&mut rng, sw, sh, PixelFormat::Bgr);
        let ours = resize_linear(&img.view(), dw, dh).unwrap();
        let reference = reference_resize(&img, dw, dh);
        let max = ours
            .iter()
            .zip(&reference)
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .max()
            .unwrap();
        assert!(
            max <= 1,
            "{sw}x{sh} -> {dw}x{dh}: max difference {max} grey levels"
        );
        let exact =
            ours.iter().zip(&reference).filter(|(a, b)| a == b).count() as f64 / ours.len() as f64;
        assert!(
            exact > 0.95,
            "{sw}x{sh} -> {dw}x{dh}: only {exact:.3} exact"
        );
    }
}

#[test]
fn letterbox_f32_layout_padding_swap_and_values() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let img = random_image(&mut rng, 300, 200, PixelFormat::Bgr);
    let cfg = LetterboxConfig::square(160);
    let mut lb = Letterbox::new(cfg).unwrap();
    let t = lb.transform_for(300, 200).unwrap();
    // 300x200 -> scale 160/300 -> 160x107 (106.67 rounded), 53 rows of padding: 26 top, 27 bottom.
    assert_eq!(
        (t.resized_width, t.resized_height, t.pad_left, t.pad_top),
        (160, 107, 0, 26)
    );
    let mut out = vec![f32::NAN; 3 * 160 * 160];
    let t2 = lb.run_into(&img.view(), &mut out).unwrap();
    assert_eq!(t, t2);
    let resized = reference_resize(&img, 160, 107);
    let plane = 160 * 160;
    for c in 0..3 {
        for y in 0..160 {
            for x in 0..160 {
                let v = out[c * plane + y * 160 + x];
                let inside = (26..26 + 107).contains(&y);
                if inside {
                    // Output is RGB, source BGR: output channel c reads source channel 2 - c.
                    let r = resized[((y - 26) * 160 + x) * 3 + (2 - c)] as f32 / 255.0;
                    assert!(
                        (v - r).abs() <= 1.0 / 255.0 + 1e-6,
                        "c{c} y{y} x{x}: {v} vs {r}"
                    );
                } else {
                    assert!(
                        (v - 114.0 / 255.0).abs() < 1e-6,
                        "padding c{c} y{y} x{x} = {v}"
                    );
                }
            }
        }
    }
}

#[test]
fn letterbox_f16_mean_std_and_same_order() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let img = random_image(&mut rng, 90, 120, PixelFormat::Rgb);
    let cfg = LetterboxConfig {
        width: 64,
        height: 48,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        ..LetterboxConfig::default()
    };
    let mut lb = Letterbox::new(cfg.clone()).unwrap();
    let t = lb.transform_for(90, 120).unwrap();
    // Height-limited: 48/120 = 0.4 -> 36x48, padding 28 columns: 14 left, 14 right.
    assert_eq!(
        (t.resized_width, t.resized_height, t.pad_left, t.pad_top),
        (36, 48, 14, 0)
    );
    let mut o32 = vec![0f32; 3 * 64 * 48];
    let mut o16 = vec![f16::ZERO; 3 * 64 * 48];
    lb.run_into(&img.view(), &mut o32).unwrap();
    lb.run_into(&img.view(), &mut o16).unwrap();
    let resized = reference_resize(&img, 36, 48);
    for c in 0..3 {
        for y in 0..48 {
            for x in 0..64 {
                let i = c * 64 * 48 + y * 64 + x;
                let grey = if (14..50).contains(&x) {
                    resized[(y * 36 + x - 14) * 3 + c] as f32
                } else {
                    114.0
                };
                let want = (grey / 255.0 - cfg.mean[c]) / cfg.std[c];
                let tol = 1.0 / 255.0 / cfg.std[c] + 1e-5;
                assert!(
                    (o32[i] - want).abs() <= tol,
                    "f32 c{c} y{y} x{x}: {} vs {want}",
                    o32[i]
                );
                assert!(
                    (o16[i].to_f32() - o32[i]).abs() <= 0.004 * o32[i].abs().max(1.0),
                    "f16 {} vs f32 {}",
                    o16[i],
                    o32[i]
                );
            }
        }
    }
}

#[test]
fn batch_equals_single_and_checks_buffer() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let a = random_image(&mut rng, 50, 70, PixelFormat::Bgr);
    let b = random_image(&mut rng, 120, 40, PixelFormat::Rgb);
    let mut lb = Letterbox::new(LetterboxConfig::square(64)).unwrap();
    let per = 3 * 64 * 64;
    let mut batch = vec![0f32; 2 * per];
    let ts = lb
        .run_batch_into(&[a.view(), b.view()], &mut batch)
        .unwrap();
    let mut single = vec![0f32; per];
    for (i, im) in [&a, &b].into_iter().enumerate() {
        let t = lb.run_into(&im.view(), &mut single).unwrap();
        assert_eq!(t, ts[i]);
        assert_eq!(&batch[i * per..(i + 1) * per], &single[..]);
    }
    let err = lb
        .run_into(&a.view(), &mut vec![0f32; per - 1])
        .unwrap_err();
    assert!(
        matches!(err, Error::BufferSize { expected, actual, .. } if expected == per && actual == per - 1),
        "{err}"
    );
}

#[test]
fn rect_mode_pads_to_stride_only() {
    let cfg = LetterboxConfig {
        rect_stride: Some(32),
        ..LetterboxConfig::square(640)
    };
    let t = cfg.transform_for(1920, 1080).unwrap();
    // 640x360, 280 rows of padding mod 32 = 24 -> 640x384, 12 on top.
    assert_eq!(
        (t.out_width, t.out_height, t.pad_top, t.pad_left),
        (640, 384, 12, 0)
    );
    let no_up = LetterboxConfig {
        scale_up: false,
        ..LetterboxConfig::square(640)
    };
    let t = no_up.transform_for(320, 200).unwrap();
    assert_eq!(
        (t.resized_width, t.resized_height, t.pad_left, t.pad_top),
        (320, 200, 160, 220)
    );
}

#[test]
fn transform_maps_boxes_back_and_forth() {
    let t = LetterboxConfig::square(640)
        .transform_for(1920, 1080)
        .unwrap();
    assert_eq!((t.pad_top, t.resized_height), (140, 360));
    // An object at (300, 150)-(900, 750) in the frame sits at (100, 190)-(300, 390) in the network input.
    let net = t.box_to_network([300.0, 150.0, 900.0, 750.0]);
    for (a, b) in net.iter().zip([100.0, 190.0, 300.0, 390.0]) {
        assert!((a - b).abs() < 1e-3, "{net:?}");
    }
    let back = t.box_to_source(net);
    for (a, b) in back.iter().zip([300.0, 150.0, 900.0, 750.0]) {
        assert!((a - b).abs() < 1e-3, "{back:?}");
    }
    // Boxes reaching into the padding are clipped to the image.
    assert_eq!(
        t.box_to_source([-10.0, 100.0, 700.0, 600.0]),
        [0.0, 0.0, 1920.0, 1080.0]
    );
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for _ in 0..1000 {
        let (w, h) = (rng.random_range(1..3000), rng.random_range(1..3000));
        let t = LetterboxConfig::square(640).transform_for(w, h).unwrap();
        let (x, y) = (
            rng.random_range(0.0..w as f32),
            rng.random_range(0.0..h as f32),
        );
        let (nx, ny) = t.to_network(x, y);
        let (bx, by) = t.to_source(nx, ny);
        assert!((bx - x).abs() <= 1e-3 * w as f32 && (by - y).abs() <= 1e-3 * h as f32);
        assert!(
            nx >= t.pad_left as f32 - 1e-3 && nx <= (t.pad_left + t.resized_width) as f32 + 1e-2
        );
    }
}

#[test]
fn empty_and_inconsistent_images_are_errors() {
    let mut lb = Letterbox::new(LetterboxConfig::square(32)).unwrap();
    let empty = Image::from_raw(vec![], 0, 10, PixelFormat::Bgr).unwrap();
    let err = lb
        .run_into(&empty.view(), &mut vec![0f32; 3 * 32 * 32])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::EmptyImage {
                width: 0,
                height: 10,
                ..
            }
        ),
        "{err}"
    );
    assert!(yolo_rt::ImageView::new(&[0u8; 10], 2, 2, PixelFormat::Bgr).is_err());
    assert!(Image::from_raw(vec![0; 5], 1, 2, PixelFormat::Rgb).is_err());
    assert!(Letterbox::new(LetterboxConfig {
        std: [1.0, 0.0, 1.0],
        ..Default::default()
    })
    .is_err());
    assert!(Letterbox::new(LetterboxConfig::square(0)).is_err());
}

/// Cross-check against real OpenCV: resize + copyMakeBorder + blobFromImage. Run with
/// `cargo test -p yolo-rt --test letterbox -- --ignored` where python3 with cv2 and numpy is installed.
#[test]
#[ignore = "needs python cv2"]
fn matches_opencv_blob_from_image() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    for (w, h, size) in [
        (1920usize, 1080usize, 640usize),
        (1280, 720, 640),
        (1000, 750, 640),
        (333, 517, 320),
        (100, 60, 256),
    ] {
        let img = random_image(&mut rng, w, h, PixelFormat::Bgr);
        let raw = dir.path().join("img.bin");
        std::fs::write(&raw, &img.data).unwrap();
        let out = dir.path().join("blob.bin");
        let script = format!(
            r#"
import cv2, numpy as np
cv2.setNumThreads(1)
img = np.fromfile(r"{raw}", dtype=np.uint8).reshape({h}, {w}, 3)
r = min({size} / {h}, {size} / {w})
nw, nh = int(round({w} * r)), int(round({h} * r))
res = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
dw, dh = {size} - nw, {size} - nh
top, left = dh // 2, dw // 2
pad = cv2.copyMakeBorder(res, top, dh - top, left, dw - left, cv2.BORDER_CONSTANT, value=(114, 114, 114))
blob = cv2.dnn.blobFromImage(pad, 1 / 255.0, swapRB=True)
blob.astype(np.float32).tofile(r"{out}")
"#,
            raw = raw.display(),
            out = out.display()
        );
        let status = std::process::Command::new("python3")
            .arg("-c")
            .arg(&script)
            .status()
            .expect("python3 runs");
        assert!(
            status.success(),
            "python3 with cv2 failed: install opencv-python-headless numpy"
        );
        let bytes = std::fs::read(&out).unwrap();
        let cv: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let mut ours = vec![0f32; 3 * size * size];
        Letterbox::new(LetterboxConfig::square(size))
            .unwrap()
            .run_into(&img.view(), &mut ours)
            .unwrap();
        assert_eq!(cv.len(), ours.len());
        let max = cv
            .iter()
            .zip(&ours)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let exact = cv
            .iter()
            .zip(&ours)
            .filter(|(a, b)| (*a - *b).abs() < 1e-6)
            .count() as f64
            / cv.len() as f64;
        eprintln!(
            "{w}x{h} -> {size}: max |diff| = {:.2} grey levels, {:.4} exact",
            max * 255.0,
            exact
        );
        assert!(
            max <= 1.0 / 255.0 + 1e-6,
            "{w}x{h}: differs from OpenCV by {} grey levels",
            max * 255.0
        );
    }
}

/// The benchmark's general (non-integer) scales, down and up, through the public letterbox:
/// every value within one grey level of the float reference and nearly all identical.
#[test]
fn letterbox_matches_reference_at_general_scales() {
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    for (w, h, size) in [
        (1000usize, 750usize, 640usize),
        (333, 517, 320),
        (320, 240, 640),
        (641, 479, 640),
        (3, 200, 64),
    ] {
        let img = random_image(&mut rng, w, h, PixelFormat::Bgr);
        let mut lb = Letterbox::new(LetterboxConfig::square(size)).unwrap();
        let mut out = vec![f32::NAN; 3 * size * size];
        let t = lb.run_into(&img.view(), &mut out).unwrap();
        let (rw, rh) = (t.resized_width, t.resized_height);
        let reference = reference_resize(&img, rw, rh);
        let plane = size * size;
        let (mut worst, mut same) = (0i32, 0usize);
        for c in 0..3 {
            for y in 0..rh {
                for x in 0..rw {
                    let v = out[c * plane + (y + t.pad_top) * size + x + t.pad_left];
                    let grey = (v * 255.0).round() as i32;
                    assert!(
                        (v * 255.0 - grey as f32).abs() < 1e-3,
                        "not a grey level: {v}"
                    );
                    let r = reference[(y * rw + x) * 3 + (2 - c)] as i32;
                    worst = worst.max((grey - r).abs());
                    same += usize::from(grey == r);
                }
            }
        }
        let frac = same as f64 / (3 * rw * rh) as f64;
        assert!(
            worst <= 1 && frac > 0.95,
            "{w}x{h} -> {size}: max diff {worst}, {frac:.4} identical"
        );
    }
}

/// One `Letterbox` reused across image sizes (cached tap tables, scratch rows and the row cache
/// of the horizontal-first pass) gives exactly what a fresh one gives.
#[test]
fn reused_letterbox_equals_fresh_one_across_sizes() {
    let mut rng = ChaCha8Rng::seed_from_u64(41);
    let images = [
        random_image(&mut rng, 300, 200, PixelFormat::Bgr),
        random_image(&mut rng, 40, 30, PixelFormat::Rgb),
        random_image(&mut rng, 41, 30, PixelFormat::Bgr),
        random_image(&mut rng, 300, 200, PixelFormat::Bgr),
    ];
    let cfg = LetterboxConfig::square(128);
    let mut reused = Letterbox::new(cfg.clone()).unwrap();
    for (i, img) in images.iter().enumerate() {
        let mut a = vec![0f32; 3 * 128 * 128];
        let mut b = vec![0f32; 3 * 128 * 128];
        reused.run_into(&img.view(), &mut a).unwrap();
        Letterbox::new(cfg.clone())
            .unwrap()
            .run_into(&img.view(), &mut b)
            .unwrap();
        assert_eq!(a, b, "image {i}");
    }
}
