//! `?as_of=` on a document's and a subscription's detail: the aggregate folded from the log up
//! to that instant (not the live view), shown in the detail's own shape with the log position
//! it reflects. A tenant reads its own; an operator reads any tenant's document, folded in that
//! tenant's scope.

use berth_domain::billing::DocumentKind;
use berth_domain::invoice::Invoice;
use berth_domain::subscription::{Subscription, SubscriptionStatus};
use berth_http::ApiError;
use time::OffsetDateTime;
use uuid::Uuid;

use super::account::SubscriptionView;
use super::invoices::{InvoiceDetail, InvoiceRow};
use crate::as_of::{fold, Folded};
use crate::auth::{forget_if_refused, Reader, Viewer};
use crate::AppState;

/// Document `id` as it was at `at`.
pub(crate) async fn invoice(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    at: OffsetDateTime,
) -> Result<InvoiceDetail, ApiError> {
    // A replica behind the primary would fold a past without its latest events.
    state.reads.replayed().await?;
    let (tenant, credential) = match viewer {
        Viewer::Tenant(reader) => (reader.tenant_id, reader.credential_id),
        Viewer::Operator(operator) => {
            let mut scoped = operator.scope(state).await?;
            let tenant: Option<Uuid> =
                sqlx::query_scalar("SELECT tenant FROM proj_all_invoices.invoices WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *scoped)
                    .await?;
            (tenant.ok_or(ApiError::NotFound)?, operator.credential_id)
        }
    };
    let mut scoped = forget_if_refused(state, state.reads.enter(Some(tenant), credential).await)?;
    let past = fold::<Invoice>(&mut scoped, &id.to_string(), at).await?.ok_or(ApiError::NotFound)?;
    invoice_detail(id, tenant, past).ok_or(ApiError::NotFound)
}

fn invoice_detail(id: Uuid, tenant: Uuid, past: Folded<Invoice>) -> Option<InvoiceDetail> {
    let invoice = &past.state;
    let kind = invoice.kind()?;
    let document = invoice.document();
    let totals = document.map(|d| d.totals());
    let billing = invoice.billing();
    let lines = document.map_or(invoice.lines().len(), |d| d.lines().len());
    let row = InvoiceRow {
        id,
        kind: match kind {
            DocumentKind::Invoice => "invoice",
            DocumentKind::CreditNote => "credit_note",
            DocumentKind::Proforma => "proforma",
        }
        .to_owned(),
        status: invoice.status().as_str().to_owned(),
        currency: invoice.currency()?.as_str().to_owned(),
        lines: i32::try_from(lines).unwrap_or(i32::MAX),
        number: document.map(|d| d.number().to_string()),
        issue_date: document.map(|d| d.issue_date()),
        due_date: document.and_then(|d| d.due_date()),
        supply_date: document.map(|d| d.supply_date()),
        net_minor: totals.map(|t| t.tax_exclusive.amount_minor()),
        vat_minor: totals.map(|t| t.vat_total.amount_minor()),
        total_minor: totals.map(|t| t.payable.amount_minor()),
        credited_minor: invoice.credited_minor(),
        paid_minor: invoice.paid_minor(),
        refunded_minor: invoice.refunded_minor(),
        settled_on: invoice.settled_on(),
        subscription_id: billing.map(|b| b.subscription_id.as_uuid()),
        period_start: billing.map(|b| b.period.start()),
        period_end: billing.map(|b| b.period.end()),
        corrects: invoice.corrects().map(|c| c.as_uuid()),
        from_proforma: invoice.from_proforma().map(|p| p.as_uuid()),
        paid_on: invoice.paid_on(),
        invoiced_as: invoice.invoiced_as().map(|i| i.as_uuid()),
        version: past.as_of.version,
        created_at: past.first_at,
        updated_at: past.last_at,
    };
    let document = document.and_then(|d| serde_json::to_value(d).ok());
    Some(InvoiceDetail { row, tenant_id: tenant, document, as_of: Some(past.as_of) })
}

/// Subscription `id` of the reader's tenant as it was at `at`.
pub(crate) async fn subscription(
    state: &AppState,
    reader: &Reader,
    id: Uuid,
    at: OffsetDateTime,
) -> Result<SubscriptionView, ApiError> {
    state.reads.replayed().await?;
    let mut scoped = reader.scope(state).await?;
    let past = fold::<Subscription>(&mut scoped, &id.to_string(), at).await?.ok_or(ApiError::NotFound)?;
    subscription_view(id, past).ok_or(ApiError::NotFound)
}

fn subscription_view(id: Uuid, past: Folded<Subscription>) -> Option<SubscriptionView> {
    let subscription = &past.state;
    let plan = subscription.plan()?;
    let period = subscription.current_period()?;
    Some(SubscriptionView {
        id,
        status: subscription.status().as_str().to_owned(),
        plan_id: plan.plan_id.as_uuid(),
        plan_code: plan.code.as_str().to_owned(),
        plan_name: plan.name.as_str().to_owned(),
        period: plan.period.as_str().to_owned(),
        currency: plan.currency().as_str().to_owned(),
        price_minor: plan.price.amount_minor(),
        period_start: period.start(),
        period_end: period.end(),
        trial: subscription.status() == SubscriptionStatus::Trialing,
        period_ended: subscription.period_ended(),
        cancel_at_period_end: subscription.cancels_at_period_end(),
        pending_plan_code: subscription.pending_plan().map(|p| p.code.as_str().to_owned()),
        coupon_code: subscription.coupon().map(|c| c.code.as_str().to_owned()),
        paid_periods: i32::try_from(subscription.paid_periods()).unwrap_or(i32::MAX),
        ended_on: subscription.ended_on(),
        past_due: !subscription.past_due().is_empty(),
        version: past.as_of.version,
        created_at: past.first_at,
        updated_at: past.last_at,
        as_of: Some(past.as_of),
    })
}
