/* A worker's part in closing a round: switch assignments, pass the barrier, commit, move on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tp_log.h"
#include "tp_lotmerge.h"
#include "tp_mem.h"
#include "tp_worker.h"

#define TP_CLOSE_RETRY_MS 30000 /* after a failed close, worker 0 tries again this much later */

static void send_close(tp_worker_t *w, tp_ipc_type_t type, const tp_ipc_close_t *c)
{
    tp_worker_send(w, type, 0, 0, c, sizeof(*c));
}

/* A close message followed by tail bytes. */
static void send_close_tail(tp_worker_t *w, tp_ipc_type_t type, const tp_ipc_close_t *c,
                            const void *tail, size_t len)
{
    char *buf = xmalloc(sizeof(*c) + len);
    memcpy(buf, c, sizeof(*c));
    if (len)
        memcpy(buf + sizeof(*c), tail, len);
    tp_worker_send(w, type, 0, 0, buf, sizeof(*c) + len);
    free(buf);
}

/* The round after `cur` when the coordinator closes it early at `now`: the rest of the same
 * calendar period, numbered "<period id>.<n>", or the calendar round when the period is over. */
static int next_round(tp_worker_t *w, const tp_round_span_t *cur, time_t now, tp_round_span_t *out)
{
    tp_round_span_t cal;
    if (tp_calendar_round_at(&w->cal, now, &cal) < 0)
        return -1;
    size_t n = strlen(cal.id);
    bool same_period =
        strncmp(cur->id, cal.id, n) == 0 && (cur->id[n] == '\0' || cur->id[n] == '.');
    if (!same_period) {
        *out = cal;
        return 0;
    }
    int k = cur->id[n] == '.' ? atoi(cur->id + n + 1) : 1;
    char id[2 * TP_ROUND_ID_MAX];
    snprintf(id, sizeof(id), "%s.%d", cal.id, k + 1);
    if (strlen(id) >= sizeof(out->id))
        return -1;
    memcpy(out->id, id, strlen(id) + 1);
    out->opens_at = now;
    out->closes_at = cal.closes_at;
    return 0;
}

static void refuse(tp_worker_t *w, const char *why);

static void begin(tp_worker_t *w, const tp_round_span_t *round, const tp_round_span_t *next)
{
    /* The next round is recorded first: if anything dies before the lots are committed, the
     * two open rounds tell the restarted worker 0 to finish this close (close_tick). */
    if (tp_store_ensure_round(&w->store, next) < 0) {
        tp_warn("cannot open round %s: %s", next->id, w->store.last_error);
        refuse(w, "cannot record the next round");
        return;
    }
    tp_ipc_close_t c;
    memset(&c, 0, sizeof(c));
    snprintf(c.round, sizeof(c.round), "%s", round->id);
    snprintf(c.next, sizeof(c.next), "%s", next->id);
    c.next_opens = next->opens_at;
    c.next_closes = next->closes_at;
    w->close_started = true;
    w->close_begin_ms = tp_mono_ms();
    tp_notice("closing round %s (next: %s)", c.round, c.next);
    send_close(w, TP_IPC_CLOSE_BEGIN, &c);
}

static void refuse(tp_worker_t *w, const char *why)
{
    tp_ipc_close_t c;
    memset(&c, 0, sizeof(c));
    c.lots = -1;
    snprintf(c.error, sizeof(c.error), "%s", why);
    send_close(w, TP_IPC_CLOSE_DONE, &c);
}

/* "withdraw <lot>\n<reason>": between closes, so that no close computes lots from state the
 * withdrawal changes; every worker reloads afterwards (the supervisor sends RELOAD). */
