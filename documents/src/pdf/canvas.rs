//! Pages as lists of drawing operations, laid out top-down with a cursor.
//!
//! Layout code says what goes where in points from the top-left of an A4 page; the writer
//! turns it into PDF content streams later, once every glyph in use is known (the font is
//! subset to exactly those glyphs).

use super::font::Font;

/// A4 in points.
pub(crate) const PAGE_WIDTH: f32 = 595.28;
pub(crate) const PAGE_HEIGHT: f32 = 841.89;
/// Left and right margin.
pub(crate) const MARGIN: f32 = 40.0;
/// Nothing is drawn below this distance from the top, leaving room for the footer.
const BOTTOM: f32 = PAGE_HEIGHT - 60.0;

/// Regular or bold.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Face {
    Regular,
    Bold,
}

/// One thing drawn on a page; `y` is the baseline (text) or the line's height, from the top.
pub(crate) enum Op {
    Text { face: Face, size: f32, x: f32, y: f32, text: String },
    Rule { x1: f32, x2: f32, y: f32, width: f32 },
    Shade { x: f32, y: f32, width: f32, height: f32 },
}

/// The pages being laid out and the cursor on the current one.
pub(crate) struct Canvas<'f> {
    pub(crate) pages: Vec<Vec<Op>>,
    /// Distance of the next line's top from the top of the page.
    pub(crate) y: f32,
    regular: &'f Font,
    bold: &'f Font,
}

impl<'f> Canvas<'f> {
    pub(crate) fn new(regular: &'f Font, bold: &'f Font) -> Self {
        Self { pages: vec![Vec::new()], y: MARGIN, regular, bold }
    }

    fn font(&self, face: Face) -> &'f Font {
        match face {
            Face::Regular => self.regular,
            Face::Bold => self.bold,
        }
    }

    /// Width of `text` in `face` at `size`.
    pub(crate) fn width(&self, face: Face, size: f32, text: &str) -> f32 {
        self.font(face).width(text, size)
    }

    /// Draws `text` with its left edge at `x`, baseline `y` from the top.
    pub(crate) fn text(&mut self, face: Face, size: f32, x: f32, y: f32, text: &str) {
        if !text.is_empty() {
            self.page().push(Op::Text { face, size, x, y, text: text.to_owned() });
        }
    }

    /// Draws `text` with its right edge at `right`.
    pub(crate) fn text_right(&mut self, face: Face, size: f32, right: f32, y: f32, text: &str) {
        let x = right - self.width(face, size, text);
        self.text(face, size, x, y, text);
    }

    /// A horizontal line at `y` from `x1` to `x2`.
    pub(crate) fn rule(&mut self, x1: f32, x2: f32, y: f32, width: f32) {
        self.page().push(Op::Rule { x1, x2, y, width });
    }

    /// A light grey band behind a header row.
    pub(crate) fn shade(&mut self, x: f32, y: f32, width: f32, height: f32) {
        self.page().push(Op::Shade { x, y, width, height });
    }

    /// Breaks `text` into lines no wider than `width` (a word longer than that is cut).
    pub(crate) fn wrap(&self, face: Face, size: f32, width: f32, text: &str) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
            if self.width(face, size, &candidate) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let mut rest = word.to_owned();
            while self.width(face, size, &rest) > width && rest.chars().count() > 1 {
                let mut cut = rest.chars().count() - 1;
                while cut > 1 && self.width(face, size, &rest.chars().take(cut).collect::<String>()) > width {
                    cut -= 1;
                }
                lines.push(rest.chars().take(cut).collect());
                rest = rest.chars().skip(cut).collect();
            }
            line = rest;
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// Starts a new page when fewer than `height` points are left; says whether it did.
    pub(crate) fn ensure(&mut self, height: f32) -> bool {
        if self.y + height <= BOTTOM {
            return false;
        }
        self.pages.push(Vec::new());
        self.y = MARGIN;
        true
    }

    fn page(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a canvas always has a page")
    }
}
