/* Worker process loop: supervisor messages, the database socket, signals and timers. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "tp_log.h"
#include "tp_mem.h"
#include "tp_pg.h"
#include "tp_worker.h"

#define TP_MAX_GROUP_ITEMS 20000 /* stop reading while a group this large waits */
#define TP_READ_BURST 256
#define TP_CPV_CHECK_MS 5000        /* how often a worker looks for a new CPV import */
#define TP_COMMIT_DEADLINE_MS 60000 /* a commit this slow means a dead server or network */

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tp_now_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int64_t tp_mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

int64_t tp_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void tp_worker_send(tp_worker_t *w, tp_ipc_type_t type, uint64_t token, uint32_t flags,
                    const void *payload, size_t len)
{
    tp_ipc_hdr_t h;
    memset(&h, 0, sizeof(h));
    h.magic = TP_IPC_MAGIC;
    h.type = type;
    h.token = token;
    h.flags = flags;
    h.worker = w->index;
    h.pid = (uint32_t)getpid();
    int more = payload ? ZMQ_SNDMORE : 0;
    if (zmq_send(w->sup, &h, sizeof(h), more) < 0 ||
        (payload && zmq_send(w->sup, payload, len, 0) < 0))
        tp_warn("cannot send to the supervisor: %s", zmq_strerror(errno));
}

/* One line per outage, then one every 30 s: a database down for hours must not flood the log. */
static void db_complain(tp_worker_t *w, const char *err)
{
    int64_t now = tp_mono_ms();
    if (now < w->next_complaint_ms)
        return;
    tp_warn("database: %s (retrying with backoff)", err);
    w->next_complaint_ms = now + 30000;
}

/* The open round as the database records it (an early close may have opened a ".n" round);
 * none covering now: the calendar decides at the next assignment. */
static int load_open_round(tp_worker_t *w)
{
    tp_round_span_t oldest, newest;
    int count = 0;
    time_t now = time(NULL);
    w->round.id[0] = '\0';
    if (tp_store_open_rounds(&w->store, &oldest, &newest, &count) < 0)
        return -1; /* guessing from the calendar could pick a round closed early */
    if (count > 0 && newest.opens_at <= now && now < newest.closes_at) {
        w->round = newest;
        w->round_idx = tp_reqindex_round(w->ix, w->round.id);
    }
    return 0;
}

static int load_pool_line(void *ctx, tp_reqent_t *e, const tp_pool_line_t *line, int carries)
{
    return tp_worker_pool_load(ctx, e, line, carries);
}

static void load_lost(void *ctx, const tp_reqent_t *e)
{
    tp_worker_pool_lost(ctx, "a stored line could not be read", e);
}

int tp_worker_reload_state(tp_worker_t *w)
{
    char err[512];
    tp_reqindex_destroy(&w->ix);
    w->ix = tp_reqindex_new();
    tp_worker_pool_reset(w);
    int64_t t0 = tp_mono_ms();
    tp_store_loader_t ld = {.ix = w->ix,
                            .worker = w->index,
                            .nworkers = w->count,
                            .line = load_pool_line,
                            .lost = load_lost,
                            .ctx = w};
    if (tp_store_load_state(&w->store, &ld, err, sizeof(err)) < 0) {
        db_complain(w, err);
        return -1;
    }
    if (load_open_round(w) < 0) {
        db_complain(w, w->store.last_error);
        return -1;
    }
    if (w->closing)
        w->closing_idx = tp_reqindex_round(w->ix, w->close_info.round);
    w->listed_round[0] = '\0';
    w->ensured_round[0] = '\0';
    tp_info("%zu requests loaded in %lld ms (%zu open in %zu lots)", tp_reqindex_count(w->ix),
            (long long)(tp_mono_ms() - t0), w->lines.live, tp_pool_count(w->pool));
    return 0;
}

static int load_cpv(tp_worker_t *w)
{
    char err[512];
    tp_cpv_set_t *set = tp_cpv_set_new();
    if (tp_store_load_cpv(&w->store, set, err, sizeof(err)) < 0) {
        db_complain(w, err);
        tp_cpv_set_destroy(&set);
        return -1;
    }
    tp_cpv_set_destroy(&w->cpv);
    w->cpv = set;
    return 0;
}

static void doubt_clear(tp_doubt_t *d)
{
    free(d->member_id);
    free(d->request_ref);
    memset(d, 0, sizeof(*d));
}

