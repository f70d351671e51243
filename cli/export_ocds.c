/* `tenderpool export-ocds`: a closed round's call for tenders as an OCDS 1.1 release package;
 * it must never name members, their requests, their quantities or their price ceilings. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tp_cli.h"
#include "tp_decimal.h"
#include "tp_mem.h"
#include "tp_pg.h"

/* Mapping and reasons: docs/ocds-export.md. What is read is the public view tenderpool.lots
 * (viable lots only: their totals, never their lines), the unit names and the withdrawals;
 * tenderpool.lot_lines, the requests and the revisions are never queried, so nothing about one
 * member can reach the output. Numbers are copied from PostgreSQL's numeric text through the
 * exact decimal type (common/decimal.c) into canonical JSON numbers: no binary floating point.
 * Output is a pure function of the database: dates come from the round and its withdrawals,
 * not from the clock, so two exports of the same state are byte-identical. */

#define OCDS_VERSION "1.1"
#define OCDS_LOTS_EXT                                                                              \
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/v1.1.5/"    \
    "extension.json"
#define OCDS_LOCATION_EXT                                                                          \
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_location_extension/"       \
    "v1.1.5/extension.json"
#define OCDS_PARTY_ID "coordinator"
#define OCDS_UTC "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"
#define OCDS_DEPTH_MAX 16

/* ---- data read from the database ---- */

typedef struct ocds_lot {
    char *id, *cpv, *cpv_label, *item_key, *base_unit, *unit_name, *zone, *currency;
    char quantity[TP_DEC_STR_MAX]; /* canonical decimal text */
    char value[TP_DEC_STR_MAX];    /* "" when est_value is NULL */
} ocds_lot_t;

typedef struct ocds_round {
    char *id;
    char start[32], end[32]; /* tender period, UTC */
    char date[32];           /* last change of the exported content: close or a withdrawal */
    int version;             /* 1 + withdrawn lots: a new release id whenever the content moves */
    int lots, viable, withdrawn;
    ocds_lot_t *lot; /* viable lots not withdrawn, by lot id */
    int nlot;
} ocds_round_t;

typedef struct ocds_ctx {
    const tp_config_t *cfg;
    PGconn *pg;
    ocds_round_t round;
    char err[2048];
} ocds_ctx_t;

/* ---- a small JSON writer: structure by hand, strings escaped, numbers as exact text ---- */

typedef struct ocds_json {
    FILE *f;
    int depth;
    bool empty[OCDS_DEPTH_MAX]; /* nothing written yet in the container at that depth */
} ocds_json_t;

