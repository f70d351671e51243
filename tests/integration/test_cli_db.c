/* Integration suite: `tenderpool migrate` and `cpv import` run for real against PostgreSQL. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tp_testenv.h"
#include "tp_unit.h"

extern char **environ;

#define CLI TP_TEST_BIN_DIR "/tenderpool"
/* Same key as MIGRATE_LOCK_KEY in cli/migrate.c: the test holds it to prove serialization. */
#define MIGRATE_LOCK_KEY "8390326405265777012"

static char scratch[256]; /* per-test temp dir: config, CSVs, SQL copies, outputs */
static char conf[300];
static PGconn *pg;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0, "cannot write %s", path);
}

static char *scratch_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", scratch, name);
    return buf;
}

/* The suite needs only [database]; everything else stays at its default. */
static void write_cli_config(void)
{
    char text[1200];
    snprintf(text, sizeof(text), "[database]\ndsn = %s\n", tp_test_dsn());
    write_file(scratch_path(conf, sizeof(conf), "tenderpool.conf"), text);
}

static void drop_schema(void)
{
    tp_test_pg_exec(pg, "SET client_min_messages = warning");
    tp_test_pg_exec(pg, "DROP SCHEMA IF EXISTS tenderpool CASCADE");
}

static void suite_init(void)
{
    snprintf(scratch, sizeof(scratch), "/tmp/tp_it_cli_db.XXXXXX");
    cr_assert_not_null(mkdtemp(scratch), "mkdtemp");
    write_cli_config();
    pg = tp_test_pg();
    drop_schema();
}

static void suite_fini(void)
{
    if (pg != NULL)
        PQfinish(pg);
    pg = NULL;
    if (scratch[0] != '\0')
        (void)tp_test_run(NULL, 0, "rm -rf '%s'", scratch);
}

TestSuite(cli_db, .init = suite_init, .fini = suite_fini, .timeout = 120);

/* Runs `tenderpool ARGS` (a shell fragment) with the test config; stdout+stderr into out. */
static int cli(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cli(char *out, size_t outlen, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    if (out != NULL && outlen > 0)
        out[0] = '\0';
    return tp_test_run(out, outlen, "%s %s 2>&1", CLI, args);
}

static void migrate_ok(void)
{
    char out[4096];
    int rc = cli(out, sizeof(out), "migrate -c '%s'", conf);
    cr_assert_eq(rc, 0, "migrate failed (%d): %s", rc, out);
}

/* Migration files of the source tree: count and highest version. */
static int source_migrations(int *latest)
{
    DIR *d = opendir(TP_TEST_SOURCE_DIR "/sql");
    cr_assert_not_null(d, "cannot open %s", TP_TEST_SOURCE_DIR "/sql");
    int n = 0;
    *latest = -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        int v;
        char sep;
        if (len > 8 && strcmp(e->d_name + len - 4, ".sql") == 0 &&
            sscanf(e->d_name, "%3d%c", &v, &sep) == 2 && sep == '_') {
            n++;
            if (v > *latest)
                *latest = v;
        }
    }
    closedir(d);
    cr_assert_gt(n, 0, "no migrations in the source tree");
    return n;
}

static size_t count_substr(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void assert_value(const char *sql, const char *want)
{
    char *got = tp_test_pg_value(pg, sql);
    cr_assert_not_null(got, "no row for: %s", sql);
    cr_assert_str_eq(got, want, "%s: got '%s', want '%s'", sql, got, want);
    free(got);
}

Test(cli_db, migrate_twice_second_is_current)
{
    int latest, nfiles = source_migrations(&latest);
    char out[4096], want[64];
    cr_assert_eq(cli(out, sizeof(out), "migrate -c '%s'", conf), 0, "first migrate: %s", out);
    cr_assert_eq(count_substr(out, "applied "), (size_t)nfiles, "one line per migration: %s", out);
    cr_assert(strstr(out, "applied 001_intake.sql") != NULL, "%s", out);
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(*) FROM tenderpool.schema_migration"), nfiles);
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(*) FROM tenderpool.schema_migration"
                                     " WHERE checksum ~ '^[0-9a-f]{64}$'"),
                 nfiles, "checksums are sha256 hex");

    cr_assert_eq(cli(out, sizeof(out), "migrate -c '%s'", conf), 0, "second migrate: %s", out);
    snprintf(want, sizeof(want), "schema is current (version %d)", latest);
    cr_assert(strstr(out, want) != NULL, "want '%s' in: %s", want, out);
    cr_assert(strstr(out, "applied ") == NULL, "nothing to apply twice: %s", out);
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(*) FROM tenderpool.schema_migration"), nfiles);
}

