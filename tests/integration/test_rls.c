/* Integration suite: least privilege and confidentiality in PostgreSQL (sql/006_roles.sql).
 * A member's login role sees only its own rows in every public view, and of the lots only those
 * in which it has a line and that have at least 3 members; the coordinator sees everything; a
 * role with tenderpool_daemon's grants (and BYPASSRLS) runs the daemon and can do no DDL; a
 * non-superuser owner migrates and works under forced row-level security. Roles are
 * cluster-wide: every role and database this suite creates is named tp_rls_*, dropped after
 * each test and before it (leftovers of a crashed run). */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <zmq.h>

#include "tp_testclient.h"
#include "tp_testenv.h"

#include "../../workers/tp_store_sql.h" /* the state load, as the workers run it */

#define CLI TP_TEST_BIN_DIR "/tenderpool"

#define GLOVES "18424000"
#define NITROGEN "24111500"
#define SEEDS "03111000"
#define WIPES "33760000"
#define SWABS "33141000"

static PGconn *pg;            /* the test DSN's role: a superuser */
static tp_test_daemon_t conf; /* config of the superuser (scratch dir) */
static long seq;
/* login roles: members m1 and m2, a coordinator, a daemon (BYPASSRLS), a daemon without
 * BYPASSRLS, a non-superuser owner (with its database) */
static char role_a[64], role_b[64], role_c[64], role_d[64], role_p[64], role_o[64], db_o[64];
static char lot_gloves[64], lot_nitrogen[64], lot_seeds[64], lot_wipes[64], lot_swabs[64];

/* ---- SQL helpers ---- */

static void vfmt(char *buf, size_t len, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, len, fmt, ap);
    cr_assert(n >= 0 && (size_t)n < len, "statement too long: %s", fmt);
}

