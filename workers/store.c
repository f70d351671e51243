/* Worker storage: state load from the history, server_seq blocks, and group commits via COPY. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_ipc.h"
#include "tp_log.h"
#include "tp_mem.h"
#include "tp_pg.h"
#include "tp_history.h"
#include "tp_store.h"
#include "tp_store_sql.h"
#include "tp_validate.h"

#define TP_SEQ_BLOCK 65536

static const char tp_copy_sql[] =
    "COPY tenderpool.revision (member_id, request_ref, revision, op, server_seq, round_id, "
    "accepted_at, content_hash, cpv, item_key, description, quantity, unit, base_quantity, "
    "need_by, delivery_zone, currency, max_unit_price, cancel_reason) FROM STDIN (FORMAT binary)";

/* ---- connections ---- */

int tp_store_connect(tp_store_t *st, const char *dsn, const char *app, char *err, size_t errlen)
{
    tp_store_disconnect(st);
    snprintf(st->dsn, sizeof(st->dsn), "%s", dsn);
    /* acks promise durability: never trust the server's default for synchronous_commit */
    /* A silent network must not hang a commit forever: TCP keepalives and a user timeout
     * turn it into a broken connection (ignored on unix sockets). */
    const char *keys[] = {"dbname",           "application_name", "options",
                          "connect_timeout",  "keepalives_idle",  "keepalives_interval",
                          "keepalives_count", "tcp_user_timeout", NULL};
    const char *vals[] = {dsn,  app,     "-c synchronous_commit=on -c client_min_messages=warning",
                          "10", "10",    "5",
                          "3",  "30000", NULL};
    PGconn *c[2];
    for (int i = 0; i < 2; i++) {
        c[i] = PQconnectdbParams(keys, vals, 1);
        if (PQstatus(c[i]) != CONNECTION_OK) {
            snprintf(err, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(c[i]));
            err[strcspn(err, "\n")] = '\0';
            PQfinish(c[i]);
            if (i == 1)
                PQfinish(c[0]);
            return -1;
        }
    }
    st->wconn = c[0];
    st->qconn = c[1];
    if (PQsetnonblocking(st->wconn, 1) != 0) {
        snprintf(err, errlen, "cannot make the writer connection non-blocking");
        tp_store_disconnect(st);
        return -1;
    }
    /* Least privilege (sql/006_roles.sql): a superuser works but is warned about, once per
     * process; any other role needs BYPASSRLS, since PostgreSQL refuses COPY FROM into the
     * tables under row-level security (every commit would fail). */
    static bool warned_superuser;
    PGresult *r = tp_pg_query(st->qconn, "database role check", err, errlen,
                              "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles "
                              "WHERE rolname = current_user",
                              0, NULL);
    if (r == NULL || PQntuples(r) != 1) {
        if (r != NULL)
            snprintf(err, errlen, "database role check: current_user not in pg_roles");
        PQclear(r);
        tp_store_disconnect(st);
        return -1;
    }
    const char *role = PQgetvalue(r, 0, 0);
    bool super = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    bool bypass = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    if (super && !warned_superuser) {
        tp_warn("database role %s is a superuser: use a role with only tenderpool_daemon's grants "
                "(and BYPASSRLS)",
                role);
        warned_superuser = true;
    } else if (!super && !bypass) {
        snprintf(err, errlen,
                 "database role %s lacks BYPASSRLS: the workers COPY into tables under row-level "
                 "security (ALTER ROLE %s BYPASSRLS, as a superuser)",
                 role, role);
        PQclear(r);
        tp_store_disconnect(st);
        return -1;
    }
    PQclear(r);
    st->cstate = TP_COMMIT_IDLE;
    return 0;
}

void tp_store_disconnect(tp_store_t *st)
{
    if (st->wconn)
        PQfinish(st->wconn);
    if (st->qconn)
        PQfinish(st->qconn);
    st->wconn = st->qconn = NULL;
    st->cstate = TP_COMMIT_IDLE;
    st->seq_next = st->seq_end = 0; /* a new connection takes a new block */
}

