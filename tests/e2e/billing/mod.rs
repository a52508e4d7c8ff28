//! Billing against the real event store: gapless numbers under concurrency and crashes, the
//! one invoice of a subscription period, documents that refuse change, coupons that run out,
//! e-Factura validation of every fiscal document, and the billing views.

mod coupons;
mod documents;
mod efactura;
pub(crate) mod http;
mod numbering;
mod payments;
mod subscriptions;
mod views;

use berth_domain::aggregate::Consequences;
use berth_domain::billing::{
    CountryCode, DocumentKind, ExchangeRate, Iban, Party, PostalAddress, Quantity, RateCategory, UnitCode,
    VatId, VatRateTable,
};
use berth_domain::billing_profile::{BillingProfile, BillingProfileCommand};
use berth_domain::email::Email;
use berth_domain::ids::{InvoiceId, PlanId, TenantId};
use berth_domain::invoice::{DraftLine, Invoice, InvoiceCommand, SubscriptionPeriod};
use berth_domain::money::{Currency, Money};
use berth_domain::plan::seed::default_plans;
use berth_domain::plan::Plan;
use berth_domain::seller::{Seller, SellerCommand, SELLER_ID};
use berth_domain::series::{NumberSeries, SeriesCommand, SeriesPrefix};
use berth_eventstore::billing::{issue_document, BillingError, IssueRequest, Issued};
use berth_eventstore::execute::{CommandOutcome, ExecuteError, RetryPolicy};
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::store::EventStore;
use time::macros::date;
use time::Date;
use uuid::Uuid;

use crate::common::TestEnv;

/// Metadata of an operator's command.
pub fn operator() -> CommandMetadata {
    CommandMetadata::new(None, "operator:test")
}

/// Metadata of a tenant's command.
pub fn by(tenant: TenantId) -> CommandMetadata {
    CommandMetadata::new(Some(tenant.as_uuid()), "user:test")
}

/// Runs a command that must succeed.
pub async fn run<A: Consequences>(
    store: &EventStore,
    id: &str,
    command: A::Command,
    meta: &CommandMetadata,
) -> CommandOutcome
where
    A::Error: std::fmt::Debug,
{
    store
        .execute::<A>(id, command, meta, RetryPolicy::default())
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", A::TYPE))
}

/// Runs a command that may be refused.
pub async fn attempt<A: Consequences>(
    store: &EventStore,
    id: &str,
    command: A::Command,
    meta: &CommandMetadata,
) -> Result<CommandOutcome, ExecuteError<A::Error>> {
    store.execute::<A>(id, command, meta, RetryPolicy::default()).await
}

pub fn money(minor: i64, code: &str) -> Money {
    Money::new(minor, Currency::parse(code).unwrap()).unwrap()
}

pub fn currency(code: &str) -> Currency {
    Currency::parse(code).unwrap()
}

fn country(code: &str) -> CountryCode {
    CountryCode::parse(code).unwrap()
}

pub fn seller() -> Party {
    let address = PostalAddress::new(
        &["Str. Memorandumului 28"],
        "Cluj-Napoca",
        Some("400114"),
        Some("RO-CJ"),
        CountryCode::ROMANIA,
    )
    .unwrap();
    let email = Email::parse("facturare@berth-hosting.ro").ok();
    Party::company(
        "Berth Găzduire SRL",
        address,
        Some(VatId::parse("RO18547290").unwrap()),
        Some("J12/3456/2020"),
        email,
    )
    .unwrap()
}

pub fn romanian_company() -> Party {
    let address =
        PostalAddress::new(&["Bd. Unirii 10"], "SECTOR3", Some("030167"), Some("RO-B"), CountryCode::ROMANIA)
            .unwrap();
    Party::company(
        "Țesătoria Ștefănescu SRL",
        address,
        Some(VatId::parse("RO14399840").unwrap()),
        Some("J40/1234/2015"),
        None,
    )
    .unwrap()
}

pub fn romanian_person() -> Party {
    let address = PostalAddress::new(
        &["Str. Lăpușneanu 5"],
        "Iași",
        Some("700057"),
        Some("RO-IS"),
        CountryCode::ROMANIA,
    )
    .unwrap();
    Party::person("Ioana Ștefănescu", address, None, None).unwrap()
}

pub fn german_company() -> Party {
    let address =
        PostalAddress::new(&["Friedrichstraße 123"], "Berlin", Some("10117"), None, country("DE")).unwrap();
    Party::company("Müller Hosting GmbH", address, Some(VatId::parse("DE123456789").unwrap()), None, None)
        .unwrap()
}

pub fn french_person() -> Party {
    let address =
        PostalAddress::new(&["12 rue de l'Église"], "Lyon", Some("69002"), None, country("FR")).unwrap();
    Party::person("Élodie Lefèvre", address, None, None).unwrap()
}

pub fn us_company() -> Party {
    let address =
        PostalAddress::new(&["500 Market Street"], "San Francisco", Some("94105"), Some("CA"), country("US"))
            .unwrap();
    Party::company("Acme Web Inc.", address, None, None, None).unwrap()
}

