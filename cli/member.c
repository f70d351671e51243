/* tenderpool member: add, list, revoke, rotate-key; members' CURVE keys and SQL roles. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tp_cert.h"
#include "tp_cli.h"
#include "tp_output.h"
#include "tp_pg.h"

#define MEMBER_USAGE                                                                               \
    "usage: tenderpool member add NAME [--out DIR] [--sql-role] [--password P] -c FILE\n"          \
    "       tenderpool member list [--json] -c FILE\n"                                             \
    "       tenderpool member revoke NAME -c FILE\n"                                               \
    "       tenderpool member rotate-key NAME [--out DIR] -c FILE\n"                               \
    "  add/rotate-key write DIR/NAME.key, DIR/NAME.key_secret (0600) and DIR/server.key (the\n"    \
    "  server's public certificate, from [security] secret_key_file); DIR defaults to '.'\n"

static bool member_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/* The owner connection (member changes and roles are the operator's business). */
static PGconn *member_db(const tp_config_t *cfg)
{
    char err[1024];
    PGconn *pg = tp_pg_connect(cfg->owner_dsn[0] ? cfg->owner_dsn : cfg->dsn, err, sizeof(err));
    if (pg == NULL)
        fprintf(stderr, "tenderpool member: %s\n", err);
    return pg;
}

