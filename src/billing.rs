//! `[billing]`: the trial registration starts, when invoices are due, the default plans, and
//! the seller and its series, applied at start as the same commands an operator sends over
//! the API. Applying them is idempotent: what already holds is not sent again, so a restart
//! with the same file appends nothing; a change applies to documents issued afterwards.

use std::sync::Arc;

use anyhow::Context as _;
use berth_command_api::routes::billing::input::AddressBody;
use berth_command_api::routes::billing::seller::SellerBody;
use berth_domain::billing::DocumentKind;
use berth_domain::ids::PlanId;
use berth_domain::money::Currency;
use berth_domain::plan::seed::default_plans;
use berth_domain::plan::{is_offered, Plan, PlanCode};
use berth_domain::seller::{Seller, SellerCommand, SELLER_ID};
use berth_domain::series::{NumberSeries, SeriesCommand, SeriesPrefix};
use berth_eventstore::billing::{plan_by_code, BillingPolicy};
use berth_eventstore::clock::Clock;
use berth_eventstore::execute::{ExecuteError, RetryPolicy};
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::store::EventStore;
use serde::Deserialize;
use uuid::Uuid;

/// Billing settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingSettings {
    /// The code of the plan whose trial a new tenant starts with; empty: no trial.
    pub trial_plan: String,
    /// The currency of that trial (the tenant can choose another before it ends).
    pub trial_currency: String,
    /// Days from an invoice's issue to its due date.
    pub payment_terms_days: u16,
    /// Days after a card's first failed charge that each retry runs (`[1, 3, 7]`; in a
    /// variable, comma-separated: `BERTH_BILLING__DUNNING_DAYS=1,3,7`).
    #[serde(deserialize_with = "days")]
    pub dunning_days: Vec<u16>,
    /// Days after the first failed charge (without a card: after the due date) before an
    /// unpaid tenant's sites are suspended.
    pub grace_days: u16,
    /// Whether to create Starter, Pro and Enterprise at start when they are missing.
    pub default_plans: bool,
    /// Years an issued document's buyer data is kept under its retention key before a timer
    /// shreds it (10 in Romania: Legea contabilității 82/1991, art. 25).
    #[serde(default = "ten")]
    pub retention_years: u32,
    /// The seller as its documents name it (applied at start when given).
    #[serde(default)]
    pub seller: Option<SellerSettings>,
    /// The series that number each kind of document (applied at start when given).
    #[serde(default)]
    pub series: Option<SeriesSettings>,
}

fn ten() -> u32 {
    10
}

/// `[billing.seller]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SellerSettings {
    /// The legal name.
    pub legal_name: String,
    /// The street lines of the registered address.
    pub address_lines: Vec<String>,
    /// The city (in Bucharest, the sector: `SECTOR1` … `SECTOR6`).
    pub city: String,
    /// The postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// The county, ISO 3166-2 (`RO-CJ`).
    pub county: String,
    /// The country (the tax rules cover a seller in Romania).
    #[serde(default = "romania")]
    pub country: String,
    /// The VAT id.
    pub vat_id: String,
    /// The trade register number.
    #[serde(default)]
    pub registration: Option<String>,
    /// The billing email.
    #[serde(default)]
    pub email: Option<String>,
    /// The account buyers pay into.
    pub iban: String,
    /// The bank.
    #[serde(default)]
    pub bank_name: Option<String>,
}

/// A list of days, as a TOML array or a comma-separated string (an environment variable).
fn days<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Days {
        List(Vec<u16>),
        Text(String),
    }
    match Days::deserialize(deserializer)? {
        Days::List(days) => Ok(days),
        Days::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| part.parse::<u16>().map_err(serde::de::Error::custom))
            .collect(),
    }
}

fn romania() -> String {
    "RO".to_owned()
}

