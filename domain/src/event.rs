//! The event registry: the one place that maps a stored event — `(aggregate_type, event_type,
//! event_version)` and its JSON payload — to the domain's typed event enums, upcasting older
//! versions on the way. Views, sagas and aggregate loads all decode through it; nobody else
//! reads event payloads.
//!
//! Adding an aggregate is one line in [`registry!`]'s list below. A new version of an event is
//! a new payload shape plus one [`Upcaster`] in that event enum's [`Versioned::UPCASTERS`],
//! which turns the previous version's payload into the next one.

use serde_json::Value;

use crate::acme_account::{AcmeAccount, AcmeAccountEvent};
use crate::aggregate::Consequences;
use crate::backup::{Backup, BackupEvent};
use crate::backup_schedule::{BackupSchedule, ScheduleEvent};
use crate::billing_profile::{BillingProfile, BillingProfileEvent};
use crate::certificate::{Certificate, CertificateEvent};
use crate::cost_model::{CostModel, CostModelEvent};
use crate::coupon::{Coupon, CouponEvent};
use crate::custom_domain::{CustomDomain, CustomDomainEvent};
use crate::dunning::{Dunning, DunningEvent};
use crate::exchange_rate::{ExchangeRates, ExchangeRatesEvent};
use crate::invoice::{Invoice, InvoiceEvent};
use crate::node::{Node, NodeEvent};
use crate::operator::{Operator, OperatorEvent};
use crate::organization::{Organization, OrganizationEvent};
use crate::payment_account::{PaymentAccount, PaymentAccountEvent};
use crate::plan::{Plan, PlanEvent};
use crate::privacy::{DataSubject, SubjectEvent};
use crate::repository::{Repository, RepositoryEvent};
use crate::restore::{Restore, RestoreEvent};
use crate::security::{AccountSecurity, SecurityEvent};
use crate::seller::{Seller, SellerEvent};
use crate::series::{NumberSeries, SeriesEvent};
use crate::sftp::{SftpAccounts, SftpEvent};
use crate::site::{Site, SiteEvent};
use crate::site_quota::{SiteQuota, SiteQuotaEvent};
use crate::subscription::{Subscription, SubscriptionEvent};
use crate::timer::{Timer, TimerEvent};
use crate::usage::{Usage, UsageEvent};
use crate::user::{User, UserEvent};
use crate::webhook::{WebhookDelivery, WebhookEvent};
use crate::zone::{Zone, ZoneEvent};

/// Turns one version of an event type's payload into the next.
#[derive(Debug, Clone, Copy)]
pub struct Upcaster {
    /// The event type it applies to (`SiteProvisioningFailed`).
    pub event_type: &'static str,
    /// The version it reads.
    pub from: &'static str,
    /// The version it writes.
    pub to: &'static str,
    /// The transformation.
    pub upcast: fn(Value) -> Result<Value, String>,
}

/// An event enum's history of payload shapes.
pub trait Versioned {
    /// Every upcaster of this enum's event types, in any order.
    const UPCASTERS: &'static [Upcaster] = &[];
}

/// Why a stored event could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No aggregate of that type is registered.
    #[error("unknown aggregate type `{0}`")]
    UnknownAggregate(String),
    /// An upcaster refused the payload.
    #[error("cannot upcast {event_type} v{version}: {reason}")]
    Upcast {
        /// The event type.
        event_type: String,
        /// The version it was at.
        version: String,
        /// Why.
        reason: String,
    },
    /// The payload does not match the event's current shape.
    #[error("{event_type} v{version} does not decode: {reason}")]
    Shape {
        /// The event type.
        event_type: String,
        /// Its version after upcasting.
        version: String,
        /// serde's message.
        reason: String,
    },
}

/// Brings `payload` (of `event_type` at `version`) to the newest version `E` knows, returning
/// that version and the payload.
pub fn upcast<E: Versioned>(
    event_type: &str,
    version: &str,
    mut payload: Value,
) -> Result<(String, Value), DecodeError> {
    let mut version = version.to_owned();
    // Each step moves the version on; a chain longer than the list would be a cycle.
    for _ in 0..=E::UPCASTERS.len() {
        let Some(step) = E::UPCASTERS.iter().find(|u| u.event_type == event_type && u.from == version) else {
            return Ok((version, payload));
        };
        payload = (step.upcast)(payload).map_err(|reason| DecodeError::Upcast {
            event_type: event_type.to_owned(),
            version: version.clone(),
            reason,
        })?;
        version = step.to.to_owned();
    }
    Err(DecodeError::Upcast {
        event_type: event_type.to_owned(),
        version,
        reason: "the upcasters form a cycle".to_owned(),
    })
}

