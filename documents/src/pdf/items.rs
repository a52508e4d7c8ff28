//! The lines table: one row per line, with its period and discount beneath the description,
//! and the header repeated on each new page.

use berth_domain::billing::{DocumentLine, IssuedDocument};

use super::canvas::{Canvas, Face, MARGIN, PAGE_WIDTH};
use crate::format::{amount_ro, date_ro, quantity_ro};

const SIZE: f32 = 8.5;
const LEADING: f32 = 11.5;
const DESCRIPTION_X: f32 = MARGIN + 22.0;
const DESCRIPTION_WIDTH: f32 = 228.0;
const UNIT_X: f32 = 296.0;
const QUANTITY_RIGHT: f32 = 372.0;
const PRICE_RIGHT: f32 = 440.0;
const VALUE_RIGHT: f32 = 510.0;
const RATE_RIGHT: f32 = PAGE_WIDTH - MARGIN;

/// Draws the table and leaves the cursor under it.
pub(super) fn draw(canvas: &mut Canvas<'_>, document: &IssuedDocument) {
    canvas.ensure(60.0);
    heading(canvas);
    for line in document.lines() {
        row(canvas, line);
    }
    canvas.rule(MARGIN, RATE_RIGHT, canvas.y, 0.5);
    canvas.y += 10.0;
}

fn heading(canvas: &mut Canvas<'_>) {
    let y = canvas.y;
    canvas.shade(MARGIN, y, RATE_RIGHT - MARGIN, 24.0);
    let top = y + 10.0;
    let bottom = y + 20.0;
    canvas.text(Face::Bold, SIZE, MARGIN + 2.0, top, "Nr.");
    canvas.text(Face::Bold, SIZE, DESCRIPTION_X, top, "Denumire");
    canvas.text(Face::Regular, SIZE, DESCRIPTION_X, bottom, "Description");
    canvas.text(Face::Bold, SIZE, UNIT_X, top, "U.M.");
    canvas.text(Face::Regular, SIZE, UNIT_X, bottom, "Unit");
    canvas.text_right(Face::Bold, SIZE, QUANTITY_RIGHT, top, "Cantitate");
    canvas.text_right(Face::Regular, SIZE, QUANTITY_RIGHT, bottom, "Quantity");
    canvas.text_right(Face::Bold, SIZE, PRICE_RIGHT, top, "Preț unitar");
    canvas.text_right(Face::Regular, SIZE, PRICE_RIGHT, bottom, "Unit price");
    canvas.text_right(Face::Bold, SIZE, VALUE_RIGHT, top, "Valoare");
    canvas.text_right(Face::Regular, SIZE, VALUE_RIGHT, bottom, "Net amount");
    canvas.text_right(Face::Bold, SIZE, RATE_RIGHT - 2.0, top, "TVA");
    canvas.text_right(Face::Regular, SIZE, RATE_RIGHT - 2.0, bottom, "VAT");
    canvas.y += 30.0;
}

fn row(canvas: &mut Canvas<'_>, line: &DocumentLine) {
    let mut description = canvas.wrap(Face::Regular, SIZE, DESCRIPTION_WIDTH, line.description());
    if let Some(period) = line.period() {
        description.push(format!(
            "Perioada / Period: {} – {}",
            date_ro(period.start()),
            date_ro(period.end())
        ));
    }
    if let Some(discount) = line.discount() {
        description.push(format!(
            "Reducere / Discount: −{} din / of {}",
            amount_ro(discount),
            amount_ro(line.gross())
        ));
    }
    if canvas.ensure(description.len() as f32 * LEADING + 4.0) {
        heading(canvas);
    }
    let y = canvas.y + SIZE;
    let tax = line.tax();
    canvas.text(Face::Regular, SIZE, MARGIN + 2.0, y, &line.position().to_string());
    canvas.text(Face::Regular, SIZE, UNIT_X, y, line.unit().label_ro());
    canvas.text_right(Face::Regular, SIZE, QUANTITY_RIGHT, y, &quantity_ro(line.quantity()));
    canvas.text_right(Face::Regular, SIZE, PRICE_RIGHT, y, &amount_ro(line.unit_price()));
    canvas.text_right(Face::Regular, SIZE, VALUE_RIGHT, y, &amount_ro(line.net()));
    let rate = format!("{} {}%", tax.category().code(), rate_ro(tax.rate().to_string()));
    canvas.text_right(Face::Regular, SIZE, RATE_RIGHT - 2.0, y, &rate);
    for (i, text) in description.iter().enumerate() {
        let face_size = if i == 0 { SIZE } else { SIZE - 1.0 };
        canvas.text(Face::Regular, face_size, DESCRIPTION_X, y + i as f32 * LEADING, text);
    }
    canvas.y += description.len() as f32 * LEADING + 4.0;
}

/// `21.00` → `21`, `25.50` → `25,5`: a rate for people.
pub(super) fn rate_ro(rate: String) -> String {
    let trimmed = rate.trim_end_matches('0').trim_end_matches('.');
    trimmed.replace('.', ",")
}
