-- Personal data in events is sealed with a key per data subject (a person's email address, a
-- person, an issued invoice's buyer under legal retention), kept here and never in the log.
-- The key itself is sealed under the vault's master key (AES-256-GCM, the subject's derived id
-- as associated data). Destroying a key (erasure, or the end of a retention period) clears
-- `nonce` and `sealed_key` and keeps the row as a tombstone: new data for that subject is then
-- written as `[erased]` instead of under a fresh key.
CREATE TABLE subject_keys (
    subject      text        PRIMARY KEY,
    nonce        bytea,
    sealed_key   bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz,
    reason       text,
    CHECK ((sealed_key IS NULL) = (destroyed_at IS NOT NULL)),
    CHECK ((nonce IS NULL) = (sealed_key IS NULL))
);

-- Events written before personal data was sealed and re-encoded since by
-- `berth gdpr encrypt-existing`: the hash of the payload form they now have (the stored `hash`
-- stays the one written at append, over the plain form, so chains and signed checkpoints are
-- unchanged). The same pairs are recorded in the log by a `LegacyPayloadsSealed` event.
CREATE TABLE resealed_events (
    event_id  uuid        PRIMARY KEY,
    form_hash bytea       NOT NULL,
    sealed_at timestamptz NOT NULL DEFAULT now()
);
-- The query API's exports read which events were re-encoded (ids and hashes only; the events
-- themselves stay behind their row-level security).
GRANT SELECT ON resealed_events TO berth_reader;
