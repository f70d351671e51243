/* Unit tests for the round calendar: periods, zones, DST days, month ends, ISO weeks, ids. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tp_calendar.h"

#define HOUR 3600L
#define DAY (24 * HOUR)

/* Seconds since the epoch of a UTC date and time (proleptic Gregorian, no time zone). */
static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
    long yy = y - (mo <= 2);
    long era = (yy >= 0 ? yy : yy - 399) / 400;
    long yoe = yy - era * 400;
    long doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    return (time_t)(days * DAY + h * HOUR + mi * 60L + s);
}

static tp_calendar_t cal_of(const char *period, const char *tz)
{
    tp_calendar_t cal;
    char err[256] = "";

    cr_assert_eq(tp_calendar_init(&cal, period, tz, err, sizeof(err)), 0, "%s %s: %s", period, tz,
                 err);
    return cal;
}

static tp_round_span_t round_at(const tp_calendar_t *cal, time_t t)
{
    tp_round_span_t r;

    memset(&r, 0, sizeof(r));
    cr_assert_eq(tp_calendar_round_at(cal, t, &r), 0, "round_at(%lld) failed", (long long)t);
    cr_assert(r.opens_at <= t && t < r.closes_at, "round %s [%lld, %lld) does not hold %lld", r.id,
              (long long)r.opens_at, (long long)r.closes_at, (long long)t);
    return r;
}

static void assert_round(const tp_calendar_t *cal, time_t t, const char *id, time_t opens,
                         time_t closes)
{
    tp_round_span_t r = round_at(cal, t);

    cr_assert_str_eq(r.id, id);
    cr_assert_eq(r.opens_at, opens, "%s opens %lld, want %lld", id, (long long)r.opens_at,
                 (long long)opens);
    cr_assert_eq(r.closes_at, closes, "%s closes %lld, want %lld", id, (long long)r.closes_at,
                 (long long)closes);
}

static void assert_init_fails(const char *period, const char *tz, const char *want_err)
{
    tp_calendar_t cal;
    char err[256] = "";

    cr_assert_eq(tp_calendar_init(&cal, period, tz, err, sizeof(err)), -1,
                 "'%s' '%s' should be refused", period, tz);
    cr_assert_str_eq(err, want_err);
}

/* Walks the rounds of [from, to) and checks they tile it: returns the number of rounds, and
 * fails on a gap, an overlap, an empty round or a repeated id. */
static int count_rounds(const tp_calendar_t *cal, time_t from, time_t to, long *shortest,
                        long *longest)
{
    char seen[64][TP_ROUND_ID_MAX];
    int n = 0;

    *shortest = -1;
    *longest = 0;
    for (time_t t = from; t < to; n++) {
        tp_round_span_t r = round_at(cal, t);
        long len = (long)(r.closes_at - r.opens_at);
        cr_assert_eq(r.opens_at, t, "round %s opens at %lld, expected %lld", r.id,
                     (long long)r.opens_at, (long long)t);
        cr_assert_lt(n, 64);
        for (int i = 0; i < n; i++)
            cr_assert_str_neq(seen[i], r.id, "id %s repeated", r.id);
        strcpy(seen[n], r.id);
        *shortest = (*shortest < 0 || len < *shortest) ? len : *shortest;
        *longest = len > *longest ? len : *longest;
        t = r.closes_at;
    }
    return n;
}

Test(calendar, paris_spring_day_is_23_hours)
{
    tp_calendar_t cal = cal_of("1d", "Europe/Paris");
    time_t opens = utc(2026, 3, 28, 23, 0, 0), closes = utc(2026, 3, 29, 22, 0, 0);

    assert_round(&cal, utc(2026, 3, 29, 12, 0, 0), "2026-03-29", opens, closes);
    cr_assert_eq(closes - opens, 23 * HOUR);
    assert_round(&cal, opens, "2026-03-29", opens, closes);
    assert_round(&cal, closes - 1, "2026-03-29", opens, closes);
    assert_round(&cal, closes, "2026-03-30", closes, closes + DAY);
}

Test(calendar, paris_fall_day_is_25_hours)
{
    tp_calendar_t cal = cal_of("1d", "Europe/Paris");
    time_t opens = utc(2026, 10, 24, 22, 0, 0), closes = utc(2026, 10, 25, 23, 0, 0);

    assert_round(&cal, utc(2026, 10, 25, 1, 30, 0), "2026-10-25", opens, closes);
    cr_assert_eq(closes - opens, 25 * HOUR);
    assert_round(&cal, opens - 1, "2026-10-24", opens - DAY, opens);
}

