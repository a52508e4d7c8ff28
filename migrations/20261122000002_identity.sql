-- Platform-wide unique values (a site's domain, a user's email), taken and given back in the
-- same transaction as the events that need them.
CREATE TABLE unique_claims (
    scope      text        NOT NULL,
    value      text        NOT NULL,
    owner      text        NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, value)
);

-- Secrets stay out of the event log; events refer to them by id. Passwords are argon2id PHC
-- strings; bearer tokens (API tokens, sessions, invitation and operator tokens) are stored as
-- SHA-256 digests of high-entropy random values. Written in the same transaction as the events
-- that create or revoke them, so authentication never lags behind the log.
CREATE TABLE credentials (
    id          uuid        PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('password', 'api_token', 'session', 'invitation', 'operator')),
    secret_hash text        NOT NULL,
    tenant_id   uuid,
    user_id     uuid,
    role        text,
    expires_at  timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX credentials_token_idx ON credentials (secret_hash) WHERE kind <> 'password';
CREATE UNIQUE INDEX credentials_password_idx ON credentials (user_id) WHERE kind = 'password';
CREATE INDEX credentials_member_idx ON credentials (tenant_id, user_id) WHERE kind = 'session';

-- Idempotency-Key: the first answer to a POST, replayed for a retry with the same key and body.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status       integer     NOT NULL,
    body         jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

-- The role the query API switches to for every request, so that row-level security applies
-- (the connecting role may own the tables or be a superuser, and those bypass it).
DO $$
BEGIN
    CREATE ROLE berth_reader NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END
$$;
