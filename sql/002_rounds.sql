-- 002: closing rounds: lots (one row per lot), the carry-over walk, close_round(), public views filled.
-- Applied by `tenderpool migrate` inside one transaction; never edit once released.

-- Settings used at each close, kept for reproducibility (`tenderpool verify` reads them).
ALTER TABLE tenderpool.round
    ADD COLUMN IF NOT EXISTS next_round_id  text,    -- where carried-over requests moved at close
    ADD COLUMN IF NOT EXISTS min_members    integer, -- [pooling] min_members at close
    ADD COLUMN IF NOT EXISTS max_carry_over integer; -- [pooling] max_carry_over at close

-- Rounds close oldest first; this serves the "older round still open?" check.
CREATE INDEX IF NOT EXISTS round_open_by_opens_at ON tenderpool.round (opens_at)
    WHERE status = 'open';

-- Revisions are appended in round order: a BRIN index finds one round's rows for almost no
-- insert cost (a btree would tax every COPY of the intake path).
CREATE INDEX IF NOT EXISTS revision_round_brin ON tenderpool.revision USING brin (round_id);

-- The 12 hex digits naming a consolidation key inside a round (fields joined by 0x1f).
CREATE OR REPLACE FUNCTION tenderpool.lot_key_hash(p_cpv text, p_item_key text, p_dimension text,
                                                   p_base_unit text, p_delivery_zone text,
                                                   p_currency text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT substr(md5(p_cpv || chr(31) || p_item_key || chr(31) || p_dimension || chr(31) ||
                      p_base_unit || chr(31) || p_delivery_zone || chr(31) || p_currency), 1, 12)
$$;

-- Deterministic lot id: "<round_id>-<lot_key_hash>". NULL when any field is NULL.
CREATE OR REPLACE FUNCTION tenderpool.lot_id(p_round_id text, p_cpv text, p_item_key text,
                                             p_dimension text, p_base_unit text,
                                             p_delivery_zone text, p_currency text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_round_id || '-' || tenderpool.lot_key_hash(p_cpv, p_item_key, p_dimension,
                                                         p_base_unit, p_delivery_zone, p_currency)
$$;

-- One row per lot of a closed round, written once by close_round(), never per request.
CREATE TABLE IF NOT EXISTS tenderpool.lot (
    lot_id         text PRIMARY KEY,
    round_id       text NOT NULL REFERENCES tenderpool.round,
    cpv            text,
    item_key       text,
    dimension      text,
    base_unit      text,
    delivery_zone  text,
    currency       text,
    total_quantity numeric NOT NULL,  -- in base_unit, exact
    member_count   integer NOT NULL,  -- distinct members
    request_count  integer NOT NULL,
    need_by_min    date,
    need_by_max    date,
    est_value      numeric,           -- sum(quantity * max_unit_price) over priced lines
    status         text NOT NULL CHECK (status IN ('viable', 'below_threshold'))
);
CREATE INDEX IF NOT EXISTS lot_round ON tenderpool.lot (round_id);

-- Every step of every request's walk through rounds (internal).
--   Start: the request's current revision, its "home" round = that revision's round_id.
--   Step: while the round it is in is closed, the lot of its key there is below_threshold and
--   carries < that round's max_carry_over, it moves to round.next_round_id with carries + 1.
-- p_as_of: NULL = every revision (the present). A round id = the revisions a close of that
-- round sees: those of closed rounds and of p_as_of itself (a revision already assigned to a
-- later, still open round is ignored, so the close matches a recomputation as of that round).
-- p_homes: NULL = every request; else only requests whose current revision is in one of these
-- rounds (close_round passes the rounds whose carried requests can still reach it).
-- p_member: NULL = every member; else only that member's requests (StatusQuery: the index on
-- (member_id, request_ref, revision) keeps it proportional to that member's requests).
-- Cancelled requests (op 3) yield one step with carries 0 and no walk.
CREATE OR REPLACE FUNCTION tenderpool.request_walk(p_as_of text, p_homes text[],
                                                   p_member text DEFAULT NULL)
RETURNS TABLE (member_id text, request_ref text, revision integer, op smallint,
               round_id text, carries integer, home_round_id text,
               cpv text, item_key text, dimension text, base_unit text, delivery_zone text,
               currency text, key_hash text, quantity numeric, unit text, base_quantity numeric,
               need_by date, max_unit_price numeric, accepted_at timestamptz)
LANGUAGE sql STABLE AS $$
WITH RECURSIVE cur AS (
    SELECT r.member_id, r.request_ref, r.revision, r.op, r.round_id, left(r.cpv, 8) AS cpv,
           r.item_key, u.dimension, u.base_unit, r.delivery_zone, r.currency, r.quantity, r.unit,
           r.base_quantity, r.need_by, r.max_unit_price, r.accepted_at
    FROM tenderpool.revision r
    LEFT JOIN tenderpool.unit u ON u.code = r.unit
    WHERE (p_homes IS NULL OR r.round_id = ANY (p_homes))
      AND (p_member IS NULL OR r.member_id = p_member)
      AND (p_as_of IS NULL OR r.round_id = p_as_of
           OR EXISTS (SELECT 1 FROM tenderpool.round x
                      WHERE x.round_id = r.round_id AND x.status = 'closed'))
      AND NOT EXISTS (
          SELECT 1 FROM tenderpool.revision n
          WHERE n.member_id = r.member_id AND n.request_ref = r.request_ref
            AND n.revision > r.revision
            AND (p_as_of IS NULL OR n.round_id = p_as_of
                 OR EXISTS (SELECT 1 FROM tenderpool.round x
                            WHERE x.round_id = n.round_id AND x.status = 'closed')))
),
start AS (
    SELECT c.*, tenderpool.lot_key_hash(c.cpv, c.item_key, c.dimension, c.base_unit,
                                        c.delivery_zone, c.currency) AS key_hash
    FROM cur c
),
walk AS (
    SELECT s.member_id, s.request_ref, s.round_id, 0 AS carries, s.key_hash
    FROM start s
    UNION ALL
    SELECT w.member_id, w.request_ref, rd.next_round_id, w.carries + 1, w.key_hash
    FROM walk w
    JOIN tenderpool.round rd ON rd.round_id = w.round_id
    JOIN tenderpool.lot l ON l.lot_id = w.round_id || '-' || w.key_hash
    WHERE rd.status = 'closed' AND l.status = 'below_threshold'
      AND rd.next_round_id IS NOT NULL AND w.carries < coalesce(rd.max_carry_over, 0)
      AND w.key_hash IS NOT NULL
)
SELECT s.member_id, s.request_ref, s.revision, s.op, w.round_id, w.carries, s.round_id,
       s.cpv, s.item_key, s.dimension, s.base_unit, s.delivery_zone, s.currency, s.key_hash,
       s.quantity, s.unit, s.base_quantity, s.need_by, s.max_unit_price, s.accepted_at
FROM walk w
JOIN start s ON s.member_id = w.member_id AND s.request_ref = w.request_ref
WHERE s.op <> 3 OR w.carries = 0
$$;

-- Where each request is now (internal): the last step of its walk and its state.
--   cancelled     current revision is a cancel (op 3)
--   open          in an open round, never carried
--   carried_over  in an open round after >= 1 carry
--   pooled        in a closed round whose lot of its key is viable (lot_id set)
--   unpooled      in a closed round whose lot is below_threshold, carry limit reached; also a
--                 request in a closed round that has no lot of its key (a revision committed
--                 into a round after its close: the close barrier should make this impossible)
-- p_homes: as in request_walk (NULL: every request); the workers' state load passes the closed
-- rounds, since a request whose current revision is in an open round has not moved.
CREATE OR REPLACE FUNCTION tenderpool.request_position_of(p_member text,
                                                          p_homes text[] DEFAULT NULL)
RETURNS TABLE (member_id text, request_ref text, revision integer, state text, round_id text,
               lot_id text, carries integer, home_round_id text, cpv text, item_key text,
               dimension text, base_unit text, delivery_zone text, currency text,
               quantity numeric, unit text, base_quantity numeric, need_by date,
               max_unit_price numeric, accepted_at timestamptz)
LANGUAGE sql STABLE AS $$
SELECT w.member_id, w.request_ref, w.revision,
       CASE
           WHEN w.op = 3 THEN 'cancelled'
           WHEN rd.status IS DISTINCT FROM 'closed' THEN
               CASE WHEN w.carries = 0 THEN 'open' ELSE 'carried_over' END
           WHEN l.status = 'viable' THEN 'pooled'
           ELSE 'unpooled'
       END AS state,
       w.round_id,
       CASE WHEN w.op <> 3 AND rd.status = 'closed' AND l.status = 'viable' THEN l.lot_id END
           AS lot_id,
       w.carries, w.home_round_id,
       w.cpv, w.item_key, w.dimension, w.base_unit, w.delivery_zone, w.currency,
       w.quantity, w.unit, w.base_quantity, w.need_by, w.max_unit_price, w.accepted_at
FROM (SELECT DISTINCT ON (member_id, request_ref) *
      FROM tenderpool.request_walk(NULL, p_homes, p_member)
      ORDER BY member_id, request_ref, carries DESC) w
LEFT JOIN tenderpool.round rd ON rd.round_id = w.round_id
LEFT JOIN tenderpool.lot l ON l.lot_id = w.round_id || '-' || w.key_hash;
$$;

-- Every member's requests (p_member NULL): what tenderpool.requests shows.
CREATE OR REPLACE VIEW tenderpool.request_position AS
SELECT * FROM tenderpool.request_position_of(NULL);

-- Public interface (SPEC section 5): same columns, names, types and order as 001.
CREATE OR REPLACE VIEW tenderpool.requests AS
SELECT member_id, request_ref, revision, state, round_id, lot_id, accepted_at
FROM tenderpool.request_position;

CREATE OR REPLACE VIEW tenderpool.lots AS
SELECT l.round_id, l.lot_id, l.cpv, c.label AS cpv_label, l.item_key, l.dimension, l.base_unit,
       l.total_quantity, l.member_count, l.request_count, l.need_by_min, l.need_by_max,
       l.delivery_zone, l.currency, l.est_value, l.status
FROM tenderpool.lot l
LEFT JOIN tenderpool.cpv_code c ON c.code = l.cpv;

-- The lines of each lot: every request that was in the lot's round with the lot's key when the
-- round closed. For a viable lot these are the requests pooled in it; for a below_threshold lot
-- the requests that were in it at close (since carried over, or unpooled), so that a lot's
-- lines always add up to its total. Derived from each request's current revision: a request
-- amended or cancelled after it was carried (if the worker accepts that) leaves the lines of
-- the earlier lots it passed through.
CREATE OR REPLACE VIEW tenderpool.lot_lines AS
SELECT l.lot_id, w.member_id, w.request_ref, w.revision, w.quantity, w.unit, w.base_quantity,
       w.need_by, w.max_unit_price
FROM tenderpool.request_walk(NULL, NULL) w
JOIN tenderpool.round rd ON rd.round_id = w.round_id AND rd.status = 'closed'
JOIN tenderpool.lot l ON l.lot_id = w.round_id || '-' || w.key_hash
WHERE w.op <> 3;

-- Close p_round: atomic (the caller's transaction), idempotent, rounds in order.
-- Returns the number of lots of p_round. A second call for a closed round returns its lot
-- count and changes nothing. Refuses while an older round (earlier opens_at) is still open.
CREATE OR REPLACE FUNCTION tenderpool.close_round(p_round text, p_next text,
                                                  p_next_opens timestamptz,
                                                  p_next_closes timestamptz,
                                                  p_min_members integer, p_max_carry integer)
RETURNS integer LANGUAGE plpgsql
-- a close sorts every open request once: in memory, and without JIT compilation (measured at
-- 1 M requests: three 100 MB sorts spilled to disk at the default work_mem; JIT cost 0.8 s)
SET work_mem = '256MB' SET jit = off
AS $$
DECLARE
    v_round tenderpool.round;
    v_older tenderpool.round;
    v_next_status text;
    v_depth integer;
    v_homes text[];
    v_lots integer;
BEGIN
    SELECT * INTO v_round FROM tenderpool.round WHERE round_id = p_round FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenderpool.close_round: round "%" does not exist', p_round
            USING ERRCODE = 'no_data_found';
    END IF;
    IF v_round.status = 'closed' THEN
        RETURN (SELECT count(*)::integer FROM tenderpool.lot WHERE round_id = p_round);
    END IF;

    IF p_next IS NULL OR p_next = p_round THEN
        RAISE EXCEPTION 'tenderpool.close_round: next round of "%" must be another round (got %)',
            p_round, coalesce('"' || p_next || '"', 'NULL') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_min_members IS NULL OR p_min_members < 1 OR p_max_carry IS NULL OR p_max_carry < 0 THEN
        RAISE EXCEPTION 'tenderpool.close_round: min_members must be >= 1 and max_carry_over >= 0 (got %, %)',
            p_min_members, p_max_carry USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO v_older FROM tenderpool.round
    WHERE status = 'open' AND opens_at < v_round.opens_at AND round_id <> p_round
    ORDER BY opens_at LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'tenderpool.close_round: cannot close round "%" while the older round "%" (opens %) is still open; rounds close in order',
            p_round, v_older.round_id, v_older.opens_at
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    INSERT INTO tenderpool.round (round_id, opens_at, closes_at, status)
    VALUES (p_next, p_next_opens, p_next_closes, 'open')
    ON CONFLICT (round_id) DO NOTHING;
    SELECT status INTO v_next_status FROM tenderpool.round WHERE round_id = p_next;
    IF v_next_status <> 'open' THEN
        RAISE EXCEPTION 'tenderpool.close_round: next round "%" of "%" is already closed',
            p_next, p_round USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    -- Rounds whose requests may still be carried into p_round: p_round and its predecessors
    -- along next_round_id, as far back as the largest carry limit ever used.
    SELECT coalesce(max(max_carry_over), 0) INTO v_depth FROM tenderpool.round;
    WITH RECURSIVE back AS (
        SELECT p_round AS round_id, 0 AS depth
        UNION
        SELECT r.round_id, b.depth + 1
        FROM back b JOIN tenderpool.round r ON r.next_round_id = b.round_id
        WHERE b.depth < v_depth
    )
    SELECT array_agg(DISTINCT round_id) INTO v_homes FROM back;

    INSERT INTO tenderpool.lot (lot_id, round_id, cpv, item_key, dimension, base_unit,
                                delivery_zone, currency, total_quantity, member_count,
                                request_count, need_by_min, need_by_max, est_value, status)
    SELECT tenderpool.lot_id(p_round, w.cpv, w.item_key, w.dimension, w.base_unit,
                             w.delivery_zone, w.currency),
           p_round, w.cpv, w.item_key, w.dimension, w.base_unit, w.delivery_zone, w.currency,
           sum(w.base_quantity), count(DISTINCT w.member_id), count(*),
           min(w.need_by), max(w.need_by), sum(w.quantity * w.max_unit_price),
           CASE WHEN count(DISTINCT w.member_id) >= p_min_members THEN 'viable'
                ELSE 'below_threshold' END
    FROM (SELECT DISTINCT ON (member_id, request_ref) *
          FROM tenderpool.request_walk(p_round, v_homes)
          ORDER BY member_id, request_ref, carries DESC) w
    WHERE w.op <> 3 AND w.round_id = p_round
    GROUP BY w.cpv, w.item_key, w.dimension, w.base_unit, w.delivery_zone, w.currency;
    GET DIAGNOSTICS v_lots = ROW_COUNT;

    UPDATE tenderpool.round
    SET status = 'closed', closed_at = now(), next_round_id = p_next,
        min_members = p_min_members, max_carry_over = p_max_carry
    WHERE round_id = p_round;

    PERFORM pg_notify('tenderpool_round_closed', p_round);
    RETURN v_lots;
END
$$;
