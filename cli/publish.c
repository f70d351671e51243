/* `tenderpool publish`: the ZeroMQ side of sending a feed; the bookkeeping is in feed.c. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "tenderpool/v1/tenderpool.pb-c.h"
#include "tp_cert.h"
#include "tp_cli.h"
#include "tp_feed.h"
#include "tp_log.h"
#include "tp_mem.h"

#define PUBLISH_BACKOFF_MIN_MS 100
#define PUBLISH_BACKOFF_MAX_MS 5000
#define PUBLISH_MAX_WINDOW 4096
/* Room for the Batch / ClientMessage framing around the items (batch_id, tags, lengths). */
#define PUBLISH_BATCH_OVERHEAD 32

typedef struct publish_opts {
    const char *member;
    const char *endpoint;
    long batch;
    long window;
    long timeout_s;
    long deadline_s;
    const char *feed_path;
    const char *cert;       /* curve: the member's secret certificate */
    const char *server_key; /* curve: the server's public certificate */
} publish_opts_t;

/* Everything one run needs, passed explicitly. */
typedef struct publish_ctx {
    publish_opts_t opt;
    tp_config_t cfg;
    char endpoint[TP_CFG_STR];
    void *zctx;
    void *sock;
    FILE *in;
    const char *feed_name;
    tp_feed_t *feed;
    bool feed_eof;
    tp_feed_outbox_t *ob;
    size_t max_batch_bytes;
    /* Encoding scratch: one slot per batch item. */
    Tenderpool__V1__Envelope *env;
    Tenderpool__V1__Envelope **envp;
    Tenderpool__V1__PurchaseRequest *req;
    Tenderpool__V1__Cancel *cancel;
    uint8_t *buf;
    size_t buf_cap;
    tp_feed_ack_t *acks;
    size_t acks_cap;
} publish_ctx_t;

static const char publish_usage_text[] =
    "usage: tenderpool publish -c FILE --member M [--endpoint EP] [--batch N] [--window N]\n"
    "                          [--timeout SEC] [--deadline SEC]\n"
    "                          [--cert NAME.key_secret --server-key server.key] FEED\n"
    "\n"
    "Sends a CSV or JSON-lines feed of purchase requests (FEED '-' reads stdin) and prints\n"
    "one line per outcome. Exit 0 when every item was accepted or duplicate, 1 otherwise,\n"
    "2 on a usage or configuration error.\n"
    "\n"
    "  -c FILE          tenderpoold.conf: [intake] endpoint, [security] mode\n"
    "  --member M       member_id set on every envelope\n"
    "  --endpoint EP    connect here instead of [intake] endpoint\n"
    "  --batch N        items per batch (default 100, at most [intake] max_batch_items)\n"
    "  --window N       batches in flight (default 64)\n"
    "  --timeout SEC    resend a batch unanswered for this long (default 5)\n"
    "  --deadline SEC   give up on undelivered items after this long (default 120)\n"
    "  --cert FILE      [security] mode = curve: the member's secret certificate\n"
    "                   (tenderpool member add NAME --out DIR writes DIR/NAME.key_secret)\n"
    "  --server-key FILE  the server's public certificate (DIR/server.key)\n";

static int publish_usage(const char *why)
{
    if (why)
        fprintf(stderr, "tenderpool publish: %s\n", why);
    fputs(publish_usage_text, stderr);
    return 2;
}

