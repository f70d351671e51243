/* tenderpool lots: the coordinator's view of closed rounds' lots (list, show), read from the
 * public views and the tender tables (award, lot_withdrawal) in one read-only snapshot. Member
 * data is shown (the coordinator may see it); nothing here writes to the database, and user
 * input never enters SQL text. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tp_cli.h"
#include "tp_output.h"
#include "tp_pg.h"

#define LOTS_USAGE                                                                                 \
    "usage: tenderpool lots list --round ROUND [--status viable|below_threshold] [--json] "        \
    "-c FILE\n"                                                                                    \
    "       tenderpool lots show LOT [--json] -c FILE\n"                                           \
    "       tenderpool lots withdraw LOT [--reason TEXT] -c FILE\n"

/* A lot's tender state: withdrawn, awarded, or NULL (neither yet). */
#define LOT_TENDER                                                                                 \
    "CASE WHEN w.lot_id IS NOT NULL THEN 'withdrawn' WHEN aw.lot_id IS NOT NULL THEN 'awarded' "   \
    "END AS tender"
#define LOT_JOINS                                                                                  \
    " FROM tenderpool.lots l"                                                                      \
    " LEFT JOIN tenderpool.lot_withdrawal w ON w.lot_id = l.lot_id"                                \
    " LEFT JOIN tenderpool.awards aw ON aw.lot_id = l.lot_id"

static const char *const LOTS_OF_ROUND_SQL =
    "SELECT l.lot_id, l.cpv, l.cpv_label, l.item_key, l.total_quantity, l.base_unit,"
    " l.member_count, l.request_count, l.need_by_min, l.need_by_max, l.delivery_zone,"
    " l.currency, l.est_value, l.status, " LOT_TENDER LOT_JOINS
    " WHERE l.round_id = $1 AND ($2::text IS NULL OR l.status = $2)"
    " ORDER BY l.cpv, l.item_key, l.lot_id";

/* One lot's record, by tender state: every view column and the state, then the award's or the
 * withdrawal's fields when there is one. */
#define LOT_RECORD_COLUMNS                                                                         \
    "SELECT l.round_id, l.lot_id, l.cpv, l.cpv_label, l.item_key, l.dimension, l.base_unit,"       \
    " l.total_quantity, l.member_count, l.request_count, l.need_by_min, l.need_by_max,"            \
    " l.delivery_zone, l.currency, l.est_value, l.status, " LOT_TENDER
static const char *const LOT_SQL = LOT_RECORD_COLUMNS LOT_JOINS " WHERE l.lot_id = $1";
static const char *const LOT_AWARDED_SQL =
    LOT_RECORD_COLUMNS ", aw.supplier, aw.unit_price, aw.quantity AS award_quantity,"
                       " aw.awarded_at" LOT_JOINS " WHERE l.lot_id = $1";
static const char *const LOT_WITHDRAWN_SQL =
    LOT_RECORD_COLUMNS ", w.carried_to, w.reason, w.withdrawn_at" LOT_JOINS " WHERE l.lot_id = $1";

/* A lot's lines; an awarded lot's with what each line was allocated (lot base unit). */
#define LINE_COLUMNS                                                                               \
    "SELECT ll.member_id, ll.request_ref, ll.revision, ll.quantity, ll.unit, ll.base_quantity,"    \
    " ll.need_by, ll.max_unit_price"
#define LINE_ORDER " WHERE ll.lot_id = $1 ORDER BY ll.member_id, ll.request_ref"
static const char *const LINES_SQL = LINE_COLUMNS " FROM tenderpool.lot_lines ll" LINE_ORDER;
static const char *const LINES_AWARDED_SQL =
    LINE_COLUMNS ", trim_scale(al.quantity) AS allocation FROM tenderpool.lot_lines ll"
                 " LEFT JOIN tenderpool.allocations al ON al.lot_id = ll.lot_id"
                 " AND al.member_id = ll.member_id AND al.request_ref = ll.request_ref" LINE_ORDER;

