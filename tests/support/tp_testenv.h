/* Test support: reference data, the throwaway PostgreSQL, and the real daemon for integration
 * tests. */
#ifndef TP_TESTENV_H
#define TP_TESTENV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <libpq-fe.h>

/* Directory holding data/cpv2008.csv etc.: $TENDERPOOL_REFDATA, else ../shared beside the
 * clone. NULL (and a plain message on stderr) when neither exists. */
const char *tp_test_refdata_dir(void);

/* DSN of the test database: $TENDERPOOL_TEST_DSN, else the pgtmp fixture's. Never NULL
 * (aborts the test with a clear message when no server was started). */
const char *tp_test_dsn(void);

/* Connect to the test database (fails the test on error). */
PGconn *tp_test_pg(void);
/* Run SQL and return the first column of the first row as a malloc'd string (NULL if no row). */
char *tp_test_pg_value(PGconn *c, const char *sql);
long tp_test_pg_long(PGconn *c, const char *sql);
void tp_test_pg_exec(PGconn *c, const char *sql);

/* Drop and recreate schema tenderpool through `tenderpool migrate`. */
void tp_test_reset_db(void);

typedef struct tp_test_daemon {
    pid_t pid;
    char dir[256];     /* scratch dir holding the config, runtime dir, log */
    char conf[300];    /* config file path */
    char endpoint[64]; /* tcp://127.0.0.1:PORT */
    char control[300]; /* control endpoint */
    int port;
    int metrics_port; /* [metrics] listen = 127.0.0.1:metrics_port */
} tp_test_daemon_t;

/* Write a config (security none, given workers/period, extra INI lines appended) and start
 * tenderpoold; waits until the intake answers. */
void tp_test_daemon_start(tp_test_daemon_t *d, int workers, const char *period, const char *extra);
/* Restart with the same config. */
void tp_test_daemon_restart(tp_test_daemon_t *d);
/* SIGTERM and wait; returns the exit status (as from waitpid). */
int tp_test_daemon_stop(tp_test_daemon_t *d);
/* Write the config file only (no start): used by CLI tests. */
void tp_test_write_config(tp_test_daemon_t *d, int workers, const char *period, const char *extra);

/* A suite's session: fresh schema, the daemon (2 workers, weekly rounds), a connected DEALER
 * and a database connection. Stop closes them and expects the daemon to exit 0 on SIGTERM. */
void tp_test_session_start(tp_test_daemon_t *d, void **zctx, void **sock, PGconn **db);
void tp_test_session_stop(tp_test_daemon_t *d, void **zctx, void **sock, PGconn **db);

/* Declares a suite's session (daemon_, zctx, sock, db) and the Criterion TestSuite NAME whose
 * init/fini start and stop it. */
#define TP_TEST_SESSION_SUITE(NAME, TIMEOUT)                                                       \
    static tp_test_daemon_t daemon_;                                                               \
    static void *zctx;                                                                             \
    static void *sock;                                                                             \
    static PGconn *db;                                                                             \
    static void NAME##_start(void)                                                                 \
    {                                                                                              \
        tp_test_session_start(&daemon_, &zctx, &sock, &db);                                        \
    }                                                                                              \
    static void NAME##_stop(void)                                                                  \
    {                                                                                              \
        tp_test_session_stop(&daemon_, &zctx, &sock, &db);                                         \
    }                                                                                              \
    TestSuite(NAME, .init = NAME##_start, .fini = NAME##_stop, .timeout = TIMEOUT)

/* Run a shell command; returns its exit code; output captured into out (may be NULL). */
int tp_test_run(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
