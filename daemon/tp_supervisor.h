/* The supervisor process: intake socket, routing to workers, pending replies, worker lifecycle. */
#ifndef TP_SUPERVISOR_H
#define TP_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tenderpool/v1/tenderpool.pb-c.h"
#include "tp_arena.h"
#include "tp_wire.h"
#include "tp_config.h"
#include "tp_ipc.h"

#define TP_MAX_WORKERS 64

typedef struct tp_wproc {
    pid_t pid;  /* 0 when not running */
    bool ready; /* HELLO received since the last start */
    int64_t started_ms;
    int64_t restart_at_ms; /* when to start it again after a crash */
    int backoff_ms;
    int crashes;          /* crashes since the last stable run */
    int64_t last_seen_ms; /* last HELLO/HEARTBEAT/reply */
    tp_ipc_beat_t beat;   /* its figures at its last HEARTBEAT */
    uint32_t starts;      /* processes started for this slot (restarts = starts - 1) */
    /* the counters of this slot's dead processes, for the metrics */
    tp_ipc_counts_t retired;
} tp_wproc_t;

/* A client message waiting for its workers' answers. */
typedef struct tp_pending {
    uint64_t token;      /* generation << 32 | slot; 0 = free */
    uint8_t client[256]; /* the client's ROUTER routing id */
    size_t client_len;
    bool is_status;
    uint64_t query_id; /* StatusQuery: echoed when the supervisor answers itself */
    uint32_t nitems;
    uint32_t parts_left; /* workers that still owe an answer */
    uint64_t part_mask;  /* which workers owe one */
    /* the decoded client message, the workers' decoded answers and the arrays below: one
     * arena, released with the pending entry */
    tp_arena_t arena;
    uint8_t *owner;                     /* item -> worker */
    Tenderpool__V1__ClientMessage *msg; /* decoded client message; NULL: routed from the wire */
    const uint8_t *raw;                 /* the frame, copied into the arena (msg NULL) */
    size_t raw_len;
    uint64_t batch_id;
    tp_wire_span_t *acks; /* item -> its encoded Ack (a worker's, or our own) */
    int32_t next_free;
} tp_pending_t;

/* The round close in progress (one at a time), driven by worker 0. */
typedef struct tp_close_state {
    bool active; /* CLOSE_BEGIN seen, CLOSE_DONE not yet */
    tp_ipc_close_t info;
    uint64_t ready_mask; /* workers that answered CLOSE_READY */
    bool commit_sent;
    /* each worker's READY tail (its partial aggregates), NULL when it sent none */
    char *parts[TP_MAX_WORKERS];
    size_t part_len[TP_MAX_WORKERS];
    uint8_t client[256]; /* control client waiting for the outcome (client_len 0: none) */
    size_t client_len;
    int64_t requested_ms;
} tp_close_state_t;

typedef struct tp_auth tp_auth_t;
typedef struct tp_rate tp_rate_t;
typedef struct tp_metrics tp_metrics_t;

#define TP_RATE_MAX_MEMBERS 100000 /* buckets kept before idle ones are forgotten */

typedef struct tp_supervisor {
    tp_config_t cfg;
    char config_path[512];
    char worker_path[512];
    char worker_endpoint[600];
    void *zctx;
    void *intake;  /* ROUTER, members */
    void *wsock;   /* ROUTER, workers */
    void *control; /* ROUTER, operator commands (tenderpool rounds close-current) */
    tp_close_state_t close;
    tp_ipc_close_t last_close; /* the last close's outcome (round "" when none yet) */
    int64_t last_close_at;     /* unix seconds */
    /* a control client waiting for worker 0's CONTROL_REPLY (withdraw), len 0: none */
    uint8_t ctl_client[256];
    size_t ctl_client_len;
    int64_t started_at;     /* unix seconds */
    uint64_t watchdog_usec; /* systemd's WatchdogSec (0: none) */
    int64_t next_watchdog_ms, next_status_ms, status_at_ms;
    uint64_t status_accepted; /* accepted count at the last STATUS */
    tp_auth_t *auth;  /* curve mode: ZAP handler and member keys (auth.c); NULL in mode none */
    tp_rate_t *rates; /* per-member token buckets (ratelimit.c), a uthash table */
    uint64_t n_rate_limited; /* messages answered RATE_LIMITED */
    int sigfd;
    bool draining;
    int64_t drain_deadline_ms;
    bool stopping_workers;
    tp_wproc_t w[TP_MAX_WORKERS];
    tp_pending_t *pend;
    int32_t npend, cappend, free_head;
    uint32_t gen;
    int64_t in_flight_items;
    uint64_t n_dropped_replies;
    uint64_t n_messages;
    tp_metrics_t *metrics; /* [metrics] listen: counters and the HTTP thread (metrics.c) */
} tp_supervisor_t;