/* NAME.key, NAME.key_secret and server.key into dir. */
static int write_certs(const tp_config_t *cfg, const char *dir, const char *name,
                       const tp_cert_t *c)
{
    char path[4096], err[600];
    tp_cert_t server;
    if (cfg->secret_key_file[0] == '\0') {
        fprintf(stderr, "tenderpool member: [security] secret_key_file is not set: cannot write "
                        "server.key (tenderpool keygen PATH writes the server's pair)\n");
        return -1;
    }
    if (tp_cert_read(cfg->secret_key_file, &server, false, err, sizeof(err)) < 0) {
        fprintf(stderr, "tenderpool member: %s\n", err);
        return -1;
    }
    memset(server.secret_key, 0, sizeof(server.secret_key));
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/%s.key_secret", dir, name);
    if (tp_cert_write(path, c, true, err, sizeof(err)) < 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    if (tp_cert_write(path, c, false, err, sizeof(err)) < 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/server.key", dir);
    if (tp_cert_write(path, &server, false, err, sizeof(err)) < 0)
        goto fail;
    printf("wrote %s/%s.key, %s/%s.key_secret (mode 0600) and %s/server.key\n", dir, name, dir,
           name, dir);
    return 0;
fail:
    fprintf(stderr, "tenderpool member: %s\n", err);
    return -1;
}

/* A login role name for a member: "tpm_" + the name, lowercased, '.' and '-' as '_'. */
static void role_name(const char *member, char *out, size_t outlen)
{
    size_t k = (size_t)snprintf(out, outlen, "tpm_");
    for (const char *p = member; *p && k + 1 < outlen; p++)
        out[k++] = (*p == '.' || *p == '-') ? '_' : (char)tolower((unsigned char)*p);
    out[k] = '\0';
}

/* 32 random alphanumerics: a fresh CURVE secret key (libzmq's CSPRNG) with its Z85
 * punctuation replaced, so the password is safe in a shell and a conninfo string. */
static void random_password(char *out, size_t n)
{
    tp_cert_t tmp;
    if (tp_cert_generate(&tmp) < 0)
        tmp.secret_key[0] = '\0';
    for (char *p = tmp.secret_key; *p; p++)
        if (!isalnum((unsigned char)*p))
            *p = (char)('a' + (unsigned char)*p % 26);
    snprintf(out, n, "%.32s", tmp.secret_key);
    memset(&tmp, 0, sizeof(tmp));
}

static int member_add(const tp_config_t *cfg, const char *name, const char *dir, bool sql_role,
                      const char *password)
{
    tp_cert_t c;
    char err[1024];
    if (tp_cert_generate(&c) < 0) {
        fprintf(stderr, "tenderpool member: libzmq has no CURVE support\n");
        return 1;
    }
    PGconn *pg = member_db(cfg);
    if (pg == NULL)
        return 1;
    int rc = 1;
    const char *p[] = {name, c.public_key};
    if (tp_pg_exec(pg, "add member", err, sizeof(err),
                   "INSERT INTO tenderpool.member (member_id, public_key) VALUES ($1, $2)", 2,
                   p) < 0) {
        fprintf(stderr, "tenderpool member add: %s%s\n", err,
                strstr(err, "duplicate") ? " (the member exists: rotate-key replaces its key)"
                                         : "");
        goto out;
    }
    printf("member %s added, public key %s\n", name, c.public_key);
    if (sql_role) {
        char role[80], pw[64];
        role_name(name, role, sizeof(role));
        if (password == NULL) {
            random_password(pw, sizeof(pw));
            password = pw;
        }
        const char *rp[] = {name, role, password};
        if (tp_pg_exec(pg, "create member role", err, sizeof(err),
                       "SELECT tenderpool.create_member_role($1, $2, $3)", 3, rp) < 0) {
            fprintf(stderr,
                    "tenderpool member add: the member exists now, but its SQL role "
                    "could not be created: %s\n",
                    err);
            goto out;
        }
        printf("SQL login role %s created (sees only %s's rows); password: %s\n", role, name,
               password);
    }
    rc = write_certs(cfg, dir, name, &c) == 0 ? 0 : 1;
out:
    memset(&c, 0, sizeof(c));
    PQfinish(pg);
    return rc;
}

static int member_list(const tp_config_t *cfg, bool json)
{
    char err[1024];
    PGconn *pg = member_db(cfg);
    if (pg == NULL)
        return 1;
    PGresult *r = tp_pg_query(pg, "list members", err, sizeof(err),
                              "SELECT member_id, status, public_key, sql_role, created_at, "
                              "key_set_at, revoked_at FROM tenderpool.member ORDER BY member_id",
                              0, NULL);
    int rc = 1;
    if (r == NULL)
        fprintf(stderr, "tenderpool member list: %s\n", err);
    else
        rc = tp_out_rows(r, json, stdout) == 0 ? 0 : 1;
    PQclear(r);
    PQfinish(pg);
    return rc;
}

/* revoke (new_key NULL) or rotate-key: one UPDATE; the daemon hears it through NOTIFY. */
static int member_update(const tp_config_t *cfg, const char *name, const char *dir, bool revoke)
{
    tp_cert_t c;
    char err[1024];
    if (!revoke && tp_cert_generate(&c) < 0) {
        fprintf(stderr, "tenderpool member: libzmq has no CURVE support\n");
        return 1;
    }
    PGconn *pg = member_db(cfg);
    if (pg == NULL)
        return 1;
    const char *p[] = {name, revoke ? NULL : c.public_key};
    PGresult *r = tp_pg_query(
        pg, revoke ? "revoke member" : "rotate key", err, sizeof(err),
        revoke ? "UPDATE tenderpool.member SET status = 'revoked', revoked_at = now() "
                 "WHERE member_id = $1 AND status = 'active' RETURNING member_id, sql_role"
               : "UPDATE tenderpool.member SET public_key = $2, key_set_at = now() "
                 "WHERE member_id = $1 AND status = 'active' RETURNING member_id",
        revoke ? 1 : 2, p);
    int rc = 1;
    if (r == NULL) {
        fprintf(stderr, "tenderpool member: %s\n", err);
    } else if (PQntuples(r) == 0) {
        fprintf(stderr, "tenderpool member: no active member '%s'\n", name);
    } else if (revoke) {
        printf("member %s revoked: new connections are refused now, open ones within 5 s\n", name);
        rc = 0;
        if (!PQgetisnull(r, 0, 1)) { /* its SQL login goes too (it already sees nothing) */
            const char *rp[] = {PQgetvalue(r, 0, 1)};
            PGresult *q = tp_pg_query(pg, "role", err, sizeof(err),
                                      "SELECT format('ALTER ROLE %I NOLOGIN', $1::text)", 1, rp);
            if (q == NULL || tp_pg_exec(pg, "disable role", err, sizeof(err), PQgetvalue(q, 0, 0),
                                        0, NULL) < 0) {
                fprintf(stderr, "tenderpool member revoke: SQL role %s not disabled: %s\n", rp[0],
                        err);
                rc = 1;
            } else {
                printf("SQL login role %s disabled\n", rp[0]);
            }
            PQclear(q);
        }
    } else {
        printf("member %s has a new key %s; its old key is refused from now on\n", name,
               c.public_key);
        rc = write_certs(cfg, dir, name, &c) == 0 ? 0 : 1;
    }
    PQclear(r);
    PQfinish(pg);
    memset(&c, 0, sizeof(c));
    return rc;
}

int tp_cmd_member(int argc, char **argv)
{
    const char *out = NULL, *sql_role = NULL, *password = NULL, *json = NULL;
    tp_cli_opt_t opts[] = {
        {"--out", &out}, {"--sql-role", &sql_role}, {"--password", &password}, {"--json", &json}};
    tp_config_t cfg;
    if (argc < 2) {
        fputs(MEMBER_USAGE, stderr);
        return 2;
    }
    const char *sub = argv[1];
    bool needs_name = strcmp(sub, "list") != 0;
    int first_opt = needs_name ? 3 : 2; /* the first argument that may be an option */
    if (needs_name && (argc < 3 || !member_name_ok(argv[2]))) {
        fprintf(stderr,
                "tenderpool member %s: NAME (1-64 characters of [A-Za-z0-9._-]) is "
                "required\n",
                sub);
        fputs(MEMBER_USAGE, stderr);
        return 2;
    }
    if (tp_cli_parse_opts("member", argc - first_opt + 1, argv + first_opt - 1, opts, 4) < 0 ||
        tp_cli_load_config(argc, argv, &cfg) < 0) {
        fputs(MEMBER_USAGE, stderr);
        return 2;
    }
    if (strcmp(sub, "add") == 0)
        return member_add(&cfg, argv[2], out ? out : ".", sql_role != NULL, password);
    if (strcmp(sub, "list") == 0)
        return member_list(&cfg, json != NULL);
    if (strcmp(sub, "revoke") == 0)
        return member_update(&cfg, argv[2], NULL, true);
    if (strcmp(sub, "rotate-key") == 0)
        return member_update(&cfg, argv[2], out ? out : ".", false);
    fprintf(stderr,
            "tenderpool member: unknown command '%s' (known: add, list, revoke, "
            "rotate-key)\n",
            sub);
    return 2;
}
