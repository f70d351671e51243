/* Exact decimal numbers for quantities and prices: no binary floating point, ever. */
#ifndef TP_DECIMAL_H
#define TP_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TP_DEC_MAX_SCALE 30 /* fraction digits a value may carry after arithmetic */
#define TP_DEC_STR_MAX 64   /* buffer size that holds any formatted value */

/* value = coef / 10^scale; scale in [0, TP_DEC_MAX_SCALE]. */
typedef struct tp_dec {
    __int128 coef;
    int32_t scale;
} tp_dec_t;

/* Parse a plain decimal string: optional '-', digits, optional '.' and digits
 * ("12", "12.5", "0.001"); no exponent, no spaces, no '+', at least one digit
 * before and, if a '.' is present, at least one after. At most max_int integer
 * digits (leading zeros not counted) and max_frac fraction digits.
 * Returns 0, or -1 with a short reason in *why (static string). */
int tp_dec_parse(const char *s, size_t len, int max_int, int max_frac, tp_dec_t *out,
                 const char **why) __attribute__((warn_unused_result));

/* Same, for numbers from trusted sources (unit factors, database): up to 30+30 digits. */
int tp_dec_from_str(const char *s, tp_dec_t *out) __attribute__((warn_unused_result));

tp_dec_t tp_dec_from_int(int64_t v);

/* Canonical text: no exponent, trailing fraction zeros removed ("4000", "12.5"). */
void tp_dec_format(const tp_dec_t *d, char *buf, size_t buflen);

/* Arithmetic; each returns 0, or -1 on overflow (out untouched). */
int tp_dec_add(const tp_dec_t *a, const tp_dec_t *b, tp_dec_t *out)
    __attribute__((warn_unused_result));
int tp_dec_sub(const tp_dec_t *a, const tp_dec_t *b, tp_dec_t *out)
    __attribute__((warn_unused_result));
int tp_dec_mul(const tp_dec_t *a, const tp_dec_t *b, tp_dec_t *out)
    __attribute__((warn_unused_result));

int tp_dec_cmp(const tp_dec_t *a, const tp_dec_t *b);
int tp_dec_sign(const tp_dec_t *d);
bool tp_dec_is_integer(const tp_dec_t *d);
/* Remove trailing fraction zeros (1.500 -> 1.5, scale 1). */
void tp_dec_normalize(tp_dec_t *d);

#endif
