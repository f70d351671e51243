/* Supervisor <-> worker messages over ipc:// ZeroMQ: one enum of types, validated on receipt. */
#ifndef TP_IPC_H
#define TP_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The supervisor binds a ROUTER; worker i connects a DEALER with routing id "w<i>".
 * Every message is [header][payload] (the ROUTER adds the routing id frame):
 *   BATCH        sup->worker  payload: the client's ClientMessage frame, untouched;
 *                             after the header: nidx uint32 item indices this worker owns
 *   BATCH_ACKS   worker->sup  payload: whole ServerMessage (flag WHOLE) or a BatchAck whose
 *                             acks match the indices of the BATCH in order
 *   STATUS       sup->worker  payload: the client's ClientMessage (a StatusQuery)
 *   STATUS_REPLY worker->sup  payload: a ServerMessage to forward to the client
 *   HELLO        worker->sup  no payload: the worker is connected and ready
 *   HEARTBEAT    worker->sup  no payload
 * Closing a round (a barrier across workers; worker 0 owns the round lifecycle):
 *   CONTROL      sup->w0      payload: command text from the control socket ("close-current")
 *   CLOSE_BEGIN  w0->sup->all payload tp_ipc_close_t: stop assigning to `round`, use `next`
 *   CLOSE_READY  worker->sup  payload tp_ipc_close_t: nothing of `round` is uncommitted here;
 *                             with `partial` set, followed by the worker's partial aggregates
 *                             of `round`: [u32 length][tp_pool_agg_pack bytes] per lot
 *   CLOSE_COMMIT sup->w0      payload tp_ipc_close_t: every worker is ready: commit the lots;
 *                             `partial` set when every worker sent partials, followed by
 *                             [u32 length][a worker's READY tail] per worker
 *   CONTROL_REPLY w0->sup     payload: reply text for the waiting control client; with
 *                             TP_IPC_F_RELOAD the supervisor then sends RELOAD to every worker
 *   RELOAD       sup->worker  no payload: reload the request state from the database (after
 *                             an operator change such as a withdrawn lot)
 *   HEARTBEAT payload (optional): tp_ipc_beat_t, the worker's figures for `tenderpool status`
 *                             and its cumulative counters for the metrics
 *   CLOSE_DONE   w0->sup->all payload tp_ipc_close_t: committed (or failed: `error`); with
 *                             `partial` set, followed by the 12-byte lot hashes of the viable
 *                             lots: workers move their requests on in memory, else reload */
typedef enum tp_ipc_type {
    TP_IPC_BATCH = 1,
    TP_IPC_BATCH_ACKS = 2,
    TP_IPC_STATUS = 3,
    TP_IPC_STATUS_REPLY = 4,
    TP_IPC_HELLO = 5,
    TP_IPC_HEARTBEAT = 6,
    TP_IPC_CONTROL = 7,
    TP_IPC_CLOSE_BEGIN = 8,
    TP_IPC_CLOSE_READY = 9,
    TP_IPC_CLOSE_COMMIT = 10,
    TP_IPC_CLOSE_DONE = 11,
    TP_IPC_CONTROL_REPLY = 12,
    TP_IPC_RELOAD = 13,
} tp_ipc_type_t;

#define TP_IPC_TYPE_MAX TP_IPC_RELOAD

/* Counters for the metrics, cumulative over one process's life: acks by status and by error
 * code, successful group commits and their duration. Workers send theirs with each HEARTBEAT;
 * the supervisor keeps its own (the acks it decides) and the sum of its dead workers'. */
#define TP_IPC_NSTATUS 6 /* tenderpool.v1.Status values 0..5 (UNSPECIFIED .. RETRY_LATER) */
#define TP_IPC_NCODES 12 /* the error codes of SPEC section 3: tp_ipc_code_names */
#define TP_IPC_NLAT 10   /* commit duration buckets: tp_ipc_lat_bounds_us */

typedef struct tp_ipc_counts {
    uint64_t status[TP_IPC_NSTATUS]; /* acks by Status */
    uint64_t code[TP_IPC_NCODES];    /* acks by error code */
    uint64_t commits;                /* group commits that succeeded */
    uint64_t commit_us;              /* their total duration, microseconds */
    /* the same commits per duration bucket, not cumulative: commit_in[i] took at most bound i
     * and more than bound i-1; the last one more than the largest bound */
    uint64_t commit_in[TP_IPC_NLAT + 1];
} tp_ipc_counts_t;

extern const char *const tp_ipc_code_names[TP_IPC_NCODES];
extern const int64_t tp_ipc_lat_bounds_us[TP_IPC_NLAT];

/* Count n acks of status (a Tenderpool__V1__Status) with code ("" or NULL: none; a code outside
 * the list is counted by status only). */
void tp_ipc_counts_ack(tp_ipc_counts_t *c, int status, const char *code, uint64_t n);
/* Count one group commit that took us microseconds. */
void tp_ipc_counts_commit(tp_ipc_counts_t *c, int64_t us);
/* dst += src, field by field. */
void tp_ipc_counts_add(tp_ipc_counts_t *dst, const tp_ipc_counts_t *src);

/* A worker's figures, sent with each HEARTBEAT. */
typedef struct tp_ipc_beat {
    uint64_t requests; /* requests in its index (every state) */
    uint64_t open;     /* open or carried-over requests pooled in memory */
    uint64_t lots;     /* aggregates (open lots) in memory */
    uint64_t accepted; /* revisions accepted since it started */
    uint64_t commits;  /* group commits since it started */
    uint64_t db_up;    /* 1 while its database connection is up */
    tp_ipc_counts_t counts;
} tp_ipc_beat_t;

/* The round being closed and the one that follows it. */
typedef struct tp_ipc_close {
    char round[48];
    char next[48];
    int64_t next_opens;  /* unix seconds */
    int64_t next_closes; /* unix seconds */
    int32_t lots;        /* CLOSE_DONE: lots written (-1 on failure) */
    int32_t viable;      /* CLOSE_DONE: viable lots */
    int64_t took_ms;     /* CLOSE_DONE: from CLOSE_BEGIN to commit */
    char error[256];     /* CLOSE_DONE: why it failed; "" on success */
    int32_t partial;     /* READY/COMMIT/DONE: in-memory aggregates follow (see above) */
    int32_t min_members; /* COMMIT/DONE: [pooling] settings the close used */
    int32_t max_carry_over;
} tp_ipc_close_t;

/* Copy a close payload out of a frame (unaligned); *tail and *tail_len receive what follows the
 * struct (may be NULL when the caller expects nothing). 0 or -1 when the frame is short. */
int tp_ipc_close_read(const void *data, size_t len, tp_ipc_close_t *out, const void **tail,
                      size_t *tail_len) __attribute__((warn_unused_result));

#define TP_IPC_MAGIC 0x54504331u /* "TPC1": both ends of one build */
#define TP_IPC_F_WHOLE 0x1u      /* the worker owns every item: reply is a full ServerMessage */
#define TP_IPC_F_RELOAD 0x2u     /* CONTROL_REPLY: every worker must reload its state */

typedef struct tp_ipc_hdr {
    uint32_t magic;
    uint32_t type;
    uint64_t token; /* supervisor's pending-request token, echoed back */
    uint32_t flags;
    uint32_t nidx;        /* BATCH: number of uint32 indices that follow the header */
    uint32_t worker;      /* HELLO/HEARTBEAT: worker index */
    uint32_t pid;         /* HELLO: worker pid */
    char auth_member[72]; /* curve mode: authenticated member id; "" in mode none */
} tp_ipc_hdr_t;

/* Check a received header frame: magic, known type, size consistent with nidx.
 * Returns 0 or -1. With idx non-NULL, *idx receives a malloc'd copy of the indices
 * (the caller frees it). */
int tp_ipc_hdr_check(const void *data, size_t len, tp_ipc_hdr_t *out, uint32_t **idx)
    __attribute__((warn_unused_result));

/* Which worker owns (member, request_ref): stable across processes and restarts. */
uint32_t tp_route_worker(const char *member_id, const char *request_ref, uint32_t nworkers);
/* The same from counted bytes (no NUL inside: a decoded string ends at its first NUL). */
uint32_t tp_route_worker_n(const char *member_id, size_t mlen, const char *request_ref, size_t rlen,
                           uint32_t nworkers);

/* 64-bit FNV-1a over bytes, continuing from h (start with TP_FNV_INIT). Inline: the hot
 * paths hash short fields and single separator bytes. Stored values (content_hash) depend on
 * it: never change the function. */
#define TP_FNV_INIT 0xcbf29ce484222325ULL
#define TP_FNV_PRIME 0x100000001b3ULL
static inline uint64_t tp_fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i = 0;
    for (; i + 4 <= len; i += 4) { /* unrolled: the same steps, less loop overhead */
        h = (h ^ p[i]) * TP_FNV_PRIME;
        h = (h ^ p[i + 1]) * TP_FNV_PRIME;
        h = (h ^ p[i + 2]) * TP_FNV_PRIME;
        h = (h ^ p[i + 3]) * TP_FNV_PRIME;
    }
    for (; i < len; i++)
        h = (h ^ p[i]) * TP_FNV_PRIME;
    return h;
}

#endif
