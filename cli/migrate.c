/* `tenderpool migrate`: apply sql/NNN_*.sql once each, in order, under a lock; sync units. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tp_cli.h"
#include "tp_mem.h"
#include "tp_pg.h"
#include "tp_unit.h"

/* pg_advisory_lock key serializing concurrent migrates: "tpmigrat" as a big-endian int64.
 * tests/integration/test_cli_db.c holds the same key to prove the serialization. */
#define MIGRATE_LOCK_KEY "8390326405265777012"

#define BYTEA_OID 17

typedef struct migration {
    int version;
    char *name; /* file name, "001_intake.sql" */
    char *path; /* sql_dir/name */
} migration_t;

typedef struct migrate_ctx {
    const char *sql_dir;
    PGconn *pg;
    migration_t *files; /* sorted by version */
    size_t nfiles;
    PGresult *applied; /* version, name, checksum of tenderpool.schema_migration */
    char err[2048];
} migrate_ctx_t;

static void migrate_usage(void)
{
    fprintf(stderr, "usage: tenderpool migrate -c FILE [--sql-dir DIR]\n");
}

/* Validates the options (the config is read by tp_cli_load_config). 0, or -1 on a usage error. */
static int migrate_parse_args(int argc, char **argv, const char **sql_dir)
{
    const tp_cli_opt_t opts[] = {{"--sql-dir", sql_dir}};
    return tp_cli_parse_opts("migrate", argc, argv, opts, 1);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --sql-dir, else $TENDERPOOL_SQL_DIR, else the source tree's sql/ when present, else the
 * installed one. */
static const char *migrate_sql_dir(const char *opt)
{
    if (opt != NULL && *opt != '\0')
        return opt;
    const char *env = getenv("TENDERPOOL_SQL_DIR");
    if (env != NULL && *env != '\0')
        return env;
    if (is_dir(TP_SOURCE_SQL_DIR))
        return TP_SOURCE_SQL_DIR;
    return TP_SQL_DIR;
}

/* "NNN_something.sql" -> NNN, else -1. */
static int migration_version(const char *name)
{
    size_t n = strlen(name);
    if (n < 9 || strcmp(name + n - 4, ".sql") != 0)
        return -1;
    for (int i = 0; i < 3; i++)
        if (!isdigit((unsigned char)name[i]))
            return -1;
    if (name[3] != '_')
        return -1;
    return (name[0] - '0') * 100 + (name[1] - '0') * 10 + (name[2] - '0');
}

static int migration_cmp(const void *a, const void *b)
{
    const migration_t *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void migrate_add_file(migrate_ctx_t *ctx, int version, const char *name)
{
    ctx->files = xrealloc(ctx->files, (ctx->nfiles + 1) * sizeof(*ctx->files));
    migration_t *m = &ctx->files[ctx->nfiles++];
    m->version = version;
    m->name = xstrdup(name);
    m->path = path_join(ctx->sql_dir, name);
}

/* Lists the migration files of ctx->sql_dir, sorted; two files with one version are an error. */
static int migrate_scan(migrate_ctx_t *ctx)
{
    DIR *d = opendir(ctx->sql_dir);
    if (d == NULL) {
        snprintf(ctx->err, sizeof(ctx->err), "cannot open SQL directory %s: %s", ctx->sql_dir,
                 strerror(errno));
        return -1;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        int version = migration_version(e->d_name);
        if (version >= 0)
            migrate_add_file(ctx, version, e->d_name);
        else if (strlen(e->d_name) > 4 && strcmp(e->d_name + strlen(e->d_name) - 4, ".sql") == 0)
            fprintf(stderr, "tenderpool: warning: ignoring %s/%s (not NNN_name.sql)\n",
                    ctx->sql_dir, e->d_name);
    }
    closedir(d);
    if (ctx->nfiles == 0) {
        snprintf(ctx->err, sizeof(ctx->err), "no migrations (NNN_name.sql) in %s", ctx->sql_dir);
        return -1;
    }
    qsort(ctx->files, ctx->nfiles, sizeof(*ctx->files), migration_cmp);
    for (size_t i = 1; i < ctx->nfiles; i++)
        if (ctx->files[i].version == ctx->files[i - 1].version) {
            snprintf(ctx->err, sizeof(ctx->err), "%s and %s in %s have the same version",
                     ctx->files[i - 1].name, ctx->files[i].name, ctx->sql_dir);
            return -1;
        }
    return 0;
}

/* Whole file, NUL-terminated; a NUL inside it is an error (it could not be sent as SQL). */
static char *read_text_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 8192, n = 0;
    char *buf = xmalloc(cap);
    for (size_t got; (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (cap - n - 1 == 0)
            buf = xrealloc(buf, cap *= 2);
    }
    int failed = ferror(f);
    fclose(f);
    buf[n] = '\0';
    if (failed || strlen(buf) != n) {
        snprintf(err, errlen, "%s: %s", path, failed ? "read error" : "contains a NUL byte");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int migrate_connect(migrate_ctx_t *ctx, const tp_config_t *cfg)
{
    const char *dsn = cfg->owner_dsn[0] != '\0' ? cfg->owner_dsn : cfg->dsn;
    ctx->pg = tp_pg_connect(dsn, ctx->err, sizeof(ctx->err));
    if (ctx->pg == NULL)
        return -1;
    /* "schema already exists, skipping" and friends are noise for an operator. */
    if (tp_pg_exec(ctx->pg, "set client_min_messages", ctx->err, sizeof(ctx->err),
                   "SET client_min_messages = warning", 0, NULL) < 0 ||
        tp_pg_exec(ctx->pg, "set application_name", ctx->err, sizeof(ctx->err),
                   "SET application_name = 'tenderpool migrate'", 0, NULL) < 0)
        return -1;
    return 0;
}

/* Session-level lock, released when the connection closes; a second migrate waits here. */
static int migrate_lock(migrate_ctx_t *ctx)
{
    PGresult *r = tp_pg_query(ctx->pg, "pg_try_advisory_lock", ctx->err, sizeof(ctx->err),
                              "SELECT pg_try_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL);
    if (r == NULL)
        return -1;
    bool got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (got)
        return 0;
    fprintf(stderr, "tenderpool: another migrate is running; waiting for it to finish\n");
    return tp_pg_exec(ctx->pg, "pg_advisory_lock", ctx->err, sizeof(ctx->err),
                      "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL);
}

static int migrate_bootstrap(migrate_ctx_t *ctx)
{
    if (tp_pg_exec(ctx->pg, "create schema tenderpool", ctx->err, sizeof(ctx->err),
                   "CREATE SCHEMA IF NOT EXISTS tenderpool", 0, NULL) < 0 ||
        tp_pg_exec(ctx->pg, "create table tenderpool.schema_migration", ctx->err, sizeof(ctx->err),
                   "CREATE TABLE IF NOT EXISTS tenderpool.schema_migration ("
                   " version integer PRIMARY KEY,"
                   " name text NOT NULL,"
                   " checksum text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now())",
                   0, NULL) < 0)
        return -1;
    ctx->applied =
        tp_pg_query(ctx->pg, "read tenderpool.schema_migration", ctx->err, sizeof(ctx->err),
                    "SELECT version, name, checksum FROM tenderpool.schema_migration"
                    " ORDER BY version",
                    0, NULL);
    return ctx->applied == NULL ? -1 : 0;
}

/* Row of ctx->applied for version, or -1. */
static int applied_row(const migrate_ctx_t *ctx, int version)
{
    for (int i = 0; i < PQntuples(ctx->applied); i++)
        if (atoi(PQgetvalue(ctx->applied, i, 0)) == version)
            return i;
    return -1;
}

/* sha256 of the file's bytes, as hex, computed by the server (no crypto library needed). */
static int migration_checksum(migrate_ctx_t *ctx, const char *text, size_t len, char out[65])
{
    const char *params[1] = {text};
    const int lengths[1] = {(int)len}, formats[1] = {1};
    const Oid types[1] = {BYTEA_OID};
    PGresult *r = PQexecParams(ctx->pg, "SELECT encode(sha256($1), 'hex')", 1, types, params,
                               lengths, formats, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        tp_pg_error(r, ctx->pg, "sha256", ctx->err, sizeof(ctx->err));
        PQclear(r);
        return -1;
    }
    snprintf(out, 65, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

/* 1-based line of the 1-based character position pos (PostgreSQL counts characters). */
static int line_of_position(const char *text, long pos)
{
    int line = 1;
    for (const unsigned char *p = (const unsigned char *)text; *p && pos > 1; p++) {
        if ((*p & 0xC0) == 0x80)
            continue; /* UTF-8 continuation byte: same character */
        if (*p == '\n')
            line++;
        pos--;
    }
    return line;
}

/* "path:LINE: SQLSTATE message" (or "path: ..." when the server gives no position). */
static void migration_error(migrate_ctx_t *ctx, const migration_t *m, const char *text,
                            const PGresult *r)
{
    const char *pos = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char what[1200];
    if (pos != NULL)
        snprintf(what, sizeof(what), "%s:%d", m->path, line_of_position(text, atol(pos)));
    else
        snprintf(what, sizeof(what), "%s", m->path);
    if (msg != NULL)
        snprintf(ctx->err, sizeof(ctx->err), "%s: %s %s", what, tp_pg_sqlstate(r), msg);
    else
        tp_pg_error(r, ctx->pg, what, ctx->err, sizeof(ctx->err));
}

/* One transaction: the file's statements and the row recording them. */
static int migration_apply(migrate_ctx_t *ctx, const migration_t *m, const char *text,
                           const char *checksum)
{
    if (tp_pg_exec(ctx->pg, "begin", ctx->err, sizeof(ctx->err), "BEGIN", 0, NULL) < 0)
        return -1;
    PGresult *r = PQexec(ctx->pg, text);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        migration_error(ctx, m, text, r);
        PQclear(r);
        PQclear(PQexec(ctx->pg, "ROLLBACK"));
        return -1;
    }
    PQclear(r);
    char version[16];
    snprintf(version, sizeof(version), "%d", m->version);
    const char *params[3] = {version, m->name, checksum};
    char what[1200];
    snprintf(what, sizeof(what), "%s: record in tenderpool.schema_migration", m->path);
    if (tp_pg_exec(ctx->pg, what, ctx->err, sizeof(ctx->err),
                   "INSERT INTO tenderpool.schema_migration (version, name, checksum)"
                   " VALUES ($1::integer, $2, $3)",
                   3, params) < 0 ||
        tp_pg_exec(ctx->pg, m->path, ctx->err, sizeof(ctx->err), "COMMIT", 0, NULL) < 0) {
        PQclear(PQexec(ctx->pg, "ROLLBACK"));
        return -1;
    }
    return 0;
}

/* Applies the file unless applied; an applied file whose text changed is an error.
 * Returns 1 when applied, 0 when it already was, -1 on error. */
static int migrate_one(migrate_ctx_t *ctx, const migration_t *m)
{
    size_t len;
    char *text = read_text_file(m->path, &len, ctx->err, sizeof(ctx->err));
    if (text == NULL)
        return -1;
    char sum[65];
    int rc = migration_checksum(ctx, text, len, sum);
    int row = rc == 0 ? applied_row(ctx, m->version) : -1;
    if (rc == 0 && row >= 0) {
        if (strcmp(PQgetvalue(ctx->applied, row, 2), sum) != 0) {
            snprintf(ctx->err, sizeof(ctx->err),
                     "%s was changed after it was applied as %s (sha256 %s, recorded %s);"
                     " applied migrations must never be edited: add a new one",
                     m->path, PQgetvalue(ctx->applied, row, 1), sum,
                     PQgetvalue(ctx->applied, row, 2));
            rc = -1;
        }
    } else if (rc == 0) {
        rc = migration_apply(ctx, m, text, sum);
        if (rc == 0) {
            printf("applied %s\n", m->name);
            fflush(stdout);
            rc = 1;
        }
    }
    free(text);
    return rc;
}

/* Versions recorded in the database with no file here: this binary is older than the schema. */
static int migrate_unknown_applied(const migrate_ctx_t *ctx)
{
    int unknown = 0;
    for (int i = 0; i < PQntuples(ctx->applied); i++) {
        int version = atoi(PQgetvalue(ctx->applied, i, 0));
        bool found = false;
        for (size_t j = 0; j < ctx->nfiles && !found; j++)
            found = ctx->files[j].version == version;
        if (!found) {
            fprintf(stderr,
                    "tenderpool: warning: the database has migration %s, which is not in %s"
                    " (is this binary older than the schema?); leaving tenderpool.unit as it is\n",
                    PQgetvalue(ctx->applied, i, 1), ctx->sql_dir);
            unknown++;
        }
    }
    return unknown;
}

static int units_stage(migrate_ctx_t *ctx)
{
    int n;
    const tp_unit_t *units = tp_unit_table(&n);
    for (int i = 0; i < n; i++) {
        const tp_unit_t *u = &units[i];
        const char *params[5] = {u->code, u->name, tp_dim_name(u->dim), u->base,
                                 u->dim == TP_DIM_PACKAGE ? NULL : u->factor};
        char what[128];
        snprintf(what, sizeof(what), "stage unit %s", u->code);
        if (tp_pg_exec(ctx->pg, what, ctx->err, sizeof(ctx->err),
                       "INSERT INTO tp_unit_new VALUES ($1, $2, $3, $4, $5::numeric)", 5,
                       params) < 0)
            return -1;
    }
    return 0;
}

/* tenderpool.unit := tp_unit_table(), in one transaction; common/units.c is the source of truth. */
static int units_sync(migrate_ctx_t *ctx)
{
    char *e = ctx->err;
    size_t el = sizeof(ctx->err);
    if (tp_pg_exec(ctx->pg, "begin", e, el, "BEGIN", 0, NULL) < 0)
        return -1;
    int rc =
        tp_pg_exec(ctx->pg, "create tp_unit_new", e, el,
                   "CREATE TEMP TABLE tp_unit_new (LIKE tenderpool.unit) ON COMMIT DROP", 0, NULL);
    if (rc == 0)
        rc = units_stage(ctx);
    if (rc == 0)
        rc = tp_pg_exec(
            ctx->pg, "upsert tenderpool.unit", e, el,
            "INSERT INTO tenderpool.unit AS u (code, name, dimension, base_unit, factor)"
            " SELECT code, name, dimension, base_unit, factor FROM tp_unit_new"
            " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,"
            " dimension = EXCLUDED.dimension, base_unit = EXCLUDED.base_unit,"
            " factor = EXCLUDED.factor"
            " WHERE (u.name, u.dimension, u.base_unit, u.factor::text) IS DISTINCT FROM"
            " (EXCLUDED.name, EXCLUDED.dimension, EXCLUDED.base_unit, EXCLUDED.factor::text)",
            0, NULL);
    if (rc == 0)
        rc = tp_pg_exec(ctx->pg, "delete stale units", e, el,
                        "DELETE FROM tenderpool.unit u"
                        " WHERE NOT EXISTS (SELECT 1 FROM tp_unit_new n WHERE n.code = u.code)",
                        0, NULL);
    if (rc == 0)
        rc = tp_pg_exec(ctx->pg, "commit units", e, el, "COMMIT", 0, NULL);
    if (rc < 0)
        PQclear(PQexec(ctx->pg, "ROLLBACK"));
    return rc;
}

static int migrate_run(migrate_ctx_t *ctx)
{
    if (migrate_scan(ctx) < 0 || migrate_lock(ctx) < 0 || migrate_bootstrap(ctx) < 0)
        return -1;
    int applied = 0;
    for (size_t i = 0; i < ctx->nfiles; i++) {
        int rc = migrate_one(ctx, &ctx->files[i]);
        if (rc < 0)
            return -1;
        applied += rc;
    }
    int latest = ctx->files[ctx->nfiles - 1].version;
    if (migrate_unknown_applied(ctx) > 0) {
        /* The newer binary that wrote those owns the unit table now. */
        latest = atoi(PQgetvalue(ctx->applied, PQntuples(ctx->applied) - 1, 0));
    } else if (units_sync(ctx) < 0) {
        return -1;
    }
    if (applied == 0)
        printf("schema is current (version %d)\n", latest);
    else
        printf("schema migrated to version %d\n", latest);
    return 0;
}

static void migrate_ctx_clear(migrate_ctx_t *ctx)
{
    for (size_t i = 0; i < ctx->nfiles; i++) {
        free(ctx->files[i].name);
        free(ctx->files[i].path);
    }
    free(ctx->files);
    PQclear(ctx->applied);
    if (ctx->pg != NULL)
        PQfinish(ctx->pg);
}

int tp_cmd_migrate(int argc, char **argv)
{
    const char *sql_dir_opt = NULL;
    if (migrate_parse_args(argc, argv, &sql_dir_opt) < 0) {
        migrate_usage();
        return 2;
    }
    tp_config_t cfg;
    if (tp_cli_load_config(argc, argv, &cfg) < 0) {
        migrate_usage();
        return 2;
    }
    migrate_ctx_t ctx = {.sql_dir = migrate_sql_dir(sql_dir_opt)};
    int rc = 0;
    if (migrate_connect(&ctx, &cfg) < 0 || migrate_run(&ctx) < 0) {
        fprintf(stderr, "tenderpool: migrate: %s\n", ctx.err);
        rc = 1;
    }
    migrate_ctx_clear(&ctx);
    return rc;
}
