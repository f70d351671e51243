/* Integration: /metrics, /healthz and /readyz of the real daemon: the text format, counters that
 * move by exactly what was answered, totals kept across a worker's kill -9, readiness. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zmq.h>

#include "tp_testclient.h"
#include "tp_testenv.h"

TP_TEST_SESSION_SUITE(metrics, 120);

/* ---- a tiny HTTP/1.0 client ---- */

typedef struct http_reply {
    int status; /* 0: no answer */
    char headers[2048];
    char *body; /* malloc'd, NUL-terminated */
} http_reply_t;

static void http_free(http_reply_t *r)
{
    free(r->body);
    r->body = NULL;
}

static int http_get(int port, const char *method, const char *path, http_reply_t *r)
{
    memset(r, 0, sizeof(*r));
    r->body = strdup("");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method, path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    ssize_t got;
    while ((got = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)got;
        if (cap - len < 4096)
            buf = realloc(buf, cap *= 2);
    }
    close(fd);
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1 || end == NULL) {
        free(buf);
        return -1;
    }
    size_t hl =
        (size_t)(end - buf) < sizeof(r->headers) - 1 ? (size_t)(end - buf) : sizeof(r->headers) - 1;
    memcpy(r->headers, buf, hl);
    r->headers[hl] = '\0';
    free(r->body);
    r->body = strdup(end + 4);
    free(buf);
    return 0;
}

/* ---- the text format ---- */

#define MAX_SAMPLES 512

typedef struct sample {
    char key[256]; /* name{labels} as rendered */
    double value;
} sample_t;

typedef struct scrape {
    sample_t s[MAX_SAMPLES];
    int n;
} scrape_t;

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* The family a sample belongs to: its name, or without _bucket/_sum/_count for a histogram. */
static void family_of(const char *name, const char *types, char *out, size_t outlen)
{
    static const char *const suffix[] = {"_bucket", "_sum", "_count"};
    snprintf(out, outlen, "%s", name);
    for (size_t i = 0; i < 3; i++) {
        size_t nl = strlen(name), sl = strlen(suffix[i]);
        if (nl <= sl || strcmp(name + nl - sl, suffix[i]) != 0)
            continue;
        char base[200], probe[256];
        snprintf(base, sizeof(base), "%.*s", (int)(nl - sl), name);
        snprintf(probe, sizeof(probe), "\n%s histogram\n", base);
        if (strstr(types, probe)) {
            snprintf(out, outlen, "%s", base);
            return;
        }
    }
}

/* Parse one sample line "name{labels} value" into s; 0 or -1. */
static int parse_sample(const char *line, sample_t *s, char *name, size_t namelen)
{
    const char *p = line;
    if (!name_char(*p, true))
        return -1;
    while (name_char(*p, false))
        p++;
    snprintf(name, namelen, "%.*s", (int)(p - line), line);
    if (*p == '{') {
        p++;
        while (*p != '}') { /* label="value", ... */
            if (!name_char(*p, true))
                return -1;
            while (name_char(*p, false))
                p++;
            if (p[0] != '=' || p[1] != '"')
                return -1;
            p += 2;
            while (*p && *p != '"')
                p += p[0] == '\\' && p[1] ? 2 : 1;
            if (*p++ != '"')
                return -1;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return -1;
        }
        p++;
    }
    if (*p != ' ' || (size_t)(p - line) >= sizeof(s->key))
        return -1;
    snprintf(s->key, sizeof(s->key), "%.*s", (int)(p - line), line);
    char *end;
    const char *v = p + 1;
    if (strcmp(v, "+Inf") == 0 || strcmp(v, "-Inf") == 0 || strcmp(v, "NaN") == 0)
        s->value = strcmp(v, "NaN") == 0 ? NAN : v[0] == '-' ? -INFINITY : INFINITY;
    else if ((s->value = strtod(v, &end)), end == v || (*end != '\0' && *end != ' '))
        return -1;
    return 0;
}

/* Every line a comment, blank or a sample; HELP and TYPE before each family's samples, which
 * are contiguous; counters end in _total. Fails the test otherwise. */
