/* libpq helpers: every failure comes back as one line naming the step and the SQLSTATE. */
#include <stdio.h>
#include <string.h>

#include "tp_pg.h"

static void trim_newlines(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    for (char *p = s; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

PGconn *tp_pg_connect(const char *dsn, char *err, size_t errlen)
{
    PGconn *c = PQconnectdb(dsn);
    if (c == NULL) {
        snprintf(err, errlen, "cannot allocate a PostgreSQL connection");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(c));
        trim_newlines(err);
        PQfinish(c);
        return NULL;
    }
    return c;
}

const char *tp_pg_sqlstate(const PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

void tp_pg_error(const PGresult *r, PGconn *c, const char *what, char *err, size_t errlen)
{
    const char *msg = r ? PQresultErrorMessage(r) : "";
    if (msg == NULL || *msg == '\0')
        msg = PQerrorMessage(c);
    snprintf(err, errlen, "%s: %s%s%s", what, tp_pg_sqlstate(r), *tp_pg_sqlstate(r) ? " " : "",
             msg);
    trim_newlines(err);
}

PGresult *tp_pg_query(PGconn *c, const char *what, char *err, size_t errlen, const char *sql,
                      int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    tp_pg_error(r, c, what, err, errlen);
    PQclear(r);
    return NULL;
}

int tp_pg_exec(PGconn *c, const char *what, char *err, size_t errlen, const char *sql, int nparams,
               const char *const *params)
{
    PGresult *r = tp_pg_query(c, what, err, errlen, sql, nparams, params);
    if (r == NULL)
        return -1;
    PQclear(r);
    return 0;
}
