/* Envelope validation (SPEC section 3): field rules and rejection codes, no stored state. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tp_validate.h"

#define CODE_MALFORMED "MALFORMED"
#define CODE_MEMBER_MISMATCH "MEMBER_MISMATCH"
#define CODE_INVALID_FIELD "INVALID_FIELD"
#define CODE_UNKNOWN_UNIT "UNKNOWN_UNIT"
#define CODE_UNKNOWN_CPV "UNKNOWN_CPV"

#define MEMBER_ID_MAX 64
#define REQUEST_REF_MAX 64
#define ITEM_KEY_MAX 128
#define TEXT_MAX 512 /* description, cancel reason */
#define ZONE_MAX 16
#define DEC_MAX_INT 12
#define DEC_MAX_FRAC 6
#define NEED_BY_MAX_YEARS 2
#define QUOTE_MAX_CHARS 32
#define QUOTE_BUF 72

/* ---- UTF-8 ---- */

static bool is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f); /* C0, DEL, C1 */
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available), 0 when it is not
 * (overlong forms, surrogates and code points above U+10FFFF are not). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, v = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, v = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

bool tp_valid_utf8(const char *s, size_t len)
{
    if (s == NULL)
        return len == 0;
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        if (p[i] < 0x80) { /* ASCII: most of every field */
            i++;
            continue;
        }
        size_t k = utf8_next(p + i, len - i, &cp);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

typedef enum text_status { TEXT_OK, TEXT_BAD_UTF8, TEXT_CONTROL } text_status_t;

/* Checks s is UTF-8 without control characters and counts its characters (code points), in
 * one pass up to its NUL (utf8_next stops at the NUL: it is no continuation byte). */
static text_status_t text_scan(const char *s, size_t *nchars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    uint32_t cp;
    for (;; n++) {
        unsigned char c = *p;
        if (c >= 0x20 && c < 0x7f) { /* printable ASCII */
            p++;
            continue;
        }
        if (c == '\0')
            break;
        size_t k = utf8_next(p, 4, &cp);
        if (k == 0)
            return TEXT_BAD_UTF8;
        if (is_control(cp))
            return TEXT_CONTROL;
        p += k;
    }
    *nchars = n;
    return TEXT_OK;
}

bool tp_valid_utf8_text(const char *s, size_t min_chars, size_t max_chars)
{
    size_t n;
    if (s == NULL || text_scan(s, &n) != TEXT_OK)
        return false;
    return n >= min_chars && n <= max_chars;
}

/* ---- rejections ---- */

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* A printable copy of a client value for a detail: at most QUOTE_MAX_CHARS characters,
 * invalid UTF-8 and control characters shown as '?', "..." when cut. Never raw bytes. */
static const char *quote(const char *s, char buf[QUOTE_BUF])
{
    const unsigned char *p = (const unsigned char *)str_or_empty(s);
    size_t len = strlen((const char *)p), o = 0, chars = 0;
    size_t i = 0;
    while (i < len && chars < QUOTE_MAX_CHARS && o + 4 < QUOTE_BUF - 4) {
        uint32_t cp;
        size_t k = utf8_next(p + i, len - i, &cp);
        if (k == 0 || is_control(cp)) {
            buf[o++] = '?';
            i += k ? k : 1;
        } else {
            memcpy(buf + o, p + i, k);
            o += k;
            i += k;
        }
        chars++;
    }
    if (i < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* Cuts s at its first byte that does not start a well-formed sequence (a truncated tail). */
static void utf8_cut_invalid_tail(char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_next(p + i, len - i, &cp);
        if (k == 0) {
            s[i] = '\0';
            return;
        }
        i += k;
    }
}

static int reject(tp_reject_t *rej, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int reject(tp_reject_t *rej, const char *code, const char *fmt, ...)
{
    va_list ap;
    rej->code = code;
    va_start(ap, fmt);
    vsnprintf(rej->detail, sizeof(rej->detail), fmt, ap);
    va_end(ap);
    utf8_cut_invalid_tail(rej->detail);
    return -1;
}

/* ---- field rules ---- */

static bool is_alnum_ascii(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool ref_char(unsigned char c)
{
    return is_alnum_ascii(c) || c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
}

static bool member_char(unsigned char c)
{
    return is_alnum_ascii(c) || c == '.' || c == '_' || c == '-';
}

static bool zone_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

typedef enum token_kind { TOKEN_MEMBER, TOKEN_REF, TOKEN_ZONE } token_kind_t;

typedef struct token_rule {
    const char *field;
    size_t max;
    token_kind_t kind;
    const char *charset; /* for the detail */
} token_rule_t;

static const token_rule_t rule_member_id = {"member_id", MEMBER_ID_MAX, TOKEN_MEMBER,
                                            "[A-Za-z0-9._-]"};
static const token_rule_t rule_request_ref = {"request_ref", REQUEST_REF_MAX, TOKEN_REF,
                                              "[A-Za-z0-9._:/-]"};
static const token_rule_t rule_zone = {"delivery_zone", ZONE_MAX, TOKEN_ZONE, "[A-Z0-9]"};

/* The length of s when every character is allowed by r, else SIZE_MAX (one loop per kind,
 * its test inlined). */
static size_t token_scan(const token_rule_t *r, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    switch (r->kind) {
    case TOKEN_MEMBER:
        while (member_char(*p))
            p++;
        break;
    case TOKEN_REF:
        while (ref_char(*p))
            p++;
        break;
    case TOKEN_ZONE:
        while (zone_char(*p))
            p++;
        break;
    }
    return *p ? SIZE_MAX : (size_t)(p - (const unsigned char *)s);
}

static bool token_ok(const token_rule_t *r, const char *s)
{
    size_t n = s ? token_scan(r, s) : 0;
    return n >= 1 && n <= r->max;
}

static int check_token(const token_rule_t *r, const char *s, tp_reject_t *rej)
{
    char q[QUOTE_BUF];
    size_t n = token_scan(r, s);
    if (n >= 1 && n <= r->max)
        return 0; /* the usual case, in one pass; else the first rule broken, in order */
    n = strlen(s);
    if (n == 0)
        return reject(rej, CODE_INVALID_FIELD, "%s: is required (1-%zu characters of %s)", r->field,
                      r->max, r->charset);
    if (n > r->max)
        return reject(rej, CODE_INVALID_FIELD, "%s: longer than %zu characters", r->field, r->max);
    if (token_scan(r, s) == SIZE_MAX)
        return reject(rej, CODE_INVALID_FIELD, "%s: '%s' has characters outside %s", r->field,
                      quote(s, q), r->charset);
    return 0;
}

bool tp_valid_request_ref(const char *s)
{
    return token_ok(&rule_request_ref, s);
}

bool tp_valid_member_id(const char *s)
{
    return token_ok(&rule_member_id, s);
}

bool tp_valid_delivery_zone(const char *s)
{
    return token_ok(&rule_zone, s);
}

static int check_text(const char *field, const char *s, size_t min, size_t max, tp_reject_t *rej)
{
    size_t n = 0;
    switch (text_scan(s, &n)) {
    case TEXT_BAD_UTF8:
        return reject(rej, CODE_INVALID_FIELD, "%s: is not valid UTF-8", field);
    case TEXT_CONTROL:
        return reject(rej, CODE_INVALID_FIELD, "%s: contains a control character", field);
    case TEXT_OK:
        break;
    }
    if (n < min || n > max)
        return reject(rej, CODE_INVALID_FIELD, "%s: must be %zu-%zu characters, got %zu", field,
                      min, max, n);
    return 0;
}

static int check_decimal(const char *field, const char *s, tp_dec_t *out, tp_reject_t *rej)
{
    char q[QUOTE_BUF];
    const char *why = NULL;
    if (s[0] == '\0')
        return reject(rej, CODE_INVALID_FIELD, "%s: is required", field);
    if (tp_dec_parse(s, strlen(s), DEC_MAX_INT, DEC_MAX_FRAC, out, &why) == 0)
        return 0;
    return reject(rej, CODE_INVALID_FIELD, "%s: '%s': %s", field, quote(s, q),
                  why ? why : "invalid");
}

/* ---- dates ---- */

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static bool digits_value(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool tp_parse_date(const char *s, int *y, int *m, int *d)
{
    int yy, mm, dd;
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    if (!digits_value(s, 4, &yy) || !digits_value(s + 5, 2, &mm) || !digits_value(s + 8, 2, &dd))
        return false;
    if (yy < 1 || mm < 1 || mm > 12 || dd < 1 || dd > days_in_month(yy, mm))
        return false;
    *y = yy, *m = mm, *d = dd;
    return true;
}

/* The latest acceptable need_by: the accept date plus 2 years, with 29 February clamped to
 * 28 February in a common year (as PostgreSQL's date + interval '2 years' does). */
static long last_need_by_day(const tp_validate_ctx_t *ctx)
{
    int y = ctx->today_y + NEED_BY_MAX_YEARS, m = ctx->today_m, d = ctx->today_d;
    if (m == 2 && d == 29 && !is_leap(y))
        d = 28;
    return tp_days_from_civil(y, m, d);
}

/* ---- purchase request fields, checked in wire order ---- */

typedef int (*purchase_check_fn)(const tp_validate_ctx_t *ctx,
                                 const Tenderpool__V1__PurchaseRequest *pr, tp_request_t *out,
                                 tp_reject_t *rej);

static int check_request_ref(const tp_validate_ctx_t *ctx,
                             const Tenderpool__V1__PurchaseRequest *pr, tp_request_t *out,
                             tp_reject_t *rej)
{
    out->request_ref = str_or_empty(pr->request_ref);
    return check_token(&rule_request_ref, out->request_ref, rej);
}

static int check_revision(const tp_validate_ctx_t *ctx, const Tenderpool__V1__PurchaseRequest *pr,
                          tp_request_t *out, tp_reject_t *rej)
{
    out->revision = pr->revision;
    if (out->op == TP_OP_SUBMIT && pr->revision != 1)
        return reject(rej, CODE_INVALID_FIELD, "revision: submit must have revision 1, got %u",
                      (unsigned)pr->revision);
    if (pr->revision < 1 || pr->revision > TP_MAX_REVISION)
        return reject(rej, CODE_INVALID_FIELD, "revision: must be 1 to %d", TP_MAX_REVISION);
    return 0;
}

static int check_cpv(const tp_validate_ctx_t *ctx, const Tenderpool__V1__PurchaseRequest *pr,
                     tp_request_t *out, tp_reject_t *rej)
{
    char q[QUOTE_BUF];
    if (!tp_cpv_parse(str_or_empty(pr->cpv), out->cpv))
        return reject(rej, CODE_INVALID_FIELD,
                      "cpv: '%s' must be 8 digits with an optional -D check digit",
                      quote(pr->cpv, q));
    if (ctx->cpv != NULL && tp_cpv_set_count(ctx->cpv) > 0 && !tp_cpv_set_has(ctx->cpv, out->cpv))
        return reject(rej, CODE_UNKNOWN_CPV, "cpv: %s is not a CPV 2008 code", out->cpv);
    return 0;
}

static int check_item_key(const tp_validate_ctx_t *ctx, const Tenderpool__V1__PurchaseRequest *pr,
                          tp_request_t *out, tp_reject_t *rej)
{
    out->item_key = str_or_empty(pr->item_key);
    return check_text("item_key", out->item_key, 1, ITEM_KEY_MAX, rej);
}

static int check_description(const tp_validate_ctx_t *ctx,
                             const Tenderpool__V1__PurchaseRequest *pr, tp_request_t *out,
                             tp_reject_t *rej)
{
    out->description = str_or_empty(pr->description);
    return check_text("description", out->description, 0, TEXT_MAX, rej);
}

static int check_quantity(const tp_validate_ctx_t *ctx, const Tenderpool__V1__PurchaseRequest *pr,
                          tp_request_t *out, tp_reject_t *rej)
{
    if (check_decimal("quantity", str_or_empty(pr->quantity), &out->quantity, rej) != 0)
        return -1;
    if (tp_dec_sign(&out->quantity) <= 0)
        return reject(rej, CODE_INVALID_FIELD, "quantity: must be > 0");
    return 0;
}

/* Unit lookup, then the exact conversion to the base unit; count units need whole pieces. */
static int check_unit(const tp_validate_ctx_t *ctx, const Tenderpool__V1__PurchaseRequest *pr,
                      tp_request_t *out, tp_reject_t *rej)
{
    char q[QUOTE_BUF], qty[TP_DEC_STR_MAX];
    const char *code = str_or_empty(pr->unit);
    if (check_text("unit", code, 1, 64, rej) != 0)
        return -1;
    out->unit = tp_unit_find(code);
    if (out->unit == NULL)
        return reject(rej, CODE_UNKNOWN_UNIT, "unit: '%s' is not in the unit table",
                      quote(code, q));
    if (tp_unit_to_base(out->unit, &out->quantity, &out->base_quantity) != 0)
        return reject(rej, CODE_INVALID_FIELD, "quantity: too large once converted to %s",
                      out->unit->base);
    if (out->unit->dim == TP_DIM_COUNT && !tp_dec_is_integer(&out->base_quantity)) {
        tp_dec_format(&out->quantity, qty, sizeof(qty));
        return reject(rej, CODE_INVALID_FIELD, "quantity: %s %s is not a whole number of pieces",
                      qty, out->unit->code);
    }
    return 0;
}

static int check_need_by(const tp_validate_ctx_t *ctx, const Tenderpool__V1__PurchaseRequest *pr,
                         tp_request_t *out, tp_reject_t *rej)
{
    char q[QUOTE_BUF];
    const char *s = str_or_empty(pr->need_by);
    if (!tp_parse_date(s, &out->need_by_y, &out->need_by_m, &out->need_by_d))
        return reject(rej, CODE_INVALID_FIELD, "need_by: '%s' is not a real date (YYYY-MM-DD)",
                      quote(s, q));
    long day = tp_days_from_civil(out->need_by_y, out->need_by_m, out->need_by_d);
    if (day < tp_days_from_civil(ctx->today_y, ctx->today_m, ctx->today_d))
        return reject(rej, CODE_INVALID_FIELD,
                      "need_by: %s is before the accept date %04d-%02d-%02d", s, ctx->today_y,
                      ctx->today_m, ctx->today_d);
    if (day > last_need_by_day(ctx))
        return reject(rej, CODE_INVALID_FIELD,
                      "need_by: %s is more than 2 years after the accept date %04d-%02d-%02d", s,
                      ctx->today_y, ctx->today_m, ctx->today_d);
    return 0;
}

static int check_delivery_zone(const tp_validate_ctx_t *ctx,
                               const Tenderpool__V1__PurchaseRequest *pr, tp_request_t *out,
                               tp_reject_t *rej)
{
    out->delivery_zone = str_or_empty(pr->delivery_zone);
    return check_token(&rule_zone, out->delivery_zone, rej);
}

static int check_currency(const tp_validate_ctx_t *ctx, const Tenderpool__V1__PurchaseRequest *pr,
                          tp_request_t *out, tp_reject_t *rej)
{
    char q[QUOTE_BUF];
    out->currency = str_or_empty(pr->currency);
    if (!tp_valid_currency(out->currency))
        return reject(rej, CODE_INVALID_FIELD,
                      "currency: '%s' is not an active ISO 4217 currency code",
                      quote(out->currency, q));
    return 0;
}

/* Optional: the empty string means "no ceiling". */
static int check_max_unit_price(const tp_validate_ctx_t *ctx,
                                const Tenderpool__V1__PurchaseRequest *pr, tp_request_t *out,
                                tp_reject_t *rej)
{
    const char *s = str_or_empty(pr->max_unit_price);
    out->has_max_price = s[0] != '\0';
    if (!out->has_max_price)
        return 0;
    if (check_decimal("max_unit_price", s, &out->max_unit_price, rej) != 0)
        return -1;
    if (tp_dec_sign(&out->max_unit_price) < 0)
        return reject(rej, CODE_INVALID_FIELD, "max_unit_price: must be >= 0");
    return 0;
}

static const purchase_check_fn purchase_checks[] = {
    check_request_ref,    check_revision, check_cpv,     check_item_key,      check_description,
    check_quantity,       check_unit,     check_need_by, check_delivery_zone, check_currency,
    check_max_unit_price,
};

static int validate_purchase(const tp_validate_ctx_t *ctx,
                             const Tenderpool__V1__PurchaseRequest *pr, tp_request_t *out,
                             tp_reject_t *rej)
{
    for (size_t i = 0; i < sizeof(purchase_checks) / sizeof(purchase_checks[0]); i++)
        if (purchase_checks[i](ctx, pr, out, rej) != 0)
            return -1;
    return 0;
}

static int validate_cancel(const Tenderpool__V1__Cancel *c, tp_request_t *out, tp_reject_t *rej)
{
    out->request_ref = str_or_empty(c->request_ref);
    out->revision = c->revision;
    out->reason = str_or_empty(c->reason);
    if (check_token(&rule_request_ref, out->request_ref, rej) != 0)
        return -1;
    if (c->revision < 1 || c->revision > TP_MAX_REVISION)
        return reject(rej, CODE_INVALID_FIELD, "revision: must be 1 to %d", TP_MAX_REVISION);
    return check_text("reason", out->reason, 0, TEXT_MAX, rej);
}

/* ---- the envelope ---- */

/* curve: the authenticated identity wins, the envelope may only repeat it; none: the
 * envelope names the member; neither (CLI feeds): an optional, well-formed id. */
static int check_member(const tp_validate_ctx_t *ctx, const char *member_id, tp_request_t *out,
                        tp_reject_t *rej)
{
    char q[QUOTE_BUF];
    const char *m = str_or_empty(member_id);
    if (ctx->auth_member != NULL) {
        if (m[0] != '\0' && strcmp(m, ctx->auth_member) != 0)
            return reject(rej, CODE_MEMBER_MISMATCH,
                          "member_id: '%s' is not the authenticated member", quote(m, q));
        out->member_id = ctx->auth_member;
        return 0;
    }
    out->member_id = m;
    if (!ctx->member_required && m[0] == '\0')
        return 0;
    return check_token(&rule_member_id, m, rej);
}

static const Tenderpool__V1__PurchaseRequest *purchase_body(const Tenderpool__V1__Envelope *env,
                                                            tp_op_t *op)
{
    switch (env->body_case) {
    case TENDERPOOL__V1__ENVELOPE__BODY_SUBMIT:
        *op = TP_OP_SUBMIT;
        return env->submit;
    case TENDERPOOL__V1__ENVELOPE__BODY_AMEND:
        *op = TP_OP_AMEND;
        return env->amend;
    default:
        return NULL;
    }
}

int tp_validate_envelope(const tp_validate_ctx_t *ctx, const Tenderpool__V1__Envelope *env,
                         tp_request_t *out, tp_reject_t *rej)
{
    memset(out, 0, sizeof(*out));
    rej->code = NULL;
    rej->detail[0] = '\0';
    if (env == NULL)
        return reject(rej, CODE_MALFORMED, "envelope: missing");
    if (env->body_case == TENDERPOOL__V1__ENVELOPE__BODY_CANCEL && env->cancel != NULL) {
        out->op = TP_OP_CANCEL;
        if (check_member(ctx, env->member_id, out, rej) != 0)
            return -1;
        return validate_cancel(env->cancel, out, rej);
    }
    const Tenderpool__V1__PurchaseRequest *pr = purchase_body(env, &out->op);
    if (pr == NULL)
        return reject(rej, CODE_MALFORMED, "body: one of submit, amend or cancel is required");
    if (check_member(ctx, env->member_id, out, rej) != 0)
        return -1;
    return validate_purchase(ctx, pr, out, rej);
}

const char *tp_envelope_ref(const Tenderpool__V1__Envelope *e)
{
    switch (e->body_case) {
    case TENDERPOOL__V1__ENVELOPE__BODY_SUBMIT:
        return e->submit ? e->submit->request_ref : "";
    case TENDERPOOL__V1__ENVELOPE__BODY_AMEND:
        return e->amend ? e->amend->request_ref : "";
    case TENDERPOOL__V1__ENVELOPE__BODY_CANCEL:
        return e->cancel ? e->cancel->request_ref : "";
    default:
        return "";
    }
}

uint32_t tp_envelope_revision(const Tenderpool__V1__Envelope *e)
{
    switch (e->body_case) {
    case TENDERPOOL__V1__ENVELOPE__BODY_SUBMIT:
        return e->submit ? e->submit->revision : 0;
    case TENDERPOOL__V1__ENVELOPE__BODY_AMEND:
        return e->amend ? e->amend->revision : 0;
    case TENDERPOOL__V1__ENVELOPE__BODY_CANCEL:
        return e->cancel ? e->cancel->revision : 0;
    default:
        return 0;
    }
}
