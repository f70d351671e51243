/* `tenderpool verify --round R -c FILE`: recompute a closed round's lots in C and diff them. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_cli.h"
#include "tp_decimal.h"
#include "tp_md5.h"
#include "tp_mem.h"
#include "tp_pg.h"
#include "tp_unit.h"

/* The recomputation replays every round up to R from tenderpool.revision alone, in opens_at
 * order, with the settings each close recorded (min_members, max_carry_over, next_round_id):
 * a request's position is its highest revision among the rounds replayed so far; each round's
 * lots group the requests positioned in it; requests of a lot below min_members move to the
 * next round (at most max_carry_over times). Nothing is read from tenderpool.lot, the views or
 * the SQL functions except the stored lots of R, which are what is compared, and the
 * operator's withdrawals (tenderpool.lot_withdrawal: a withdrawn lot's requests carry over to
 * the round recorded there, as a below-threshold lot's do to the next). Lot ids hash the
 * key with MD5 (common/md5.c: a plain RFC 1321 digest, checked against known vectors). */

#define SEP "\x1f"

/* ---- data ---- */

typedef struct vround {
    char *id;
    bool closed;
    char *next_id;
    int next; /* index in the replayed rounds, -1 when not replayed (newer than R) or none */
    int min_members, max_carry;
} vround_t;

typedef struct vrev {
    int round; /* index of its round */
    int revision;
    int op;
    char *key; /* cpv SEP item_key SEP dimension SEP base_unit SEP zone SEP currency, or NULL */
    char *cpv, *item_key, *dimension, *base_unit, *zone, *currency;
    tp_dec_t base_q, q, price;
    bool has_price;
    char need_by[16]; /* YYYY-MM-DD, "" when NULL */
} vrev_t;

typedef struct vreq {
    char *member, *ref;
    vrev_t *revs; /* ascending revision */
    int nrevs;
    int cur;     /* index in revs of the current revision, -1 before its first round */
    int pos;     /* round index it is in, -1 when cancelled or nowhere */
    int carries; /* carries since its current revision */
} vreq_t;

typedef struct vlot {
    char id[128];
    const vrev_t *k; /* a line of the lot, for the key fields */
    tp_dec_t total, est;
    bool has_est;
    int members, requests;
    char need_min[16], need_max[16];
    bool viable;
} vlot_t;

typedef struct verify_ctx {
    PGconn *pg;
    vround_t *rounds;
    int nrounds, target;
    vreq_t *reqs;
    int nreqs;
    vlot_t *lots; /* of the target round */
    int nlots;
    char **wd_lots; /* withdrawn lots, and the round index their requests went to */
    int *wd_to;     /* -1: a round newer than R */
    int nwd;
    int diffs;
    char err[2048];
} verify_ctx_t;

static void verify_usage(void)
{
    fprintf(stderr, "usage: tenderpool verify --round ROUND -c FILE\n");
}

static int verify_parse_args(int argc, char **argv, const char **round)
{
    const tp_cli_opt_t opts[] = {{"--round", round}};
    if (tp_cli_parse_opts("verify", argc, argv, opts, 1) < 0)
        return -1;
    if (*round == NULL || **round == '\0') {
        fprintf(stderr, "tenderpool verify: --round ROUND is required\n");
        return -1;
    }
    return 0;
}

static char *dup_or_null(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : xstrdup(PQgetvalue(r, row, col));
}

static int round_index(const verify_ctx_t *ctx, const char *id)
{
    for (int i = 0; i < ctx->nrounds; i++)
        if (strcmp(ctx->rounds[i].id, id) == 0)
            return i;
    return -1;
}

/* Rounds up to and including R, oldest first; all must be closed. 0, 1 (usage-level: R
 * unknown or open, message printed), -1 (database error). */
/* The rounds replayed to verify round $1 (alias d): those that opened before it, itself, and
 * those that opened in the same second and closed before it (two early closes in one second
 * open rounds with equal opens_at; a round opened with R that is still open comes after R). */
#define REPLAYED_ROUNDS                                                                            \
    " (d.opens_at < t.opens_at OR d.round_id = t.round_id OR (d.opens_at = t.opens_at"             \
    "  AND d.status = 'closed' AND d.closed_at < t.closed_at))"

