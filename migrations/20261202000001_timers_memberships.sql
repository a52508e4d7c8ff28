-- Durable timers: a command to run on an aggregate at a given time. Rows are written in the
-- same transaction as the events that schedule, move or cancel them; any sagas process leases
-- due rows (FOR UPDATE SKIP LOCKED, a short transaction) and fires each as a command whose id
-- derives from the key and generation, in the same transaction that marks the row fired.
-- `generation` counts the timer's events: it is the sequence of the `timer` aggregate's
-- events in the log (aggregate id = key).
CREATE TABLE timers (
    key            text        PRIMARY KEY,
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    tenant_id      uuid,
    correlation_id uuid,
    command        jsonb       NOT NULL,
    due_at         timestamptz NOT NULL,
    status         text        NOT NULL CHECK (status IN ('scheduled', 'fired', 'cancelled')),
    generation     bigint      NOT NULL CHECK (generation > 0),
    attempts       integer     NOT NULL DEFAULT 0,
    lease_until    timestamptz,
    last_error     text,
    scheduled_at   timestamptz NOT NULL DEFAULT now(),
    fired_at       timestamptz
);
CREATE INDEX timers_due_idx ON timers (due_at) WHERE status = 'scheduled';

-- Who is a member of which tenant, with which role: written in the same transaction as the
-- organization events that change it, so a login finds a membership the moment it exists
-- (without waiting for a view).
CREATE TABLE memberships (
    tenant_id uuid        NOT NULL,
    user_id   uuid        NOT NULL,
    role      text        NOT NULL,
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id, joined_at);

-- Memberships recorded before this table existed, from the log: the newest membership event
-- per tenant and user decides, and a removal leaves no row.
INSERT INTO memberships (tenant_id, user_id, role, joined_at)
SELECT tenant, member, role, joined
  FROM (
    SELECT DISTINCT ON (e.aggregate_id, m.member)
           e.aggregate_id::uuid AS tenant, m.member, m.role, m.removed, e.recorded_at AS joined
      FROM events e
      CROSS JOIN LATERAL (
          SELECT (e.payload -> 'Registered' ->> 'owner')::uuid AS member, 'owner' AS role, false AS removed
           WHERE e.event_type = 'OrganizationRegistered'
          UNION ALL
          SELECT (e.payload -> 'InvitationAccepted' ->> 'user_id')::uuid, e.payload -> 'InvitationAccepted' ->> 'role', false
           WHERE e.event_type = 'InvitationAccepted'
          UNION ALL
          SELECT (e.payload -> 'MemberRoleChanged' ->> 'user_id')::uuid, e.payload -> 'MemberRoleChanged' ->> 'role', false
           WHERE e.event_type = 'MemberRoleChanged'
          UNION ALL
          SELECT (e.payload -> 'MemberRemoved' ->> 'user_id')::uuid, '', true
           WHERE e.event_type = 'MemberRemoved'
      ) m
     WHERE e.aggregate_type = 'organization'
     ORDER BY e.aggregate_id, m.member, e.sequence DESC
  ) latest
 WHERE NOT removed;

-- Idempotency-Key claims remember the id minted for the resource a request creates, so a
-- retry after a lapsed claim (the first request died) creates that same resource, and
-- `lease_until` says when a claim whose request never finished may be taken over.
ALTER TABLE idempotency_keys ADD COLUMN resource_id uuid;
ALTER TABLE idempotency_keys ADD COLUMN lease_until timestamptz;
-- The first answer's headers a replay repeats (Location, Content-Type).
ALTER TABLE idempotency_keys ADD COLUMN headers jsonb;

-- The query API's one-statement scope: checks that the caller's credential is still live and
-- sets the tenant its row-level security reads, for the rest of the connection's session. It
-- runs as the table owner (the reader role cannot read credentials) and returns whether the
-- credential is live; a dead one leaves no tenant set, so nothing is visible.
CREATE FUNCTION berth_enter_scope(tenant uuid, credential uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    live boolean;
BEGIN
    SELECT EXISTS (
        SELECT 1 FROM credentials
         WHERE id = credential AND kind IN ('api_token', 'session', 'operator')
           AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
    ) INTO live;
    PERFORM set_config('berth.tenant_id', CASE WHEN live THEN COALESCE(tenant::text, '') ELSE '' END, false);
    RETURN live;
END
$$;
REVOKE ALL ON FUNCTION berth_enter_scope(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION berth_enter_scope(uuid, uuid) TO berth_reader;