/* The session's settings: a read-only snapshot, UTF-8 text, times in [rounds] timezone. */
static int read_session(PGconn *c, const tp_config_t *cfg, char *err, size_t errlen)
{
    const char *tz[] = {cfg->timezone};
    if (PQsetClientEncoding(c, "UTF8") != 0) {
        snprintf(err, errlen, "cannot set client_encoding UTF8: %s", PQerrorMessage(c));
        return -1;
    }
    if (tp_pg_exec(c, "begin", err, errlen, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
                   NULL) < 0)
        return -1;
    return tp_pg_exec(c, "set the time zone ([rounds] timezone)", err, errlen,
                      "SELECT set_config('TimeZone', $1, true),"
                      " set_config('DateStyle', 'ISO, YMD', true)",
                      1, tz);
}

PGconn *tp_cli_read_open(const char *cmd, int argc, char **argv, const char *usage, int *exit_code)
{
    tp_config_t cfg;
    char err[1024];
    if (tp_cli_load_config(argc, argv, &cfg) < 0) {
        fprintf(stderr, "tenderpool %s: -c FILE is required\n%s", cmd, usage);
        *exit_code = 2;
        return NULL;
    }
    PGconn *c = tp_pg_connect(cfg.dsn, err, sizeof(err));
    if (c != NULL && read_session(c, &cfg, err, sizeof(err)) < 0) {
        PQfinish(c);
        c = NULL;
    }
    if (c == NULL) {
        fprintf(stderr, "tenderpool %s: %s\n", cmd, err);
        *exit_code = 1;
    }
    return c;
}

PGresult *tp_lots_of_round(PGconn *c, const char *round, const char *status, char *err,
                           size_t errlen)
{
    const char *p[] = {round, status};
    return tp_pg_query(c, "read the round's lots", err, errlen, LOTS_OF_ROUND_SQL, 2, p);
}

/* The result of a one-parameter query (NULL with err set). */
static PGresult *query1(PGconn *c, const char *what, const char *sql, const char *param, char *err,
                        size_t errlen)
{
    const char *p[] = {param};
    return tp_pg_query(c, what, err, errlen, sql, 1, p);
}

/* 1: round exists, 0: it does not, -1: error. */
static int round_exists(PGconn *c, const char *round, char *err, size_t errlen)
{
    PGresult *r = query1(c, "look up the round",
                         "SELECT 1 FROM tenderpool.round WHERE round_id = $1", round, err, errlen);
    if (r == NULL)
        return -1;
    int n = PQntuples(r);
    PQclear(r);
    return n > 0;
}

/* The exit code of a command that printed with rc from tp_out_* (0 or -1). */
static int printed(int rc)
{
    if (rc == 0)
        return 0;
    perror("tenderpool: cannot write the output");
    return 1;
}

static bool lot_status_valid(const char *status)
{
    return status == NULL || strcmp(status, "viable") == 0 ||
           strcmp(status, "below_threshold") == 0;
}