static int load_rounds(verify_ctx_t *ctx, const char *round)
{
    const char *p[1] = {round};
    PGresult *r = tp_pg_query(ctx->pg, "read tenderpool.round", ctx->err, sizeof(ctx->err),
                              "SELECT d.round_id, d.status, d.next_round_id, d.min_members,"
                              " d.max_carry_over FROM tenderpool.round d"
                              " JOIN tenderpool.round t ON t.round_id = $1"
                              " WHERE" REPLAYED_ROUNDS
                              " ORDER BY d.opens_at, d.closed_at, d.round_id COLLATE \"C\"",
                              1, p);
    if (r == NULL)
        return -1;
    ctx->nrounds = PQntuples(r);
    ctx->rounds = xcalloc((size_t)ctx->nrounds + 1, sizeof(*ctx->rounds));
    for (int i = 0; i < ctx->nrounds; i++) {
        vround_t *v = &ctx->rounds[i];
        v->id = xstrdup(PQgetvalue(r, i, 0));
        v->closed = strcmp(PQgetvalue(r, i, 1), "closed") == 0;
        v->next_id = dup_or_null(r, i, 2);
        v->min_members = PQgetisnull(r, i, 3) ? -1 : atoi(PQgetvalue(r, i, 3));
        v->max_carry = PQgetisnull(r, i, 4) ? 0 : atoi(PQgetvalue(r, i, 4));
    }
    PQclear(r);
    ctx->target = round_index(ctx, round);
    if (ctx->target < 0) {
        fprintf(stderr, "tenderpool verify: round %s does not exist\n", round);
        return 1;
    }
    if (!ctx->rounds[ctx->target].closed) {
        fprintf(stderr,
                "tenderpool verify: round %s is not closed; only a closed round has lots to"
                " verify\n",
                round);
        return 1;
    }
    for (int i = 0; i < ctx->nrounds; i++) {
        vround_t *v = &ctx->rounds[i];
        if (!v->closed || v->min_members < 1) {
            fprintf(stderr,
                    "tenderpool verify: round %s, older than %s, is %s; cannot replay the"
                    " rounds before %s\n",
                    v->id, round, v->closed ? "closed without recorded settings" : "still open",
                    round);
            return 1;
        }
        v->next = v->next_id ? round_index(ctx, v->next_id) : -1;
    }
    return 0;
}

static void parse_dec(verify_ctx_t *ctx, PGresult *r, int row, int col, tp_dec_t *out, bool *has)
{
    *has = !PQgetisnull(r, row, col);
    *out = tp_dec_from_int(0);
    if (*has && tp_dec_from_str(PQgetvalue(r, row, col), out) < 0) {
        printf("request %s/%s: cannot read numeric '%s'\n", PQgetvalue(r, row, 0),
               PQgetvalue(r, row, 1), PQgetvalue(r, row, col));
        ctx->diffs++;
    }
}

/* The key of a line: dimension and base unit from the C unit table (common/units.c). */
static void rev_key(verify_ctx_t *ctx, PGresult *r, int row, vrev_t *v)
{
    const char *unit = PQgetvalue(r, row, 7);
    const tp_unit_t *u = PQgetisnull(r, row, 7) ? NULL : tp_unit_find(unit);
    if (u == NULL || PQgetisnull(r, row, 5) || PQgetisnull(r, row, 6) || PQgetisnull(r, row, 8) ||
        PQgetisnull(r, row, 9)) {
        printf("request %s/%s revision %d: incomplete key (unit '%s'); it cannot be pooled\n",
               PQgetvalue(r, row, 0), PQgetvalue(r, row, 1), v->revision, unit);
        ctx->diffs++;
        return;
    }
    const char *cpv = PQgetvalue(r, row, 5);
    v->cpv = xstrdup(cpv);
    if (strlen(v->cpv) > 8)
        v->cpv[8] = '\0';
    v->item_key = xstrdup(PQgetvalue(r, row, 6));
    v->dimension = xstrdup(tp_dim_name(u->dim));
    v->base_unit = xstrdup(u->dim == TP_DIM_PACKAGE ? u->code : u->base);
    v->zone = xstrdup(PQgetvalue(r, row, 8));
    v->currency = xstrdup(PQgetvalue(r, row, 9));
    size_t n = strlen(v->cpv) + strlen(v->item_key) + strlen(v->dimension) + strlen(v->base_unit) +
               strlen(v->zone) + strlen(v->currency) + 8;
    v->key = xmalloc(n);
    snprintf(v->key, n, "%s" SEP "%s" SEP "%s" SEP "%s" SEP "%s" SEP "%s", v->cpv, v->item_key,
             v->dimension, v->base_unit, v->zone, v->currency);
}

