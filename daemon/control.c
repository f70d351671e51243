/* Control socket (operator commands) and the round-close barrier across the worker processes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    char cmd[64];
    size_t n = zmq_msg_size(&cm) < sizeof(cmd) - 1 ? zmq_msg_size(&cm) : sizeof(cmd) - 1;
    memcpy(cmd, zmq_msg_data(&cm), n);
    cmd[n] = '\0';
    tp_info("control: %s", cmd);
    if (strcmp(cmd, "close-current") == 0)
        start_close_request(s, id, idlen);
    else if (strcmp(cmd, "ping") == 0)
        reply_control(s, id, idlen, "pong");
    else
        reply_control(s, id, idlen, "error: unknown command (known: close-current, ping)");
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
