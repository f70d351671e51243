-- 004: tender issuance: awards with their allocations, withdrawn lots, the awarded state.
-- Applied by `tenderpool migrate` inside one transaction; never edit once released.

-- One award per lot (a lot is tendered once; a failed tender is withdrawn instead).
CREATE TABLE IF NOT EXISTS tenderpool.award (
    lot_id     text PRIMARY KEY REFERENCES tenderpool.lot,
    supplier   text NOT NULL CHECK (supplier <> ''),
    unit_price numeric NOT NULL CHECK (unit_price >= 0), -- per lot base unit, lot currency
    quantity   numeric NOT NULL CHECK (quantity > 0),    -- in the lot's base unit
    awarded_at timestamptz NOT NULL DEFAULT now()
);

-- What each line of an awarded lot receives, in the lot's base unit (sums to award.quantity;
-- computed by award_lot()).
CREATE TABLE IF NOT EXISTS tenderpool.allocation (
    lot_id      text NOT NULL REFERENCES tenderpool.award,
    member_id   text NOT NULL,
    request_ref text NOT NULL,
    revision    integer NOT NULL,
    quantity    numeric NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (lot_id, member_id, request_ref)
);
CREATE INDEX IF NOT EXISTS allocation_member ON tenderpool.allocation (member_id, request_ref);

-- A viable lot whose tender failed: its requests went on to carried_to, the round open then.
CREATE TABLE IF NOT EXISTS tenderpool.lot_withdrawal (
    lot_id       text PRIMARY KEY REFERENCES tenderpool.lot,
    carried_to   text NOT NULL REFERENCES tenderpool.round,
    reason       text,
    withdrawn_at timestamptz NOT NULL DEFAULT now()
);

-- The walk of 002, with one more step: a request of a withdrawn lot moves to the round the
-- lot's requests were carried to (counting toward max_carry_over, as a below-threshold lot).
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
    SELECT w.member_id, w.request_ref, coalesce(wd.carried_to, rd.next_round_id),
           w.carries + 1, w.key_hash
    FROM walk w
    JOIN tenderpool.round rd ON rd.round_id = w.round_id
    JOIN tenderpool.lot l ON l.lot_id = w.round_id || '-' || w.key_hash
    LEFT JOIN tenderpool.lot_withdrawal wd ON wd.lot_id = l.lot_id
    WHERE rd.status = 'closed' AND (l.status = 'below_threshold' OR wd.lot_id IS NOT NULL)
      AND coalesce(wd.carried_to, rd.next_round_id) IS NOT NULL
      AND w.carries < coalesce(rd.max_carry_over, 0)
      AND w.key_hash IS NOT NULL
)
SELECT s.member_id, s.request_ref, s.revision, s.op, w.round_id, w.carries, s.round_id,
       s.cpv, s.item_key, s.dimension, s.base_unit, s.delivery_zone, s.currency, s.key_hash,
       s.quantity, s.unit, s.base_quantity, s.need_by, s.max_unit_price, s.accepted_at
FROM walk w
JOIN start s ON s.member_id = w.member_id AND s.request_ref = w.request_ref
WHERE s.op <> 3 OR w.carries = 0
$$;

-- Where each request is now (002), with two more outcomes:
--   awarded    in a closed round whose lot of its key is viable and awarded (lot_id set)
--   unpooled   also: its lot was withdrawn and the carry limit is reached
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
      FROM tenderpool.request_walk(NULL, p_homes, p_member)
      ORDER BY member_id, request_ref, carries DESC) w
LEFT JOIN tenderpool.round rd ON rd.round_id = w.round_id
LEFT JOIN tenderpool.lot l ON l.lot_id = w.round_id || '-' || w.key_hash
LEFT JOIN tenderpool.lot_withdrawal wd ON wd.lot_id = l.lot_id
LEFT JOIN tenderpool.award a ON a.lot_id = l.lot_id;
$$;

