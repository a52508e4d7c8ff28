//! `berth-documents`: renders an issued billing document for machines and for people.
//!
//! It sits just above `berth-domain` and depends on nothing else of Berth: it takes a
//! frozen [`berth_domain::billing::IssuedDocument`] and writes it out, computing nothing
//! that the document does not already say, so a document renders the same whenever it is
//! rendered.
//!
//! - [`ubl`]: UBL 2.1 XML for Romania's e-Factura (EN 16931 with the CIUS-RO customization),
//!   produced by a small hand-written XML writer.
//! - [`pdf`]: a one- or multi-page A4 PDF with every mention Romanian and EU law want on an
//!   invoice, text in an embedded, subset TrueType font so diacritics survive copy and
//!   `pdftotext`.
//! - `format`: how amounts, quantities, rates and dates are spelled in each.
#![forbid(unsafe_code)]

mod format;
pub mod pdf;
pub mod ubl;

pub use pdf::{PdfError, PdfRenderer, ReportTable, TableReport};
pub use ubl::{render_ubl, UblError, CIUS_RO_CUSTOMIZATION_ID};