static void withdraw(tp_worker_t *w, const char *arg)
{
    char lot[128], reply[768], to[TP_ROUND_ID_MAX];
    const char *nl = strchr(arg, '\n');
    size_t n = nl ? (size_t)(nl - arg) : strlen(arg);
    uint32_t flags = 0;
    if (n == 0 || n >= sizeof(lot)) {
        snprintf(reply, sizeof(reply), "error: withdraw: a lot id is required");
    } else if (w->close_started || w->closing) {
        snprintf(reply, sizeof(reply), "error: a round close is running; try again in a moment");
    } else if (!tp_store_up(&w->store)) {
        snprintf(reply, sizeof(reply), "error: database unavailable");
    } else {
        memcpy(lot, arg, n);
        lot[n] = '\0';
        if (tp_store_withdraw(&w->store, lot, nl ? nl + 1 : "", to, sizeof(to)) < 0) {
            snprintf(reply, sizeof(reply), "error: withdraw %s: %.400s", lot, w->store.last_error);
            /* the connection dropped: the withdrawal may have committed unanswered, so every
             * worker reloads (once its database is back) rather than trust memory */
            if (PQstatus(w->store.qconn) != CONNECTION_OK)
                flags = TP_IPC_F_RELOAD;
        } else {
            snprintf(reply, sizeof(reply),
                     "withdrew lot %s: its requests carry over to round %s (or are unpooled at "
                     "the carry limit)",
                     lot, to);
            flags = TP_IPC_F_RELOAD;
        }
    }
    tp_worker_send(w, TP_IPC_CONTROL_REPLY, 0, flags, reply, strlen(reply));
}

void tp_worker_handle_control(tp_worker_t *w, const void *payload, size_t len)
{
    char cmd[512];
    if (w->index != 0 || len >= sizeof(cmd)) {
        refuse(w, "unknown control command");
        return;
    }
    memcpy(cmd, payload, len);
    cmd[len] = '\0';
    if (strncmp(cmd, "withdraw ", 9) == 0) {
        withdraw(w, cmd + 9);
        return;
    }
    if (strcmp(cmd, "close-current") != 0) {
        refuse(w, "unknown control command");
        return;
    }
    if (w->close_started || w->closing) {
        refuse(w, "a close is already running");
        return;
    }
    if (!tp_store_up(&w->store)) {
        refuse(w, "database unavailable");
        return;
    }
    /* the round to close is the oldest open one in the database, not the calendar's */
    time_t now = time(NULL);
    tp_round_span_t cur, newest, next;
    int count = 0;
    if (tp_store_open_rounds(&w->store, &cur, &newest, &count) < 0 || count == 0) {
        refuse(w, "no open round recorded");
        return;
    }
    if (count > 1)
        next = newest; /* an interrupted close: finish it */
    else if (cur.closes_at <= now ? tp_calendar_round_at(&w->cal, now, &next) < 0
                                  : next_round(w, &cur, now, &next) < 0) {
        refuse(w, "cannot compute the next round");
        return;
    }
    begin(w, &cur, &next);
}

void tp_worker_close_tick(tp_worker_t *w)
{
    if (w->index != 0 || w->close_started || w->closing || !tp_store_up(&w->store) ||
        tp_mono_ms() < w->next_close_try_ms)
        return;
    tp_round_span_t oldest, newest;
    int count = 0;
    if (tp_store_open_rounds(&w->store, &oldest, &newest, &count) < 0 || count == 0)
        return;
    time_t now = time(NULL);
    if (count > 1) { /* an early close did not finish: finish it, into the newer round */
        begin(w, &oldest, &newest);
        return;
    }
    if (oldest.closes_at > now)
        return;
    tp_round_span_t next; /* the boundary passed: close into the calendar round of now */
    if (tp_calendar_round_at(&w->cal, now, &next) == 0)
        begin(w, &oldest, &next);
}

static void on_begin(tp_worker_t *w, const tp_ipc_close_t *c)
{
    w->closing = true;
    w->close_info = *c;
    w->close_ready_sent = false;
    w->closing_idx = tp_reqindex_round(w->ix, c->round);
    time_t now = time(NULL);
    tp_worker_refresh_round(w, now);
    if (strcmp(w->round.id, c->next) != 0 && now < c->next_closes) {
        snprintf(w->round.id, sizeof(w->round.id), "%s", c->next);
        w->round.opens_at = c->next_opens;
        w->round.closes_at = c->next_closes;
        w->round_idx = tp_reqindex_round(w->ix, w->round.id);
    }
    tp_worker_close_progress(w);
}

static bool group_holds(const tp_group_t *g, uint32_t round)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->items[i].outcome == TP_OUT_WRITE && g->items[i].round == round)
            return true;
    return false;
}

