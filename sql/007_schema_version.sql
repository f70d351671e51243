-- 007: the schema version, readable by the daemon's role (which has no grant on the migration
-- log): tenderpoold reports ready only when the database holds the migrations its build needs.
-- Applied by `tenderpool migrate` inside one transaction; never edit once released.

CREATE OR REPLACE FUNCTION tenderpool.schema_version() RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(max(version), 0) FROM tenderpool.schema_migration
$$;
REVOKE EXECUTE ON FUNCTION tenderpool.schema_version() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenderpool.schema_version()
    TO tenderpool_daemon, tenderpool_coordinator;
