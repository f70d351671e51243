/* Metrics and health over HTTP on [metrics] listen: Prometheus text format 0.0.4 (/metrics),
 * /healthz and /readyz. The supervisor loop publishes a snapshot under a mutex; libmicrohttpd's
 * thread renders from that snapshot only and must never read tp_supervisor_t. */
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "tp_log.h"
#include "tp_mem.h"
#include "tp_supervisor.h"

#define TP_METRICS_PUBLISH_MS 100  /* the snapshot is this fresh at most */
#define TP_METRICS_MEMBERS_MS 1000 /* counting rate-limited members walks every bucket */
#define TP_HEALTH_STALE_MS 5000    /* no snapshot for this long: the loop is stuck */
#define TP_NCLOSE 11

static const int64_t close_bounds_ms[TP_NCLOSE] = {50,   100,  200,   300,   500,  1000,
                                                   2000, 5000, 10000, 30000, 60000};

/* tenderpool.v1.Status values as label values (0, UNSPECIFIED, is never answered) */
static const char *const status_names[TP_IPC_NSTATUS] = {NULL,    "accepted", "duplicate",
                                                         "stale", "rejected", "retry_later"};

typedef struct snap_worker {
    int pid; /* 0: not running */
    bool ready;
    bool db_up;
    uint32_t restarts;
    uint64_t open;
    tp_ipc_counts_t counts; /* its dead processes' and the running one's */
} snap_worker_t;

typedef struct tp_metrics_snap {
    int64_t taken_ms; /* monotonic (tp_sup_now_ms) */
    int64_t started_at;
    bool intake_open, draining;
    int workers;
    uint64_t messages, dropped_replies, rate_limited, rate_limited_members;
    int64_t in_flight, pending;
    uint64_t rounds_closed, close_failures;
    uint64_t close_in[TP_NCLOSE + 1];
    int64_t close_ms_sum, last_close_ms; /* last: -1 when no round closed yet */
    tp_ipc_counts_t own;                 /* acks the supervisor decided itself */
    snap_worker_t w[TP_MAX_WORKERS];
} tp_metrics_snap_t;

struct tp_metrics {
    struct MHD_Daemon *httpd;
    pthread_mutex_t lock;
    tp_metrics_snap_t pub; /* guarded by lock: all the HTTP thread reads */
    /* the supervisor loop's own, below */
    tp_metrics_snap_t next;
    int64_t next_publish_ms, next_members_ms;
    uint64_t readiness; /* readiness() at the last publication */
    uint64_t rate_limited_members;
    tp_ipc_counts_t own;
    uint64_t rounds_closed, close_failures;
    uint64_t close_in[TP_NCLOSE + 1];
    int64_t close_ms_sum, last_close_ms;
};

/* ---- the supervisor loop's side ---- */

void tp_metrics_acks(tp_metrics_t *m, int status, const char *code, uint64_t n)
{
    if (m)
        tp_ipc_counts_ack(&m->own, status, code, n);
}

void tp_metrics_close_done(tp_metrics_t *m, const tp_ipc_close_t *c)
{
    if (m == NULL || c->round[0] == '\0') /* "" : a refused command, no close began */
        return;
    if (c->error[0]) {
        m->close_failures++;
        return;
    }
    int i = 0;
    while (i < TP_NCLOSE && c->took_ms > close_bounds_ms[i])
        i++;
    m->close_in[i]++;
    m->rounds_closed++;
    m->close_ms_sum += c->took_ms;
    m->last_close_ms = c->took_ms;
}

void tp_metrics_worker_retired(tp_wproc_t *w)
{
    tp_ipc_counts_add(&w->retired, &w->beat.counts);
    memset(&w->beat.counts, 0, sizeof(w->beat.counts));
    w->beat.db_up = 0;
}

static void fill_workers(const tp_supervisor_t *s, tp_metrics_snap_t *sn)
{
    for (int i = 0; i < s->cfg.worker_count; i++) {
        const tp_wproc_t *w = &s->w[i];
        snap_worker_t *o = &sn->w[i];
        o->pid = (int)w->pid;
        o->ready = w->ready;
        o->db_up = w->pid != 0 && w->beat.db_up != 0;
        o->restarts = w->starts > 0 ? w->starts - 1 : 0;
        o->open = w->beat.open;
        o->counts = w->retired;
        tp_ipc_counts_add(&o->counts, &w->beat.counts);
    }
}

