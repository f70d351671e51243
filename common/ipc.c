/* Supervisor <-> worker message checks and the (member, request_ref) -> worker routing hash. */
#include <string.h>

#include "tp_ipc.h"
#include "tp_mem.h"

uint64_t tp_fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint32_t tp_route_worker(const char *member_id, const char *request_ref, uint32_t nworkers)
{
    if (nworkers <= 1)
        return 0;
    uint64_t h = tp_fnv1a(TP_FNV_INIT, member_id, strlen(member_id) + 1);
    h = tp_fnv1a(h, request_ref, strlen(request_ref));
    h ^= h >> 33; /* FNV's low bits mix poorly: fold the high half in */
    return (uint32_t)(h % nworkers);
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
