/* Bench: reads the daemon's group-commit histogram from its /metrics (loopback HTTP/1.0). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tp_bench.h"

#define COMMIT_FAMILY "tenderpool_group_commit_duration_seconds"
#define SCRAPE_MAX (1 << 20)

/* GET /metrics into a malloc'd NUL-terminated body; NULL on any failure. */
static char *http_get_metrics(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return NULL;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    static const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    char *buf = NULL;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
        goto out;
    buf = malloc(SCRAPE_MAX + 1);
    size_t len = 0;
    ssize_t n;
    while (buf && len < SCRAPE_MAX && (n = read(fd, buf + len, SCRAPE_MAX - len)) > 0)
        len += (size_t)n;
    if (buf)
        buf[len] = '\0';
    if (buf && (strncmp(buf, "HTTP/1.", 7) != 0 || strstr(buf, " 200 ") == NULL)) {
        free(buf);
        buf = NULL;
    }
out:
    close(fd);
    return buf;
}

int tp_bench_scrape_commits(int port, tp_bench_commits_t *out)
{
    memset(out, 0, sizeof(*out));
    char *body = http_get_metrics(port);
    if (body == NULL)
        return -1;
    int nb = 0;
    for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n")) {
        double le;
        unsigned long long v;
        if (sscanf(line, COMMIT_FAMILY "_bucket{le=\"%lf\"} %llu", &le, &v) == 2 &&
            nb < TP_BENCH_COMMIT_BUCKETS) {
            out->le_ms[nb] = le * 1e3;
            out->cum[nb++] = v;
        } else if (sscanf(line, COMMIT_FAMILY "_count %llu", &v) == 1) {
            out->count = v;
        } else {
            sscanf(line, COMMIT_FAMILY "_sum %lf", &out->sum_s);
        }
    }
    free(body);
    out->nbuckets = nb;
    return nb > 0 ? 0 : -1;
}

void tp_bench_commits_delta(const tp_bench_commits_t *after, const tp_bench_commits_t *before,
                            tp_bench_commits_t *d)
{
    *d = *after;
    for (int i = 0; i < d->nbuckets && i < before->nbuckets; i++)
        d->cum[i] -= before->cum[i];
    d->count -= before->count;
    d->sum_s -= before->sum_s;
}

double tp_bench_commits_share_le(const tp_bench_commits_t *c, double ms)
{
    for (int i = 0; i < c->nbuckets; i++)
        if (c->le_ms[i] >= ms - 1e-9 && c->le_ms[i] <= ms + 1e-9)
            return c->count ? (double)c->cum[i] / (double)c->count : 0;
    return -1;
}