/* The application_name of the worker's connections (pg_stat_activity shows it). */
static void app_name(const tp_worker_t *w, char *out, size_t n)
{
    snprintf(out, n, "tenderpool-worker-%u", w->index);
}

/* A settle query failed: -1 when the connection is gone (try again later), else 1 (reload:
 * the safe answer when the question cannot be asked). */
static int doubt_unsettled(tp_worker_t *w, const char *err)
{
    if (PQstatus(w->store.qconn) != CONNECTION_OK) {
        db_complain(w, err);
        return -1;
    }
    tp_warn("%s: reloading the state instead", err);
    return 1;
}

/* After a reconnect without state_suspect: did the commit in doubt happen? 0 no (memory is
 * right), 1 yes or unknown (reload), -1 the database failed again. Its server process must
 * be gone first: one still running (a network cut, not a restart) could commit later, so it
 * is terminated (it is this worker's own: same role, same application name) and waited for
 * up to 5 s; if it is still there, the worker reloads. */
static int doubt_settle(tp_worker_t *w)
{
    char pid[16], rev[16], app[64], err[512];
    snprintf(pid, sizeof(pid), "%d", w->doubt.backend_pid);
    snprintf(rev, sizeof(rev), "%u", w->doubt.revision);
    app_name(w, app, sizeof(app));
    const char *p1[] = {pid, app};
    PGresult *r =
        tp_pg_query(w->store.qconn, "commit in doubt: its server process", err, sizeof(err),
                    "SELECT count(*) FROM (SELECT pid FROM pg_stat_activity WHERE pid "
                    "= $1::int AND application_name = $2 OFFSET 0) a WHERE NOT "
                    "pg_terminate_backend(a.pid, 5000)",
                    2, p1);
    if (r == NULL)
        return doubt_unsettled(w, err);
    bool alive = atol(PQgetvalue(r, 0, 0)) > 0;
    PQclear(r);
    if (alive)
        return 1;
    const char *p2[] = {w->doubt.member_id, w->doubt.request_ref, rev};
    r = tp_pg_query(w->store.qconn, "commit in doubt: one of its rows", err, sizeof(err),
                    "SELECT 1 FROM tenderpool.revision WHERE member_id = $1 AND "
                    "request_ref = $2 AND revision = $3",
                    3, p2);
    if (r == NULL)
        return doubt_unsettled(w, err);
    bool stored = PQntuples(r) > 0;
    PQclear(r);
    return stored ? 1 : 0;
}

/* What a new connection does with the index: load it the first time, reload it when memory
 * may be wrong, else keep it (the undecided items were undone and answered RETRY_LATER). */
static int state_after_connect(tp_worker_t *w)
{
    int need = !w->state_loaded || w->state_suspect || w->pool_inexact;
    if (!need && w->doubt.set) {
        need = doubt_settle(w);
        if (need < 0)
            return -1;
        if (need == 0)
            tp_notice("database reconnected: the commit in flight when it dropped did not "
                      "happen; the state in memory is kept");
    } else if (!need) {
        tp_notice("database reconnected: no commit was in flight; the state in memory is kept");
    }
    if (need) {
        w->state_suspect = true; /* until a reload completes: a half-loaded index is wrong */
        if (tp_worker_reload_state(w) < 0)
            return -1;
    }
    doubt_clear(&w->doubt);
    w->state_loaded = true;
    w->state_suspect = false;
    w->listed_round[0] = '\0'; /* the round rows are checked again */
    w->ensured_round[0] = '\0';
    return 0;
}

static int db_connect(tp_worker_t *w)
{
    char err[512], app[64];
    app_name(w, app, sizeof(app));
    if (tp_store_connect(&w->store, w->cfg.dsn, app, err, sizeof(err)) < 0 ||
        tp_store_check_schema(&w->store, err, sizeof(err)) < 0) {
        db_complain(w, err);
        tp_store_disconnect(&w->store);
        return -1;
    }
    if (state_after_connect(w) < 0) {
        tp_store_disconnect(&w->store);
        return -1;
    }
    if (load_cpv(w) < 0) {
        tp_store_disconnect(&w->store);
        return -1;
    }
    if (tp_cpv_set_count(w->cpv) == 0 && w->index == 0)
        tp_warn("no CPV list imported ('tenderpool cpv import'): only the format of CPV codes "
                "is checked");
    tp_info("database connected; %zu CPV codes", tp_cpv_set_count(w->cpv));
    return 0;
}

