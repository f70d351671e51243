/* libpq helpers shared by the workers and the CLI: connect, run, report errors with context. */
#ifndef TP_PG_H
#define TP_PG_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/* Connect; on failure returns NULL with the server's message in err. */
PGconn *tp_pg_connect(const char *dsn, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Run a statement (optionally with text params) that returns no rows, or rows the caller
 * ignores. Returns 0, or -1 with "what: SQLSTATE message" in err. */
int tp_pg_exec(PGconn *c, const char *what, char *err, size_t errlen, const char *sql, int nparams,
               const char *const *params) __attribute__((warn_unused_result));

/* Run a query; returns the result (PGRES_TUPLES_OK or COMMAND_OK) or NULL with err set. */
PGresult *tp_pg_query(PGconn *c, const char *what, char *err, size_t errlen, const char *sql,
                      int nparams, const char *const *params) __attribute__((warn_unused_result));

/* SQLSTATE of a failed result, "" when none. */
const char *tp_pg_sqlstate(const PGresult *r);

/* Format "what: SQLSTATE message" for a failed result into err (message trimmed). */
void tp_pg_error(const PGresult *r, PGconn *c, const char *what, char *err, size_t errlen);

#endif
