-- Tamper evidence. Each event's hash covers its canonical form and the hash of the event
-- before it in its aggregate (see docs/DESIGN.md, "The chain and the seals"). Events written
-- before this column existed are chained by `berth migrate` right after it.
ALTER TABLE events ADD COLUMN hash bytea CHECK (hash IS NULL OR octet_length(hash) = 32);
CREATE INDEX events_unhashed_idx ON events (aggregate_type, aggregate_id, sequence) WHERE hash IS NULL;

-- The sealer's signing keys: the private half is a sealed secret (the vault); the public
-- half is here, for anyone to check a seal with.
CREATE TABLE audit_keys (
    key_id     text        PRIMARY KEY,
    public_key bytea       NOT NULL CHECK (octet_length(public_key) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Signed checkpoints of the whole log: the running hash of every event up to a place in the
-- feed, folded in feed order, with the count, signed by the sealer.
CREATE TABLE audit_seals (
    seal            bigint      PRIMARY KEY,
    transaction_id  xid8        NOT NULL,
    global_position bigint      NOT NULL,
    event_count     bigint      NOT NULL,
    running_hash    bytea       NOT NULL CHECK (octet_length(running_hash) = 32),
    sealed_at       timestamptz NOT NULL,
    key_id          text        NOT NULL REFERENCES audit_keys (key_id),
    signature       bytea       NOT NULL CHECK (octet_length(signature) = 64)
);