static void json_text(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* Separator, new line, indentation and "key": for the next member of the open container. */
static void json_member(ocds_json_t *w, const char *key)
{
    if (w->depth == 0)
        return;
    if (!w->empty[w->depth])
        fputc(',', w->f);
    w->empty[w->depth] = false;
    fprintf(w->f, "\n%*s", 2 * w->depth, "");
    if (key != NULL) {
        json_text(w->f, key);
        fputs(": ", w->f);
    }
}

static void json_open(ocds_json_t *w, const char *key, char bracket)
{
    json_member(w, key);
    fputc(bracket, w->f);
    w->depth++; /* depths are fixed by the code below, far under OCDS_DEPTH_MAX */
    w->empty[w->depth] = true;
}

static void json_close(ocds_json_t *w, char bracket)
{
    bool empty = w->empty[w->depth];
    w->depth--;
    if (!empty)
        fprintf(w->f, "\n%*s", 2 * w->depth, "");
    fputc(bracket, w->f);
}

static void json_str(ocds_json_t *w, const char *key, const char *value)
{
    json_member(w, key);
    json_text(w->f, value);
}

/* A number already in canonical decimal text (or an integer). */
static void json_num(ocds_json_t *w, const char *key, const char *text)
{
    json_member(w, key);
    fputs(text, w->f);
}

/* ---- reading ---- */

static void export_usage(void)
{
    fprintf(stderr, "usage: tenderpool export-ocds --round ROUND [-o FILE] -c FILE\n");
}

static char *dup_or_null(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : xstrdup(PQgetvalue(r, row, col));
}

/* PostgreSQL numeric text -> canonical JSON number text ("4000.000" -> "4000"). 0 or -1. */
static int ocds_number(const char *numeric, char *out, size_t len)
{
    tp_dec_t d;
    if (tp_dec_from_str(numeric, &d) < 0)
        return -1;
    tp_dec_format(&d, out, len);
    return 0;
}

/* The round, its tender period and its counts. 0, 1 (refused: message printed), -1 (error). */
static int load_round(ocds_ctx_t *ctx, const char *round)
{
    char days[16];
    snprintf(days, sizeof(days), "%d", ctx->cfg->tender_period_days);
    const char *p[3] = {round, ctx->cfg->timezone, days};
    /* The period ends period_days calendar days later on the cluster's clock ([rounds]
     * timezone): a close at 11:00 ends at 11:00 local, across a daylight-saving change too. */
    PGresult *r = tp_pg_query(
        ctx->pg, "read tenderpool.rounds", ctx->err, sizeof(ctx->err),
        "SELECT r.status,"
        " to_char(r.closed_at AT TIME ZONE 'UTC', " OCDS_UTC "),"
        " to_char(((r.closed_at AT TIME ZONE $2) + make_interval(days => $3::integer))"
        "  AT TIME ZONE $2 AT TIME ZONE 'UTC', " OCDS_UTC "),"
        " to_char(greatest(r.closed_at, w.last) AT TIME ZONE 'UTC', " OCDS_UTC "),"
        " (SELECT count(*) FROM tenderpool.lots l WHERE l.round_id = r.round_id),"
        " (SELECT count(*) FROM tenderpool.lots l WHERE l.round_id = r.round_id"
        "  AND l.status = 'viable'),"
        " w.n"
        " FROM tenderpool.rounds r,"
        " LATERAL (SELECT count(*) AS n, max(x.withdrawn_at) AS last"
        "  FROM tenderpool.lot_withdrawal x JOIN tenderpool.lots l ON l.lot_id = x.lot_id"
        "  WHERE l.round_id = r.round_id AND l.status = 'viable') w"
        " WHERE r.round_id = $1",
        3, p);
    if (r == NULL)
        return -1;
    int rc = 0;
    if (PQntuples(r) == 0) {
        fprintf(stderr, "tenderpool export-ocds: round %s does not exist\n", round);
        rc = 1;
    } else if (strcmp(PQgetvalue(r, 0, 0), "closed") != 0) {
        fprintf(stderr,
                "tenderpool export-ocds: round %s is %s; only a closed round has lots to"
                " tender\n",
                round, PQgetvalue(r, 0, 0));
        rc = 1;
    } else {
        ocds_round_t *o = &ctx->round;
        o->id = xstrdup(round);
        snprintf(o->start, sizeof(o->start), "%s", PQgetvalue(r, 0, 1));
        snprintf(o->end, sizeof(o->end), "%s", PQgetvalue(r, 0, 2));
        snprintf(o->date, sizeof(o->date), "%s", PQgetvalue(r, 0, 3));
        o->lots = atoi(PQgetvalue(r, 0, 4));
        o->viable = atoi(PQgetvalue(r, 0, 5));
        o->withdrawn = atoi(PQgetvalue(r, 0, 6));
        o->version = 1 + o->withdrawn;
    }
    PQclear(r);
    return rc;
}

static int lot_from_row(ocds_ctx_t *ctx, PGresult *r, int row, ocds_lot_t *l)
{
    l->id = xstrdup(PQgetvalue(r, row, 0));
    l->cpv = dup_or_null(r, row, 1);
    l->cpv_label = dup_or_null(r, row, 2);
    l->item_key = dup_or_null(r, row, 3);
    l->base_unit = dup_or_null(r, row, 4);
    l->unit_name = dup_or_null(r, row, 5);
    l->zone = dup_or_null(r, row, 7);
    l->currency = dup_or_null(r, row, 8);
    const char *q = PQgetvalue(r, row, 6), *v = PQgetvalue(r, row, 9);
    if (ocds_number(q, l->quantity, sizeof(l->quantity)) < 0) {
        snprintf(ctx->err, sizeof(ctx->err), "lot %s: total_quantity '%s' is not a decimal", l->id,
                 q);
        return -1;
    }
    if (!PQgetisnull(r, row, 9) && ocds_number(v, l->value, sizeof(l->value)) < 0) {
        snprintf(ctx->err, sizeof(ctx->err), "lot %s: est_value '%s' is not a decimal", l->id, v);
        return -1;
    }
    return 0;
}

/* The lots to tender: viable, not withdrawn. Only lot-level columns: never a line. */
static int load_lots(ocds_ctx_t *ctx)
{
    const char *p[1] = {ctx->round.id};
    PGresult *r = tp_pg_query(
        ctx->pg, "read tenderpool.lots", ctx->err, sizeof(ctx->err),
        "SELECT l.lot_id, l.cpv, l.cpv_label, l.item_key, l.base_unit, u.name,"
        " l.total_quantity::text, l.delivery_zone, l.currency, l.est_value::text"
        " FROM tenderpool.lots l LEFT JOIN tenderpool.unit u ON u.code = l.base_unit"
        " WHERE l.round_id = $1 AND l.status = 'viable'"
        " AND NOT EXISTS (SELECT 1 FROM tenderpool.lot_withdrawal w WHERE w.lot_id = l.lot_id)"
        " ORDER BY l.lot_id COLLATE \"C\"",
        1, p);
    if (r == NULL)
        return -1;
    int n = PQntuples(r), rc = 0;
    ctx->round.lot = xcalloc((size_t)n + 1, sizeof(*ctx->round.lot));
    for (int i = 0; i < n && rc == 0; i++, ctx->round.nlot++)
        rc = lot_from_row(ctx, r, i, &ctx->round.lot[i]);
    PQclear(r);
    return rc;
}

/* ---- writing ---- */

/* The ocid with unreserved URI characters kept and the rest percent-encoded. */
static void urn_part(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~:", *p) != NULL)
            fputc(*p, f);
        else
            fprintf(f, "%%%02X", *p);
    }
}

