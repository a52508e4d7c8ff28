//! A TrueType font read from disk: glyph ids, advance widths and the metrics a PDF font
//! descriptor needs. The file is read once, when the renderer is built.

use std::path::{Path, PathBuf};

use ttf_parser::Face;

use super::PdfError;

/// A parsed TrueType font file.
pub(crate) struct Font {
    path: PathBuf,
    data: Vec<u8>,
    units_per_em: f32,
    postscript_name: String,
}

/// Metrics for the font descriptor, in PDF glyph space (1000 units per em).
pub(crate) struct Metrics {
    pub(crate) ascent: f32,
    pub(crate) descent: f32,
    pub(crate) cap_height: f32,
    pub(crate) bbox: [f32; 4],
}

impl Font {
    /// Reads and checks the font at `path`.
    pub(crate) fn load(path: &Path) -> Result<Self, PdfError> {
        let data =
            std::fs::read(path).map_err(|source| PdfError::FontMissing { path: path.to_owned(), source })?;
        let face = Face::parse(&data, 0)
            .map_err(|e| PdfError::FontInvalid { path: path.to_owned(), reason: e.to_string() })?;
        // The name table may hold the PostScript name several times (Mac and Windows
        // records); take the first that decodes and is a valid PDF name.
        let postscript_name = face
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            .filter_map(|n| n.to_string())
            .find(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .unwrap_or_else(|| "Font".to_owned());
        let units_per_em = f32::from(face.units_per_em());
        Ok(Self { path: path.to_owned(), data, units_per_em, postscript_name })
    }

    fn face(&self) -> Face<'_> {
        // Parsing succeeded in `load`; the bytes have not changed since.
        Face::parse(&self.data, 0).expect("the font parsed when it was loaded")
    }

    /// The glyph for `c`, or 0 (the font's "missing glyph") when it has none.
    pub(crate) fn glyph(&self, c: char) -> u16 {
        self.face().glyph_index(c).map_or(0, |g| g.0)
    }

    /// A glyph's advance width in thousandths of the font size.
    pub(crate) fn advance(&self, glyph: u16) -> f32 {
        let units = self.face().glyph_hor_advance(ttf_parser::GlyphId(glyph)).unwrap_or(0);
        f32::from(units) * 1000.0 / self.units_per_em
    }

    /// How wide `text` is at `size` points.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        let face = self.face();
        let units: u32 = text
            .chars()
            .map(|c| {
                let glyph = face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
                u32::from(face.glyph_hor_advance(glyph).unwrap_or(0))
            })
            .sum();
        units as f32 * size / self.units_per_em
    }

    /// Descriptor metrics.
    pub(crate) fn metrics(&self) -> Metrics {
        let face = self.face();
        let scale = |v: i16| f32::from(v) * 1000.0 / self.units_per_em;
        let bbox = face.global_bounding_box();
        Metrics {
            ascent: scale(face.ascender()),
            descent: scale(face.descender()),
            cap_height: scale(face.capital_height().unwrap_or(face.ascender())),
            bbox: [scale(bbox.x_min), scale(bbox.y_min), scale(bbox.x_max), scale(bbox.y_max)],
        }
    }

    /// The raw font file.
    pub(crate) fn data(&self) -> &[u8] {
        &self.data
    }

    /// The PostScript name, as the PDF names the font.
    pub(crate) fn postscript_name(&self) -> &str {
        &self.postscript_name
    }

    /// Where the font was read from, for error messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}