/* posix_spawn `tenderpool migrate -c conf`, output to outpath. */
static pid_t spawn_migrate(const char *outpath)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {CLI, "migrate", "-c", conf, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, CLI, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn %s: %s", CLI, strerror(rc));
    return pid;
}

static int wait_exit(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid, "waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    static char buf[2][8192];
    static int which;
    char *b = buf[which++ % 2];
    size_t n = fread(b, 1, sizeof(buf[0]) - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

static long advisory_waiters(void)
{
    return tp_test_pg_long(
        pg, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            " AND NOT granted AND ((classid::bigint << 32) | objid::bigint) = " MIGRATE_LOCK_KEY);
}

Test(cli_db, concurrent_migrates_apply_once)
{
    int latest, nfiles = source_migrations(&latest);
    char out1[512], out2[512];
    scratch_path(out1, sizeof(out1), "migrate1.out");
    scratch_path(out2, sizeof(out2), "migrate2.out");

    /* Hold the migrate lock so both processes are certainly running at once. */
    tp_test_pg_exec(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")");
    pid_t a = spawn_migrate(out1), b = spawn_migrate(out2);
    long waiting = 0;
    for (int i = 0; i < 200 && (waiting = advisory_waiters()) < 2; i++)
        usleep(50 * 1000);
    cr_expect_eq(waiting, 2, "both migrates should wait on the advisory lock");
    cr_expect_eq(tp_test_pg_long(pg, "SELECT count(*) FROM pg_namespace"
                                     " WHERE nspname = 'tenderpool'"),
                 0, "nothing may be created before the lock is held");
    tp_test_pg_exec(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")");

    int rca = wait_exit(a), rcb = wait_exit(b);
    char *o1 = slurp(out1), *o2 = slurp(out2);
    cr_assert_eq(rca, 0, "first migrate: %s", o1);
    cr_assert_eq(rcb, 0, "second migrate: %s", o2);
    cr_assert_eq(count_substr(o1, "applied ") + count_substr(o2, "applied "), (size_t)nfiles,
                 "each migration applied once:\n%s\n%s", o1, o2);
    cr_assert(strstr(o1, "schema is current") != NULL || strstr(o2, "schema is current") != NULL,
              "the second finds nothing to do:\n%s\n%s", o1, o2);
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(*) FROM tenderpool.schema_migration"), nfiles);
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(DISTINCT version) FROM "
                                     "tenderpool.schema_migration"),
                 nfiles);
}

Test(cli_db, unit_table_synced_from_c_table)
{
    int n;
    tp_unit_table(&n);
    migrate_ok();
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(*) FROM tenderpool.unit"), n);
    assert_value("SELECT factor = 1000 AND factor::text = '1000' FROM tenderpool.unit"
                 " WHERE code = 'TNE'",
                 "t");
    assert_value("SELECT dimension || '/' || base_unit FROM tenderpool.unit WHERE code = 'TNE'",
                 "mass/KGM");
    assert_value("SELECT (factor IS NULL)::text || '/' || dimension FROM tenderpool.unit"
                 " WHERE code = 'BX'",
                 "true/package");

    /* Drift is repaired on the next run: stale rows deleted, changed rows restored. */
    tp_test_pg_exec(pg, "INSERT INTO tenderpool.unit VALUES ('ZZZ', 'stale', 'mass', 'KGM', 2)");
    tp_test_pg_exec(pg, "UPDATE tenderpool.unit SET factor = 5 WHERE code = 'TNE'");
    tp_test_pg_exec(pg, "DELETE FROM tenderpool.unit WHERE code = 'KGM'");
    migrate_ok();
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(*) FROM tenderpool.unit WHERE code = 'ZZZ'"), 0);
    assert_value("SELECT factor::text FROM tenderpool.unit WHERE code = 'TNE'", "1000");
    assert_value("SELECT factor::text FROM tenderpool.unit WHERE code = 'KGM'", "1");
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(*) FROM tenderpool.unit"), n);
}

