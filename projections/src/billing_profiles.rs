//! The tenant's billing profile: who it is as a buyer, its currency, and where its VAT id
//! stands with VIES.

use berth_domain::billing::PartyKind;
use berth_domain::billing_profile::{BillingProfileEvent, VatVerification};
use berth_domain::event::Event;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The billing profile view.
pub struct BillingProfilesView;

impl Projection for BillingProfilesView {
    fn name(&self) -> &'static str {
        "billing_profiles"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["billing_profile"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &["CREATE TABLE billing_profiles (
            tenant_id      uuid        PRIMARY KEY,
            kind           text        NOT NULL,
            legal_name     text        NOT NULL,
            country        text        NOT NULL,
            address        jsonb       NOT NULL,
            vat_id         text,
            registration   text,
            email          text,
            currency       text        NOT NULL,
            vat_status     text        NOT NULL,
            vat_checked_at timestamptz,
            version        bigint      NOT NULL,
            updated_at     timestamptz NOT NULL
        )"]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::BillingProfile(profile) = &event.event else { return Ok(()) };
            let id = event.aggregate_uuid();
            match profile {
                BillingProfileEvent::Set { party, currency, vat, .. } => {
                    let address = serde_json::to_value(party.address())
                        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                    let kind = match party.kind() {
                        PartyKind::Company => "company",
                        PartyKind::Person => "person",
                    };
                    sqlx::query(
                        "INSERT INTO billing_profiles (tenant_id, kind, legal_name, country, address, vat_id,
                                                       registration, email, currency, vat_status, version, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                         ON CONFLICT (tenant_id) DO UPDATE SET kind = EXCLUDED.kind, legal_name = EXCLUDED.legal_name,
                             country = EXCLUDED.country, address = EXCLUDED.address, vat_id = EXCLUDED.vat_id,
                             registration = EXCLUDED.registration, email = EXCLUDED.email,
                             currency = EXCLUDED.currency, vat_status = EXCLUDED.vat_status,
                             vat_checked_at = CASE WHEN EXCLUDED.vat_status = 'unverified' THEN NULL
                                                   ELSE billing_profiles.vat_checked_at END,
                             version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
                          WHERE billing_profiles.version < EXCLUDED.version",
                    )
                    .bind(id)
                    .bind(kind)
                    .bind(party.legal_name())
                    .bind(party.address().country().as_str())
                    .bind(address)
                    .bind(party.vat_id().map(|v| v.as_str()))
                    .bind(party.registration())
                    .bind(party.email().map(|e| e.as_str()))
                    .bind(currency.as_str())
                    .bind(vat.as_str())
                    .bind(event.sequence)
                    .bind(event.recorded_at)
                    .execute(conn)
                    .await?;
                }
                BillingProfileEvent::VatIdVerified { checked_at, .. } => {
                    checked(conn, event, VatVerification::Verified, *checked_at).await?;
                }
                BillingProfileEvent::VatIdRejected { checked_at, .. } => {
                    checked(conn, event, VatVerification::Invalid, *checked_at).await?;
                }
            }
            Ok(())
        })
    }
}

async fn checked(
    conn: &mut PgConnection,
    event: &Recorded,
    status: VatVerification,
    at: time::OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE billing_profiles SET vat_status = $2, vat_checked_at = $3, version = $4, updated_at = $5
          WHERE tenant_id = $1 AND version < $4",
    )
    .bind(event.aggregate_uuid())
    .bind(status.as_str())
    .bind(at)
    .bind(event.sequence)
    .bind(event.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The billing e-mail of a tenant's billing profile, if it has a profile with one.
pub async fn billing_email(
    pool: &sqlx::PgPool,
    tenant_id: uuid::Uuid,
) -> Result<Option<String>, sqlx::Error> {
    let email: Option<Option<String>> =
        sqlx::query_scalar("SELECT email FROM proj_billing_profiles.billing_profiles WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(pool)
            .await?;
    Ok(email.flatten().filter(|e| !e.trim().is_empty()))
}
