-- 008: the request walk restricted to some refs, and a walk whose plan does not depend on
-- statistics. Applied by `tenderpool migrate` inside one transaction; never edit once released.
--
-- Why: a StatusQuery for one ref walked every request of its member and then filtered, and the
-- walk joined its recursive steps back to its starting rows. On a freshly filled table (no
-- ANALYZE yet) the planner estimated one row per CTE and nested-looped that join: 2.7 s for a
-- member with 21,000 requests, during which the worker answering it did nothing else
-- (measured with log_min_duration_statement, tenderpool-bench restart phase, 2026-11-26). Now
-- each step carries its request's columns (no join back), and p_refs narrows the starting rows
-- to an index lookup on (member_id, request_ref, revision).

-- request_walk of 004 with p_refs: NULL = every ref of the selection; else only these refs (with
-- p_member set: one index probe per ref). Same rows and columns as request_walk.
CREATE OR REPLACE FUNCTION tenderpool.request_walk(p_as_of text, p_homes text[],
                                                   p_member text, p_refs text[])
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
      AND (p_refs IS NULL OR r.request_ref = ANY (p_refs))
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
walk AS (
    SELECT c.member_id, c.request_ref, c.revision, c.op, c.round_id, 0 AS carries,
           c.round_id AS home_round_id, c.cpv, c.item_key, c.dimension, c.base_unit,
           c.delivery_zone, c.currency,
           tenderpool.lot_key_hash(c.cpv, c.item_key, c.dimension, c.base_unit,
                                   c.delivery_zone, c.currency) AS key_hash,
           c.quantity, c.unit, c.base_quantity, c.need_by, c.max_unit_price, c.accepted_at
    FROM cur c
    UNION ALL
    SELECT w.member_id, w.request_ref, w.revision, w.op, coalesce(wd.carried_to, rd.next_round_id),
           w.carries + 1, w.home_round_id, w.cpv, w.item_key, w.dimension, w.base_unit,
           w.delivery_zone, w.currency, w.key_hash, w.quantity, w.unit, w.base_quantity,
           w.need_by, w.max_unit_price, w.accepted_at
    FROM walk w
    JOIN tenderpool.round rd ON rd.round_id = w.round_id
    JOIN tenderpool.lot l ON l.lot_id = w.round_id || '-' || w.key_hash
    LEFT JOIN tenderpool.lot_withdrawal wd ON wd.lot_id = l.lot_id
    WHERE rd.status = 'closed' AND (l.status = 'below_threshold' OR wd.lot_id IS NOT NULL)
      AND coalesce(wd.carried_to, rd.next_round_id) IS NOT NULL
      AND w.carries < coalesce(rd.max_carry_over, 0)
      AND w.key_hash IS NOT NULL
      AND w.op <> 3 -- a cancel yields its one step
)
SELECT * FROM walk
$$;

-- The three-argument walk every caller already uses: the same, for every ref.
CREATE OR REPLACE FUNCTION tenderpool.request_walk(p_as_of text, p_homes text[],
                                                   p_member text DEFAULT NULL)
RETURNS TABLE (member_id text, request_ref text, revision integer, op smallint,
               round_id text, carries integer, home_round_id text,
               cpv text, item_key text, dimension text, base_unit text, delivery_zone text,
               currency text, key_hash text, quantity numeric, unit text, base_quantity numeric,
               need_by date, max_unit_price numeric, accepted_at timestamptz)
LANGUAGE sql STABLE AS $$
SELECT * FROM tenderpool.request_walk(p_as_of, p_homes, p_member, NULL::text[])
$$;

-- request_position_of of 004 with p_refs (as in request_walk); StatusQuery by refs uses it.
CREATE OR REPLACE FUNCTION tenderpool.request_position_of(p_member text, p_homes text[],
                                                          p_refs text[])
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
           WHEN l.status = 'viable' AND wd.lot_id IS NULL THEN
               CASE WHEN a.lot_id IS NOT NULL THEN 'awarded' ELSE 'pooled' END
           ELSE 'unpooled'
       END AS state,
       w.round_id,
       CASE WHEN w.op <> 3 AND rd.status = 'closed' AND l.status = 'viable'
                 AND wd.lot_id IS NULL THEN l.lot_id END AS lot_id,
       w.carries, w.home_round_id,
       w.cpv, w.item_key, w.dimension, w.base_unit, w.delivery_zone, w.currency,
       w.quantity, w.unit, w.base_quantity, w.need_by, w.max_unit_price, w.accepted_at
FROM (SELECT DISTINCT ON (member_id, request_ref) *
      FROM tenderpool.request_walk(NULL, p_homes, p_member, p_refs)
      ORDER BY member_id, request_ref, carries DESC) w
LEFT JOIN tenderpool.round rd ON rd.round_id = w.round_id
LEFT JOIN tenderpool.lot l ON l.lot_id = w.round_id || '-' || w.key_hash
LEFT JOIN tenderpool.lot_withdrawal wd ON wd.lot_id = l.lot_id
LEFT JOIN tenderpool.award a ON a.lot_id = l.lot_id;
$$;

CREATE OR REPLACE FUNCTION tenderpool.request_position_of(p_member text,
                                                          p_homes text[] DEFAULT NULL)
RETURNS TABLE (member_id text, request_ref text, revision integer, state text, round_id text,
               lot_id text, carries integer, home_round_id text, cpv text, item_key text,
               dimension text, base_unit text, delivery_zone text, currency text,
               quantity numeric, unit text, base_quantity numeric, need_by date,
               max_unit_price numeric, accepted_at timestamptz)
LANGUAGE sql STABLE AS $$
SELECT * FROM tenderpool.request_position_of(p_member, p_homes, NULL::text[])
$$;

-- New functions are executable by PUBLIC unless revoked (006 revoked the ones it saw).
REVOKE EXECUTE ON FUNCTION tenderpool.request_walk(text, text[], text, text[]),
    tenderpool.request_position_of(text, text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenderpool.request_walk(text, text[], text, text[]),
    tenderpool.request_position_of(text, text[], text[])
    TO tenderpool_daemon, tenderpool_coordinator, tenderpool_member;
