/* Supervisor <-> worker message checks and the (member, request_ref) -> worker routing hash. */
#include <string.h>

#include "tp_ipc.h"
#include "tp_mem.h"

uint32_t tp_route_worker_n(const char *member_id, size_t mlen, const char *request_ref, size_t rlen,
                           uint32_t nworkers)
{
    static const char nul = '\0';
    if (nworkers <= 1)
        return 0;
    uint64_t h = tp_fnv1a(TP_FNV_INIT, member_id, mlen);
    h = tp_fnv1a(h, &nul, 1);
    h = tp_fnv1a(h, request_ref, rlen);
    h ^= h >> 33; /* FNV's low bits mix poorly: fold the high half in */
    return (uint32_t)(h % nworkers);
}

uint32_t tp_route_worker(const char *member_id, const char *request_ref, uint32_t nworkers)
{
    return tp_route_worker_n(member_id, strlen(member_id), request_ref, strlen(request_ref),
                             nworkers);
}

const char *const tp_ipc_code_names[TP_IPC_NCODES] = {
    "MALFORMED",       "UNAUTHENTICATED", "MEMBER_MISMATCH", "INVALID_FIELD",
    "UNKNOWN_UNIT",    "UNKNOWN_CPV",     "UNKNOWN_REQUEST", "ROUND_CLOSED",
    "BATCH_TOO_LARGE", "DB_UNAVAILABLE",  "OVERLOADED",      "RATE_LIMITED",
};

const int64_t tp_ipc_lat_bounds_us[TP_IPC_NLAT] = {1000,  2000,   5000,   10000,  20000,
                                                   50000, 100000, 200000, 500000, 1000000};

void tp_ipc_counts_ack(tp_ipc_counts_t *c, int status, const char *code, uint64_t n)
{
    if (status >= 0 && status < TP_IPC_NSTATUS)
        c->status[status] += n;
    if (code == NULL || code[0] == '\0')
        return;
    for (int i = 0; i < TP_IPC_NCODES; i++)
        if (strcmp(code, tp_ipc_code_names[i]) == 0) {
            c->code[i] += n;
            return;
        }
}

void tp_ipc_counts_commit(tp_ipc_counts_t *c, int64_t us)
{
    int i = 0;
    while (i < TP_IPC_NLAT && us > tp_ipc_lat_bounds_us[i])
        i++;
    c->commits++;
    c->commit_in[i]++;
    c->commit_us += us > 0 ? (uint64_t)us : 0;
}

void tp_ipc_counts_add(tp_ipc_counts_t *dst, const tp_ipc_counts_t *src)
{
    for (int i = 0; i < TP_IPC_NSTATUS; i++)
        dst->status[i] += src->status[i];
    for (int i = 0; i < TP_IPC_NCODES; i++)
        dst->code[i] += src->code[i];
    for (int i = 0; i <= TP_IPC_NLAT; i++)
        dst->commit_in[i] += src->commit_in[i];
    dst->commits += src->commits;
    dst->commit_us += src->commit_us;
}

int tp_ipc_hdr_check(const void *data, size_t len, tp_ipc_hdr_t *out, uint32_t **idx)
{
    if (len < sizeof(*out))
        return -1;
    memcpy(out, data, sizeof(*out));
    if (out->magic != TP_IPC_MAGIC || out->type < TP_IPC_BATCH || out->type > TP_IPC_TYPE_MAX)
        return -1;
    if (out->nidx > (len - sizeof(*out)) / sizeof(uint32_t) ||
        len != sizeof(*out) + out->nidx * sizeof(uint32_t))
        return -1;
    out->auth_member[sizeof(out->auth_member) - 1] = '\0';
    if (idx) { /* frames carry no alignment guarantee: copy the indices out */
        *idx = xmalloc(out->nidx * sizeof(uint32_t) + 1);
        memcpy(*idx, (const char *)data + sizeof(*out), out->nidx * sizeof(uint32_t));
    }
    return 0;
}

int tp_ipc_close_read(const void *data, size_t len, tp_ipc_close_t *out, const void **tail,
                      size_t *tail_len)
{
    if (data == NULL || len < sizeof(*out) || (tail == NULL && len != sizeof(*out)))
        return -1;
    if (tail) {
        *tail = (const char *)data + sizeof(*out);
        *tail_len = len - sizeof(*out);
    }
    memcpy(out, data, sizeof(*out));
    out->round[sizeof(out->round) - 1] = '\0';
    out->next[sizeof(out->next) - 1] = '\0';
    out->error[sizeof(out->error) - 1] = '\0';
    return 0;
}