Test(calendar, paris_hourly_rounds_on_spring_day)
{
    tp_calendar_t cal = cal_of("1h", "Europe/Paris");
    time_t day = utc(2026, 3, 28, 23, 0, 0), next = utc(2026, 3, 29, 22, 0, 0);
    long shortest, longest;

    cr_assert_eq(count_rounds(&cal, day, next, &shortest, &longest), 23);
    cr_assert_eq(shortest, HOUR);
    cr_assert_eq(longest, HOUR);
    /* 01:00 CET is followed by 03:00 CEST, one real hour later. */
    assert_round(&cal, utc(2026, 3, 29, 0, 59, 59), "2026-03-29T00:00:00Z",
                 utc(2026, 3, 29, 0, 0, 0), utc(2026, 3, 29, 1, 0, 0));
    assert_round(&cal, utc(2026, 3, 29, 1, 0, 0), "2026-03-29T01:00:00Z", utc(2026, 3, 29, 1, 0, 0),
                 utc(2026, 3, 29, 2, 0, 0));
}

Test(calendar, paris_hourly_rounds_on_fall_day_keep_repeated_hour_apart)
{
    tp_calendar_t cal = cal_of("1h", "Europe/Paris");
    time_t day = utc(2026, 10, 24, 22, 0, 0), next = utc(2026, 10, 25, 23, 0, 0);
    long shortest, longest;

    cr_assert_eq(count_rounds(&cal, day, next, &shortest, &longest), 25);
    cr_assert_eq(shortest, HOUR);
    cr_assert_eq(longest, HOUR);
    /* Local 02:00-03:00 happens twice: 00:00Z (CEST) and 01:00Z (CET). */
    tp_round_span_t first = round_at(&cal, utc(2026, 10, 25, 0, 30, 0));
    tp_round_span_t second = round_at(&cal, utc(2026, 10, 25, 1, 30, 0));
    cr_assert_str_eq(first.id, "2026-10-25T00:00:00Z");
    cr_assert_str_eq(second.id, "2026-10-25T01:00:00Z");
    cr_assert_eq(first.closes_at, second.opens_at);
}

Test(calendar, sub_day_last_slot_ends_at_next_midnight)
{
    tp_calendar_t cal = cal_of("8h", "Europe/Paris");
    long shortest, longest;

    /* 23 h day: slots of 8, 8 and 7 hours. */
    cr_assert_eq(count_rounds(&cal, utc(2026, 3, 28, 23, 0, 0), utc(2026, 3, 29, 22, 0, 0),
                              &shortest, &longest),
                 3);
    cr_assert_eq(shortest, 7 * HOUR);
    cr_assert_eq(longest, 8 * HOUR);
    /* 25 h day: 8, 8, 8 and 1 hours. */
    cr_assert_eq(count_rounds(&cal, utc(2026, 10, 24, 22, 0, 0), utc(2026, 10, 25, 23, 0, 0),
                              &shortest, &longest),
                 4);
    cr_assert_eq(shortest, 1 * HOUR);
    assert_round(&cal, utc(2026, 10, 25, 22, 30, 0), "2026-10-25T22:00:00Z",
                 utc(2026, 10, 25, 22, 0, 0), utc(2026, 10, 25, 23, 0, 0));
}

Test(calendar, paris_weeks_across_dst)
{
    tp_calendar_t cal = cal_of("1w", "Europe/Paris");
    time_t mon = utc(2026, 3, 22, 23, 0, 0), next = utc(2026, 3, 29, 22, 0, 0);

    assert_round(&cal, utc(2026, 3, 29, 12, 0, 0), "2026-W13", mon, next);
    cr_assert_eq(next - mon, 167 * HOUR);
    mon = utc(2026, 10, 18, 22, 0, 0);
    next = utc(2026, 10, 25, 23, 0, 0);
    assert_round(&cal, utc(2026, 10, 25, 1, 30, 0), "2026-W43", mon, next);
    cr_assert_eq(next - mon, 169 * HOUR);
    assert_round(&cal, next, "2026-W44", next, next + 7 * DAY);
}

