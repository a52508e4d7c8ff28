//! Every tenant's invoices, credit notes and proformas, for operators. The rows are those of
//! the tenant's `invoices` view; the table's tenant column is `tenant`, not `tenant_id`, on
//! purpose: it is a platform view, which row-level security would confine to one tenant, and
//! the query API serves it to operators alone (like the timers view).

use berth_domain::event::Event;
use berth_domain::invoice::InvoiceEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::invoices::{apply_row, document_columns};
use crate::projection::{ApplyFuture, Projection};

/// The operators' list of all documents.
pub struct AllInvoicesView;

impl Projection for AllInvoicesView {
    fn name(&self) -> &'static str {
        "all_invoices"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["invoice"])
    }

    fn schema_version(&self) -> i32 {
        // 3: payments received and the day the document was settled.
        3
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            concat!(
                "CREATE TABLE invoices (id uuid PRIMARY KEY, tenant uuid NOT NULL, ",
                document_columns!(),
                ")"
            ),
            "CREATE INDEX invoices_issued_idx ON invoices (issue_date DESC, id)",
            "CREATE INDEX invoices_tenant_idx ON invoices (tenant, id)",
            // The issued documents, for operators (the tenant's `invoice_documents` is row-level
            // secured to its tenant).
            "CREATE TABLE documents (id uuid PRIMARY KEY, document jsonb NOT NULL, version bigint NOT NULL)",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Invoice(invoice) = &event.event else { return Ok(()) };
            apply_row(&mut *conn, event, invoice, "tenant").await?;
            if let InvoiceEvent::Issued { document } = invoice {
                let json = serde_json::to_value(document).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                sqlx::query("INSERT INTO documents (id, document, version) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
                    .bind(event.aggregate_uuid())
                    .bind(json)
                    .bind(event.sequence)
                    .execute(conn)
                    .await?;
            }
            Ok(())
        })
    }
}