static void parse_text(const char *body, scrape_t *out)
{
    char *copy = strdup(body), *save = NULL, types[16384] = "\n", helps[16384] = "\n";
    char current[200] = "", done[16384] = "\n";
    out->n = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[200], type[32];
        if (strncmp(line, "# HELP ", 7) == 0) {
            cr_assert_eq(sscanf(line + 7, "%199s", name), 1, "HELP line: %s", line);
            cr_assert(strlen(line + 7) > strlen(name) + 1, "HELP without text: %s", line);
            strncat(helps, name, sizeof(helps) - strlen(helps) - 2);
            strcat(helps, "\n");
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            cr_assert_eq(sscanf(line + 7, "%199s %31s", name, type), 2, "TYPE line: %s", line);
            cr_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                          strcmp(type, "histogram") == 0,
                      "type %s", type);
            if (strcmp(type, "counter") == 0)
                cr_expect(strlen(name) > 6 && strcmp(name + strlen(name) - 6, "_total") == 0,
                          "counter %s ends in _total", name);
            char entry[256];
            snprintf(entry, sizeof(entry), "%s %s\n", name, type);
            strncat(types, entry, sizeof(types) - strlen(types) - 1);
            continue;
        }
        if (line[0] == '#' || line[0] == '\0')
            continue;
        cr_assert_lt(out->n, MAX_SAMPLES);
        sample_t *s = &out->s[out->n++];
        cr_assert_eq(parse_sample(line, s, name, sizeof(name)), 0, "not a sample line: '%s'", line);
        char fam[200], probe[256];
        family_of(name, types, fam, sizeof(fam));
        snprintf(probe, sizeof(probe), "\n%s\n", fam);
        cr_expect(strstr(helps, probe) != NULL, "HELP for %s", fam);
        snprintf(probe, sizeof(probe), "\n%s ", fam);
        cr_expect(strstr(types, probe) != NULL, "TYPE for %s", fam);
        if (strcmp(fam, current) != 0) {
            snprintf(probe, sizeof(probe), "\n%s\n", fam);
            cr_expect(strstr(done, probe) == NULL, "samples of %s are contiguous", fam);
            strncat(done, fam, sizeof(done) - strlen(done) - 2);
            strcat(done, "\n");
            snprintf(current, sizeof(current), "%s", fam);
        }
    }
    free(copy);
}

static bool has(const scrape_t *sc, const char *key, double *v)
{
    for (int i = 0; i < sc->n; i++)
        if (strcmp(sc->s[i].key, key) == 0) {
            if (v)
                *v = sc->s[i].value;
            return true;
        }
    return false;
}

/* The value of key (fails the test when the series is missing). */
static double val(const scrape_t *sc, const char *key)
{
    double v = 0;
    cr_assert(has(sc, key, &v), "series %s present", key);
    return v;
}

static void scrape(scrape_t *sc)
{
    http_reply_t r;
    cr_assert_eq(http_get(daemon_.metrics_port, "GET", "/metrics", &r), 0, "GET /metrics");
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.headers, "Content-Type: text/plain; version=0.0.4; charset=utf-8") != NULL,
              "%s", r.headers);
    parse_text(r.body, sc);
    http_free(&r);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *const status_label[] = {"",      "accepted", "duplicate",
                                           "stale", "rejected", "retry_later"};

static double requests(const scrape_t *sc, int status)
{
    char key[96];
    snprintf(key, sizeof(key), "tenderpool_requests_total{status=\"%s\"}", status_label[status]);
    return val(sc, key);
}

static double errors(const scrape_t *sc, const char *code)
{
    char key[96];
    snprintf(key, sizeof(key), "tenderpool_request_errors_total{code=\"%s\"}", code);
    return val(sc, key);
}

/* Acks received, by status and code, as the client saw them. */
typedef struct seen {
    long status[6];
    long malformed, unknown_unit, invalid_field;
} seen_t;

static void count_acks(seen_t *seen, const Tenderpool__V1__BatchAck *ba)
{
    for (size_t i = 0; i < ba->n_acks; i++) {
        const Tenderpool__V1__Ack *a = ba->acks[i];
        cr_assert(a->status >= 1 && a->status <= 5);
        seen->status[a->status]++;
        seen->malformed += strcmp(a->error_code, "MALFORMED") == 0;
        seen->unknown_unit += strcmp(a->error_code, "UNKNOWN_UNIT") == 0;
        seen->invalid_field += strcmp(a->error_code, "INVALID_FIELD") == 0;
    }
}

