//! Payments on the read side. `payments` is the tenant's: the payments received per document,
//! the saved cards, and each document's collection (dunning) state. `payment_ops` is the
//! operators': the same payments and collections across tenants (the tenant column is
//! `tenant`, so row-level security does not confine it), and every webhook delivery with its
//! outcome. Both apply the same statements, named by their tenant column.

use berth_domain::dunning::DunningEvent;
use berth_domain::event::Event;
use berth_domain::invoice::InvoiceEvent;
use berth_domain::payment_account::PaymentAccountEvent;
use berth_domain::webhook::WebhookEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

macro_rules! payment_tables {
    ($tenant:literal) => {
        [
            concat!(
                "CREATE TABLE payments (
                    id uuid PRIMARY KEY, ", $tenant, " uuid NOT NULL, invoice_id uuid NOT NULL, number text,
                    method text NOT NULL, payment_intent text, amount_minor bigint NOT NULL, currency text NOT NULL,
                    applied_minor bigint NOT NULL, credit_minor bigint NOT NULL, balance_due_minor bigint NOT NULL,
                    received_on date NOT NULL, reference text, recorded_at timestamptz NOT NULL)"
            ),
            "CREATE INDEX payments_invoice_idx ON payments (invoice_id, recorded_at)",
            concat!("CREATE INDEX payments_tenant_idx ON payments (", $tenant, ", received_on DESC, id)"),
            concat!(
                "CREATE TABLE dunning (
                    invoice_id uuid PRIMARY KEY, ", $tenant, " uuid NOT NULL, subscription_id uuid,
                    status text NOT NULL, card boolean NOT NULL, amount_minor bigint NOT NULL, currency text NOT NULL,
                    attempts integer NOT NULL DEFAULT 0, failures integer NOT NULL DEFAULT 0, last_error text,
                    next_retry_at timestamptz, grace_ends_at timestamptz, held_sites integer NOT NULL DEFAULT 0,
                    settled_on date, version bigint NOT NULL, updated_at timestamptz NOT NULL)"
            ),
            concat!("CREATE INDEX dunning_tenant_idx ON dunning (", $tenant, ", status, invoice_id)"),
        ]
    };
}

/// The tenant's payments, cards and collections.
pub struct PaymentsView;

/// The operators' payments, collections and webhook deliveries.
pub struct PaymentOpsView;

const TENANT_DDL: [&str; 5] = payment_tables!("tenant_id");
const OPS_DDL: [&str; 5] = payment_tables!("tenant");

impl Projection for PaymentsView {
    fn name(&self) -> &'static str {
        "payments"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["invoice", "dunning", "payment_account"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        static DDL: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        DDL.get_or_init(|| {
            let mut ddl = TENANT_DDL.to_vec();
            ddl.push(
                "CREATE TABLE payment_methods (
                    tenant_id uuid NOT NULL, payment_method text NOT NULL, brand text NOT NULL, last4 text NOT NULL,
                    exp_month integer NOT NULL, exp_year integer NOT NULL, added_sequence bigint NOT NULL,
                    added_at timestamptz NOT NULL, PRIMARY KEY (tenant_id, payment_method))",
            );
            ddl.push(
                "CREATE TABLE payment_accounts (
                    tenant_id uuid PRIMARY KEY, customer text, version bigint NOT NULL, updated_at timestamptz NOT NULL)",
            );
            ddl
        })
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            match &event.event {
                Event::PaymentAccount(account) => apply_account(conn, event, account).await,
                _ => apply_common(conn, event, "tenant_id").await,
            }
        })
    }
}

impl Projection for PaymentOpsView {
    fn name(&self) -> &'static str {
        "payment_ops"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["invoice", "dunning", "webhook"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        static DDL: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        DDL.get_or_init(|| {
            let mut ddl = OPS_DDL.to_vec();
            ddl.push(
                "CREATE TABLE webhooks (
                    id uuid PRIMARY KEY, provider text NOT NULL, event_id text NOT NULL, event_type text NOT NULL,
                    outcome text NOT NULL, detail text NOT NULL, invoice_id uuid, tenant uuid,
                    received_at timestamptz NOT NULL)",
            );
            ddl.push("CREATE INDEX webhooks_received_idx ON webhooks (received_at DESC, id)");
            ddl
        })
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            if let Event::Webhook(WebhookEvent::Processed { receipt }) = &event.event {
                sqlx::query(
                    "INSERT INTO webhooks (id, provider, event_id, event_type, outcome, detail, invoice_id, tenant, received_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
                )
                .bind(event.aggregate_uuid())
                .bind(&receipt.provider)
                .bind(&receipt.event_id)
                .bind(&receipt.event_type)
                .bind(&receipt.outcome)
                .bind(&receipt.detail)
                .bind(receipt.invoice_id.map(|i| i.as_uuid()))
                .bind(receipt.tenant_id.map(|t| t.as_uuid()))
                .bind(event.recorded_at)
                .execute(conn)
                .await?;
                return Ok(());
            }
            apply_common(conn, event, "tenant").await
        })
    }
}