bool tp_store_up(const tp_store_t *st)
{
    return st->wconn != NULL;
}

bool tp_store_broken(const tp_store_t *st)
{
    return st->wconn != NULL &&
           (PQstatus(st->wconn) != CONNECTION_OK || PQstatus(st->qconn) != CONNECTION_OK);
}

int tp_store_fd(const tp_store_t *st)
{
    return st->wconn ? PQsocket(st->wconn) : -1;
}

bool tp_store_wants_write(const tp_store_t *st)
{
    return st->cstate == TP_COMMIT_SENDING;
}

int tp_store_check_schema(tp_store_t *st, char *err, size_t errlen)
{
    /* the migration log is not the daemon role's to read: schema_version() (007) is */
    PGresult *r = tp_pg_query(st->qconn, "schema check", err, errlen,
                              "SELECT CASE WHEN to_regprocedure('tenderpool.schema_version()') "
                              "IS NULL THEN 0 ELSE tenderpool.schema_version() END",
                              0, NULL);
    if (r == NULL)
        return -1;
    int have = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (have < TP_SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "schema tenderpool is at version %d, this build needs %d: run 'tenderpool "
                 "migrate -c FILE'",
                 have, TP_SCHEMA_VERSION);
        return -1;
    }
    return 0;
}

int tp_store_next_seq(tp_store_t *st, uint64_t *out)
{
    if (st->seq_next == st->seq_end) {
        char err[512];
        PGresult *r = tp_pg_query(st->qconn, "server_seq block", err, sizeof(err),
                                  "SELECT nextval('tenderpool.seq_block')", 0, NULL);
        if (r == NULL) {
            snprintf(st->last_error, sizeof(st->last_error), "%s", err);
            return -1;
        }
        uint64_t block = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        st->seq_next = block * TP_SEQ_BLOCK;
        st->seq_end = st->seq_next + TP_SEQ_BLOCK;
    }
    *out = st->seq_next++;
    return 0;
}

int tp_store_ensure_round(tp_store_t *st, const tp_round_span_t *rs)
{
    char opens[32], closes[32];
    snprintf(opens, sizeof(opens), "%lld", (long long)rs->opens_at);
    snprintf(closes, sizeof(closes), "%lld", (long long)rs->closes_at);
    const char *params[] = {rs->id, opens, closes};
    return tp_pg_exec(st->qconn, "open round", st->last_error, sizeof(st->last_error),
                      "INSERT INTO tenderpool.round (round_id, opens_at, closes_at) "
                      "VALUES ($1, to_timestamp($2::bigint), to_timestamp($3::bigint)) "
                      "ON CONFLICT (round_id) DO NOTHING",
                      3, params);
}

int tp_store_cpv_count(tp_store_t *st, long *count)
{
    PGresult *r = tp_pg_query(st->qconn, "count CPV codes", st->last_error, sizeof(st->last_error),
                              "SELECT count(*) FROM tenderpool.cpv_code", 0, NULL);
    if (r == NULL)
        return -1;
    *count = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int tp_store_load_cpv(tp_store_t *st, tp_cpv_set_t *set, char *err, size_t errlen)
{
    PGresult *r = tp_pg_query(st->qconn, "load CPV codes", err, errlen,
                              "SELECT code FROM tenderpool.cpv_code", 0, NULL);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        if (tp_cpv_set_add(set, PQgetvalue(r, i, 0)) < 0)
            tp_warn("ignoring malformed stored CPV code '%s'", PQgetvalue(r, i, 0));
    PQclear(r);
    tp_cpv_set_seal(set);
    return 0;
}

/* One COPY OUT line of TP_STORE_LOAD_REVISIONS_SQL. */
#define TP_LOAD_FIELDS 15
#define TP_LOAD_LINE 7 /* index of the first line field */

/* COPY text escapes a backslash as "\\" (identifiers hold none; item keys may): undo it. */
static void copy_unescape(char *s)
{
    char *d = s;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            *d++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s;
        } else {
            *d++ = *s;
        }
    }
    *d = '\0';
}

