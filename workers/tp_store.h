/* Worker storage: PostgreSQL state load, server_seq blocks, and the asynchronous COPY commit. */
#ifndef TP_STORE_H
#define TP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "tp_calendar.h"
#include "tp_copybuf.h"
#include "tp_cpv.h"
#include "tp_ipc.h"
#include "tp_decimal.h"
#include "tp_pool.h"
#include "tp_reqindex.h"

typedef enum tp_commit_state {
    TP_COMMIT_IDLE,
    TP_COMMIT_WAIT_COPYIN, /* COPY sent, waiting for the server to accept data */
    TP_COMMIT_SENDING,     /* data queued, flushing */
    TP_COMMIT_WAIT_RESULT, /* copy end sent: the commit result decides */
    TP_COMMIT_FINISHING,   /* committed; reading the server's ready-for-query */
} tp_commit_state_t;

typedef enum tp_commit_result {
    TP_COMMIT_PENDING, /* still running */
    TP_COMMIT_OK,      /* committed (synchronous commit) */
    TP_COMMIT_FAILED,  /* refused by the server: nothing stored */
    TP_COMMIT_LOST,    /* connection broke: outcome unknown, reload before trusting state */
} tp_commit_result_t;

typedef struct tp_store {
    PGconn *wconn; /* asynchronous writer */
    PGconn *qconn; /* synchronous queries: seq blocks, rounds, status, state load */
    char dsn[1024];
    uint64_t seq_next, seq_end;
    tp_commit_state_t cstate;
    const tp_copybuf_t *cbuf;
    size_t csent;
    bool cend; /* copy end queued */
    char last_error[512];
    char last_sqlstate[6];
} tp_store_t;

int tp_store_connect(tp_store_t *st, const char *dsn, const char *app, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void tp_store_disconnect(tp_store_t *st);
bool tp_store_up(const tp_store_t *st);
/* Up, but one of the connections broke (the caller resets both). */
bool tp_store_broken(const tp_store_t *st);
/* Socket to poll (-1 when down) and whether the writer wants POLLOUT. */
int tp_store_fd(const tp_store_t *st);
bool tp_store_wants_write(const tp_store_t *st);

/* Check that the schema is migrated (table tenderpool.revision exists). */
int tp_store_check_schema(tp_store_t *st, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Next server_seq (takes a new block from the database when the current one is used up). */
int tp_store_next_seq(tp_store_t *st, uint64_t *out) __attribute__((warn_unused_result));

/* Make sure the round row exists (idempotent). */
int tp_store_ensure_round(tp_store_t *st, const tp_round_span_t *r)
    __attribute__((warn_unused_result));

/* Load the imported CPV codes into set (sealed). */
/* Number of imported CPV codes (an import only adds or relabels codes). */
int tp_store_cpv_count(tp_store_t *st, long *count) __attribute__((warn_unused_result));

int tp_store_load_cpv(tp_store_t *st, tp_cpv_set_t *set, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Where a state load puts what it reads: the index of the requests `worker` of `nworkers`
 * owns and, through `line` (may be NULL), the line of each open or carried-over one
 * (its key in the round it is now in, carried `carries` times; 0 or -1). */
typedef struct tp_store_loader {
    tp_reqindex_t *ix;
    uint32_t worker, nworkers;
    int (*line)(void *ctx, tp_reqent_t *e, const tp_pool_line_t *line, int carries);
    /* an open or carried-over request whose stored line cannot be read (may be NULL) */
    void (*lost)(void *ctx, const tp_reqent_t *e);
    void *ctx;
} tp_store_loader_t;

/* Rebuild the loader's index from the stored history: the latest revision of every request. */
int tp_store_load_state(tp_store_t *st, const tp_store_loader_t *ld, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The stored revision `revision` of (member, ref): 1 found, 0 absent, -1 error. */
int tp_store_revision_lookup(tp_store_t *st, const char *member, const char *ref, uint32_t revision,
                             uint64_t *hash, uint64_t *seq, char *round, size_t roundlen)
    __attribute__((warn_unused_result));

/* Commit buf on the query connection, synchronously (isolating refused rows): 0 committed,
 * 1 refused by the server (last_error, last_sqlstate), -1 connection trouble. */
int tp_store_copy_sync(tp_store_t *st, const tp_copybuf_t *buf) __attribute__((warn_unused_result));

/* True when the writer can start a commit (reads what is left of the previous one). */
bool tp_store_idle(tp_store_t *st);

/* The open rounds, oldest and newest by opening time (count 0: none). */
int tp_store_open_rounds(tp_store_t *st, tp_round_span_t *oldest, tp_round_span_t *newest,
                         int *count) __attribute__((warn_unused_result));

/* Close c->round and open c->next: tenderpool.close_round, atomic and idempotent. */
int tp_store_close_round(tp_store_t *st, const tp_ipc_close_t *c, int min_members,
                         int max_carry_over, int *lots, int *viable)
    __attribute__((warn_unused_result));

/* Close c->round from lot rows computed in memory: COPY text rows for tenderpool.lot (lot_id,
 * round_id, cpv, item_key, dimension, base_unit, delivery_zone, currency, total_quantity,
 * member_count, request_count, need_by_min, need_by_max, est_value, status), between
 * tenderpool.close_round_begin and close_round_seal, in one transaction. A round already
 * closed is left as it is (*lots: its lot count). */
int tp_store_close_lots(tp_store_t *st, const tp_ipc_close_t *c, int min_members,
                        int max_carry_over, const char *rows, size_t len, int *lots)
    __attribute__((warn_unused_result));

/* What a closed round decided, as stored: its viable lots' key hashes (12 bytes each,
 * *hashes malloc'd) and the max_carry_over it used. */
int tp_store_close_result(tp_store_t *st, const char *round, int *viable, int *max_carry_over,
                          char **hashes, size_t *len) __attribute__((warn_unused_result));

/* tenderpool.withdraw_lot(lot, reason): *to receives the round its requests went to. */
int tp_store_withdraw(tp_store_t *st, const char *lot, const char *reason, char *to, size_t tolen)
    __attribute__((warn_unused_result));

/* Start committing buf (must stay alive until the commit ends). */
int tp_store_commit_begin(tp_store_t *st, const tp_copybuf_t *buf)
    __attribute__((warn_unused_result));
/* Advance the commit after the socket became ready (or to check). */
tp_commit_result_t tp_store_commit_poll(tp_store_t *st);

#endif