static int publish_parse_long(const char *name, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "tenderpool publish: %s must be a whole number from %ld to %ld, not '%s'\n",
                name, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

enum {
    OPT_MEMBER = 256,
    OPT_ENDPOINT,
    OPT_BATCH,
    OPT_WINDOW,
    OPT_TIMEOUT,
    OPT_DEADLINE,
    OPT_CERT,
    OPT_SERVER_KEY
};

static int publish_parse_args(int argc, char **argv, publish_opts_t *o)
{
    static const struct option longopts[] = {
        {"member", required_argument, NULL, OPT_MEMBER},
        {"endpoint", required_argument, NULL, OPT_ENDPOINT},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"deadline", required_argument, NULL, OPT_DEADLINE},
        {"cert", required_argument, NULL, OPT_CERT},
        {"server-key", required_argument, NULL, OPT_SERVER_KEY},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch, rc = 0;
    *o = (publish_opts_t){.batch = 100, .window = 64, .timeout_s = 5, .deadline_s = 120};
    optind = 1;
    while (rc == 0 && (ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': /* -c / --config: read by tp_cli_load_config */
            break;
        case OPT_MEMBER:
            o->member = optarg;
            break;
        case OPT_ENDPOINT:
            o->endpoint = optarg;
            break;
        case OPT_BATCH:
            rc = publish_parse_long("--batch", optarg, 1, 1000000, &o->batch);
            break;
        case OPT_WINDOW:
            rc = publish_parse_long("--window", optarg, 1, PUBLISH_MAX_WINDOW, &o->window);
            break;
        case OPT_TIMEOUT:
            rc = publish_parse_long("--timeout", optarg, 1, 3600, &o->timeout_s);
            break;
        case OPT_DEADLINE:
            rc = publish_parse_long("--deadline", optarg, 1, 7 * 86400, &o->deadline_s);
            break;
        case OPT_CERT:
            o->cert = optarg;
            break;
        case OPT_SERVER_KEY:
            o->server_key = optarg;
            break;
        case 'h':
            fputs(publish_usage_text, stdout);
            exit(0);
        default: /* getopt has named the option */
            publish_usage(NULL);
            return -1;
        }
    }
    if (rc == 0 && optind != argc - 1)
        rc = publish_usage(optind < argc ? "exactly one FEED expected" : "FEED missing");
    if (rc == 0)
        o->feed_path = argv[optind];
    return rc == 0 ? 0 : -1;
}

/* member_id rules of security = none (SPEC 3): checked here so a typo is one message,
 * not one REJECTED line per item. */
static bool publish_member_ok(const char *m)
{
    size_t len = m ? strlen(m) : 0;
    if (len < 1 || len > 64)
        return false;
    for (const char *p = m; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

static int64_t publish_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Batch ids only need to be unique within the run; a random base keeps two runs of the same
 * member apart in the daemon's logs. */
static uint64_t publish_first_batch_id(void)
{
    uint64_t id;
    if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
        id = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
    return id;
}

/* ---- socket ------------------------------------------------------------------------------ */

/* The server binds; a wildcard address in the shared config means "this host" here. */
static void publish_endpoint(publish_ctx_t *c)
{
    const char *ep = c->opt.endpoint ? c->opt.endpoint : c->cfg.intake_endpoint;
    static const char *const wild[] = {"tcp://*:", "tcp://0.0.0.0:"};
    for (size_t i = 0; i < sizeof(wild) / sizeof(wild[0]); i++) {
        if (strncmp(ep, wild[i], strlen(wild[i])) == 0) {
            snprintf(c->endpoint, sizeof(c->endpoint), "tcp://127.0.0.1:%s", ep + strlen(wild[i]));
            return;
        }
    }
    snprintf(c->endpoint, sizeof(c->endpoint), "%s", ep);
}

/* Client side of [security]: curve sets the server's public key and the member's key pair
 * before connect; none needs nothing. */
static int publish_secure(publish_ctx_t *c)
{
    if (c->cfg.security_mode == TP_SECURITY_NONE)
        return 0;
    tp_cert_t mine, server;
    char err[600];
    if (c->opt.cert == NULL || c->opt.server_key == NULL) {
        fprintf(stderr, "tenderpool publish: [security] mode = curve needs --cert (the member's "
                        "secret certificate) and --server-key (the server's public one)\n");
        return -1;
    }
    if (tp_cert_read(c->opt.cert, &mine, true, err, sizeof(err)) < 0 ||
        tp_cert_read(c->opt.server_key, &server, false, err, sizeof(err)) < 0) {
        fprintf(stderr, "tenderpool publish: %s\n", err);
        return -1;
    }
    if (zmq_setsockopt(c->sock, ZMQ_CURVE_SERVERKEY, server.public_key, TP_Z85_KEY_LEN) < 0 ||
        zmq_setsockopt(c->sock, ZMQ_CURVE_PUBLICKEY, mine.public_key, TP_Z85_KEY_LEN) < 0 ||
        zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, mine.secret_key, TP_Z85_KEY_LEN) < 0) {
        fprintf(stderr, "tenderpool publish: CURVE keys refused: %s\n", zmq_strerror(errno));
        return -1;
    }
    memset(&mine, 0, sizeof(mine));
    return 0;
}

static int publish_connect(publish_ctx_t *c)
{
    int hwm = (int)(c->opt.window * 4 > 1000 ? c->opt.window * 4 : 1000), one = 1;
    c->zctx = zmq_ctx_new();
    c->sock = c->zctx ? zmq_socket(c->zctx, ZMQ_DEALER) : NULL;
    if (c->sock == NULL) {
        fprintf(stderr, "tenderpool publish: zmq socket: %s\n", zmq_strerror(errno));
        return -1;
    }
    zmq_setsockopt(c->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(c->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    /* Queue only to a live connection: while the daemon is away sends fail and batches are
     * resent on timeout, instead of piling up stale copies in a pipe. */
    zmq_setsockopt(c->sock, ZMQ_IMMEDIATE, &one, sizeof(one));
    if (publish_secure(c) < 0)
        return -1;
    if (zmq_connect(c->sock, c->endpoint) != 0) {
        fprintf(stderr, "tenderpool publish: cannot connect to %s: %s\n", c->endpoint,
                zmq_strerror(errno));
        return -1;
    }
    /* With ZMQ_IMMEDIATE the socket is writable once a connection (and its CURVE handshake)
     * is complete: wait for that rather than lose the first batches to a send timeout. A
     * daemon that is not there yet is handled by the resend logic. */
    zmq_pollitem_t it = {.socket = c->sock, .events = ZMQ_POLLOUT};
    if (zmq_poll(&it, 1, c->opt.timeout_s * 1000) == 0)
        tp_debug("no connection to %s yet; batches are resent until the deadline", c->endpoint);
    return 0;
}

static void publish_disconnect(publish_ctx_t *c)
{
    int linger = 0;
    if (c->sock) {
        zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_close(c->sock);
    }
    if (c->zctx)
        zmq_ctx_term(c->zctx);
    c->sock = c->zctx = NULL;
}

/* ---- encoding ---------------------------------------------------------------------------- */

static char *publish_str(const char *s)
{
    return (char *)(s ? s : ""); /* protobuf-c never writes through it */
}

/* Fill scratch slot i with the envelope of item. */
static Tenderpool__V1__Envelope *publish_envelope(publish_ctx_t *c, size_t i,
                                                  const tp_feed_item_t *it)
{
    Tenderpool__V1__Envelope *env = &c->env[i];
    *env = (Tenderpool__V1__Envelope)TENDERPOOL__V1__ENVELOPE__INIT;
    env->member_id = publish_str(c->opt.member);
    if (it->op == TP_FEED_CANCEL) {
        Tenderpool__V1__Cancel *k = &c->cancel[i];
        *k = (Tenderpool__V1__Cancel)TENDERPOOL__V1__CANCEL__INIT;
        k->request_ref = publish_str(it->request_ref);
        k->revision = it->revision;
        k->reason = publish_str(it->reason);
        env->body_case = TENDERPOOL__V1__ENVELOPE__BODY_CANCEL;
        env->cancel = k;
        return env;
    }
    Tenderpool__V1__PurchaseRequest *r = &c->req[i];
    *r = (Tenderpool__V1__PurchaseRequest)TENDERPOOL__V1__PURCHASE_REQUEST__INIT;
    r->request_ref = publish_str(it->request_ref);
    r->revision = it->revision;
    r->cpv = publish_str(it->cpv);
    r->item_key = publish_str(it->item_key);
    r->description = publish_str(it->description);
    r->quantity = publish_str(it->quantity);
    r->unit = publish_str(it->unit);
    r->need_by = publish_str(it->need_by);
    r->delivery_zone = publish_str(it->delivery_zone);
    r->currency = publish_str(it->currency);
    r->max_unit_price = publish_str(it->max_unit_price);
    if (it->op == TP_FEED_AMEND) {
        env->body_case = TENDERPOOL__V1__ENVELOPE__BODY_AMEND;
        env->amend = r;
    } else {
        env->body_case = TENDERPOOL__V1__ENVELOPE__BODY_SUBMIT;
        env->submit = r;
    }
    return env;
}

/* Bytes the item adds to a Batch: the envelope, its field tag and its length varint. */
static size_t publish_wire_bytes(publish_ctx_t *c, const tp_feed_item_t *it)
{
    size_t n = protobuf_c_message_get_packed_size(&publish_envelope(c, 0, it)->base);
    size_t varint = 1;
    for (size_t v = n; v >= 0x80; v >>= 7)
        varint++;
    return n + 1 + varint;
}

static void publish_send(publish_ctx_t *c, uint64_t batch_id, tp_feed_item_t *const *items,
                         size_t n)
{
    Tenderpool__V1__Batch batch = TENDERPOOL__V1__BATCH__INIT;
    Tenderpool__V1__ClientMessage msg = TENDERPOOL__V1__CLIENT_MESSAGE__INIT;
    for (size_t i = 0; i < n; i++)
        c->envp[i] = publish_envelope(c, i, items[i]);
    batch.batch_id = batch_id;
    batch.n_items = n;
    batch.items = c->envp;
    msg.kind_case = TENDERPOOL__V1__CLIENT_MESSAGE__KIND_BATCH;
    msg.batch = &batch;
    size_t len = protobuf_c_message_get_packed_size(&msg.base);
    if (len > c->buf_cap) {
        c->buf_cap = len;
        c->buf = xrealloc(c->buf, len);
    }
    protobuf_c_message_pack(&msg.base, c->buf);
    /* A send that fails leaves the batch in flight: it times out and is resent. */
    if (zmq_send(c->sock, c->buf, len, ZMQ_DONTWAIT) < 0)
        tp_debug("batch %llu not sent: %s", (unsigned long long)batch_id, zmq_strerror(errno));
}

/* ---- replies ----------------------------------------------------------------------------- */

static tp_feed_result_t publish_result(Tenderpool__V1__Status s)
{
    switch (s) {
    case TENDERPOOL__V1__STATUS__STATUS_ACCEPTED:
        return TP_FEED_ACCEPTED;
    case TENDERPOOL__V1__STATUS__STATUS_DUPLICATE:
        return TP_FEED_DUPLICATE;
    case TENDERPOOL__V1__STATUS__STATUS_STALE:
        return TP_FEED_STALE;
    case TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER:
        return TP_FEED_RETRY_LATER;
    default: /* REJECTED, and statuses this client does not know */
        return TP_FEED_REJECTED;
    }
}

static void publish_apply_ack(publish_ctx_t *c, const Tenderpool__V1__BatchAck *ba, int64_t now)
{
    if (ba->n_acks > c->acks_cap) {
        c->acks_cap = ba->n_acks;
        c->acks = xrealloc(c->acks, c->acks_cap * sizeof(*c->acks));
    }
    for (size_t i = 0; i < ba->n_acks; i++) {
        const Tenderpool__V1__Ack *a = ba->acks[i];
        bool known = a->status >= TENDERPOOL__V1__STATUS__STATUS_ACCEPTED &&
                     a->status <= TENDERPOOL__V1__STATUS__STATUS_RETRY_LATER;
        c->acks[i] = (tp_feed_ack_t){
            .result = publish_result(a->status),
            .request_ref = a->request_ref,
            .error_code = known || *a->error_code ? a->error_code : "UNKNOWN_STATUS",
            .detail = known || *a->detail ? a->detail : "the server answered an unknown status",
        };
    }
    int rc = tp_feed_outbox_ack(c->ob, ba->batch_id, c->acks, ba->n_acks, now);
    if (rc < 0)
        tp_warn("batch %llu: the reply (%zu acks) does not match the batch; it will be resent",
                (unsigned long long)ba->batch_id, ba->n_acks);
    else if (rc > 0)
        tp_debug("batch %llu: reply ignored (unknown or already answered)",
                 (unsigned long long)ba->batch_id);
}

static void publish_handle_reply(publish_ctx_t *c, zmq_msg_t *m, int64_t now)
{
    Tenderpool__V1__ServerMessage *sm =
        tenderpool__v1__server_message__unpack(NULL, zmq_msg_size(m), zmq_msg_data(m));
    if (sm == NULL) {
        tp_warn("undecodable reply of %zu bytes ignored", zmq_msg_size(m));
        return;
    }
    if (sm->kind_case == TENDERPOOL__V1__SERVER_MESSAGE__KIND_BATCH_ACK)
        publish_apply_ack(c, sm->batch_ack, now);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
}

static void publish_receive_all(publish_ctx_t *c)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) >= 0)
        publish_handle_reply(c, &m, publish_now_ms());
    zmq_msg_close(&m);
}

/* ---- the run ----------------------------------------------------------------------------- */

static void publish_add(publish_ctx_t *c, tp_feed_item_t *item)
{
    char msg[256];
    item->wire_bytes = publish_wire_bytes(c, item);
    if (item->wire_bytes <= c->max_batch_bytes) {
        tp_feed_outbox_add(c->ob, item);
        return;
    }
    snprintf(msg, sizeof(msg),
             "%s:%zu: item encodes to %zu bytes, above [intake] max_message_bytes", c->feed_name,
             item->line, item->wire_bytes);
    tp_feed_report_unreadable(tp_feed_outbox_report(c->ob), msg);
    tp_feed_item_destroy(&item);
}

/* Read from the feed until a full batch is queued (or the feed ends). With `undelivered`,
 * read to the end counting items as undelivered (the deadline has passed). */
static void publish_read(publish_ctx_t *c, bool undelivered)
{
    char err[768];
    tp_feed_report_t *report = tp_feed_outbox_report(c->ob);
    while (!c->feed_eof && (undelivered || tp_feed_outbox_ready(c->ob) < (size_t)c->opt.batch)) {
        tp_feed_item_t *item;
        int rc = tp_feed_next(c->feed, &item, err, sizeof(err));
        if (rc == 0)
            c->feed_eof = true;
        else if (rc < 0)
            tp_feed_report_unreadable(report, err);
        else if (undelivered) {
            report->count[TP_FEED_UNDELIVERED]++;
            tp_feed_item_destroy(&item);
        } else
            publish_add(c, item);
    }
}

static void publish_send_ready(publish_ctx_t *c, int64_t now)
{
    uint64_t id;
    tp_feed_item_t *const *items;
    size_t n;
    for (;;) {
        publish_read(c, false);
        n = tp_feed_outbox_next_batch(c->ob, now, &id, &items);
        if (n == 0)
            return;
        publish_send(c, id, items, n);
    }
}

static void publish_run(publish_ctx_t *c)
{
    int64_t deadline = publish_now_ms() + c->opt.deadline_s * 1000;
    for (;;) {
        int64_t now = publish_now_ms();
        if (now >= deadline) {
            fprintf(stderr, "tenderpool publish: deadline of %lds reached\n", c->opt.deadline_s);
            tp_feed_outbox_abandon(c->ob);
            publish_read(c, true);
            return;
        }
        tp_feed_outbox_expire(c->ob, now);
        publish_send_ready(c, now);
        if (c->feed_eof && tp_feed_outbox_done(c->ob))
            return;
        int64_t wait = tp_feed_outbox_next_wakeup(c->ob, now);
        if (wait < 0 || wait > deadline - now)
            wait = deadline - now;
        zmq_pollitem_t pi = {.socket = c->sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&pi, 1, (long)wait) < 0 && errno != EINTR)
            tp_fatal("zmq_poll: %s", zmq_strerror(errno));
        if (pi.revents & ZMQ_POLLIN)
            publish_receive_all(c);
    }
}