Test(calendar, iso_week_years)
{
    tp_calendar_t cal = cal_of("1w", "UTC");

    assert_round(&cal, utc(2026, 12, 31, 12, 0, 0), "2026-W53", utc(2026, 12, 28, 0, 0, 0),
                 utc(2027, 1, 4, 0, 0, 0));
    assert_round(&cal, utc(2027, 1, 1, 0, 0, 0), "2026-W53", utc(2026, 12, 28, 0, 0, 0),
                 utc(2027, 1, 4, 0, 0, 0));
    assert_round(&cal, utc(2027, 1, 4, 0, 0, 0), "2027-W01", utc(2027, 1, 4, 0, 0, 0),
                 utc(2027, 1, 11, 0, 0, 0));
    assert_round(&cal, utc(2024, 12, 30, 8, 0, 0), "2025-W01", utc(2024, 12, 30, 0, 0, 0),
                 utc(2025, 1, 6, 0, 0, 0));
    assert_round(&cal, utc(2021, 1, 3, 23, 59, 59), "2020-W53", utc(2020, 12, 28, 0, 0, 0),
                 utc(2021, 1, 4, 0, 0, 0));
    assert_round(&cal, utc(2026, 11, 26, 13, 0, 0), "2026-W48", utc(2026, 11, 23, 0, 0, 0),
                 utc(2026, 11, 30, 0, 0, 0));
}

Test(calendar, month_ends_and_year_end)
{
    tp_calendar_t cal = cal_of("1M", "Europe/Paris");
    time_t feb = utc(2026, 1, 31, 23, 0, 0);

    assert_round(&cal, feb - 1, "2026-01", utc(2025, 12, 31, 23, 0, 0), feb);
    assert_round(&cal, feb, "2026-02", feb, utc(2026, 2, 28, 23, 0, 0));
    assert_round(&cal, utc(2026, 12, 31, 22, 59, 59), "2026-12", utc(2026, 11, 30, 23, 0, 0),
                 utc(2026, 12, 31, 23, 0, 0));
    assert_round(&cal, utc(2026, 12, 31, 23, 0, 0), "2027-01", utc(2026, 12, 31, 23, 0, 0),
                 utc(2027, 1, 31, 23, 0, 0));
    /* March holds the spring change: 31 days minus one hour. */
    assert_round(&cal, utc(2026, 3, 15, 0, 0, 0), "2026-03", utc(2026, 2, 28, 23, 0, 0),
                 utc(2026, 3, 31, 22, 0, 0));
}

Test(calendar, leap_years)
{
    tp_calendar_t day = cal_of("1d", "Europe/Paris"), month = cal_of("1M", "Europe/Paris");

    assert_round(&day, utc(2028, 2, 29, 12, 0, 0), "2028-02-29", utc(2028, 2, 28, 23, 0, 0),
                 utc(2028, 2, 29, 23, 0, 0));
    assert_round(&day, utc(2028, 2, 29, 23, 0, 0), "2028-03-01", utc(2028, 2, 29, 23, 0, 0),
                 utc(2028, 3, 1, 23, 0, 0));
    tp_round_span_t r = round_at(&month, utc(2028, 2, 10, 0, 0, 0));
    cr_assert_str_eq(r.id, "2028-02");
    cr_assert_eq(r.closes_at - r.opens_at, 29 * DAY);
    r = round_at(&month, utc(2026, 2, 10, 0, 0, 0));
    cr_assert_eq(r.closes_at - r.opens_at, 28 * DAY);
    tp_calendar_t utc_month = cal_of("1M", "UTC");
    r = round_at(&utc_month, utc(2100, 2, 10, 0, 0, 0));
    cr_assert_str_eq(r.id, "2100-02");
    cr_assert_eq(r.closes_at - r.opens_at, 28 * DAY, "2100 is not a leap year");
}

Test(calendar, new_york_dst_days)
{
    tp_calendar_t cal = cal_of("1d", "America/New_York");

    assert_round(&cal, utc(2026, 3, 8, 12, 0, 0), "2026-03-08", utc(2026, 3, 8, 5, 0, 0),
                 utc(2026, 3, 9, 4, 0, 0));
    assert_round(&cal, utc(2026, 11, 1, 12, 0, 0), "2026-11-01", utc(2026, 11, 1, 4, 0, 0),
                 utc(2026, 11, 2, 5, 0, 0));
    assert_round(&cal, utc(2026, 11, 27, 3, 0, 0), "2026-11-26", utc(2026, 11, 26, 5, 0, 0),
                 utc(2026, 11, 27, 5, 0, 0));
}