int tp_supervisor_run(tp_supervisor_t *s) __attribute__((warn_unused_result));

/* route.c: intake messages and worker answers */
void tp_route_client_message(tp_supervisor_t *s);
void tp_route_worker_message(tp_supervisor_t *s);
/* Answer, for every pending message, the items a dead worker owed: RETRY_LATER. */
void tp_route_worker_lost(tp_supervisor_t *s, uint32_t worker);
int64_t tp_sup_now_ms(void);

/* auth.c: CURVE. Setup makes intake a CURVE server (before its bind) and binds the ZAP
 * handler; no-op in mode none. 0, or -1 (logged). */
int tp_auth_setup(tp_supervisor_t *s, void *intake) __attribute__((warn_unused_result));
void tp_auth_close(tp_supervisor_t *s);
void *tp_auth_zap_socket(const tp_supervisor_t *s); /* NULL in mode none */
int tp_auth_db_fd(const tp_supervisor_t *s);        /* -1 when none */
/* Answer one ZAP request. */
void tp_auth_zap(tp_supervisor_t *s);
/* Reload the member keys after a NOTIFY (db_readable) or every 5 s. */
void tp_auth_tick(tp_supervisor_t *s, bool db_readable);
/* Is member (a ZAP User-Id) still an active member? Always true in mode none. */
bool tp_auth_member_active(const tp_supervisor_t *s, const char *member);

/* ratelimit.c: take n tokens from member's bucket; false (and counted) when it has fewer. */
bool tp_rate_take(tp_supervisor_t *s, const char *member, uint32_t n, int64_t now_ms);
size_t tp_rate_limited_members(const tp_supervisor_t *s, int64_t now_ms);
void tp_rate_forget_idle(tp_supervisor_t *s, int64_t now_ms);
void tp_rate_free(tp_supervisor_t *s);

/* control.c: the control socket and the round-close barrier */
int tp_control_setup(tp_supervisor_t *s) __attribute__((warn_unused_result));
void tp_control_message(tp_supervisor_t *s);
/* A close message from a worker (CLOSE_BEGIN/READY/DONE). */
void tp_control_close_message(tp_supervisor_t *s, uint32_t worker, const tp_ipc_hdr_t *h,
                              const void *payload, size_t len);
/* A worker said HELLO: bring it into a running close. */
void tp_control_worker_ready(tp_supervisor_t *s, uint32_t worker);
/* Worker 0 answered a forwarded operator command (CONTROL_REPLY). */
void tp_control_reply_message(tp_supervisor_t *s, const tp_ipc_hdr_t *h, const void *payload,
                              size_t len);
/* A worker died: a close driven by worker 0 is abandoned (worker 0 redoes it on restart). */
void tp_control_worker_lost(tp_supervisor_t *s, uint32_t worker);
/* Send [header][payload] to worker w; 0 or -1. */
int tp_sup_send_worker(tp_supervisor_t *s, uint32_t w, tp_ipc_type_t type, uint64_t token,
                       const void *payload, size_t len);

/* workerproc.c: worker processes */
int tp_wproc_spawn(tp_supervisor_t *s, uint32_t i) __attribute__((warn_unused_result));
/* Reap exited children; schedules restarts and fails their pending items. */
void tp_wproc_reap(tp_supervisor_t *s);
/* Start workers whose restart time has come. */
void tp_wproc_restart_due(tp_supervisor_t *s);
bool tp_wproc_all_ready(const tp_supervisor_t *s);
int tp_wproc_running(const tp_supervisor_t *s);
void tp_wproc_signal_all(tp_supervisor_t *s, int sig);

/* metrics.c: Prometheus text on [metrics] listen (/metrics, /healthz, /readyz), served by
 * libmicrohttpd's own thread from a snapshot that the supervisor loop publishes; the loop's
 * state is never read from that thread. Start allocates s->metrics and binds (nothing is
 * bound when listen is empty); 0, or -1 when the address cannot be bound (logged). */
int tp_metrics_start(tp_supervisor_t *s) __attribute__((warn_unused_result));
/* Publish the loop's figures for the HTTP thread (at most every 100 ms; call every turn). */
void tp_metrics_publish(tp_supervisor_t *s);
/* Stop the HTTP thread and free s->metrics (NULL allowed). */
void tp_metrics_stop(tp_supervisor_t *s);
/* Count n acks the supervisor decided itself (status: a Tenderpool__V1__Status). */
void tp_metrics_acks(tp_metrics_t *m, int status, const char *code, uint64_t n);
/* A close ended (CLOSE_DONE, also a failed one). */
void tp_metrics_close_done(tp_metrics_t *m, const tp_ipc_close_t *c);
/* A worker process died: its counters join the slot's retired sum, so totals never go back. */
void tp_metrics_worker_retired(tp_wproc_t *w);

#endif