static void send_counted(seen_t *seen, const tp_test_item_t *it, size_t n)
{
    Tenderpool__V1__ServerMessage *sm;
    Tenderpool__V1__BatchAck *ba = tp_test_batch(sock, it, n, &sm);
    count_acks(seen, ba);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
}

/* Wait (up to 10 s: workers report every second) until accepted + duplicate + rejected reach
 * base + want; then return that scrape. */
static void wait_counts(const scrape_t *base, const seen_t *want, scrape_t *sc)
{
    int64_t deadline = now_ms() + 10000;
    for (;;) {
        scrape(sc);
        bool all = true;
        for (int st = 1; st <= 5; st++)
            all = all && requests(sc, st) - requests(base, st) >= (double)want->status[st];
        if (all || now_ms() > deadline)
            return;
        usleep(100000);
    }
}

static void expect_moved(const scrape_t *base, const scrape_t *sc, const seen_t *want)
{
    for (int st = 1; st <= 5; st++)
        cr_expect_eq(requests(sc, st) - requests(base, st), (double)want->status[st],
                     "requests{status=%s} moved by %ld", status_label[st], want->status[st]);
    cr_expect_eq(errors(sc, "MALFORMED") - errors(base, "MALFORMED"), (double)want->malformed);
    cr_expect_eq(errors(sc, "UNKNOWN_UNIT") - errors(base, "UNKNOWN_UNIT"),
                 (double)want->unknown_unit);
    cr_expect_eq(errors(sc, "INVALID_FIELD") - errors(base, "INVALID_FIELD"),
                 (double)want->invalid_field);
}

static void items(tp_test_item_t *it, char refs[][16], int n, const char *member, const char *pfx)
{
    for (int i = 0; i < n; i++) {
        snprintf(refs[i], 16, "%s-%d", pfx, i);
        it[i] = tp_test_item_default(member, refs[i]);
    }
}

/* ---- tests ---- */

Test(metrics, text_format_health_and_paths)
{
    scrape_t *sc = malloc(sizeof(*sc));
    scrape(sc);
    /* worker figures come with their heartbeats (every second): a slow start (sanitizer
     * build) may not have delivered the first one yet */
    for (int i = 0; i < 50 && (!has(sc, "tenderpool_database_up", NULL) ||
                               val(sc, "tenderpool_database_up") != 1);
         i++) {
        usleep(100000);
        scrape(sc);
    }
    static const char *const families[] = {
        "tenderpool_up",
        "tenderpool_ready",
        "tenderpool_messages_received_total",
        "tenderpool_replies_dropped_total",
        "tenderpool_in_flight_items",
        "tenderpool_open_requests",
        "tenderpool_group_commits_total",
        "tenderpool_group_commit_duration_seconds_count",
        "tenderpool_rounds_closed_total",
        "tenderpool_round_close_duration_seconds_count",
        "tenderpool_rate_limited_messages_total",
        "tenderpool_rate_limited_members",
        "tenderpool_database_up",
        "tenderpool_workers_ready",
        "tenderpool_worker_restarts_total{worker=\"0\"}",
        "tenderpool_worker_restarts_total{worker=\"1\"}",
        "tenderpool_request_errors_total{code=\"RATE_LIMITED\"}",
        "tenderpool_requests_total{status=\"retry_later\"}",
    };
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
        cr_expect(has(sc, families[i], NULL), "%s present", families[i]);
    cr_expect_eq(val(sc, "tenderpool_up"), 1);
    cr_expect_eq(val(sc, "tenderpool_ready"), 1);
    cr_expect_eq(val(sc, "tenderpool_workers_ready"), 2);
    cr_expect_eq(val(sc, "tenderpool_database_up"), 1);
    free(sc);

    http_reply_t r;
    cr_assert_eq(http_get(daemon_.metrics_port, "GET", "/healthz", &r), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "ok\n");
    http_free(&r);
    cr_assert_eq(http_get(daemon_.metrics_port, "GET", "/readyz", &r), 0);
    cr_expect_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    cr_assert_eq(http_get(daemon_.metrics_port, "GET", "/readyz?verbose=1", &r), 0);
    cr_expect_eq(r.status, 200, "a query string does not change the path");
    http_free(&r);
    cr_assert_eq(http_get(daemon_.metrics_port, "GET", "/", &r), 0);
    cr_expect_eq(r.status, 404);
    http_free(&r);
    cr_assert_eq(http_get(daemon_.metrics_port, "GET", "/metricsx", &r), 0);
    cr_expect_eq(r.status, 404);
    http_free(&r);
    cr_assert_eq(http_get(daemon_.metrics_port, "POST", "/metrics", &r), 0);
    cr_expect_eq(r.status, 405);
    http_free(&r);
    cr_assert_eq(http_get(daemon_.metrics_port, "HEAD", "/metrics", &r), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "", "HEAD has no body");
    http_free(&r);
}

