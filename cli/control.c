/* The daemon's control socket from the CLI: one command, one reply, a 10 s limit. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "tp_cli.h"

#define TP_CONTROL_TIMEOUT_MS 10000 /* SPEC: control commands give up after 10 s */

int tp_cli_control(const tp_config_t *cfg, const char *cmd, size_t cmdlen, char *reply,
                   size_t replylen)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, rc = -1;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_connect(s, cfg->control_endpoint) < 0) {
        fprintf(stderr, "tenderpool: cannot connect to %s: %s\n", cfg->control_endpoint,
                zmq_strerror(zmq_errno()));
        goto out;
    }
    if (zmq_send(s, cmd, cmdlen, 0) < 0) {
        fprintf(stderr, "tenderpool: cannot send to %s: %s\n", cfg->control_endpoint,
                zmq_strerror(zmq_errno()));
        goto out;
    }
    zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
    if (zmq_poll(&it, 1, TP_CONTROL_TIMEOUT_MS) <= 0) {
        fprintf(stderr,
                "tenderpool: tenderpoold did not answer on %s within %d s (is it running?)\n",
                cfg->control_endpoint, TP_CONTROL_TIMEOUT_MS / 1000);
        goto out;
    }
    int n = zmq_recv(s, reply, replylen - 1, 0);
    if (n < 0) {
        fprintf(stderr, "tenderpool: no reply from %s: %s\n", cfg->control_endpoint,
                zmq_strerror(zmq_errno()));
        goto out;
    }
    reply[(size_t)n < replylen - 1 ? (size_t)n : replylen - 1] = '\0';
    rc = 0;
out:
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rc;
}

int tp_cli_control_print(const tp_config_t *cfg, const char *cmd, size_t cmdlen)
{
    char buf[2048];
    if (tp_cli_control(cfg, cmd, cmdlen, buf, sizeof(buf)) < 0)
        return 1;
    bool failed = strncmp(buf, "error", 5) == 0;
    fprintf(failed ? stderr : stdout, "%s\n", buf);
    return failed ? 1 : 0;
}
