//! The top of the first page: title, number, dates, and the two parties.

use berth_domain::billing::{DocumentKind, IssuedDocument, Party, PartyKind};

use super::canvas::{Canvas, Face, MARGIN, PAGE_WIDTH};
use super::title;
use crate::format::date_ro;

const BODY: f32 = 9.0;
const LEADING: f32 = 12.5;
/// The buyer's column starts here.
const SECOND_COLUMN: f32 = 310.0;
const COLUMN_WIDTH: f32 = 245.0;

/// Draws the header and leaves the cursor under it.
pub(super) fn draw(canvas: &mut Canvas<'_>, document: &IssuedDocument) {
    let (ro, en) = title(document.kind());
    let right = PAGE_WIDTH - MARGIN;
    canvas.text(Face::Bold, 18.0, MARGIN, canvas.y + 18.0, &format!("{ro} / {en}"));
    let number = document.number();
    canvas.text_right(Face::Bold, 12.0, right, canvas.y + 16.0, &format!("Nr. {number}"));
    let series = format!("Seria {} nr. {}", number.series().as_str(), number.padded_sequence());
    canvas.text_right(Face::Regular, BODY, right, canvas.y + 30.0, &series);
    canvas.y += 48.0;

    let mut facts = vec![
        format!("Data emiterii / Issue date: {}", date_ro(document.issue_date())),
        format!("Data livrării / Date of supply: {}", date_ro(document.supply_date())),
    ];
    if let Some(period) = document.period() {
        facts.push(format!(
            "Perioada facturată / Service period: {} – {}",
            date_ro(period.start()),
            date_ro(period.end())
        ));
    }
    if let Some(due) = document.due_date() {
        facts.push(format!("Data scadenței / Due date: {}", date_ro(due)));
    }
    facts.push(format!("Moneda / Currency: {}", document.currency().as_str()));
    if let Some(reference) = document.corrects() {
        facts.push(format!(
            "Corectează factura / Corrects invoice: {} din {}",
            reference.number,
            date_ro(reference.issue_date)
        ));
    }
    for fact in &facts {
        canvas.text(Face::Regular, BODY, MARGIN, canvas.y + BODY, fact);
        canvas.y += LEADING;
    }
    if document.kind() == DocumentKind::Proforma {
        let warning = "Document fără valoare fiscală / This proforma is not a tax invoice";
        canvas.text(Face::Bold, BODY, MARGIN, canvas.y + BODY, warning);
        canvas.y += LEADING;
    }
    canvas.y += 10.0;

    let top = canvas.y;
    let seller_end = party(canvas, MARGIN, top, "Furnizor / Seller", document.seller());
    let buyer_end = party(canvas, SECOND_COLUMN, top, "Cumpărător / Buyer", document.buyer());
    canvas.y = seller_end.max(buyer_end) + 14.0;
}

/// One party's block at `x`, from `top`; returns where it ends.
fn party(canvas: &mut Canvas<'_>, x: f32, top: f32, heading: &str, party: &Party) -> f32 {
    let mut y = top;
    canvas.text(Face::Bold, 10.0, x, y + 10.0, heading);
    y += 4.0;
    canvas.rule(x, x + COLUMN_WIDTH, y + 10.0, 0.5);
    y += 14.0;
    for line in canvas.wrap(Face::Bold, BODY, COLUMN_WIDTH, party.legal_name()) {
        canvas.text(Face::Bold, BODY, x, y + BODY, &line);
        y += LEADING;
    }
    let mut facts = Vec::new();
    if let Some(vat_id) = party.vat_id() {
        facts.push(format!("Cod TVA / VAT ID: {vat_id}"));
    }
    match (party.kind(), party.registration()) {
        (PartyKind::Company, Some(registration)) => {
            facts.push(format!("Nr. Reg. Com. / Registration no.: {registration}"))
        }
        (PartyKind::Person, Some(personal_id)) => facts.push(format!("CNP / Personal ID: {personal_id}")),
        (_, None) => {}
    }
    let address = party.address();
    facts.extend(address.lines().iter().cloned());
    let place = match address.postal_code() {
        Some(postal_code) => format!("{postal_code} {}", address.city()),
        None => address.city().to_owned(),
    };
    facts.push(place);
    let region = match address.subdivision() {
        Some(subdivision) => format!("{subdivision}, {}", address.country()),
        None => address.country().to_string(),
    };
    facts.push(format!("Județ, țară / Region, country: {region}"));
    if let Some(email) = party.email() {
        facts.push(format!("E-mail: {email}"));
    }
    for fact in facts {
        for line in canvas.wrap(Face::Regular, BODY, COLUMN_WIDTH, &fact) {
            canvas.text(Face::Regular, BODY, x, y + BODY, &line);
            y += LEADING;
        }
    }
    y
}