static void fill(const tp_supervisor_t *s, tp_metrics_t *m, int64_t now, tp_metrics_snap_t *sn)
{
    if (now >= m->next_members_ms) {
        m->rate_limited_members = tp_rate_limited_members(s, now);
        m->next_members_ms = now + TP_METRICS_MEMBERS_MS;
    }
    sn->taken_ms = now;
    sn->started_at = s->started_at;
    sn->intake_open = s->intake != NULL;
    sn->draining = s->draining;
    sn->workers = s->cfg.worker_count;
    sn->messages = s->n_messages;
    sn->dropped_replies = s->n_dropped_replies;
    sn->rate_limited = s->n_rate_limited;
    sn->rate_limited_members = m->rate_limited_members;
    sn->in_flight = s->in_flight_items;
    sn->pending = s->npend;
    sn->rounds_closed = m->rounds_closed;
    sn->close_failures = m->close_failures;
    memcpy(sn->close_in, m->close_in, sizeof(sn->close_in));
    sn->close_ms_sum = m->close_ms_sum;
    sn->last_close_ms = m->last_close_ms;
    sn->own = m->own;
    fill_workers(s, sn);
}

/* What /readyz answers from: a change is published at once, counters every 100 ms. */
static uint64_t readiness(const tp_supervisor_t *s)
{
    uint64_t ready = 0;
    for (int i = 0; i < s->cfg.worker_count; i++)
        ready |= (uint64_t)s->w[i].ready << i;
    return ready ^ ((uint64_t)(s->intake != NULL) << 62) ^ ((uint64_t)s->draining << 63);
}

void tp_metrics_publish(tp_supervisor_t *s)
{
    tp_metrics_t *m = s->metrics;
    int64_t now = tp_sup_now_ms();
    if (m == NULL || m->httpd == NULL || (now < m->next_publish_ms && readiness(s) == m->readiness))
        return;
    m->readiness = readiness(s);
    m->next_publish_ms = now + TP_METRICS_PUBLISH_MS;
    fill(s, m, now, &m->next);
    pthread_mutex_lock(&m->lock);
    m->pub = m->next;
    pthread_mutex_unlock(&m->lock);
}

/* ---- rendering (HTTP thread, from a copy of the snapshot) ---- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *help, double v)
{
    family(f, name, type, help);
    fprintf(f, "%s %.17g\n", name, v);
}

/* in: per-bucket counts (n bounds, then the overflow), bounds in 1/unit seconds */
static void histogram(FILE *f, const char *name, const char *help, const int64_t *bounds, int n,
                      double unit, const uint64_t *in, double sum_s)
{
    family(f, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < n; i++) {
        cum += in[i];
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds[i] / unit,
                (unsigned long long)cum);
    }
    cum += in[n];
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
            (unsigned long long)cum, name, sum_s, name, (unsigned long long)cum);
}

/* Why the daemon is not ready, NULL when it is. */
static const char *not_ready(const tp_metrics_snap_t *sn, int64_t now, char *buf, size_t len)
{
    if (now - sn->taken_ms > TP_HEALTH_STALE_MS)
        return "supervisor loop stalled";
    if (sn->draining)
        return "draining";
    if (!sn->intake_open)
        return "starting: intake not open yet";
    for (int i = 0; i < sn->workers; i++)
        if (!sn->w[i].ready) {
            snprintf(buf, len, "worker %d not ready", i);
            return buf;
        }
    return NULL;
}

static void render_intake(FILE *f, const tp_metrics_snap_t *sn)
{
    tp_ipc_counts_t all = sn->own;
    for (int i = 0; i < sn->workers; i++)
        tp_ipc_counts_add(&all, &sn->w[i].counts);
    one(f, "tenderpool_messages_received_total", "counter",
        "Client messages (batches and status queries) read from the intake.", (double)sn->messages);
    family(f, "tenderpool_requests_total", "counter",
           "Items answered, by ack status (workers' answers and the supervisor's own).");
    for (int i = 1; i < TP_IPC_NSTATUS; i++)
        fprintf(f, "tenderpool_requests_total{status=\"%s\"} %llu\n", status_names[i],
                (unsigned long long)all.status[i]);
    family(f, "tenderpool_request_errors_total", "counter",
           "Items answered REJECTED or RETRY_LATER, by error code.");
    for (int i = 0; i < TP_IPC_NCODES; i++)
        fprintf(f, "tenderpool_request_errors_total{code=\"%s\"} %llu\n", tp_ipc_code_names[i],
                (unsigned long long)all.code[i]);
    one(f, "tenderpool_replies_dropped_total", "counter",
        "Replies not delivered: client gone or not reading.", (double)sn->dropped_replies);
    one(f, "tenderpool_rate_limited_messages_total", "counter",
        "Messages answered RATE_LIMITED ([limits] member_rate).", (double)sn->rate_limited);
    one(f, "tenderpool_rate_limited_members", "gauge",
        "Members rate-limited during the last second.", (double)sn->rate_limited_members);
    one(f, "tenderpool_in_flight_items", "gauge",
        "Items sent to workers and not answered yet ([limits] max_in_flight).",
        (double)sn->in_flight);
    one(f, "tenderpool_pending_messages", "gauge", "Client messages waiting for their answers.",
        (double)sn->pending);
    one(f, "tenderpool_group_commits_total", "counter",
        "Group commits (one COPY transaction each) that succeeded.", (double)all.commits);
    histogram(f, "tenderpool_group_commit_duration_seconds",
              "Duration of the successful group commits, from COPY to COMMIT.",
              tp_ipc_lat_bounds_us, TP_IPC_NLAT, 1e6, all.commit_in, (double)all.commit_us / 1e6);
}

