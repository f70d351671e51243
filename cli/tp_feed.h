/* Publish feeds: reading CSV / JSON-lines requests and tracking their delivery; no sockets. */
#ifndef TP_FEED_H
#define TP_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- items ---------------------------------------------------------------------------- */

typedef enum tp_feed_op { TP_FEED_SUBMIT, TP_FEED_AMEND, TP_FEED_CANCEL } tp_feed_op_t;

/* One feed line, structured but not validated (validation is the server's job). String
 * fields are NULL when the column / key is absent or empty; they are owned by the item. */
typedef struct tp_feed_item {
    size_t line; /* 1-based line number in the feed */
    tp_feed_op_t op;
    uint32_t revision;
    char *request_ref;
    /* submit / amend only */
    char *cpv;
    char *item_key;
    char *description;
    char *quantity; /* exact source text, never converted to a number */
    char *unit;
    char *need_by;
    char *delivery_zone;
    char *currency;
    char *max_unit_price;
    /* cancel only */
    char *reason;

    /* Delivery bookkeeping, owned by the outbox. */
    size_t wire_bytes;         /* encoded size inside a Batch; set by the caller before add */
    unsigned retries;          /* RETRY_LATER answers received so far */
    int64_t due_ms;            /* earliest resend time while waiting for a retry */
    struct tp_feed_item *next; /* queue link */
} tp_feed_item_t;

/* Frees the item's strings and the item; accepts NULL and clears the caller's pointer. */
void tp_feed_item_destroy(tp_feed_item_t **item);

const char *tp_feed_op_name(tp_feed_op_t op);

/* ---- reader --------------------------------------------------------------------------- */

typedef enum tp_feed_format { TP_FEED_AUTO, TP_FEED_CSV, TP_FEED_JSONL } tp_feed_format_t;

typedef struct tp_feed tp_feed_t;

/* Format from the file name: .csv -> CSV, .jsonl / .ndjson -> JSON lines, else AUTO. */
tp_feed_format_t tp_feed_format_from_name(const char *path);

/* Start reading `in` (not owned; the caller closes it). `name` prefixes messages. AUTO
 * picks JSON lines when the first non-space character is '{', else CSV. Reads the CSV
 * header; returns NULL with "NAME:LINE: message" in err when the feed cannot be read at
 * all (I/O error, bad or unknown header column). */
tp_feed_t *tp_feed_open(FILE *in, const char *name, tp_feed_format_t format, char *err,
                        size_t errlen) __attribute__((warn_unused_result));

tp_feed_format_t tp_feed_format(const tp_feed_t *f);

/* Read the next item. Returns 1 with *item set (caller owns it), 0 at the end of the feed,
 * or -1 for an unreadable line with "NAME:LINE: message" in err; reading may go on after
 * -1 (a broken line never stops the lines after it). */
