//! Durable timers: how fast a sagas process fires a crowd of timers that fall due at once.
//!
//! Invitations are seeded through the event store (each schedules its expiry timer), then a
//! sagas process in this process, on a clock the bench holds, is moved to the moment they are
//! all due; the figure is timers fired per second until the last one has fired.

use std::time::{Duration, Instant};

use berth_domain::email::Email;
use berth_domain::ids::{InvitationId, TenantId, UserId};
use berth_domain::name::DisplayName;
use berth_domain::organization::{Organization, OrganizationCommand};
use berth_domain::role::Role;
use berth_eventstore::clock::ManualClock;
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::store::EventStore;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::world::World;
use crate::app::{Application, Roles};
use crate::settings::Settings;

/// Invitations per organization (their expiries contend on the organization, as a tenant's
/// timers do).
const PER_ORGANIZATION: usize = 10;

/// Seeds `count` timers due at `due` and returns how fast they fire, per second.
pub async fn fire_rate(world: &World, count: usize) -> anyhow::Result<f64> {
    let store = EventStore::new(world.pool.clone(), 100);
    let due = OffsetDateTime::now_utc() + time::Duration::days(1);
    let organizations = count.div_ceil(PER_ORGANIZATION);
    let mut seeding = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let store = store.clone();
        seeding.spawn(async move {
            for _ in (worker..organizations).step_by(16) {
                seed_organization(&store, due).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = seeding.join_next().await {
        done??;
    }
    let total = (organizations * PER_ORGANIZATION) as i64;
    // Only the timer worker: the other sagas have nothing to do here.
    let mut vars = world.env_vars();
    vars.extend(
        ["BOOTSTRAP", "HEALTH"].map(|saga| (format!("BERTH_SAGAS__{saga}__ENABLED"), "false".to_owned())),
    );
    let settings = Settings::load_from(None, vars)?;
    let clock = ManualClock::at(OffsetDateTime::now_utc());
    let app =
        Application::build_with_clock(settings, Roles { sagas: true, ..Roles::NONE }, clock.clone()).await?;
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let started = Instant::now();
    clock.set(due);
    let deadline = started + Duration::from_secs(600);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tick.tick().await;
        let fired: i64 = sqlx::query_scalar("SELECT count(*) FROM timers WHERE status = 'fired'")
            .fetch_one(&world.pool)
            .await?;
        if fired >= total {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "only {fired} of {total} timers fired in ten minutes");
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    shutdown.cancel();
    running.await??;
    Ok(rate)
}

async fn seed_organization(store: &EventStore, expires_at: OffsetDateTime) -> anyhow::Result<()> {
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    let id = tenant.to_string();
    let meta = || CommandMetadata::new(Some(tenant.as_uuid()), "system:bench");
    let register = OrganizationCommand::Register {
        tenant_id: tenant,
        name: DisplayName::parse("Bench").map_err(anyhow::Error::msg)?,
        owner: UserId::from_uuid(Uuid::now_v7()),
        owner_email: Email::parse(&format!("owner-{tenant}@bench.test")).map_err(anyhow::Error::msg)?,
    };
    store.execute::<Organization>(&id, register, &meta(), RetryPolicy::default()).await?;
    for n in 0..PER_ORGANIZATION {
        let invite = OrganizationCommand::Invite {
            invitation_id: InvitationId::from_uuid(Uuid::now_v7()),
            email: Email::parse(&format!("guest-{n}@bench.test")).map_err(anyhow::Error::msg)?,
            role: Role::Member,
            expires_at,
            by_role: Role::Owner,
        };
        store.execute::<Organization>(&id, invite, &meta(), RetryPolicy::default()).await?;
    }
    Ok(())
}