/* The amounts of an open line (its key is built). */
static int line_amounts(tp_pool_line_t *pl, char **f)
{
    pl->has_max_price = strcmp(f[TP_LOAD_LINE + 6], "\\N") != 0;
    if (tp_dec_from_str(f[TP_LOAD_LINE + 5], &pl->quantity) < 0 ||
        (pl->has_max_price && tp_dec_from_str(f[TP_LOAD_LINE + 6], &pl->max_unit_price) < 0))
        return -1;
    pl->need_by = (int32_t)strtol(f[TP_LOAD_LINE + 7], NULL, 10);
    return 0;
}

/* Where a submit or amend stands now: its home round when that is not closed, else where
 * the closes moved it (tp_history_walk). A line whose key cannot be built in a closed round
 * stays there unpooled, as the SQL walk leaves a line without a lot key hash. */
static int place(const tp_history_t *hist, tp_pool_line_t *pl, char **f, tp_history_pos_t *pos)
{
    const char *home = f[6];
    *pos = (tp_history_pos_t){.round_id = home, .carries = 0, .state = TP_RS_OPEN};
    copy_unescape(f[TP_LOAD_LINE + 1]);
    pl->unit = tp_unit_find(f[TP_LOAD_LINE + 2]);
    int built = pl->unit ? tp_pool_key_build(&pl->key, home, f[TP_LOAD_LINE], f[TP_LOAD_LINE + 1],
                                             pl->unit, f[TP_LOAD_LINE + 3], f[TP_LOAD_LINE + 4])
                         : -1;
    if (!tp_history_closed(hist, home))
        return built;
    char id[TP_POOL_LOT_ID_MAX];
    if (built < 0 || tp_pool_lot_id(&pl->key, id, sizeof(id)) < 0) {
        pos->state = TP_RS_UNPOOLED;
        return 0;
    }
    tp_history_walk(hist, home, id + strlen(id) - 12, pos);
    return 0;
}

static int load_line(const tp_store_loader_t *ld, const tp_history_t *hist, char *line)
{
    char *f[TP_LOAD_FIELDS];
    int n = 0;
    for (char *p = line; n < TP_LOAD_FIELDS; n++) {
        f[n] = p;
        p = strchr(p, '\t');
        if (p == NULL) {
            n++;
            break;
        }
        *p++ = '\0';
    }
    if (n != TP_LOAD_FIELDS)
        return -1;
    f[TP_LOAD_FIELDS - 1][strcspn(f[TP_LOAD_FIELDS - 1], "\n")] = '\0';
    if (tp_route_worker(f[0], f[1], ld->nworkers) != ld->worker)
        return 0;
    tp_reqindex_t *ix = ld->ix;
    tp_reqent_t *e = tp_reqindex_upsert(ix, tp_reqindex_member(ix, f[0]), f[1]);
    e->revision = (uint32_t)strtoul(f[2], NULL, 10);
    e->op = (uint8_t)atoi(f[3]);
    e->server_seq = strtoull(f[4], NULL, 10);
    e->content_hash = (uint64_t)strtoll(f[5], NULL, 10);
    if (e->op == TP_OP_CANCEL) { /* a cancel stays where it was stored */
        e->round = tp_reqindex_round(ix, f[6]);
        e->state = TP_RS_CANCELLED;
        return 0;
    }
    tp_pool_line_t pl;
    memset(&pl, 0, sizeof(pl));
    tp_history_pos_t pos;
    int rc = place(hist, &pl, f, &pos);
    e->round = tp_reqindex_round(ix, pos.round_id);
    e->state = (uint8_t)pos.state;
    if ((pos.state != TP_RS_OPEN && pos.state != TP_RS_CARRIED_OVER) || ld->line == NULL)
        return rc;
    pl.key.round_id = tp_reqindex_round_name(ix, e->round);
    if (rc < 0 || line_amounts(&pl, f) < 0) { /* an open line the pool cannot hold */
        if (ld->lost)
            ld->lost(ld->ctx, e);
        return -1;
    }
    return ld->line(ld->ctx, e, &pl, pos.carries);
}

