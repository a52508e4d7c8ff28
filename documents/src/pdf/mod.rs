//! PDF invoices for people: every mention Romanian and EU law want on an invoice, in an
//! embedded TrueType font.
//!
//! The font is read from disk when the renderer is built (DejaVu Sans by default, from
//! Debian's `fonts-dejavu-core`), so diacritics such as ș ț ă î â are drawn and can be
//! copied back out; a missing font is an error naming its path, never a silent fallback to
//! a font without those letters. Each PDF embeds a subset holding just the glyphs it uses.
//!
//! Layout: `header` (title, number, dates, seller and buyer), `items` (the lines table),
//! `summary` (VAT per rate, totals, legal mentions, payment); `canvas` places text on pages
//! and `writer` turns them into PDF objects. Reports of tables (the cost report) are `table`.

mod canvas;
mod font;
mod header;
mod items;
mod summary;
mod table;
mod writer;

pub use table::{ReportTable, TableReport};

use std::path::{Path, PathBuf};

use berth_domain::billing::{DocumentKind, IssuedDocument};

use self::canvas::{Canvas, Face, MARGIN, PAGE_HEIGHT, PAGE_WIDTH};
use self::font::Font;

/// Where Debian's `fonts-dejavu-core` puts the regular face.
pub const DEJAVU_SANS: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// Where Debian's `fonts-dejavu-core` puts the bold face.
pub const DEJAVU_SANS_BOLD: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The font file could not be read.
    #[error(
        "cannot read the font {path}: {source} (install fonts-dejavu-core, or give another TrueType font)"
    )]
    FontMissing {
        /// The path tried.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The file is not a usable TrueType font.
    #[error("the font {path} is not a usable TrueType font: {reason}")]
    FontInvalid {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Renders issued documents as PDF with the fonts it was built with.
pub struct PdfRenderer {
    regular: Font,
    bold: Font,
}

impl PdfRenderer {
    /// A renderer with DejaVu Sans ([`DEJAVU_SANS`], [`DEJAVU_SANS_BOLD`]).
    pub fn with_dejavu() -> Result<Self, PdfError> {
        Self::from_font_files(Path::new(DEJAVU_SANS), Path::new(DEJAVU_SANS_BOLD))
    }

    /// A renderer with the TrueType fonts at `regular` and `bold`.
    pub fn from_font_files(regular: &Path, bold: &Path) -> Result<Self, PdfError> {
        Ok(Self { regular: Font::load(regular)?, bold: Font::load(bold)? })
    }

    /// The document as a PDF file.
    pub fn render(&self, document: &IssuedDocument) -> Result<Vec<u8>, PdfError> {
        let mut canvas = Canvas::new(&self.regular, &self.bold);
        header::draw(&mut canvas, document);
        items::draw(&mut canvas, document);
        summary::draw(&mut canvas, document);
        footer(&mut canvas, document);
        let title = format!("{} {}", title(document.kind()).0, document.number());
        writer::write(&canvas.pages, &self.regular, &self.bold, &title)
    }
}

/// The document's title, Romanian and English.
pub(crate) fn title(kind: DocumentKind) -> (&'static str, &'static str) {
    match kind {
        DocumentKind::Invoice => ("Factură", "Invoice"),
        DocumentKind::CreditNote => ("Notă de credit", "Credit note"),
        DocumentKind::Proforma => ("Factură proformă", "Proforma invoice"),
    }
}

/// The number and page count at the foot of every page.
fn footer(canvas: &mut Canvas<'_>, document: &IssuedDocument) {
    let count = canvas.pages.len();
    let pages = std::mem::take(&mut canvas.pages);
    for (index, page) in pages.into_iter().enumerate() {
        canvas.pages.push(page);
        let y = PAGE_HEIGHT - 30.0;
        canvas.rule(MARGIN, PAGE_WIDTH - MARGIN, y - 10.0, 0.5);
        let left = format!("{} {}", title(document.kind()).0, document.number());
        canvas.text(Face::Regular, 7.5, MARGIN, y, &left);
        let right = format!("Pagina {} din {count} / Page {} of {count}", index + 1, index + 1);
        canvas.text_right(Face::Regular, 7.5, PAGE_WIDTH - MARGIN, y, &right);
    }
}
