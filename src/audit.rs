//! `berth audit`: the auditor's tools, run against the database directly.

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use uuid::Uuid;

use crate::connect;
use crate::settings::Settings;

/// `berth audit verify`: every chain and seal, then every view replayed and compared. Prints
/// a report; any finding is an error (a non-zero exit).
pub async fn verify(settings: &Settings, tenant: Option<Uuid>) -> anyhow::Result<()> {
    let pool = connect::postgres(settings, "audit").await?;
    // The replay opens sealed personal data as the live projectors do.
    let keys = keys(settings, &pool);
    berth_eventstore::personal::scoped(keys, verify_with(&pool, tenant)).await
}

/// The subject keys, when the master key is set (without it sealed fields read `[erased]`).
pub fn keys(settings: &Settings, pool: &sqlx::PgPool) -> Option<berth_eventstore::personal::Keys> {
    let key = settings.secrets.master_key.expose_secret();
    let vault = berth_eventstore::vault::Vault::new(key).ok()?;
    Some(berth_eventstore::personal::Keys::new(pool.clone(), vault, settings.billing.retention_years))
}

async fn verify_with(pool: &sqlx::PgPool, tenant: Option<Uuid>) -> anyhow::Result<()> {
    let pool = pool.clone();
    let started = std::time::Instant::now();
    let log = berth_eventstore::verify::verify_log(&pool, tenant).await.context("reading the log")?;
    let took = started.elapsed();
    let scope = tenant.map_or_else(|| "the whole log".to_owned(), |t| format!("tenant {t}"));
    println!(
        "log ({scope}): {} events in their chains, {} seals ({} events after the last), {:.2?} ({:.0} events/s)",
        log.events,
        log.seals,
        log.unsealed,
        took,
        log.events as f64 / took.as_secs_f64().max(1e-9)
    );
    for finding in &log.findings {
        println!("  FINDING {finding}");
    }
    let mut findings = log.findings.len();
    for projection in berth_projections::all() {
        let report = berth_projections::compare::compare(&pool, projection.as_ref(), tenant)
            .await
            .with_context(|| format!("replaying `{}`", projection.name()))?;
        let verdict = if report.agrees() { "agrees" } else { "DIFFERS" };
        println!("view {}: {} events replayed, {verdict}", report.projection, report.events);
        for table in report.tables.iter().filter(|t| !t.same) {
            findings += 1;
            println!(
                "  FINDING {}.{}: {} live rows, {} replayed; first difference {}",
                report.projection,
                table.table,
                table.rows.0,
                table.rows.1,
                table.first_difference.as_deref().unwrap_or("(same rows, other contents)")
            );
        }
    }
    anyhow::ensure!(findings == 0, "{findings} finding(s)");
    println!("verified: no findings");
    Ok(())
}

/// `berth export`: the tenant's events in a window, and a manifest signed with the sealer key.
pub async fn export(
    settings: &Settings,
    tenant: Uuid,
    from: Option<&str>,
    to: Option<&str>,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    use berth_eventstore::export::{self, Window};
    let parse = |name: &str, text: Option<&str>| {
        text.map(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .with_context(|| format!("--{name} must be an RFC 3339 time, such as 2026-01-31T00:00:00Z"))
        })
        .transpose()
    };
    let window = Window { after: (0, 0), from: parse("from", from)?, to: parse("to", to)? };
    if let (Some(from), Some(to)) = (window.from, window.to) {
        anyhow::ensure!(from < to, "--from must be before --to");
    }
    let pool = connect::postgres(settings, "export").await?;
    let vault = berth_eventstore::vault::Vault::new(settings.secrets.master_key.expose_secret())
        .context("the export is signed with the sealer's key, which needs secrets.master_key")?;
    let keys = keys(settings, &pool);
    let count =
        berth_eventstore::personal::scoped(keys, export::write(&pool, &vault, tenant, window, out)).await?;
    println!("exported {count} events of tenant {tenant} to {}", out.display());
    Ok(())
}

/// `berth export verify`: checks an export offline; `key` (hex) is the published public key
/// (without it, the key the manifest names is used: that only shows the export is intact).
pub fn export_verify(dir: &std::path::Path, key: Option<&str>) -> anyhow::Result<()> {
    let key = key
        .map(|k| berth_eventstore::export::unhex_vec(k).context("--key must be the public key in hex"))
        .transpose()?;
    match berth_eventstore::export::verify(dir, key.as_deref()) {
        Ok(count) => {
            println!("export verified: {count} events, signature and chains check out");
            Ok(())
        }
        Err(problems) => {
            for problem in &problems {
                println!("  FINDING {problem}");
            }
            anyhow::bail!("the export does not verify ({} finding(s))", problems.len())
        }
    }
}

/// `berth gdpr encrypt-existing`: seals the personal data of events written before sealing
/// existed, then rebuilds the views that copy payloads verbatim (the audit trail, the
/// security log) so they hold the sealed forms the log now has.
pub async fn encrypt_existing(settings: &Settings, batch: i64) -> anyhow::Result<()> {
    let pool = connect::postgres(settings, "gdpr").await?;
    let keys = keys(settings, &pool).context("sealing needs secrets.master_key")?;
    let store = berth_eventstore::store::EventStore::new(pool.clone(), settings.eventstore.snapshot_every)
        .with_keys(keys.clone());
    let done =
        berth_eventstore::reseal::encrypt_existing(&store, batch).await.context("re-encoding events")?;
    println!("sealed the personal data of {} events", done.events);
    for id in &done.refused {
        println!("  REFUSED {id}: it does not match its stored hash (run `berth audit verify`)");
    }
    if done.events > 0 {
        let copies: Vec<_> =
            berth_projections::all().into_iter().filter(|p| p.in_database().is_some()).collect();
        berth_eventstore::personal::scoped(Some(keys), async {
            for projection in copies {
                berth_projections::rebuild::rebuild(
                    &pool,
                    projection.as_ref(),
                    berth_projections::rebuild::DEFAULT_BATCH,
                )
                .await
                .with_context(|| format!("rebuilding `{}`", projection.name()))?;
                println!("rebuilt {}", projection.name());
            }
            anyhow::Ok(())
        })
        .await?;
    }
    anyhow::ensure!(done.refused.is_empty(), "{} event(s) refused", done.refused.len());
    Ok(())
}