/// `[billing.series]`: one series per kind of document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesSettings {
    /// Invoices.
    pub invoice: OneSeries,
    /// Credit notes.
    pub credit_note: OneSeries,
    /// Proformas.
    pub proforma: OneSeries,
}

/// One series.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneSeries {
    /// 1 to 6 capital letters.
    pub prefix: String,
    /// Whether numbering starts again at 1 each calendar year.
    #[serde(default)]
    pub yearly_restart: bool,
}

/// The keys under `[billing]` that are tables of their own, for the check of `BERTH_`
/// variables.
pub const NESTED_KEYS: &[&str] = &[
    "billing.seller.legal_name",
    "billing.seller.city",
    "billing.seller.postal_code",
    "billing.seller.county",
    "billing.seller.country",
    "billing.seller.vat_id",
    "billing.seller.registration",
    "billing.seller.email",
    "billing.seller.iban",
    "billing.seller.bank_name",
    "billing.series.invoice.prefix",
    "billing.series.invoice.yearly_restart",
    "billing.series.credit_note.prefix",
    "billing.series.credit_note.yearly_restart",
    "billing.series.proforma.prefix",
    "billing.series.proforma.yearly_restart",
];

impl BillingSettings {
    /// The policy the command API and the sagas bill by; a bad value names its setting.
    pub fn policy(&self) -> anyhow::Result<BillingPolicy> {
        let trial_plan = match self.trial_plan.trim() {
            "" => None,
            code => Some(PlanCode::parse(code).map_err(|e| anyhow::anyhow!("billing.trial_plan: {e}"))?),
        };
        let trial_currency =
            Currency::parse(&self.trial_currency).ok().filter(|c| is_offered(*c)).ok_or_else(|| {
                anyhow::anyhow!("billing.trial_currency: `{}` is not RON, EUR or USD", self.trial_currency)
            })?;
        let mut dunning_days = self.dunning_days.clone();
        if dunning_days.windows(2).any(|w| w[0] >= w[1]) || dunning_days.first() == Some(&0) {
            anyhow::bail!(
                "billing.dunning_days: days after the first failure, rising, from 1 (such as 1, 3, 7)"
            );
        }
        if dunning_days.last().is_some_and(|last| *last >= self.grace_days) {
            anyhow::bail!("billing.dunning_days: every retry runs before grace ends (billing.grace_days)");
        }
        dunning_days.dedup();
        Ok(BillingPolicy {
            trial_plan,
            trial_currency,
            payment_terms_days: self.payment_terms_days,
            dunning_days,
            grace_days: self.grace_days,
        })
    }

    /// The seller's details as the command that sets them, checked like the API checks them.
    fn seller_command(&self) -> anyhow::Result<Option<SellerCommand>> {
        let Some(seller) = &self.seller else { return Ok(None) };
        let body = SellerBody {
            legal_name: seller.legal_name.clone(),
            address: AddressBody {
                lines: seller.address_lines.clone(),
                city: seller.city.clone(),
                postal_code: seller.postal_code.clone(),
                subdivision: Some(seller.county.clone()),
                country: seller.country.clone(),
            },
            vat_id: seller.vat_id.clone(),
            registration: seller.registration.clone(),
            email: seller.email.clone(),
            iban: seller.iban.clone(),
            bank_name: seller.bank_name.clone(),
        };
        body.into_command().map(Some).map_err(|e| anyhow::anyhow!("billing.seller: {e}"))
    }
}

/// A command of the start-up's, with an id derived from what it does: two processes starting
/// at once send the same command, and the second appends nothing.
fn metadata(what: &str) -> CommandMetadata {
    let mut meta = CommandMetadata::new(None, "system:settings");
    meta.command_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("berth:settings:{what}").as_bytes());
    meta.correlation_id = meta.command_id;
    meta
}

