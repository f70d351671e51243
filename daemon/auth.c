/* CURVE on the intake: the server key, the ZAP handler (RFC 27), the active members' keys. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <zmq.h>

#include "tp_cert.h"
#include "tp_log.h"
#include "tp_mem.h"
#include "tp_pg.h"
#include "tp_supervisor.h"

/* Debian's zmq.h keeps this behind ZMQ_BUILD_DRAFT_API although libzmq 4.3 accepts it:
 * without it, a missing or dead ZAP handler lets every client in. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#define TP_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define TP_ZAP_DOMAIN "tenderpool"
#define TP_AUTH_RELOAD_MS 5000 /* backstop to NOTIFY: revocations apply within 5 s */

typedef struct tp_member_key {
    char key[TP_Z85_KEY_LEN + 1];
    char member[72];
} tp_member_key_t;

struct tp_auth {
    void *zap;
    PGconn *pg;
    char dsn[1024];
    tp_member_key_t *keys; /* sorted by key */
    size_t nkeys;
    int64_t next_reload_ms;
    uint64_t admitted, refused;
};

static int key_cmp(const void *a, const void *b)
{
    return strcmp(((const tp_member_key_t *)a)->key, ((const tp_member_key_t *)b)->key);
}

/* Load the active members' keys; on any failure the previous table stays. */
static void load_keys(tp_auth_t *a)
{
    char err[512];
    a->next_reload_ms = tp_sup_now_ms() + TP_AUTH_RELOAD_MS;
    if (a->pg == NULL || PQstatus(a->pg) != CONNECTION_OK) {
        if (a->pg)
            PQfinish(a->pg);
        a->pg = tp_pg_connect(a->dsn, err, sizeof(err));
        if (a->pg == NULL || tp_pg_exec(a->pg, "listen", err, sizeof(err),
                                        "LISTEN tenderpool_member_changed", 0, NULL) < 0) {
            tp_warn("member keys: %s (keeping %zu known keys; retrying)", err, a->nkeys);
            if (a->pg)
                PQfinish(a->pg);
            a->pg = NULL;
            return;
        }
    }
    PGresult *r = tp_pg_query(a->pg, "member keys", err, sizeof(err),
                              "SELECT public_key, member_id FROM tenderpool.member "
                              "WHERE status = 'active'",
                              0, NULL);
    if (r == NULL) {
        tp_warn("member keys: %s (keeping %zu known keys)", err, a->nkeys);
        return;
    }
    size_t n = (size_t)PQntuples(r);
    tp_member_key_t *keys = xcalloc(n ? n : 1, sizeof(*keys));
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i].key, sizeof(keys[i].key), "%s", PQgetvalue(r, (int)i, 0));
        snprintf(keys[i].member, sizeof(keys[i].member), "%s", PQgetvalue(r, (int)i, 1));
    }
    PQclear(r);
    qsort(keys, n, sizeof(*keys), key_cmp);
    if (n != a->nkeys)
        tp_info("member keys: %zu active members", n);
    free(a->keys);
    a->keys = keys;
    a->nkeys = n;
}

int tp_auth_setup(tp_supervisor_t *s, void *intake)
{
    if (s->cfg.security_mode != TP_SECURITY_CURVE)
        return 0;
    char err[600];
    tp_cert_t cert;
    if (s->cfg.secret_key_file[0] == '\0') {
        tp_err("[security] mode = curve needs secret_key_file (tenderpool keygen PATH writes "
               "one)");
        return -1;
    }
    if (tp_cert_read(s->cfg.secret_key_file, &cert, true, err, sizeof(err)) < 0) {
        tp_err("[security] secret_key_file: %s", err);
        return -1;
    }
    tp_auth_t *a = xcalloc(1, sizeof(*a));
    s->auth = a;
    snprintf(a->dsn, sizeof(a->dsn), "%s", s->cfg.dsn);
    /* the ZAP handler must be bound before the intake accepts anything */
    a->zap = zmq_socket(s->zctx, ZMQ_REP);
    int zero = 0, one = 1, enforce = 0;
    size_t len = sizeof(enforce);
    zmq_setsockopt(a->zap, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_bind(a->zap, TP_ZAP_ENDPOINT) < 0) {
        tp_err("cannot bind the ZAP handler: %s", zmq_strerror(errno));
        return -1;
    }
    if (zmq_setsockopt(intake, ZMQ_CURVE_SERVER, &one, sizeof(one)) < 0 ||
        zmq_setsockopt(intake, ZMQ_CURVE_SECRETKEY, cert.secret_key, TP_Z85_KEY_LEN) < 0 ||
        zmq_setsockopt(intake, ZMQ_ZAP_DOMAIN, TP_ZAP_DOMAIN, strlen(TP_ZAP_DOMAIN)) < 0 ||
        zmq_setsockopt(intake, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof(one)) < 0 ||
        zmq_getsockopt(intake, ZMQ_ZAP_ENFORCE_DOMAIN, &enforce, &len) < 0 || enforce != 1) {
        tp_err("cannot make the intake a CURVE server with an enforced ZAP domain: %s",
               zmq_strerror(errno));
        return -1;
    }
    memset(&cert, 0, sizeof(cert));
    load_keys(a);
    if (a->pg == NULL)
        tp_warn("member keys not loaded yet: every member is refused until the database "
                "answers");
    return 0;
}