Test(metrics, counters_move_by_exactly_what_was_answered)
{
    scrape_t *base = malloc(sizeof(*base)), *sc = malloc(sizeof(*sc));
    scrape(base);
    seen_t seen = {0};
    tp_test_item_t it[6];
    char refs[6][16];
    items(it, refs, 3, "metrics-a", "m");
    send_counted(&seen, it, 3); /* 3 accepted */
    items(it, refs, 3, "metrics-a", "m");
    items(it + 3, refs + 3, 3, "metrics-a", "bad");
    it[3].unit = "XYZ";
    it[4].unit = "QQQ";
    it[5].quantity = "0";
    send_counted(&seen, it, 6); /* 3 duplicate, 2 UNKNOWN_UNIT, 1 INVALID_FIELD */
    size_t len;
    uint8_t *buf = tp_test_pack_batch(77, NULL, 0, &len); /* empty: MALFORMED, by the supervisor */
    tp_test_send(sock, buf, len);
    free(buf);
    Tenderpool__V1__ServerMessage *sm = tp_test_recv(sock, 15000);
    cr_assert_not_null(sm);
    count_acks(&seen, sm->batch_ack);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);

    cr_assert_eq(seen.status[TENDERPOOL__V1__STATUS__STATUS_ACCEPTED], 3);
    cr_assert_eq(seen.status[TENDERPOOL__V1__STATUS__STATUS_DUPLICATE], 3);
    cr_assert_eq(seen.status[TENDERPOOL__V1__STATUS__STATUS_REJECTED], 4);
    cr_assert_eq(seen.unknown_unit, 2);
    cr_assert_eq(seen.invalid_field, 1);
    cr_assert_eq(seen.malformed, 1);
    wait_counts(base, &seen, sc);
    expect_moved(base, sc, &seen);
    cr_expect_eq(val(sc, "tenderpool_messages_received_total") -
                     val(base, "tenderpool_messages_received_total"),
                 3);
    cr_expect_eq(val(sc, "tenderpool_open_requests"), 3, "three open requests pooled");
    double commits = val(sc, "tenderpool_group_commits_total");
    cr_expect(commits >= 1 && commits <= 2, "one group commit per worker at most: %g", commits);
    cr_expect_eq(val(sc, "tenderpool_group_commit_duration_seconds_count"), commits);
    cr_expect_eq(val(sc, "tenderpool_group_commit_duration_seconds_bucket{le=\"+Inf\"}"), commits);
    cr_expect_gt(val(sc, "tenderpool_group_commit_duration_seconds_sum"), 0);
    cr_expect_leq(val(sc, "tenderpool_group_commit_duration_seconds_bucket{le=\"0.001\"}"),
                  val(sc, "tenderpool_group_commit_duration_seconds_bucket{le=\"1\"}"),
                  "buckets are cumulative");
    cr_expect_eq(val(sc, "tenderpool_in_flight_items"), 0);

    sleep(2); /* two more heartbeats: nothing is counted twice */
    scrape(sc);
    expect_moved(base, sc, &seen);
    free(base);
    free(sc);
}

/* The daemon's worker of index i, by its command line. */
static pid_t worker_pid(int i)
{
    char out[64];
    tp_test_run(out, sizeof(out), "pgrep -P %d -f -- '--index %d '", (int)daemon_.pid, i);
    return (pid_t)atoi(out);
}

