//! The tenant's invoices: one row per invoice, credit note and proforma with its status,
//! dates, totals and number (the list), and the issued document itself as JSON with a place
//! for its payments (the detail). The operators' list of every tenant's documents
//! (`all_invoices`) keeps the same row without the row-level security of a `tenant_id`.

use berth_domain::event::Event;
use berth_domain::invoice::InvoiceEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The invoices list and detail view.
pub struct InvoicesView;

/// The columns of a document row after its id and tenant, shared with `all_invoices` (a macro
/// so that `concat!` can put them into both tables' DDL).
macro_rules! document_columns {
    () => {
        "kind text NOT NULL, status text NOT NULL, currency text NOT NULL, lines integer NOT NULL,
         number text, series text, sequence bigint, issue_date date, due_date date, supply_date date,
         net_minor bigint, vat_minor bigint, total_minor bigint, credited_minor bigint NOT NULL DEFAULT 0,
         subscription_id uuid, period_start date, period_end date, corrects uuid, from_proforma uuid,
         paid_on date, invoiced_as uuid, paid_minor bigint NOT NULL DEFAULT 0, settled_on date, refunded_minor bigint NOT NULL DEFAULT 0,
         version bigint NOT NULL, created_at timestamptz NOT NULL,
         updated_at timestamptz NOT NULL"
    };
}
pub(crate) use document_columns;