/* scratch/sql holding copies of the source migrations. */
static const char *copy_sql_dir(char *dir, size_t len)
{
    scratch_path(dir, len, "sql");
    cr_assert_eq(mkdir(dir, 0755), 0, "mkdir %s", dir);
    cr_assert_eq(tp_test_run(NULL, 0, "cp '%s'/sql/*.sql '%s'/", TP_TEST_SOURCE_DIR, dir), 0);
    return dir;
}

Test(cli_db, edited_migration_is_refused)
{
    char dir[300], path[400], out[4096];
    copy_sql_dir(dir, sizeof(dir));
    cr_assert_eq(cli(out, sizeof(out), "migrate -c '%s' --sql-dir '%s'", conf, dir), 0, "%s", out);
    snprintf(path, sizeof(path), "%s/001_intake.sql", dir);
    FILE *f = fopen(path, "a");
    cr_assert_not_null(f);
    fputs("-- an edit after release\n", f);
    fclose(f);
    int rc = cli(out, sizeof(out), "migrate -c '%s' --sql-dir '%s'", conf, dir);
    cr_assert_eq(rc, 1, "an edited migration must fail (%d): %s", rc, out);
    cr_assert(strstr(out, "001_intake.sql") != NULL, "the error names the file: %s", out);
}

Test(cli_db, failing_migration_rolls_back_and_names_file)
{
    char dir[300], path[400], out[4096];
    copy_sql_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/999_broken.sql", dir);
    write_file(path, "CREATE TABLE tenderpool.broken_probe (a int);\n"
                     "SELECT no_such_column FROM tenderpool.broken_probe;\n");
    /* Through $TENDERPOOL_SQL_DIR this time. */
    int rc = tp_test_run(out, sizeof(out), "TENDERPOOL_SQL_DIR='%s' %s migrate -c '%s' 2>&1", dir,
                         CLI, conf);
    cr_assert_eq(rc, 1, "a failing migration exits 1 (%d): %s", rc, out);
    cr_assert(strstr(out, "999_broken.sql:2") != NULL, "file and line named: %s", out);
    cr_assert(strstr(out, "42703") != NULL, "SQLSTATE named: %s", out);
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(*) FROM pg_class"
                                     " WHERE relname = 'broken_probe'"),
                 0, "the failed migration's statements are rolled back");
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(*) FROM tenderpool.schema_migration"
                                     " WHERE version = 999"),
                 0);
    cr_assert_gt(tp_test_pg_long(pg, "SELECT count(*) FROM tenderpool.schema_migration"), 0,
                 "the earlier migrations stay applied");
}

Test(cli_db, usage_errors_exit_2)
{
    char out[4096];
    cr_expect_eq(cli(out, sizeof(out), "migrate"), 2, "migrate without -c: %s", out);
    cr_expect_eq(cli(out, sizeof(out), "migrate -c '%s' --frobnicate", conf), 2, "%s", out);
    cr_expect_eq(cli(out, sizeof(out), "cpv import -c '%s'", conf), 2, "no CSV: %s", out);
    cr_expect_eq(cli(out, sizeof(out), "cpv -c '%s' x.csv", conf), 2, "no 'import': %s", out);
    cr_expect_eq(cli(out, sizeof(out), "migrate -c '%s/missing.conf'", scratch), 2, "%s", out);
}

/* A small CSV: CRLF ends, quoted labels with commas and "" escapes, one code with check digit. */
static const char small_csv[] = "code,description\r\n"
                                "03000000,\"Agricultural, farming, fishing\"\r\n"
                                "09100000-0,Fuels\r\n"
                                "30192000,\"Office supplies, \"\"general\"\"\"\r\n"
                                "44111000,Building materials\r\n";

static void import_small(void)
{
    char path[400], out[4096];
    write_file(scratch_path(path, sizeof(path), "small.csv"), small_csv);
    int rc = cli(out, sizeof(out), "cpv import -c '%s' '%s'", conf, path);
    cr_assert_eq(rc, 0, "cpv import (%d): %s", rc, out);
    cr_assert(strstr(out, "imported 4 CPV codes") != NULL, "%s", out);
}