static void write_party_ref(ocds_json_t *w, const char *key, const tp_config_t *cfg)
{
    json_open(w, key, '{');
    json_str(w, "id", OCDS_PARTY_ID);
    json_str(w, "name", cfg->buyer_name);
    json_close(w, '}');
}

static void write_parties(ocds_json_t *w, const tp_config_t *cfg)
{
    json_open(w, "parties", '[');
    json_open(w, NULL, '{');
    json_str(w, "id", OCDS_PARTY_ID);
    json_str(w, "name", cfg->buyer_name);
    json_open(w, "roles", '[');
    json_str(w, NULL, "buyer");
    json_str(w, NULL, "procuringEntity");
    json_close(w, ']');
    json_close(w, '}');
    json_close(w, ']');
    write_party_ref(w, "buyer", cfg);
}

static void write_item(ocds_json_t *w, const ocds_lot_t *l)
{
    json_open(w, NULL, '{');
    json_str(w, "id", l->id);
    if (l->item_key != NULL)
        json_str(w, "description", l->item_key);
    if (l->cpv != NULL) {
        json_open(w, "classification", '{');
        json_str(w, "scheme", "CPV");
        json_str(w, "id", l->cpv);
        if (l->cpv_label != NULL)
            json_str(w, "description", l->cpv_label);
        json_close(w, '}');
    }
    json_num(w, "quantity", l->quantity);
    if (l->base_unit != NULL) {
        json_open(w, "unit", '{');
        json_str(w, "scheme", "UNCEFACT");
        json_str(w, "id", l->base_unit);
        if (l->unit_name != NULL)
            json_str(w, "name", l->unit_name);
        json_close(w, '}');
    }
    if (l->zone != NULL) {
        json_open(w, "deliveryAddress", '{');
        json_str(w, "region", l->zone);
        json_close(w, '}');
    }
    json_str(w, "relatedLot", l->id);
    json_close(w, '}');
}

static void write_lot(ocds_json_t *w, const ocds_lot_t *l)
{
    json_open(w, NULL, '{');
    json_str(w, "id", l->id);
    if (l->item_key != NULL)
        json_str(w, "title", l->item_key);
    json_str(w, "status", "active");
    if (l->value[0] != '\0' && l->currency != NULL) {
        json_open(w, "value", '{');
        json_num(w, "amount", l->value);
        json_str(w, "currency", l->currency);
        json_close(w, '}');
    }
    json_close(w, '}');
}

