//! Grandfather-father-son retention, as a pure function: which of a site's backups the plan
//! keeps, and which are to be pruned.
//!
//! For each generation (hour, day, ISO week, month, in UTC) the newest backup of each of the
//! last N periods that have one is kept; a backup kept by any generation stays. The newest
//! verified backup is always kept. Only verified backups count: one that never verified is
//! never kept in place of a good one, and whatever object it left is pruned.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use crate::ids::BackupId;
use crate::plan::GfsKeep;

/// A backup as retention sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// The backup.
    pub id: BackupId,
    /// When it was requested (the moment it captures).
    pub taken_at: OffsetDateTime,
    /// Whether it verified.
    pub verified: bool,
    /// Kept at least until then whatever the plan says (taken before the site was deleted).
    pub keep_until: Option<OffsetDateTime>,
}

/// The period a backup falls in, for one generation: (year, ordinal of the period, hour).
type Period = fn(OffsetDateTime) -> (i32, u32, u32);

/// The verified backups `keep` keeps out of `verified` (ids and times): at most
/// [`GfsKeep::most`], always the newest, and the same set whatever the order of the input.
pub fn gfs(verified: &[(BackupId, OffsetDateTime)], keep: GfsKeep) -> BTreeSet<BackupId> {
    let mut newest_first: Vec<(BackupId, OffsetDateTime)> = verified.to_vec();
    newest_first.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    // One entry per id (its newest), so a repeated id cannot be counted twice.
    let mut seen = BTreeSet::new();
    newest_first.retain(|(id, _)| seen.insert(*id));

    let mut kept = BTreeSet::new();
    if let Some((newest, _)) = newest_first.first() {
        kept.insert(*newest);
    }
    let generations: [(u32, Period); 4] = [
        (keep.hourly, |t| (t.year(), t.ordinal().into(), t.hour().into())),
        (keep.daily, |t| (t.year(), t.ordinal().into(), 0)),
        (keep.weekly, |t| {
            let (year, week, _) = t.to_iso_week_date();
            (year, week.into(), 0)
        }),
        (keep.monthly, |t| (t.year(), u8::from(t.month()).into(), 0)),
    ];
    for (count, period) in generations {
        let mut periods = BTreeSet::new();
        for (id, at) in &newest_first {
            if periods.len() >= count as usize {
                break;
            }
            // Newest first: the first backup met in a period is that period's newest.
            if periods.insert(period(*at)) {
                kept.insert(*id);
            }
        }
    }
    kept
}

/// The backups of one site to prune at `now`, out of its settled ones (verified, or failed for
/// good): verified ones the plan no longer keeps, and failed ones older than the newest
/// verified one, except any held by `keep_until`.
pub fn to_prune(backups: &[Stored], keep: GfsKeep, now: OffsetDateTime) -> BTreeSet<BackupId> {
    let held = |b: &Stored| b.keep_until.is_some_and(|until| until > now);
    let governed: Vec<(BackupId, OffsetDateTime)> =
        backups.iter().filter(|b| b.verified && !held(b)).map(|b| (b.id, b.taken_at)).collect();
    let kept = gfs(&governed, keep);
    let newest_verified = backups.iter().filter(|b| b.verified).map(|b| b.taken_at).max();
    backups
        .iter()
        .filter(|b| !held(b))
        .filter(|b| {
            if b.verified {
                !kept.contains(&b.id)
            } else {
                newest_verified.is_some_and(|newest| b.taken_at < newest)
            }
        })
        .map(|b| b.id)
        .collect()
}