-- Public interface (SPEC section 5).
CREATE OR REPLACE VIEW tenderpool.awards AS
SELECT a.lot_id, a.supplier, a.unit_price, a.quantity, l.currency, a.awarded_at
FROM tenderpool.award a
JOIN tenderpool.lot l USING (lot_id);

-- Each line's allocation (coordinator view): in the lot's base unit.
CREATE OR REPLACE VIEW tenderpool.allocations AS
SELECT a.lot_id, a.member_id, a.request_ref, a.revision, a.quantity, l.base_unit
FROM tenderpool.allocation a
JOIN tenderpool.lot l USING (lot_id);

-- Record an award and allocate it to the lot's lines in one statement. p_quantity NULL: the
-- whole lot. Below the lot total the quantity is split pro rata to the lines' base
-- quantities, exactly: each line gets its share rounded down to whole pieces (count
-- dimension) or to 10^-k of the base unit (k = max(6, the quantity's scale)), and the units
-- left over go one each to the lines with the largest remainders (ties: member, ref), so the
-- allocations sum to the quantity exactly. Refuses: unknown lot, lot of an open round,
-- below-threshold or withdrawn lot, a second award, a quantity above the lot total (or not
-- whole pieces). NOTIFY tenderpool_lot_awarded, '<lot_id>'.
CREATE OR REPLACE FUNCTION tenderpool.award_lot(p_lot text, p_supplier text, p_unit_price numeric,
                                                p_quantity numeric DEFAULT NULL)
RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    v_lot tenderpool.lot;
    v_round_status text;
    v_q numeric;
    v_k integer;
    v_sum numeric;
BEGIN
    SELECT * INTO v_lot FROM tenderpool.lot WHERE lot_id = p_lot FOR UPDATE;
    IF NOT FOUND THEN
        SELECT round_id INTO v_round_status FROM tenderpool.round
        WHERE status = 'open' AND starts_with(p_lot, round_id || '-');
        IF FOUND THEN
            RAISE EXCEPTION 'lot "%" would belong to round "%", which is still open: its lots exist once it closes',
                p_lot, v_round_status USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        RAISE EXCEPTION 'lot "%" does not exist', p_lot USING ERRCODE = 'no_data_found';
    END IF;
    SELECT status INTO v_round_status FROM tenderpool.round WHERE round_id = v_lot.round_id;
    IF v_round_status <> 'closed' THEN
        RAISE EXCEPTION 'lot "%" belongs to round "%", which is still open', p_lot, v_lot.round_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF v_lot.status <> 'viable' THEN
        RAISE EXCEPTION 'lot "%" is below the member threshold (% members): it is not tendered',
            p_lot, v_lot.member_count USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF EXISTS (SELECT 1 FROM tenderpool.lot_withdrawal WHERE lot_id = p_lot) THEN
        RAISE EXCEPTION 'lot "%" was withdrawn: its requests went on to a later round', p_lot
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF EXISTS (SELECT 1 FROM tenderpool.award WHERE lot_id = p_lot) THEN
        RAISE EXCEPTION 'lot "%" is already awarded', p_lot USING ERRCODE = 'unique_violation';
    END IF;
    v_q := coalesce(p_quantity, v_lot.total_quantity);
    IF v_q <= 0 OR v_q > v_lot.total_quantity THEN
        RAISE EXCEPTION 'award quantity % must be > 0 and at most the lot total % %',
            trim_scale(v_q), trim_scale(v_lot.total_quantity), v_lot.base_unit
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_lot.dimension = 'count' AND v_q <> trunc(v_q) THEN
        RAISE EXCEPTION 'award quantity % is not a whole number of pieces (%)', trim_scale(v_q),
            v_lot.base_unit USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_unit_price IS NULL OR p_unit_price < 0 THEN
        RAISE EXCEPTION 'unit price % must be >= 0', p_unit_price
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_supplier IS NULL OR btrim(p_supplier) = '' THEN
        RAISE EXCEPTION 'supplier name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_k := CASE WHEN v_lot.dimension = 'count' THEN 0 ELSE greatest(6, scale(trim_scale(v_q))) END;

    INSERT INTO tenderpool.award (lot_id, supplier, unit_price, quantity)
    VALUES (p_lot, p_supplier, p_unit_price, v_q);
    INSERT INTO tenderpool.allocation (lot_id, member_id, request_ref, revision, quantity)
    SELECT p_lot, member_id, request_ref, revision,
           CASE WHEN v_q = v_lot.total_quantity THEN base_quantity
                ELSE (floor_units + CASE WHEN rank <= left_over THEN 1 ELSE 0 END)
                     / (10::numeric ^ v_k) END
    FROM (SELECT s.*, row_number() OVER (ORDER BY remainder DESC, member_id COLLATE "C",
                                                  request_ref COLLATE "C") AS rank,
                 v_q * 10::numeric ^ v_k - sum(floor_units) OVER () AS left_over
          FROM (SELECT ll.member_id, ll.request_ref, ll.revision, ll.base_quantity,
                       div(v_q * ll.base_quantity * 10::numeric ^ v_k, v_lot.total_quantity)
                           AS floor_units,
                       mod(v_q * ll.base_quantity * 10::numeric ^ v_k, v_lot.total_quantity)
                           AS remainder
                FROM tenderpool.lot_lines ll WHERE ll.lot_id = p_lot) s) x;
    SELECT coalesce(sum(quantity), 0) INTO v_sum FROM tenderpool.allocation WHERE lot_id = p_lot;
    IF v_sum <> v_q THEN
        RAISE EXCEPTION 'allocation of lot "%" sums to %, not %', p_lot, v_sum, v_q
            USING ERRCODE = 'check_violation';
    END IF;
    PERFORM pg_notify('tenderpool_lot_awarded', p_lot);
    RETURN v_q;
END
$$;

-- Withdraw a viable, unawarded lot of a closed round whose tender failed: its requests carry
-- over to the round open now (counting toward the max_carry_over its round recorded),
-- or become unpooled at the limit. Returns the round they went to. Run by the daemon's worker
-- 0 (`tenderpool lots withdraw`), which then has every worker reload its state.
CREATE OR REPLACE FUNCTION tenderpool.withdraw_lot(p_lot text, p_reason text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_lot tenderpool.lot;
    v_open text[];
BEGIN
    SELECT * INTO v_lot FROM tenderpool.lot WHERE lot_id = p_lot FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lot "%" does not exist', p_lot USING ERRCODE = 'no_data_found';
    END IF;
    IF v_lot.status <> 'viable' THEN
        RAISE EXCEPTION 'lot "%" is below the member threshold: it was never tendered (its requests carried over at the close)',
            p_lot USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF EXISTS (SELECT 1 FROM tenderpool.award WHERE lot_id = p_lot) THEN
        RAISE EXCEPTION 'lot "%" is awarded: an awarded lot cannot be withdrawn', p_lot
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF EXISTS (SELECT 1 FROM tenderpool.lot_withdrawal WHERE lot_id = p_lot) THEN
        RAISE EXCEPTION 'lot "%" is already withdrawn', p_lot USING ERRCODE = 'unique_violation';
    END IF;
    SELECT array_agg(round_id ORDER BY opens_at) INTO v_open
    FROM tenderpool.round WHERE status = 'open';
    IF coalesce(cardinality(v_open), 0) <> 1 THEN
        RAISE EXCEPTION 'lot "%": % open rounds (a close is in progress?); try again', p_lot,
            coalesce(cardinality(v_open), 0) USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO tenderpool.lot_withdrawal (lot_id, carried_to, reason)
    VALUES (p_lot, v_open[1], p_reason);
    RETURN v_open[1];
END
$$;
