/* Worker processes: fork+exec, reap, restart with exponential backoff. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tp_log.h"
#include "tp_supervisor.h"

#define TP_BACKOFF_MIN_MS 100
#define TP_BACKOFF_MAX_MS 30000
#define TP_STABLE_MS 30000 /* a worker up this long has its crash count reset */

int tp_wproc_spawn(tp_supervisor_t *s, uint32_t i)
{
    char idx[16], cnt[16];
    snprintf(idx, sizeof(idx), "%u", i);
    snprintf(cnt, sizeof(cnt), "%d", s->cfg.worker_count);
    pid_t pid = fork();
    if (pid < 0) {
        tp_err("cannot fork worker %u: %s", i, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a killed supervisor takes its workers along */
        char *argv[] = {s->worker_path, "--index",          idx,  "--count",      cnt,
                        "--supervisor", s->worker_endpoint, "-c", s->config_path, NULL};
        execv(s->worker_path, argv);
        fprintf(stderr, "<3>worker[%u]: cannot execute %s: %s\n", i, s->worker_path,
                strerror(errno));
        _exit(127);
    }
    tp_wproc_t *w = &s->w[i];
    w->pid = pid;
    w->ready = false;
    w->started_ms = tp_sup_now_ms();
    w->starts++;
    w->last_seen_ms = w->started_ms;
    tp_info("worker %u started (pid %d)", i, (int)pid);
    return 0;
}

static void on_exit_status(tp_supervisor_t *s, uint32_t i, int status)
{
    tp_wproc_t *w = &s->w[i];
    int64_t now = tp_sup_now_ms();
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (WIFSIGNALED(status))
        tp_warn("worker %u (pid %d) killed by signal %d", i, (int)w->pid, WTERMSIG(status));
    else if (!clean || !s->stopping_workers)
        tp_warn("worker %u (pid %d) exited with status %d", i, (int)w->pid, WEXITSTATUS(status));
    w->pid = 0;
    w->ready = false;
    tp_metrics_worker_retired(w);
    tp_route_worker_lost(s, i);
    tp_control_worker_lost(s, i);
    if (s->stopping_workers)
        return;
    if (now - w->started_ms > TP_STABLE_MS) {
        w->crashes = 0;
        w->backoff_ms = 0;
    }
    w->crashes++;
    w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : TP_BACKOFF_MIN_MS;
    if (w->backoff_ms > TP_BACKOFF_MAX_MS)
        w->backoff_ms = TP_BACKOFF_MAX_MS;
    w->restart_at_ms = now + w->backoff_ms;
    if (w->crashes > 3)
        tp_err("worker %u crashed %d times in a row; next restart in %d ms", i, w->crashes,
               w->backoff_ms);
    else
        tp_notice("worker %u restarts in %d ms", i, w->backoff_ms);
}

void tp_wproc_reap(tp_supervisor_t *s)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (uint32_t i = 0; i < (uint32_t)s->cfg.worker_count; i++)
            if (s->w[i].pid == pid)
                on_exit_status(s, i, status);
    }
}

void tp_wproc_restart_due(tp_supervisor_t *s)
{
    int64_t now = tp_sup_now_ms();
    for (uint32_t i = 0; i < (uint32_t)s->cfg.worker_count; i++) {
        tp_wproc_t *w = &s->w[i];
        if (w->pid == 0 && !s->stopping_workers && now >= w->restart_at_ms &&
            tp_wproc_spawn(s, i) < 0)
            w->restart_at_ms = now + 1000;
    }
}

bool tp_wproc_all_ready(const tp_supervisor_t *s)
{
    for (int i = 0; i < s->cfg.worker_count; i++)
        if (!s->w[i].ready)
            return false;
    return true;
}

int tp_wproc_running(const tp_supervisor_t *s)
{
    int n = 0;
    for (int i = 0; i < s->cfg.worker_count; i++)
        n += s->w[i].pid != 0;
    return n;
}

void tp_wproc_signal_all(tp_supervisor_t *s, int sig)
{
    for (int i = 0; i < s->cfg.worker_count; i++)
        if (s->w[i].pid)
            kill(s->w[i].pid, sig);
}