static int publish_open_feed(publish_ctx_t *c)
{
    char err[768];
    bool is_stdin = strcmp(c->opt.feed_path, "-") == 0;
    c->feed_name = is_stdin ? "stdin" : c->opt.feed_path;
    c->in = is_stdin ? stdin : fopen(c->opt.feed_path, "r");
    if (c->in == NULL) {
        fprintf(stderr, "tenderpool publish: %s: %s\n", c->opt.feed_path, strerror(errno));
        return 2;
    }
    c->feed = tp_feed_open(c->in, c->feed_name,
                           is_stdin ? TP_FEED_AUTO : tp_feed_format_from_name(c->opt.feed_path),
                           err, sizeof(err));
    if (c->feed == NULL) {
        fprintf(stderr, "tenderpool publish: %s\n", err);
        return 1;
    }
    return 0;
}

static void publish_setup_outbox(publish_ctx_t *c)
{
    size_t n = (size_t)c->opt.batch;
    tp_feed_outbox_opts_t o = {
        .batch_items = n,
        .max_batch_bytes = c->max_batch_bytes,
        .window = (size_t)c->opt.window,
        .timeout_ms = c->opt.timeout_s * 1000,
        .backoff_min_ms = PUBLISH_BACKOFF_MIN_MS,
        .backoff_max_ms = PUBLISH_BACKOFF_MAX_MS,
        .first_batch_id = publish_first_batch_id(),
    };
    c->ob = tp_feed_outbox_new(&o);
    c->env = xcalloc(n, sizeof(*c->env));
    c->envp = xcalloc(n, sizeof(*c->envp));
    c->req = xcalloc(n, sizeof(*c->req));
    c->cancel = xcalloc(n, sizeof(*c->cancel));
}