/* An import on a running daemon is picked up within TP_CPV_CHECK_MS. */
static void refresh_cpv(tp_worker_t *w)
{
    long n;
    if (!tp_store_up(&w->store) || tp_mono_ms() < w->next_cpv_check_ms)
        return;
    w->next_cpv_check_ms = tp_mono_ms() + TP_CPV_CHECK_MS;
    if (tp_store_cpv_count(&w->store, &n) < 0 || (size_t)n == tp_cpv_set_count(w->cpv))
        return;
    if (load_cpv(w) == 0)
        tp_notice("CPV list reloaded: %zu codes", tp_cpv_set_count(w->cpv));
}

/* Drop the connections; state_suspect is set by the caller when memory may be wrong. */
static void db_drop(tp_worker_t *w)
{
    tp_worker_fail_all(w, "DB_UNAVAILABLE", "database unavailable; resend later");
    tp_store_disconnect(&w->store);
    w->backoff_ms = w->backoff_ms ? (w->backoff_ms * 2 > 5000 ? 5000 : w->backoff_ms * 2) : 100;
    w->retry_at_ms = tp_mono_ms() + w->backoff_ms;
}

void tp_worker_db_down(tp_worker_t *w)
{
    w->state_suspect = true;
    doubt_clear(&w->doubt); /* the reload settles it */
    db_drop(w);
}

void tp_worker_db_lost(tp_worker_t *w, bool in_flight)
{
    if (in_flight && !w->state_suspect) {
        const tp_group_t *g = &w->groups[!w->building];
        const tp_item_t *it = NULL;
        for (size_t i = 0; i < g->n && it == NULL; i++)
            if (g->items[i].outcome == TP_OUT_WRITE)
                it = &g->items[i];
        doubt_clear(&w->doubt);
        if (it == NULL) {
            w->state_suspect = true;
        } else {
            w->doubt = (tp_doubt_t){.set = true,
                                    .backend_pid = PQbackendPID(w->store.wconn),
                                    .member_id = xstrdup(it->req.member_id),
                                    .request_ref = xstrdup(it->req.request_ref),
                                    .revision = it->req.revision};
        }
    }
    db_drop(w);
}

static void db_retry(tp_worker_t *w)
{
    if (tp_store_up(&w->store) || tp_mono_ms() < w->retry_at_ms)
        return;
    if (db_connect(w) == 0) {
        w->backoff_ms = 0;
        w->next_complaint_ms = 0;
        return;
    }
    w->backoff_ms = w->backoff_ms ? (w->backoff_ms * 2 > 5000 ? 5000 : w->backoff_ms * 2) : 100;
    w->retry_at_ms = tp_mono_ms() + w->backoff_ms;
}

static void on_db_ready(tp_worker_t *w)
{
    if (!w->committing) {
        /* idle connection readable: a notice or the server going away */
        if (!PQconsumeInput(w->store.wconn) || PQstatus(w->store.wconn) != CONNECTION_OK) {
            tp_warn("database connection lost");
            tp_worker_db_lost(w, false);
            return;
        }
        tp_store_idle(&w->store); /* the end of the previous commit, if it was pending */
        return;
    }
    tp_commit_result_t res = tp_store_commit_poll(&w->store);
    if (res == TP_COMMIT_PENDING)
        return;
    if (res == TP_COMMIT_LOST) {
        tp_warn("database connection lost during a commit: %s", w->store.last_error);
        tp_worker_db_lost(w, true); /* settled on reconnect: one of its rows, or a reload */
        return;
    }
    if (res == TP_COMMIT_FAILED && strcmp(w->store.last_sqlstate, "23505") == 0) {
        tp_err("unique violation on commit: reloading state from the database");
        tp_worker_db_down(w);
        return;
    }
    tp_worker_commit_done(w, res);
}

