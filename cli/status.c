/* tenderpool status: daemon health (control socket), open round, workers, last close. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "tp_cli.h"
#include "tp_pg.h"

/* The database's side: open rounds and the last closed one, as a JSON object (NULL: error,
 * printed). */
static json_t *db_status(const tp_config_t *cfg)
{
    char err[1024];
    PGconn *pg = tp_pg_connect(cfg->dsn, err, sizeof(err));
    if (pg == NULL) {
        fprintf(stderr, "tenderpool status: database: %s\n", err);
        return NULL;
    }
    PGresult *r = tp_pg_query(
        pg, "status", err, sizeof(err),
        "SELECT json_build_object("
        "'open_rounds', (SELECT coalesce(json_agg(json_build_object('round_id', round_id, "
        "'opens_at', opens_at, 'closes_at', closes_at) ORDER BY opens_at), '[]') "
        "FROM tenderpool.rounds WHERE status = 'open'), "
        "'last_closed', (SELECT json_build_object('round_id', r.round_id, 'closed_at', "
        "r.closed_at, 'lots', (SELECT count(*) FROM tenderpool.lot l WHERE l.round_id = "
        "r.round_id), 'viable', (SELECT count(*) FROM tenderpool.lot l WHERE l.round_id = "
        "r.round_id AND l.status = 'viable')) FROM tenderpool.rounds r WHERE r.status = "
        "'closed' ORDER BY r.closed_at DESC NULLS LAST LIMIT 1))::text",
        0, NULL);
    json_t *o = NULL;
    if (r == NULL)
        fprintf(stderr, "tenderpool status: database: %s\n", err);
    else
        o = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    PQfinish(pg);
    return o;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static long long num(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static void print_human(const json_t *daemon, const json_t *db)
{
    if (daemon == NULL) {
        printf("daemon      not answering\n");
    } else {
        time_t started = (time_t)num(daemon, "started_at");
        printf("daemon      running, pid %lld, up %lld s, intake %s%s\n", num(daemon, "pid"),
               (long long)(time(NULL) - started), str(daemon, "intake"),
               json_is_true(json_object_get(daemon, "draining")) ? " (draining)" : "");
        printf("in flight   %lld items; %lld messages received\n", num(daemon, "in_flight_items"),
               num(daemon, "messages"));
        size_t i;
        json_t *w;
        json_array_foreach(json_object_get(daemon, "workers"), i, w)
        {
            printf("worker %-4lld %s, pid %lld, %lld restarts; %lld open requests in %lld lots, "
                   "%lld requests known, %lld accepted\n",
                   num(w, "index"), json_is_true(json_object_get(w, "ready")) ? "ready" : "down",
                   num(w, "pid"), num(w, "restarts"), num(w, "open_requests"), num(w, "open_lots"),
                   num(w, "requests"), num(w, "accepted"));
        }
        if (json_is_string(json_object_get(daemon, "closing")))
            printf("closing     round %s now\n", str(daemon, "closing"));
        const json_t *lc = json_object_get(daemon, "last_close");
        if (json_is_object(lc))
            printf("last close  round %s: %lld lots (%lld viable) in %lld ms%s%s\n",
                   str(lc, "round"), num(lc, "lots"), num(lc, "viable"), num(lc, "took_ms"),
                   json_is_string(json_object_get(lc, "error")) ? "; FAILED: " : "",
                   json_is_string(json_object_get(lc, "error")) ? str(lc, "error") : "");
        else
            printf("last close  none since the daemon started\n");
    }
    if (db == NULL)
        return;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(db, "open_rounds"), i, r) printf(
        "open round  %s (%s .. %s)\n", str(r, "round_id"), str(r, "opens_at"), str(r, "closes_at"));
    const json_t *lc = json_object_get(db, "last_closed");
    if (json_is_object(lc))
        printf("last closed %s at %s: %lld lots, %lld viable\n", str(lc, "round_id"),
               str(lc, "closed_at"), num(lc, "lots"), num(lc, "viable"));
}

int tp_cmd_status(int argc, char **argv)
{
    const char *json = NULL;
    tp_cli_opt_t opts[] = {{"--json", &json}};
    tp_config_t cfg;
    if (tp_cli_parse_opts("status", argc, argv, opts, 1) < 0 ||
        tp_cli_load_config(argc, argv, &cfg) < 0) {
        fprintf(stderr, "usage: tenderpool status [--json] -c FILE\n");
        return 2;
    }
    char *reply = malloc(1 << 20);
    json_t *daemon = NULL;
    if (reply && tp_cli_control(&cfg, "status", 6, reply, 1 << 20) == 0) {
        if (strncmp(reply, "error", 5) == 0)
            fprintf(stderr, "tenderpool status: %s\n", reply);
        else
            daemon = json_loads(reply, 0, NULL);
    }
    free(reply);
    json_t *db = db_status(&cfg);
    if (json) {
        json_t *o = json_pack("{s:O?, s:O?}", "daemon", daemon, "database", db);
        char *text = json_dumps(o, JSON_INDENT(2));
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(o);
    } else {
        print_human(daemon, db);
    }
    int rc = daemon && db ? 0 : 1;
    json_decref(daemon);
    json_decref(db);
    return rc;
}