/* Every revision of the replayed rounds, grouped per request in ascending revision. */
static int load_revisions(verify_ctx_t *ctx)
{
    const char *p[1] = {ctx->rounds[ctx->target].id};
    PGresult *r = tp_pg_query(
        ctx->pg, "read tenderpool.revision", ctx->err, sizeof(ctx->err),
        "SELECT v.member_id, v.request_ref, v.revision, v.op, v.round_id, v.cpv, v.item_key,"
        " v.unit, v.delivery_zone, v.currency, v.base_quantity::text, v.quantity::text,"
        " v.max_unit_price::text, v.need_by::text"
        " FROM tenderpool.revision v"
        " JOIN tenderpool.round d ON d.round_id = v.round_id"
        " JOIN tenderpool.round t ON t.round_id = $1"
        " WHERE" REPLAYED_ROUNDS
        " ORDER BY v.member_id COLLATE \"C\", v.request_ref COLLATE \"C\", v.revision",
        1, p);
    if (r == NULL)
        return -1;
    int n = PQntuples(r);
    ctx->reqs = xcalloc((size_t)n + 1, sizeof(*ctx->reqs));
    for (int i = 0; i < n; i++) {
        const char *m = PQgetvalue(r, i, 0), *ref = PQgetvalue(r, i, 1);
        vreq_t *q = ctx->nreqs > 0 ? &ctx->reqs[ctx->nreqs - 1] : NULL;
        if (q == NULL || strcmp(q->member, m) != 0 || strcmp(q->ref, ref) != 0) {
            q = &ctx->reqs[ctx->nreqs++];
            q->member = xstrdup(m);
            q->ref = xstrdup(ref);
            q->cur = q->pos = -1;
        }
        q->revs = xrealloc(q->revs, (size_t)(q->nrevs + 1) * sizeof(*q->revs));
        vrev_t *v = &q->revs[q->nrevs++];
        memset(v, 0, sizeof(*v));
        v->round = round_index(ctx, PQgetvalue(r, i, 4));
        v->revision = atoi(PQgetvalue(r, i, 2));
        v->op = atoi(PQgetvalue(r, i, 3));
        if (!PQgetisnull(r, i, 13))
            snprintf(v->need_by, sizeof(v->need_by), "%s", PQgetvalue(r, i, 13));
        if (v->op != 3) {
            bool has;
            rev_key(ctx, r, i, v);
            parse_dec(ctx, r, i, 10, &v->base_q, &has);
            parse_dec(ctx, r, i, 11, &v->q, &has);
            parse_dec(ctx, r, i, 12, &v->price, &v->has_price);
        }
    }
    PQclear(r);
    return 0;
}

/* ---- replay ---- */

static const vrev_t *cur_rev(const verify_ctx_t *ctx, int i)
{
    return &ctx->reqs[i].revs[ctx->reqs[i].cur];
}

static const verify_ctx_t *sort_ctx; /* qsort has no user pointer in C11 */

static int by_key_member(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    int c = strcmp(cur_rev(sort_ctx, x)->key, cur_rev(sort_ctx, y)->key);
    return c != 0 ? c : strcmp(sort_ctx->reqs[x].member, sort_ctx->reqs[y].member);
}

static int lot_cmp(const void *a, const void *b)
{
    return strcmp(((const vlot_t *)a)->id, ((const vlot_t *)b)->id);
}

/* Revisions of round ri become current (a higher revision replaces the position). */
static void apply_revisions(verify_ctx_t *ctx, int ri)
{
    for (int i = 0; i < ctx->nreqs; i++) {
        vreq_t *q = &ctx->reqs[i];
        for (int k = 0; k < q->nrevs; k++) {
            if (q->revs[k].round != ri ||
                (q->cur >= 0 && q->revs[q->cur].revision > q->revs[k].revision))
                continue;
            q->cur = k;
            q->carries = 0;
            q->pos = q->revs[k].op == 3 || q->revs[k].key == NULL ? -1 : ri;
        }
    }
}

