/* tenderpool rounds: operator commands about purchasing rounds: close-current goes to the
 * daemon's control socket; list and show only read the public views. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tp_cli.h"
#include "tp_output.h"
#include "tp_pg.h"

#define ROUNDS_USAGE                                                                               \
    "usage: tenderpool rounds close-current -c FILE\n"                                             \
    "       tenderpool rounds list [--json] -c FILE\n"                                             \
    "       tenderpool rounds show ROUND [--json] -c FILE\n"

static int rounds_close_current(int argc, char **argv)
{
    tp_config_t cfg;
    if (tp_cli_load_config(argc, argv, &cfg) < 0) {
        fprintf(stderr, "usage: tenderpool rounds close-current -c FILE\n");
        return 2;
    }
    return tp_cli_control_print(&cfg, "close-current", strlen("close-current"));
}

/* Every round, newest first, with its lot counts. */
static const char *const ROUNDS_SQL =
    "SELECT r.round_id, r.opens_at, r.closes_at, r.status, r.closed_at,"
    " coalesce(n.lot_count, 0) AS lot_count,"
    " coalesce(n.viable_lot_count, 0) AS viable_lot_count"
    " FROM tenderpool.rounds r"
    " LEFT JOIN (SELECT round_id, count(*) AS lot_count,"
    "            count(*) FILTER (WHERE status = 'viable') AS viable_lot_count"
    "            FROM tenderpool.lots GROUP BY round_id) n USING (round_id)"
    " ORDER BY r.opens_at DESC, r.round_id DESC";

/* One round: the same fields, then the settings its close recorded (internal table). */
static const char *const ROUND_SQL =
    "SELECT r.round_id, r.opens_at, r.closes_at, r.status, r.closed_at,"
    " (SELECT count(*) FROM tenderpool.lots l WHERE l.round_id = r.round_id) AS lot_count,"
    " (SELECT count(*) FROM tenderpool.lots l WHERE l.round_id = r.round_id"
    "  AND l.status = 'viable') AS viable_lot_count,"
    " i.next_round_id, i.min_members, i.max_carry_over"
    " FROM tenderpool.rounds r JOIN tenderpool.round i USING (round_id)"
    " WHERE r.round_id = $1";

/* The exit code of a command that printed with rc from tp_out_* (0 or -1). */
static int printed(int rc)
{
    if (rc == 0)
        return 0;
    perror("tenderpool: cannot write the output");
    return 1;
}

/* tenderpool rounds list [--json] -c FILE */
static int rounds_list(int argc, char **argv)
{
    const char *json = NULL;
    const tp_cli_opt_t opts[] = {{"--json", &json}};
    if (tp_cli_parse_opts("rounds list", argc, argv, opts, 1) < 0) {
        fprintf(stderr, "%s", ROUNDS_USAGE);
        return 2;
    }
    int rc = 1;
    char err[1024];
    PGconn *c = tp_cli_read_open("rounds list", argc, argv, ROUNDS_USAGE, &rc);
    if (c == NULL)
        return rc;
    PGresult *r = tp_pg_query(c, "read the rounds", err, sizeof(err), ROUNDS_SQL, 0, NULL);
    if (r == NULL)
        fprintf(stderr, "tenderpool rounds list: %s\n", err);
    else
        rc = printed(tp_out_rows(r, json != NULL, stdout));
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* tenderpool rounds show ROUND [--json] -c FILE: the round, then its lots as `lots list`. */
static int rounds_show(int argc, char **argv)
{
    const char *json = NULL;
    const tp_cli_opt_t opts[] = {{"--json", &json}};
    /* The round id comes first; the options after it are parsed as usual. */
    if (argc < 2 || argv[1][0] == '-' ||
        tp_cli_parse_opts("rounds show", argc - 1, argv + 1, opts, 1) < 0) {
        fprintf(stderr, "%s", ROUNDS_USAGE);
        return 2;
    }
    const char *round = argv[1], *p[] = {argv[1]};
    int rc = 1;
    char err[1024];
    PGconn *c = tp_cli_read_open("rounds show", argc, argv, ROUNDS_USAGE, &rc);
    if (c == NULL)
        return rc;
    PGresult *rec = tp_pg_query(c, "read the round", err, sizeof(err), ROUND_SQL, 1, p);
    bool found = rec != NULL && PQntuples(rec) > 0;
    PGresult *lots = found ? tp_lots_of_round(c, round, NULL, err, sizeof(err)) : NULL;
    if (rec != NULL && !found)
        fprintf(stderr,
                "tenderpool rounds show: no round '%s' (tenderpool rounds list shows them)\n",
                round);
    else if (lots == NULL)
        fprintf(stderr, "tenderpool rounds show: %s\n", err);
    else
        rc = printed(tp_out_record_with_rows(rec, 0, "lots", lots, json != NULL, stdout));
    PQclear(lots);
    PQclear(rec);
    PQfinish(c);
    return rc;
}

typedef struct rounds_cmd {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
} rounds_cmd_t;

static const rounds_cmd_t rounds_cmds[] = {
    {"close-current", rounds_close_current},
    {"list", rounds_list},
    {"show", rounds_show},
};

int tp_cmd_rounds(int argc, char **argv)
{
    size_t n = sizeof(rounds_cmds) / sizeof(rounds_cmds[0]);
    if (argc < 2) {
        fprintf(stderr, "%s", ROUNDS_USAGE);
        return 2;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(argv[1], rounds_cmds[i].name) == 0)
            return rounds_cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tenderpool: unknown rounds command '%s' (known: close-current, list, show)\n",
            argv[1]);
    return 2;
}
