/* tp_chaos: drive tenderpoold at load while killing and stopping workers, restarting
 * PostgreSQL and the daemon and closing rounds; then prove nothing acked was lost or doubled
 * and every closed round equals `tenderpool verify`. Loopback only, bounded in time. */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <zmq.h>

#include "tenderpool/v1/tenderpool.pb-c.h"
#include "tp_mem.h"

#define CH_BATCH 100
#define CH_WINDOW 8         /* batches in flight per member */
#define CH_RESEND_MS 3000   /* an unanswered batch is resent after this */
#define CH_MAX_BATCHES 4096 /* batch ids kept per run (ring) */

enum { IT_NEW, IT_FLIGHT, IT_ACKED };
enum { F_KILL_WORKER, F_STOP_WORKER, F_RESTART_PG, F_RESTART_DAEMON, F_CLOSE_ROUND, F_N };
static const char *const fault_names[F_N] = {"kill -9 worker", "SIGSTOP/SIGCONT worker",
                                             "restart PostgreSQL", "kill -9 + restart daemon",
                                             "close the round"};

typedef struct ch_item {
    uint32_t member;
    uint32_t seq;
    uint8_t state;
} ch_item_t;

typedef struct ch_batch {
    uint64_t id;
    uint32_t member;
    uint32_t n;
    uint32_t items[CH_BATCH];
    int64_t sent_ms;
    bool live;
} ch_batch_t;

/* A FIFO of item indices (a vector with a moving head). */
typedef struct ch_queue {
    uint32_t *v;
    size_t head, n, cap;
} ch_queue_t;

static void q_push(ch_queue_t *q, uint32_t i)
{
    if (q->n == q->cap) {
        if (q->head > q->cap / 2) { /* compact */
            memmove(q->v, q->v + q->head, (q->n - q->head) * sizeof(*q->v));
            q->n -= q->head;
            q->head = 0;
        } else {
            q->cap = q->cap ? q->cap * 2 : 4096;
            q->v = xrealloc(q->v, q->cap * sizeof(*q->v));
        }
    }
    q->v[q->n++] = i;
}

static bool q_pop(ch_queue_t *q, uint32_t *i)
{
    if (q->head == q->n)
        return false;
    *i = q->v[q->head++];
    return true;
}

typedef struct ch_opts {
    int seconds, members, rate, workers;
    const char *pgdir, *bin, *source;
} ch_opts_t;

typedef struct ch_run {
    ch_opts_t o;
    char dir[256], conf[512], log[512], endpoint[64], dsn[1024];
    int port;
    pid_t daemon;
    void *zctx;
    void **socks;
    ch_item_t *items;
    size_t nitems, cap;
    uint32_t *next_seq;  /* per member */
    ch_queue_t *queues;  /* per member: items to send (new, or to resend) */
    ch_batch_t *batches; /* ring by id */
    uint64_t next_batch;
    int *inflight; /* batches in flight per member */
    uint64_t faults[F_N], acked, retry_later, rejected, resent;
    char tag[16];
} ch_run_t;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_cmd(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void start_daemon(ch_run_t *r)
{
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(r->log, "a", stderr);
        f = freopen("/dev/null", "w", stdout);
        (void)f;
        char path[600];
        snprintf(path, sizeof(path), "%s/tenderpoold", r->o.bin);
        execl(path, "tenderpoold", "-c", r->conf, (char *)NULL);
        _exit(127);
    }
    r->daemon = pid;
}

static void reap(ch_run_t *r)
{
    int st;
    if (r->daemon > 0 && waitpid(r->daemon, &st, WNOHANG) == r->daemon) {
        fprintf(stderr, "tp_chaos: tenderpoold exited (status %d); restarting it\n", st);
        start_daemon(r);
    }
}

static pid_t worker_pid(const ch_run_t *r, int index)
{
    char cmd[256], out[64] = "";
    snprintf(cmd, sizeof(cmd), "pgrep -P %d -f -- '--index %d ' 2>/dev/null", (int)r->daemon,
             index);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return 0;
    if (fgets(out, sizeof(out), p) == NULL)
        out[0] = '\0';
    pclose(p);
    return (pid_t)atoi(out);
}

