/* tenderpool-worker: started by tenderpoold, one per [workers] count; not for direct use. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_log.h"
#include "tp_worker.h"

static void usage(void)
{
    fprintf(stderr, "usage: tenderpool-worker --index I --count N --supervisor ENDPOINT "
                    "-c FILE\n(started by tenderpoold; not meant to be run by hand)\n");
    exit(2);
}

static void parse_args(tp_worker_t *w, int argc, char **argv)
{
    static const struct option opts[] = {{"index", required_argument, NULL, 'i'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"supervisor", required_argument, NULL, 's'},
                                         {"config", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    w->count = 0;
    while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            w->index = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'n':
            w->count = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 's':
            snprintf(w->sup_endpoint, sizeof(w->sup_endpoint), "%s", optarg);
            break;
        case 'c':
            snprintf(w->config_path, sizeof(w->config_path), "%s", optarg);
            break;
        default:
            usage();
        }
    }
    if (w->count == 0 || w->index >= w->count || !w->sup_endpoint[0] || !w->config_path[0])
        usage();
}

int main(int argc, char **argv)
{
    static tp_worker_t w; /* the process's one context, zeroed */
    parse_args(&w, argc, argv);
    char tag[32], err[512];
    snprintf(tag, sizeof(tag), "worker[%u]", w.index);
    tp_log_open(tag, TP_LOG_INFO);
    tp_config_defaults(&w.cfg);
    if (tp_config_load(&w.cfg, w.config_path, err, sizeof(err)) < 0)
        tp_fatal("%s", err);
    tp_log_set_level(w.cfg.log_level);
    if (tp_calendar_init(&w.cal, w.cfg.period, w.cfg.timezone, err, sizeof(err)) < 0)
        tp_fatal("[rounds]: %s", err);
    return tp_worker_run(&w) == 0 ? 0 : 1;
}