static void publish_cleanup(publish_ctx_t *c)
{
    publish_disconnect(c);
    tp_feed_destroy(&c->feed);
    if (c->in && c->in != stdin)
        fclose(c->in);
    tp_feed_outbox_destroy(&c->ob);
    free(c->env);
    free(c->envp);
    free(c->req);
    free(c->cancel);
    free(c->buf);
    free(c->acks);
}

/* Options and config checks: 0, or the exit code (2). */
static int publish_configure(publish_ctx_t *c, int argc, char **argv)
{
    if (publish_parse_args(argc, argv, &c->opt) < 0)
        return 2;
    if (c->opt.member == NULL)
        return publish_usage("--member is required");
    if (!publish_member_ok(c->opt.member))
        return publish_usage("--member must be 1-64 characters of [A-Za-z0-9._-]");
    if (tp_cli_load_config(argc, argv, &c->cfg) < 0)
        return publish_usage("-c FILE is required");
    if (c->opt.batch > c->cfg.max_batch_items) {
        fprintf(stderr, "tenderpool publish: --batch %ld is above [intake] max_batch_items (%d)\n",
                c->opt.batch, c->cfg.max_batch_items);
        return 2;
    }
    if (c->cfg.max_message_bytes <= PUBLISH_BATCH_OVERHEAD) {
        fprintf(stderr, "tenderpool publish: [intake] max_message_bytes is too small\n");
        return 2;
    }
    c->max_batch_bytes = (size_t)c->cfg.max_message_bytes - PUBLISH_BATCH_OVERHEAD;
    publish_endpoint(c);
    return 0;
}

int tp_cmd_publish(int argc, char **argv)
{
    publish_ctx_t c = {0};
    int rc = publish_configure(&c, argc, argv);
    if (rc == 0)
        rc = publish_open_feed(&c);
    if (rc == 0 && publish_connect(&c) < 0)
        rc = 2;
    if (rc == 0) {
        publish_setup_outbox(&c);
        publish_run(&c);
        tp_feed_report_print(tp_feed_outbox_report(c.ob), stdout, stderr);
        rc = tp_feed_report_exit_code(tp_feed_outbox_report(c.ob));
    }
    publish_cleanup(&c);
    return rc;
}