static void inject(ch_run_t *r)
{
    int f = rand() % 100;
    int kind = f < 35   ? F_KILL_WORKER
               : f < 55 ? F_STOP_WORKER
               : f < 70 ? F_RESTART_PG
               : f < 85 ? F_RESTART_DAEMON
                        : F_CLOSE_ROUND;
    pid_t w = worker_pid(r, rand() % r->o.workers);
    switch (kind) {
    case F_KILL_WORKER:
        if (w <= 0)
            return;
        kill(w, SIGKILL);
        break;
    case F_STOP_WORKER:
        if (w <= 0)
            return;
        kill(w, SIGSTOP);
        usleep(1500000);
        kill(w, SIGCONT);
        break;
    case F_RESTART_PG:
        if (run_cmd("'%s/tests/support/pgtmp.sh' stop '%s' >/dev/null 2>&1 && '%s/tests/support/"
                    "pgtmp.sh' start '%s' >/dev/null 2>&1",
                    r->o.source, r->o.pgdir, r->o.source, r->o.pgdir) != 0) {
            fprintf(stderr, "tp_chaos: restarting PostgreSQL failed\n");
            exit(2);
        }
        break;
    case F_RESTART_DAEMON:
        kill(r->daemon, SIGKILL);
        waitpid(r->daemon, NULL, 0);
        usleep(300000); /* its workers follow it (parent-death signal) */
        start_daemon(r);
        break;
    case F_CLOSE_ROUND:
        (void)run_cmd("'%s/tenderpool' rounds close-current -c '%s' >/dev/null 2>&1", r->o.bin,
                      r->conf);
        break;
    }
    r->faults[kind]++;
}

static void requeue(ch_run_t *r, uint32_t i)
{
    r->items[i].state = IT_NEW;
    q_push(&r->queues[r->items[i].member], i);
}

static uint32_t new_item(ch_run_t *r, uint32_t member)
{
    if (r->nitems == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 65536;
        r->items = xrealloc(r->items, r->cap * sizeof(*r->items));
    }
    r->items[r->nitems] = (ch_item_t){.member = member, .seq = r->next_seq[member]++};
    q_push(&r->queues[member], (uint32_t)r->nitems);
    return (uint32_t)r->nitems++;
}

static void item_ref(const ch_run_t *r, const ch_item_t *it, char *out, size_t n)
{
    snprintf(out, n, "chaos-%s-%u", r->tag, it->seq);
}

