-- 003: closing a round from the workers' in-memory aggregates: the lot rows come from the
-- caller (COPY), the checks and the seal stay here. close_round() keeps recomputing from the
-- stored requests (used when a worker's aggregates cannot be trusted) and now shares both.
-- Applied by `tenderpool migrate` inside one transaction; never edit once released.

-- Step 1, in the caller's transaction: lock p_round, check the order of closes and the
-- settings, open p_next. Returns NULL when the caller should now insert the lots of p_round
-- and call close_round_seal(), or the lot count when p_round is already closed (nothing to do).
CREATE OR REPLACE FUNCTION tenderpool.close_round_begin(p_round text, p_next text,
                                                        p_next_opens timestamptz,
                                                        p_next_closes timestamptz,
                                                        p_min_members integer,
                                                        p_max_carry integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_round tenderpool.round;
    v_older tenderpool.round;
    v_next_status text;
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
    RETURN NULL;
END
$$;

-- Step 2, same transaction, after the lot rows of p_round are in: check them, mark the round
-- closed with the settings used (tenderpool verify replays them), notify. Returns the lot count.
CREATE OR REPLACE FUNCTION tenderpool.close_round_seal(p_round text, p_next text,
                                                       p_min_members integer,
                                                       p_max_carry integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_lots integer;
    v_bad text;
BEGIN
    SELECT lot_id INTO v_bad FROM tenderpool.lot
    WHERE round_id = p_round
      AND (lot_id IS DISTINCT FROM tenderpool.lot_id(round_id, cpv, item_key, dimension,
                                                     base_unit, delivery_zone, currency)
           OR status <> CASE WHEN member_count >= p_min_members THEN 'viable'
                             ELSE 'below_threshold' END
           OR total_quantity <= 0 OR request_count < member_count OR member_count < 1)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'tenderpool.close_round: lot "%" of round "%" is inconsistent (id, status or counts)',
            v_bad, p_round USING ERRCODE = 'check_violation';
    END IF;
    SELECT count(*)::integer INTO v_lots FROM tenderpool.lot WHERE round_id = p_round;
    UPDATE tenderpool.round
    SET status = 'closed', closed_at = now(), next_round_id = p_next,
        min_members = p_min_members, max_carry_over = p_max_carry
    WHERE round_id = p_round AND status = 'open';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenderpool.close_round: round "%" is not open (call close_round_begin first)',
            p_round USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM pg_notify('tenderpool_round_closed', p_round);
    RETURN v_lots;
END
$$;

-- The recomputing close, now built from the two steps above (same behaviour as in 002).
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
    v_done integer;
    v_depth integer;
    v_homes text[];
BEGIN
    v_done := tenderpool.close_round_begin(p_round, p_next, p_next_opens, p_next_closes,
                                           p_min_members, p_max_carry);
    IF v_done IS NOT NULL THEN
        RETURN v_done;
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

    RETURN tenderpool.close_round_seal(p_round, p_next, p_min_members, p_max_carry);
END
$$;