/// The day the tests bill on: after the 2025-08-01 rate change, so Romanian VAT is 21%.
pub const TODAY: Date = date!(2025 - 09 - 01);

/// A line of `price` × `thousandths` / 1000 months at the standard rate.
pub fn line(description: &str, price: Money, thousandths: i64) -> DraftLine {
    DraftLine::new(
        description,
        Quantity::from_thousandths(thousandths).unwrap(),
        UnitCode::Month,
        price,
        RateCategory::Standard,
        None,
    )
    .unwrap()
}

/// A test world with the seller's books open: details, and the series BRT (invoices), CRN
/// (credit notes) and PRO (proformas).
pub struct World {
    pub env: TestEnv,
    pub store: EventStore,
}

impl World {
    pub async fn new() -> Self {
        let env = TestEnv::new().await;
        let store = env.store();
        let world = Self { env, store };
        world.open_books().await;
        world
    }

    async fn open_books(&self) {
        let iban = Iban::parse("RO49AAAA1B31007593840000").unwrap();
        let details = SellerCommand::SetDetails {
            party: Box::new(seller()),
            iban,
            bank_name: Some("Banca Transilvania".into()),
        };
        run::<Seller>(&self.store, SELLER_ID, details, &operator()).await;
        for (prefix, kind) in [
            ("BRT", DocumentKind::Invoice),
            ("CRN", DocumentKind::CreditNote),
            ("PRO", DocumentKind::Proforma),
        ] {
            let prefix = SeriesPrefix::parse(prefix).unwrap();
            let open = SeriesCommand::Open { prefix: prefix.clone(), kind, yearly_restart: false };
            run::<NumberSeries>(&self.store, prefix.as_str(), open, &operator()).await;
            run::<Seller>(&self.store, SELLER_ID, SellerCommand::ChooseSeries { kind, prefix }, &operator())
                .await;
        }
    }

    /// Registers Starter, Pro and Enterprise; their ids in that order.
    pub async fn plans(&self) -> Vec<PlanId> {
        let mut ids = Vec::new();
        for seed in default_plans() {
            let id = PlanId::from_uuid(Uuid::now_v7());
            run::<Plan>(&self.store, &id.to_string(), seed.create(id, date!(2025 - 01 - 01)), &operator())
                .await;
            ids.push(id);
        }
        ids
    }

    /// A tenant billed as `party` in `code`.
    pub async fn tenant(&self, party: Party, code: &str) -> TenantId {
        let tenant = TenantId::from_uuid(Uuid::now_v7());
        let set = BillingProfileCommand::Set { tenant_id: tenant, party, currency: currency(code) };
        run::<BillingProfile>(&self.store, &tenant.to_string(), set, &by(tenant)).await;
        tenant
    }

    /// A draft of `kind` for `tenant`.
    pub async fn draft(
        &self,
        tenant: TenantId,
        kind: DocumentKind,
        code: &str,
        lines: Vec<DraftLine>,
        billing: Option<SubscriptionPeriod>,
        corrects: Option<InvoiceId>,
    ) -> InvoiceId {
        let id = InvoiceId::from_uuid(Uuid::now_v7());
        let create = InvoiceCommand::CreateDraft {
            invoice_id: id,
            tenant_id: tenant,
            kind,
            currency: currency(code),
            lines,
            coupon: None,
            billing,
            corrects,
            from_proforma: None,
        };
        run::<Invoice>(&self.store, &id.to_string(), create, &by(tenant)).await;
        id
    }

    /// Issues `invoice` of `tenant` on [`TODAY`], due in 14 days (none for a credit note).
    pub async fn issue(&self, tenant: TenantId, invoice: InvoiceId) -> Result<Issued, BillingError> {
        issue_document(&self.store, &request(&self.store, invoice).await, &by(tenant), RetryPolicy::default())
            .await
    }

    pub async fn invoice(&self, id: InvoiceId) -> Invoice {
        self.store.load::<Invoice>(&id.to_string()).await.unwrap().aggregate
    }
}

/// The request that issues `invoice` on [`TODAY`], with a rate to lei for a foreign currency.
pub async fn request(store: &EventStore, invoice: InvoiceId) -> IssueRequest {
    let draft = store.load::<Invoice>(&invoice.to_string()).await.unwrap().aggregate;
    let foreign = draft.currency().is_some_and(|c| c.as_str() != "RON");
    let credit_note = draft.kind() == Some(DocumentKind::CreditNote);
    IssueRequest {
        invoice_id: invoice,
        issue_date: TODAY,
        due_date: (!credit_note).then(|| TODAY + time::Duration::days(14)),
        supply_date: None,
        exchange_rate: foreign.then(|| ExchangeRate::parse("4.9763", TODAY).unwrap()),
        rates: VatRateTable::builtin().clone(),
    }
}

/// The refusal inside a billing error, as `E`.
pub fn refusal<E: berth_domain::error::Refusal + Clone>(error: &BillingError) -> E {
    match error {
        BillingError::Rejected(refused) => {
            refused.downcast_ref::<E>().cloned().unwrap_or_else(|| panic!("{refused:?}"))
        }
        other => panic!("not a refusal: {other:?}"),
    }
}
