/* The fixed world the ClientMessage fuzzer validates in, shared with the seed generator so
 * that the seeds' dates and codes are the good ones; never read the clock here. */
#ifndef TP_FUZZ_FIXTURE_H
#define TP_FUZZ_FIXTURE_H

/* Accept date of the security = none context (a worker's local date in the rounds' zone). */
#define TP_FUZZ_TODAY_Y 2026
#define TP_FUZZ_TODAY_M 11
#define TP_FUZZ_TODAY_D 26

/* The curve context accepts on TP_FUZZ_TODAY + (batch_id % TP_FUZZ_DATE_SPAN) days, so that the
 * fuzzer explores accept dates (leap days among them) and an artifact still reproduces alone.
 * Four years: a 29 February, and its "+ 2 years" clamped to 28 February, is within reach. */
#define TP_FUZZ_DATE_SPAN 1461

/* The authenticated member of the curve context. */
#define TP_FUZZ_AUTH_MEMBER "acme"

/* The imported CPV list of the security = none context (the curve context checks the format
 * only, as a worker does before `tenderpool cpv import`). */
#define TP_FUZZ_CPV_CODES                                                                          \
    "18424300", "33141420", "30192700", "09134100", "44111000", "39830000", "03221200"

/* A batch of more than this many items is refused whole by the supervisor ([intake]
 * max_batch_items, default and maximum 1000): a worker never validates it. */
#define TP_FUZZ_MAX_BATCH_ITEMS 1000

#endif
