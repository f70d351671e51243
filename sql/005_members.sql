-- 005: members and their CURVE public keys (issue 5). The daemon admits a connection only
-- when its key belongs to an active member; the key's member is the only one it may act as.
-- Applied by `tenderpool migrate` inside one transaction; never edit once released.

CREATE TABLE IF NOT EXISTS tenderpool.member (
    member_id   text PRIMARY KEY CHECK (member_id ~ '^[A-Za-z0-9._-]{1,64}$'),
    public_key  text NOT NULL UNIQUE CHECK (public_key ~ '^[0-9A-Za-z.:+=^!/*?&<>()\[\]{}@%$#-]{40}$'),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    sql_role    text UNIQUE,          -- login role created by `member add --sql-role`, or NULL
    created_at  timestamptz NOT NULL DEFAULT now(),
    key_set_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- Any change to the members (add, revoke, rotate-key): the daemon reloads its key table now.
CREATE OR REPLACE FUNCTION tenderpool.member_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tenderpool_member_changed', coalesce(NEW.member_id, OLD.member_id));
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS member_changed ON tenderpool.member;
CREATE TRIGGER member_changed AFTER INSERT OR UPDATE OR DELETE ON tenderpool.member
    FOR EACH ROW EXECUTE FUNCTION tenderpool.member_changed();