/* One supervisor message: [header][payload?]. */
static void on_sup_message(tp_worker_t *w)
{
    zmq_msg_t hm, pm;
    zmq_msg_init(&hm);
    zmq_msg_init(&pm);
    if (zmq_msg_recv(&hm, w->sup, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&hm);
        zmq_msg_close(&pm);
        return;
    }
    bool has_payload = zmq_msg_more(&hm);
    if (has_payload)
        zmq_msg_recv(&pm, w->sup, 0);
    while (zmq_msg_more(has_payload ? &pm : &hm)) { /* drop unexpected extra frames */
        zmq_msg_t x;
        zmq_msg_init(&x);
        zmq_msg_recv(&x, w->sup, 0);
        int more = zmq_msg_more(&x);
        zmq_msg_close(&x);
        if (!more)
            break;
    }
    tp_ipc_hdr_t h;
    uint32_t *idx = NULL;
    if (tp_ipc_hdr_check(zmq_msg_data(&hm), zmq_msg_size(&hm), &h, &idx) < 0) {
        tp_err("invalid message from the supervisor ignored");
    } else if (h.type == TP_IPC_BATCH) {
        tp_worker_handle_batch(w, &h, idx, zmq_msg_data(&pm), zmq_msg_size(&pm));
    } else if (h.type == TP_IPC_STATUS) {
        tp_worker_handle_status(w, &h, zmq_msg_data(&pm), zmq_msg_size(&pm));
    } else if (h.type == TP_IPC_CONTROL) {
        tp_worker_handle_control(w, zmq_msg_data(&pm), zmq_msg_size(&pm));
    } else if (h.type == TP_IPC_CLOSE_BEGIN || h.type == TP_IPC_CLOSE_COMMIT ||
               h.type == TP_IPC_CLOSE_DONE) {
        tp_worker_handle_close(w, &h, zmq_msg_data(&pm), zmq_msg_size(&pm));
    } else if (h.type == TP_IPC_RELOAD) {
        w->reload_pending = true; /* an operator change moved requests: take the database's word */
    } else {
        tp_err("unexpected message type %u from the supervisor", h.type);
    }
    free(idx);
    zmq_msg_close(&hm);
    zmq_msg_close(&pm);
}

/* SIGHUP from the supervisor after it reloaded: take the reloadable keys the workers use
 * (pooling settings for the closes worker 0 commits, log level); a bad file was already
 * reported by the supervisor, which did not signal then. */
static void reload_config(tp_worker_t *w)
{
    tp_config_t next;
    char err[600];
    tp_config_defaults(&next);
    if (tp_config_load(&next, w->config_path, err, sizeof(err)) < 0) {
        tp_warn("reload refused, the running configuration stays: %s", err);
        return;
    }
    w->cfg.min_members = next.min_members;
    w->cfg.max_carry_over = next.max_carry_over;
    w->cfg.max_batch_items = next.max_batch_items;
    w->cfg.log_level = next.log_level;
    tp_log_set_level(next.log_level);
    tp_info("configuration reloaded (min_members %d, max_carry_over %d)", w->cfg.min_members,
            w->cfg.max_carry_over);
}

static void on_signal(tp_worker_t *w)
{
    struct signalfd_siginfo si;
    while (read(w->sigfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            reload_config(w);
        } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            if (!w->stopping)
                tp_info("stopping: finishing the running commits");
            w->stopping = true;
        }
    }
}

