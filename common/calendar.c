/* Purchasing-round calendar: DST-correct round boundaries and ids in one IANA zone. */
#define _POSIX_C_SOURCE 200809L

#include "tp_calendar.h"
#include "tp_civil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * How rounds are laid out:
 * - 1d runs from one local midnight to the next (23 h or 25 h on DST days); 1w from Monday
 *   00:00 local to the next Monday (ISO week, id "2026-W48" with the ISO week-year); 1M from
 *   the 1st 00:00 local to the next 1st.
 * - Sub-day periods (Ns, Nmin, Nh; N*unit divides 86400) start at local midnight and step by
 *   N seconds of elapsed real time within that local day; the last round of a day ends at the
 *   next local midnight. A DST day therefore holds fewer (23 h) or more (25 h) rounds, and when
 *   N does not divide the day's real length its last round is cut short (8h on a 23 h day:
 *   8 + 8 + 7 h; on a 25 h day: 8 + 8 + 8 + 1 h). Ids are the UTC start instant, so the two
 *   rounds of a repeated fall-back hour have distinct ids.
 * - When local 00:00 does not exist (a DST gap at midnight, e.g. Asia/Beirut), the day starts
 *   at the first instant after the gap; when it occurs twice, at the first occurrence.
 *
 * Time zones: the C library converts local time through the process-wide TZ variable, so the
 * calendar switches TZ (setenv + tzset) to its zone before converting. This is the one piece
 * of process-wide state here: a process uses one zone (tests switch between zones), and the
 * functions are not safe to call concurrently with other local-time conversions.
 */

#define ZONEINFO_DIR "/usr/share/zoneinfo"
#define SECONDS_PER_DAY 86400L
#define PERIOD_MAX_NUMBER 86400L

typedef struct period_unit {
    const char *suffix;
    tp_period_kind_t kind;
    long seconds; /* length of one unit for sub-day kinds, 0 for calendar kinds */
} period_unit_t;

static const period_unit_t period_units[] = {
    {"s", TP_PERIOD_SECONDS, 1}, {"min", TP_PERIOD_MINUTES, 60}, {"h", TP_PERIOD_HOURS, 3600},
    {"d", TP_PERIOD_DAY, 0},     {"w", TP_PERIOD_WEEK, 0},       {"M", TP_PERIOD_MONTH, 0},
};

#define N_PERIOD_UNITS (sizeof(period_units) / sizeof(period_units[0]))

/* 0 = Monday ... 6 = Sunday; day 0 (1970-01-01) was a Thursday. */
static int iso_weekday(long z)
{
    return (int)(((z % 7) + 7 + 3) % 7);
}

static void iso_week(long z, int *iso_year, int *week)
{
    long thursday = z - iso_weekday(z) + 3;
    int y, m, d;

    tp_civil_from_days(thursday, &y, &m, &d);
    *iso_year = y;
    *week = (int)((thursday - tp_days_from_civil(y, 1, 1)) / 7 + 1);
}

/* ---- the process time zone ---- */

static int use_zone(const char *tz)
{
    const char *cur = getenv("TZ");

    if ((cur == NULL || strcmp(cur, tz) != 0) && setenv("TZ", tz, 1) != 0)
        return -1;
    tzset(); /* cheap when TZ is unchanged; needed before localtime_r sees a new zone */
    return 0;
}

static int local_day(time_t t, long *z)
{
    struct tm tm;

    if (localtime_r(&t, &tm) == NULL)
        return -1;
    *z = tp_days_from_civil(tm.tm_year + 1900L, tm.tm_mon + 1, tm.tm_mday);
    return 0;
}

static bool is_local_midnight_of(time_t t, long z)
{
    struct tm tm;

    if (localtime_r(&t, &tm) == NULL || tm.tm_hour != 0 || tm.tm_min != 0 || tm.tm_sec != 0)
        return false;
    return tp_days_from_civil(tm.tm_year + 1900L, tm.tm_mon + 1, tm.tm_mday) == z;
}

/* Local day z has no 00:00 (a DST gap): find the first instant whose local date is z or
 * later, by bisection over a window wide enough for any UTC offset. */
