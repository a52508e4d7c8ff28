//! OpenAPI schemas for the domain's enumerations, built from the domain's own lists of values
//! (`SiteKind::ALL`, `Role::ALL`, …), so the documents cannot drift from what the code accepts
//! and answers. The domain stays free of OpenAPI; the API types name these with
//! `#[schema(value_type = …)]`.

use berth_domain::allocation::{Health, NodeState};
use berth_domain::billing::{DocumentKind, PartyKind, RateCategory, UnitCode};
use berth_domain::billing_profile::VatVerification;
use berth_domain::invoice::InvoiceStatus;
use berth_domain::organization::InvitationStatus;
use berth_domain::php::{PhpVersion, SiteKind};
use berth_domain::plan::{BackupFrequency, BillingPeriod, Metric, SupportLevel, OFFERED_CURRENCIES};
use berth_domain::role::Role;
use berth_domain::site::{FailureCode, Operation, ProvisioningStep, SiteStatus};
use berth_domain::subscription::SubscriptionStatus;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

fn names(description: &str, values: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .into()
}

macro_rules! names {
    ($(#[$doc:meta])* $name:ident, $description:literal, $values:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                names($description, $values)
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

names!(
    /// A site's type.
    SiteType,
    "What runs the site.",
    SiteKind::ALL.map(SiteKind::as_str)
);
names!(
    /// A PHP version.
    PhpVersionName,
    "A PHP version Berth can run (a node may lack some).",
    PhpVersion::ALL.map(PhpVersion::as_str)
);
names!(
    /// A site's status.
    SiteStatusName,
    "Where the site is in its life: requested → provisioning → active ⇄ suspended → deleting → deleted, or failed; lost when its node is gone for good.",
    SiteStatus::ALL.map(SiteStatus::as_str)
);
names!(
    /// A role within a tenant.
    RoleName,
    "A role within the tenant, most powerful first.",
    Role::ALL.map(Role::as_str)
);
names!(
    /// A node's lifecycle state.
    NodeStateName,
    "Where the node is in its life.",
    NodeState::ALL.map(NodeState::as_str)
);
names!(
    /// A node's health.
    HealthName,
    "The node's health as last probed.",
    Health::ALL.map(Health::as_str)
);
names!(
    /// A provisioning failure's code.
    FailureCodeName,
    "Why provisioning failed, for programs.",
    FailureCode::ALL.map(FailureCode::as_str)
);
names!(
    /// A step of a site's history.
    SiteStepName,
    "A provisioning step, a retry, an operation on the node, or a step of a move to another node.",
    ProvisioningStep::ALL
        .map(ProvisioningStep::as_str)
        .into_iter()
        .chain(["retry", "lost"])
        .chain(Operation::ALL.map(Operation::as_str))
        .chain(berth_domain::evacuation::EvacuationStep::ALL.map(berth_domain::evacuation::EvacuationStep::site_step))
        .chain(berth_domain::site::StagingStep::ALL.map(berth_domain::site::StagingStep::site_step))
        .chain(["staging_start", "staging_ready", "staging_promote", "staging_promoted", "staging_removed"])
);
names!(
    /// Where a staging copy stands.
    StagingStatusName,
    "`copying`, `ready`, `failed` (it can only be deleted) or `promoting`.",
    berth_domain::site::StagingStatus::ALL.map(berth_domain::site::StagingStatus::as_str)
);
names!(
    /// Where an evacuated site's content comes from.
    EvacuationModeName,
    "`from_backup`: the latest verified backup (the node is down); `live`: a backup taken now (the node still answers).",
    berth_domain::evacuation::EvacuationMode::ALL.map(berth_domain::evacuation::EvacuationMode::as_str)
);
names!(
    /// A step of moving a site to another node.
    EvacuationStepName,
    "A step of moving a site to another node, in the order they run.",
    berth_domain::evacuation::EvacuationStep::ALL.map(berth_domain::evacuation::EvacuationStep::as_str)
);
names!(
    /// Where one site of an evacuation stands.
    EvacuationSiteStatusName,
    "`waiting` (not started), `moving`, `moved`, or `failed` (it stays where it was, with the reason).",
    ["waiting", "moving", "moved", "failed"]
);
names!(
    /// How a step ended.
    OutcomeName,
    "How the step ended.",
    ["ok", "failed"]
);
names!(
    /// Work waiting for a site's node.
    OperationName,
    "Work asked for and not yet carried out by the node.",
    Operation::ALL.map(Operation::as_str)
);
names!(
    /// Where an invitation stands.
    InvitationStatusName,
    "Where the invitation stands.",
    InvitationStatus::ALL.map(InvitationStatus::as_str)
);
names!(
    /// A kind of billing document.
    DocumentKindName,
    "An invoice, a credit note (correcting an invoice) or a proforma (a request for payment, not a fiscal document).",
    DocumentKind::ALL.map(DocumentKind::as_str)
);
names!(
    /// Where a billing document is in its life.
    InvoiceStatusName,
    "A draft can be changed; an issued document is numbered and never changes; a discarded draft never had a number.",
    InvoiceStatus::ALL.map(InvoiceStatus::as_str)
);
names!(
    /// A billing period.
    BillingPeriodName,
    "How long one billing period lasts.",
    BillingPeriod::ALL.map(BillingPeriod::as_str)
);
names!(
    /// A metered usage.
    MetricName,
    "What is measured and billed beyond a plan: storage (the period's peak) or transfer (its sum), in GB.",
    Metric::ALL.map(Metric::as_str)
);
names!(
    /// A VAT rate category.
    RateCategoryName,
    "Which of a country's VAT rates a line falls under; the rate follows from the buyer and the date of supply.",
    RateCategory::ALL.map(RateCategory::as_str)
);
names!(
    /// The unit a line is counted in.
    UnitName,
    "The unit a line's quantity counts.",
    UnitCode::ALL.map(UnitCode::as_str)
);
names!(
    /// A company or a person.
    PartyKindName,
    "Whether the buyer is a company (which may have a VAT id) or a person.",
    PartyKind::ALL.map(PartyKind::as_str)
);
names!(
    /// Where a VAT id stands with VIES.
    VatStatusName,
    "Only a VAT id VIES verified gets reverse charge.",
    VatVerification::ALL.map(VatVerification::as_str)
);
names!(
    /// Where a subscription is in its life.
    SubscriptionStatusName,
    "In its trial, in a paid period, or over.",
    SubscriptionStatus::ALL.map(SubscriptionStatus::as_str)
);
names!(
    /// A plan's support level.
    SupportLevelName,
    "The support a plan includes.",
    SupportLevel::ALL.map(SupportLevel::as_str)
);
names!(
    /// How often a plan's sites are backed up.
    BackupFrequencyName,
    "How often sites are backed up.",
    BackupFrequency::ALL.map(BackupFrequency::as_str)
);
names!(
    /// What a backup holds, or what a restore puts back.
    BackupKindName,
    "full: the site's own files and its database; files: the files only; database: the dump only.",
    berth_domain::backup::BackupKind::ALL.map(berth_domain::backup::BackupKind::as_str)
);
names!(
    /// A currency Berth bills in.
    CurrencyName,
    "An ISO 4217 currency Berth bills in.",
    OFFERED_CURRENCIES
);
names!(
    /// How long a coupon lasts.
    CouponDurationName,
    "The first paid period only, a number of paid periods, or every one.",
    ["once", "periods", "forever"]
);
names!(
    /// A DNS record type a tenant manages.
    RecordTypeName,
    "A DNS record type a tenant manages (SOA and NS belong to the platform).",
    berth_domain::zone::RecordType::ALL.map(berth_domain::zone::RecordType::as_str)
);
names!(
    /// Where a zone is in its life.
    ZoneStatusName,
    "Where the zone is in its life: active → deleting → deleted.",
    berth_domain::zone::ZoneStatus::ALL.map(berth_domain::zone::ZoneStatus::as_str)
);
names!(
    /// A certificate's state.
    CertificateStatusName,
    "pending (a first certificate is under way), failed (none yet, the last attempt failed, another is scheduled), issued (not on the node yet), active (served), retired (the site is gone).",
    ["pending", "failed", "issued", "active", "retired"]
);
names!(
    /// Where a renewal stands.
    RenewalStateName,
    "Set while a certificate exists and another attempt is under way or failing.",
    ["under_way", "failing"]
);
names!(
    /// Why an issuance was asked for.
    CertificateReasonName,
    "Why the attempt was started.",
    berth_domain::certificate::Reason::ALL.map(berth_domain::certificate::Reason::as_str)
);
names!(
    /// Why an issuance failed.
    CertificateFailureName,
    "Why the attempt failed, for programs.",
    berth_domain::certificate::FailureCode::ALL.map(berth_domain::certificate::FailureCode::as_str)
);
names!(
    /// How the CA checked the names.
    ChallengeMethodName,
    "How the CA checked that Berth controls the names.",
    ["http-01", "dns-01"]
);
names!(
    /// Where a custom domain stands.
    DomainStatusName,
    "pending (waiting for its TXT record), verified (served), expired (not verified in time), dropped (verified for another site).",
    ["pending", "verified", "expired", "dropped"]
);
names!(
    /// A cost category.
    CostCategoryName,
    "compute: the nodes' monthly prices; storage: backups per GB-month; bandwidth: data transferred per GB; platform: the fixed overhead.",
    berth_domain::cost_model::CostCategory::ALL.map(berth_domain::cost_model::CostCategory::as_str)
);