Test(cli_db, cpv_import_small_csv)
{
    migrate_ok();
    import_small();
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(*) FROM tenderpool.cpv_code"), 4);
    assert_value("SELECT label FROM tenderpool.cpv_code WHERE code = '03000000'",
                 "Agricultural, farming, fishing");
    assert_value("SELECT label FROM tenderpool.cpv_code WHERE code = '09100000'", "Fuels");
    assert_value("SELECT label FROM tenderpool.cpv_code WHERE code = '30192000'",
                 "Office supplies, \"general\"");

    /* Re-import upserts: a changed label is updated, nothing is duplicated. */
    char path[400], out[4096];
    write_file(scratch_path(path, sizeof(path), "relabel.csv"),
               "code,description\n09100000,\"Fuels, liquid\"\n");
    cr_assert_eq(cli(out, sizeof(out), "cpv import -c '%s' '%s'", conf, path), 0, "%s", out);
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(*) FROM tenderpool.cpv_code"), 4);
    assert_value("SELECT label FROM tenderpool.cpv_code WHERE code = '09100000'", "Fuels, liquid");
}

static void expect_bad_csv(const char *name, const char *text, const char *where)
{
    char path[400], out[4096];
    write_file(scratch_path(path, sizeof(path), name), text);
    int rc = cli(out, sizeof(out), "cpv import -c '%s' '%s'", conf, path);
    cr_expect_neq(rc, 0, "%s must be rejected: %s", name, out);
    cr_expect(strstr(out, where) != NULL, "%s: want '%s' in: %s", name, where, out);
}

Test(cli_db, cpv_import_bad_csv_changes_nothing)
{
    migrate_ok();
    import_small();
    /* Valid new codes before the bad line must not be imported either. */
    expect_bad_csv("badcode.csv",
                   "code,description\n55000000,Hotel services\n09100000,Changed\n1234567,Short\n",
                   "badcode.csv:4:");
    expect_bad_csv("unterminated.csv",
                   "code,description\n55000000,Hotel services\n60000000,\"Transport\n", ":3:");
    expect_bad_csv("stray_quote.csv", "code,description\n55000000,Hotel \"services\"\n", ":2:");
    expect_bad_csv("fields.csv", "code,description\n55000000,Hotel,services\n", ":2:");
    expect_bad_csv("dup.csv", "code,description\n55000000,a\n55000000-7,b\n", ":3:");
    expect_bad_csv("header.csv", "55000000,Hotel services\n", ":1:");
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(*) FROM tenderpool.cpv_code"), 4);
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(*) FROM tenderpool.cpv_code"
                                     " WHERE code IN ('55000000', '60000000')"),
                 0);
    assert_value("SELECT label FROM tenderpool.cpv_code WHERE code = '09100000'", "Fuels");
}

/* $TENDERPOOL_REFDATA/data/cpv2008.csv, else the default beside the clone; NULL if neither. */
static const char *reference_cpv(char *buf, size_t len)
{
    const char *env = getenv("TENDERPOOL_REFDATA");
    if (env != NULL && *env != '\0') {
        snprintf(buf, len, "%s/data/cpv2008.csv", env);
        if (access(buf, R_OK) == 0)
            return buf;
    }
    snprintf(buf, len, "%s", TP_REFDATA_DEFAULT "/data/cpv2008.csv");
    return access(buf, R_OK) == 0 ? buf : NULL;
}

Test(cli_db, cpv_import_reference_file)
{
    char path[1024], out[4096];
    if (reference_cpv(path, sizeof(path)) == NULL)
        cr_skip_test("reference data not found: set TENDERPOOL_REFDATA");
    migrate_ok();
    int rc = cli(out, sizeof(out), "cpv import -c '%s' '%s'", conf, path);
    cr_assert_eq(rc, 0, "cpv import %s (%d): %s", path, rc, out);
    cr_assert(strstr(out, "imported 9455 CPV codes") != NULL, "%s", out);
    cr_assert_eq(tp_test_pg_long(pg, "SELECT count(*) FROM tenderpool.cpv_code"), 9455);
    assert_value("SELECT label FROM tenderpool.cpv_code WHERE code = '03000000'",
                 "Agricultural, farming, fishing, forestry and related products");
}
