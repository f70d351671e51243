/* Purchasing-round calendar: calendar-aligned periods in one IANA zone, DST-correct. */
#ifndef TP_CALENDAR_H
#define TP_CALENDAR_H

#include <stddef.h>
#include <time.h>

#define TP_ROUND_ID_MAX 48

typedef enum tp_period_kind {
    TP_PERIOD_SECONDS, /* N s: aligned on local midnight + k*N seconds of wall clock */
    TP_PERIOD_MINUTES, /* N min */
    TP_PERIOD_HOURS,   /* N h */
    TP_PERIOD_DAY,     /* 1d: local midnight to midnight */
    TP_PERIOD_WEEK,    /* 1w: ISO week, Monday 00:00 local */
    TP_PERIOD_MONTH,   /* 1M: calendar month, 1st 00:00 local */
} tp_period_kind_t;

typedef struct tp_calendar {
    tp_period_kind_t kind;
    int n;       /* multiplier for s/min/h; 1 for d/w/M */
    char tz[64]; /* IANA zone name */
} tp_calendar_t;

typedef struct tp_round_span {
    char id[TP_ROUND_ID_MAX]; /* stable readable id: "2026-W48", "2026-11", "2026-11-26",
                                 sub-day periods: UTC start "2026-11-26T13:00:30Z" */
    time_t opens_at;          /* inclusive */
    time_t closes_at;         /* exclusive */
} tp_round_span_t;

/* Parse "30s", "5min", "2h", "1d", "1w", "1M" and check the zone exists.
 * Sub-day periods must divide a day (86400 s) evenly. Returns 0, or -1 with a
 * message in err. */
int tp_calendar_init(tp_calendar_t *cal, const char *period, const char *tz, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

/* The round containing instant t. Returns 0, or -1 on a time conversion error. */
int tp_calendar_round_at(const tp_calendar_t *cal, time_t t, tp_round_span_t *out)
    __attribute__((warn_unused_result));

/* Local calendar date (YYYY-MM-DD as y, m, d) of instant t in the calendar's zone. */
void tp_calendar_local_date(const tp_calendar_t *cal, time_t t, int *y, int *m, int *d);

#endif
