-- The mail outbox: every mail Berth sends, rendered when it was queued, exactly as it goes out.
-- `key` makes queueing idempotent (a second mail with the same key is not queued); delivery
-- workers lease due rows with FOR UPDATE SKIP LOCKED, so one message is sent by one process.
CREATE TABLE mail_outbox (
    id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key                 text        NOT NULL UNIQUE,
    tenant_id           uuid,
    template            text        NOT NULL,
    recipients          text[]      NOT NULL,
    subject             text        NOT NULL,
    body_text           text        NOT NULL,
    body_html           text,
    attachment_names    text[]      NOT NULL DEFAULT '{}',
    attachment_types    text[]      NOT NULL DEFAULT '{}',
    attachment_contents bytea[]     NOT NULL DEFAULT '{}',
    status              text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts            integer     NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL,
    lease_until         timestamptz,
    last_error          text,
    queued_at           timestamptz NOT NULL,
    sent_at             timestamptz
);

CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX mail_outbox_tenant_idx ON mail_outbox (tenant_id, id);
