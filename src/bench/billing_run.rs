//! A billing run: `count` paid periods that all began before any sagas process ran (so all are
//! due at once). `berth serve` then starts, and the renewal saga and the collection saga
//! invoice every one and charge it to a card at the local Stripe. The figure is the time from
//! the server's start until every invoice is paid.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use berth_domain::billing::{CountryCode, Party, PostalAddress, VatId};
use berth_domain::billing_profile::{BillingProfile, BillingProfileCommand};
use berth_domain::ids::{SubscriptionId, TenantId};
use berth_domain::money::Currency;
use berth_domain::payment_account::{PaymentAccount, PaymentAccountCommand, SavedCard};
use berth_domain::plan::{BillingPeriod, PlanCode};
use berth_eventstore::billing::{plan_by_code, subscribe, SubscribeRequest};
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::store::EventStore;
use berth_payments::PaymentGateway;
use futures::StreamExt;
use secrecy::SecretString;

use super::world::World;

/// What the run measured.
pub struct BillingRun {
    pub subscriptions: usize,
    pub issued_secs: f64,
    pub paid_secs: f64,
}

/// How many invoices were issued and settled, counted as the feed goes by: each check reads
/// only the events committed since the last one (in feed order, below the oldest running
/// transaction, so a late commit is never skipped). Counting every invoice event at each check
/// took PostgreSQL 37 ms a time at 10,000 renewals, two fifths of its work in the run.
#[derive(Default)]
struct Progress {
    after: (i64, i64),
    issued: i64,
    settled: i64,
}

impl Progress {
    async fn advance(&mut self, world: &World) -> anyhow::Result<()> {
        let (issued, settled, tx, gp): (i64, i64, Option<i64>, Option<i64>) = sqlx::query_as(
            "WITH new AS (
                 SELECT transaction_id, global_position, aggregate_type, event_type FROM events
                  WHERE (transaction_id, global_position) > ($1::bigint::text::xid8, $2)
                    AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())),
             last AS (SELECT transaction_id, global_position FROM new
                       ORDER BY transaction_id DESC, global_position DESC LIMIT 1)
             SELECT (SELECT count(*) FROM new WHERE aggregate_type = 'invoice' AND event_type = 'InvoiceIssued'),
                    (SELECT count(*) FROM new WHERE aggregate_type = 'invoice' AND event_type = 'InvoiceSettled'),
                    (SELECT transaction_id::text::bigint FROM last), (SELECT global_position FROM last)",
        )
        .bind(self.after.0)
        .bind(self.after.1)
        .fetch_one(&world.pool)
        .await?;
        self.issued += issued;
        self.settled += settled;
        if let (Some(tx), Some(gp)) = (tx, gp) {
            self.after = (tx, gp);
        }
        Ok(())
    }
}