/* The closes so far (TP_STORE_LOAD_ROUNDS_SQL, TP_STORE_LOAD_LOTS_SQL) into hist. */
static int load_history(tp_store_t *st, tp_history_t *hist, char *err, size_t errlen)
{
    PGresult *r = tp_pg_query(st->qconn, "load closed rounds", err, errlen,
                              TP_STORE_LOAD_ROUNDS_SQL, 0, NULL);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        tp_history_add_round(hist, PQgetvalue(r, i, 0), atoi(PQgetvalue(r, i, 1)));
    PQclear(r);
    r = tp_pg_query(st->qconn, "load carrying lots", err, errlen, TP_STORE_LOAD_LOTS_SQL, 0, NULL);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        tp_history_add_lot(hist, PQgetvalue(r, i, 0),
                           PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1));
    PQclear(r);
    return 0;
}

static int load_revisions(tp_store_t *st, const tp_store_loader_t *ld, const tp_history_t *hist,
                          char *err, size_t errlen)
{
    PGresult *r = PQexec(st->qconn, TP_STORE_LOAD_REVISIONS_SQL);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        tp_pg_error(r, st->qconn, "load request state", err, errlen);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    char *buf;
    int len, bad = 0;
    while ((len = PQgetCopyData(st->qconn, &buf, 0)) > 0) {
        if (load_line(ld, hist, buf) < 0)
            bad++;
        PQfreemem(buf);
    }
    r = PQgetResult(st->qconn);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        tp_pg_error(r, st->qconn, "load request state", err, errlen);
    PQclear(r);
    while ((r = PQgetResult(st->qconn)) != NULL)
        PQclear(r);
    if (bad)
        tp_warn("load request state: %d unreadable rows ignored", bad);
    return ok ? 0 : -1;
}

int tp_store_load_state(tp_store_t *st, const tp_store_loader_t *ld, char *err, size_t errlen)
{
    /* The closes so far, then every request's latest revision placed by them: PostgreSQL
     * sends each stored line once, and each worker walks only its own requests. */
    if (tp_pg_exec(st->qconn, "load request state", err, errlen, TP_STORE_LOAD_BEGIN_SQL, 0, NULL) <
        0)
        return -1;
    tp_history_t *hist = tp_history_new();
    int rc = load_history(st, hist, err, errlen);
    if (rc == 0)
        rc = load_revisions(st, ld, hist, err, errlen);
    tp_history_destroy(&hist);
    char end_err[256];
    if (tp_pg_exec(st->qconn, "end the state load", end_err, sizeof(end_err),
                   rc == 0 ? "COMMIT" : "ROLLBACK", 0, NULL) < 0 &&
        rc == 0) {
        snprintf(err, errlen, "%s", end_err);
        rc = -1;
    }
    return rc;
}

int tp_store_open_rounds(tp_store_t *st, tp_round_span_t *oldest, tp_round_span_t *newest,
                         int *count)
{
    PGresult *r = tp_pg_query(st->qconn, "open rounds", st->last_error, sizeof(st->last_error),
                              "SELECT round_id, extract(epoch FROM opens_at)::bigint, "
                              "extract(epoch FROM closes_at)::bigint FROM tenderpool.round "
                              "WHERE status = 'open' ORDER BY opens_at, round_id",
                              0, NULL);
    if (r == NULL)
        return -1;
    *count = PQntuples(r);
    for (int i = 0; i < *count; i += (*count > 1 ? *count - 1 : 1)) {
        tp_round_span_t *out = i == 0 ? oldest : newest;
        snprintf(out->id, sizeof(out->id), "%s", PQgetvalue(r, i, 0));
        out->opens_at = (time_t)strtoll(PQgetvalue(r, i, 1), NULL, 10);
        out->closes_at = (time_t)strtoll(PQgetvalue(r, i, 2), NULL, 10);
        if (*count == 1)
            *newest = *oldest;
    }
    PQclear(r);
    return 0;
}

