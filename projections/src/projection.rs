//! What a projection is, and the registry of every projection Berth runs.

use std::future::Future;
use std::pin::Pin;

use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

/// A future borrowed from a projection for one event.
pub type ApplyFuture<'a> = Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'a>>;

/// A read model built from the feed.
///
/// `apply` runs with `search_path` set to the projection's schema, so its SQL names its tables
/// without a schema; that is what lets the same code fill the live schema and a rebuild.
pub trait Projection: Send + Sync + 'static {
    /// The projection's name: its schema is `proj_<name>`, its checkpoint `projection:<name>`.
    fn name(&self) -> &'static str;

    /// The version of the table layout; changing it makes the next start rebuild.
    fn schema_version(&self) -> i32;

    /// The aggregate types whose events this view reads (`None`: every event). A live
    /// projector only opens a transaction for a batch holding such events; the others just
    /// move its checkpoint. A rebuild still passes every event, so a type missing here shows
    /// up as a rebuilt view that differs from the live one.
    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// The statements that create the tables (unqualified names).
    fn ddl(&self) -> &'static [&'static str];

    /// Applies one event, typed by the event registry. Must be idempotent per event: a rebuild
    /// replays everything.
    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a>;

    /// For a view whose rows are a pure function of each stored event: one `INSERT … SELECT`
    /// over `batch` (a batch of rows of `events`, every column, in feed order), which then runs
    /// inside PostgreSQL in place of [`Projection::apply_all`], live and in rebuilds alike, so
    /// no payload travels to the client and back. Such a view sees every stored event, also
    /// one the registry cannot decode.
    fn in_database(&self) -> Option<&'static str> {
        None
    }

    /// Applies a batch, in order. One event at a time by default; a view whose rows are
    /// independent inserts can write the whole batch in one statement.
    fn apply_all<'a>(&'a self, conn: &'a mut PgConnection, events: &'a [Recorded]) -> ApplyFuture<'a> {
        Box::pin(async move {
            for event in events {
                self.apply(&mut *conn, event).await?;
            }
            Ok(())
        })
    }
}

/// Every projection, in the order they are started: the one registry the binary, `berth
/// replay`, the tests and the docs iterate over. A new view is its module plus one line here.
pub fn all() -> Vec<Box<dyn Projection>> {
    vec![
        Box::new(crate::audit::AuditTrail),
        Box::new(crate::identity::IdentityView),
        Box::new(crate::sites::SitesView),
        Box::new(crate::nodes::NodesView),
        Box::new(crate::timers::TimersView),
        Box::new(crate::invoices::InvoicesView),
        Box::new(crate::subscriptions::SubscriptionsView),
        Box::new(crate::billing_profiles::BillingProfilesView),
        Box::new(crate::all_invoices::AllInvoicesView),
        Box::new(crate::revenue::RevenueView),
        Box::new(crate::vat_report::VatReportView),
        Box::new(crate::security::SecurityLog),
        Box::new(crate::plans::PlansView),
        Box::new(crate::billing_setup::BillingSetupView),
        Box::new(crate::usage::UsageView),
        Box::new(crate::zones::ZonesView),
        Box::new(crate::certificates::CertificatesView),
        Box::new(crate::domains::DomainsView),
        Box::new(crate::certificate_watch::CertificateWatch),
        Box::new(crate::payments::PaymentsView),
        Box::new(crate::payments::PaymentOpsView),
        Box::new(crate::backups::BackupsView),
        Box::new(crate::restores::RestoresView),
        Box::new(crate::evacuations::EvacuationsView),
        Box::new(crate::backup_failures::BackupFailures),
        Box::new(crate::costs::CostsView),
        Box::new(crate::deployments::DeploymentsView),
        Box::new(crate::sftp_accounts::SftpAccountsView),
    ]
}

/// Finds a projection by name.
pub fn by_name(name: &str) -> Option<Box<dyn Projection>> {
    all().into_iter().find(|p| p.name() == name)
}

/// The schema holding a projection's live tables.
pub fn live_schema(name: &str) -> String {
    format!("proj_{name}")
}

/// The checkpoint of a projection's live tables.
pub fn checkpoint_name(name: &str) -> String {
    format!("projection:{name}")
}

/// An advisory lock key per projection: held by whoever writes its live tables.
pub fn lock_key(name: &str) -> i64 {
    // FNV-1a, stable across builds and processes.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}