static int setup(tp_worker_t *w)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    w->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (w->sigfd < 0)
        return -1;
    w->zctx = zmq_ctx_new();
    w->sup = zmq_socket(w->zctx, ZMQ_DEALER);
    char id[16];
    int n = snprintf(id, sizeof(id), "w%u", w->index);
    int hwm = 0, linger = 2000;
    zmq_setsockopt(w->sup, ZMQ_ROUTING_ID, id, (size_t)n);
    zmq_setsockopt(w->sup, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(w->sup, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(w->sup, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_connect(w->sup, w->sup_endpoint) < 0) {
        tp_err("cannot connect to the supervisor at %s: %s", w->sup_endpoint, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* Worker 0 lists each round in tenderpool.rounds from the moment it opens, traffic or not. */
static void open_round_row(tp_worker_t *w)
{
    if (w->index != 0 || !tp_store_up(&w->store))
        return;
    tp_worker_refresh_round(w, time(NULL));
    if (strcmp(w->round.id, w->listed_round) == 0)
        return;
    if (tp_store_ensure_round(&w->store, &w->round) < 0) {
        db_complain(w, w->store.last_error);
        return;
    }
    snprintf(w->listed_round, sizeof(w->listed_round), "%s", w->round.id);
    tp_info("round %s open", w->round.id);
}

/* The figures `tenderpool status` shows and the counters the metrics add up. */
static void send_heartbeat(tp_worker_t *w)
{
    tp_ipc_beat_t beat = {.requests = tp_reqindex_count(w->ix),
                          .open = w->lines.live,
                          .lots = tp_pool_count(w->pool),
                          .accepted = w->n_accepted,
                          .commits = w->n_commits,
                          .db_up = tp_store_up(&w->store),
                          .counts = w->counts};
    tp_worker_send(w, TP_IPC_HEARTBEAT, 0, 0, &beat, sizeof(beat));
}

static bool idle(const tp_worker_t *w)
{
    return !w->committing && w->groups[w->building].n == 0;
}

int tp_worker_run(tp_worker_t *w)
{
    if (setup(w) < 0)
        return -1;
    while (!tp_store_up(&w->store) && !w->stopping) {
        db_retry(w);
        struct pollfd p = {.fd = w->sigfd, .events = POLLIN};
        poll(&p, 1, 100);
        if (p.revents)
            on_signal(w);
    }
    if (w->stopping)
        return 0;
    open_round_row(w);
    tp_worker_send(w, TP_IPC_HELLO, 0, 0, NULL, 0);
    send_heartbeat(w); /* its figures (database up) from the start, not a second later */
    w->next_heartbeat_ms = tp_mono_ms() + 1000;
    while (!(w->stopping && idle(w))) {
        zmq_pollitem_t items[3];
        int ndb = tp_store_fd(&w->store);
        if (w->reload_pending && idle(w)) {
            w->reload_pending = false;
            w->closing = false;
            if (tp_worker_reload_state(w) < 0)
                tp_worker_db_down(w);
        }
        /* a pending reload waits for the groups to drain: read nothing new meanwhile */
        bool full = w->groups[w->building].n >= TP_MAX_GROUP_ITEMS || w->reload_pending;
        items[0] = (zmq_pollitem_t){.socket = w->sup, .events = full ? 0 : ZMQ_POLLIN};
        items[1] = (zmq_pollitem_t){.fd = w->sigfd, .events = ZMQ_POLLIN};
        items[2] = (zmq_pollitem_t){
            .fd = ndb < 0 ? w->sigfd : ndb,
            .events =
                ndb < 0 ? 0 : ZMQ_POLLIN | (tp_store_wants_write(&w->store) ? ZMQ_POLLOUT : 0)};
        long timeout = !tp_store_up(&w->store) ? 100 : w->committing ? 20 : 1000;
        int64_t gather = tp_worker_gather_us(w, tp_mono_us());
        if (gather > 0) /* zmq_poll counts in ms: wake up at the end of the gathering */
            timeout = (long)((gather + 999) / 1000);
        if (zmq_poll(items, 3, timeout) < 0 && errno != EINTR) {
            tp_err("poll: %s", zmq_strerror(errno));
            return -1;
        }
        if (items[1].revents)
            on_signal(w);
        if ((items[2].revents || w->committing) && tp_store_up(&w->store))
            on_db_ready(w);
        if (items[0].revents & ZMQ_POLLIN)
            for (int i = 0; i < TP_READ_BURST && w->groups[w->building].n < TP_MAX_GROUP_ITEMS;
                 i++) {
                int ev = 0;
                size_t evlen = sizeof(ev);
                zmq_getsockopt(w->sup, ZMQ_EVENTS, &ev, &evlen);
                if (!(ev & ZMQ_POLLIN))
                    break;
                on_sup_message(w);
            }
        if (tp_store_up(&w->store))
            tp_worker_maybe_commit(w);
        else
            db_retry(w);
        tp_worker_close_progress(w);
        if (w->committing && tp_mono_ms() - w->commit_started_ms > TP_COMMIT_DEADLINE_MS) {
            tp_err("commit running for over %d s: resetting the database connection",
                   TP_COMMIT_DEADLINE_MS / 1000);
            tp_worker_db_down(w);
        }
        if (tp_mono_ms() >= w->next_heartbeat_ms) {
            open_round_row(w);
            refresh_cpv(w);
            tp_worker_close_tick(w);
            send_heartbeat(w);
            w->next_heartbeat_ms = tp_mono_ms() + 1000;
        }
    }
    tp_info("stopped: %llu requests accepted in %llu commits", (unsigned long long)w->n_accepted,
            (unsigned long long)w->n_commits);
    send_heartbeat(w); /* the last answers' counts, for a supervisor still serving metrics */
    zmq_close(w->sup); /* with its linger: the last acks leave before the process exits */
    zmq_ctx_term(w->zctx);
    tp_store_disconnect(&w->store);
    return 0;
}
