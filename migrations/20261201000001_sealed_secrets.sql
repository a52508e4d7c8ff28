-- Secrets Berth holds for itself (node SSH private keys, later payment and ACME account keys).
-- Events refer to them by id; the value is sealed with AES-256-GCM under the master key, with
-- the id as associated data, so a row copied onto another id does not open.
CREATE TABLE sealed_secrets (
    id         uuid        PRIMARY KEY,
    purpose    text        NOT NULL,
    nonce      bytea       NOT NULL,
    ciphertext bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