void tp_worker_close_progress(tp_worker_t *w)
{
    if (!w->closing || w->close_ready_sent)
        return;
    if (group_holds(&w->groups[w->building], w->closing_idx) ||
        (w->committing && group_holds(&w->groups[!w->building], w->closing_idx)))
        return;
    w->close_ready_sent = true;
    /* everything of the closing round is committed and pooled here: send its partial lots */
    tp_ipc_close_t c = w->close_info;
    char *parts = NULL;
    size_t len = 0;
    /* memory that may differ from the database (a commit in doubt, a reload not done yet)
     * sends no partials: worker 0 then recomputes the lots from the stored requests */
    c.partial = !w->state_suspect && !w->doubt.set &&
                tp_worker_pool_partials(w, c.round, &parts, &len) == 0;
    send_close_tail(w, TP_IPC_CLOSE_READY, &c, parts, len);
    free(parts);
}

/* Commit the lots: from the merged partial aggregates when every worker sent them, else (or
 * when they do not merge) by recomputing from the stored requests. */
static int commit_lots(tp_worker_t *w, const tp_ipc_close_t *c, const void *tail, size_t len,
                       int *lots)
{
    if (c->partial) {
        char *rows, err[256];
        size_t rowlen;
        int viable;
        if (tp_lots_merge(tail, len, c->round, w->cfg.min_members, &rows, &rowlen, lots, &viable,
                          err, sizeof(err)) == 0) {
            int rc = tp_store_close_lots(&w->store, c, w->cfg.min_members, w->cfg.max_carry_over,
                                         rows, rowlen, lots);
            free(rows);
            return rc;
        }
        tp_warn("close of %s: %s; recomputing the lots from the database", c->round, err);
    } else {
        tp_notice("close of %s: some worker has no exact aggregates; recomputing the lots from "
                  "the database",
                  c->round);
    }
    int viable;
    return tp_store_close_round(&w->store, c, w->cfg.min_members, w->cfg.max_carry_over, lots,
                                &viable);
}

static void on_commit(tp_worker_t *w, const tp_ipc_close_t *c, const void *tail, size_t len)
{
    tp_ipc_close_t done = *c;
    char *viable = NULL;
    size_t vlen = 0;
    if (w->index != 0)
        return;
    done.partial = 0;
    if (commit_lots(w, c, tail, len, &done.lots) < 0 ||
        tp_store_close_result(&w->store, c->round, &done.viable, &done.max_carry_over, &viable,
                              &vlen) < 0) {
        done.lots = -1;
        snprintf(done.error, sizeof(done.error), "%.250s", w->store.last_error);
    } else {
        done.partial = 1; /* the viable lots follow: workers move their requests on in memory */
        done.min_members = w->cfg.min_members;
    }
    done.took_ms = tp_mono_ms() - w->close_begin_ms;
    send_close_tail(w, TP_IPC_CLOSE_DONE, &done, viable, vlen);
    free(viable);
}

static void on_done(tp_worker_t *w, const tp_ipc_close_t *c, const void *tail, size_t len)
{
    if (w->index == 0) {
        w->close_started = false;
        if (c->error[0])
            w->next_close_try_ms = tp_mono_ms() + TP_CLOSE_RETRY_MS;
    }
    if (c->error[0])
        tp_warn("close of %s not confirmed: %s", c->round, c->error);
    /* Closes move requests on (pooled, carried over, unpooled). With the viable lots at hand
     * and exact aggregates, do it here as the database walk does; otherwise take the
     * database's word once the groups in flight are committed (also after an error: the close
     * may have committed before worker 0 died); until then the closing round's requests stay
     * held. */
    if (!c->error[0] && c->partial && tp_worker_pool_apply_close(w, c, tail, len) == 0) {
        w->closing = false;
        return;
    }
    w->reload_pending = true;
}

void tp_worker_handle_close(tp_worker_t *w, const tp_ipc_hdr_t *hdr, const void *payload,
                            size_t len)
{
    tp_ipc_close_t c;
    const void *tail;
    size_t tail_len;
    if (tp_ipc_close_read(payload, len, &c, &tail, &tail_len) < 0) {
        tp_err("malformed close message from the supervisor");
        return;
    }
    if (hdr->type == TP_IPC_CLOSE_BEGIN)
        on_begin(w, &c);
    else if (hdr->type == TP_IPC_CLOSE_COMMIT)
        on_commit(w, &c, tail, tail_len);
    else if (hdr->type == TP_IPC_CLOSE_DONE)
        on_done(w, &c, tail, tail_len);
}
