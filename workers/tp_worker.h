/* A worker process: validates its share of the intake, commits it in groups, acks after COMMIT. */
#ifndef TP_WORKER_H
#define TP_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "tenderpool/v1/tenderpool.pb-c.h"
#include "tp_arena.h"
#include "tp_calendar.h"
#include "tp_config.h"
#include "tp_cpv.h"
#include "tp_gather.h"
#include "tp_ipc.h"
#include "tp_lines.h"
#include "tp_pool.h"
#include "tp_reqindex.h"
#include "tp_store.h"
#include "tp_validate.h"

/* What a state-dependent item will be answered once its group commit ends. */
typedef enum tp_outcome {
    TP_OUT_WRITE = 1, /* a new revision: one row in the group commit */
    TP_OUT_DUPLICATE,
    TP_OUT_STALE,
    TP_OUT_UNKNOWN_REQUEST,
    TP_OUT_ROUND_CLOSED, /* amend/cancel of a request whose round closed */
    TP_OUT_HOLD,         /* amend/cancel of a request whose round is closing: resend */
} tp_outcome_t;

/* One IPC BATCH being answered: owns the decoded client message until the reply is sent. */
typedef struct tp_reply {
    uint64_t token;
    uint32_t flags;
    uint64_t batch_id;
    uint32_t n;       /* acks this worker owes */
    uint32_t pending; /* acks not decided yet */
    tp_arena_t arena; /* the decoded envelopes, all released with the reply */
    Tenderpool__V1__Ack *acks;
    Tenderpool__V1__Ack **ackp;
    char **details; /* owned detail strings (or NULL) per ack */
} tp_reply_t;

typedef struct tp_item {
    tp_reply_t *reply;
    uint32_t slot;
    tp_request_t req;
    tp_outcome_t outcome;
    uint32_t member;    /* interned */
    uint32_t ix_hash;   /* tp_reqindex_hash(member, req.request_ref) */
    uint64_t pool_hash; /* tp_pool_key_hash of its line's key, set by the prefetch after commit */
    tp_pool_key_t pool_key; /* that key, when pool_hash is set (borrows req's strings) */
    uint64_t content_hash;
    uint64_t server_seq;
    uint32_t round;
    /* undo record for TP_OUT_WRITE: the entry as it was before this item */
    uint64_t prev_seq, prev_hash;
    uint32_t prev_revision, prev_round;
    uint8_t prev_op;
    uint8_t prev_state;
} tp_item_t;

typedef struct tp_group {
    tp_item_t *items;
    size_t n, cap;
    size_t writes;
    int64_t first_us; /* when its first item arrived (tp_mono_us) */
    tp_copybuf_t buf;
} tp_group_t;

/* A group commit whose connection dropped before its result came: one of its rows (a group
 * commits whole or not at all) and the server process that ran it. */
typedef struct tp_doubt {
    bool set;
    int backend_pid;
    char *member_id, *request_ref; /* owned */
    uint32_t revision;
} tp_doubt_t;

typedef struct tp_worker {
    uint32_t index, count;
    char config_path[512];
    char sup_endpoint[512];
    tp_config_t cfg;
    tp_calendar_t cal;
    void *zctx;
    void *sup; /* DEALER to the supervisor */
    int sigfd;
    bool stopping;
    tp_store_t store;
    tp_reqindex_t *ix;
    tp_pool_t *pool;   /* running aggregates of the open requests it owns (pooling.c) */
    tp_lines_t lines;  /* their lines, for exact amend/cancel/carry */
    bool pool_inexact; /* a pool update failed: closes recompute from the database */
    tp_cpv_set_t *cpv;
    tp_group_t groups[2];
    int building;            /* index of the group being filled */
    bool committing;         /* groups[!building] is being committed */
    int64_t commit_ended_us; /* when the last commit succeeded (tp_mono_us), 0 never */
    int64_t retry_at_ms;
    int backoff_ms;
    tp_round_span_t round; /* the open round */
    uint32_t round_idx;
    char ensured_round[TP_ROUND_ID_MAX];
    char listed_round[TP_ROUND_ID_MAX]; /* worker 0: last round it listed on its own */
    int64_t next_heartbeat_ms;
    int64_t next_complaint_ms;
    int64_t next_cpv_check_ms;
    int64_t commit_started_ms;
    int64_t commit_started_us; /* the same instant, for the commit duration histogram */
    uint64_t n_accepted, n_commits;
    tp_ipc_counts_t counts; /* acks and commits for the metrics, sent with each HEARTBEAT */
    /* round close (close.c) */
    bool closing; /* CLOSE_BEGIN seen, CLOSE_DONE not yet */
    tp_ipc_close_t close_info;
    uint32_t closing_idx; /* interned id of the round being closed */
    bool close_ready_sent;
    bool reload_pending; /* CLOSE_DONE: reload the index once the groups drained */
    bool close_started;  /* worker 0: it asked for this close */
    int64_t close_begin_ms;
    int64_t next_close_try_ms;
    /* What the next connection must do with the index (worker.c, db_connect) */
    bool state_loaded;  /* loaded once in this process */
    bool state_suspect; /* memory may differ from the database: reload */
    tp_doubt_t doubt;   /* a group commit in flight when the connection dropped */
} tp_worker_t;

int tp_worker_run(tp_worker_t *w) __attribute__((warn_unused_result));