impl Projection for InvoicesView {
    fn name(&self) -> &'static str {
        "invoices"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["invoice"])
    }

    fn schema_version(&self) -> i32 {
        // 2: payments received and the day the document was settled.
        2
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            concat!(
                "CREATE TABLE invoices (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, ",
                document_columns!(),
                ")"
            ),
            "CREATE INDEX invoices_tenant_idx ON invoices (tenant_id, issue_date DESC, id)",
            "CREATE INDEX invoices_status_idx ON invoices (tenant_id, status, id)",
            "CREATE TABLE invoice_documents (
                id        uuid   PRIMARY KEY,
                tenant_id uuid   NOT NULL,
                document  jsonb  NOT NULL,
                payments  jsonb  NOT NULL DEFAULT '[]',
                version   bigint NOT NULL
            )",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Invoice(invoice) = &event.event else { return Ok(()) };
            apply_row(conn, event, invoice, "tenant_id").await?;
            if let InvoiceEvent::Issued { document } = invoice {
                let json = serde_json::to_value(document).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                sqlx::query(
                    "INSERT INTO invoice_documents (id, tenant_id, document, version)
                     SELECT id, tenant_id, $2, $3 FROM invoices WHERE id = $1
                     ON CONFLICT (id) DO NOTHING",
                )
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

/// Applies one document event to the `invoices` row (whose tenant column is `tenant`),
/// guarded by the document's sequence so a replayed event changes nothing.
pub(crate) async fn apply_row(
    conn: &mut PgConnection,
    event: &Recorded,
    invoice: &InvoiceEvent,
    tenant: &str,
) -> Result<(), sqlx::Error> {
    use InvoiceEvent as E;
    let id = event.aggregate_uuid();
    let (sequence, at) = (event.sequence, event.recorded_at);
    let query = match invoice {
        E::DraftCreated { tenant_id, kind, currency, lines, billing, corrects, from_proforma, .. } => {
            let sql = format!(
                "INSERT INTO invoices (id, {tenant}, kind, status, currency, lines, subscription_id, period_start,
                                       period_end, corrects, from_proforma, version, created_at, updated_at)
                 VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
                 ON CONFLICT (id) DO NOTHING"
            );
            return sqlx::query(&sql)
                .bind(id)
                .bind(tenant_id.as_uuid())
                .bind(kind_name(*kind))
                .bind(currency.as_str())
                .bind(i32::try_from(lines.len()).unwrap_or(i32::MAX))
                .bind(billing.map(|b| b.subscription_id.as_uuid()))
                .bind(billing.map(|b| b.period.start()))
                .bind(billing.map(|b| b.period.end()))
                .bind(corrects.map(|c| c.as_uuid()))
                .bind(from_proforma.map(|p| p.as_uuid()))
                .bind(sequence)
                .bind(at)
                .execute(conn)
                .await
                .map(|_| ());
        }
        E::LineAdded { .. } => {
            sqlx::query("UPDATE invoices SET lines = lines + 1 WHERE id = $1 AND version < $2")
        }
        E::LineRemoved { .. } => {
            sqlx::query("UPDATE invoices SET lines = lines - 1 WHERE id = $1 AND version < $2")
        }
        E::CouponSet { .. } | E::NotesSet { .. } => {
            sqlx::query("UPDATE invoices SET version = version WHERE id = $1 AND version < $2")
        }
        E::DraftDiscarded => {
            sqlx::query("UPDATE invoices SET status = 'discarded' WHERE id = $1 AND version < $2")
        }
        E::Issued { document } => {
            let totals = document.totals();
            return sqlx::query(
                "UPDATE invoices SET status = 'issued', number = $3, series = $4, sequence = $5, issue_date = $6,
                        due_date = $7, supply_date = $8, net_minor = $9, vat_minor = $10, total_minor = $11,
                        lines = $12, version = $2, updated_at = $13
                  WHERE id = $1 AND version < $2",
            )
            .bind(id)
            .bind(sequence)
            .bind(document.number().to_string())
            .bind(document.number().series().as_str())
            .bind(i64::try_from(document.number().sequence()).unwrap_or(i64::MAX))
            .bind(document.issue_date())
            .bind(document.due_date())
            .bind(document.supply_date())
            .bind(totals.tax_exclusive.amount_minor())
            .bind(totals.vat_total.amount_minor())
            .bind(totals.payable.amount_minor())
            .bind(i32::try_from(document.lines().len()).unwrap_or(i32::MAX))
            .bind(at)
            .execute(conn)
            .await
            .map(|_| ());
        }
        E::Credited { amount, .. } => {
            return set_one(
                conn,
                "credited_minor = credited_minor + $3",
                id,
                sequence,
                amount.amount_minor(),
                at,
            )
            .await
        }
        E::ProformaPaid { paid_on } => {
            return set_one(conn, "paid_on = $3", id, sequence, *paid_on, at).await
        }
        E::PaymentReceived { applied, .. } => {
            return set_one(conn, "paid_minor = paid_minor + $3", id, sequence, applied.amount_minor(), at)
                .await
        }
        E::Refunded { amount, .. } => {
            return set_one(
                conn,
                "refunded_minor = refunded_minor + $3",
                id,
                sequence,
                amount.amount_minor(),
                at,
            )
            .await
        }
        E::Settled { on } => return set_one(conn, "settled_on = $3", id, sequence, *on, at).await,
        E::ProformaInvoiced { invoice } => {
            return set_one(conn, "invoiced_as = $3", id, sequence, invoice.as_uuid(), at).await
        }
    };
    // The simple updates: their own change, then the version and time.
    query.bind(id).bind(sequence).execute(&mut *conn).await?;
    sqlx::query("UPDATE invoices SET version = $2, updated_at = $3 WHERE id = $1 AND version < $2")
        .bind(id)
        .bind(sequence)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

fn kind_name(kind: berth_domain::billing::DocumentKind) -> &'static str {
    use berth_domain::billing::DocumentKind as K;
    match kind {
        K::Invoice => "invoice",
        K::CreditNote => "credit_note",
        K::Proforma => "proforma",
    }
}

/// One change to a document's row (`assignment`, with the value as `$3`), its version and time
/// in the same statement, guarded by the sequence.
async fn set_one<T>(
    conn: &mut PgConnection,
    assignment: &str,
    id: Option<uuid::Uuid>,
    sequence: i64,
    value: T,
    at: time::OffsetDateTime,
) -> Result<(), sqlx::Error>
where
    T: Send + for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    let sql = format!(
        "UPDATE invoices SET {assignment}, version = $2, updated_at = $4 WHERE id = $1 AND version < $2"
    );
    sqlx::query(&sql).bind(id).bind(sequence).bind(value).bind(at).execute(conn).await.map(|_| ())
}