static void send_batch(ch_run_t *r, uint32_t member, const uint32_t *idx, uint32_t n, int64_t now)
{
    static char refs[CH_BATCH][48], mem[16];
    Tenderpool__V1__PurchaseRequest pr[CH_BATCH];
    Tenderpool__V1__Envelope env[CH_BATCH], *envp[CH_BATCH];
    char need_by[16];
    time_t t = time(NULL) + 40 * 86400;
    struct tm tm;
    strftime(need_by, sizeof(need_by), "%Y-%m-%d", gmtime_r(&t, &tm));
    snprintf(mem, sizeof(mem), "chaos-m%u", member);
    for (uint32_t i = 0; i < n; i++) {
        const ch_item_t *it = &r->items[idx[i]];
        item_ref(r, it, refs[i], sizeof(refs[i]));
        tenderpool__v1__purchase_request__init(&pr[i]);
        pr[i].request_ref = refs[i];
        pr[i].revision = 1;
        pr[i].cpv = it->seq % 3 == 0 ? "18424300" : it->seq % 3 == 1 ? "24111700" : "03111000";
        pr[i].item_key = it->seq % 3 == 0 ? "GLOVE-M" : it->seq % 3 == 1 ? "N2" : "SEED";
        pr[i].description = "chaos";
        pr[i].quantity = it->seq % 3 == 1 ? "2.5" : "10";
        pr[i].unit = it->seq % 3 == 0 ? "H87" : it->seq % 3 == 1 ? "TNE" : "KGM";
        pr[i].need_by = need_by;
        pr[i].delivery_zone = "FR10";
        pr[i].currency = "EUR";
        tenderpool__v1__envelope__init(&env[i]);
        env[i].member_id = mem;
        env[i].body_case = TENDERPOOL__V1__ENVELOPE__BODY_SUBMIT;
        env[i].submit = &pr[i];
        envp[i] = &env[i];
    }
    uint64_t id = r->next_batch + 1;
    ch_batch_t *b = &r->batches[id % CH_MAX_BATCHES];
    if (b->live) { /* the ring wrapped over a batch still unanswered: resend its items later */
        for (uint32_t i = 0; i < b->n; i++)
            if (r->items[b->items[i]].state == IT_FLIGHT)
                requeue(r, b->items[i]);
        r->inflight[b->member]--;
        b->live = false;
    }
    Tenderpool__V1__Batch batch = TENDERPOOL__V1__BATCH__INIT;
    batch.batch_id = id;
    r->next_batch = id;
    batch.n_items = n;
    batch.items = envp;
    Tenderpool__V1__ClientMessage m = TENDERPOOL__V1__CLIENT_MESSAGE__INIT;
    m.kind_case = TENDERPOOL__V1__CLIENT_MESSAGE__KIND_BATCH;
    m.batch = &batch;
    size_t len = tenderpool__v1__client_message__get_packed_size(&m);
    uint8_t *buf = xmalloc(len);
    tenderpool__v1__client_message__pack(&m, buf);
    bool ok = zmq_send(r->socks[member], buf, len, ZMQ_DONTWAIT) == (int)len;
    free(buf);
    if (!ok) { /* not connected (daemon restarting): the items go back to the queue */
        for (uint32_t i = 0; i < n; i++)
            requeue(r, idx[i]);
        return;
    }
    b->id = batch.batch_id;
    b->member = member;
    b->n = n;
    memcpy(b->items, idx, n * sizeof(*idx));
    b->sent_ms = now;
    b->live = true;
    r->inflight[member]++;
    for (uint32_t i = 0; i < n; i++)
        r->items[idx[i]].state = IT_FLIGHT;
}

static void on_reply(ch_run_t *r, const void *data, size_t len)
{
    Tenderpool__V1__ServerMessage *sm = tenderpool__v1__server_message__unpack(NULL, len, data);
    if (sm == NULL || sm->kind_case != TENDERPOOL__V1__SERVER_MESSAGE__KIND_BATCH_ACK) {
        if (sm)
            tenderpool__v1__server_message__free_unpacked(sm, NULL);
        return;
    }
    const Tenderpool__V1__BatchAck *ba = sm->batch_ack;
    ch_batch_t *b = &r->batches[ba->batch_id % CH_MAX_BATCHES];
    if (b->live && b->id == ba->batch_id) {
        b->live = false;
        r->inflight[b->member]--;
        for (uint32_t i = 0; i < b->n; i++) {
            ch_item_t *it = &r->items[b->items[i]];
            Tenderpool__V1__Status st = ba->n_acks == b->n
                                            ? ba->acks[i]->status
                                            : (ba->n_acks == 1 ? ba->acks[0]->status : 0);
            if (it->state != IT_FLIGHT)
                continue;
            if (st == TENDERPOOL__V1__STATUS__STATUS_ACCEPTED ||
                st == TENDERPOOL__V1__STATUS__STATUS_DUPLICATE) {
                it->state = IT_ACKED;
                r->acked++;
            } else {
                requeue(r, b->items[i]); /* RETRY_LATER (or anything else): resend the same */
                if (st == TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER)
                    r->retry_later++;
                else {
                    r->rejected++;
                    if (r->rejected <= 5)
                        fprintf(stderr, "tp_chaos: unexpected status %d: %s %s\n", st,
                                ba->n_acks ? ba->acks[0]->error_code : "",
                                ba->n_acks ? ba->acks[0]->detail : "");
                }
            }
        }
    }
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
}

