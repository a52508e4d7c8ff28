-- Whether a view has taken in every committed event: its checkpoint exists and no event lies
-- after it in feed order. A read waiting for a version (`min_version`) asks this to tell "not
-- yet" from "never": once the view is caught up, a version it lacks was never written.
CREATE FUNCTION berth_view_caught_up(projection text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT EXISTS (SELECT 1 FROM checkpoints WHERE name = 'projection:' || projection)
       AND NOT EXISTS (
           SELECT 1 FROM events e, checkpoints c
            WHERE c.name = 'projection:' || projection
              AND (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position))
$$;
REVOKE ALL ON FUNCTION berth_view_caught_up(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION berth_view_caught_up(text) TO berth_reader;
