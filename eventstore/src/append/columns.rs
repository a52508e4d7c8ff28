//! The rows of one command's append, column by column, and the one statement that writes them
//! with its command record, unique values and feed wake-up.

use serde_json::Value;
use sqlx::PgExecutor;
use time::OffsetDateTime;

use super::Staged;
use crate::chain;
use crate::metadata::CommandMetadata;
use crate::store::FEED_CHANNEL;
use crate::timers;

/// One command's append statement.
pub(super) struct Append<'a> {
    /// The aggregate its command record names.
    pub primary: &'a Staged,
    pub metadata: &'a CommandMetadata,
    pub recorded_at: OffsetDateTime,
    pub columns: &'a EventColumns,
}

impl Append<'_> {
    /// Writes the command record and the events in one statement, after the aggregates were
    /// read, so feed order keeps per-aggregate order. The caller's credential is checked in the
    /// same statement (no round trip of its own): when it no longer works as it did, nothing is
    /// written and the answer is `false`.
    pub async fn run<'e>(
        &self,
        executor: impl PgExecutor<'e>,
        claims: &ClaimColumns,
        releases: &ClaimColumns,
    ) -> Result<bool, sqlx::Error> {
        let (metadata, columns) = (self.metadata, self.columns);
        sqlx::query_scalar::<_, bool>(
            "WITH guard AS (
                 SELECT 1 WHERE $22::uuid IS NULL OR EXISTS (
                     SELECT 1 FROM credentials c
                      WHERE c.id = $22 AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > now())
                        AND c.role IS NOT DISTINCT FROM $23)),
             command AS (
                 INSERT INTO commands (command_id, aggregate_type, aggregate_id, tenant_id, version, event_count)
                 SELECT $1, $2, $3, $4, $5, $6 FROM guard),
             appended AS (
                 INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, hash)
                 SELECT t, i, s, et, ev, p, m, $14, h
                   FROM UNNEST($7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::jsonb[], $13::jsonb[], $24::bytea[])
                        AS e(t, i, s, et, ev, p, m, h), guard),
             claimed AS (
                 INSERT INTO unique_claims (scope, value, owner)
                 SELECT c.s, c.v, c.o FROM UNNEST($16::text[], $17::text[], $18::text[]) AS c(s, v, o), guard),
             released AS (
                 DELETE FROM unique_claims u USING UNNEST($19::text[], $20::text[], $21::text[]) AS r(s, v, o), guard
                  WHERE u.scope = r.s AND u.value = r.v AND u.owner = r.o),
             -- The wake-up names the aggregate types written, so readers of other types sleep on.
             notified AS (SELECT pg_notify($15, (SELECT string_agg(DISTINCT t, ',') FROM UNNEST($7::text[]) t))
                            FROM guard WHERE $6 > 0)
             -- Counting `notified` makes it run (a plain SELECT in WITH runs only when read).
             SELECT EXISTS (SELECT 1 FROM guard) FROM (SELECT count(*) FROM notified) n",
        )
        .bind(metadata.command_id)
        .bind(self.primary.aggregate_type)
        .bind(&self.primary.aggregate_id)
        .bind(metadata.tenant_id)
        .bind(self.primary.new_version())
        .bind(i32::try_from(columns.len()).unwrap_or(i32::MAX))
        .bind(&columns.aggregate_type)
        .bind(&columns.aggregate_id)
        .bind(&columns.sequence)
        .bind(&columns.event_type)
        .bind(&columns.event_version)
        .bind(&columns.payload)
        .bind(&columns.metadata)
        .bind(self.recorded_at)
        .bind(FEED_CHANNEL)
        .bind(&claims.scope)
        .bind(&claims.value)
        .bind(&claims.owner)
        .bind(&releases.scope)
        .bind(&releases.value)
        .bind(&releases.owner)
        .bind(metadata.credential.as_ref().map(|c| c.id))
        .bind(metadata.credential.as_ref().and_then(|c| c.role.clone()))
        .bind(&columns.hash)
        .fetch_one(executor)
        .await
    }
}

/// Unique values to claim or release, column by column.
#[derive(Default)]
pub(super) struct ClaimColumns {
    pub scope: Vec<String>,
    pub value: Vec<String>,
    pub owner: Vec<String>,
}

impl ClaimColumns {
    pub fn push(&mut self, scope: &str, value: &str, owner: &str) {
        self.scope.push(scope.to_owned());
        self.value.push(value.to_owned());
        self.owner.push(owner.to_owned());
    }
}

/// The events of one append, column by column, for a single `UNNEST` insert.
#[derive(Default)]
pub(super) struct EventColumns {
    pub aggregate_type: Vec<String>,
    pub aggregate_id: Vec<String>,
    pub sequence: Vec<i64>,
    pub event_type: Vec<String>,
    pub event_version: Vec<String>,
    pub payload: Vec<Value>,
    pub metadata: Vec<Value>,
    pub hash: Vec<Option<Vec<u8>>>,
}

impl EventColumns {
    pub fn push(
        &mut self,
        kind: &str,
        id: &str,
        sequence: i64,
        event_type: &str,
        version: &str,
        payload: &Value,
    ) {
        self.aggregate_type.push(kind.to_owned());
        self.aggregate_id.push(id.to_owned());
        self.sequence.push(sequence);
        self.event_type.push(event_type.to_owned());
        self.event_version.push(version.to_owned());
        self.payload.push(payload.clone());
    }

    pub fn push_timer(&mut self, event: timers::TimerEventRow, metadata: Value, recorded_at: OffsetDateTime) {
        let (event_type, version, payload) = event.serialized;
        let aggregate_type = <berth_domain::timer::Timer as cqrs_es::Aggregate>::TYPE;
        let link = chain::Link {
            aggregate_type,
            aggregate_id: &event.key,
            sequence: event.sequence,
            event_type: &event_type,
            event_version: &version,
            payload: &payload,
            metadata: &metadata,
            recorded_at,
        };
        self.hash.push(Some(link.hash(&event.prev_hash).to_vec()));
        self.push(aggregate_type, &event.key, event.sequence, &event_type, &version, &payload);
        self.metadata.push(metadata);
    }

    pub fn len(&self) -> usize {
        self.sequence.len()
    }
}
