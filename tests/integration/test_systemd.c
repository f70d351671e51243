/* Integration: tenderpoold under a pretend systemd: sd_notify messages, reload, drain under
 * load, worker supervision (issue 6). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zmq.h>

#include "tp_testclient.h"
#include "tp_testenv.h"

static tp_test_daemon_t d;
static void *zctx;
static PGconn *db;
static int nfd = -1;      /* our NOTIFY_SOCKET */
static char notes[65536]; /* everything received, one message per line */

static void sd_start(void)
{
    tp_test_reset_db();
    db = tp_test_pg();
    zctx = zmq_ctx_new();
    memset(&d, 0, sizeof(d));
    notes[0] = '\0';
}

static void sd_stop(void)
{
    if (d.pid > 0)
        tp_test_daemon_stop(&d);
    if (nfd >= 0)
        close(nfd);
    nfd = -1;
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    if (db)
        PQfinish(db);
    db = NULL;
    zmq_ctx_term(zctx);
    if (d.dir[0])
        (void)tp_test_run(NULL, 0, "rm -rf '%s'", d.dir);
}

TestSuite(systemd, .init = sd_start, .fini = sd_stop, .timeout = 180);

/* Start the daemon with NOTIFY_SOCKET and a 2 s watchdog, as systemd would. */
static void start_notified(const char *extra)
{
    tp_test_write_config(&d, 2, "1w", extra); /* creates d.dir */
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    cr_assert_lt(strlen(d.dir) + strlen("/notify"), sizeof(sa.sun_path));
    memcpy(sa.sun_path, d.dir, strlen(d.dir));
    memcpy(sa.sun_path + strlen(d.dir), "/notify", sizeof("/notify"));
    nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    cr_assert_geq(nfd, 0);
    cr_assert_eq(bind(nfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setenv("NOTIFY_SOCKET", sa.sun_path, 1);
    setenv("WATCHDOG_USEC", "2000000", 1);
    tp_test_daemon_start(&d, 2, "1w", extra);
}

/* Read what arrived; true once `what` is among the messages (within ms). */
static bool wait_note(const char *what, int ms)
{
    for (int waited = 0;; waited += 50) {
        char buf[4096];
        ssize_t n;
        while ((n = recv(nfd, buf, sizeof(buf) - 1, 0)) > 0) {
            buf[n] = '\0';
            size_t used = strlen(notes);
            snprintf(notes + used, sizeof(notes) - used, "%s\n", buf);
        }
        if (strstr(notes, what) != NULL)
            return true;
        if (waited >= ms)
            return false;
        usleep(50000);
    }
}

static int count_of(const char *what)
{
    int n = 0;
    for (const char *p = notes; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

static bool log_has(const char *what, int ms)
{
    for (int waited = 0; waited <= ms; waited += 100) {
        if (tp_test_run(NULL, 0, "grep -q -- '%s' '%s/daemon.log'", what, d.dir) == 0)
            return true;
        usleep(100000);
    }
    return false;
}

Test(systemd, ready_status_watchdog_reload_stopping)
{
    start_notified(NULL);
    cr_expect(wait_note("READY=1", 5000), "READY=1: %s", notes);
    cr_expect(wait_note("STATUS=", 7000), "STATUS=: %s", notes);
    notes[0] = '\0';
    cr_expect(wait_note("WATCHDOG=1", 3000));
    usleep(2500000);
    wait_note("WATCHDOG=1", 0);
    cr_expect_geq(count_of("WATCHDOG=1"), 2, "the watchdog is fed at half its period: %s", notes);

    /* a good reload */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "sed -i 's/^level = info/level = debug/' '%s'", d.conf);
    cr_assert_eq(tp_test_run(NULL, 0, "%s", cmd), 0);
    notes[0] = '\0';
    kill(d.pid, SIGHUP);
    cr_expect(wait_note("RELOADING=1", 5000), "%s", notes);
    cr_expect(wait_note("READY=1", 5000), "%s", notes);
    cr_expect(log_has("configuration reloaded", 5000));

    /* a bad file: reported, the old configuration stays, the daemon keeps working */
    cr_assert_eq(tp_test_run(NULL, 0, "cp '%s' '%s.good' && echo 'count = many' >> '%s'", d.conf,
                             d.conf, d.conf),
                 0);
    notes[0] = '\0';
    kill(d.pid, SIGHUP);
    cr_expect(wait_note("RELOADING=1", 5000) && wait_note("READY=1", 5000), "%s", notes);
    cr_expect(log_has("reload refused", 5000));
    void *s = tp_test_connect(zctx, d.endpoint);
    tp_test_item_t it = tp_test_item_default("acme", "after-bad-reload");
    Tenderpool__V1__ServerMessage *sm;
    Tenderpool__V1__BatchAck *ba = tp_test_batch(s, &it, 1, &sm);
    cr_expect_eq(ba->acks[0]->status, TENDERPOOL__V1__STATUS__STATUS_ACCEPTED);
    tenderpool__v1__server_message__free_unpacked(sm, NULL);
    zmq_close(s);
    tp_test_run(NULL, 0, "mv '%s.good' '%s'", d.conf, d.conf);

    notes[0] = '\0';
    int st = tp_test_daemon_stop(&d);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit 0 after SIGTERM (status %d)", st);
    cr_expect(wait_note("STOPPING=1", 1000), "%s", notes);
}

/* Items "load-<n>" in batches of 20, a window of 10 batches: after SIGTERM every ACCEPTED item
 * is stored, and a resend of the others to a restarted daemon stores each once. */
Test(systemd, sigterm_under_load_loses_nothing)
{
    start_notified(NULL);
    enum { NB = 150, PER = 20 };
    static int acked[NB * PER]; /* 1 accepted or duplicate */
    memset(acked, 0, sizeof(acked));
    void *s = tp_test_connect(zctx, d.endpoint);
    static char refs[NB * PER][24];
    for (int i = 0; i < NB * PER; i++)
        snprintf(refs[i], sizeof(refs[i]), "load-%d", i);
    tp_test_item_t items[PER];
    int sent = 0, answered = 0;
    bool termed = false;
    while (answered < sent || sent < NB) {
        while (sent < NB && sent - answered < 10) {
            for (int k = 0; k < PER; k++)
                items[k] = tp_test_item_default("acme", refs[sent * PER + k]);
            size_t len;
            uint8_t *buf = tp_test_pack_batch((uint64_t)sent + 1, items, PER, &len);
            tp_test_send(s, buf, len);
            free(buf);
            sent++;
        }
        if (!termed && sent >= NB / 3) {
            kill(d.pid, SIGTERM); /* drain: finish and ack what is in flight */
            termed = true;
        }
        Tenderpool__V1__ServerMessage *sm = tp_test_recv(s, 3000);
        if (sm == NULL)
            break; /* the daemon is gone: the rest was never read */
        Tenderpool__V1__BatchAck *ba = sm->batch_ack;
        bool ours = ba && ba->batch_id >= 1 && ba->batch_id <= NB && ba->n_acks == PER;
        for (size_t k = 0; ours && k < ba->n_acks; k++)
            if (ba->acks[k]->status == TENDERPOOL__V1__STATUS__STATUS_ACCEPTED)
                acked[(ba->batch_id - 1) * PER + k] = 1;
        answered++;
        tenderpool__v1__server_message__free_unpacked(sm, NULL);
    }
    int st;
    cr_assert_eq(waitpid(d.pid, &st, 0), d.pid);
    d.pid = 0;
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "drained and exited 0 (status %d)", st);
    zmq_close(s);
    int nacked = 0;
    for (int i = 0; i < NB * PER; i++)
        nacked += acked[i];
    cr_expect_gt(nacked, 0);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM tenderpool.revision WHERE request_ref LIKE 'load-%%'");
    cr_expect_geq(tp_test_pg_long(db, sql), nacked, "every acked item is stored");

    /* the client resends everything not acked (same ids) to the restarted daemon */
    tp_test_daemon_start(&d, 2, "1w", NULL);
    s = tp_test_connect(zctx, d.endpoint);
    for (int b = 0; b < NB; b++) {
        for (int k = 0; k < PER; k++)
            items[k] = tp_test_item_default("acme", refs[b * PER + k]);
        Tenderpool__V1__ServerMessage *sm;
        Tenderpool__V1__BatchAck *ba = tp_test_batch(s, items, PER, &sm);
        for (int k = 0; k < PER; k++) {
            Tenderpool__V1__Status want =
                acked[b * PER + k] ? TENDERPOOL__V1__STATUS__STATUS_DUPLICATE : ba->acks[k]->status;
            cr_expect(ba->acks[k]->status == want &&
                          (want == TENDERPOOL__V1__STATUS__STATUS_ACCEPTED ||
                           want == TENDERPOOL__V1__STATUS__STATUS_DUPLICATE),
                      "%s: %s", refs[b * PER + k], tp_test_status_name(ba->acks[k]->status));
        }
        tenderpool__v1__server_message__free_unpacked(sm, NULL);
    }
    zmq_close(s);
    cr_expect_eq(tp_test_pg_long(db, sql), NB * PER, "every item stored exactly once");
    snprintf(sql, sizeof(sql),
             "SELECT count(DISTINCT request_ref) FROM tenderpool.revision WHERE request_ref LIKE "
             "'load-%%'");
    cr_expect_eq(tp_test_pg_long(db, sql), NB * PER);
}

static pid_t worker_pid(int index)
{
    char out[64];
    tp_test_run(out, sizeof(out), "pgrep -P %d -f -- '--index %d '", (int)d.pid, index);
    return (pid_t)atoi(out);
}

Test(systemd, killed_and_hung_workers_are_replaced)
{
    start_notified("[workers]\nheartbeat_timeout = 3\n");
    pid_t w1 = worker_pid(1);
    cr_assert_gt(w1, 0);
    kill(w1, SIGKILL);
    cr_expect(log_has("worker 1 (pid [0-9]*) killed by signal 9", 5000));
    cr_expect(log_has("worker 1 restarts in", 5000));
    for (int i = 0; i < 50 && (worker_pid(1) <= 0 || worker_pid(1) == w1); i++)
        usleep(100000);
    cr_expect_neq(worker_pid(1), w1, "a new worker 1");

    pid_t w0 = worker_pid(0);
    cr_assert_gt(w0, 0);
    kill(w0, SIGSTOP); /* hung: no heartbeat */
    cr_expect(log_has("worker 0 (pid [0-9]*) silent for", 10000), "heartbeat detection");
    for (int i = 0; i < 100 && (worker_pid(0) <= 0 || worker_pid(0) == w0); i++)
        usleep(100000);
    cr_expect_neq(worker_pid(0), w0, "a new worker 0");
    kill(w0, SIGCONT);

    /* the daemon serves again, with every item acked once */
    void *s = tp_test_connect(zctx, d.endpoint);
    tp_test_item_t it[4] = {tp_test_item_default("a", "1"), tp_test_item_default("b", "2"),
                            tp_test_item_default("c", "3"), tp_test_item_default("d", "4")};
    for (int tries = 0; tries < 50; tries++) {
        Tenderpool__V1__ServerMessage *sm;
        Tenderpool__V1__BatchAck *ba = tp_test_batch(s, it, 4, &sm);
        int done = 0;
        for (int k = 0; k < 4; k++)
            done += ba->acks[k]->status == TENDERPOOL__V1__STATUS__STATUS_ACCEPTED ||
                    ba->acks[k]->status == TENDERPOOL__V1__STATUS__STATUS_DUPLICATE;
        tenderpool__v1__server_message__free_unpacked(sm, NULL);
        if (done == 4)
            break;
        usleep(200000);
    }
    cr_expect_eq(tp_test_pg_long(db, "SELECT count(*) FROM tenderpool.revision"), 4);
    zmq_close(s);
}