void tp_auth_close(tp_supervisor_t *s)
{
    tp_auth_t *a = s->auth;
    if (a == NULL)
        return;
    if (a->zap)
        zmq_close(a->zap);
    if (a->pg)
        PQfinish(a->pg);
    free(a->keys);
    free(a);
    s->auth = NULL;
}

void *tp_auth_zap_socket(const tp_supervisor_t *s)
{
    return s->auth ? s->auth->zap : NULL;
}

int tp_auth_db_fd(const tp_supervisor_t *s)
{
    return s->auth && s->auth->pg ? PQsocket(s->auth->pg) : -1;
}

static const tp_member_key_t *find_key(const tp_auth_t *a, const char *z85)
{
    tp_member_key_t k;
    snprintf(k.key, sizeof(k.key), "%s", z85);
    return a->nkeys ? bsearch(&k, a->keys, a->nkeys, sizeof(k), key_cmp) : NULL;
}

bool tp_auth_member_active(const tp_supervisor_t *s, const char *member)
{
    const tp_auth_t *a = s->auth;
    if (a == NULL)
        return true; /* mode none */
    for (size_t i = 0; i < a->nkeys; i++)
        if (strcmp(a->keys[i].member, member) == 0)
            return true;
    return false;
}

/* One ZAP request (RFC 27): version, request id, domain, address, identity, mechanism,
 * credentials; the reply: version, request id, status code, text, user id, metadata. */
void tp_auth_zap(tp_supervisor_t *s)
{
    tp_auth_t *a = s->auth;
    zmq_msg_t f[8];
    int n = 0, more = 1;
    while (more && n < 8) {
        zmq_msg_init(&f[n]);
        if (zmq_msg_recv(&f[n], a->zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&f[n]);
            break;
        }
        more = zmq_msg_more(&f[n]);
        n++;
    }
    while (more) { /* more frames than RFC 27 has: drain */
        zmq_msg_t x;
        zmq_msg_init(&x);
        if (zmq_msg_recv(&x, a->zap, 0) < 0)
            break;
        more = zmq_msg_more(&x);
        zmq_msg_close(&x);
    }
    if (n == 0)
        return;
    const char *code = "400", *text = "no such key";
    const char *user = "";
    char z85[TP_Z85_KEY_LEN + 1] = "", addr[64] = "";
    if (n >= 7 && zmq_msg_size(&f[0]) == 3 && memcmp(zmq_msg_data(&f[0]), "1.0", 3) == 0 &&
        zmq_msg_size(&f[5]) == 5 && memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 &&
        zmq_msg_size(&f[6]) == 32) {
        zmq_z85_encode(z85, zmq_msg_data(&f[6]), 32);
        const tp_member_key_t *k = find_key(a, z85);
        if (k != NULL) {
            code = "200";
            text = "OK";
            user = k->member;
        }
        size_t al = zmq_msg_size(&f[3]) < sizeof(addr) - 1 ? zmq_msg_size(&f[3]) : sizeof(addr) - 1;
        memcpy(addr, zmq_msg_data(&f[3]), al);
        addr[al] = '\0';
    } else {
        text = "malformed ZAP request or mechanism other than CURVE";
    }
    if (code[0] == '2') {
        a->admitted++;
        tp_info("member %s connected from %s", user, addr);
    } else {
        a->refused++;
        tp_notice("connection from %s refused: %s%s%s", addr[0] ? addr : "?", text,
                  z85[0] ? ", key " : "", z85);
    }
    const void *reply[6] = {"1.0", n >= 2 ? zmq_msg_data(&f[1]) : "", code, text, user, ""};
    size_t rlen[6] = {3, n >= 2 ? zmq_msg_size(&f[1]) : 0, 3, strlen(text), strlen(user), 0};
    for (int i = 0; i < 6; i++)
        zmq_send(a->zap, reply[i], rlen[i], i < 5 ? ZMQ_SNDMORE : 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

void tp_auth_tick(tp_supervisor_t *s, bool db_readable)
{
    tp_auth_t *a = s->auth;
    if (a == NULL)
        return;
    bool changed = false;
    if (db_readable && a->pg) {
        PQconsumeInput(a->pg);
        PGnotify *nt;
        while ((nt = PQnotifies(a->pg)) != NULL) {
            changed = true;
            PQfreemem(nt);
        }
    }
    if (changed || tp_sup_now_ms() >= a->next_reload_ms)
        load_keys(a);
}