int tp_feed_next(tp_feed_t *f, tp_feed_item_t **item, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Accepts NULL and clears the caller's pointer. */
void tp_feed_destroy(tp_feed_t **f);

/* ---- results -------------------------------------------------------------------------- */

typedef enum tp_feed_result {
    TP_FEED_ACCEPTED,
    TP_FEED_DUPLICATE,
    TP_FEED_STALE,
    TP_FEED_REJECTED,
    TP_FEED_UNDELIVERED,
    TP_FEED_UNREADABLE,
    TP_FEED_NRESULTS,
    /* An ack status that is never final: the item goes back into the outbox. */
    TP_FEED_RETRY_LATER = TP_FEED_NRESULTS
} tp_feed_result_t;

/* "accepted", "duplicate", ... */
const char *tp_feed_result_name(tp_feed_result_t r);

#define TP_FEED_REPORT_LINES 50

/* Counts per final result, and the first TP_FEED_REPORT_LINES rejected items and
 * unreadable lines as printable text. */
typedef struct tp_feed_report {
    uint64_t count[TP_FEED_NRESULTS];
    char *rejected[TP_FEED_REPORT_LINES];
    size_t n_rejected_lines;
    char *unreadable[TP_FEED_REPORT_LINES];
    size_t n_unreadable_lines;
} tp_feed_report_t;

void tp_feed_report_init(tp_feed_report_t *r);
void tp_feed_report_free(tp_feed_report_t *r);
/* Count one unreadable line; msg is copied. */
void tp_feed_report_unreadable(tp_feed_report_t *r, const char *msg);
/* One line per result on `summary`; unreadable lines, then "REJECTED ref rev CODE detail"
 * lines (each list capped, then "... N more") on `details`. */
void tp_feed_report_print(const tp_feed_report_t *r, FILE *summary, FILE *details);
/* 0 when every item was accepted or duplicate, else 1. */
int tp_feed_report_exit_code(const tp_feed_report_t *r);

/* ---- outbox: batching, acks, retries and resends ------------------------------------- */

typedef struct tp_feed_outbox_opts {
    size_t batch_items;     /* items per batch, >= 1 */
    size_t max_batch_bytes; /* sum of items' wire_bytes per batch; 0 = no limit */
    size_t window;          /* batches in flight, >= 1 */
    int64_t timeout_ms;     /* a batch with no reply after this is resent in full */
    int64_t backoff_min_ms; /* first RETRY_LATER delay, doubling per retry ... */
    int64_t backoff_max_ms; /* ... up to this */
    uint64_t first_batch_id;
} tp_feed_outbox_opts_t;

/* One server answer for one item, in tp_feed terms. */
typedef struct tp_feed_ack {
    tp_feed_result_t result; /* ACCEPTED..REJECTED or RETRY_LATER */
    const char *request_ref; /* as echoed; NULL or "" when not echoed */
    const char *error_code;  /* may be NULL */
    const char *detail;      /* may be NULL */
} tp_feed_ack_t;

typedef struct tp_feed_outbox tp_feed_outbox_t;

tp_feed_outbox_t *tp_feed_outbox_new(const tp_feed_outbox_opts_t *opts);
/* Frees every item still held; accepts NULL and clears the caller's pointer. */
void tp_feed_outbox_destroy(tp_feed_outbox_t **ob);

/* Queue an item for sending; takes ownership. */
void tp_feed_outbox_add(tp_feed_outbox_t *ob, tp_feed_item_t *item);
/* Items queued and never sent yet (not counting retries and batches in flight). */
size_t tp_feed_outbox_ready(const tp_feed_outbox_t *ob);
size_t tp_feed_outbox_in_flight(const tp_feed_outbox_t *ob);

/* The next batch to send at now_ms: a timed-out batch again (same items, new id), else due
 * retries then queued items. Returns the item count (0: nothing to send now, or the window
 * is full); *items points into the outbox and stays valid until that batch is answered or
 * expires. The batch counts as in flight from now_ms. */
size_t tp_feed_outbox_next_batch(tp_feed_outbox_t *ob, int64_t now_ms, uint64_t *batch_id,
                                 tp_feed_item_t *const **items);

/* Apply a BatchAck. Returns 0 when applied, 1 when the batch id is unknown (late reply,
 * duplicate reply: ignored), -1 when it does not fit the batch (ack count or echoed
 * request_ref differ; ignored, so the batch will time out and be resent). A single
 * REJECTED ack for a batch of several items rejects them all (the batch was refused). */
int tp_feed_outbox_ack(tp_feed_outbox_t *ob, uint64_t batch_id, const tp_feed_ack_t *acks,
                       size_t n_acks, int64_t now_ms);

/* Mark batches unanswered for timeout_ms for resending; returns how many. */
size_t tp_feed_outbox_expire(tp_feed_outbox_t *ob, int64_t now_ms);

/* Milliseconds until something is due (a batch timeout, or a retry when the window has
 * room); 0 if something is due now; -1 when nothing is pending. */
int64_t tp_feed_outbox_next_wakeup(const tp_feed_outbox_t *ob, int64_t now_ms);

/* Nothing queued, waiting for retry or in flight. */
bool tp_feed_outbox_done(const tp_feed_outbox_t *ob);

/* Give up: every item still held counts as undelivered. */
void tp_feed_outbox_abandon(tp_feed_outbox_t *ob);

tp_feed_report_t *tp_feed_outbox_report(tp_feed_outbox_t *ob);

#endif