static void lot_add_line(verify_ctx_t *ctx, vlot_t *lot, const vrev_t *v)
{
    tp_dec_t sum;
    if (tp_dec_add(&lot->total, &v->base_q, &sum) < 0) {
        printf("lot %s: total_quantity overflows the verifier's arithmetic\n", lot->id);
        ctx->diffs++;
    } else {
        lot->total = sum;
    }
    if (v->has_price) {
        tp_dec_t line;
        if (tp_dec_mul(&v->q, &v->price, &line) < 0 || tp_dec_add(&lot->est, &line, &sum) < 0) {
            printf("lot %s: est_value overflows the verifier's arithmetic\n", lot->id);
            ctx->diffs++;
        } else {
            lot->est = sum;
            lot->has_est = true;
        }
    }
    if (v->need_by[0] != '\0') {
        if (lot->need_min[0] == '\0' || strcmp(v->need_by, lot->need_min) < 0)
            snprintf(lot->need_min, sizeof(lot->need_min), "%s", v->need_by);
        if (lot->need_max[0] == '\0' || strcmp(v->need_by, lot->need_max) > 0)
            snprintf(lot->need_max, sizeof(lot->need_max), "%s", v->need_by);
    }
}

/* The withdrawals, with their target rounds as replay indices. */
static int load_withdrawals(verify_ctx_t *ctx)
{
    PGresult *r = tp_pg_query(ctx->pg, "read tenderpool.lot_withdrawal", ctx->err, sizeof(ctx->err),
                              "SELECT lot_id, carried_to FROM tenderpool.lot_withdrawal", 0, NULL);
    if (r == NULL)
        return -1;
    ctx->nwd = PQntuples(r);
    ctx->wd_lots = xcalloc((size_t)ctx->nwd + 1, sizeof(*ctx->wd_lots));
    ctx->wd_to = xcalloc((size_t)ctx->nwd + 1, sizeof(*ctx->wd_to));
    for (int i = 0; i < ctx->nwd; i++) {
        ctx->wd_lots[i] = xstrdup(PQgetvalue(r, i, 0));
        ctx->wd_to[i] = round_index(ctx, PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return 0;
}

/* -2 when lot was not withdrawn, else the replay index its requests went to (-1: newer). */
static int withdrawn_to(const verify_ctx_t *ctx, const char *lot)
{
    for (int i = 0; i < ctx->nwd; i++)
        if (strcmp(ctx->wd_lots[i], lot) == 0)
            return ctx->wd_to[i];
    return -2;
}

/* Lots of round ri from the requests positioned in it; then carry or settle those requests. */
static void close_round(verify_ctx_t *ctx, int ri)
{
    const vround_t *rd = &ctx->rounds[ri];
    int *idx = xmalloc(((size_t)ctx->nreqs + 1) * sizeof(int)), n = 0;
    for (int i = 0; i < ctx->nreqs; i++)
        if (ctx->reqs[i].pos == ri)
            idx[n++] = i;
    sort_ctx = ctx;
    qsort(idx, (size_t)n, sizeof(int), by_key_member);
    for (int s = 0; s < n;) {
        const vrev_t *k = cur_rev(ctx, idx[s]);
        int e = s;
        while (e < n && strcmp(cur_rev(ctx, idx[e])->key, k->key) == 0)
            e++;
        vlot_t lot = {.k = k, .total = tp_dec_from_int(0), .est = tp_dec_from_int(0)};
        char hex[33];
        tp_md5_hex(k->key, strlen(k->key), hex);
        snprintf(lot.id, sizeof(lot.id), "%s-%.12s", rd->id, hex);
        for (int j = s; j < e; j++) {
            lot_add_line(ctx, &lot, cur_rev(ctx, idx[j]));
            lot.requests++;
            if (j == s || strcmp(ctx->reqs[idx[j]].member, ctx->reqs[idx[j - 1]].member) != 0)
                lot.members++;
        }
        lot.viable = lot.members >= rd->min_members;
        int wd = lot.viable ? withdrawn_to(ctx, lot.id) : -2;
        for (int j = s; j < e && (!lot.viable || wd != -2); j++) {
            vreq_t *q = &ctx->reqs[idx[j]];
            if (q->carries < rd->max_carry && (wd != -2 || rd->next_id != NULL)) {
                q->pos = wd != -2 ? wd : rd->next; /* -1 when that round is newer than R */
                q->carries++;
            }
        }
        if (ri == ctx->target) {
            ctx->lots = xrealloc(ctx->lots, (size_t)(ctx->nlots + 1) * sizeof(*ctx->lots));
            ctx->lots[ctx->nlots++] = lot;
        }
        s = e;
    }
    free(idx);
}

/* ---- comparison ---- */

static void diff_text(verify_ctx_t *ctx, const char *lot, const char *field, const char *stored,
                      const char *want)
{
    if (strcmp(stored, want) == 0)
        return;
    printf("lot %s: %s stored '%s', recomputed '%s'\n", lot, field, stored, want);
    ctx->diffs++;
}

static void diff_dec(verify_ctx_t *ctx, const char *lot, const char *field, PGresult *r, int row,
                     int col, const tp_dec_t *want, bool has_want)
{
    char w[TP_DEC_STR_MAX] = "NULL", s[TP_DEC_STR_MAX] = "NULL";
    if (has_want)
        tp_dec_format(want, w, sizeof(w));
    if (!PQgetisnull(r, row, col)) {
        tp_dec_t d;
        if (tp_dec_from_str(PQgetvalue(r, row, col), &d) == 0)
            tp_dec_format(&d, s, sizeof(s));
        else
            snprintf(s, sizeof(s), "%s", PQgetvalue(r, row, col));
    }
    diff_text(ctx, lot, field, s, w);
}

static void diff_int(verify_ctx_t *ctx, const char *lot, const char *field, const char *stored,
                     int want)
{
    char w[32];
    snprintf(w, sizeof(w), "%d", want);
    diff_text(ctx, lot, field, stored, w);
}

static const char *val(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? "NULL" : PQgetvalue(r, row, col);
}

static void compare_lot(verify_ctx_t *ctx, PGresult *r, int row, const vlot_t *l)
{
    const char *id = l->id;
    diff_text(ctx, id, "cpv", val(r, row, 1), l->k->cpv);
    diff_text(ctx, id, "item_key", val(r, row, 2), l->k->item_key);
    diff_text(ctx, id, "dimension", val(r, row, 3), l->k->dimension);
    diff_text(ctx, id, "base_unit", val(r, row, 4), l->k->base_unit);
    diff_text(ctx, id, "delivery_zone", val(r, row, 5), l->k->zone);
    diff_text(ctx, id, "currency", val(r, row, 6), l->k->currency);
    diff_dec(ctx, id, "total_quantity", r, row, 7, &l->total, true);
    diff_int(ctx, id, "member_count", val(r, row, 8), l->members);
    diff_int(ctx, id, "request_count", val(r, row, 9), l->requests);
    diff_text(ctx, id, "need_by_min", val(r, row, 10), l->need_min[0] ? l->need_min : "NULL");
    diff_text(ctx, id, "need_by_max", val(r, row, 11), l->need_max[0] ? l->need_max : "NULL");
    diff_dec(ctx, id, "est_value", r, row, 12, &l->est, l->has_est);
    diff_text(ctx, id, "status", val(r, row, 13), l->viable ? "viable" : "below_threshold");
}

static int compare(verify_ctx_t *ctx, int *stored_count)
{
    const char *p[1] = {ctx->rounds[ctx->target].id};
    PGresult *r =
        tp_pg_query(ctx->pg, "read tenderpool.lot", ctx->err, sizeof(ctx->err),
                    "SELECT lot_id, cpv, item_key, dimension, base_unit, delivery_zone, currency,"
                    " total_quantity::text, member_count, request_count, need_by_min::text,"
                    " need_by_max::text, est_value::text, status"
                    " FROM tenderpool.lot WHERE round_id = $1 ORDER BY lot_id COLLATE \"C\"",
                    1, p);
    if (r == NULL)
        return -1;
    qsort(ctx->lots, (size_t)ctx->nlots, sizeof(*ctx->lots), lot_cmp);
    int ns = PQntuples(r), i = 0, j = 0;
    *stored_count = ns;
    while (i < ns || j < ctx->nlots) {
        int c = i >= ns ? 1 : j >= ctx->nlots ? -1 : strcmp(PQgetvalue(r, i, 0), ctx->lots[j].id);
        if (c < 0) {
            printf("lot %s: stored in tenderpool.lot but not recomputed (stored total %s,"
                   " %s members, %s requests)\n",
                   PQgetvalue(r, i, 0), val(r, i, 7), val(r, i, 8), val(r, i, 9));
            ctx->diffs++;
            i++;
        } else if (c > 0) {
            char t[TP_DEC_STR_MAX];
            tp_dec_format(&ctx->lots[j].total, t, sizeof(t));
            printf("lot %s: recomputed but missing from tenderpool.lot (total %s, %d members,"
                   " %d requests)\n",
                   ctx->lots[j].id, t, ctx->lots[j].members, ctx->lots[j].requests);
            ctx->diffs++;
            j++;
        } else {
            compare_lot(ctx, r, i++, &ctx->lots[j++]);
        }
    }
    PQclear(r);
    return 0;
}

static void verify_ctx_clear(verify_ctx_t *ctx)
{
    for (int i = 0; i < ctx->nrounds; i++) {
        free(ctx->rounds[i].id);
        free(ctx->rounds[i].next_id);
    }
    free(ctx->rounds);
    for (int i = 0; i < ctx->nreqs; i++) {
        vreq_t *q = &ctx->reqs[i];
        for (int k = 0; k < q->nrevs; k++) {
            vrev_t *v = &q->revs[k];
            free(v->key);
            free(v->cpv);
            free(v->item_key);
            free(v->dimension);
            free(v->base_unit);
            free(v->zone);
            free(v->currency);
        }
        free(q->revs);
        free(q->member);
        free(q->ref);
    }
    free(ctx->reqs);
    free(ctx->lots);
    for (int i = 0; i < ctx->nwd; i++)
        free(ctx->wd_lots[i]);
    free(ctx->wd_lots);
    free(ctx->wd_to);
    if (ctx->pg != NULL)
        PQfinish(ctx->pg);
}

int tp_cmd_verify(int argc, char **argv)
{
    const char *round = NULL;
    if (verify_parse_args(argc, argv, &round) < 0) {
        verify_usage();
        return 2;
    }
    tp_config_t cfg;
    if (tp_cli_load_config(argc, argv, &cfg) < 0) {
        fprintf(stderr, "tenderpool verify: -c FILE is required\n");
        verify_usage();
        return 2;
    }
    verify_ctx_t ctx = {0};
    int rc = 2, stored = 0;
    ctx.pg = tp_pg_connect(cfg.dsn, ctx.err, sizeof(ctx.err));
    if (ctx.pg == NULL ||
        tp_pg_exec(ctx.pg, "begin", ctx.err, sizeof(ctx.err),
                   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL) < 0)
        goto fail;
    int lr = load_rounds(&ctx, round);
    if (lr != 0) {
        if (lr < 0)
            goto fail;
        verify_ctx_clear(&ctx);
        return 2;
    }
    if (load_revisions(&ctx) < 0 || load_withdrawals(&ctx) < 0)
        goto fail;
    for (int ri = 0; ri <= ctx.target; ri++) {
        apply_revisions(&ctx, ri);
        close_round(&ctx, ri);
    }
    if (compare(&ctx, &stored) < 0)
        goto fail;
    printf("round %s: %d lots recomputed from %d requests, %d stored; %s (%d difference%s)\n",
           round, ctx.nlots, ctx.nreqs, stored, ctx.diffs == 0 ? "identical" : "DIFFERENT",
           ctx.diffs, ctx.diffs == 1 ? "" : "s");
    rc = ctx.diffs == 0 ? 0 : 1;
    verify_ctx_clear(&ctx);
    return rc;
fail:
    fprintf(stderr, "tenderpool verify: %s\n", ctx.err);
    verify_ctx_clear(&ctx);
    return 2;
}
