/* StatusQuery: a member asks about its own requests; answered from committed rows only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_log.h"
#include "tp_mem.h"
#include "tp_pg.h"
#include "tp_wire.h"
#include "tp_worker.h"

#define TP_STATUS_MAX_REFS 1000

/* A lot's member count and total are told only when it has at least 3 members (SPEC 4): with
 * two, each member could deduce the other's quantity from the total. */
/* An awarded request also learns its own allocation and the awarded unit price (both in the
 * lot's base unit, which is told whenever the request is in a lot). */
#define TP_STATUS_SELECT(positions)                                                                \
    "SELECT q.request_ref, q.revision, q.state, q.round_id, coalesce(q.lot_id, ''), "              \
    "coalesce(l.member_count, 0), coalesce(trim_scale(l.total_quantity)::text, ''), "              \
    "coalesce(u.base_unit, ''), coalesce(trim_scale(al.quantity)::text, ''), "                     \
    "coalesce(trim_scale(aw.unit_price)::text, '') FROM " positions " q "                          \
    "LEFT JOIN tenderpool.lot l ON l.lot_id = q.lot_id AND l.member_count >= 3 "                   \
    "LEFT JOIN tenderpool.lot u ON u.lot_id = q.lot_id "                                           \
    "LEFT JOIN tenderpool.award aw ON aw.lot_id = q.lot_id "                                       \
    "LEFT JOIN tenderpool.allocation al ON al.lot_id = q.lot_id AND al.member_id = q.member_id "   \
    "AND al.request_ref = q.request_ref "

typedef struct tp_state_name {
    const char *name;
    Tenderpool__V1__RequestState state;
} tp_state_name_t;

static const tp_state_name_t tp_states[] = {
    {"open", TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_OPEN},
    {"pooled", TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_POOLED},
    {"carried_over", TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_CARRIED_OVER},
    {"unpooled", TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_UNPOOLED},
    {"cancelled", TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_CANCELLED},
    {"awarded", TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_AWARDED},
};

static Tenderpool__V1__RequestState state_of(const char *name)
{
    for (size_t i = 0; i < sizeof(tp_states) / sizeof(tp_states[0]); i++)
        if (strcmp(tp_states[i].name, name) == 0)
            return tp_states[i].state;
    return TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_UNKNOWN;
}

static void send_reply(tp_worker_t *w, uint64_t token, Tenderpool__V1__StatusReply *sr)
{
    Tenderpool__V1__ServerMessage sm = TENDERPOOL__V1__SERVER_MESSAGE__INIT;
    sm.kind_case = TENDERPOOL__V1__SERVER_MESSAGE__KIND_STATUS;
    sm.status = sr;
    size_t len = tenderpool__v1__server_message__get_packed_size(&sm);
    uint8_t *buf = xmalloc(len);
    tenderpool__v1__server_message__pack(&sm, buf);
    tp_worker_send(w, TP_IPC_STATUS_REPLY, token, 0, buf, len);
    free(buf);
}

static void refuse(tp_worker_t *w, uint64_t token, uint64_t query_id, const char *code,
                   const char *detail)
{
    Tenderpool__V1__StatusReply sr = TENDERPOOL__V1__STATUS_REPLY__INIT;
    sr.query_id = query_id;
    sr.error_code = (char *)code;
    sr.detail = (char *)detail;
    send_reply(w, token, &sr);
}

/* Text array literal of refs already checked against [A-Za-z0-9._:/-]. */
static char *refs_array(const Tenderpool__V1__StatusQuery *q)
{
    size_t len = 3;
    for (size_t i = 0; i < q->n_request_refs; i++)
        len += strlen(q->request_refs[i]) + 3;
    char *s = xmalloc(len), *p = s;
    *p++ = '{';
    for (size_t i = 0; i < q->n_request_refs; i++) {
        if (!tp_valid_request_ref(q->request_refs[i]))
            continue;
        p += sprintf(p, "%s\"%s\"", p[-1] == '{' ? "" : ",", q->request_refs[i]);
    }
    *p++ = '}';
    *p = '\0';
    return s;
}

/* All the member's requests positioned in a round; the member's given refs (index lookups). */
#define TP_STATUS_BY_ROUND                                                                         \
    TP_STATUS_SELECT("tenderpool.request_position_of($1)")                                         \
    "WHERE q.member_id = $1 AND q.round_id = $2 ORDER BY q.request_ref"
#define TP_STATUS_BY_REFS                                                                          \
    TP_STATUS_SELECT("tenderpool.request_position_of($1, NULL, $2::text[])")                       \
    "WHERE q.member_id = $1 ORDER BY q.request_ref"

static PGresult *run_query(tp_worker_t *w, const char *member, const Tenderpool__V1__StatusQuery *q,
                           char *err, size_t errlen)
{
    if (q->n_request_refs == 0) {
        const char *params[] = {member, q->round_id};
        return tp_pg_query(w->store.qconn, "status query", err, errlen, TP_STATUS_BY_ROUND, 2,
                           params);
    }
    char *arr = refs_array(q);
    const char *params[] = {member, arr};
    PGresult *r =
        tp_pg_query(w->store.qconn, "status query", err, errlen, TP_STATUS_BY_REFS, 2, params);
    free(arr);
    return r;
}

static bool valid_round_id(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n < TP_ROUND_ID_MAX &&
           strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz:.-") == n;
}

