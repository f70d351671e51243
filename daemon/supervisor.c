/* Supervisor loop: bind, start workers, route traffic, handle signals, drain on SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <zmq.h>

#include "tp_log.h"
#include "tp_supervisor.h"

#define TP_READ_BURST 512
#define TP_DRAIN_MS 25000 /* finish in-flight work within the unit's stop timeout */
/* A ready worker silent for [workers] heartbeat_timeout (default 90 s: a state reload after a
 * close blocks ~10 s per million requests) is hung: killed, restarted. */
#define TP_STATUS_MS 5000 /* STATUS= for systemd this often */

static int mkdir_p(const char *path)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int setup_signals(tp_supervisor_t *s)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGQUIT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    return s->sigfd < 0 ? -1 : 0;
}

static int setup_worker_socket(tp_supervisor_t *s)
{
    if (mkdir_p(s->cfg.runtime_dir) < 0) {
        tp_err("cannot create runtime directory %s: %s", s->cfg.runtime_dir, strerror(errno));
        return -1;
    }
    snprintf(s->worker_endpoint, sizeof(s->worker_endpoint), "ipc://%s/workers.%d",
             s->cfg.runtime_dir, (int)getpid());
    s->wsock = zmq_socket(s->zctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    zmq_setsockopt(s->wsock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    zmq_setsockopt(s->wsock, ZMQ_ROUTER_HANDOVER, &one, sizeof(one));
    zmq_setsockopt(s->wsock, ZMQ_SNDHWM, &zero, sizeof(zero));
    zmq_setsockopt(s->wsock, ZMQ_RCVHWM, &zero, sizeof(zero));
    zmq_setsockopt(s->wsock, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_bind(s->wsock, s->worker_endpoint) < 0) {
        tp_err("cannot bind %s: %s", s->worker_endpoint, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static int setup_intake(tp_supervisor_t *s)
{
    s->intake = zmq_socket(s->zctx, ZMQ_ROUTER);
    int one = 1, hwm = 100000, linger = 0;
    int64_t maxmsg = s->cfg.max_message_bytes;
    zmq_setsockopt(s->intake, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    zmq_setsockopt(s->intake, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    zmq_setsockopt(s->intake, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s->intake, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s->intake, ZMQ_LINGER, &linger, sizeof(linger));
    int handshake_ms = 10000; /* a peer that never completes its handshake is dropped */
    zmq_setsockopt(s->intake, ZMQ_HANDSHAKE_IVL, &handshake_ms, sizeof(handshake_ms));
    if (tp_auth_setup(s, s->intake) < 0)
        return -1;
    if (zmq_bind(s->intake, s->cfg.intake_endpoint) < 0) {
        tp_err("cannot bind the intake %s: %s", s->cfg.intake_endpoint, zmq_strerror(errno));
        return -1;
    }
    tp_notice("intake listening on %s (security %s)", s->cfg.intake_endpoint,
              s->cfg.security_mode == TP_SECURITY_NONE ? "none" : "curve");
    return 0;
}

static void reload(tp_supervisor_t *s)
{
    tp_config_t next;
    char err[600], changed[512];
    sd_notify(0, "RELOADING=1");
    tp_config_defaults(&next);
    if (tp_config_load(&next, s->config_path, err, sizeof(err)) < 0) {
        tp_err("reload refused, the running configuration stays: %s", err);
        sd_notify(0, "READY=1");
        return;
    }
    tp_config_restart_needed(&s->cfg, &next, changed, sizeof(changed));
    if (changed[0])
        tp_warn("reload: %s changed; these take effect after a restart", changed);
    s->cfg.max_batch_items = next.max_batch_items;
    s->cfg.max_in_flight = next.max_in_flight;
    s->cfg.member_rate = next.member_rate;
    s->cfg.member_burst = next.member_burst;
    s->cfg.log_level = next.log_level;
    s->cfg.heartbeat_timeout_s = next.heartbeat_timeout_s;
    tp_log_set_level(next.log_level);
    tp_notice("configuration reloaded from %s", s->config_path);
    tp_wproc_signal_all(s, SIGHUP); /* the workers take their reloadable keys too */
    sd_notify(0, "READY=1");
}

static void start_drain(tp_supervisor_t *s)
{
    if (s->draining)
        return;
    s->draining = true;
    s->drain_deadline_ms = tp_sup_now_ms() + TP_DRAIN_MS;
    sd_notify(0, "STOPPING=1");
    tp_notice("draining: intake closed to new messages, finishing %d pending ones", s->npend);
    /* Stop reading but keep the socket bound: unbinding would also close the connections
     * it accepted, and the replies of the pending messages must still reach their clients.
     * What clients send from now on is never read, so never acked: they resend later. */
}

/* Returns -1 when the process must exit at once. */
static int on_signals(tp_supervisor_t *s)
{
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            tp_wproc_reap(s);
            break;
        case SIGHUP:
            reload(s);
            break;
        case SIGQUIT:
            tp_warn("SIGQUIT: exiting now (only unacknowledged items are lost)");
            return -1;
        default: /* SIGTERM, SIGINT */
            if (s->draining) {
                tp_warn("second stop signal: exiting now (only unacknowledged items are lost)");
                return -1;
            }
            start_drain(s);
        }
    }
    return 0;
}

/* Kill hung workers; then, the workers checked, tell systemd's watchdog this process is
 * alive (WATCHDOG=1 at half the unit's WatchdogSec; nothing without a watchdog). */
static void check_heartbeats(tp_supervisor_t *s)
{
    int64_t now = tp_sup_now_ms(), limit = (int64_t)s->cfg.heartbeat_timeout_s * 1000;
    for (int i = 0; i < s->cfg.worker_count; i++) {
        tp_wproc_t *w = &s->w[i];
        bool closing = i == 0 && s->close.commit_sent; /* a SQL close blocks worker 0 */
        if (w->pid && w->ready && !closing && now - w->last_seen_ms > limit) {
            tp_err("worker %d (pid %d) silent for %lld ms: killing it", i, (int)w->pid,
                   (long long)(now - w->last_seen_ms));
            kill(w->pid, SIGKILL);
            w->last_seen_ms = now;
        }
    }
    if (s->watchdog_usec && now >= s->next_watchdog_ms) {
        sd_notify(0, "WATCHDOG=1");
        s->next_watchdog_ms = now + (int64_t)(s->watchdog_usec / 2000);
    }
}

/* STATUS= for `systemctl status`: open round, workers, intake rate, restarts. */
static void notify_status(tp_supervisor_t *s)
{
    int64_t now = tp_sup_now_ms();
    if (now < s->next_status_ms)
        return;
    int ready = 0, restarts = 0;
    uint64_t accepted = 0;
    for (int i = 0; i < s->cfg.worker_count; i++) {
        ready += s->w[i].ready;
        restarts += s->w[i].starts > 0 ? (int)s->w[i].starts - 1 : 0;
        accepted += s->w[i].beat.accepted;
    }
    double secs = s->status_at_ms ? (double)(now - s->status_at_ms) / 1000.0 : 0;
    double rate = secs > 0 && accepted >= s->status_accepted
                      ? (double)(accepted - s->status_accepted) / secs
                      : 0;
    sd_notifyf(0,
               "STATUS=%s; workers %d/%d ready, %d restarts; %.0f requests/s accepted; %lld "
               "in flight%s",
               s->close.active ? "closing a round" : "accepting", ready, s->cfg.worker_count,
               restarts, rate, (long long)s->in_flight_items, s->draining ? "; draining" : "");
    s->status_at_ms = now;
    s->status_accepted = accepted;
    s->next_status_ms = now + TP_STATUS_MS;
}

static void drain_step(tp_supervisor_t *s)
{
    if (!s->stopping_workers && (s->npend == 0 || tp_sup_now_ms() > s->drain_deadline_ms)) {
        if (s->npend)
            tp_warn("drain timeout: %d messages unanswered (their items were not acked)", s->npend);
        s->stopping_workers = true;
        tp_wproc_signal_all(s, SIGTERM);
    }
}

static void drain_socket(void *sock, int max, void (*fn)(tp_supervisor_t *), tp_supervisor_t *s)
{
    for (int i = 0; i < max; i++) {
        int ev = 0;
        size_t len = sizeof(ev);
        zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &len);
        if (!(ev & ZMQ_POLLIN))
            break;
        fn(s);
    }
}

static int poll_once(tp_supervisor_t *s, long timeout_ms)
{
    tp_metrics_publish(s); /* what changed since the last turn, before waiting */
    void *zap = tp_auth_zap_socket(s);
    int dbfd = tp_auth_db_fd(s);
    zmq_pollitem_t items[6] = {
        {.socket = s->wsock, .events = ZMQ_POLLIN},
        {.fd = s->sigfd, .events = ZMQ_POLLIN},
        {.socket = s->control, .events = s->control ? ZMQ_POLLIN : 0},
        {.socket = s->intake, .events = s->intake && !s->draining ? ZMQ_POLLIN : 0},
        {.socket = zap, .fd = zap ? 0 : s->sigfd, .events = zap ? ZMQ_POLLIN : 0},
        {.fd = dbfd >= 0 ? dbfd : s->sigfd, .events = dbfd >= 0 ? ZMQ_POLLIN : 0},
    };
    if (zmq_poll(items, 6, timeout_ms) < 0 && errno != EINTR) {
        tp_err("poll: %s", zmq_strerror(errno));
        return -1;
    }
    if (items[1].revents && on_signals(s) < 0)
        return -1;
    if (items[4].revents) /* handshakes first: a member waits for its ZAP answer */
        drain_socket(zap, 64, tp_auth_zap, s);
    if (items[0].revents)
        drain_socket(s->wsock, TP_READ_BURST, tp_route_worker_message, s);
    if (s->control && items[2].revents)
        drain_socket(s->control, 16, tp_control_message, s);
    if (s->intake && !s->draining && items[3].revents)
        drain_socket(s->intake, TP_READ_BURST, tp_route_client_message, s);
    tp_auth_tick(s, dbfd >= 0 && items[5].revents);
    tp_wproc_restart_due(s);
    check_heartbeats(s);
    notify_status(s);
    return 0;
}

static int wait_workers_ready(tp_supervisor_t *s)
{
    int64_t next_note = tp_sup_now_ms() + 10000;
    while (!tp_wproc_all_ready(s)) {
        if (poll_once(s, 100) < 0 || s->draining)
            return -1;
        if (tp_sup_now_ms() > next_note) {
            tp_warn("still waiting for workers to be ready (database reachable? migrated?)");
            next_note = tp_sup_now_ms() + 10000;
        }
    }
    return 0;
}

static void shutdown_all(tp_supervisor_t *s)
{
    tp_wproc_signal_all(s, SIGTERM);
    if (s->intake) {
        int linger = 2000; /* let the last replies leave */
        zmq_setsockopt(s->intake, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_close(s->intake);
    }
    if (s->wsock)
        zmq_close(s->wsock);
    if (s->control)
        zmq_close(s->control);
    tp_auth_close(s);
    tp_rate_free(s);
    tp_metrics_stop(s);
    zmq_ctx_term(s->zctx);
    char path[600];
    snprintf(path, sizeof(path), "%s", s->worker_endpoint + strlen("ipc://"));
    unlink(path);
}

int tp_supervisor_run(tp_supervisor_t *s)
{
    s->free_head = -1;
    s->started_at = (int64_t)time(NULL);
    if (sd_watchdog_enabled(0, &s->watchdog_usec) <= 0)
        s->watchdog_usec = 0;
    s->zctx = zmq_ctx_new();
    if (setup_signals(s) < 0 || setup_worker_socket(s) < 0 || tp_metrics_start(s) < 0) {
        shutdown_all(s);
        return -1;
    }
    for (uint32_t i = 0; i < (uint32_t)s->cfg.worker_count; i++)
        if (tp_wproc_spawn(s, i) < 0) {
            shutdown_all(s);
            return -1;
        }
    if (wait_workers_ready(s) < 0 || tp_control_setup(s) < 0 || setup_intake(s) < 0) {
        s->stopping_workers = true;
        shutdown_all(s);
        return -1;
    }
    sd_notifyf(0, "READY=1\nSTATUS=accepting on %s with %d workers", s->cfg.intake_endpoint,
               s->cfg.worker_count);
    int rc = 0;
    for (;;) {
        if (poll_once(s, 100) < 0) {
            rc = s->draining ? 0 : -1;
            s->stopping_workers = true;
            break;
        }
        if (s->draining) {
            drain_step(s);
            if (s->stopping_workers && tp_wproc_running(s) == 0)
                break;
        }
    }
    tp_notice("stopped: %llu messages received, %llu replies dropped",
              (unsigned long long)s->n_messages, (unsigned long long)s->n_dropped_replies);
    shutdown_all(s);
    return rc;
}