/* Queue new items at the configured rate, send what is new or timed out, read replies. */
static void pump(ch_run_t *r, int64_t until, bool generate)
{
    int64_t start = now_ms(), made = 0;
    while (now_ms() < until) {
        int64_t now = now_ms();
        if (generate)
            for (; made < (now - start) * r->o.rate / 1000; made++)
                (void)new_item(r, (uint32_t)(made % r->o.members));
        for (size_t i = 0; i < CH_MAX_BATCHES; i++) { /* expire unanswered batches */
            ch_batch_t *b = &r->batches[i];
            if (b->live && now - b->sent_ms > CH_RESEND_MS) {
                b->live = false;
                r->inflight[b->member]--;
                for (uint32_t k = 0; k < b->n; k++)
                    if (r->items[b->items[k]].state == IT_FLIGHT) {
                        requeue(r, b->items[k]);
                        r->resent++;
                    }
            }
        }
        /* fill each member's window from its queue */
        for (uint32_t m = 0; m < (uint32_t)r->o.members; m++) {
            while (r->inflight[m] < CH_WINDOW) {
                uint32_t idx[CH_BATCH], n = 0, i;
                while (n < CH_BATCH && q_pop(&r->queues[m], &i))
                    if (r->items[i].state == IT_NEW)
                        idx[n++] = i;
                if (n == 0)
                    break;
                int before = r->inflight[m];
                send_batch(r, m, idx, n, now);
                if (r->inflight[m] == before)
                    break; /* not connected: try again at the next turn */
            }
        }
        zmq_pollitem_t items[64];
        for (int m = 0; m < r->o.members; m++)
            items[m] = (zmq_pollitem_t){.socket = r->socks[m], .events = ZMQ_POLLIN};
        zmq_poll(items, r->o.members, 20);
        for (int m = 0; m < r->o.members; m++) {
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            while (zmq_msg_recv(&msg, r->socks[m], ZMQ_DONTWAIT) >= 0)
                on_reply(r, zmq_msg_data(&msg), zmq_msg_size(&msg));
            zmq_msg_close(&msg);
        }
        reap(r);
        if (!generate && r->acked == r->nitems)
            return;
    }
}

static int check(ch_run_t *r, uint64_t *lost, uint64_t *dups, int *rounds, int *bad_rounds)
{
    PGconn *c = PQconnectdb(r->dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "tp_chaos: %s", PQerrorMessage(c));
        return -1;
    }
    char sql[512];
    PGresult *res;
    snprintf(sql, sizeof(sql),
             "SELECT member_id, split_part(request_ref, '-', 3)::int, count(*) FROM "
             "tenderpool.revision WHERE request_ref LIKE 'chaos-%s-%%' GROUP BY 1, 2",
             r->tag);
    res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "tp_chaos: %s", PQerrorMessage(c));
        return -1;
    }
    uint8_t **seen = xcalloc((size_t)r->o.members, sizeof(*seen));
    for (int m = 0; m < r->o.members; m++)
        seen[m] = xcalloc(r->next_seq[m] + 1, 1);
    *dups = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        unsigned m = 0;
        long seq = atol(PQgetvalue(res, i, 1)), n = atol(PQgetvalue(res, i, 2));
        if (sscanf(PQgetvalue(res, i, 0), "chaos-m%u", &m) == 1 && m < (unsigned)r->o.members &&
            seq >= 0 && (uint32_t)seq < r->next_seq[m])
            seen[m][seq] = 1;
        *dups += n > 1 ? (uint64_t)(n - 1) : 0;
    }
    PQclear(res);
    for (size_t i = 0; i < r->nitems; i++)
        if (r->items[i].state == IT_ACKED && !seen[r->items[i].member][r->items[i].seq])
            (*lost)++;
    for (int m = 0; m < r->o.members; m++)
        free(seen[m]);
    free(seen);
    res = PQexec(c, "SELECT round_id FROM tenderpool.round WHERE status = 'closed' ORDER BY "
                    "opens_at");
    for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++) {
        (*rounds)++;
        if (run_cmd("'%s/tenderpool' verify --round '%s' -c '%s' >>'%s' 2>&1", r->o.bin,
                    PQgetvalue(res, i, 0), r->conf, r->log) != 0) {
            fprintf(stderr, "tp_chaos: verify --round %s found differences (see %s)\n",
                    PQgetvalue(res, i, 0), r->log);
            (*bad_rounds)++;
        }
    }
    PQclear(res);
    PQfinish(c);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tp_chaos --pgdir DIR --bin BUILD_DIR --source SOURCE_DIR [--seconds N]\n"
               "                [--members N] [--rate ITEMS_PER_S] [--workers N]\n"
               "Drives tenderpoold on loopback at load while injecting faults (kill -9 and\n"
               "SIGSTOP of workers, PostgreSQL restarts with tests/support/pgtmp.sh, daemon\n"
               "kill -9 and restart, early round closes), then checks that every acked item is\n"
               "stored exactly once and that every closed round passes tenderpool verify.\n"
               "DIR is a pgtmp.sh cluster it may restart; its tenderpool schema is dropped.\n"
               "Exit 0 when nothing was lost or doubled, 1 otherwise, 2 on a setup error.\n");
}

