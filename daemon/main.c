/* tenderpoold: the tenderpool daemon's entry point: options, configuration, then the supervisor. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tp_calendar.h"
#include "tp_log.h"
#include "tp_supervisor.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tenderpoold -c FILE [--check-config]\n"
            "\n"
            "Pools member purchase requests received over ZeroMQ into purchasing rounds.\n"
            "\n"
            "  -c, --config FILE   configuration file (INI; keys and defaults: SPEC section 6)\n"
            "      --check-config  validate the configuration and exit (0 when valid)\n"
            "  -h, --help          show this help\n"
            "  -V, --version       show the version\n"
            "\n"
            "Signals: SIGTERM/SIGINT drain (stop intake, ack in-flight work, exit 0); a second\n"
            "one or SIGQUIT exits at once; SIGHUP reloads the configuration.\n"
            "Environment: TENDERPOOL_WORKER overrides the tenderpool-worker binary path.\n");
}

/* tenderpool-worker: $TENDERPOOL_WORKER, else beside this binary, else the libexec dir. */
static void find_worker(char *out, size_t outlen)
{
    const char *env = getenv("TENDERPOOL_WORKER");
    if (env && *env) {
        snprintf(out, outlen, "%s", env);
        return;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        snprintf(out, outlen, "%s/tenderpool-worker", dirname(self));
        if (access(out, X_OK) == 0)
            return;
    }
    snprintf(out, outlen, "%s/tenderpool-worker", TP_LIBEXEC_DIR);
}

/* Fail closed: curve needs its secret key (checked when the intake is set up), and
 * unauthenticated intake (mode none) is for development on this machine only. */
static int check_security(const tp_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->security_mode == TP_SECURITY_CURVE) {
        if (cfg->secret_key_file[0] == '\0') {
            snprintf(err, errlen,
                     "[security] mode = curve needs secret_key_file (tenderpool keygen PATH "
                     "writes PATH and PATH_secret; name PATH_secret here)");
            return -1;
        }
        return 0;
    }
    const char *ep = cfg->intake_endpoint;
    static const char *const loopback[] = {
        "tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://", "inproc://"};
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
        if (strncmp(ep, loopback[i], strlen(loopback[i])) == 0)
            return 0;
    snprintf(err, errlen,
             "[security] mode = none refuses to bind the intake to %s: only loopback "
             "(tcp://127.x.x.x, localhost, [::1]) or ipc:// is allowed without authentication",
             ep);
    return -1;
}

/* Every member connection (and every half-open one) is a descriptor: use the hard limit
 * (the unit sets LimitNOFILE) rather than the default soft 1024. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            tp_warn("cannot raise the descriptor limit: %s", strerror(errno));
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096)
        tp_warn("descriptor limit %llu: few member connections fit (raise LimitNOFILE)",
                (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv)
{
    static tp_supervisor_t s; /* the process's one context, zeroed */
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check-config", no_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    bool check_only = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            if (realpath(optarg, s.config_path) == NULL)
                snprintf(s.config_path, sizeof(s.config_path), "%s", optarg);
            break;
        case 'k':
            check_only = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("tenderpoold %s\n", TP_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!s.config_path[0] || optind != argc) {
        usage(stderr);
        return 2;
    }
    tp_log_open("supervisor", TP_LOG_INFO);
    char err[600];
    tp_config_defaults(&s.cfg);
    if (tp_config_load(&s.cfg, s.config_path, err, sizeof(err)) < 0) {
        tp_err("%s", err);
        return 1;
    }
    if (check_security(&s.cfg, err, sizeof(err)) < 0) {
        tp_err("%s: %s", s.config_path, err);
        return 1;
    }
    if (check_only) {
        printf("%s: configuration is valid\n", s.config_path);
        return 0;
    }
    tp_log_set_level(s.cfg.log_level);
    if (s.cfg.worker_count < 1 || s.cfg.worker_count > TP_MAX_WORKERS)
        tp_fatal("[workers] count must be 1..%d", TP_MAX_WORKERS);
    if (s.cfg.security_mode == TP_SECURITY_NONE)
        tp_warn("[security] mode = none: members are not authenticated (development only)");
    raise_fd_limit();
    find_worker(s.worker_path, sizeof(s.worker_path));
    tp_notice("tenderpoold %s starting: %d workers, rounds %s in %s", TP_VERSION,
              s.cfg.worker_count, s.cfg.period, s.cfg.timezone);
    return tp_supervisor_run(&s) == 0 ? 0 : 1;
}