/// Something that can be done with any registered aggregate type, chosen at run time by name
/// (firing a timer runs a command on whichever aggregate declared it).
pub trait AggregateVisitor {
    /// What the visit gives back.
    type Output;
    /// Called with the aggregate type whose `TYPE` was asked for.
    fn visit<A: Consequences + Send + Sync + 'static>(self) -> Self::Output
    where
        A::Command: Send + Sync,
        A::Event: Send + Sync;
}

macro_rules! registry {
    ($($variant:ident => $aggregate:ty, $event:ty;)*) => {
        /// Any event of the domain, typed.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $(
                #[doc = concat!("An event of the `", stringify!($variant), "` aggregate.")]
                $variant($event),
            )*
        }

        impl Event {
            /// Decodes a stored event, upcasting older versions.
            pub fn decode(
                aggregate_type: &str,
                event_type: &str,
                event_version: &str,
                payload: Value,
            ) -> Result<Self, DecodeError> {
                $(
                    if aggregate_type == <$aggregate as cqrs_es::Aggregate>::TYPE {
                        return decode_as::<$event>(event_type, event_version, payload).map(Self::$variant);
                    }
                )*
                Err(DecodeError::UnknownAggregate(aggregate_type.to_owned()))
            }

            /// The aggregate type this event belongs to.
            pub fn aggregate_type(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$aggregate as cqrs_es::Aggregate>::TYPE,)*
                }
            }
        }

        /// Every registered aggregate type.
        pub const AGGREGATE_TYPES: &[&str] = &[$(<$aggregate as cqrs_es::Aggregate>::TYPE,)*];

        /// Calls `visitor` with the aggregate type named `aggregate_type`, if it is registered.
        pub fn visit<V: AggregateVisitor>(aggregate_type: &str, visitor: V) -> Option<V::Output> {
            $(
                if aggregate_type == <$aggregate as cqrs_es::Aggregate>::TYPE {
                    return Some(visitor.visit::<$aggregate>());
                }
            )*
            None
        }
    };
}

registry! {
    Organization => Organization, OrganizationEvent;
    User => User, UserEvent;
    Operator => Operator, OperatorEvent;
    Site => Site, SiteEvent;
    Node => Node, NodeEvent;
    Timer => Timer, TimerEvent;
    Seller => Seller, SellerEvent;
    Series => NumberSeries, SeriesEvent;
    Plan => Plan, PlanEvent;
    BillingProfile => BillingProfile, BillingProfileEvent;
    Subscription => Subscription, SubscriptionEvent;
    Invoice => Invoice, InvoiceEvent;
    Coupon => Coupon, CouponEvent;
    Usage => Usage, UsageEvent;
    Security => AccountSecurity, SecurityEvent;
    SiteQuota => SiteQuota, SiteQuotaEvent;
    ExchangeRate => ExchangeRates, ExchangeRatesEvent;
    Zone => Zone, ZoneEvent;
    CustomDomain => CustomDomain, CustomDomainEvent;
    Certificate => Certificate, CertificateEvent;
    AcmeAccount => AcmeAccount, AcmeAccountEvent;
    Dunning => Dunning, DunningEvent;
    PaymentAccount => PaymentAccount, PaymentAccountEvent;
    Webhook => WebhookDelivery, WebhookEvent;
    Backup => Backup, BackupEvent;
    Restore => Restore, RestoreEvent;
    BackupSchedule => BackupSchedule, ScheduleEvent;
    DataSubject => DataSubject, SubjectEvent;
    CostModel => CostModel, CostModelEvent;
    Repository => Repository, RepositoryEvent;
    Sftp => SftpAccounts, SftpEvent;
}

/// Upcasts and deserializes a payload of the event enum `E`.
pub fn decode_as<E: Versioned + serde::de::DeserializeOwned>(
    event_type: &str,
    event_version: &str,
    payload: Value,
) -> Result<E, DecodeError> {
    let (version, payload) = upcast::<E>(event_type, event_version, payload)?;
    serde_json::from_value(payload).map_err(|e| DecodeError::Shape {
        event_type: event_type.to_owned(),
        version,
        reason: e.to_string(),
    })
}

impl Versioned for OrganizationEvent {}
impl Versioned for UserEvent {}
impl Versioned for SecurityEvent {}
impl Versioned for OperatorEvent {}
impl Versioned for NodeEvent {}
impl Versioned for TimerEvent {}
impl Versioned for SellerEvent {}
impl Versioned for SeriesEvent {}
impl Versioned for PlanEvent {}
impl Versioned for BillingProfileEvent {}
impl Versioned for SubscriptionEvent {}
impl Versioned for InvoiceEvent {}
impl Versioned for CouponEvent {}
impl Versioned for UsageEvent {}
impl Versioned for SiteQuotaEvent {}
impl Versioned for ExchangeRatesEvent {}
