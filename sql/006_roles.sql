-- 006: least privilege and confidentiality (issue 5): three group roles, row-level security on
-- the tables holding member data, the public views run with the querying role's rights.
-- Applied by `tenderpool migrate` inside one transaction; never edit once released.
--
--   tenderpool_daemon       what tenderpoold's workers run (workers/store.c, status.c): append
--                           revisions, open and close rounds, write lots, withdraw a lot (through
--                           withdraw_lot()); reads for the state load and StatusQuery. No DDL.
--                           Its login role needs BYPASSRLS as well: PostgreSQL refuses COPY FROM
--                           into a table under row-level security, and the workers COPY into
--                           revision and lot (they see every member's rows anyway).
--   tenderpool_coordinator  reads everything; awards through award_lot() (the CLI's award, lots,
--                           rounds, export-ocds, verify, status).
--   tenderpool_member       one login role per member (`tenderpool member add NAME --sql-role`,
--                           create_member_role()): the public views, showing only its own rows.
--
-- Rules for later migrations (tests/integration/test_rls.c checks them):
--   * CREATE OR REPLACE VIEW resets the view's options: repeat WITH (security_invoker = true),
--     or a view would run with its owner's rights and show every member's rows.
--   * CREATE OR REPLACE FUNCTION resets SECURITY DEFINER and SET search_path: repeat them for
--     award_lot, withdraw_lot, current_member, member_lot_ids.
--   * a new function is executable by PUBLIC until revoked; a new table or view is granted to
--     nobody until granted here.

-- Roles are cluster-wide: another database of the cluster may have created them already (or be
-- creating them now: the loser of that race gets duplicate_object or unique_violation).
DO $$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['tenderpool_daemon', 'tenderpool_coordinator',
                                  'tenderpool_member'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$$;

-- The active member whose SQL role opened this session, or NULL (a revoked member's role then
-- sees nothing). session_user, not current_user: SET ROLE cannot make a session another
-- member's, and inside SECURITY DEFINER functions the answer stays the caller's.
CREATE OR REPLACE FUNCTION tenderpool.current_member()
RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT member_id FROM tenderpool.member WHERE sql_role = session_user AND status = 'active'
$$;

-- True when the session is a member's: mapped to a member, or a (non-superuser) role in
-- tenderpool_member that is mapped to none (it then sees nothing). Superusers have the
-- privileges of every role, hence the is_superuser test.
CREATE OR REPLACE FUNCTION tenderpool.member_session()
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT tenderpool.current_member() IS NOT NULL
        OR (pg_has_role(current_user, 'tenderpool_member', 'USAGE')
            AND current_setting('is_superuser') <> 'on')
$$;

-- The lots in which the session's member has a line (as tenderpool.lot_lines lists them: every
-- lot of a closed round its requests were in, viable, below threshold or withdrawn); none for
-- a session that is not a member's. SECURITY DEFINER: the walk must see the lots the member may
-- not read. EXECUTE: planned with the member's id, so the index on revision serves it.
CREATE OR REPLACE FUNCTION tenderpool.member_lot_ids()
RETURNS SETOF text LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp ROWS 100 AS $$
DECLARE
    v_member text := tenderpool.current_member();
BEGIN
    IF v_member IS NULL THEN
        RETURN; -- request_walk(..., NULL) would mean every member
    END IF;
    RETURN QUERY EXECUTE
        'SELECT DISTINCT l.lot_id FROM tenderpool.request_walk(NULL, NULL, $1) w '
        'JOIN tenderpool.round rd ON rd.round_id = w.round_id AND rd.status = ''closed'' '
        'JOIN tenderpool.lot l ON l.lot_id = w.round_id || ''-'' || w.key_hash '
        'WHERE w.op <> 3' USING v_member;
END
$$;

-- A lot's figures (total, member and request counts, need_by range, estimated value) as the
-- session may see them: every lot for the coordinator, the daemon and the owner; for a member
-- only the lots in which it has a line and that have at least 3 members (SPEC section 4: in a
-- smaller lot a member could deduce the others' quantities). Members cannot read these columns
-- of tenderpool.lot itself. Internal: the one view with its owner's rights (a security barrier:
-- no condition of the caller's runs before its own).
CREATE OR REPLACE VIEW tenderpool.lot_figures WITH (security_barrier = true) AS
SELECT lot_id, round_id, total_quantity, member_count, request_count, need_by_min, need_by_max,
       est_value
FROM tenderpool.lot
WHERE (SELECT NOT tenderpool.member_session())
   OR (member_count >= 3 AND lot_id IN (SELECT tenderpool.member_lot_ids()));

-- Public interface (SPEC section 5): same columns as in 002 and 004, now with the querying
-- role's rights, so that row-level security applies to it.
CREATE OR REPLACE VIEW tenderpool.lots WITH (security_invoker = true) AS
SELECT l.round_id, l.lot_id, l.cpv, c.label AS cpv_label, l.item_key, l.dimension, l.base_unit,
       f.total_quantity, f.member_count, f.request_count, f.need_by_min, f.need_by_max,
       l.delivery_zone, l.currency, f.est_value, l.status
FROM tenderpool.lot l
JOIN tenderpool.lot_figures f ON f.lot_id = l.lot_id AND f.round_id = l.round_id
LEFT JOIN tenderpool.cpv_code c ON c.code = l.cpv;

CREATE OR REPLACE VIEW tenderpool.awards WITH (security_invoker = true) AS
SELECT a.lot_id, a.supplier, a.unit_price, a.quantity, l.currency, a.awarded_at
FROM tenderpool.award a
JOIN tenderpool.lot l USING (lot_id)
JOIN tenderpool.lot_figures f ON f.lot_id = l.lot_id AND f.round_id = l.round_id;

ALTER VIEW tenderpool.rounds SET (security_invoker = true);
ALTER VIEW tenderpool.requests SET (security_invoker = true);
ALTER VIEW tenderpool.request_position SET (security_invoker = true);
ALTER VIEW tenderpool.lot_lines SET (security_invoker = true);
ALTER VIEW tenderpool.allocations SET (security_invoker = true);

-- The coordinator awards and the daemon withdraws only through these checks: they run as the
-- owner, so neither role needs to write award, allocation or lot_withdrawal (nor lock lot).
ALTER FUNCTION tenderpool.award_lot(text, text, numeric, numeric)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION tenderpool.withdraw_lot(text, text)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Create (if absent) the login role p_role of member p_member, make it a tenderpool_member and
-- record it in member.sql_role. Run by `tenderpool member add NAME --sql-role` with owner_dsn
-- (creating a role needs CREATEROLE). An existing role is reused only when it is a plain login
-- role (no superuser, CREATEROLE, CREATEDB, REPLICATION, BYPASSRLS, no daemon or coordinator
-- rights); p_password, when given, becomes its password. Calling it again is harmless.
CREATE OR REPLACE FUNCTION tenderpool.create_member_role(p_member text, p_role text,
                                                        p_password text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_member tenderpool.member;
    v_role pg_roles;
    v_owner text;
BEGIN
    SELECT * INTO v_member FROM tenderpool.member WHERE member_id = p_member FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'member "%" does not exist', p_member USING ERRCODE = 'no_data_found';
    END IF;
    IF v_member.status <> 'active' THEN
        RAISE EXCEPTION 'member "%" is %: it gets no SQL role', p_member, v_member.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF p_role IS NULL OR p_role !~ '^[a-z_][a-z0-9_]{0,62}$' OR p_role LIKE 'pg\_%'
       OR p_role IN ('public', 'tenderpool_daemon', 'tenderpool_coordinator',
                     'tenderpool_member') THEN
        RAISE EXCEPTION 'SQL role name "%" is not allowed: a plain identifier (a-z, 0-9, _, at most 63 characters, not starting with a digit or pg_, not a tenderpool group role)',
            p_role USING ERRCODE = 'invalid_name';
    END IF;
    IF v_member.sql_role IS NOT NULL AND v_member.sql_role <> p_role THEN
        RAISE EXCEPTION 'member "%" already has the SQL role "%"', p_member, v_member.sql_role
            USING ERRCODE = 'duplicate_object';
    END IF;
    SELECT member_id INTO v_owner FROM tenderpool.member
    WHERE sql_role = p_role AND member_id <> p_member;
    IF FOUND THEN
        RAISE EXCEPTION 'SQL role "%" already belongs to member "%"', p_role, v_owner
            USING ERRCODE = 'duplicate_object';
    END IF;

    SELECT * INTO v_role FROM pg_roles WHERE rolname = p_role;
    IF NOT FOUND THEN
        EXECUTE format('CREATE ROLE %I LOGIN', p_role);
    ELSIF v_role.rolsuper OR v_role.rolcreaterole OR v_role.rolcreatedb OR v_role.rolreplication
          OR v_role.rolbypassrls
          OR pg_has_role(p_role, 'tenderpool_daemon', 'MEMBER')
          OR pg_has_role(p_role, 'tenderpool_coordinator', 'MEMBER') THEN
        RAISE EXCEPTION 'role "%" exists and has more rights than a member may have: choose another name',
            p_role USING ERRCODE = 'insufficient_privilege';
    ELSE
        EXECUTE format('ALTER ROLE %I LOGIN', p_role);
    END IF;
    IF coalesce(p_password, '') <> '' THEN
        EXECUTE format('ALTER ROLE %I PASSWORD %L', p_role, p_password);
    END IF;
    EXECUTE format('GRANT tenderpool_member TO %I', p_role);
    UPDATE tenderpool.member SET sql_role = p_role WHERE member_id = p_member;
END
$$;

-- Row-level security, forced (it binds the tables' owner too), on every table holding member
-- data. Policies: the owner, the daemon and the coordinator see every row; a member its own
-- rows, and the lots (with their withdrawals and awards) in which it has a line, which its
-- requests' walk through the rounds needs. Superusers and BYPASSRLS roles are not bound.
-- The member's id and lots are computed once per statement ((SELECT ...): an InitPlan).
DO $$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['revision', 'allocation', 'member', 'lot', 'award',
                                   'lot_withdrawal'] LOOP
        EXECUTE format('ALTER TABLE tenderpool.%I ENABLE ROW LEVEL SECURITY', v_table);
        EXECUTE format('ALTER TABLE tenderpool.%I FORCE ROW LEVEL SECURITY', v_table);
        EXECUTE format('CREATE POLICY owner_all ON tenderpool.%I TO %I USING (true) WITH CHECK (true)',
                       v_table, (SELECT pg_get_userbyid(relowner) FROM pg_class
                                 WHERE oid = format('tenderpool.%I', v_table)::regclass));
        EXECUTE format('CREATE POLICY daemon_all ON tenderpool.%I TO tenderpool_daemon'
                       ' USING (true) WITH CHECK (true)', v_table);
        EXECUTE format('CREATE POLICY coordinator_read ON tenderpool.%I FOR SELECT'
                       ' TO tenderpool_coordinator USING (true)', v_table);
    END LOOP;
END
$$;

CREATE POLICY member_own ON tenderpool.revision FOR SELECT TO tenderpool_member
    USING (member_id = (SELECT tenderpool.current_member()));
CREATE POLICY member_own ON tenderpool.allocation FOR SELECT TO tenderpool_member
    USING (member_id = (SELECT tenderpool.current_member()));
CREATE POLICY member_own ON tenderpool.member FOR SELECT TO tenderpool_member
    USING (member_id = (SELECT tenderpool.current_member()));
CREATE POLICY member_lines ON tenderpool.lot FOR SELECT TO tenderpool_member
    USING (lot_id IN (SELECT tenderpool.member_lot_ids()));
CREATE POLICY member_lines ON tenderpool.award FOR SELECT TO tenderpool_member
    USING (lot_id IN (SELECT tenderpool.member_lot_ids()));
CREATE POLICY member_lines ON tenderpool.lot_withdrawal FOR SELECT TO tenderpool_member
    USING (lot_id IN (SELECT tenderpool.member_lot_ids()));

-- Privileges. Functions: none for PUBLIC (award_lot and withdraw_lot run as the owner).
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA tenderpool FROM PUBLIC;
GRANT USAGE ON SCHEMA tenderpool TO tenderpool_daemon, tenderpool_coordinator, tenderpool_member;

-- Functions the views and policies call, for everyone who reads them.
GRANT EXECUTE ON FUNCTION
    tenderpool.request_walk(text, text[], text),
    tenderpool.request_position_of(text, text[]),
    tenderpool.lot_key_hash(text, text, text, text, text, text),
    tenderpool.lot_id(text, text, text, text, text, text, text),
    tenderpool.current_member(),
    tenderpool.member_session(),
    tenderpool.member_lot_ids()
    TO tenderpool_daemon, tenderpool_coordinator, tenderpool_member;

-- The daemon: append revisions, server_seq blocks, open and close rounds, write lots.
GRANT SELECT, INSERT ON tenderpool.revision TO tenderpool_daemon;
GRANT USAGE ON SEQUENCE tenderpool.seq_block TO tenderpool_daemon;
GRANT SELECT, INSERT ON tenderpool.round TO tenderpool_daemon;
GRANT UPDATE (status, closed_at, next_round_id, min_members, max_carry_over)
    ON tenderpool.round TO tenderpool_daemon;
GRANT SELECT, INSERT ON tenderpool.lot TO tenderpool_daemon;
GRANT SELECT ON tenderpool.award, tenderpool.allocation, tenderpool.lot_withdrawal,
    tenderpool.member, tenderpool.cpv_code, tenderpool.unit TO tenderpool_daemon;
GRANT EXECUTE ON FUNCTION
    tenderpool.close_round(text, text, timestamptz, timestamptz, integer, integer),
    tenderpool.close_round_begin(text, text, timestamptz, timestamptz, integer, integer),
    tenderpool.close_round_seal(text, text, integer, integer),
    tenderpool.withdraw_lot(text, text)
    TO tenderpool_daemon;

-- The coordinator: every table and view, and the award.
GRANT SELECT ON ALL TABLES IN SCHEMA tenderpool TO tenderpool_coordinator;
GRANT EXECUTE ON FUNCTION tenderpool.award_lot(text, text, numeric, numeric)
    TO tenderpool_coordinator;

-- Members: the public views, and (security_invoker) what they read, row-filtered above; of
-- tenderpool.lot not the figures, which reach members only through lot_figures.
GRANT SELECT ON tenderpool.rounds, tenderpool.lots, tenderpool.lot_lines, tenderpool.requests,
    tenderpool.awards, tenderpool.allocations, tenderpool.request_position,
    tenderpool.lot_figures TO tenderpool_member;
GRANT SELECT ON tenderpool.revision, tenderpool.round, tenderpool.unit, tenderpool.cpv_code,
    tenderpool.award, tenderpool.allocation, tenderpool.lot_withdrawal, tenderpool.member
    TO tenderpool_member;
GRANT SELECT (lot_id, round_id, cpv, item_key, dimension, base_unit, delivery_zone, currency,
              status) ON tenderpool.lot TO tenderpool_member;
