//! Frames: borrowed 8-bit 3-channel views and owned images, loading from files.

use std::path::Path;

use crate::error::{Error, Result};

/// File extensions of the image formats [`Image::open`] reads (lowercase), for directory scans.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "bmp", "webp", "tif", "tiff"];

/// Channel order of interleaved 8-bit pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// Blue, green, red (OpenCV's and most cameras' order).
    Bgr,
    /// Red, green, blue (image files' order).
    Rgb,
}

impl PixelFormat {
    /// The other order.
    pub fn swapped(self) -> Self {
        match self {
            PixelFormat::Bgr => PixelFormat::Rgb,
            PixelFormat::Rgb => PixelFormat::Bgr,
        }
    }
}

/// A borrowed interleaved 3-channel 8-bit image (HWC), with an optional row pitch.
#[derive(Debug, Clone, Copy)]
pub struct ImageView<'a> {
    data: &'a [u8],
    width: usize,
    height: usize,
    stride: usize,
    format: PixelFormat,
}

impl<'a> ImageView<'a> {
    /// A tightly packed view (`stride = 3 * width`).
    pub fn new(data: &'a [u8], width: usize, height: usize, format: PixelFormat) -> Result<Self> {
        Self::with_stride(data, width, height, width * 3, format)
    }

    /// A view whose rows start `stride` bytes apart (`stride >= 3 * width`), e.g. a camera buffer.
    pub fn with_stride(
        data: &'a [u8],
        width: usize,
        height: usize,
        stride: usize,
        format: PixelFormat,
    ) -> Result<Self> {
        if stride < width * 3 {
            return Err(Error::InvalidImage(format!(
                "row stride {stride} is smaller than 3 * width = {}",
                width * 3
            )));
        }
        let needed = if height == 0 {
            0
        } else {
            (height - 1) * stride + width * 3
        };
        if data.len() < needed {
            return Err(Error::InvalidImage(format!(
                "{width}x{height} image with stride {stride} needs {needed} bytes, buffer has {}",
                data.len()
            )));
        }
        Ok(Self {
            data,
            width,
            height,
            stride,
            format,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Bytes between row starts.
    pub fn stride(&self) -> usize {
        self.stride
    }
    /// Channel order.
    pub fn format(&self) -> PixelFormat {
        self.format
    }
    /// The pixel bytes.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
    /// Row `y` (`3 * width` bytes). Panics if `y >= height` (internal use checks bounds first).
    pub fn row(&self, y: usize) -> &'a [u8] {
        &self.data[y * self.stride..y * self.stride + self.width * 3]
    }
    /// The three channel values of pixel (x, y) in this view's order.
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let r = self.row(y);
        [r[3 * x], r[3 * x + 1], r[3 * x + 2]]
    }
}

/// An owned, tightly packed interleaved 3-channel 8-bit image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Pixel bytes, `3 * width * height` of them.
    pub data: Vec<u8>,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Channel order.
    pub format: PixelFormat,
}

impl Image {
    /// An image filled with one colour (given in `format` order).
    pub fn filled(width: usize, height: usize, format: PixelFormat, value: [u8; 3]) -> Self {
        let mut data = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            data.extend_from_slice(&value);
        }
        Self {
            data,
            width,
            height,
            format,
        }
    }

    /// Wraps packed pixel bytes, checking the length.
    pub fn from_raw(
        data: Vec<u8>,
        width: usize,
        height: usize,
        format: PixelFormat,
    ) -> Result<Self> {
        if data.len() != width * height * 3 {
            return Err(Error::InvalidImage(format!(
                "{width}x{height} image needs {} bytes, got {}",
                width * height * 3,
                data.len()
            )));
        }
        Ok(Self {
            data,
            width,
            height,
            format,
        })
    }

    /// Reads a PNG, JPEG, BMP, WebP or TIFF file as RGB. Corrupt and zero-sized files are errors naming the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::decode(&bytes, &path.display().to_string()).map_err(|e| match e {
            Error::Image { message, .. } => Error::Image {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// Decodes an encoded PNG, JPEG, BMP, WebP or TIFF image held in memory (the format is read from the bytes);
    /// `what` names it in errors.
    pub fn decode(bytes: &[u8], what: &str) -> Result<Self> {
        let img_err = |message: String| Error::Image {
            path: what.into(),
            message,
        };
        let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| img_err(e.to_string()))?;
        if reader.format().is_none() {
            return Err(img_err("unrecognised file format".into()));
        }
        // Reading the header first catches zero-sized images before any allocation.
        let decoded = reader.decode().map_err(|e| img_err(e.to_string()))?;
        let rgb = decoded.into_rgb8();
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        if w == 0 || h == 0 {
            return Err(Error::EmptyImage {
                what: what.into(),
                width: w,
                height: h,
            });
        }
        Ok(Self {
            data: rgb.into_raw(),
            width: w,
            height: h,
            format: PixelFormat::Rgb,
        })
    }

    /// Writes the image as PNG/JPEG/BMP/WebP (lossless)/TIFF (chosen by the extension).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let rgb = self.to_format(PixelFormat::Rgb);
        let buf = image::RgbImage::from_raw(self.width as u32, self.height as u32, rgb.data)
            .ok_or_else(|| Error::InvalidImage("pixel buffer does not match its size".into()))?;
        buf.save(path).map_err(|e| Error::Image {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Encodes the image as PNG.
    pub fn encode_png(&self) -> Result<Vec<u8>> {
        let rgb = self.to_format(PixelFormat::Rgb);
        let mut out = Vec::new();
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut out),
            &rgb.data,
            self.width as u32,
            self.height as u32,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| Error::InvalidImage(format!("PNG encoding failed: {e}")))?;
        Ok(out)
    }

    /// A copy in the given channel order.
    pub fn to_format(&self, format: PixelFormat) -> Image {
        let mut out = self.clone();
        if format != self.format {
            for px in out.data.chunks_exact_mut(3) {
                px.swap(0, 2);
            }
            out.format = format;
        }
        out
    }

    /// Borrowed view.
    pub fn view(&self) -> ImageView<'_> {
        ImageView {
            data: &self.data,
            width: self.width,
            height: self.height,
            stride: self.width * 3,
            format: self.format,
        }
    }
}