/// On a running platform the views of the tenants, profiles and subscriptions were built as
/// they were written, long before their periods fell due; the run's set-up wrote them all just
/// now. So a `berth projections` process builds the views first, and the clock starts once every
/// view has read the whole log: the figure is the renewals', not the catching up of the set-up.
async fn views_built(world: &World) -> anyhow::Result<()> {
    let started = Instant::now();
    let projections = world.spawn("projections", &[]).await?;
    // The last event in feed order (the writing transaction's id, then the position).
    let head: (i64, i64) = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM events
          ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
    )
    .fetch_one(&world.pool)
    .await?;
    let names: Vec<String> = berth_projections::projection::all()
        .iter()
        .map(|p| berth_projections::projection::checkpoint_name(p.name()))
        .collect();
    let deadline = started + Duration::from_secs(1800);
    loop {
        let built: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM checkpoints
              WHERE name = ANY($1) AND (transaction_id::text::bigint, global_position) >= ($2, $3)",
        )
        .bind(&names)
        .bind(head.0)
        .bind(head.1)
        .fetch_one(&world.pool)
        .await?;
        let behind = names.len() as i64 - built;
        if behind == 0 {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "{behind} views did not catch up in 1800 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(projections);
    eprintln!(
        "# the set-up's views built in {:.1} s, before the clock starts",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A Stripe fake of the run's own, in memory and with no webhook endpoints, in front of the
/// local stripe-stateful-mock at `upstream`: the shared one keeps its state on disk (rewritten
/// after every change) and delivers to every endpoint registered with it, which would measure
/// the fake rather than Berth.
async fn private_fake(upstream: &str) -> anyhow::Result<(tokio::process::Child, String)> {
    use tokio::io::AsyncBufReadExt;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/stripe-fake/fake.py");
    let mut child = tokio::process::Command::new("python3")
        .args([script, "--listen", "127.0.0.1:0", "--upstream", upstream])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting deploy/stripe-fake/fake.py")?;
    let stdout = child.stdout.take().context("the fake's output")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await??.unwrap_or_default();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .context("the fake did not say where it listens")?
        .to_owned();
    Ok((child, url))
}

/// Runs it against a fake of its own in front of the local stripe-stateful-mock at `upstream`.
pub async fn run(world: &World, count_of: usize, upstream: &str) -> anyhow::Result<BillingRun> {
    let (_fake, stripe) = private_fake(upstream).await?;
    let stripe_url = stripe.as_str();
    // The seller, its series and the plans, as the command API applies them at start.
    drop(world.spawn("command-api", &[]).await?);
    let store = EventStore::new(world.pool.clone(), 0);
    // Enterprise has no trial: each subscription's first paid period begins at once, and its
    // invoice is the renewal saga's as soon as a sagas process runs.
    let enterprise = PlanCode::parse("enterprise").map_err(|e| anyhow::anyhow!("{e}"))?;
    let plan = plan_by_code(&store, &enterprise).await?.context("the Enterprise plan")?;
    let gateway = berth_payments::StripeGateway::new(&berth_payments::StripeSettings {
        url: format!("{}/", stripe_url.trim_end_matches('/')),
        secret_key: SecretString::from("sk_test_berth_local".to_owned()),
        timeout: Duration::from_secs(20),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    // One customer and card stand for every tenant's: the run measures Berth, not the fake.
    let customer = gateway.create_customer(uuid::Uuid::now_v7(), "Bench", None).await?;
    let card = gateway.attach_card(&customer, "pm_card_visa").await?;
    let address =
        PostalAddress::new(&["Bd. Unirii 10"], "SECTOR3", Some("030167"), Some("RO-B"), CountryCode::ROMANIA)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let vat = VatId::parse("RO14399840").map_err(|e| anyhow::anyhow!("{e}"))?;
    let party = Party::company("Bench Buyer SRL", address, Some(vat), Some("J40/1234/2015"), None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let currency = Currency::parse("RON").map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = time::OffsetDateTime::now_utc();
    let setup = futures::stream::iter(0..count_of)
        .map(|_| {
            let (store, party, card, customer) = (&store, &party, &card, &customer);
            async move {
                let tenant = TenantId::from_uuid(uuid::Uuid::now_v7());
                let id = tenant.to_string();
                let meta = CommandMetadata::new(Some(tenant.as_uuid()), "system:bench");
                let profile =
                    BillingProfileCommand::Set { tenant_id: tenant, party: party.clone(), currency };
                store.execute::<BillingProfile>(&id, profile, &meta, RetryPolicy::default()).await?;
                let link =
                    PaymentAccountCommand::LinkCustomer { tenant_id: tenant, customer: customer.clone() };
                store
                    .execute::<PaymentAccount>(&id, link, &meta.step("customer"), RetryPolicy::default())
                    .await?;
                let saved = SavedCard {
                    payment_method: card.payment_method.clone(),
                    brand: card.brand.clone(),
                    last4: card.last4.clone(),
                    exp_month: card.exp_month,
                    exp_year: card.exp_year,
                };
                let save = PaymentAccountCommand::SaveCard { card: saved };
                store
                    .execute::<PaymentAccount>(&id, save, &meta.step("card"), RetryPolicy::default())
                    .await?;
                let request = SubscribeRequest {
                    subscription_id: SubscriptionId::from_uuid(uuid::Uuid::now_v7()),
                    tenant_id: tenant,
                    plan_id: plan,
                    period: BillingPeriod::Month,
                    currency,
                    coupon: None,
                    today: now.date(),
                    now,
                };
                subscribe(store, &request, &meta.step("subscribe"), RetryPolicy::default()).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32);
    let results: Vec<anyhow::Result<()>> = setup.collect().await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;

    views_built(world).await?;

    let started = Instant::now();
    let server = world
        .spawn(
            "serve",
            &[
                ("BERTH_PAYMENTS__STRIPE_URL", stripe_url),
                ("BERTH_PAYMENTS__STRIPE_SECRET_KEY", "sk_test_berth_local"),
                ("BERTH_SAGAS__TIMERS__POLL_MS", "200"),
                // The run's tenants have no owners to mail, and VIES is not what is measured.
                ("BERTH_SAGAS__INVOICE_MAIL__ENABLED", "false"),
                ("BERTH_SAGAS__BILLING_MAIL__ENABLED", "false"),
                ("BERTH_SAGAS__VIES__ENABLED", "false"),
            ],
        )
        .await?;
    let deadline = started + Duration::from_secs(1800);
    let target = i64::try_from(count_of)?;
    let mut issued_secs = None;
    let mut progress = Progress::default();
    loop {
        progress.advance(world).await?;
        let issued = progress.issued;
        if issued >= target && issued_secs.is_none() {
            issued_secs = Some(started.elapsed().as_secs_f64());
        }
        if progress.settled >= target {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the run did not finish in 1800 s ({issued} issued)");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let paid_secs = started.elapsed().as_secs_f64();
    drop(server);
    Ok(BillingRun { subscriptions: count_of, issued_secs: issued_secs.unwrap_or(paid_secs), paid_secs })
}