/// Applies `[billing]` to the log: the default plans that are missing, then the seller and
/// the series when given.
pub async fn apply(
    store: &EventStore,
    settings: &BillingSettings,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<()> {
    let retry = RetryPolicy::default();
    if settings.default_plans {
        for seed in default_plans() {
            let code = PlanCode::parse(seed.code).context("a default plan's code")?;
            if plan_by_code(store, &code).await?.is_some() {
                continue;
            }
            let id = PlanId::from_uuid(Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("berth:plan:{}", seed.code).as_bytes(),
            ));
            let command = seed.create(id, clock.now().date());
            match store
                .execute::<Plan>(&id.to_string(), command, &metadata(&format!("plan:{}", seed.code)), retry)
                .await
            {
                // Another process created it first.
                Ok(_) | Err(ExecuteError::Taken { .. }) => {}
                Err(error) => {
                    return Err(anyhow::anyhow!("creating the default plan {}: {error}", seed.code))
                }
            }
        }
    }
    if let Some(SellerCommand::SetDetails { party, iban, bank_name }) = settings.seller_command()? {
        let seller = store.load::<Seller>(SELLER_ID).await?.aggregate;
        let payment = berth_domain::billing::PaymentMeans::bank_transfer(iban.clone(), bank_name.as_deref())
            .map_err(|e| anyhow::anyhow!("billing.seller.bank_name: {e}"))?;
        if seller.details().ok() != Some((&*party, &payment)) {
            let command = SellerCommand::SetDetails { party, iban, bank_name };
            let meta = CommandMetadata::new(None, "system:settings");
            store
                .execute::<Seller>(SELLER_ID, command, &meta, retry)
                .await
                .map_err(|e| anyhow::anyhow!("billing.seller: {e}"))?;
        }
    }
    if let Some(series) = &settings.series {
        let kinds = [
            (DocumentKind::Invoice, &series.invoice, "invoice"),
            (DocumentKind::CreditNote, &series.credit_note, "credit_note"),
            (DocumentKind::Proforma, &series.proforma, "proforma"),
        ];
        for (kind, wanted, name) in kinds {
            apply_series(store, kind, wanted, name, retry).await?;
        }
    }
    Ok(())
}

async fn apply_series(
    store: &EventStore,
    kind: DocumentKind,
    wanted: &OneSeries,
    name: &str,
    retry: RetryPolicy,
) -> anyhow::Result<()> {
    let setting = format!("billing.series.{name}");
    let prefix = SeriesPrefix::parse(&wanted.prefix).map_err(|e| anyhow::anyhow!("{setting}.prefix: {e}"))?;
    let series = store.load::<NumberSeries>(prefix.as_str()).await?.aggregate;
    if !series.is_open() {
        let open =
            SeriesCommand::Open { prefix: prefix.clone(), kind, yearly_restart: wanted.yearly_restart };
        let meta = metadata(&format!("series:{}", prefix.as_str()));
        store
            .execute::<NumberSeries>(prefix.as_str(), open, &meta, retry)
            .await
            .map_err(|e| anyhow::anyhow!("{setting}: opening {}: {e}", prefix.as_str()))?;
    } else if series.kind() != Some(kind) || series.yearly_restart() != wanted.yearly_restart {
        anyhow::bail!(
            "{setting}: the series {} is open already for {} documents{}; numbers it gave stay as they are, so choose a new prefix",
            prefix.as_str(),
            series.kind().map_or("other", DocumentKind::as_str),
            if series.yearly_restart() { " with a yearly restart" } else { " without a yearly restart" }
        );
    }
    let seller = store.load::<Seller>(SELLER_ID).await?.aggregate;
    if seller.series_for(kind).ok() != Some(&prefix) {
        let choose = SellerCommand::ChooseSeries { kind, prefix };
        store
            .execute::<Seller>(SELLER_ID, choose, &CommandMetadata::new(None, "system:settings"), retry)
            .await
            .map_err(|e| anyhow::anyhow!("{setting}: {e}"))?;
    }
    Ok(())
}
