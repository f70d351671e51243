/* tenderpool lots withdraw: a failed tender's lot goes back to the pool through the daemon. */
#include <stdio.h>
#include <string.h>

#include "tp_cli.h"

int tp_cmd_lots_withdraw(int argc, char **argv)
{
    const char *reason = NULL;
    tp_cli_opt_t opts[] = {{"--reason", &reason}};
    tp_config_t cfg;
    /* argv[0] is "withdraw", argv[1] the lot id */
    if (argc < 2 || argv[1][0] == '-' ||
        tp_cli_parse_opts("lots withdraw", argc - 1, argv + 1, opts, 1) < 0 ||
        tp_cli_load_config(argc, argv, &cfg) < 0) {
        fprintf(stderr, "usage: tenderpool lots withdraw LOT [--reason TEXT] -c FILE\n"
                        "  the lot's requests carry over to the open round (or are unpooled at\n"
                        "  the carry limit); goes through tenderpoold, which must be running\n");
        return 2;
    }
    if (reason && strchr(reason, '\n')) {
        fprintf(stderr, "tenderpool lots withdraw: --reason must be one line\n");
        return 2;
    }
    char cmd[1024];
    int n = snprintf(cmd, sizeof(cmd), "withdraw %s\n%s", argv[1], reason ? reason : "");
    if (n < 0 || (size_t)n >= 512) { /* the daemon reads commands of up to 511 bytes */
        fprintf(stderr, "tenderpool lots withdraw: lot id and reason are too long\n");
        return 2;
    }
    return tp_cli_control_print(&cfg, cmd, (size_t)n);
}
