/* Bench clocks and latency percentiles; pure computation, no output. */
#include <stdlib.h>
#include <time.h>

#include "tp_bench.h"

int64_t tp_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t tp_bench_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double rank_ms(const int64_t *sorted, long n, double p)
{
    long k = (long)(p * (double)n + 0.999999) - 1;
    if (k < 0)
        k = 0;
    if (k >= n)
        k = n - 1;
    return (double)sorted[k] / 1e6;
}

/* Sorts samples in place. */
void tp_bench_lat_summary(int64_t *samples_ns, long n, tp_bench_lat_t *out)
{
    out->n = n;
    out->p50_ms = out->p99_ms = out->max_ms = 0;
    if (n <= 0)
        return;
    qsort(samples_ns, (size_t)n, sizeof(*samples_ns), cmp_i64);
    out->p50_ms = rank_ms(samples_ns, n, 0.50);
    out->p99_ms = rank_ms(samples_ns, n, 0.99);
    out->max_ms = (double)samples_ns[n - 1] / 1e6;
}
