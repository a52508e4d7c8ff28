-- A view that reads only some aggregate types is woken only by commits of those types, so it
-- lags behind the others' events until its next poll: those say nothing about what it lacks.
-- It is caught up once no event of its types (all types when `types` is NULL) lies after its
-- checkpoint in feed order.
CREATE FUNCTION berth_view_caught_up(projection text, types text[]) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT EXISTS (SELECT 1 FROM checkpoints WHERE name = 'projection:' || projection)
       AND NOT EXISTS (
           SELECT 1 FROM events e, checkpoints c
            WHERE c.name = 'projection:' || projection
              AND (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position)
              AND (types IS NULL OR e.aggregate_type = ANY (types)))
$$;
REVOKE ALL ON FUNCTION berth_view_caught_up(text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION berth_view_caught_up(text, text[]) TO berth_reader;