Test(calendar, kolkata_half_hour_offset)
{
    tp_calendar_t day = cal_of("1d", "Asia/Kolkata"), hour = cal_of("1h", "Asia/Kolkata");

    assert_round(&day, utc(2026, 11, 25, 18, 30, 0), "2026-11-26", utc(2026, 11, 25, 18, 30, 0),
                 utc(2026, 11, 26, 18, 30, 0));
    assert_round(&day, utc(2026, 11, 25, 18, 29, 59), "2026-11-25", utc(2026, 11, 24, 18, 30, 0),
                 utc(2026, 11, 25, 18, 30, 0));
    assert_round(&hour, utc(2026, 11, 26, 0, 0, 0), "2026-11-25T23:30:00Z",
                 utc(2026, 11, 25, 23, 30, 0), utc(2026, 11, 26, 0, 30, 0));
}

Test(calendar, utc_sub_day_periods)
{
    tp_calendar_t q = cal_of("15min", "UTC"), s = cal_of("30s", "UTC");
    time_t t = utc(2026, 11, 26, 13, 7, 31);

    assert_round(&q, t, "2026-11-26T13:00:00Z", utc(2026, 11, 26, 13, 0, 0),
                 utc(2026, 11, 26, 13, 15, 0));
    assert_round(&s, t, "2026-11-26T13:07:30Z", utc(2026, 11, 26, 13, 7, 30),
                 utc(2026, 11, 26, 13, 8, 0));
    assert_round(&s, utc(2026, 11, 26, 23, 59, 59), "2026-11-26T23:59:30Z",
                 utc(2026, 11, 26, 23, 59, 30), utc(2026, 11, 27, 0, 0, 0));
    tp_calendar_t d = cal_of("1d", "UTC");
    assert_round(&d, t, "2026-11-26", utc(2026, 11, 26, 0, 0, 0), utc(2026, 11, 27, 0, 0, 0));
}

Test(calendar, boundary_instant_belongs_to_new_round)
{
    static const char *const periods[] = {"30s", "5min", "2h", "1d", "1w", "1M"};

    for (size_t i = 0; i < sizeof(periods) / sizeof(periods[0]); i++) {
        tp_calendar_t cal = cal_of(periods[i], "Europe/Paris");
        tp_round_span_t r = round_at(&cal, utc(2026, 10, 25, 0, 30, 0));
        tp_round_span_t next = round_at(&cal, r.closes_at);
        tp_round_span_t prev = round_at(&cal, r.opens_at - 1);
        cr_assert_eq(next.opens_at, r.closes_at, "%s: next round opens at the boundary",
                     periods[i]);
        cr_assert_str_neq(next.id, r.id, "%s", periods[i]);
        cr_assert_eq(prev.closes_at, r.opens_at, "%s: previous round closes at the boundary",
                     periods[i]);
        cr_assert_str_neq(prev.id, r.id, "%s", periods[i]);
    }
}

Test(calendar, midnight_in_dst_gap_starts_day_after_gap)
{
    tp_calendar_t beirut = cal_of("1d", "Asia/Beirut"), santiago = cal_of("1d", "America/Santiago");
    tp_calendar_t santiago_h = cal_of("1h", "America/Santiago");

    /* Beirut 2026-03-29: 00:00 EET jumps to 01:00 EEST at 22:00Z. */
    assert_round(&beirut, utc(2026, 3, 29, 6, 0, 0), "2026-03-29", utc(2026, 3, 28, 22, 0, 0),
                 utc(2026, 3, 29, 21, 0, 0));
    assert_round(&beirut, utc(2026, 3, 28, 21, 59, 59), "2026-03-28", utc(2026, 3, 27, 22, 0, 0),
                 utc(2026, 3, 28, 22, 0, 0));
    /* Beirut 2026-10-24: 24:00 EEST falls back to 23:00 EET, a 25 h Saturday. */
    assert_round(&beirut, utc(2026, 10, 24, 21, 30, 0), "2026-10-24", utc(2026, 10, 23, 21, 0, 0),
                 utc(2026, 10, 24, 22, 0, 0));
    /* Santiago 2022-09-11: 00:00 -04 jumps to 01:00 -03 at 04:00Z. */
    assert_round(&santiago, utc(2022, 9, 11, 12, 0, 0), "2022-09-11", utc(2022, 9, 11, 4, 0, 0),
                 utc(2022, 9, 12, 3, 0, 0));
    assert_round(&santiago_h, utc(2022, 9, 11, 4, 0, 0), "2022-09-11T04:00:00Z",
                 utc(2022, 9, 11, 4, 0, 0), utc(2022, 9, 11, 5, 0, 0));
}