int main(int argc, char **argv)
{
    static ch_run_t run;
    ch_run_t *r = &run;
    r->o = (ch_opts_t){.seconds = 30, .members = 6, .rate = 20000, .workers = 2};
    static const struct option opts[] = {{"seconds", required_argument, NULL, 's'},
                                         {"members", required_argument, NULL, 'm'},
                                         {"rate", required_argument, NULL, 'r'},
                                         {"workers", required_argument, NULL, 'w'},
                                         {"pgdir", required_argument, NULL, 'p'},
                                         {"bin", required_argument, NULL, 'b'},
                                         {"source", required_argument, NULL, 'S'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            r->o.seconds = atoi(optarg);
            break;
        case 'm':
            r->o.members = atoi(optarg);
            break;
        case 'r':
            r->o.rate = atoi(optarg);
            break;
        case 'w':
            r->o.workers = atoi(optarg);
            break;
        case 'p':
            r->o.pgdir = optarg;
            break;
        case 'b':
            r->o.bin = optarg;
            break;
        case 'S':
            r->o.source = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!r->o.pgdir || !r->o.bin || !r->o.source || r->o.seconds < 1 || r->o.members < 1 ||
        r->o.members > 64 || r->o.rate < 1 || r->o.workers < 1) {
        usage(stderr);
        return 2;
    }
    srand((unsigned)time(NULL));
    snprintf(r->tag, sizeof(r->tag), "%lx", (unsigned long)time(NULL));
    char path[600];
    snprintf(path, sizeof(path), "%s/dsn", r->o.pgdir);
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(r->dsn, sizeof(r->dsn), f) == NULL) {
        fprintf(stderr, "tp_chaos: %s: no dsn (start the cluster with pgtmp.sh)\n", path);
        return 2;
    }
    fclose(f);
    r->dsn[strcspn(r->dsn, "\n")] = '\0';
    snprintf(r->dir, sizeof(r->dir), "/tmp/tp-chaos-XXXXXX");
    if (mkdtemp(r->dir) == NULL)
        return 2;
    chmod(r->dir, 0755);
    r->port = 20000 + (int)(getpid() % 20000);
    snprintf(r->endpoint, sizeof(r->endpoint), "tcp://127.0.0.1:%d", r->port);
    snprintf(r->conf, sizeof(r->conf), "%.200s/tenderpoold.conf", r->dir);
    snprintf(r->log, sizeof(r->log), "%.200s/daemon.log", r->dir);
    f = fopen(r->conf, "w");
    if (f == NULL)
        return 2;
    fprintf(f,
            "[intake]\nendpoint = %s\n[control]\nendpoint = ipc://%s/control\n[metrics]\n"
            "listen =\n[database]\ndsn = %s\n[workers]\ncount = %d\nruntime_dir = %s/run\n"
            "heartbeat_timeout = 5\n[rounds]\nperiod = 1w\n[pooling]\nmin_members = 2\n"
            "[limits]\nmember_rate = 1000000\nmember_burst = 1000000\n[log]\nlevel = notice\n"
            "[security]\nmode = none\n",
            r->endpoint, r->dir, r->dsn, r->o.workers, r->dir);
    fclose(f);
    if (run_cmd("psql -q '%s' -c 'DROP SCHEMA IF EXISTS tenderpool CASCADE' >/dev/null 2>&1 && "
                "'%s/tenderpool' migrate -c '%s' >/dev/null",
                r->dsn, r->o.bin, r->conf) != 0) {
        fprintf(stderr, "tp_chaos: cannot reset and migrate the database\n");
        return 2;
    }
    r->zctx = zmq_ctx_new();
    r->socks = xcalloc((size_t)r->o.members, sizeof(void *));
    r->next_seq = xcalloc((size_t)r->o.members, sizeof(uint32_t));
    r->inflight = xcalloc((size_t)r->o.members, sizeof(int));
    r->queues = xcalloc((size_t)r->o.members, sizeof(ch_queue_t));
    r->batches = xcalloc(CH_MAX_BATCHES, sizeof(ch_batch_t));
    for (int m = 0; m < r->o.members; m++) {
        int one = 1, zero = 0;
        r->socks[m] = zmq_socket(r->zctx, ZMQ_DEALER);
        zmq_setsockopt(r->socks[m], ZMQ_IMMEDIATE, &one, sizeof(one));
        zmq_setsockopt(r->socks[m], ZMQ_LINGER, &zero, sizeof(zero));
        zmq_connect(r->socks[m], r->endpoint);
    }
    start_daemon(r);
    printf("tp_chaos: %d s, %d members, %d items/s offered, %d workers; log %s\n", r->o.seconds,
           r->o.members, r->o.rate, r->o.workers, r->log);
    fflush(stdout);
    int64_t end = now_ms() + (int64_t)r->o.seconds * 1000;
    while (now_ms() < end) {
        pump(r, now_ms() + 1000 + rand() % 1500, true);
        if (now_ms() < end)
            inject(r);
    }
    /* faults over: let every item be acked (the clients resend what was not) */
    pump(r, now_ms() + 120000, false);
    uint64_t unacked = r->nitems - r->acked;
    kill(r->daemon, SIGTERM);
    int st = 0;
    waitpid(r->daemon, &st, 0);
    uint64_t lost = 0, dups = 0, faults = 0;
    int rounds = 0, bad_rounds = 0;
    if (check(r, &lost, &dups, &rounds, &bad_rounds) < 0)
        return 2;
    for (int k = 0; k < F_N; k++)
        faults += r->faults[k];
    printf("faults injected %llu:", (unsigned long long)faults);
    for (int k = 0; k < F_N; k++)
        printf(" %s %llu%s", fault_names[k], (unsigned long long)r->faults[k],
               k + 1 < F_N ? "," : "\n");
    printf("items %zu, acked %llu, never acked %llu, lost %llu, duplicates %llu; "
           "RETRY_LATER answers %llu, batches resent after a timeout %llu items, unexpected "
           "statuses %llu\n",
           r->nitems, (unsigned long long)r->acked, (unsigned long long)unacked,
           (unsigned long long)lost, (unsigned long long)dups, (unsigned long long)r->retry_later,
           (unsigned long long)r->resent, (unsigned long long)r->rejected);
    printf("closed rounds %d, equal to tenderpool verify: %d; daemon exit status %d\n", rounds,
           rounds - bad_rounds, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    bool ok = lost == 0 && dups == 0 && unacked == 0 && bad_rounds == 0 && r->rejected == 0;
    printf("%s\n", ok ? "PASS" : "FAIL");
    if (ok)
        (void)run_cmd("rm -rf '%s'", r->dir);
    return ok ? 0 : 1;
}