Test(metrics, kill9_of_a_worker_counts_a_restart_and_keeps_totals, .timeout = 90)
{
    scrape_t *base = malloc(sizeof(*base)), *sc = malloc(sizeof(*sc));
    scrape(base);
    seen_t seen = {0};
    tp_test_item_t it[20];
    char refs[20][16];
    items(it, refs, 20, "metrics-k", "k");
    send_counted(&seen, it, 20);
    cr_assert_eq(seen.status[TENDERPOOL__V1__STATUS__STATUS_ACCEPTED], 20);
    wait_counts(base, &seen, sc);
    expect_moved(base, sc, &seen);
    double accepted = requests(sc, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    double commits = val(sc, "tenderpool_group_commits_total");
    cr_assert_eq(val(sc, "tenderpool_worker_restarts_total{worker=\"1\"}"), 0);

    pid_t w1 = worker_pid(1);
    cr_assert_gt(w1, 0, "worker 1 found");
    kill(w1, SIGKILL);
    /* until it is back: totals never go back, the restart is counted once */
    bool restarted = false, seen_unready = false;
    for (int64_t deadline = now_ms() + 30000; now_ms() < deadline;) {
        scrape(sc);
        cr_assert_geq(requests(sc, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED), accepted,
                      "accepted total never decreases");
        cr_assert_geq(val(sc, "tenderpool_group_commits_total"), commits,
                      "commit total never decreases");
        seen_unready = seen_unready || val(sc, "tenderpool_workers_ready") < 2;
        restarted = val(sc, "tenderpool_worker_restarts_total{worker=\"1\"}") == 1 &&
                    val(sc, "tenderpool_worker_ready{worker=\"1\"}") == 1 &&
                    val(sc, "tenderpool_worker_database_up{worker=\"1\"}") == 1;
        if (restarted)
            break;
        usleep(20000);
    }
    cr_assert(restarted, "worker 1 restarted, ready, its database up");
    cr_expect_eq(val(sc, "tenderpool_worker_restarts_total{worker=\"0\"}"), 0);
    expect_moved(base, sc, &seen);
    cr_log_info("kill -9: not-ready seen in a scrape: %s", seen_unready ? "yes" : "no");

    /* the new process counts from zero; the total goes on from where it was */
    items(it, refs, 20, "metrics-k", "k2");
    send_counted(&seen, it, 20);
    wait_counts(base, &seen, sc);
    expect_moved(base, sc, &seen);
    cr_expect_eq(requests(sc, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED), accepted + 20);
    free(base);
    free(sc);
}

Test(metrics, readyz_is_503_while_draining, .timeout = 90)
{
    pid_t w0 = worker_pid(0), w1 = worker_pid(1);
    cr_assert(w0 > 0 && w1 > 0);
    /* stopped workers hold a batch pending: the drain waits for it */
    kill(w0, SIGSTOP);
    kill(w1, SIGSTOP);
    tp_test_item_t it = tp_test_item_default("metrics-d", "d-1");
    size_t len;
    uint8_t *buf = tp_test_pack_batch(5, &it, 1, &len);
    tp_test_send(sock, buf, len);
    free(buf);
    http_reply_t r;
    scrape_t *sc = malloc(sizeof(*sc));
    for (int i = 0; i < 50; i++) { /* the batch reached the supervisor */
        scrape(sc);
        if (val(sc, "tenderpool_in_flight_items") == 1)
            break;
        usleep(50000);
    }
    cr_expect_eq(val(sc, "tenderpool_in_flight_items"), 1);
    kill(daemon_.pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(http_get(daemon_.metrics_port, "GET", "/readyz", &r), 0);
        status = r.status;
        if (status == 503)
            break;
        http_free(&r);
        usleep(50000);
    }
    cr_expect_eq(status, 503, "not ready while draining");
    cr_expect(strstr(r.body, "draining") != NULL, "reason: %s", r.body);
    http_free(&r);
    cr_assert_eq(http_get(daemon_.metrics_port, "GET", "/healthz", &r), 0);
    cr_expect_eq(r.status, 200, "alive while draining");
    http_free(&r);
    scrape(sc);
    cr_expect_eq(val(sc, "tenderpool_draining"), 1);
    cr_expect_eq(val(sc, "tenderpool_ready"), 0);
    free(sc);
    kill(w0, SIGCONT);
    kill(w1, SIGCONT);
    Tenderpool__V1__ServerMessage *sm = tp_test_recv(sock, 15000);
    cr_assert_not_null(sm, "the pending batch is answered");
    cr_expect_eq(sm->batch_ack->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    int st = 0;
    for (int i = 0; i < 300 && waitpid(daemon_.pid, &st, WNOHANG) != daemon_.pid; i++)
        usleep(100000);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "drained daemon exits 0 (status %d)", st);
    daemon_.pid = 0;
    cr_expect_neq(http_get(daemon_.metrics_port, "GET", "/healthz", &r), 0, "nothing listens");
    http_free(&r);
    zmq_close(sock);
    tp_test_daemon_start(&daemon_, 2, "1w", NULL); /* for the suite's fini (same ports) */
    sock = tp_test_connect(zctx, daemon_.endpoint);
    cr_assert_eq(http_get(daemon_.metrics_port, "GET", "/healthz", &r), 0, "bound again");
    cr_expect_eq(r.status, 200);
    http_free(&r);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A second daemon in dir: its own intake and control, metrics on metrics_port, dsn given. */
static void write_conf(const char *dir, int metrics_port, const char *dsn, char *conf, size_t len)
{
    snprintf(conf, len, "%s/second.conf", dir);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "[intake]\nendpoint = tcp://127.0.0.1:%d\n[control]\nendpoint = ipc://%s/control2\n"
            "[metrics]\nlisten = 127.0.0.1:%d\n[database]\ndsn = %s\n[workers]\ncount = 1\n"
            "runtime_dir = %s/run2\n[security]\nmode = none\n",
            free_port(), dir, metrics_port, dsn, dir);
    fclose(f);
}

Test(metrics, readyz_is_503_until_the_workers_are_ready, .timeout = 60)
{
    /* no database: its worker never says HELLO, the intake never opens; metrics serve at once */
    char conf[400], log[400];
    int port = free_port();
    write_conf(daemon_.dir, port, "postgresql:///none?host=/nonexistent-tp-metrics", conf,
               sizeof(conf));
    snprintf(log, sizeof(log), "%s/second.log", daemon_.dir);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        execl(TP_TEST_BIN_DIR "/tenderpoold", "tenderpoold", "-c", conf, (char *)NULL);
        _exit(127);
    }
    http_reply_t r = {0};
    int st = -1;
    for (int i = 0; i < 100 && st != 200; i++) {
        if (http_get(port, "GET", "/healthz", &r) == 0)
            st = r.status;
        http_free(&r);
        usleep(50000);
    }
    cr_expect_eq(st, 200, "alive while starting");
    cr_assert_eq(http_get(port, "GET", "/readyz", &r), 0);
    cr_expect_eq(r.status, 503);
    cr_expect(strstr(r.body, "not ready: ") == r.body &&
                  strchr(r.body, '\n') == strchr(r.body, 0) - 1,
              "one line with the reason: %s", r.body);
    http_free(&r);
    cr_assert_eq(http_get(port, "GET", "/metrics", &r), 0);
    cr_expect(strstr(r.body, "\ntenderpool_ready 0\n") != NULL);
    cr_expect(strstr(r.body, "\ntenderpool_workers_ready 0\n") != NULL);
    cr_expect(strstr(r.body, "\ntenderpool_database_up 0\n") != NULL);
    http_free(&r);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

Test(metrics, an_address_taken_stops_the_start)
{
    char conf[400], out[4096];
    write_conf(daemon_.dir, daemon_.metrics_port, tp_test_dsn(), conf, sizeof(conf));
    int rc = tp_test_run(out, sizeof(out), "timeout 20 %s/tenderpoold -c %s 2>&1", TP_TEST_BIN_DIR,
                         conf);
    cr_expect_eq(rc, 1, "refuses to start: %s", out);
    cr_expect(strstr(out, "cannot serve metrics on 127.0.0.1:") != NULL, "%s", out);
    cr_expect(strstr(out, "worker 0 started") == NULL, "before any worker starts: %s", out);
}
