-- Tenants read their own events (exports): row-level security confines the query API's role
-- to the tenant of its scope, as on the views. Writers own the table and are not affected.
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_events ON events FOR SELECT TO berth_reader
    USING (tenant_id = NULLIF(current_setting('berth.tenant_id', true), '')::uuid);
GRANT SELECT ON events TO berth_reader;
-- The seals and their public keys hold no tenant's data: anyone with the reader role may
-- check them.
GRANT SELECT ON audit_keys, audit_seals TO berth_reader;