static int first_instant_of_day(long z, time_t *out)
{
    time_t lo = (time_t)((z - 2) * SECONDS_PER_DAY), hi = (time_t)((z + 2) * SECONDS_PER_DAY);
    long day;

    if (local_day(lo, &day) < 0 || day >= z || local_day(hi, &day) < 0 || day < z)
        return -1;
    while (hi - lo > 1) {
        time_t mid = lo + (hi - lo) / 2;
        if (local_day(mid, &day) < 0)
            return -1;
        if (day >= z)
            hi = mid;
        else
            lo = mid;
    }
    *out = hi;
    return 0;
}

/* The instant local day z begins: its (first) 00:00, or the end of a gap covering 00:00. */
static int day_start(long z, time_t *out)
{
    static const int dst_guesses[] = {-1, 0, 1};
    bool found = false;
    int y, m, d;

    tp_civil_from_days(z, &y, &m, &d);
    for (size_t i = 0; i < sizeof(dst_guesses) / sizeof(dst_guesses[0]); i++) {
        struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
        tm.tm_isdst = dst_guesses[i];
        time_t c = mktime(&tm);
        if (is_local_midnight_of(c, z) && (!found || c < *out)) {
            *out = c;
            found = true;
        }
    }
    return found ? 0 : first_instant_of_day(z, out);
}

/* ---- periods ---- */

/* The calendar days [*first, *next) of the period containing day z. Sub-day periods are
 * laid out within one day, so their day range is that day. */
static void period_days(const tp_calendar_t *cal, long z, long *first, long *next)
{
    int y, m, d;

    switch (cal->kind) {
    case TP_PERIOD_WEEK:
        *first = z - iso_weekday(z);
        *next = *first + 7;
        return;
    case TP_PERIOD_MONTH:
        tp_civil_from_days(z, &y, &m, &d);
        *first = tp_days_from_civil(y, m, 1);
        *next = m == 12 ? tp_days_from_civil(y + 1L, 1, 1) : tp_days_from_civil(y, m + 1, 1);
        return;
    default:
        *first = z;
        *next = z + 1;
        return;
    }
}

static long period_seconds(const tp_calendar_t *cal)
{
    for (size_t i = 0; i < N_PERIOD_UNITS; i++) {
        if (period_units[i].kind == cal->kind)
            return period_units[i].seconds * cal->n;
    }
    return 0;
}

static void format_utc_id(time_t t, char *id)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(id, TP_ROUND_ID_MAX, "@%lld", (long long)t);
        return;
    }
    snprintf(id, TP_ROUND_ID_MAX, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void format_day_id(const tp_calendar_t *cal, long first, char *id)
{
    int y, m, d, week;

    if (cal->kind == TP_PERIOD_WEEK) {
        iso_week(first, &y, &week);
        snprintf(id, TP_ROUND_ID_MAX, "%04d-W%02d", y, week);
        return;
    }
    tp_civil_from_days(first, &y, &m, &d);
    if (cal->kind == TP_PERIOD_MONTH)
        snprintf(id, TP_ROUND_ID_MAX, "%04d-%02d", y, m);
    else
        snprintf(id, TP_ROUND_ID_MAX, "%04d-%02d-%02d", y, m, d);
}

/* Fills out for instant t, given the period's local-day window [start, end) holding t. */
static void fill_span(const tp_calendar_t *cal, long first, time_t start, time_t end, time_t t,
                      tp_round_span_t *out)
{
    long len = period_seconds(cal);

    if (len == 0) {
        out->opens_at = start;
        out->closes_at = end;
        format_day_id(cal, first, out->id);
        return;
    }
    out->opens_at = start + (t - start) / len * len;
    out->closes_at = out->opens_at + len < end ? out->opens_at + len : end;
    format_utc_id(out->opens_at, out->id);
}

int tp_calendar_round_at(const tp_calendar_t *cal, time_t t, tp_round_span_t *out)
{
    long z, first, next;
    time_t start, end;

    if (use_zone(cal->tz) < 0 || local_day(t, &z) < 0)
        return -1;
    /* The local date of t normally names its period; around a transition at midnight it may
     * not (a repeated hour before midnight), so step until the period really holds t. */
    for (int step = 0; step < 4; step++) {
        period_days(cal, z, &first, &next);
        if (day_start(first, &start) < 0 || day_start(next, &end) < 0)
            return -1;
        if (t < start) {
            z = first - 1;
        } else if (t >= end) {
            z = next;
        } else {
            fill_span(cal, first, start, end, t, out);
            return 0;
        }
    }
    return -1;
}

void tp_calendar_local_date(const tp_calendar_t *cal, time_t t, int *y, int *m, int *d)
{
    long z;

    *y = *m = *d = 0;
    if (use_zone(cal->tz) < 0 || local_day(t, &z) < 0)
        return;
    tp_civil_from_days(z, y, m, d);
}

/* ---- configuration ---- */

static const period_unit_t *find_period_unit(const char *suffix)
{
    for (size_t i = 0; i < N_PERIOD_UNITS; i++) {
        if (strcmp(period_units[i].suffix, suffix) == 0)
            return &period_units[i];
    }
    return NULL;
}

static int period_error(char *err, size_t errlen, const char *period, const char *what)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "period '%s': %s", period, what);
    return -1;
}