static void write_tender(ocds_json_t *w, const ocds_ctx_t *ctx)
{
    const ocds_round_t *o = &ctx->round;
    char title[512], days[16];
    json_open(w, "tender", '{');
    json_str(w, "id", o->id);
    snprintf(title, sizeof(title), "Pooled purchase, round %s", o->id);
    json_str(w, "title", title);
    json_str(w, "status", "active");
    write_party_ref(w, "procuringEntity", ctx->cfg);
    json_open(w, "items", '[');
    for (int i = 0; i < o->nlot; i++)
        write_item(w, &o->lot[i]);
    json_close(w, ']');
    json_open(w, "lots", '[');
    for (int i = 0; i < o->nlot; i++)
        write_lot(w, &o->lot[i]);
    json_close(w, ']');
    json_open(w, "tenderPeriod", '{');
    json_str(w, "startDate", o->start);
    json_str(w, "endDate", o->end);
    snprintf(days, sizeof(days), "%d", ctx->cfg->tender_period_days);
    json_num(w, "durationInDays", days);
    json_close(w, '}');
    json_close(w, '}');
}

static void write_release(ocds_json_t *w, const ocds_ctx_t *ctx, const char *ocid,
                          const char *release_id)
{
    json_open(w, NULL, '{');
    json_str(w, "ocid", ocid);
    json_str(w, "id", release_id);
    json_str(w, "date", ctx->round.date);
    json_open(w, "tag", '[');
    json_str(w, NULL, "tender");
    json_close(w, ']');
    json_str(w, "initiationType", "tender");
    json_str(w, "language", "en");
    write_parties(w, ctx->cfg);
    write_tender(w, ctx);
    json_close(w, '}');
}

/* The whole package into a malloc'd buffer. 0 or -1. */
static int write_package(const ocds_ctx_t *ctx, char **buf, size_t *len)
{
    char ocid[512], release_id[600];
    snprintf(ocid, sizeof(ocid), "%s-%s", ctx->cfg->ocid_prefix, ctx->round.id);
    snprintf(release_id, sizeof(release_id), "%s-tender-%d", ocid, ctx->round.version);
    ocds_json_t w = {.f = open_memstream(buf, len)};
    if (w.f == NULL)
        return -1;
    json_open(&w, NULL, '{');
    json_member(&w, "uri");
    fputs("\"urn:tenderpool:", w.f);
    urn_part(w.f, release_id);
    fputc('"', w.f);
    json_str(&w, "version", OCDS_VERSION);
    json_open(&w, "extensions", '[');
    json_str(&w, NULL, OCDS_LOTS_EXT);
    json_str(&w, NULL, OCDS_LOCATION_EXT);
    json_close(&w, ']');
    json_str(&w, "publishedDate", ctx->round.date);
    json_open(&w, "publisher", '{');
    json_str(&w, "name", ctx->cfg->buyer_name);
    json_close(&w, '}');
    json_open(&w, "releases", '[');
    write_release(&w, ctx, ocid, release_id);
    json_close(&w, ']');
    json_close(&w, '}');
    fputc('\n', w.f);
    return fclose(w.f) == 0 ? 0 : -1;
}

/* ---- output ---- */

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Make the rename durable: fsync the directory that holds path. */
static void sync_dir(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, strlen(dir) + 1, ".");
    else
        slash[slash == dir ? 1 : 0] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Write path atomically: a temporary file beside it, fsync, rename. 0 or -1 (err set). */
static int write_file_atomic(const char *path, const char *buf, size_t len, char *err,
                             size_t errlen)
{
    size_t n = strlen(path) + 16;
    char *tmp = xmalloc(n);
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file beside %s: %s", path,
                 strerror(errno));
        free(tmp);
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    int rc = fchmod(fd, 0666 & ~mask) < 0 || write_all(fd, buf, len) < 0 || fsync(fd) < 0 ? -1 : 0;
    if (close(fd) < 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -1;
    if (rc < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    } else {
        sync_dir(path);
    }
    free(tmp);
    return rc;
}