static void render_rounds(FILE *f, const tp_metrics_snap_t *sn)
{
    uint64_t open = 0;
    for (int i = 0; i < sn->workers; i++)
        open += sn->w[i].open;
    one(f, "tenderpool_open_requests", "gauge",
        "Open and carried-over requests pooled in the workers' memory (at their last heartbeat).",
        (double)open);
    one(f, "tenderpool_rounds_closed_total", "counter", "Rounds closed (lots committed).",
        (double)sn->rounds_closed);
    one(f, "tenderpool_round_close_failures_total", "counter",
        "Round closes that began and failed (retried later).", (double)sn->close_failures);
    histogram(f, "tenderpool_round_close_duration_seconds",
              "Duration of the successful round closes, from CLOSE_BEGIN to the lots committed.",
              close_bounds_ms, TP_NCLOSE, 1e3, sn->close_in, (double)sn->close_ms_sum / 1e3);
    if (sn->last_close_ms >= 0)
        one(f, "tenderpool_round_close_last_duration_seconds", "gauge",
            "Duration of the last successful round close.", (double)sn->last_close_ms / 1e3);
}

static void render_workers(FILE *f, const tp_metrics_snap_t *sn)
{
    int ready = 0, db = 0;
    for (int i = 0; i < sn->workers; i++) {
        ready += sn->w[i].ready;
        db += sn->w[i].db_up;
    }
    one(f, "tenderpool_workers", "gauge", "Worker processes configured ([workers] count).",
        sn->workers);
    one(f, "tenderpool_workers_ready", "gauge", "Worker processes running and ready.", ready);
    family(f, "tenderpool_worker_ready", "gauge", "1 while the worker is running and ready.");
    for (int i = 0; i < sn->workers; i++)
        fprintf(f, "tenderpool_worker_ready{worker=\"%d\"} %d\n", i, sn->w[i].ready);
    family(f, "tenderpool_worker_restarts_total", "counter",
           "Times the worker was started again after its process ended.");
    for (int i = 0; i < sn->workers; i++)
        fprintf(f, "tenderpool_worker_restarts_total{worker=\"%d\"} %u\n", i, sn->w[i].restarts);
    one(f, "tenderpool_database_up", "gauge",
        "1 when every worker's database connection is up (at its last heartbeat).",
        db == sn->workers);
    family(f, "tenderpool_worker_database_up", "gauge",
           "1 while the worker's database connection is up (at its last heartbeat).");
    for (int i = 0; i < sn->workers; i++)
        fprintf(f, "tenderpool_worker_database_up{worker=\"%d\"} %d\n", i, sn->w[i].db_up);
}

static char *render(const tp_metrics_snap_t *sn, int64_t now, size_t *len)
{
    char *buf = NULL, why[64];
    FILE *f = open_memstream(&buf, len);
    if (f == NULL)
        return NULL;
    one(f, "tenderpool_up", "gauge", "1: the supervisor answers.", 1);
    one(f, "tenderpool_ready", "gauge", "1 when /readyz answers 200 (accepting requests).",
        not_ready(sn, now, why, sizeof(why)) == NULL);
    one(f, "tenderpool_draining", "gauge", "1 after SIGTERM, while in-flight work finishes.",
        sn->draining);
    one(f, "tenderpool_start_time_seconds", "gauge", "When tenderpoold started, unix seconds.",
        (double)sn->started_at);
    render_intake(f, sn);
    render_rounds(f, sn);
    render_workers(f, sn);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- HTTP ---- */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int code, const char *body,
                               size_t len, enum MHD_ResponseMemoryMode mode, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned int code, const char *msg)
{
    return respond(conn, code, msg, strlen(msg), MHD_RESPMEM_MUST_COPY,
                   "text/plain; charset=utf-8");
}