Test(calendar, skipped_local_day_has_no_round)
{
    tp_calendar_t cal = cal_of("1d", "Pacific/Apia");

    /* Samoa skipped 2011-12-30: 23:59:59 on the 29th (-10) was followed by 00:00 on the 31st
     * (+14) at 10:00Z. */
    assert_round(&cal, utc(2011, 12, 30, 9, 59, 59), "2011-12-29", utc(2011, 12, 29, 10, 0, 0),
                 utc(2011, 12, 30, 10, 0, 0));
    assert_round(&cal, utc(2011, 12, 30, 10, 0, 0), "2011-12-31", utc(2011, 12, 30, 10, 0, 0),
                 utc(2011, 12, 31, 10, 0, 0));
}

Test(calendar, switching_zones_between_calendars)
{
    tp_calendar_t paris = cal_of("1d", "Europe/Paris"), ny = cal_of("1d", "America/New_York");
    time_t t = utc(2026, 11, 26, 3, 0, 0);

    for (int i = 0; i < 3; i++) {
        assert_round(&paris, t, "2026-11-26", utc(2026, 11, 25, 23, 0, 0),
                     utc(2026, 11, 26, 23, 0, 0));
        assert_round(&ny, t, "2026-11-25", utc(2026, 11, 25, 5, 0, 0), utc(2026, 11, 26, 5, 0, 0));
    }
}

Test(calendar, local_date)
{
    tp_calendar_t paris = cal_of("1d", "Europe/Paris"), kolkata = cal_of("1w", "Asia/Kolkata");
    int y, m, d;

    tp_calendar_local_date(&paris, utc(2026, 3, 28, 23, 30, 0), &y, &m, &d);
    cr_assert(y == 2026 && m == 3 && d == 29, "got %d-%d-%d", y, m, d);
    tp_calendar_local_date(&paris, utc(2026, 3, 28, 22, 59, 59), &y, &m, &d);
    cr_assert(y == 2026 && m == 3 && d == 28, "got %d-%d-%d", y, m, d);
    tp_calendar_local_date(&kolkata, utc(2026, 12, 31, 18, 30, 0), &y, &m, &d);
    cr_assert(y == 2027 && m == 1 && d == 1, "got %d-%d-%d", y, m, d);
}

Test(calendar, valid_periods)
{
    static const struct {
        const char *text;
        tp_period_kind_t kind;
        int n;
    } ok[] = {
        {"30s", TP_PERIOD_SECONDS, 30}, {"86400s", TP_PERIOD_SECONDS, 86400},
        {"5min", TP_PERIOD_MINUTES, 5}, {"1440min", TP_PERIOD_MINUTES, 1440},
        {"2h", TP_PERIOD_HOURS, 2},     {"24h", TP_PERIOD_HOURS, 24},
        {"1d", TP_PERIOD_DAY, 1},       {"1w", TP_PERIOD_WEEK, 1},
        {"1M", TP_PERIOD_MONTH, 1},
    };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        tp_calendar_t cal = cal_of(ok[i].text, "Europe/Paris");
        cr_assert_eq(cal.kind, ok[i].kind, "%s", ok[i].text);
        cr_assert_eq(cal.n, ok[i].n, "%s", ok[i].text);
        cr_assert_str_eq(cal.tz, "Europe/Paris");
    }
}