async fn apply_account(
    conn: &mut PgConnection,
    event: &Recorded,
    account: &PaymentAccountEvent,
) -> Result<(), sqlx::Error> {
    let Some(tenant) = event.aggregate_uuid() else { return Ok(()) };
    match account {
        PaymentAccountEvent::CustomerLinked { customer, .. } => {
            sqlx::query(
                "INSERT INTO payment_accounts (tenant_id, customer, version, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tenant_id) DO NOTHING",
            )
            .bind(tenant)
            .bind(customer)
            .bind(event.sequence)
            .bind(event.recorded_at)
            .execute(&mut *conn)
            .await?;
        }
        PaymentAccountEvent::CardSaved { card } => {
            sqlx::query(
                "INSERT INTO payment_methods (tenant_id, payment_method, brand, last4, exp_month, exp_year,
                                              added_sequence, added_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (tenant_id, payment_method) DO UPDATE SET added_sequence = excluded.added_sequence
                  WHERE payment_methods.added_sequence < excluded.added_sequence",
            )
            .bind(tenant)
            .bind(&card.payment_method)
            .bind(&card.brand)
            .bind(&card.last4)
            .bind(i32::from(card.exp_month))
            .bind(i32::from(card.exp_year))
            .bind(event.sequence)
            .bind(event.recorded_at)
            .execute(&mut *conn)
            .await?;
        }
        PaymentAccountEvent::CardRemoved { payment_method } => {
            sqlx::query("DELETE FROM payment_methods WHERE tenant_id = $1 AND payment_method = $2")
                .bind(tenant)
                .bind(payment_method)
                .execute(&mut *conn)
                .await?;
        }
    }
    sqlx::query(
        "UPDATE payment_accounts SET version = $2, updated_at = $3 WHERE tenant_id = $1 AND version < $2",
    )
    .bind(tenant)
    .bind(event.sequence)
    .bind(event.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn apply_common(conn: &mut PgConnection, event: &Recorded, tenant: &str) -> Result<(), sqlx::Error> {
    let Some(id) = event.aggregate_uuid() else { return Ok(()) };
    match &event.event {
        Event::Invoice(InvoiceEvent::PaymentReceived {
            payment_id,
            method,
            amount,
            received_on,
            reference,
            applied,
            credit,
            balance_due,
        }) => {
            let intent = match method {
                berth_domain::invoice::PaymentMethod::Card { payment_intent } => {
                    Some(payment_intent.as_str())
                }
                _ => None,
            };
            let Some(owner) = event.tenant_id else { return Ok(()) };
            sqlx::query(&format!(
                "INSERT INTO payments (id, {tenant}, invoice_id, method, payment_intent, amount_minor, currency,
                                       applied_minor, credit_minor, balance_due_minor, received_on, reference, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING"
            ))
            .bind(payment_id)
            .bind(owner)
            .bind(id)
            .bind(method.as_str())
            .bind(intent)
            .bind(amount.amount_minor())
            .bind(amount.currency().as_str())
            .bind(applied.amount_minor())
            .bind(credit.amount_minor())
            .bind(balance_due.amount_minor())
            .bind(received_on)
            .bind(reference.as_deref())
            .bind(event.recorded_at)
            .execute(conn)
            .await?;
        }
        Event::Dunning(dunning) => apply_dunning(conn, event, id, dunning, tenant).await?,
        _ => {}
    }
    Ok(())
}

async fn apply_dunning(
    conn: &mut PgConnection,
    event: &Recorded,
    id: uuid::Uuid,
    dunning: &DunningEvent,
    tenant: &str,
) -> Result<(), sqlx::Error> {
    use DunningEvent as D;
    let (sequence, at) = (event.sequence, event.recorded_at);
    if let D::Opened { tenant_id, subscription_id, amount, card, grace_ends_at, .. } = dunning {
        sqlx::query(&format!(
            "INSERT INTO dunning (invoice_id, {tenant}, subscription_id, status, card, amount_minor, currency,
                                  grace_ends_at, version, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (invoice_id) DO NOTHING"
        ))
        .bind(id)
        .bind(tenant_id.as_uuid())
        .bind(subscription_id.map(|s| s.as_uuid()))
        .bind(if *card { "collecting" } else { "awaiting_payment" })
        .bind(*card)
        .bind(amount.amount_minor())
        .bind(amount.currency().as_str())
        .bind(grace_ends_at)
        .bind(sequence)
        .bind(at)
        .execute(conn)
        .await?;
        return Ok(());
    }
    let common = "version = $2, updated_at = $3 WHERE invoice_id = $1 AND version < $2";
    let sql = match dunning {
        D::Opened { .. } => return Ok(()),
        D::AttemptSucceeded { .. } => {
            format!("UPDATE dunning SET attempts = $4, next_retry_at = NULL, {common}")
        }
        D::AttemptFailed { .. } => format!(
            "UPDATE dunning SET attempts = $4, failures = failures + 1, last_error = $5, next_retry_at = $6,
                    grace_ends_at = $7, {common}"
        ),
        D::RetryDue { .. } => format!("UPDATE dunning SET next_retry_at = NULL, {common}"),
        D::GraceEnded => format!("UPDATE dunning SET status = 'suspended', {common}"),
        D::SiteHeld { .. } => format!("UPDATE dunning SET held_sites = held_sites + 1, {common}"),
        D::Settled { .. } => {
            format!("UPDATE dunning SET status = 'settled', settled_on = $4, next_retry_at = NULL, {common}")
        }
    };
    let query = sqlx::query(&sql).bind(id).bind(sequence).bind(at);
    let query = match dunning {
        D::AttemptSucceeded { attempt, .. } => query.bind(i64::from(*attempt)),
        D::AttemptFailed { attempt, code, message, next_retry_at, grace_ends_at, .. } => query
            .bind(i64::from(*attempt))
            .bind(format!("{code}: {message}"))
            .bind(*next_retry_at)
            .bind(*grace_ends_at),
        D::Settled { on, .. } => query.bind(*on),
        _ => query,
    };
    query.execute(conn).await?;
    Ok(())
}
