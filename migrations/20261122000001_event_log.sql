-- The event log: postgres-es's `events` table, extended with a global position, the id of the
-- writing transaction (for the gap-safe, commit-ordered feed) and the time of recording.
-- Payloads and metadata are jsonb; metadata is a flat object of strings (cqrs-es's shape).
CREATE TABLE events (
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    sequence        bigint      NOT NULL CHECK (sequence >= 0),
    event_type      text        NOT NULL,
    event_version   text        NOT NULL,
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    global_position bigint      GENERATED ALWAYS AS IDENTITY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    -- Copied out of the metadata for indexing; writers never set them directly.
    event_id        uuid        GENERATED ALWAYS AS ((metadata ->> 'event_id')::uuid) STORED,
    tenant_id       uuid        GENERATED ALWAYS AS ((metadata ->> 'tenant_id')::uuid) STORED,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE UNIQUE INDEX events_event_id_key ON events (event_id);
CREATE UNIQUE INDEX events_global_position_key ON events (global_position);
-- The feed reads in (transaction_id, global_position) order.
CREATE INDEX events_feed_idx ON events (transaction_id, global_position);
CREATE INDEX events_tenant_idx ON events (tenant_id, global_position);

-- Aggregate snapshots, written by our own code in the same transaction as the events they
-- summarize. (postgres-es's `snapshots` table is not used: see ARCHITECTURE.md.)
CREATE TABLE aggregate_snapshots (
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    sequence       bigint      NOT NULL CHECK (sequence > 0),
    state          jsonb       NOT NULL,
    taken_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- One row per command that succeeded: a repeated command id returns this outcome and appends
-- nothing.
CREATE TABLE commands (
    command_id     uuid        PRIMARY KEY,
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    tenant_id      uuid,
    version        bigint      NOT NULL,
    event_count    integer     NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);

-- Where each feed reader (the relay, each projection) has got to, as the feed's ordering pair.
CREATE TABLE checkpoints (
    name            text        PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT '0',
    global_position bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The table layout each projection's live tables were built with; a mismatch triggers a rebuild.
CREATE TABLE projection_schemas (
    name           text        PRIMARY KEY,
    schema_version integer     NOT NULL,
    rebuilt_at     timestamptz NOT NULL DEFAULT now()
);

-- JetStream consumers: events already handled (consumers deduplicate on event id, because the
-- stream's duplicate window is finite) and events given up on after the last delivery.
CREATE TABLE consumer_processed (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE dead_letters (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer        text        NOT NULL,
    event_id        uuid,
    subject         text        NOT NULL,
    stream_sequence bigint      NOT NULL,
    deliveries      bigint      NOT NULL,
    error           text        NOT NULL,
    payload         bytea       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_consumer_idx ON dead_letters (consumer, recorded_at);
