//! Drawing detections for people to look at: box outlines and a label (class and score) in a small
//! built-in 5×7 bitmap font.

use crate::decode::Detection;
use crate::image::{Image, PixelFormat};

/// A distinct colour per class (RGB): 20 colours (the palette Ultralytics draws with), repeating after class 19.
pub fn class_colour(class_id: u32) -> [u8; 3] {
    const PALETTE: [[u8; 3]; 20] = [
        [0xFF, 0x38, 0x38],
        [0xFF, 0x9D, 0x97],
        [0xFF, 0x70, 0x1F],
        [0xFF, 0xB2, 0x1D],
        [0xCF, 0xD2, 0x31],
        [0x48, 0xF9, 0x0A],
        [0x92, 0xCC, 0x17],
        [0x3D, 0xDB, 0x86],
        [0x1A, 0x93, 0x34],
        [0x00, 0xD4, 0xBB],
        [0x2C, 0x99, 0xA8],
        [0x00, 0xC2, 0xFF],
        [0x34, 0x45, 0x93],
        [0x64, 0x73, 0xFF],
        [0x00, 0x18, 0xEC],
        [0x84, 0x38, 0xFF],
        [0x52, 0x00, 0x85],
        [0xCB, 0x38, 0xFF],
        [0xFF, 0x95, 0xC8],
        [0xFF, 0x37, 0xC7],
    ];
    PALETTE[class_id as usize % PALETTE.len()]
}

/// Black or white, whichever reads better on `background` (by its luma).
pub fn text_colour(background: [u8; 3]) -> [u8; 3] {
    let [r, g, b] = background.map(f32::from);
    if 0.299 * r + 0.587 * g + 0.114 * b > 150.0 {
        [0, 0, 0]
    } else {
        [255, 255, 255]
    }
}

/// 5×7 glyph for `c` (rows top to bottom, bit 4 = leftmost column); lower case is drawn as upper case.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        '/' => [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        ' ' => [0; 7],
        _ => [0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F],
    }
}

fn put(img: &mut Image, x: i64, y: i64, rgb: [u8; 3]) {
    if x < 0 || y < 0 || x >= img.width as i64 || y >= img.height as i64 {
        return;
    }
    let px = match img.format {
        PixelFormat::Rgb => rgb,
        PixelFormat::Bgr => [rgb[2], rgb[1], rgb[0]],
    };
    let o = (y as usize * img.width + x as usize) * 3;
    img.data[o..o + 3].copy_from_slice(&px);
}

fn fill_rect(img: &mut Image, x0: i64, y0: i64, x1: i64, y1: i64, rgb: [u8; 3]) {
    for y in y0.max(0)..y1.min(img.height as i64) {
        for x in x0.max(0)..x1.min(img.width as i64) {
            put(img, x, y, rgb);
        }
    }
}

/// Draws text with its top-left corner at (x, y), `scale` pixels per font dot. Off-image parts are
/// clipped. Returns the text width in pixels.
pub fn draw_text(img: &mut Image, x: i64, y: i64, text: &str, scale: i64, rgb: [u8; 3]) -> i64 {
    let mut cx = x;
    for ch in text.chars() {
        let g = glyph(ch);
        for (r, bits) in g.iter().enumerate() {
            for c in 0..5 {
                if bits & (0x10 >> c) != 0 {
                    fill_rect(
                        img,
                        cx + c * scale,
                        y + r as i64 * scale,
                        cx + (c + 1) * scale,
                        y + (r as i64 + 1) * scale,
                        rgb,
                    );
                }
            }
        }
        cx += 6 * scale;
    }
    cx - x
}

/// Draws each detection's box (2 px outline in its class colour) and a label `name score` above
/// it (inside the image). `names` gives class names; missing ones are shown as the class id.
pub fn annotate(img: &mut Image, detections: &[Detection], names: &[String]) {
    let t = (img.width.max(img.height) as i64 / 400).clamp(1, 4);
    for d in detections {
        let rgb = class_colour(d.class_id);
        let [x1, y1, x2, y2] = d.bbox.map(|v| v.round() as i64);
        fill_rect(img, x1, y1, x2, y1 + 2 * t, rgb);
        fill_rect(img, x1, y2 - 2 * t, x2, y2, rgb);
        fill_rect(img, x1, y1, x1 + 2 * t, y2, rgb);
        fill_rect(img, x2 - 2 * t, y1, x2, y2, rgb);
        let name = names
            .get(d.class_id as usize)
            .cloned()
            .unwrap_or_else(|| d.class_id.to_string());
        let label = format!("{name} {:.2}", d.score);
        let (lw, lh) = (label.chars().count() as i64 * 6 * t + 2 * t, 9 * t);
        // Above the box, or inside it at the top edge; shifted left to stay inside the image on the right.
        let ly = if y1 - lh >= 0 { y1 - lh } else { y1.max(0) };
        let lx = x1.min(img.width as i64 - lw).max(0);
        fill_rect(img, lx, ly, lx + lw, ly + lh, rgb);
        draw_text(img, lx + t, ly + t, &label, t, text_colour(rgb));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(img: &Image, x: usize, y: usize) -> [u8; 3] {
        let o = (y * img.width + x) * 3;
        [img.data[o], img.data[o + 1], img.data[o + 2]]
    }

    #[test]
    fn twenty_distinct_class_colours_and_readable_text() {
        let colours: std::collections::HashSet<[u8; 3]> = (0..20).map(class_colour).collect();
        assert_eq!(colours.len(), 20);
        assert_eq!(class_colour(20), class_colour(0));
        // Dark text on the light yellow, white on the dark purple.
        assert_eq!(text_colour(class_colour(3)), [0, 0, 0]);
        assert_eq!(text_colour(class_colour(16)), [255, 255, 255]);
    }

    #[test]
    fn labels_stay_inside_the_image_at_the_top_and_right_edges() {
        let mut img = Image::filled(120, 60, PixelFormat::Rgb, [0, 0, 0]);
        // A box touching the top edge and the right edge, with a long label.
        let d = Detection {
            bbox: [100.0, 0.0, 119.0, 40.0],
            score: 0.9,
            class_id: 3,
        };
        let names: Vec<String> = ["a", "b", "c", "a-long-class-name"]
            .map(String::from)
            .to_vec();
        annotate(&mut img, &[d], &names);
        let label_w = ("a-long-class-name 0.90".len() * 6 + 2) as i64;
        let lx = (120 - label_w).max(0) as usize;
        // The label's background starts at lx (shifted left) on row 0, and its text is dark on the yellow.
        assert_eq!(pixel(&img, lx, 0), class_colour(3));
        assert_eq!(pixel(&img, 119, 0), class_colour(3));
        let dark = (0..9)
            .flat_map(|y| (lx..120).map(move |x| (x, y)))
            .filter(|&(x, y)| pixel(&img, x, y) == [0, 0, 0])
            .count();
        assert!(dark > 20, "label text drawn in black: {dark} pixels");
    }
}
