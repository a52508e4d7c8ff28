//! From laid-out pages to PDF bytes, with each font embedded as a subset.
//!
//! Text is written with a Type 0 (composite) font over a CIDFontType2 (TrueType) descendant,
//! two-byte glyph ids (`Identity-H`) and a `ToUnicode` map from glyph back to character. The
//! embedded font program holds only the glyphs the document uses; the `ToUnicode` map is what
//! lets a reader (or `pdftotext`) copy "ș" and "ț" out as the characters they are.

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use subsetter::GlyphRemapper;

use super::canvas::{Face, Op, PAGE_HEIGHT, PAGE_WIDTH};
use super::font::Font;
use super::PdfError;

/// A font as used in one document: the glyphs it needs and their new ids in the subset.
struct UsedFont<'f> {
    font: &'f Font,
    resource: Name<'static>,
    remapper: GlyphRemapper,
    /// New glyph id → the character it draws, for `ToUnicode`.
    chars: BTreeMap<u16, char>,
}

impl<'f> UsedFont<'f> {
    fn new(font: &'f Font, resource: Name<'static>) -> Self {
        let mut remapper = GlyphRemapper::new();
        remapper.remap(0);
        Self { font, resource, remapper, chars: BTreeMap::new() }
    }

    /// The subset glyph ids of `text`, as the two-byte string `Identity-H` reads.
    fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let new = self.remapper.remap(self.font.glyph(c));
            self.chars.entry(new).or_insert(c);
            bytes.extend_from_slice(&new.to_be_bytes());
        }
        bytes
    }
}

/// Writes the pages out. `title` goes into the document information.
pub(crate) fn write(
    pages: &[Vec<Op>],
    regular: &Font,
    bold: &Font,
    title: &str,
) -> Result<Vec<u8>, PdfError> {
    let mut fonts = [UsedFont::new(regular, Name(b"F1")), UsedFont::new(bold, Name(b"F2"))];
    let contents: Vec<Vec<u8>> = pages.iter().map(|ops| content(ops, &mut fonts)).collect();

    let mut next = 1;
    let mut alloc = || {
        next += 1;
        Ref::new(next - 1)
    };
    let catalog = alloc();
    let tree = alloc();
    let info = alloc();
    let font_refs: Vec<[Ref; 5]> =
        fonts.iter().map(|_| [alloc(), alloc(), alloc(), alloc(), alloc()]).collect();
    let page_refs: Vec<(Ref, Ref)> = contents.iter().map(|_| (alloc(), alloc())).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_refs.iter().map(|(page, _)| *page)).count(page_refs.len() as i32);
    pdf.document_info(info).title(TextStr(title)).producer(TextStr("Berth"));
    for ((page, content_ref), content) in page_refs.iter().zip(&contents) {
        let mut p = pdf.page(*page);
        p.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT)).parent(tree).contents(*content_ref);
        let mut resources = p.resources();
        let mut font_dict = resources.fonts();
        for (used, refs) in fonts.iter().zip(&font_refs) {
            font_dict.pair(used.resource, refs[0]);
        }
        font_dict.finish();
        resources.finish();
        p.finish();
        pdf.stream(*content_ref, content);
    }
    for (tag, (used, refs)) in ["BRTHAA", "BRTHAB"].iter().zip(fonts.iter().zip(&font_refs)) {
        embed(&mut pdf, used, *refs, tag)?;
    }
    Ok(pdf.finish())
}

/// One page's content stream; PDF's origin is bottom-left, the canvas measures from the top.
fn content(ops: &[Op], fonts: &mut [UsedFont<'_>; 2]) -> Vec<u8> {
    let mut content = Content::new();
    for op in ops {
        match op {
            Op::Text { face, size, x, y, text } => {
                let used = &mut fonts[usize::from(*face == Face::Bold)];
                let encoded = used.encode(text);
                content.begin_text();
                content.set_font(used.resource, *size);
                content.set_text_matrix([1.0, 0.0, 0.0, 1.0, *x, PAGE_HEIGHT - *y]);
                content.show(Str(&encoded));
                content.end_text();
            }
            Op::Rule { x1, x2, y, width } => {
                content.set_line_width(*width);
                content.move_to(*x1, PAGE_HEIGHT - *y);
                content.line_to(*x2, PAGE_HEIGHT - *y);
                content.stroke();
            }
            Op::Shade { x, y, width, height } => {
                content.save_state();
                content.set_fill_gray(0.92);
                content.rect(*x, PAGE_HEIGHT - *y - *height, *width, *height);
                content.fill_nonzero();
                content.restore_state();
            }
        }
    }
    content.finish().to_vec()
}

/// The Type 0 font, its CID font, descriptor, subset font program and `ToUnicode` map.
/// Streams stay uncompressed: a subset font is a few kilobytes, and it keeps the crate free
/// of a compressor.
fn embed(pdf: &mut Pdf, used: &UsedFont<'_>, refs: [Ref; 5], tag: &str) -> Result<(), PdfError> {
    let [type0, cid, descriptor, program, cmap_ref] = refs;
    let subset =
        subsetter::subset(used.font.data(), 0, &used.remapper).map_err(|e| PdfError::FontInvalid {
            path: used.font.path().to_owned(),
            reason: format!("cannot be subset: {e:?}"),
        })?;
    let base_name = format!("{tag}+{}", used.font.postscript_name());
    let system_info = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };

    pdf.type0_font(type0)
        .base_font(Name(base_name.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap_ref);

    let mut cid_font = pdf.cid_font(cid);
    cid_font
        .subtype(CidFontType::Type2)
        .base_font(Name(base_name.as_bytes()))
        .system_info(system_info)
        .font_descriptor(descriptor)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    let widths: Vec<f32> = used.remapper.remapped_gids().map(|old| used.font.advance(old)).collect();
    cid_font.widths().consecutive(0, widths);
    cid_font.finish();

    let metrics = used.font.metrics();
    let [x0, y0, x1, y1] = metrics.bbox;
    pdf.font_descriptor(descriptor)
        .name(Name(base_name.as_bytes()))
        .flags(FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(x0, y0, x1, y1))
        .italic_angle(0.0)
        .ascent(metrics.ascent)
        .descent(metrics.descent)
        .cap_height(metrics.cap_height)
        .stem_v(80.0)
        .font_file2(program);

    pdf.stream(program, &subset).pair(Name(b"Length1"), subset.len() as i32);

    let mut cmap = UnicodeCmap::new(Name(b"Berth-UCS"), system_info);
    for (glyph, c) in &used.chars {
        cmap.pair(*glyph, *c);
    }
    pdf.cmap(cmap_ref, &cmap.finish());
    Ok(())
}
