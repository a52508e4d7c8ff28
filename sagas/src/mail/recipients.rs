//! Who a tenant's mail goes to, from the read models (read, never written): its owners, and
//! where its billing mail goes.

use berth_domain::ids::TenantId;
use sqlx::PgPool;

/// The e-mail addresses of `tenant`'s owners (none while the identity view has not caught up
/// with the tenant's registration).
pub async fn owner_emails(pool: &PgPool, tenant: TenantId) -> Result<Vec<String>, sqlx::Error> {
    berth_projections::identity::owner_emails(pool, tenant.as_uuid()).await
}

/// Where `tenant`'s billing mail goes: the e-mail of its billing profile, or its owners when
/// the profile has none (or there is no profile yet).
pub async fn billing_emails(pool: &PgPool, tenant: TenantId) -> Result<Vec<String>, sqlx::Error> {
    match berth_projections::billing_profiles::billing_email(pool, tenant.as_uuid()).await? {
        Some(email) => Ok(vec![email]),
        None => owner_emails(pool, tenant).await,
    }
}