/* intake.c: handle one BATCH message (takes ownership of the decoded message). */
void tp_worker_handle_batch(tp_worker_t *w, const tp_ipc_hdr_t *hdr, const uint32_t *idx,
                            const void *payload, size_t len);
/* Make w->round the round open at now. */
void tp_worker_refresh_round(tp_worker_t *w, time_t now);
/* How long the building group still waits (tp_gather.h; 0: commit it now if it has items). */
int64_t tp_worker_gather_us(const tp_worker_t *w, int64_t now_us);
/* Start the next group commit if none runs, the building group has items and does not gather. */
void tp_worker_maybe_commit(tp_worker_t *w);
/* The running commit ended with res. */
void tp_worker_commit_done(tp_worker_t *w, tp_commit_result_t res);
/* Answer every undecided item RETRY_LATER and undo its effect on the index. */
void tp_worker_fail_all(tp_worker_t *w, const char *code, const char *detail);

/* worker.c: answer everything RETRY_LATER, drop the connections, reconnect with backoff
 * (the index is reloaded from the database then). */
void tp_worker_db_down(tp_worker_t *w);
/* The same when the index is known to match the database once the undecided items are
 * undone: no commit was running, or (in_flight) the running one is settled on reconnect by
 * looking for one of its rows, instead of a reload. */
void tp_worker_db_lost(tp_worker_t *w, bool in_flight);

/* worker.c: rebuild the index from the database (after a close). */
int tp_worker_reload_state(tp_worker_t *w) __attribute__((warn_unused_result));

/* close.c: the round close */
void tp_worker_handle_control(tp_worker_t *w, const void *payload, size_t len);
void tp_worker_handle_close(tp_worker_t *w, const tp_ipc_hdr_t *hdr, const void *payload,
                            size_t len);
/* Worker 0, every second: close a round whose boundary passed, or finish an interrupted close. */
void tp_worker_close_tick(tp_worker_t *w);
/* Tell the supervisor once nothing assigned to the closing round is uncommitted here. */
void tp_worker_close_progress(tp_worker_t *w);

/* intake.c internals shared with isolate.c */
void tp_worker_reply_set(tp_worker_t *w, tp_reply_t *r, uint32_t slot,
                         Tenderpool__V1__Status status, const char *code, const char *detail,
                         const char *round_id, uint64_t seq);
void tp_worker_encode_item(tp_copybuf_t *b, const tp_worker_t *w, const tp_item_t *it,
                           int64_t now_us);
void tp_worker_undo_group(tp_worker_t *w, tp_group_t *g);
void tp_worker_fail_group(tp_worker_t *w, tp_group_t *g, const char *code, const char *detail);

/* isolate.c: a group commit refused for its content (SQLSTATE class 22 or 23 other than a
 * unique violation): commit the rows that PostgreSQL takes, reject the ones it refuses. */
bool tp_worker_isolatable(const tp_store_t *st);
void tp_worker_isolate(tp_worker_t *w);

/* pooling.c: the running aggregates. Reset empties them (before a state load). */
void tp_worker_pool_reset(tp_worker_t *w);
/* A pool operation that could not be done exactly: the pool is untrustworthy until the next
 * reload, and this worker's closes recompute from the database. */
void tp_worker_pool_lost(tp_worker_t *w, const char *what, const tp_reqent_t *e);
/* Pool a stored line of e (its key, unit, quantity, price, need_by; member from e) carried
 * `carries` times. 0, or -1 (the pool is marked inexact). */
int tp_worker_pool_load(tp_worker_t *w, tp_reqent_t *e, const tp_pool_line_t *line, int carries);
/* Take e's line out of its lot (amend, cancel). */
void tp_worker_pool_detach(tp_worker_t *w, tp_reqent_t *e);
/* A write of item it is committed: its line replaces the request's previous one. */
void tp_worker_pool_committed(tp_worker_t *w, const tp_item_t *it);
/* Stage 0, 1 or 2 of the prefetches for a later tp_worker_pool_committed(it): its index entry
 * and its lot (stage 0 sets it->pool_hash). A no-op for items that are not writes. */
void tp_worker_pool_prefetch(tp_worker_t *w, tp_item_t *it, int stage);
/* This worker's packed partial aggregates of round (READY tail; *out malloc'd). -1 when the
 * pool is inexact or packing failed. */
int tp_worker_pool_partials(tp_worker_t *w, const char *round, char **out, size_t *len)
    __attribute__((warn_unused_result));
/* The close c committed with these viable lot hashes (12 bytes each): move this worker's
 * requests of c->round on (pooled, carried over, unpooled) as the database walk does.
 * -1 when that cannot be done exactly (the caller reloads instead). */
int tp_worker_pool_apply_close(tp_worker_t *w, const tp_ipc_close_t *c, const void *viable,
                               size_t len) __attribute__((warn_unused_result));

/* status.c: answer one StatusQuery from the committed state. */
void tp_worker_handle_status(tp_worker_t *w, const tp_ipc_hdr_t *hdr, const void *payload,
                             size_t len);

/* worker.c: send [header][payload] to the supervisor. */
void tp_worker_send(tp_worker_t *w, tp_ipc_type_t type, uint64_t token, uint32_t flags,
                    const void *payload, size_t len);
int64_t tp_now_ms(void);  /* wall clock: for timestamps stored */
int64_t tp_mono_ms(void); /* monotonic: for every timer */
int64_t tp_mono_us(void); /* monotonic, microseconds: for durations measured */

#endif