/* tenderpool lots list --round R [--status viable|below_threshold] [--json] -c FILE */
static int lots_list(int argc, char **argv)
{
    const char *round = NULL, *status = NULL, *json = NULL;
    const tp_cli_opt_t opts[] = {{"--round", &round}, {"--status", &status}, {"--json", &json}};
    if (tp_cli_parse_opts("lots list", argc, argv, opts, 3) < 0 || round == NULL) {
        fprintf(stderr, "%s", LOTS_USAGE);
        return 2;
    }
    if (!lot_status_valid(status)) {
        fprintf(stderr,
                "tenderpool lots list: --status must be viable or below_threshold, not '%s'\n",
                status);
        return 2;
    }
    int rc = 1;
    char err[1024];
    PGconn *c = tp_cli_read_open("lots list", argc, argv, LOTS_USAGE, &rc);
    if (c == NULL)
        return rc;
    int exists = round_exists(c, round, err, sizeof(err));
    PGresult *r = exists > 0 ? tp_lots_of_round(c, round, status, err, sizeof(err)) : NULL;
    if (exists == 0)
        fprintf(stderr, "tenderpool lots list: no round '%s' (tenderpool rounds list shows them)\n",
                round);
    else if (r == NULL)
        fprintf(stderr, "tenderpool lots list: %s\n", err);
    else
        rc = printed(tp_out_rows(r, json != NULL, stdout));
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* Lot L's record in the form its tender state calls for, into *rec: 1, 0 when there is no
 * such lot, -1 with err set. */
static int lot_record(PGconn *c, const char *lot, PGresult **rec, char *err, size_t errlen)
{
    PGresult *r = query1(c, "read the lot", LOT_SQL, lot, err, errlen);
    *rec = NULL;
    if (r == NULL || PQntuples(r) == 0) {
        PQclear(r);
        return r == NULL ? -1 : 0;
    }
    const char *tender = PQgetvalue(r, 0, PQfnumber(r, "tender"));
    const char *sql = strcmp(tender, "awarded") == 0     ? LOT_AWARDED_SQL
                      : strcmp(tender, "withdrawn") == 0 ? LOT_WITHDRAWN_SQL
                                                         : NULL;
    if (sql != NULL) {
        PQclear(r);
        r = query1(c, "read the lot's tender", sql, lot, err, errlen);
    }
    *rec = r;
    return r == NULL ? -1 : 1;
}

static bool lot_awarded(const PGresult *rec)
{
    return strcmp(PQgetvalue(rec, 0, PQfnumber(rec, "tender")), "awarded") == 0;
}

/* tenderpool lots show LOT [--json] -c FILE */
static int lots_show(int argc, char **argv)
{
    const char *json = NULL;
    const tp_cli_opt_t opts[] = {{"--json", &json}};
    /* The lot id comes first; the options after it are parsed as usual. */
    if (argc < 2 || argv[1][0] == '-' ||
        tp_cli_parse_opts("lots show", argc - 1, argv + 1, opts, 1) < 0) {
        fprintf(stderr, "%s", LOTS_USAGE);
        return 2;
    }
    const char *lot = argv[1];
    int rc = 1;
    char err[1024];
    PGconn *c = tp_cli_read_open("lots show", argc, argv, LOTS_USAGE, &rc);
    if (c == NULL)
        return rc;
    PGresult *rec, *lines = NULL;
    int found = lot_record(c, lot, &rec, err, sizeof(err));
    if (found > 0)
        lines = query1(c, "read the lot's lines", lot_awarded(rec) ? LINES_AWARDED_SQL : LINES_SQL,
                       lot, err, sizeof(err));
    if (found == 0)
        fprintf(stderr,
                "tenderpool lots show: no lot '%s' (tenderpool lots list --round R lists a "
                "round's lots)\n",
                lot);
    else if (lines == NULL)
        fprintf(stderr, "tenderpool lots show: %s\n", err);
    else
        rc = printed(tp_out_record_with_rows(rec, 0, "lines", lines, json != NULL, stdout));
    PQclear(lines);
    PQclear(rec);
    PQfinish(c);
    return rc;
}

typedef struct lots_cmd {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
} lots_cmd_t;

static const lots_cmd_t lots_cmds[] = {
    {"list", lots_list},
    {"show", lots_show},
    {"withdraw", tp_cmd_lots_withdraw}, /* cli/withdraw.c: through the daemon */
};

int tp_cmd_lots(int argc, char **argv)
{
    size_t n = sizeof(lots_cmds) / sizeof(lots_cmds[0]);
    for (size_t i = 0; argc >= 2 && i < n; i++)
        if (strcmp(argv[1], lots_cmds[i].name) == 0)
            return lots_cmds[i].run(argc - 1, argv + 1);
    if (argc >= 2) {
        fprintf(stderr, "tenderpool lots: unknown command '%s' (known:", argv[1]);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "%s %s", i > 0 ? "," : "", lots_cmds[i].name);
        fprintf(stderr, ")\n");
    }
    fprintf(stderr, "%s", LOTS_USAGE);
    return 2;
}
