//! Reports made of tables (the monthly cost and capacity report): a title, a few lines of
//! text, then titled tables whose first column is text and the others figures, right-aligned;
//! a table that does not fit goes on over the next pages with its header again.

use super::canvas::{Canvas, Face, MARGIN, PAGE_HEIGHT, PAGE_WIDTH};
use super::{PdfError, PdfRenderer};

/// One table of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportTable {
    /// Its title.
    pub title: String,
    /// The column headers.
    pub columns: Vec<String>,
    /// The rows, each as wide as `columns`.
    pub rows: Vec<Vec<String>>,
}

/// A report of tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    /// The title on the first page and in the PDF's metadata.
    pub title: String,
    /// Lines of text under the title.
    pub lines: Vec<String>,
    /// The tables, in order.
    pub tables: Vec<ReportTable>,
}

const ROW: f32 = 13.0;
const SIZE: f32 = 8.0;

impl PdfRenderer {
    /// The report as a PDF file.
    pub fn render_tables(&self, report: &TableReport) -> Result<Vec<u8>, PdfError> {
        let mut canvas = Canvas::new(&self.regular, &self.bold);
        canvas.text(Face::Bold, 15.0, MARGIN, canvas.y + 15.0, &report.title);
        canvas.y += 26.0;
        for line in &report.lines {
            canvas.ensure(ROW);
            canvas.text(Face::Regular, 9.0, MARGIN, canvas.y + 10.0, line);
            canvas.y += ROW;
        }
        for table in &report.tables {
            draw(&mut canvas, table);
        }
        let count = canvas.pages.len();
        let pages = std::mem::take(&mut canvas.pages);
        for (index, page) in pages.into_iter().enumerate() {
            canvas.pages.push(page);
            let y = PAGE_HEIGHT - 30.0;
            canvas.rule(MARGIN, PAGE_WIDTH - MARGIN, y - 10.0, 0.5);
            canvas.text(Face::Regular, 7.5, MARGIN, y, &report.title);
            canvas.text_right(
                Face::Regular,
                7.5,
                PAGE_WIDTH - MARGIN,
                y,
                &format!("Page {} of {count}", index + 1),
            );
        }
        super::writer::write(&canvas.pages, &self.regular, &self.bold, &report.title)
    }
}

/// The right edges of the columns: the first takes what the figures leave.
fn edges(columns: usize) -> Vec<f32> {
    let width = PAGE_WIDTH - 2.0 * MARGIN;
    let figures = columns.saturating_sub(1).max(1) as f32;
    let first = (width * 0.34).max(width - figures * 62.0).min(width * 0.5);
    let step = (width - first) / figures;
    (0..columns).map(|i| MARGIN + first + step * i as f32).collect()
}

fn header(canvas: &mut Canvas<'_>, table: &ReportTable, edges: &[f32]) {
    canvas.shade(MARGIN, canvas.y, PAGE_WIDTH - 2.0 * MARGIN, ROW);
    for (i, column) in table.columns.iter().enumerate() {
        let y = canvas.y + 9.5;
        if i == 0 {
            canvas.text(Face::Bold, SIZE, MARGIN + 2.0, y, column);
        } else {
            canvas.text_right(Face::Bold, SIZE, edges[i] - 2.0, y, column);
        }
    }
    canvas.y += ROW;
}

fn draw(canvas: &mut Canvas<'_>, table: &ReportTable) {
    let edges = edges(table.columns.len());
    canvas.ensure(ROW * 4.0);
    canvas.y += 10.0;
    canvas.text(Face::Bold, 11.0, MARGIN, canvas.y + 11.0, &table.title);
    canvas.y += 17.0;
    header(canvas, table, &edges);
    for row in &table.rows {
        if canvas.ensure(ROW) {
            header(canvas, table, &edges);
        }
        let y = canvas.y + 9.5;
        for (i, cell) in row.iter().enumerate().take(table.columns.len()) {
            if i == 0 {
                canvas.text(Face::Regular, SIZE, MARGIN + 2.0, y, cell);
            } else {
                canvas.text_right(Face::Regular, SIZE, edges[i] - 2.0, y, cell);
            }
        }
        canvas.y += ROW;
        canvas.rule(MARGIN, PAGE_WIDTH - MARGIN, canvas.y, 0.2);
    }
}
