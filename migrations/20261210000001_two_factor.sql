-- Second factors. The TOTP secret is sealed in the vault (sealed_secrets) under secret_id; an
-- enrolment not yet confirmed has no enabled_at. last_step is the last time step a code was
-- accepted for, so a code works once.
CREATE TABLE two_factor (
    user_id    uuid        PRIMARY KEY,
    secret_id  uuid        NOT NULL,
    enabled_at timestamptz,
    last_step  bigint      NOT NULL DEFAULT 0
);

-- Recovery codes as SHA-256 digests of high-entropy random values; a used one keeps its row.
CREATE TABLE recovery_codes (
    user_id uuid        NOT NULL,
    digest  text        NOT NULL,
    used_at timestamptz,
    PRIMARY KEY (user_id, digest)
);

-- Whether a tenant's members must log in with a second factor, written with the event that
-- changes it, so a login checks it without waiting for a view.
CREATE TABLE tenant_security (
    tenant_id           uuid    PRIMARY KEY,
    two_factor_required boolean NOT NULL
);