static int parse_period(tp_calendar_t *cal, const char *period, char *err, size_t errlen)
{
    const char *p = period;
    long n = 0;
    char msg[96];

    if (*p < '1' || *p > '9')
        return period_error(err, errlen, period,
                            "expected a number >= 1 (no leading zero) then s, min, h, d, w or M");
    while (*p >= '0' && *p <= '9' && n <= PERIOD_MAX_NUMBER)
        n = n * 10 + (*p++ - '0');
    const period_unit_t *u = find_period_unit(p);
    if (n > PERIOD_MAX_NUMBER)
        return period_error(err, errlen, period, "number too large");
    if (u == NULL)
        return period_error(
            err, errlen, period,
            "unknown unit (use s, min, h, d, w or M; 'min' is minutes, 'M' months)");
    if (u->seconds == 0 && n != 1) {
        snprintf(msg, sizeof(msg), "only 1%s is supported", u->suffix);
        return period_error(err, errlen, period, msg);
    }
    if (u->seconds != 0 &&
        (n * u->seconds > SECONDS_PER_DAY || SECONDS_PER_DAY % (n * u->seconds))) {
        snprintf(msg, sizeof(msg), "%ld s does not divide a day (86400 s) evenly", n * u->seconds);
        return period_error(err, errlen, period, msg);
    }
    cal->kind = u->kind;
    cal->n = (int)n;
    return 0;
}

static bool zone_name_chars_ok(const char *tz)
{
    for (const char *p = tz; *p != '\0'; p++) {
        bool ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= '0' && *p <= '9') || strchr("/_+-", *p) != NULL;
        if (!ok)
            return false;
    }
    return true;
}

/* A zone is a regular TZif file under ZONEINFO_DIR (a directory or zone.tab is not). */
static bool zone_file_ok(const char *path)
{
    struct stat st;
    char magic[4];
    FILE *f;
    bool ok;

    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    f = fopen(path, "rb");
    if (f == NULL)
        return false;
    ok = fread(magic, 1, sizeof(magic), f) == sizeof(magic) && memcmp(magic, "TZif", 4) == 0;
    fclose(f);
    return ok;
}

static int check_zone(const char *tz, size_t max, char *err, size_t errlen)
{
    char path[sizeof(ZONEINFO_DIR) + 80];
    const char *why = NULL;

    if (tz[0] == '\0')
        why = "is empty";
    else if (strlen(tz) >= max)
        why = "name is too long";
    else if (tz[0] == '/' || strstr(tz, "..") != NULL || !zone_name_chars_ok(tz))
        why = "is not an IANA zone name such as Europe/Paris";
    if (why == NULL) {
        snprintf(path, sizeof(path), "%s/%s", ZONEINFO_DIR, tz);
        if (!zone_file_ok(path))
            why = "unknown zone (not found in " ZONEINFO_DIR ")";
    }
    if (why != NULL && err != NULL && errlen > 0)
        snprintf(err, errlen, "timezone '%s': %s", tz, why);
    return why == NULL ? 0 : -1;
}

int tp_calendar_init(tp_calendar_t *cal, const char *period, const char *tz, char *err,
                     size_t errlen)
{
    tp_calendar_t c;

    memset(&c, 0, sizeof(c));
    if (parse_period(&c, period, err, errlen) < 0 || check_zone(tz, sizeof(c.tz), err, errlen) < 0)
        return -1;
    memcpy(c.tz, tz, strlen(tz) + 1);
    *cal = c;
    return 0;
}