static enum MHD_Result serve_metrics(struct MHD_Connection *conn, const tp_metrics_snap_t *sn,
                                     int64_t now)
{
    size_t len = 0;
    char *body = render(sn, now, &len);
    if (body == NULL)
        return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the metrics\n");
    return respond(conn, MHD_HTTP_OK, body, len, MHD_RESPMEM_MUST_FREE,
                   "text/plain; version=0.0.4; charset=utf-8");
}

static enum MHD_Result route(struct MHD_Connection *conn, const char *url,
                             const tp_metrics_snap_t *sn)
{
    int64_t now = tp_sup_now_ms();
    char why[64], msg[128];
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(conn, sn, now);
    if (strcmp(url, "/healthz") == 0) {
        if (now - sn->taken_ms <= TP_HEALTH_STALE_MS)
            return text(conn, MHD_HTTP_OK, "ok\n");
        snprintf(msg, sizeof(msg), "supervisor loop stalled for %lld ms\n",
                 (long long)(now - sn->taken_ms));
        return text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    if (strcmp(url, "/readyz") == 0) {
        const char *reason = not_ready(sn, now, why, sizeof(why));
        if (reason == NULL)
            return text(conn, MHD_HTTP_OK, "ready\n");
        snprintf(msg, sizeof(msg), "not ready: %s\n", reason);
        return text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    return text(conn, MHD_HTTP_NOT_FOUND, "not found (try /metrics, /healthz, /readyz)\n");
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    tp_metrics_t *m = cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    tp_metrics_snap_t *sn = malloc(sizeof(*sn)); /* no exit on failure in this thread */
    if (sn == NULL)
        return MHD_NO;
    pthread_mutex_lock(&m->lock);
    *sn = m->pub;
    pthread_mutex_unlock(&m->lock);
    enum MHD_Result ret = route(conn, url, sn);
    free(sn);
    return ret;
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    tp_warn("metrics: %s", msg);
}

/* "HOST:PORT", HOST an address, a name or [IPv6]: the first address it resolves to. */
static int resolve_listen(const char *listen, struct sockaddr_storage *ss, uint16_t *port)
{
    const char *colon = strrchr(listen, ':');
    char host[256];
    if (colon == NULL || colon == listen || colon[1] == '\0' ||
        (size_t)(colon - listen) >= sizeof(host)) {
        tp_err("[metrics] listen = %s: HOST:PORT expected", listen);
        return -1;
    }
    size_t hl = (size_t)(colon - listen);
    memcpy(host, listen, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0 || res == NULL || res->ai_addrlen > sizeof(*ss)) {
        tp_err("[metrics] listen = %s: %s", listen, rc ? gai_strerror(rc) : "no address");
        if (res)
            freeaddrinfo(res);
        return -1;
    }
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *port = (uint16_t)atoi(colon + 1);
    freeaddrinfo(res);
    return 0;
}

int tp_metrics_start(tp_supervisor_t *s)
{
    tp_metrics_t *m = xcalloc(1, sizeof(*m));
    m->last_close_ms = -1;
    pthread_mutex_init(&m->lock, NULL);
    s->metrics = m;
    const char *listen = s->cfg.metrics_listen;
    if (listen[0] == '\0') {
        tp_info("[metrics] listen is empty: no metrics, /healthz or /readyz");
        return 0;
    }
    struct sockaddr_storage ss;
    uint16_t port;
    if (resolve_listen(listen, &ss, &port) < 0)
        return -1;
    fill(s, m, tp_sup_now_ms(), &m->pub); /* before the thread starts: never an empty snapshot */
    /* the signals the loop takes through its signalfd are blocked here already, and the thread
     * inherits the mask: they are never delivered to it */
    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
                         (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    m->httpd = MHD_start_daemon(flags, port, NULL, NULL, answer, m, /* the logger first */
                                MHD_OPTION_EXTERNAL_LOGGER, log_mhd, m, MHD_OPTION_SOCK_ADDR,
                                (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 64u,
                                MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (m->httpd == NULL) {
        tp_err("cannot serve metrics on %s (see above; empty [metrics] listen disables them)",
               listen);
        return -1;
    }
    tp_notice("metrics on http://%s/metrics (/healthz, /readyz)", listen);
    return 0;
}

void tp_metrics_stop(tp_supervisor_t *s)
{
    tp_metrics_t *m = s->metrics;
    if (m == NULL)
        return;
    if (m->httpd)
        MHD_stop_daemon(m->httpd);
    pthread_mutex_destroy(&m->lock);
    free(m);
    s->metrics = NULL;
}