static void sql_on(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql_on(PGconn *c, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vfmt(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    tp_test_pg_exec(c, buf);
}

/* First column of the first row, as text ("" for no row or NULL); static, two alternating. */
static const char *value_on(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *value_on(PGconn *c, const char *fmt, ...)
{
    static char out[2][65536];
    static int which;
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vfmt(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char *v = tp_test_pg_value(c, buf);
    char *o = out[which++ % 2];
    snprintf(o, sizeof(out[0]), "%s", v ? v : "");
    free(v);
    return o;
}

static long long_on(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static long long_on(PGconn *c, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vfmt(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return tp_test_pg_long(c, buf);
}

/* SQLSTATE of the statement ("" when it succeeded); a failed statement leaves no transaction. */
static const char *sqlstate_on(PGconn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *sqlstate_on(PGconn *c, const char *fmt, ...)
{
    static char state[6];
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vfmt(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(c, buf);
    ExecStatusType st = PQresultStatus(r);
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(state, sizeof(state), "%s",
             st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? "" : (s ? s : "?????"));
    PQclear(r);
    return state;
}

/* The statement must be refused for lack of privilege (SQLSTATE 42501). */
#define expect_denied(c, who, ...)                                                                 \
    do {                                                                                           \
        char stmt_[2048];                                                                          \
        snprintf(stmt_, sizeof(stmt_), __VA_ARGS__);                                               \
        const char *st_ = sqlstate_on(c, "%s", stmt_);                                             \
        cr_expect_str_eq(st_, "42501", "%s: '%s' should be refused (42501), got '%s'", who, stmt_, \
                         st_);                                                                     \
    } while (0)

/* Every row of the query as text, sorted, one per line: compares what two roles see. */
static const char *rows_on(PGconn *c, const char *query)
{
    return value_on(c,
                    "SELECT coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')"
                    " FROM (%s) x",
                    query);
}

/* ---- connections as other roles ---- */

static void uri_add(char *out, size_t len, const char *s)
{
    size_t n = strlen(out);
    for (; *s && n + 4 < len; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~", ch) != NULL)
            out[n++] = (char)ch;
        else
            n += (size_t)snprintf(out + n, len - n, "%%%02X", ch);
    }
    out[n] = '\0';
    cr_assert(*s == '\0', "DSN too long");
}

/* The test DSN as a URI (config files take it verbatim), as role with password, and in
 * database db (NULL: the test DSN's). */
static void dsn_as(char *out, size_t len, const char *role, const char *password, const char *db)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(tp_test_dsn(), &err);
    cr_assert_not_null(opts, "cannot parse the test DSN: %s", err ? err : "?");
    const char *dbname = db;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (dbname == NULL && o->val && strcmp(o->keyword, "dbname") == 0)
            dbname = o->val;
    snprintf(out, len, "postgresql:///");
    uri_add(out, len, dbname ? dbname : "tenderpool");
    const char *sep = "?";
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (o->val == NULL || strcmp(o->keyword, "user") == 0 ||
            strcmp(o->keyword, "password") == 0 || strcmp(o->keyword, "dbname") == 0)
            continue;
        snprintf(out + strlen(out), len - strlen(out), "%s%s=", sep, o->keyword);
        uri_add(out, len, o->val);
        sep = "&";
    }
    snprintf(out + strlen(out), len - strlen(out), "%suser=", sep);
    uri_add(out, len, role);
    snprintf(out + strlen(out), len - strlen(out), "&password=");
    uri_add(out, len, password);
    PQconninfoFree(opts);
}

static PGconn *connect_as(const char *role, const char *password, const char *db)
{
    char dsn[2048];
    dsn_as(dsn, sizeof(dsn), role, password, db);
    PGconn *c = PQconnectdb(dsn);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "cannot connect as %s: %s", role, PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

/* A config file like d's whose [database] dsn is the given one. */
static void write_config_as(tp_test_daemon_t *d, int workers, const char *dsn)
{
    tp_test_write_config(d, workers, "1w", NULL);
    FILE *f = fopen(d->conf, "r");
    cr_assert_not_null(f, "cannot read %s", d->conf);
    char text[16384] = "", line[2048];
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "dsn = ", 6) == 0)
            snprintf(line, sizeof(line), "dsn = %s\n", dsn);
        cr_assert_lt(strlen(text) + strlen(line), sizeof(text));
        strcat(text, line);
    }
    fclose(f);
    f = fopen(d->conf, "w");
    cr_assert_not_null(f, "cannot write %s", d->conf);
    fputs(text, f);
    fclose(f);
}

static int cli(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cli(char *out, size_t len, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vfmt(args, sizeof(args), fmt, ap);
    va_end(ap);
    return tp_test_run(out, len, CLI " %s 2>&1", args);
}

/* ---- roles: created per test, dropped after (and before: a crashed run's) ---- */

static void drop_test_roles(void)
{
    PGresult *r = PQexec(pg, "SELECT quote_ident(datname) FROM pg_database"
                             " WHERE datname LIKE 'tp\\_rls\\_%'");
    for (int i = 0; i < PQntuples(r); i++)
        sql_on(pg, "DROP DATABASE IF EXISTS %s WITH (FORCE)", PQgetvalue(r, i, 0));
    PQclear(r);
    /* members first: the owner may have granted them their membership */
    r = PQexec(pg, "SELECT quote_ident(rolname) FROM pg_roles WHERE rolname LIKE 'tp\\_rls\\_%'"
                   " ORDER BY rolcreaterole, rolname");
    for (int i = 0; i < PQntuples(r); i++)
        sql_on(pg, "DROP ROLE IF EXISTS %s", PQgetvalue(r, i, 0));
    PQclear(r);
}

static void test_init(void)
{
    tp_test_reset_db();
    pg = tp_test_pg();
    drop_test_roles();
    memset(&conf, 0, sizeof(conf));
    tp_test_write_config(&conf, 1, "1w", NULL);
    seq = 0;
    int pid = (int)getpid();
    snprintf(role_a, sizeof(role_a), "tp_rls_%d_m1", pid);
    snprintf(role_b, sizeof(role_b), "tp_rls_%d_m2", pid);
    snprintf(role_c, sizeof(role_c), "tp_rls_%d_coordinator", pid);
    snprintf(role_d, sizeof(role_d), "tp_rls_%d_daemon", pid);
    snprintf(role_p, sizeof(role_p), "tp_rls_%d_plain_daemon", pid);
    snprintf(role_o, sizeof(role_o), "tp_rls_%d_owner", pid);
    snprintf(db_o, sizeof(db_o), "tp_rls_%d_db", pid);
}

static void test_fini(void)
{
    if (pg != NULL) {
        drop_test_roles();
        PQfinish(pg);
    }
    pg = NULL;
    if (conf.dir[0] != '\0')
        (void)tp_test_run(NULL, 0, "rm -rf '%s'", conf.dir);
}

TestSuite(rls, .init = test_init, .fini = test_fini, .timeout = 240);

/* ---- the scenario: one closed round with viable, small, withdrawn and awarded lots ---- */

/* Members m1..m5 with CURVE-looking (Z85, 40 characters) public keys. */
static void add_members(PGconn *c)
{
    for (int i = 1; i <= 5; i++)
        sql_on(c,
               "INSERT INTO tenderpool.member (member_id, public_key)"
               " VALUES ('m%d', 'Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI%d')",
               i, i);
}

static void add_round(PGconn *c, int n)
{
    sql_on(c,
           "INSERT INTO tenderpool.round (round_id, opens_at, closes_at) VALUES ('R%d',"
           " timestamptz '2026-01-05 00:00Z' + interval '7 days' * %d,"
           " timestamptz '2026-01-05 00:00Z' + interval '7 days' * %d)",
           n, n - 1, n);
}

/* One revision row as a worker would have committed it. */
static void add_req(PGconn *c, const char *member, const char *ref, int revision, int op,
                    const char *round, const char *cpv, const char *item, const char *qty,
                    const char *unit, const char *base_qty)
{
    seq++;
    sql_on(c,
           "INSERT INTO tenderpool.revision (member_id, request_ref, revision, op, server_seq,"
           " round_id, accepted_at, content_hash, cpv, item_key, description, quantity, unit,"
           " base_quantity, need_by, delivery_zone, currency, max_unit_price)"
           " VALUES ('%s', '%s', %d, %d, %ld, '%s', now(), %ld, '%s', '%s', 'd', %s, '%s', %s,"
           " '2026-03-01', 'FR-75', 'EUR', 0.1)",
           member, ref, revision, op, seq, round, seq, cpv, item, qty, unit, base_qty);
}

static void lot_of(char *out, size_t len, const char *cpv)
{
    snprintf(out, len, "%s",
             value_on(pg, "SELECT lot_id FROM tenderpool.lot WHERE round_id = 'R1' AND cpv = '%s'",
                      cpv));
    cr_assert_neq(out[0], '\0', "no lot of %s in R1", cpv);
}

static void create_login_roles(void)
{
    sql_on(pg, "SELECT tenderpool.create_member_role('m1', '%s', 'pw-a')", role_a);
    sql_on(pg, "SELECT tenderpool.create_member_role('m2', '%s', 'pw-b')", role_b);
    sql_on(pg, "CREATE ROLE %s LOGIN PASSWORD 'pw-c' IN ROLE tenderpool_coordinator", role_c);
    sql_on(pg, "CREATE ROLE %s LOGIN BYPASSRLS PASSWORD 'pw-d' IN ROLE tenderpool_daemon", role_d);
    sql_on(pg, "CREATE ROLE %s LOGIN PASSWORD 'pw-p' IN ROLE tenderpool_daemon", role_p);
}

/* R1 (closed by the daemon's role): gloves m1 m2 m3 (viable, awarded by the coordinator),
 * nitrogen m1 m2 (2 members: below threshold, carried over), seeds m3 m4 m5 (viable, no line
 * of m1 or m2), wipes m1 m2 m4 (viable, withdrawn by the daemon's role), swabs m2 alone; m1
 * cancelled one request. R2 open: m1 and m5 have a request there. */
static void scenario(void)
{
    add_members(pg);
    create_login_roles();
    add_round(pg, 1);
    add_req(pg, "m1", "g-1", 1, 1, "R1", GLOVES, "nitrile-gloves-m", "1200", "H87", "1200");
    add_req(pg, "m2", "g-2", 1, 1, "R1", GLOVES, "nitrile-gloves-m", "50", "DZN", "600");
    add_req(pg, "m3", "g-3", 1, 1, "R1", GLOVES, "nitrile-gloves-m", "300", "H87", "300");
    add_req(pg, "m1", "n-1", 1, 1, "R1", NITROGEN, "liquid-nitrogen", "2", "TNE", "2000");
    add_req(pg, "m2", "n-2", 1, 1, "R1", NITROGEN, "liquid-nitrogen", "500", "KGM", "500");
    add_req(pg, "m3", "s-3", 1, 1, "R1", SEEDS, "seed-wheat", "250", "KGM", "250");
    add_req(pg, "m4", "s-4", 1, 1, "R1", SEEDS, "seed-wheat", "100", "KGM", "100");
    add_req(pg, "m5", "s-5", 1, 1, "R1", SEEDS, "seed-wheat", "50", "KGM", "50");
    add_req(pg, "m1", "w-1", 1, 1, "R1", WIPES, "wipes", "10", "H87", "10");
    add_req(pg, "m2", "w-2", 1, 1, "R1", WIPES, "wipes", "20", "H87", "20");
    add_req(pg, "m4", "w-4", 1, 1, "R1", WIPES, "wipes", "30", "H87", "30");
    add_req(pg, "m2", "x-1", 1, 1, "R1", SWABS, "sterile-swabs", "10", "BX", "10");
    add_req(pg, "m1", "c-1", 1, 1, "R1", GLOVES, "nitrile-gloves-l", "5", "H87", "5");
    seq++;
    sql_on(pg,
           "INSERT INTO tenderpool.revision (member_id, request_ref, revision, op, server_seq,"
           " round_id, accepted_at, content_hash, cancel_reason)"
           " VALUES ('m1', 'c-1', 2, 3, %ld, 'R1', now(), %ld, 'no longer needed')",
           seq, seq);

    PGconn *d = connect_as(role_d, "pw-d", NULL);
    cr_assert_eq(long_on(d, "SELECT tenderpool.close_round('R1', 'R2',"
                            " timestamptz '2026-01-12 00:00Z', timestamptz '2026-01-19 00:00Z',"
                            " 3, 2)"),
                 5, "the daemon's role closes R1 into 5 lots");
    lot_of(lot_gloves, sizeof(lot_gloves), GLOVES);
    lot_of(lot_nitrogen, sizeof(lot_nitrogen), NITROGEN);
    lot_of(lot_seeds, sizeof(lot_seeds), SEEDS);
    lot_of(lot_wipes, sizeof(lot_wipes), WIPES);
    lot_of(lot_swabs, sizeof(lot_swabs), SWABS);
    cr_assert_str_eq(value_on(d, "SELECT tenderpool.withdraw_lot('%s', 'no bid')", lot_wipes),
                     "R2");
    PQfinish(d);

    PGconn *c = connect_as(role_c, "pw-c", NULL);
    cr_assert_str_eq(
        value_on(c, "SELECT tenderpool.award_lot('%s', 'Gants SA', 0.07, 1000)", lot_gloves),
        "1000");
    PQfinish(c);
    add_req(pg, "m1", "o-1", 1, 1, "R2", GLOVES, "nitrile-gloves-m", "7", "H87", "7");
    add_req(pg, "m5", "o-5", 1, 1, "R2", GLOVES, "nitrile-gloves-m", "9", "H87", "9");
}

/* ---- the guards: what later migrations must keep ---- */

Test(rls, views_run_as_the_caller_and_tables_are_forced)
{
    /* every view but the internal lot_figures: security_invoker (a CREATE OR REPLACE VIEW
     * without it would silently give every member every row) */
    cr_expect_str_eq(value_on(pg,
                              "SELECT coalesce(string_agg(relname, ',' ORDER BY relname), '')"
                              " FROM pg_class WHERE relnamespace = 'tenderpool'::regnamespace"
                              " AND relkind = 'v' AND relname <> 'lot_figures'"
                              " AND NOT coalesce(reloptions, '{}') @> '{security_invoker=true}'"),
                     "", "views without security_invoker");
    cr_expect_str_eq(value_on(pg, "SELECT array_to_string(reloptions, ',') FROM pg_class"
                                  " WHERE oid = 'tenderpool.lot_figures'::regclass"),
                     "security_barrier=true");
    cr_expect_str_eq(value_on(pg, "SELECT string_agg(relname || ':' || relrowsecurity || ':' ||"
                                  " relforcerowsecurity, ',' ORDER BY relname) FROM pg_class"
                                  " WHERE relnamespace = 'tenderpool'::regnamespace"
                                  " AND relrowsecurity"),
                     "allocation:true:true,award:true:true,lot:true:true,"
                     "lot_withdrawal:true:true,member:true:true,revision:true:true");
    /* exactly these run as the owner, each with a pinned search_path */
    cr_expect_str_eq(value_on(pg, "SELECT string_agg(proname || ':' ||"
                                  " array_to_string(proconfig, ';'), ',' ORDER BY proname)"
                                  " FROM pg_proc WHERE pronamespace = 'tenderpool'::regnamespace"
                                  " AND prosecdef"),
                     "award_lot:search_path=pg_catalog, pg_temp,"
                     "current_member:search_path=pg_catalog, pg_temp,"
                     "member_lot_ids:search_path=pg_catalog, pg_temp,"
                     "schema_version:search_path=pg_catalog, pg_temp,"
                     "withdraw_lot:search_path=pg_catalog, pg_temp");
    cr_expect_str_eq(value_on(pg, "SELECT coalesce(string_agg(proname, ','), '') FROM pg_proc"
                                  " WHERE pronamespace = 'tenderpool'::regnamespace"
                                  " AND (proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(proacl)"
                                  " a WHERE a.grantee = 0))"),
                     "", "functions executable by PUBLIC");
    cr_expect_str_eq(value_on(pg, "SELECT string_agg(rolname || ':' || rolcanlogin || ':' ||"
                                  " has_schema_privilege(rolname, 'tenderpool', 'CREATE'), ','"
                                  " ORDER BY rolname) FROM pg_roles"
                                  " WHERE rolname LIKE 'tenderpool\\_%%'"),
                     "tenderpool_coordinator:false:false,tenderpool_daemon:false:false,"
                     "tenderpool_member:false:false",
                     "three group roles, none may log in or create objects");
}

/* ---- members ---- */

/* What role (member m) sees in every view of the schema, against what the superuser sees. */
static void expect_member_views(PGconn *mc, const char *m, const char *who)
{
    char own_lots[512], q[1024];
    snprintf(own_lots, sizeof(own_lots),
             "SELECT lot_id FROM tenderpool.lots WHERE member_count >= 3 AND lot_id IN"
             " (SELECT lot_id FROM tenderpool.lot_lines WHERE member_id = '%s')",
             m);
    PGresult *views = PQexec(pg, "SELECT c.relname, EXISTS (SELECT 1 FROM pg_attribute a"
                                 " WHERE a.attrelid = c.oid AND a.attname = 'member_id')"
                                 " FROM pg_class c WHERE c.relnamespace ="
                                 " 'tenderpool'::regnamespace AND c.relkind = 'v'"
                                 " ORDER BY c.relname");
    cr_assert_eq(PQresultStatus(views), PGRES_TUPLES_OK);
    cr_assert_geq(PQntuples(views), 8, "rounds lots lot_lines requests awards allocations ...");
    for (int i = 0; i < PQntuples(views); i++) {
        const char *v = PQgetvalue(views, i, 0);
        if (strcmp(PQgetvalue(views, i, 1), "t") == 0) {
            cr_expect_eq(long_on(mc,
                                 "SELECT count(*) FROM tenderpool.%s"
                                 " WHERE member_id IS DISTINCT FROM '%s'",
                                 v, m),
                         0, "%s sees another member's rows in tenderpool.%s", who, v);
            snprintf(q, sizeof(q), "SELECT * FROM tenderpool.%s WHERE member_id = '%s'", v, m);
            const char *want = rows_on(pg, q);
            snprintf(q, sizeof(q), "SELECT * FROM tenderpool.%s", v);
            cr_expect_neq(want[0], '\0', "%s has rows in tenderpool.%s", m, v);
            cr_expect_str_eq(rows_on(mc, q), want, "%s: its own rows of tenderpool.%s", who, v);
        } else if (strcmp(v, "rounds") == 0) {
            snprintf(q, sizeof(q), "SELECT * FROM tenderpool.rounds");
            cr_expect_str_eq(rows_on(mc, q), rows_on(pg, q), "%s: every round", who);
        } else if (strcmp(v, "lots") == 0 || strcmp(v, "awards") == 0 ||
                   strcmp(v, "lot_figures") == 0) {
            snprintf(q, sizeof(q), "SELECT * FROM tenderpool.%s WHERE lot_id IN (%s)", v, own_lots);
            const char *want = rows_on(pg, q);
            snprintf(q, sizeof(q), "SELECT * FROM tenderpool.%s", v);
            cr_expect_str_eq(rows_on(mc, q), want,
                             "%s: tenderpool.%s only for its lots of >= 3 members", who, v);
        } else {
            cr_expect_fail("view tenderpool.%s: decide what a member sees in it and test it", v);
        }
    }
    PQclear(views);
}

/* The base tables: own rows, the lots it has a line in (without their figures). */
static void expect_member_tables(PGconn *mc, const char *m, const char *who)
{
    cr_expect_eq(long_on(mc, "SELECT count(*) FROM tenderpool.revision WHERE member_id <> '%s'", m),
                 0, "%s: revision", who);
    cr_expect_eq(long_on(mc, "SELECT count(*) FROM tenderpool.revision"),
                 long_on(pg, "SELECT count(*) FROM tenderpool.revision WHERE member_id = '%s'", m),
                 "%s: its own revisions", who);
    cr_expect_str_eq(value_on(mc, "SELECT string_agg(member_id, ',') FROM tenderpool.member"), m,
                     "%s: its own member row", who);
    cr_expect_str_eq(
        value_on(mc, "SELECT string_agg(DISTINCT member_id, ',') FROM tenderpool.allocation"), m,
        "%s: its own allocation", who);
    cr_expect_str_eq(
        value_on(mc, "SELECT string_agg(lot_id, ',' ORDER BY lot_id) FROM tenderpool.lot"),
        value_on(pg,
                 "SELECT string_agg(DISTINCT lot_id, ',' ORDER BY lot_id) FROM tenderpool.lot_lines"
                 " WHERE member_id = '%s'",
                 m),
        "%s: the lots it has a line in", who);
    expect_denied(mc, who, "SELECT total_quantity FROM tenderpool.lot");
    expect_denied(mc, who, "SELECT member_count FROM tenderpool.lot");
    expect_denied(mc, who, "SELECT * FROM tenderpool.lot");
    expect_denied(mc, who, "SELECT * FROM tenderpool.schema_migration");
    /* the functions behind the views do not help either */
    cr_expect_eq(long_on(mc, "SELECT count(*) FROM tenderpool.request_position_of('m3')"), 0);
    cr_expect_eq(long_on(mc, "SELECT count(*) FROM tenderpool.request_walk(NULL, NULL, 'm4')"), 0);
    cr_expect_eq(long_on(mc,
                         "SELECT count(*) FROM tenderpool.request_walk(NULL, NULL)"
                         " WHERE member_id <> '%s'",
                         m),
                 0);
}

static void expect_member_writes_refused(PGconn *mc, const char *who)
{
    expect_denied(mc, who,
                  "INSERT INTO tenderpool.revision (member_id, request_ref, revision, op,"
                  " server_seq, round_id, accepted_at, content_hash)"
                  " VALUES ('m3', 'forged', 1, 1, 1, 'R2', now(), 1)");
    expect_denied(mc, who, "UPDATE tenderpool.revision SET quantity = 1");
    expect_denied(mc, who, "DELETE FROM tenderpool.revision");
    expect_denied(mc, who, "UPDATE tenderpool.allocation SET quantity = 0");
    expect_denied(mc, who,
                  "INSERT INTO tenderpool.award (lot_id, supplier, unit_price, quantity)"
                  " VALUES ('x', 'y', 1, 1)");
    expect_denied(mc, who, "UPDATE tenderpool.member SET sql_role = NULL");
    expect_denied(mc, who,
                  "INSERT INTO tenderpool.round (round_id, opens_at, closes_at)"
                  " VALUES ('X', now(), now() + interval '1 day')");
    expect_denied(mc, who, "SELECT tenderpool.award_lot('%s', 'x', 1)", lot_seeds);
    expect_denied(mc, who, "SELECT tenderpool.withdraw_lot('%s', 'x')", lot_seeds);
    expect_denied(mc, who, "SELECT tenderpool.create_member_role('m3', 'tp_rls_x', 'x')");
    expect_denied(mc, who, "SELECT tenderpool.close_round('R2', 'R3', now(), now(), 3, 2)");
    expect_denied(mc, who, "CREATE TABLE tenderpool.probe (a int)");
    expect_denied(mc, who, "SET ROLE tenderpool_coordinator");
}

Test(rls, member_role_sees_only_its_own_rows)
{
    scenario();
    PGconn *a = connect_as(role_a, "pw-a", NULL), *b = connect_as(role_b, "pw-b", NULL);
    cr_assert_str_eq(value_on(a, "SELECT tenderpool.current_member()"), "m1");
    cr_assert_str_eq(value_on(b, "SELECT tenderpool.current_member()"), "m2");

    expect_member_views(a, "m1", role_a);
    expect_member_views(b, "m2", role_b);
    expect_member_tables(a, "m1", role_a);
    expect_member_tables(b, "m2", role_b);
    expect_member_writes_refused(a, role_a);

    /* the same, spelled out for m1 (so that the generic checks cannot pass on empty views) */
    cr_expect_str_eq(value_on(a, "SELECT string_agg(request_ref || ':' || state || ':' ||"
                                 " round_id, ' ' ORDER BY request_ref) FROM tenderpool.requests"),
                     "c-1:cancelled:R1 g-1:awarded:R1 n-1:carried_over:R2 o-1:open:R2"
                     " w-1:carried_over:R2");
    cr_expect_str_eq(value_on(a, "SELECT string_agg(lot_id, ' ' ORDER BY lot_id)"
                                 " FROM tenderpool.lots"),
                     value_on(pg,
                              "SELECT string_agg(lot_id, ' ' ORDER BY lot_id)"
                              " FROM tenderpool.lots WHERE lot_id IN ('%s', '%s')",
                              lot_gloves, lot_wipes),
                     "gloves and wipes: not nitrogen (2 members), not seeds (no line)");
    cr_expect_str_eq(value_on(a,
                              "SELECT total_quantity || ':' || member_count"
                              " FROM tenderpool.lots WHERE lot_id = '%s'",
                              lot_gloves),
                     "2100:3");
    cr_expect_eq(long_on(a, "SELECT count(*) FROM tenderpool.lots WHERE lot_id IN ('%s', '%s')",
                         lot_nitrogen, lot_seeds),
                 0);
    cr_expect_str_eq(value_on(a, "SELECT string_agg(lot_id || ':' || trim_scale(quantity), ' ')"
                                 " FROM tenderpool.allocations"),
                     value_on(pg, "SELECT '%s:571'", lot_gloves));
    cr_expect_str_eq(value_on(a, "SELECT string_agg(lot_id, ' ') FROM tenderpool.awards"),
                     lot_gloves);
    cr_expect_str_eq(value_on(a, "SELECT string_agg(lot_id, ' ') FROM tenderpool.lot_withdrawal"),
                     lot_wipes);
    cr_expect_eq(long_on(a, "SELECT count(*) FROM tenderpool.lot_lines"), 3);
    /* m2: its lonely swabs lot is in its lines and its lot rows, never in tenderpool.lots */
    cr_expect_eq(long_on(b, "SELECT count(*) FROM tenderpool.lot WHERE lot_id = '%s'", lot_swabs),
                 1);
    cr_expect_eq(long_on(b, "SELECT count(*) FROM tenderpool.lots WHERE lot_id = '%s'", lot_swabs),
                 0);
    cr_expect_str_eq(value_on(b, "SELECT state FROM tenderpool.requests WHERE request_ref = 'x-1'"),
                     "carried_over");
    PQfinish(a);
    PQfinish(b);
}

static void expect_sees_nothing(PGconn *c, const char *why)
{
    cr_expect_str_eq(value_on(c, "SELECT tenderpool.current_member()"), "", "%s", why);
    const char *rels[] = {"requests",    "request_position", "lot_lines", "lots", "awards",
                          "allocations", "lot_figures",      "revision",  "lot",  "allocation",
                          "award",       "lot_withdrawal",   "member"};
    for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++)
        cr_expect_eq(long_on(c, "SELECT count(*) FROM tenderpool.%s", rels[i]), 0,
                     "%s: tenderpool.%s", why, rels[i]);
}

Test(rls, member_role_of_no_active_member_sees_nothing)
{
    scenario();
    /* a role in tenderpool_member that is no member's (its member row gone) */
    sql_on(pg, "UPDATE tenderpool.member SET sql_role = NULL WHERE member_id = 'm1'");
    PGconn *a = connect_as(role_a, "pw-a", NULL);
    expect_sees_nothing(a, "unmapped member role");
    PQfinish(a);
    /* a revoked member's role (tenderpool member revoke) */
    sql_on(pg, "UPDATE tenderpool.member SET status = 'revoked', revoked_at = now()"
               " WHERE member_id = 'm2'");
    PGconn *b = connect_as(role_b, "pw-b", NULL);
    expect_sees_nothing(b, "revoked member's role");
    PQfinish(b);
}

/* ---- coordinator ---- */

Test(rls, coordinator_sees_all_and_runs_the_cli)
{
    scenario();
    PGconn *c = connect_as(role_c, "pw-c", NULL);
    PGresult *rels = PQexec(pg, "SELECT relname FROM pg_class WHERE relnamespace ="
                                " 'tenderpool'::regnamespace AND relkind IN ('r', 'v')"
                                " ORDER BY relname");
    cr_assert_geq(PQntuples(rels), 16);
    for (int i = 0; i < PQntuples(rels); i++) {
        char q[256];
        snprintf(q, sizeof(q), "SELECT * FROM tenderpool.%s", PQgetvalue(rels, i, 0));
        cr_expect_str_eq(rows_on(c, q), rows_on(pg, q), "coordinator reads all of %s", q);
    }
    PQclear(rels);
    expect_denied(c, "coordinator",
                  "INSERT INTO tenderpool.award (lot_id, supplier, unit_price,"
                  " quantity) VALUES ('%s', 'x', 1, 1)",
                  lot_seeds);
    expect_denied(c, "coordinator", "UPDATE tenderpool.lot SET total_quantity = 1");
    expect_denied(c, "coordinator", "DELETE FROM tenderpool.revision");
    expect_denied(c, "coordinator", "SELECT tenderpool.withdraw_lot('%s', 'x')", lot_seeds);
    expect_denied(c, "coordinator",
                  "SELECT tenderpool.close_round('R2', 'R3', now(), now(), 3, 2)");
    expect_denied(c, "coordinator", "CREATE TABLE tenderpool.probe (a int)");
    PQfinish(c);

    /* the CLI's coordinator commands, with a coordinator login as [database] dsn */
    tp_test_daemon_t cc = {0};
    char dsn[2048], out[16384];
    dsn_as(dsn, sizeof(dsn), role_c, "pw-c", NULL);
    write_config_as(&cc, 1, dsn);
    cr_expect_eq(cli(out, sizeof(out), "rounds list -c %s", cc.conf), 0, "%s", out);
    cr_expect_eq(cli(out, sizeof(out), "lots list --round R1 -c %s", cc.conf), 0, "%s", out);
    cr_expect_eq(cli(out, sizeof(out), "lots show %s -c %s", lot_gloves, cc.conf), 0, "%s", out);
    cr_expect(strstr(out, "m3") != NULL, "the coordinator sees every line: %s", out);
    cr_expect_eq(cli(out, sizeof(out),
                     "award --lot %s --supplier 'Semences SA' --unit-price 0.4 -c %s", lot_seeds,
                     cc.conf),
                 0, "%s", out);
    cr_expect_eq(
        cli(out, sizeof(out), "export-ocds --round R1 -o %s/r1.json -c %s", cc.dir, cc.conf), 0,
        "%s", out);
    cr_expect_eq(cli(out, sizeof(out), "verify --round R1 -c %s", cc.conf), 0, "%s", out);
    cr_expect_eq(
        long_on(pg, "SELECT count(*) FROM tenderpool.allocation WHERE lot_id = '%s'", lot_seeds),
        3);
    (void)tp_test_run(NULL, 0, "rm -rf '%s'", cc.dir);
}

/* ---- daemon ---- */

static long copy_out_lines(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_COPY_OUT, "%s", PQerrorMessage(c));
    PQclear(r);
    long n = 0;
    char *buf;
    while (PQgetCopyData(c, &buf, 0) > 0) {
        n++;
        PQfreemem(buf);
    }
    r = PQgetResult(c);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
    PQclear(r);
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
    return n;
}

/* COPY text rows into the table (column list included); returns the SQLSTATE, "" when done. */
static const char *copy_in(PGconn *c, const char *copy_sql, const char *rows)
{
    static char state[6];
    PGresult *r = PQexec(c, copy_sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(state, sizeof(state), "%s", s ? s : "?????");
        PQclear(r);
        return state;
    }
    PQclear(r);
    cr_assert_eq(PQputCopyData(c, rows, (int)strlen(rows)), 1);
    cr_assert_eq(PQputCopyEnd(c, NULL), 1);
    r = PQgetResult(c);
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(state, sizeof(state), "%s",
             PQresultStatus(r) == PGRES_COMMAND_OK ? "" : (s ? s : "?????"));
    PQclear(r);
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
    return state;
}

#define COPY_REVISION                                                                              \
    "COPY tenderpool.revision (member_id, request_ref, revision, op, server_seq, round_id, "       \
    "accepted_at, content_hash, cpv, item_key, description, quantity, unit, base_quantity, "       \
    "need_by, delivery_zone, currency, max_unit_price, cancel_reason) FROM STDIN"

#define COPY_LOT                                                                                   \
    "COPY tenderpool.lot (lot_id, round_id, cpv, item_key, dimension, base_unit, delivery_zone, "  \
    "currency, total_quantity, member_count, request_count, need_by_min, need_by_max, "            \
    "est_value, status) FROM STDIN"

Test(rls, daemon_role_runs_the_workers_statements_and_no_ddl)
{
    scenario();
    PGconn *d = connect_as(role_d, "pw-d", NULL);
    /* workers/store.c's state load, statement by statement, as the daemon's role runs it */
    PGresult *tx = PQexec(d, TP_STORE_LOAD_BEGIN_SQL);
    cr_assert_eq(PQresultStatus(tx), PGRES_COMMAND_OK, "%s", PQerrorMessage(d));
    PQclear(tx);
    cr_expect_eq(long_on(d, "SELECT count(*) FROM (" TP_STORE_LOAD_ROUNDS_SQL ") x"),
                 long_on(pg, "SELECT count(*) FROM tenderpool.round WHERE status = 'closed'"),
                 "the state load sees every closed round");
    cr_expect_eq(long_on(d, "SELECT count(*) FROM (" TP_STORE_LOAD_LOTS_SQL ") x"),
                 long_on(pg, "SELECT count(*) FROM tenderpool.lot l JOIN tenderpool.round r"
                             " USING (round_id) WHERE r.status = 'closed'"
                             " AND (l.status = 'below_threshold' OR EXISTS (SELECT 1 FROM"
                             " tenderpool.lot_withdrawal w WHERE w.lot_id = l.lot_id))"),
                 "the state load sees every carrying lot");
    cr_expect_eq(copy_out_lines(d, TP_STORE_LOAD_REVISIONS_SQL),
                 long_on(pg, "SELECT count(DISTINCT (member_id, request_ref))"
                             " FROM tenderpool.revision"),
                 "the state load sees every member's requests");
    tx = PQexec(d, "COMMIT");
    cr_assert_eq(PQresultStatus(tx), PGRES_COMMAND_OK, "%s", PQerrorMessage(d));
    PQclear(tx);
    cr_expect_gt(long_on(d, "SELECT nextval('tenderpool.seq_block')"), 0);
    cr_expect_str_eq(
        copy_in(d, COPY_REVISION,
                "m5\tcopy-1\t1\t1\t99999\tR2\t2026-01-13 10:00+00\t42\t" GLOVES
                "\tnitrile-gloves-m\td\t5\tH87\t5\t2026-03-01\tFR-75\tEUR\t\\N\t\\N\n"),
        "", "the group commit's COPY");
    cr_expect_eq(long_on(pg, "SELECT count(*) FROM tenderpool.revision"
                             " WHERE request_ref = 'copy-1'"),
                 1);
    cr_expect_str_eq(sqlstate_on(d, "INSERT INTO tenderpool.round (round_id, opens_at, closes_at)"
                                    " VALUES ('R2', now(), now() + interval '1 day')"
                                    " ON CONFLICT (round_id) DO NOTHING"),
                     "");
    /* StatusQuery's statement (workers/status.c) for m1 */
    cr_expect_eq(long_on(d, "SELECT count(*) FROM tenderpool.request_position_of('m1') q"
                            " LEFT JOIN tenderpool.lot l ON l.lot_id = q.lot_id"
                            " AND l.member_count >= 3"
                            " LEFT JOIN tenderpool.award aw ON aw.lot_id = q.lot_id"
                            " LEFT JOIN tenderpool.allocation al ON al.lot_id = q.lot_id"
                            " AND al.member_id = q.member_id AND al.request_ref = q.request_ref"
                            " WHERE q.member_id = 'm1'"),
                 5);
    /* the close from the workers' aggregates: begin, COPY the lots, seal (rolled back here) */
    const char *lot = value_on(pg, "SELECT tenderpool.lot_id('R2', '" GLOVES "',"
                                   " 'nitrile-gloves-m', 'count', 'C62', 'FR-75', 'EUR')");
    char rows[512];
    snprintf(rows, sizeof(rows),
             "%s\tR2\t" GLOVES "\tnitrile-gloves-m\tcount\tC62\tFR-75\tEUR\t21\t3\t3\t2026-03-01"
             "\t2026-03-01\t\\N\tviable\n",
             lot);
    sql_on(d, "BEGIN");
    cr_expect_str_eq(value_on(d,
                              "SELECT tenderpool.close_round_begin('R2', 'R3',"
                              " timestamptz '2026-01-19 00:00Z', timestamptz '2026-01-26 00:00Z',"
                              " 3, 2)"),
                     "");
    cr_expect_str_eq(copy_in(d, COPY_LOT, rows), "", "the close's COPY of the lots");
    cr_expect_eq(long_on(d, "SELECT tenderpool.close_round_seal('R2', 'R3', 3, 2)"), 1);
    sql_on(d, "ROLLBACK");

    /* nothing else */
    const char *who = "daemon";
    expect_denied(d, who, "CREATE TABLE tenderpool.probe (a int)");
    expect_denied(d, who, "CREATE TABLE public.probe (a int)");
    expect_denied(d, who,
                  "CREATE FUNCTION tenderpool.probe() RETURNS int LANGUAGE sql AS 'SELECT 1'");
    expect_denied(d, who, "ALTER TABLE tenderpool.revision ADD COLUMN probe int");
    expect_denied(d, who, "DROP TABLE tenderpool.lot");
    expect_denied(d, who, "TRUNCATE tenderpool.revision");
    expect_denied(d, who, "ALTER TABLE tenderpool.revision DISABLE ROW LEVEL SECURITY");
    expect_denied(d, who, "UPDATE tenderpool.revision SET quantity = 1");
    expect_denied(d, who, "DELETE FROM tenderpool.revision");
    expect_denied(d, who, "UPDATE tenderpool.lot SET total_quantity = 1");
    expect_denied(d, who, "DELETE FROM tenderpool.lot");
    expect_denied(d, who, "UPDATE tenderpool.round SET opens_at = now()");
    expect_denied(d, who, "DELETE FROM tenderpool.round");
    expect_denied(d, who,
                  "INSERT INTO tenderpool.award (lot_id, supplier, unit_price, quantity)"
                  " VALUES ('%s', 'x', 1, 1)",
                  lot_seeds);
    expect_denied(d, who, "DELETE FROM tenderpool.allocation");
    expect_denied(d, who,
                  "INSERT INTO tenderpool.lot_withdrawal (lot_id, carried_to)"
                  " VALUES ('%s', 'R2')",
                  lot_seeds);
    expect_denied(d, who, "UPDATE tenderpool.member SET status = 'revoked'");
    expect_denied(d, who, "INSERT INTO tenderpool.cpv_code VALUES ('99999999', 'x')");
    expect_denied(d, who, "SELECT tenderpool.award_lot('%s', 'x', 1)", lot_seeds);
    expect_denied(d, who, "SELECT tenderpool.create_member_role('m3', 'tp_rls_x', 'x')");
    expect_denied(d, who, "SELECT * FROM tenderpool.schema_migration");
    PQfinish(d);

    /* without BYPASSRLS the same grants read and insert, but PostgreSQL refuses COPY FROM */
    PGconn *p = connect_as(role_p, "pw-p", NULL);
    cr_expect_eq(long_on(p, "SELECT count(*) FROM tenderpool.revision"),
                 long_on(pg, "SELECT count(*) FROM tenderpool.revision"));
    cr_expect_str_eq(
        copy_in(p, COPY_REVISION,
                "m5\tcopy-2\t1\t1\t99998\tR2\t2026-01-13 10:00+00\t43\t" GLOVES
                "\tnitrile-gloves-m\td\t5\tH87\t5\t2026-03-01\tFR-75\tEUR\t\\N\t\\N\n"),
        "0A000", "COPY FROM under row-level security");
    PQfinish(p);
}

static bool log_has(const tp_test_daemon_t *d, const char *needle)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "grep -qF -- '%s' '%s/daemon.log'", needle, d->dir);
    return tp_test_run(NULL, 0, "%s", cmd) == 0;
}

static bool wait_log(const tp_test_daemon_t *d, const char *needle, int ms)
{
    for (int waited = 0; waited < ms; waited += 100) {
        if (log_has(d, needle))
            return true;
        usleep(100 * 1000);
    }
    return false;
}

/* tenderpoold -c d->conf, stderr to d->dir/daemon.log, without waiting for it to be ready. */
static pid_t spawn_unready(const tp_test_daemon_t *d)
{
    char log[400];
    snprintf(log, sizeof(log), "%s/daemon.log", d->dir);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (freopen(log, "a", stderr) == NULL || freopen("/dev/null", "w", stdout) == NULL)
            _exit(126);
        execl(TP_TEST_BIN_DIR "/tenderpoold", "tenderpoold", "-c", d->conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static tp_test_item_t item(const char *member, const char *ref, const char *cpv, const char *key)
{
    tp_test_item_t it = tp_test_item_default(member, ref);
    it.cpv = cpv;
    it.item_key = key;
    return it;
}

Test(rls, tenderpoold_runs_as_the_daemon_role)
{
    add_members(pg);
    create_login_roles();
    char dsn[2048], out[8192];

    /* a superuser DSN works, with a warning */
    tp_test_daemon_t su = {0};
    tp_test_write_config(&su, 2, "1w", NULL);
    tp_test_daemon_restart(&su);
    cr_expect(wait_log(&su, "is a superuser: use a role with only tenderpool_daemon", 10000),
              "superuser warning in %s/daemon.log", su.dir);
    cr_expect_eq(tp_test_daemon_stop(&su), 0);

    /* a role without BYPASSRLS is refused, with the reason (the workers never get ready, so
     * the intake never opens: started here rather than by tp_test_daemon_start) */
    tp_test_daemon_t plain = {0};
    dsn_as(dsn, sizeof(dsn), role_p, "pw-p", NULL);
    write_config_as(&plain, 1, dsn);
    pid_t pid = spawn_unready(&plain);
    cr_expect(wait_log(&plain, "lacks BYPASSRLS", 10000), "BYPASSRLS refusal in %s/daemon.log",
              plain.dir);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);

    /* the daemon's role: intake, close, StatusQuery, withdraw */
    tp_test_daemon_t dd = {0};
    dsn_as(dsn, sizeof(dsn), role_d, "pw-d", NULL);
    write_config_as(&dd, 2, dsn);
    tp_test_daemon_restart(&dd);
    void *zctx = zmq_ctx_new();
    void *sock = tp_test_connect(zctx, dd.endpoint);
    tp_test_item_t it[] = {
        item("m1", "g-1", "18424300", "GLOVE-M"), item("m2", "g-2", "18424300", "GLOVE-M"),
        item("m3", "g-3", "18424300", "GLOVE-M"), item("m1", "n-1", "24111700", "N2-5.0"),
        item("m2", "n-2", "24111700", "N2-5.0"),  item("m3", "n-3", "24111700", "N2-5.0"),
    };
    tp_test_send_accepted(sock, it, sizeof(it) / sizeof(it[0]));
    cr_assert_eq(cli(out, sizeof(out), "rounds close-current -c %s", dd.conf), 0, "%s", out);
    cr_expect_eq(long_on(pg, "SELECT count(*) FROM tenderpool.lot WHERE status = 'viable'"), 2,
                 "the workers' COPY of the lots at the close");
    const char *n2 = value_on(pg, "SELECT lot_id FROM tenderpool.lot WHERE cpv = '24111700'");
    cr_assert_eq(cli(out, sizeof(out), "lots withdraw %s --reason 'no bid' -c %s", n2, dd.conf), 0,
                 "%s", out);
    cr_expect_eq(long_on(pg, "SELECT count(*) FROM tenderpool.lot_withdrawal"), 1);

    const char *refs[] = {"g-1"};
    size_t len;
    uint8_t *buf = tp_test_pack_status(3, "m1", refs, 1, NULL, &len);
    tp_test_send(sock, buf, len);
    free(buf);
    Tenderpool__V1__ServerMessage *sm = tp_test_recv(sock, 10000);
    cr_assert_not_null(sm);
    cr_assert_not_null(sm->status);
    cr_assert_eq(sm->status->n_requests, 1);
    cr_expect_eq(sm->status->requests[0]->state,
                 TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_POOLED);
    cr_expect_eq(sm->status->requests[0]->lot_member_count, 3);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);

    /* a fresh request after the reload that follows the withdrawal */
    tp_test_item_t more = item("m4", "s-1", "03111000", "SEED-WHEAT");
    tp_test_send_accepted(sock, &more, 1);
    zmq_close(sock);
    zmq_ctx_term(zctx);
    cr_expect_eq(tp_test_daemon_stop(&dd), 0);
    cr_expect(!log_has(&dd, "superuser"), "no superuser warning as %s", role_d);
    cr_expect(!log_has(&dd, "permission denied"), "see %s/daemon.log", dd.dir);
    cr_expect(!log_has(&dd, "BYPASSRLS"), "see %s/daemon.log", dd.dir);
    (void)tp_test_run(NULL, 0, "rm -rf '%s' '%s' '%s'", su.dir, plain.dir, dd.dir);
}

/* ---- create_member_role ---- */

Test(rls, create_member_role_refuses_what_it_must)
{
    add_members(pg);
    create_login_roles();
    cr_expect_str_eq(value_on(pg,
                              "SELECT rolcanlogin::text || rolsuper || rolcreaterole ||"
                              " rolbypassrls || pg_has_role('%s', 'tenderpool_member',"
                              " 'MEMBER') FROM pg_roles WHERE rolname = '%s'",
                              role_a, role_a),
                     "truefalsefalsefalsetrue", "a plain login role in tenderpool_member");
    cr_expect_str_eq(value_on(pg, "SELECT sql_role FROM tenderpool.member WHERE member_id = 'm1'"),
                     role_a);
    /* again: harmless */
    cr_expect_str_eq(
        sqlstate_on(pg, "SELECT tenderpool.create_member_role('m1', '%s', 'pw-a')", role_a), "");
    cr_expect_str_eq(sqlstate_on(pg, "SELECT tenderpool.create_member_role('nobody', 'tp_rls_n',"
                                     " 'x')"),
                     "P0002", "unknown member");
    const char *bad[] = {"Tp_rls_upper",
                         "1tp_rls",
                         "tp-rls",
                         "tp_rls;drop",
                         "tp rls",
                         "",
                         "pg_tp_rls",
                         "tenderpool_coordinator",
                         "tenderpool_member",
                         "public",
                         "tp_rls_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_str_eq(
            sqlstate_on(pg, "SELECT tenderpool.create_member_role('m3', '%s', 'x')", bad[i]),
            "42602", "role name '%s'", bad[i]);
    cr_expect_str_eq(sqlstate_on(pg, "SELECT tenderpool.create_member_role('m3', NULL, 'x')"),
                     "42602");
    /* an existing role with more rights than a member's */
    cr_expect_str_eq(
        sqlstate_on(pg, "SELECT tenderpool.create_member_role('m3', '%s', 'x')", role_c), "42501",
        "the coordinator's login");
    cr_expect_str_eq(
        sqlstate_on(pg, "SELECT tenderpool.create_member_role('m3', '%s', 'x')", role_d), "42501",
        "the daemon's login");
    sql_on(pg, "CREATE ROLE tp_rls_%d_super SUPERUSER", (int)getpid());
    cr_expect_str_eq(sqlstate_on(pg,
                                 "SELECT tenderpool.create_member_role('m3', 'tp_rls_%d_super',"
                                 " 'x')",
                                 (int)getpid()),
                     "42501", "a superuser");
    /* one role per member, one member per role */
    cr_expect_str_eq(sqlstate_on(pg,
                                 "SELECT tenderpool.create_member_role('m1', 'tp_rls_%d_other',"
                                 " 'x')",
                                 (int)getpid()),
                     "42710");
    cr_expect_str_eq(
        sqlstate_on(pg, "SELECT tenderpool.create_member_role('m3', '%s', 'x')", role_b), "42710");
    /* a revoked member gets none */
    sql_on(pg, "UPDATE tenderpool.member SET status = 'revoked', revoked_at = now()"
               " WHERE member_id = 'm5'");
    cr_expect_str_eq(sqlstate_on(pg,
                                 "SELECT tenderpool.create_member_role('m5', 'tp_rls_%d_m5',"
                                 " 'x')",
                                 (int)getpid()),
                     "55000");
    /* an existing plain role is reused */
    sql_on(pg, "CREATE ROLE tp_rls_%d_m3 NOLOGIN", (int)getpid());
    cr_expect_str_eq(sqlstate_on(pg,
                                 "SELECT tenderpool.create_member_role('m3', 'tp_rls_%d_m3',"
                                 " 'pw-3')",
                                 (int)getpid()),
                     "");
    char role3[64];
    snprintf(role3, sizeof(role3), "tp_rls_%d_m3", (int)getpid());
    PGconn *c3 = connect_as(role3, "pw-3", NULL);
    cr_expect_str_eq(value_on(c3, "SELECT tenderpool.current_member()"), "m3");
    PQfinish(c3);
    cr_expect_eq(long_on(pg, "SELECT count(*) FROM tenderpool.member WHERE sql_role IS NOT NULL"),
                 3);
}

/* ---- a non-superuser owner: forced row-level security binds it too ---- */

Test(rls, non_superuser_owner_migrates_and_works)
{
    sql_on(pg, "CREATE ROLE %s LOGIN CREATEROLE PASSWORD 'pw-o'", role_o);
    sql_on(pg, "CREATE DATABASE %s OWNER %s", db_o, role_o);
    tp_test_daemon_t oc = {0};
    char dsn[2048], out[8192];
    dsn_as(dsn, sizeof(dsn), role_o, "pw-o", db_o);
    write_config_as(&oc, 1, dsn);
    cr_assert_eq(cli(out, sizeof(out), "migrate -c %s", oc.conf), 0, "%s", out);
    cr_expect(strstr(out, "applied 006_roles.sql") != NULL, "%s", out);
    cr_assert_eq(cli(out, sizeof(out), "migrate -c %s", oc.conf), 0, "%s", out);
    cr_expect(strstr(out, "schema is current") != NULL, "%s", out);

    PGconn *o = connect_as(role_o, "pw-o", db_o);
    cr_assert_str_eq(
        value_on(o, "SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user"), "false");
    add_members(o);
    sql_on(o, "SELECT tenderpool.create_member_role('m1', '%s', 'pw-a')", role_a);
    add_round(o, 1);
    add_req(o, "m1", "g-1", 1, 1, "R1", GLOVES, "nitrile-gloves-m", "1200", "H87", "1200");
    add_req(o, "m2", "g-2", 1, 1, "R1", GLOVES, "nitrile-gloves-m", "50", "DZN", "600");
    add_req(o, "m3", "g-3", 1, 1, "R1", GLOVES, "nitrile-gloves-m", "300", "H87", "300");
    add_req(o, "m2", "n-2", 1, 1, "R1", NITROGEN, "liquid-nitrogen", "500", "KGM", "500");
    cr_assert_eq(long_on(o, "SELECT tenderpool.close_round('R1', 'R2',"
                            " timestamptz '2026-01-12 00:00Z', timestamptz '2026-01-19 00:00Z',"
                            " 3, 2)"),
                 2);
    cr_expect_str_eq(value_on(o, "SELECT string_agg(status || ':' || total_quantity, ' '"
                                 " ORDER BY status) FROM tenderpool.lots"),
                     "below_threshold:500 viable:2100", "the owner sees every lot and figure");
    cr_expect_eq(long_on(o, "SELECT count(*) FROM tenderpool.requests"), 4);
    const char *gl = value_on(o, "SELECT lot_id FROM tenderpool.lot WHERE status = 'viable'");
    cr_expect_str_eq(value_on(o, "SELECT tenderpool.award_lot('%s', 'Gants SA', 0.07)", gl),
                     "2100");
    cr_expect_eq(long_on(o, "SELECT count(*) FROM tenderpool.allocation"), 3);
    cr_expect_eq(cli(out, sizeof(out), "verify --round R1 -c %s", oc.conf), 0, "%s", out);
    cr_expect_eq(cli(out, sizeof(out), "lots show %s -c %s", gl, oc.conf), 0, "%s", out);
    PQfinish(o);

    PGconn *a = connect_as(role_a, "pw-a", db_o);
    cr_expect_str_eq(value_on(a, "SELECT string_agg(member_id || ':' || request_ref || ':' ||"
                                 " state, ' ') FROM tenderpool.requests"),
                     "m1:g-1:awarded");
    cr_expect_eq(long_on(a, "SELECT count(*) FROM tenderpool.lots"), 1);
    cr_expect_eq(long_on(a, "SELECT count(*) FROM tenderpool.allocations"), 1);
    PQfinish(a);
    (void)tp_test_run(NULL, 0, "rm -rf '%s'", oc.dir);
}