/* The parameters of tenderpool.close_round / close_round_begin as text: round, next,
 * next opens, next closes (unix seconds), min_members, max_carry_over. */
typedef struct close_args {
    char opens[32], closes[32], minm[16], maxc[16];
    const char *v[6];
} close_args_t;

static void close_args(close_args_t *a, const tp_ipc_close_t *c, int min_members,
                       int max_carry_over)
{
    snprintf(a->opens, sizeof(a->opens), "%lld", (long long)c->next_opens);
    snprintf(a->closes, sizeof(a->closes), "%lld", (long long)c->next_closes);
    snprintf(a->minm, sizeof(a->minm), "%d", min_members);
    snprintf(a->maxc, sizeof(a->maxc), "%d", max_carry_over);
    const char *v[6] = {c->round, c->next, a->opens, a->closes, a->minm, a->maxc};
    memcpy(a->v, v, sizeof(v));
}

int tp_store_close_round(tp_store_t *st, const tp_ipc_close_t *c, int min_members,
                         int max_carry_over, int *lots, int *viable)
{
    close_args_t ca;
    close_args(&ca, c, min_members, max_carry_over);
    const char *const *params = ca.v;
    /* one statement, one transaction: the lots appear all at once, exactly once */
    PGresult *r = tp_pg_query(st->qconn, "close round", st->last_error, sizeof(st->last_error),
                              "SELECT tenderpool.close_round($1, $2, to_timestamp($3::bigint), "
                              "to_timestamp($4::bigint), $5::int, $6::int)",
                              6, params);
    if (r == NULL)
        return -1;
    *lots = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    r = tp_pg_query(st->qconn, "count viable lots", st->last_error, sizeof(st->last_error),
                    "SELECT count(*) FROM tenderpool.lot WHERE round_id = $1 AND status = 'viable'",
                    1, params);
    if (r == NULL)
        return -1;
    *viable = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

/* Run sql on the query connection; 0, or -1 with last_error. */
static int qexec(tp_store_t *st, const char *what, const char *sql, int n, const char *const *p)
{
    return tp_pg_exec(st->qconn, what, st->last_error, sizeof(st->last_error), sql, n, p);
}

/* COPY text rows into tenderpool.lot inside the open transaction. */
static int copy_lots(tp_store_t *st, const char *rows, size_t len)
{
    PGresult *r =
        PQexec(st->qconn, "COPY tenderpool.lot (lot_id, round_id, cpv, item_key, dimension, "
                          "base_unit, delivery_zone, currency, total_quantity, member_count, "
                          "request_count, need_by_min, need_by_max, est_value, status) FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        tp_pg_error(r, st->qconn, "COPY lots", st->last_error, sizeof(st->last_error));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    if ((len && PQputCopyData(st->qconn, rows, (int)len) != 1) ||
        PQputCopyEnd(st->qconn, NULL) != 1) {
        snprintf(st->last_error, sizeof(st->last_error), "COPY lots: %s",
                 PQerrorMessage(st->qconn));
        return -1;
    }
    r = PQgetResult(st->qconn);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc)
        tp_pg_error(r, st->qconn, "COPY lots", st->last_error, sizeof(st->last_error));
    PQclear(r);
    while ((r = PQgetResult(st->qconn)) != NULL)
        PQclear(r);
    return rc;
}

