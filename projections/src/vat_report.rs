//! The VAT report, for operators: every fiscal document's VAT breakdown, one row per VAT
//! group, dated by the month of issue, and `vat_report`, the taxable amounts and VAT summed by
//! month, treatment, buyer country, category, rate and currency.
//!
//! Domestic VAT, OSS (the buyer country's VAT, declared through the One-Stop Shop), reverse
//! charge and supplies outside the EU are kept apart, because each goes to a different box or
//! return. Credit notes count negative. Proformas are not fiscal documents and do not appear.
//! The table has no `tenant_id` column on purpose (a platform view, see `timers`).

use berth_domain::billing::{CountryCode, DocumentKind, VatCategory};
use berth_domain::event::Event;
use berth_domain::invoice::InvoiceEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;
use time::Date;

use crate::projection::{ApplyFuture, Projection};

/// The VAT report view.
pub struct VatReportView;

impl Projection for VatReportView {
    fn name(&self) -> &'static str {
        "vat_report"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["invoice"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE vat_lines (
                document_id   uuid   NOT NULL,
                category      text   NOT NULL,
                rate_bp       integer NOT NULL,
                tenant        uuid,
                kind          text   NOT NULL,
                number        text   NOT NULL,
                issue_date    date   NOT NULL,
                month         date   NOT NULL,
                treatment     text   NOT NULL,
                buyer_country text   NOT NULL,
                currency      text   NOT NULL,
                taxable_minor bigint NOT NULL,
                vat_minor     bigint NOT NULL,
                PRIMARY KEY (document_id, category, rate_bp)
            )",
            "CREATE INDEX vat_lines_month_idx ON vat_lines (month)",
            "CREATE VIEW vat_report AS
                SELECT month, treatment, buyer_country, category, rate_bp, currency,
                       count(DISTINCT document_id) AS documents,
                       sum(taxable_minor)::bigint AS taxable_minor, sum(vat_minor)::bigint AS vat_minor
                  FROM vat_lines
                 GROUP BY month, treatment, buyer_country, category, rate_bp, currency",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Invoice(InvoiceEvent::Issued { document }) = &event.event else { return Ok(()) };
            let (kind, sign) = match document.kind() {
                DocumentKind::Invoice => ("invoice", 1),
                DocumentKind::CreditNote => ("credit_note", -1),
                DocumentKind::Proforma => return Ok(()),
            };
            let buyer_country = document.buyer().address().country();
            let month = first_of_month(document.issue_date());
            for subtotal in document.vat_breakdown() {
                let category = subtotal.tax().category();
                sqlx::query(
                    "INSERT INTO vat_lines (document_id, category, rate_bp, tenant, kind, number, issue_date, month,
                                            treatment, buyer_country, currency, taxable_minor, vat_minor)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                     ON CONFLICT DO NOTHING",
                )
                .bind(event.aggregate_uuid())
                .bind(category.code())
                .bind(i32::try_from(subtotal.tax().rate().basis_points()).unwrap_or(i32::MAX))
                .bind(event.tenant_id)
                .bind(kind)
                .bind(document.number().to_string())
                .bind(document.issue_date())
                .bind(month)
                .bind(treatment(category, buyer_country))
                .bind(buyer_country.as_str())
                .bind(document.currency().as_str())
                .bind(sign * subtotal.taxable().amount_minor())
                .bind(sign * subtotal.vat().amount_minor())
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        })
    }
}

/// Which return a VAT group goes to.
fn treatment(category: VatCategory, buyer_country: CountryCode) -> &'static str {
    match category {
        VatCategory::Standard if buyer_country == CountryCode::ROMANIA => "domestic",
        VatCategory::Standard => "oss",
        VatCategory::ReverseCharge => "reverse_charge",
        VatCategory::OutsideEu => "outside_eu",
    }
}

fn first_of_month(date: Date) -> Date {
    date.replace_day(1).unwrap_or(date)
}
