/* The worker state load's statements (tests/integration/test_rls.c runs them as the daemon). */
#ifndef TP_STORE_SQL_H
#define TP_STORE_SQL_H

/* One snapshot for the three reads: a close committing between them must not be half seen. */
#define TP_STORE_LOAD_BEGIN_SQL "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

/* The closed rounds and how many times their lots may carry a request on. */
#define TP_STORE_LOAD_ROUNDS_SQL                                                                   \
    "SELECT round_id, coalesce(max_carry_over, 0) FROM tenderpool.round WHERE status = 'closed'"

/* The lots of closed rounds that pooled nothing (request_walk's carrying step) and where
 * they carry their requests. */
#define TP_STORE_LOAD_LOTS_SQL                                                                     \
    "SELECT l.lot_id, coalesce(w.carried_to, r.next_round_id) FROM tenderpool.lot l "              \
    "JOIN tenderpool.round r ON r.round_id = l.round_id "                                          \
    "LEFT JOIN tenderpool.lot_withdrawal w ON w.lot_id = l.lot_id "                                \
    "WHERE r.status = 'closed' AND (l.status = 'below_threshold' OR w.lot_id IS NOT NULL)"

/* The latest revision of every request, with its line: member, ref, revision, op, server_seq,
 * content_hash, round (where the revision was stored), then cpv (8 digits), item_key, unit,
 * delivery_zone, currency, quantity, max_unit_price, need_by (days since 1970); \N for a
 * cancel. The descending order lets PostgreSQL read the unique index backwards, no sort. */
#define TP_STORE_LOAD_REVISIONS_SQL                                                                \
    "COPY (SELECT DISTINCT ON (member_id, request_ref) member_id, request_ref, revision, op, "     \
    "server_seq, content_hash, round_id, left(cpv, 8), item_key, unit, delivery_zone, currency, "  \
    "quantity, max_unit_price, need_by - date '1970-01-01' FROM tenderpool.revision "              \
    "ORDER BY member_id DESC, request_ref DESC, revision DESC) TO STDOUT"

#endif