int tp_store_close_lots(tp_store_t *st, const tp_ipc_close_t *c, int min_members,
                        int max_carry_over, const char *rows, size_t len, int *lots)
{
    close_args_t ca;
    close_args(&ca, c, min_members, max_carry_over);
    const char *const *params = ca.v;
    const char *seal[] = {c->round, c->next, ca.minm, ca.maxc};
    if (qexec(st, "begin close", "BEGIN", 0, NULL) < 0)
        return -1;
    /* one transaction: the lots appear all at once, exactly once */
    PGresult *r = tp_pg_query(st->qconn, "close round", st->last_error, sizeof(st->last_error),
                              "SELECT tenderpool.close_round_begin($1, $2, "
                              "to_timestamp($3::bigint), to_timestamp($4::bigint), $5::int, "
                              "$6::int)",
                              6, params);
    if (r == NULL)
        goto fail;
    bool closed = !PQgetisnull(r, 0, 0);
    *lots = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!closed) {
        if (copy_lots(st, rows, len) < 0)
            goto fail;
        r = tp_pg_query(st->qconn, "seal round", st->last_error, sizeof(st->last_error),
                        "SELECT tenderpool.close_round_seal($1, $2, $3::int, $4::int)", 4, seal);
        if (r == NULL)
            goto fail;
        *lots = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    if (qexec(st, "commit close", "COMMIT", 0, NULL) < 0)
        return -1;
    return 0;
fail:;
    char keep[sizeof(st->last_error)];
    snprintf(keep, sizeof(keep), "%s", st->last_error);
    (void)qexec(st, "rollback close", "ROLLBACK", 0, NULL);
    snprintf(st->last_error, sizeof(st->last_error), "%s", keep);
    return -1;
}

int tp_store_close_result(tp_store_t *st, const char *round, int *viable, int *max_carry_over,
                          char **hashes, size_t *len)
{
    const char *params[] = {round};
    *hashes = NULL;
    *len = 0;
    PGresult *r = tp_pg_query(st->qconn, "closed round", st->last_error, sizeof(st->last_error),
                              "SELECT max_carry_over FROM tenderpool.round "
                              "WHERE round_id = $1 AND status = 'closed'",
                              1, params);
    if (r == NULL)
        return -1;
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        snprintf(st->last_error, sizeof(st->last_error), "round %s is not closed", round);
        PQclear(r);
        return -1;
    }
    *max_carry_over = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    r = tp_pg_query(st->qconn, "viable lots", st->last_error, sizeof(st->last_error),
                    "SELECT right(lot_id, 12) FROM tenderpool.lot "
                    "WHERE round_id = $1 AND status = 'viable'",
                    1, params);
    if (r == NULL)
        return -1;
    int n = PQntuples(r);
    *hashes = xmalloc((size_t)n * 12 + 1);
    for (int i = 0; i < n; i++) {
        const char *h = PQgetvalue(r, i, 0);
        if (PQgetlength(r, i, 0) != 12) {
            snprintf(st->last_error, sizeof(st->last_error), "lot id without a key hash: %s", h);
            PQclear(r);
            free(*hashes);
            *hashes = NULL;
            return -1;
        }
        memcpy(*hashes + (size_t)i * 12, h, 12);
    }
    *viable = n;
    *len = (size_t)n * 12;
    PQclear(r);
    return 0;
}

