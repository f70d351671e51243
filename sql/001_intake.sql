-- 001: intake schema: append-only request history, rounds, reference data, public views.
-- Applied by `tenderpool migrate` inside one transaction; never edit once released.

CREATE SCHEMA IF NOT EXISTS tenderpool;

-- CPV 2008 codes (`tenderpool cpv import FILE`): 8 digits, no check digit.
CREATE TABLE tenderpool.cpv_code (
    code  char(8) PRIMARY KEY CHECK (code ~ '^[0-9]{8}$'),
    label text NOT NULL
);

-- The project's Rec 20 unit table, written by `tenderpool migrate` from the C table
-- (common/units.c is the single source of truth).
CREATE TABLE tenderpool.unit (
    code      text PRIMARY KEY,
    name      text NOT NULL,
    dimension text NOT NULL,
    base_unit text NOT NULL,
    factor    numeric         -- NULL for packaging codes: they pool only with themselves
);

-- Purchasing rounds. A row exists from the moment the round opens.
CREATE TABLE tenderpool.round (
    round_id  text PRIMARY KEY,
    opens_at  timestamptz NOT NULL,
    closes_at timestamptz NOT NULL,
    status    text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    closed_at timestamptz,
    CHECK (closes_at > opens_at)
);

-- server_seq blocks: a worker takes one value v and numbers its rows v*65536 + i.
CREATE SEQUENCE tenderpool.seq_block;

-- Every accepted revision, one row each, never updated: who sent what, when.
-- The current state of a request is the row with its highest revision.
CREATE TABLE tenderpool.revision (
    member_id      text     NOT NULL,
    request_ref    text     NOT NULL,
    revision       integer  NOT NULL CHECK (revision >= 1),
    op             smallint NOT NULL CHECK (op IN (1, 2, 3)), -- submit, amend, cancel
    server_seq     bigint   NOT NULL,
    round_id       text     NOT NULL,
    accepted_at    timestamptz NOT NULL,
    content_hash   bigint   NOT NULL,  -- of the envelope's operation and fields: DUPLICATE check
    cpv            text,
    item_key       text,
    description    text,
    quantity       numeric,
    unit           text,
    base_quantity  numeric,            -- quantity in the unit's base unit, exact
    need_by        date,
    delivery_zone  text,
    currency       text,
    max_unit_price numeric,
    cancel_reason  text,
    CONSTRAINT revision_key UNIQUE (member_id, request_ref, revision)
);

-- Public interface (SPEC section 5). Internal tables may change; these may not.
CREATE VIEW tenderpool.rounds AS
SELECT round_id, opens_at, closes_at, status, closed_at
FROM tenderpool.round;

CREATE VIEW tenderpool.requests AS
SELECT DISTINCT ON (r.member_id, r.request_ref)
       r.member_id, r.request_ref, r.revision,
       CASE WHEN r.op = 3 THEN 'cancelled' ELSE 'open' END AS state,
       r.round_id, NULL::text AS lot_id, r.accepted_at
FROM tenderpool.revision r
ORDER BY r.member_id, r.request_ref, r.revision DESC;

-- Filled once rounds close (a later migration replaces these definitions).
CREATE VIEW tenderpool.lots AS
SELECT NULL::text AS round_id, NULL::text AS lot_id, NULL::text AS cpv, NULL::text AS cpv_label,
       NULL::text AS item_key, NULL::text AS dimension, NULL::text AS base_unit,
       NULL::numeric AS total_quantity, NULL::integer AS member_count,
       NULL::integer AS request_count, NULL::date AS need_by_min, NULL::date AS need_by_max,
       NULL::text AS delivery_zone, NULL::text AS currency, NULL::numeric AS est_value,
       NULL::text AS status
WHERE false;

CREATE VIEW tenderpool.lot_lines AS
SELECT NULL::text AS lot_id, NULL::text AS member_id, NULL::text AS request_ref,
       NULL::integer AS revision, NULL::numeric AS quantity, NULL::text AS unit,
       NULL::numeric AS base_quantity, NULL::date AS need_by, NULL::numeric AS max_unit_price
WHERE false;

CREATE VIEW tenderpool.awards AS
SELECT NULL::text AS lot_id, NULL::text AS supplier, NULL::numeric AS unit_price,
       NULL::numeric AS quantity, NULL::text AS currency, NULL::timestamptz AS awarded_at
WHERE false;