Test(calendar, invalid_periods)
{
    const char *z = "UTC";

    assert_init_fails("2w", z, "period '2w': only 1w is supported");
    assert_init_fails("2d", z, "period '2d': only 1d is supported");
    assert_init_fails("3M", z, "period '3M': only 1M is supported");
    assert_init_fails("7min", z, "period '7min': 420 s does not divide a day (86400 s) evenly");
    assert_init_fails("25h", z, "period '25h': 90000 s does not divide a day (86400 s) evenly");
    assert_init_fails("48h", z, "period '48h': 172800 s does not divide a day (86400 s) evenly");
    assert_init_fails("1m", z,
                      "period '1m': unknown unit (use s, min, h, d, w or M; 'min' is minutes, "
                      "'M' months)");
    assert_init_fails("1hh", z,
                      "period '1hh': unknown unit (use s, min, h, d, w or M; 'min' is minutes, "
                      "'M' months)");
    assert_init_fails("99999999999999999999s", z,
                      "period '99999999999999999999s': number too large");
    static const char *const no_number[] = {"", "h", "0s", "05min", "-1h", " 1h", "+1h"};
    for (size_t i = 0; i < sizeof(no_number) / sizeof(no_number[0]); i++) {
        char want[128];
        snprintf(want, sizeof(want),
                 "period '%s': expected a number >= 1 (no leading zero) then s, min, h, d, w or M",
                 no_number[i]);
        assert_init_fails(no_number[i], z, want);
    }
}

Test(calendar, invalid_zones)
{
    assert_init_fails("1d", "Mars/Olympus",
                      "timezone 'Mars/Olympus': unknown zone (not found in /usr/share/zoneinfo)");
    assert_init_fails("1d", "Europe",
                      "timezone 'Europe': unknown zone (not found in /usr/share/zoneinfo)");
    assert_init_fails("1d", "zone.tab",
                      "timezone 'zone.tab': is not an IANA zone name such as Europe/Paris");
    assert_init_fails("1d", "", "timezone '': is empty");
    assert_init_fails("1d", "../../etc/passwd",
                      "timezone '../../etc/passwd': is not an IANA zone name such as Europe/Paris");
    assert_init_fails("1d", "/usr/share/zoneinfo/Europe/Paris",
                      "timezone '/usr/share/zoneinfo/Europe/Paris': is not an IANA zone name such "
                      "as Europe/Paris");
    assert_init_fails("1d", "Europe/Paris ",
                      "timezone 'Europe/Paris ': is not an IANA zone name such as Europe/Paris");
    assert_init_fails(
        "1d", "Europe/Paaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaris",
        "timezone 'Europe/Paaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaris': "
        "name is too long");
}

Test(calendar, init_failure_leaves_calendar_untouched)
{
    tp_calendar_t cal = cal_of("1h", "Asia/Kolkata");
    char err[8];

    cr_assert_eq(tp_calendar_init(&cal, "1d", "Nowhere/Land", err, sizeof(err)), -1);
    cr_assert_eq(cal.kind, TP_PERIOD_HOURS);
    cr_assert_str_eq(cal.tz, "Asia/Kolkata");
    cr_assert_eq(strlen(err), sizeof(err) - 1, "long messages are truncated, not overflowed");
}

Test(calendar, repeated_midnight_starts_day_at_first_occurrence)
{
    tp_calendar_t havana = cal_of("1d", "America/Havana");
    tp_calendar_t goose = cal_of("1d", "America/Goose_Bay");

    /* Havana 2026-11-01: 00:59:59 CDT falls back to 00:00 CST, so 00:00 happens at 04:00Z and
     * again at 05:00Z; the day starts at the first and lasts 25 h. */
    assert_round(&havana, utc(2026, 11, 1, 4, 30, 0), "2026-11-01", utc(2026, 11, 1, 4, 0, 0),
                 utc(2026, 11, 2, 5, 0, 0));
    assert_round(&havana, utc(2026, 11, 1, 3, 59, 59), "2026-10-31", utc(2026, 10, 31, 4, 0, 0),
                 utc(2026, 11, 1, 4, 0, 0));
    /* Goose Bay 2009-11-01: 00:00:59 ADT fell back to 23:01 AST on Oct 31; the repeated
     * local 23:01-24:00 of Oct 31 comes after Nov 1 began, so it belongs to Nov 1. */
    assert_round(&goose, utc(2009, 11, 1, 3, 30, 0), "2009-11-01", utc(2009, 11, 1, 3, 0, 0),
                 utc(2009, 11, 2, 4, 0, 0));
    assert_round(&goose, utc(2009, 11, 1, 2, 59, 59), "2009-10-31", utc(2009, 10, 31, 3, 0, 0),
                 utc(2009, 11, 1, 3, 0, 0));
}
