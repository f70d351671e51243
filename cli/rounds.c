/* tenderpool rounds: operator commands about purchasing rounds, sent to the daemon's control
 * socket. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "tp_cli.h"

#define TP_CONTROL_TIMEOUT_MS 10000 /* SPEC: control commands give up after 10 s */

/* Send one command to the control endpoint and print the answer; the process exit code. */
static int control_call(const tp_config_t *cfg, const char *cmd)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, rc = 1;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_connect(s, cfg->control_endpoint) < 0) {
        fprintf(stderr, "tenderpool: cannot connect to %s: %s\n", cfg->control_endpoint,
                zmq_strerror(zmq_errno()));
        goto out;
    }
    zmq_send(s, cmd, strlen(cmd), 0);
    zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
    if (zmq_poll(&it, 1, TP_CONTROL_TIMEOUT_MS) <= 0) {
        fprintf(stderr,
                "tenderpool: tenderpoold did not answer on %s within %d s (is it running?)\n",
                cfg->control_endpoint, TP_CONTROL_TIMEOUT_MS / 1000);
        goto out;
    }
    char buf[1024];
    int n = zmq_recv(s, buf, sizeof(buf) - 1, 0);
    if (n < 0)
        goto out;
    buf[n < (int)sizeof(buf) - 1 ? n : (int)sizeof(buf) - 1] = '\0';
    bool failed = strncmp(buf, "error", 5) == 0;
    fprintf(failed ? stderr : stdout, "%s\n", buf);
    rc = failed ? 1 : 0;
out:
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rc;
}

int tp_cmd_rounds(int argc, char **argv)
{
    tp_config_t cfg;
    if (argc < 2 || tp_cli_load_config(argc, argv, &cfg) < 0) {
        fprintf(stderr, "usage: tenderpool rounds close-current -c FILE\n");
        return 2;
    }
    if (strcmp(argv[1], "close-current") == 0)
        return control_call(&cfg, "close-current");
    fprintf(stderr, "tenderpool: unknown rounds command '%s' (known: close-current)\n", argv[1]);
    return 2;
}