int tp_store_withdraw(tp_store_t *st, const char *lot, const char *reason, char *to, size_t tolen)
{
    const char *params[] = {lot, reason[0] ? reason : NULL};
    PGresult *r = tp_pg_query(st->qconn, "withdraw lot", st->last_error, sizeof(st->last_error),
                              "SELECT tenderpool.withdraw_lot($1, $2)", 2, params);
    if (r == NULL)
        return -1;
    snprintf(to, tolen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int tp_store_revision_lookup(tp_store_t *st, const char *member, const char *ref, uint32_t revision,
                             uint64_t *hash, uint64_t *seq, char *round, size_t roundlen)
{
    char rev[16];
    snprintf(rev, sizeof(rev), "%u", revision);
    const char *params[] = {member, ref, rev};
    PGresult *r = tp_pg_query(st->qconn, "revision lookup", st->last_error, sizeof(st->last_error),
                              "SELECT content_hash, server_seq, round_id FROM tenderpool.revision "
                              "WHERE member_id = $1 AND request_ref = $2 AND revision = $3::int",
                              3, params);
    if (r == NULL)
        return -1;
    int found = PQntuples(r) == 1;
    if (found) {
        *hash = (uint64_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        *seq = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
        snprintf(round, roundlen, "%s", PQgetvalue(r, 0, 2));
    }
    PQclear(r);
    return found;
}

int tp_store_copy_sync(tp_store_t *st, const tp_copybuf_t *buf)
{
    PGresult *r = PQexec(st->qconn, tp_copy_sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        tp_pg_error(r, st->qconn, "COPY", st->last_error, sizeof(st->last_error));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    if (PQputCopyData(st->qconn, buf->data, (int)buf->len) != 1 ||
        PQputCopyEnd(st->qconn, NULL) != 1) {
        snprintf(st->last_error, sizeof(st->last_error), "COPY: %s", PQerrorMessage(st->qconn));
        return -1;
    }
    r = PQgetResult(st->qconn);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : 1;
    if (rc) {
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        snprintf(st->last_error, sizeof(st->last_error), "%s", msg ? msg : "refused");
        snprintf(st->last_sqlstate, sizeof(st->last_sqlstate), "%s", tp_pg_sqlstate(r));
    }
    PQclear(r);
    while ((r = PQgetResult(st->qconn)) != NULL)
        PQclear(r);
    return rc && PQstatus(st->qconn) != CONNECTION_OK ? -1 : rc;
}

/* ---- asynchronous commit ---- */

bool tp_store_idle(tp_store_t *st)
{
    if (st->wconn == NULL || st->cstate != TP_COMMIT_FINISHING)
        return st->wconn != NULL && st->cstate == TP_COMMIT_IDLE;
    PGresult *r;
    PQconsumeInput(st->wconn);
    while (!PQisBusy(st->wconn)) {
        if ((r = PQgetResult(st->wconn)) == NULL) {
            st->cstate = TP_COMMIT_IDLE;
            return true;
        }
        PQclear(r);
    }
    return false;
}

int tp_store_commit_begin(tp_store_t *st, const tp_copybuf_t *buf)
{
    if (st->cstate != TP_COMMIT_IDLE || st->wconn == NULL)
        return -1;
    if (!PQsendQuery(st->wconn, tp_copy_sql)) {
        snprintf(st->last_error, sizeof(st->last_error), "COPY: %s", PQerrorMessage(st->wconn));
        return -1;
    }
    st->cbuf = buf;
    st->csent = 0;
    st->cend = false;
    st->cstate = TP_COMMIT_WAIT_COPYIN;
    PQflush(st->wconn);
    return 0;
}

/* After an error the server may still be in COPY mode or have results queued: read until
 * idle (blocking: the server has already answered), ending a COPY we were still feeding. */
static int drain_to_idle(PGconn *c)
{
    PGresult *x;
    for (int guard = 0; guard < 16; guard++) {
        x = PQgetResult(c);
        if (x == NULL)
            return PQtransactionStatus(c) == PQTRANS_IDLE ? 0 : -1;
        ExecStatusType s = PQresultStatus(x);
        PQclear(x);
        if (s == PGRES_COPY_IN && PQputCopyEnd(c, "aborted after an error") < 0)
            return -1;
        if (s == PGRES_COPY_IN && PQflush(c) != 0)
            return -1;
    }
    return -1;
}

static tp_commit_result_t commit_fail(tp_store_t *st, PGresult *r, bool lost)
{
    tp_pg_error(r, st->wconn, "commit", st->last_error, sizeof(st->last_error));
    snprintf(st->last_sqlstate, sizeof(st->last_sqlstate), "%s", tp_pg_sqlstate(r));
    if (r)
        PQclear(r);
    if (!lost && PQstatus(st->wconn) != CONNECTION_OK)
        lost = true;
    if (!lost && drain_to_idle(st->wconn) < 0)
        lost = true; /* the protocol state is unknown: the caller resets the connection */
    st->cstate = TP_COMMIT_IDLE;
    return lost ? TP_COMMIT_LOST : TP_COMMIT_FAILED;
}

/* libpq copies what PQputCopyData is given into its output buffer and, after each partial
 * send, moves the unsent rest to the buffer's front: handed a whole group (a megabyte under
 * load) it moved every byte two or three times. So it gets one chunk at a time, each once
 * the previous one has left (PQflush 0): one copy, rests of at most a chunk. */
#define TP_COPY_CHUNK (64 * 1024)

static tp_commit_result_t commit_send(tp_store_t *st)
{
    while (st->csent < st->cbuf->len) {
        int f = PQflush(st->wconn);
        if (f < 0)
            return commit_fail(st, NULL, true);
        if (f > 0)
            return TP_COMMIT_PENDING; /* SENDING: polled for POLLOUT */
        size_t n = st->cbuf->len - st->csent;
        if (n > TP_COPY_CHUNK)
            n = TP_COPY_CHUNK;
        int rc = PQputCopyData(st->wconn, st->cbuf->data + st->csent, (int)n);
        if (rc < 0)
            return commit_fail(st, NULL, true);
        if (rc == 0)
            return TP_COMMIT_PENDING;
        st->csent += n;
    }
    if (!st->cend) {
        int rc = PQputCopyEnd(st->wconn, NULL);
        if (rc < 0)
            return commit_fail(st, NULL, true);
        if (rc == 0)
            return TP_COMMIT_PENDING;
        st->cend = true;
    }
    int f = PQflush(st->wconn);
    if (f < 0)
        return commit_fail(st, NULL, true);
    st->cstate = f == 0 ? TP_COMMIT_WAIT_RESULT : TP_COMMIT_SENDING;
    return TP_COMMIT_PENDING;
}

static tp_commit_result_t commit_step(tp_store_t *st)
{
    if (st->wconn == NULL)
        return TP_COMMIT_LOST;
    if (st->cstate == TP_COMMIT_IDLE || st->cstate == TP_COMMIT_FINISHING)
        return TP_COMMIT_OK;
    if (!PQconsumeInput(st->wconn))
        return commit_fail(st, NULL, true);
    if (st->cstate == TP_COMMIT_SENDING)
        return commit_send(st);
    if (PQisBusy(st->wconn))
        return TP_COMMIT_PENDING;
    PGresult *r = PQgetResult(st->wconn);
    ExecStatusType s = PQresultStatus(r);
    if (st->cstate == TP_COMMIT_WAIT_COPYIN) {
        if (s != PGRES_COPY_IN)
            return commit_fail(st, r, false);
        PQclear(r);
        st->cstate = TP_COMMIT_SENDING;
        return commit_send(st);
    }
    /* WAIT_RESULT: the COPY's own result is its commit (autocommit, synchronous) */
    if (s != PGRES_COMMAND_OK)
        return commit_fail(st, r, r == NULL);
    PQclear(r);
    /* Committed. The server's ready-for-query may still be on its way: finish reading it
     * before the next command (tp_store_idle), without delaying the acks. */
    st->cstate = TP_COMMIT_FINISHING;
    tp_store_idle(st);
    return TP_COMMIT_OK;
}

/* Step until the commit ends or stops making progress. libpq may already have read the
 * server's answer into its buffer while flushing (it reads to avoid deadlock), in which case
 * the socket never becomes readable again: never wait on the socket after a transition. */
tp_commit_result_t tp_store_commit_poll(tp_store_t *st)
{
    for (;;) {
        tp_commit_state_t before = st->cstate;
        tp_commit_result_t res = commit_step(st);
        if (res != TP_COMMIT_PENDING || st->cstate == before)
            return res;
    }
}