static const char *member_of(tp_worker_t *w, const tp_ipc_hdr_t *hdr,
                             const Tenderpool__V1__StatusQuery *q, const char **why)
{
    if (hdr->auth_member[0]) {
        if (q->member_id[0] && strcmp(q->member_id, hdr->auth_member) != 0) {
            *why = "MEMBER_MISMATCH";
            return NULL;
        }
        return hdr->auth_member;
    }
    if (!tp_valid_member_id(q->member_id)) {
        *why = "INVALID_FIELD";
        return NULL;
    }
    return q->member_id;
}

static void answer(tp_worker_t *w, uint64_t token, const Tenderpool__V1__StatusQuery *q,
                   PGresult *r)
{
    size_t n = q->n_request_refs ? q->n_request_refs : (size_t)PQntuples(r);
    Tenderpool__V1__RequestStatus *st = xcalloc(n ? n : 1, sizeof(*st));
    Tenderpool__V1__RequestStatus **stp = xcalloc(n ? n : 1, sizeof(*stp));
    for (size_t i = 0; i < n; i++) {
        tenderpool__v1__request_status__init(&st[i]);
        stp[i] = &st[i];
        const char *ref = q->n_request_refs ? q->request_refs[i] : PQgetvalue(r, (int)i, 0);
        st[i].request_ref = (char *)(tp_valid_utf8(ref, strlen(ref)) ? ref : "");
        st[i].state = TENDERPOOL__V1__REQUEST_STATE__REQUEST_STATE_UNKNOWN;
        for (int row = q->n_request_refs ? 0 : (int)i; row < PQntuples(r); row++) {
            if (strcmp(PQgetvalue(r, row, 0), ref) != 0) {
                if (!q->n_request_refs)
                    break;
                continue;
            }
            st[i].revision = (uint32_t)strtoul(PQgetvalue(r, row, 1), NULL, 10);
            st[i].state = state_of(PQgetvalue(r, row, 2));
            st[i].round_id = PQgetvalue(r, row, 3);
            st[i].lot_id = PQgetvalue(r, row, 4);
            st[i].lot_member_count = (uint32_t)strtoul(PQgetvalue(r, row, 5), NULL, 10);
            st[i].lot_total_quantity = PQgetvalue(r, row, 6);
            st[i].lot_unit = PQgetvalue(r, row, 7);
            st[i].allocated_quantity = PQgetvalue(r, row, 8);
            st[i].awarded_unit_price = PQgetvalue(r, row, 9);
            break;
        }
    }
    Tenderpool__V1__StatusReply sr = TENDERPOOL__V1__STATUS_REPLY__INIT;
    sr.query_id = q->query_id;
    sr.n_requests = n;
    sr.requests = stp;
    send_reply(w, token, &sr);
    free(st);
    free(stp);
}

void tp_worker_handle_status(tp_worker_t *w, const tp_ipc_hdr_t *hdr, const void *payload,
                             size_t len)
{
    Tenderpool__V1__ClientMessage *m = tenderpool__v1__client_message__unpack(NULL, len, payload);
    if (m == NULL || m->kind_case != TENDERPOOL__V1__CLIENT_MESSAGE__KIND_STATUS) {
        refuse(w, hdr->token, 0, "MALFORMED", "undecodable status query");
        goto out;
    }
    const Tenderpool__V1__StatusQuery *q = m->status;
    const char *why = NULL, *member = member_of(w, hdr, q, &why), *nul = NULL;
    char err[512];
    if (tp_wire_nul_fields(payload, len, NULL, 0, &nul) < 0) /* never when decodable (fuzzed) */
        refuse(w, hdr->token, q->query_id, "MALFORMED", "undecodable status query");
    else if (nul != NULL) {
        snprintf(err, sizeof(err), "%s: contains a NUL byte", nul);
        refuse(w, hdr->token, q->query_id, "INVALID_FIELD", err);
    } else if (member == NULL) {
        refuse(w, hdr->token, q->query_id, why,
               strcmp(why, "MEMBER_MISMATCH") == 0
                   ? "member_id: differs from the authenticated member"
                   : "member_id: required, 1-64 chars of [A-Za-z0-9._-]");
    } else if (q->n_request_refs == 0 && q->round_id[0] == '\0') {
        refuse(w, hdr->token, q->query_id, "INVALID_FIELD",
               "request_refs: give refs, or a round_id for all own requests of that round");
    } else if (q->n_request_refs == 0 && !valid_round_id(q->round_id)) {
        refuse(w, hdr->token, q->query_id, "INVALID_FIELD",
               "round_id: 1-40 chars of [A-Za-z0-9:.-]");
    } else if (q->n_request_refs > TP_STATUS_MAX_REFS) {
        refuse(w, hdr->token, q->query_id, "BATCH_TOO_LARGE",
               "request_refs: at most 1000 refs per query");
    } else if (!tp_store_up(&w->store)) {
        refuse(w, hdr->token, q->query_id, "DB_UNAVAILABLE", "database unavailable; retry later");
    } else {
        PGresult *r = run_query(w, member, q, err, sizeof(err));
        if (r == NULL) {
            tp_warn("member %s: %s", member, err);
            refuse(w, hdr->token, q->query_id, "DB_UNAVAILABLE",
                   "database unavailable; retry later");
            if (tp_store_broken(&w->store))
                tp_worker_db_down(w);
        } else {
            answer(w, hdr->token, q, r);
            PQclear(r);
        }
    }
out:
    if (m)
        tenderpool__v1__client_message__free_unpacked(m, NULL);
}
