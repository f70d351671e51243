/* Control socket (operator commands) and the round-close barrier across the worker processes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <zmq.h>

#include "tp_log.h"
#include "tp_mem.h"
#include "tp_supervisor.h"

int tp_sup_send_worker(tp_supervisor_t *s, uint32_t w, tp_ipc_type_t type, uint64_t token,
                       const void *payload, size_t len)
{
    char id[16];
    int n = snprintf(id, sizeof(id), "w%u", w);
    tp_ipc_hdr_t h = {.magic = TP_IPC_MAGIC, .type = type, .token = token};
    int more = payload ? ZMQ_SNDMORE : 0;
    if (zmq_send(s->wsock, id, (size_t)n, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(s->wsock, &h, sizeof(h), more) < 0 ||
        (payload && zmq_send(s->wsock, payload, len, 0) < 0))
        return -1;
    return 0;
}

/* For ipc:// endpoints, the directory must exist. */
static void make_ipc_dir(const char *endpoint)
{
    if (strncmp(endpoint, "ipc://", 6) != 0)
        return;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", endpoint + 6);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0755);
    }
}

int tp_control_setup(tp_supervisor_t *s)
{
    make_ipc_dir(s->cfg.control_endpoint);
    s->control = zmq_socket(s->zctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(s->control, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_bind(s->control, s->cfg.control_endpoint) < 0) {
        tp_err("cannot bind the control endpoint %s: %s", s->cfg.control_endpoint,
               zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static void reply_control(tp_supervisor_t *s, const uint8_t *id, size_t idlen, const char *text)
{
    if (zmq_send(s->control, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(s->control, text, strlen(text), ZMQ_DONTWAIT) < 0)
        tp_warn("control reply dropped: %s", zmq_strerror(errno));
}

static void start_close_request(tp_supervisor_t *s, const uint8_t *id, size_t idlen)
{
    if (s->close.active || s->close.client_len) {
        char msg[160];
        snprintf(msg, sizeof(msg), "error: a close is already running (round %s)",
                 s->close.info.round[0] ? s->close.info.round : "being chosen");
        reply_control(s, id, idlen, msg);
        return;
    }
    if (!s->w[0].ready || s->draining) {
        reply_control(s, id, idlen, "error: not accepting commands now (starting or stopping)");
        return;
    }
    static const char cmd[] = "close-current";
    if (tp_sup_send_worker(s, 0, TP_IPC_CONTROL, 0, cmd, sizeof(cmd) - 1) < 0) {
        reply_control(s, id, idlen, "error: worker 0 unavailable");
        return;
    }
    memcpy(s->close.client, id, idlen);
    s->close.client_len = idlen;
    s->close.requested_ms = tp_sup_now_ms();
}

/* "withdraw <lot> [reason]": worker 0 withdraws the lot between closes, then every worker
 * reloads its state (the lot's requests move on to the open round). */
static void start_withdraw(tp_supervisor_t *s, const uint8_t *id, size_t idlen, const char *cmd,
                           size_t len)
{
    if (s->close.active || s->close.client_len || s->ctl_client_len) {
        reply_control(s, id, idlen, "error: a close or another command is running; try again");
        return;
    }
    if (!s->w[0].ready || s->draining) {
        reply_control(s, id, idlen, "error: not accepting commands now (starting or stopping)");
        return;
    }
    if (tp_sup_send_worker(s, 0, TP_IPC_CONTROL, 0, cmd, len) < 0) {
        reply_control(s, id, idlen, "error: worker 0 unavailable");
        return;
    }
    memcpy(s->ctl_client, id, idlen);
    s->ctl_client_len = idlen;
}

void tp_control_reply_message(tp_supervisor_t *s, const tp_ipc_hdr_t *h, const void *payload,
                              size_t len)
{
    char msg[1024];
    size_t n = len < sizeof(msg) - 1 ? len : sizeof(msg) - 1;
    memcpy(msg, payload, n);
    msg[n] = '\0';
    if (h->flags & TP_IPC_F_RELOAD)
        for (uint32_t i = 0; i < (uint32_t)s->cfg.worker_count; i++)
            if (s->w[i].ready && tp_sup_send_worker(s, i, TP_IPC_RELOAD, 0, NULL, 0) < 0)
                tp_warn("cannot tell worker %u to reload", i);
    tp_notice("%s", msg);
    if (s->ctl_client_len)
        reply_control(s, s->ctl_client, s->ctl_client_len, msg);
    s->ctl_client_len = 0;
}

static json_t *close_json(const tp_ipc_close_t *c, int64_t at)
{
    if (c->round[0] == '\0')
        return json_null();
    return json_pack("{s:s, s:s, s:i, s:i, s:I, s:s?, s:I}", "round", c->round, "next", c->next,
                     "lots", c->lots, "viable", c->viable, "took_ms", (json_int_t)c->took_ms,
                     "error", c->error[0] ? c->error : NULL, "at", (json_int_t)at);
}

/* "status": the supervisor's view as one JSON object (tenderpool status renders it). */
static void reply_status(tp_supervisor_t *s, const uint8_t *id, size_t idlen)
{
    json_t *workers = json_array();
    for (uint32_t i = 0; i < (uint32_t)s->cfg.worker_count; i++) {
        const tp_wproc_t *w = &s->w[i];
        json_array_append_new(
            workers,
            json_pack("{s:i, s:i, s:b, s:i, s:i, s:I, s:I, s:I, s:I, s:I}", "index", (int)i, "pid",
                      (int)w->pid, "ready", w->ready, "restarts",
                      w->starts > 0 ? (int)w->starts - 1 : 0, "crashes_in_a_row", w->crashes,
                      "requests", (json_int_t)w->beat.requests, "open_requests",
                      (json_int_t)w->beat.open, "open_lots", (json_int_t)w->beat.lots, "accepted",
                      (json_int_t)w->beat.accepted, "commits", (json_int_t)w->beat.commits));
    }
    json_t *o = json_pack(
        "{s:s, s:i, s:I, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:o, s:s?, s:o}", "daemon", "running",
        "pid", (int)getpid(), "started_at", (json_int_t)s->started_at, "intake",
        s->cfg.intake_endpoint, "draining", s->draining, "in_flight_items",
        (json_int_t)s->in_flight_items, "messages", (json_int_t)s->n_messages, "dropped_replies",
        (json_int_t)s->n_dropped_replies, "rate_limited_messages", (json_int_t)s->n_rate_limited,
        "rate_limited_members", (json_int_t)tp_rate_limited_members(s, tp_sup_now_ms()), "workers",
        workers, "closing", s->close.active ? s->close.info.round : NULL, "last_close",
        close_json(&s->last_close, s->last_close_at));
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    reply_control(s, id, idlen, text ? text : "error: cannot build the status");
    free(text);
    json_decref(o);
}

void tp_control_message(tp_supervisor_t *s)
{
    zmq_msg_t idm, cm;
    zmq_msg_init(&idm);
    zmq_msg_init(&cm);
    if (zmq_msg_recv(&idm, s->control, ZMQ_DONTWAIT) < 0 || !zmq_msg_more(&idm) ||
        zmq_msg_recv(&cm, s->control, 0) < 0)
        goto out;
    uint8_t id[256];
    size_t idlen = zmq_msg_size(&idm) < sizeof(id) ? zmq_msg_size(&idm) : sizeof(id);
    memcpy(id, zmq_msg_data(&idm), idlen);
    char cmd[512];
    size_t n = zmq_msg_size(&cm) < sizeof(cmd) - 1 ? zmq_msg_size(&cm) : sizeof(cmd) - 1;
    memcpy(cmd, zmq_msg_data(&cm), n);
    cmd[n] = '\0';
    tp_info("control: %.*s", (int)strcspn(cmd, "\n"), cmd);
    if (strcmp(cmd, "close-current") == 0)
        start_close_request(s, id, idlen);
    else if (strcmp(cmd, "ping") == 0)
        reply_control(s, id, idlen, "pong");
    else if (strcmp(cmd, "status") == 0)
        reply_status(s, id, idlen);
    else if (strncmp(cmd, "withdraw ", 9) == 0)
        start_withdraw(s, id, idlen, cmd, n);
    else
        reply_control(s, id, idlen,
                      "error: unknown command (known: close-current, status, withdraw, ping)");
out:
    zmq_msg_close(&idm);
    zmq_msg_close(&cm);
}

/* payload: a whole close message of len bytes (tp_ipc_close_t and its tail) about round */
static void broadcast(tp_supervisor_t *s, tp_ipc_type_t type, const void *payload, size_t len,
                      const char *round)
{
    for (uint32_t i = 0; i < (uint32_t)s->cfg.worker_count; i++)
        if (s->w[i].ready && tp_sup_send_worker(s, i, type, 0, payload, len) < 0)
            tp_warn("cannot tell worker %u about the close of %s", i, round);
}

static void drop_parts(tp_supervisor_t *s)
{
    for (int i = 0; i < TP_MAX_WORKERS; i++) {
        free(s->close.parts[i]);
        s->close.parts[i] = NULL;
        s->close.part_len[i] = 0;
    }
}

/* Every worker is ready: hand worker 0 the close, with every worker's partial aggregates when
 * all of them sent theirs ([u32 length][tail] per worker), else without (it recomputes). */
static void maybe_commit(tp_supervisor_t *s)
{
    uint32_t n = (uint32_t)s->cfg.worker_count;
    uint64_t all = n >= 64 ? ~0ULL : (1ULL << n) - 1;
    if (!s->close.active || s->close.commit_sent || (s->close.ready_mask & all) != all)
        return;
    tp_ipc_close_t c = s->close.info;
    size_t len = sizeof(c);
    c.partial = 1;
    for (uint32_t i = 0; i < n; i++) {
        if (s->close.parts[i] == NULL || s->close.part_len[i] > UINT32_MAX)
            c.partial = 0;
        else
            len += 4 + s->close.part_len[i];
    }
    if (!c.partial)
        len = sizeof(c);
    char *buf = xmalloc(len);
    memcpy(buf, &c, sizeof(c));
    for (uint32_t i = 0, off = sizeof(c); c.partial && i < n; i++) {
        uint32_t pl = (uint32_t)s->close.part_len[i];
        memcpy(buf + off, &pl, 4);
        if (pl)
            memcpy(buf + off + 4, s->close.parts[i], pl);
        off += 4 + pl;
    }
    if (tp_sup_send_worker(s, 0, TP_IPC_CLOSE_COMMIT, 0, buf, len) == 0)
        s->close.commit_sent = true;
    free(buf);
}

static void finish(tp_supervisor_t *s, const tp_ipc_close_t *c)
{
    char msg[512];
    if (c->error[0])
        snprintf(msg, sizeof(msg), "error: close of %s failed: %s", c->round, c->error);
    else
        snprintf(msg, sizeof(msg),
                 "closed round %s: %d lots (%d viable) committed %lld ms after the cutoff; "
                 "round %s open",
                 c->round, c->lots, c->viable, (long long)c->took_ms, c->next);
    if (c->error[0])
        tp_err("%s", msg);
    else
        tp_notice("%s", msg);
    if (s->close.client_len)
        reply_control(s, s->close.client, s->close.client_len, msg);
    tp_metrics_close_done(s->metrics, c);
    if (c->round[0]) {
        s->last_close = *c;
        s->last_close_at = (int64_t)time(NULL);
    }
    drop_parts(s);
    memset(&s->close, 0, sizeof(s->close));
}

void tp_control_close_message(tp_supervisor_t *s, uint32_t worker, const tp_ipc_hdr_t *h,
                              const void *payload, size_t len)
{
    tp_ipc_close_t c;
    const void *tail;
    size_t tail_len;
    if (tp_ipc_close_read(payload, len, &c, &tail, &tail_len) < 0) {
        tp_err("worker %u sent a malformed close message", worker);
        return;
    }
    switch (h->type) {
    case TP_IPC_CLOSE_BEGIN:
        if (worker != 0)
            break;
        s->close.active = true;
        s->close.info = c;
        s->close.ready_mask = 0;
        s->close.commit_sent = false;
        drop_parts(s);
        tp_notice("closing round %s; new assignments go to %s", c.round, c.next);
        broadcast(s, TP_IPC_CLOSE_BEGIN, &c, sizeof(c), c.round);
        break;
    case TP_IPC_CLOSE_READY:
        if (!s->close.active || strcmp(c.round, s->close.info.round) != 0)
            break;
        s->close.ready_mask |= 1ULL << worker;
        free(s->close.parts[worker]);
        s->close.parts[worker] = NULL;
        s->close.part_len[worker] = 0;
        if (c.partial) {
            s->close.parts[worker] = xmalloc(tail_len ? tail_len : 1);
            memcpy(s->close.parts[worker], tail, tail_len);
            s->close.part_len[worker] = tail_len;
        }
        maybe_commit(s);
        break;
    case TP_IPC_CLOSE_DONE:
        if (worker != 0)
            break;
        if (s->close.active && strcmp(c.round, s->close.info.round) != 0) {
            /* worker 0 refused an operator command while its own close runs: answer the
             * operator, leave the running close alone */
            char msg[320];
            snprintf(msg, sizeof(msg), "error: %s", c.error);
            if (s->close.client_len)
                reply_control(s, s->close.client, s->close.client_len, msg);
            s->close.client_len = 0;
            break;
        }
        if (s->close.active)
            broadcast(s, TP_IPC_CLOSE_DONE, payload, len, c.round);
        finish(s, &c);
        break;
    default:
        break;
    }
}

void tp_control_worker_ready(tp_supervisor_t *s, uint32_t worker)
{
    if (s->close.active && tp_sup_send_worker(s, worker, TP_IPC_CLOSE_BEGIN, 0, &s->close.info,
                                              sizeof(s->close.info)) < 0)
        tp_warn("cannot bring worker %u into the close of %s", worker, s->close.info.round);
}

void tp_control_worker_lost(tp_supervisor_t *s, uint32_t worker)
{
    /* its replacement loads its state anew: it must pass the barrier again (BEGIN at HELLO) */
    s->close.ready_mask &= ~(1ULL << worker);
    free(s->close.parts[worker]);
    s->close.parts[worker] = NULL;
    s->close.part_len[worker] = 0;
    if (worker == 0 && s->ctl_client_len) {
        reply_control(s, s->ctl_client, s->ctl_client_len,
                      "error: worker 0 stopped before answering; check the result and try again");
        s->ctl_client_len = 0;
    }
    if (worker != 0 || (!s->close.active && !s->close.client_len))
        return;
    tp_ipc_close_t c = s->close.info;
    c.lots = -1;
    snprintf(c.error, sizeof(c.error),
             "worker 0 stopped during the close; it redoes the close when it restarts");
    c.partial = 0;
    broadcast(s, TP_IPC_CLOSE_DONE, &c, sizeof(c), c.round);
    finish(s, &c);
}