static int write_output(const char *path, const char *buf, size_t len, char *err, size_t errlen)
{
    if (path != NULL && strcmp(path, "-") != 0)
        return write_file_atomic(path, buf, len, err, errlen);
    if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
        snprintf(err, errlen, "cannot write to standard output: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- command ---- */

static int export_parse_args(int argc, char **argv, const char **round, const char **out)
{
    const tp_cli_opt_t opts[] = {{"--round", round}, {"-o", out}, {"--output", out}};
    if (tp_cli_parse_opts("export-ocds", argc, argv, opts, sizeof(opts) / sizeof(opts[0])) < 0)
        return -1;
    if (*round == NULL || **round == '\0') {
        fprintf(stderr, "tenderpool export-ocds: --round ROUND is required\n");
        return -1;
    }
    if (*out != NULL && **out == '\0') {
        fprintf(stderr, "tenderpool export-ocds: -o needs a FILE\n");
        return -1;
    }
    return 0;
}

/* The ocid prefix is copied into identifiers and a URI: letters, digits, '-', '.', '_'. */
static int check_ocid_prefix(const char *prefix)
{
    if (strspn(prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") ==
        strlen(prefix))
        return 0;
    fprintf(stderr,
            "tenderpool export-ocds: [tender] ocid_prefix '%s' may hold only letters, digits,"
            " '-', '.' and '_' (e.g. ocds-abc123)\n",
            prefix);
    return -1;
}

static void ocds_ctx_clear(ocds_ctx_t *ctx)
{
    ocds_round_t *o = &ctx->round;
    for (int i = 0; i < o->nlot; i++) {
        ocds_lot_t *l = &o->lot[i];
        free(l->id);
        free(l->cpv);
        free(l->cpv_label);
        free(l->item_key);
        free(l->base_unit);
        free(l->unit_name);
        free(l->zone);
        free(l->currency);
    }
    free(o->lot);
    free(o->id);
    if (ctx->pg != NULL)
        PQfinish(ctx->pg);
}

/* Connect, read the round and its lots in one snapshot. 0, 1 (refused), -1 (error). */
static int load(ocds_ctx_t *ctx, const char *round)
{
    ctx->pg = tp_pg_connect(ctx->cfg->dsn, ctx->err, sizeof(ctx->err));
    if (ctx->pg == NULL)
        return -1;
    if (PQsetClientEncoding(ctx->pg, "UTF8") != 0) { /* JSON text is UTF-8 */
        snprintf(ctx->err, sizeof(ctx->err), "cannot set client_encoding UTF8: %s",
                 PQerrorMessage(ctx->pg));
        return -1;
    }
    if (tp_pg_exec(ctx->pg, "begin", ctx->err, sizeof(ctx->err),
                   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL) < 0)
        return -1;
    int rc = load_round(ctx, round);
    if (rc != 0)
        return rc;
    if (load_lots(ctx) < 0)
        return -1;
    if (ctx->round.nlot == 0) {
        fprintf(stderr,
                "tenderpool export-ocds: round %s has no lot to tender (%d lots: %d viable, of"
                " which %d withdrawn)\n",
                round, ctx->round.lots, ctx->round.viable, ctx->round.withdrawn);
        return 1;
    }
    return 0;
}

int tp_cmd_export_ocds(int argc, char **argv)
{
    const char *round = NULL, *out = NULL;
    tp_config_t cfg;
    if (export_parse_args(argc, argv, &round, &out) < 0) {
        export_usage();
        return 2;
    }
    if (tp_cli_load_config(argc, argv, &cfg) < 0) {
        fprintf(stderr, "tenderpool export-ocds: -c FILE is required\n");
        export_usage();
        return 2;
    }
    if (check_ocid_prefix(cfg.ocid_prefix) < 0)
        return 2;
    ocds_ctx_t ctx = {.cfg = &cfg};
    char *buf = NULL;
    size_t len = 0;
    int rc = load(&ctx, round);
    if (rc == 0 && write_package(&ctx, &buf, &len) < 0) {
        snprintf(ctx.err, sizeof(ctx.err), "cannot build the package: %s", strerror(errno));
        rc = -1;
    }
    if (rc == 0 && write_output(out, buf, len, ctx.err, sizeof(ctx.err)) < 0)
        rc = -1;
    if (rc < 0)
        fprintf(stderr, "tenderpool export-ocds: %s\n", ctx.err);
    free(buf);
    ocds_ctx_clear(&ctx);
    return rc == 0 ? 0 : 1;
}
