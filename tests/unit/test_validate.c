/* Unit tests for envelope validation: each SPEC section 3 rule and code, on real Envelopes. */
#include <criterion/criterion.h>
#include <string.h>

#include "tp_validate.h"

/* One envelope under test; the body pointers point into the same struct, so never copy it. */
typedef struct vcase {
    Tenderpool__V1__Envelope env;
    Tenderpool__V1__PurchaseRequest pr;
    Tenderpool__V1__Cancel cancel;
    tp_validate_ctx_t ctx;
    tp_request_t out;
    tp_reject_t rej;
    char long_buf[2048];
} vcase_t;

static void init_ctx(vcase_t *v)
{
    memset(&v->ctx, 0, sizeof(v->ctx));
    v->ctx.today_y = 2026, v->ctx.today_m = 3, v->ctx.today_d = 10;
    v->ctx.member_required = true;
}

static void init_submit(vcase_t *v)
{
    memset(v, 0, sizeof(*v));
    tenderpool__v1__envelope__init(&v->env);
    tenderpool__v1__purchase_request__init(&v->pr);
    tenderpool__v1__cancel__init(&v->cancel);
    init_ctx(v);
    v->env.member_id = "acme-sas";
    v->env.body_case = TENDERPOOL__V1__ENVELOPE__BODY_SUBMIT;
    v->env.submit = &v->pr;
    v->pr.request_ref = "PO-2026/17:3";
    v->pr.revision = 1;
    v->pr.cpv = "03111000-5";
    v->pr.item_key = "GTIN:03012345678901";
    v->pr.description = "Café en grains, sac de 1 kg";
    v->pr.quantity = "12.5";
    v->pr.unit = "KGM";
    v->pr.need_by = "2026-06-30";
    v->pr.delivery_zone = "FRK24";
    v->pr.currency = "EUR";
    v->pr.max_unit_price = "";
}

static void init_cancel(vcase_t *v)
{
    init_submit(v);
    v->env.body_case = TENDERPOOL__V1__ENVELOPE__BODY_CANCEL;
    v->env.cancel = &v->cancel;
    v->cancel.request_ref = "PO-2026/17:3";
    v->cancel.revision = 2;
    v->cancel.reason = "budget withdrawn";
}

/* A string of n copies of unit (a UTF-8 character), in v's scratch buffer. */
static char *repeat(vcase_t *v, const char *unit, size_t n)
{
    size_t u = strlen(unit);
    cr_assert_lt(n * u, sizeof(v->long_buf));
    for (size_t i = 0; i < n; i++)
        memcpy(v->long_buf + i * u, unit, u);
    v->long_buf[n * u] = '\0';
    return v->long_buf;
}

static void expect_ok(vcase_t *v)
{
    int rc = tp_validate_envelope(&v->ctx, &v->env, &v->out, &v->rej);
    cr_assert_eq(rc, 0, "expected valid, got %s: %s", v->rej.code ? v->rej.code : "(null)",
                 v->rej.detail);
}

/* Rejected with code, the detail starting "field:" and being valid UTF-8. */
static void expect_reject(vcase_t *v, const char *code, const char *field)
{
    int rc = tp_validate_envelope(&v->ctx, &v->env, &v->out, &v->rej);
    cr_assert_eq(rc, -1, "expected %s on %s, but it was accepted", code, field);
    cr_assert_not_null(v->rej.code);
    cr_assert_str_eq(v->rej.code, code, "detail: %s", v->rej.detail);
    size_t n = strlen(field);
    cr_assert(strncmp(v->rej.detail, field, n) == 0 && v->rej.detail[n] == ':',
              "detail '%s' does not name %s", v->rej.detail, field);
    cr_assert(tp_valid_utf8(v->rej.detail, strlen(v->rej.detail)), "detail is not UTF-8");
}

static void expect_detail(vcase_t *v, const char *detail)
{
    cr_assert_str_eq(v->rej.detail, detail);
}

/* ---- whole envelopes ---- */

Test(validate, good_submit_fills_request)
{
    vcase_t v;
    char buf[TP_DEC_STR_MAX];
    init_submit(&v);
    expect_ok(&v);
    cr_assert_eq(v.out.op, TP_OP_SUBMIT);
    cr_assert_str_eq(v.out.member_id, "acme-sas");
    cr_assert_str_eq(v.out.request_ref, "PO-2026/17:3");
    cr_assert_eq(v.out.revision, 1);
    cr_assert_str_eq(v.out.cpv, "03111000");
    cr_assert_str_eq(v.out.item_key, "GTIN:03012345678901");
    cr_assert_str_eq(v.out.unit->code, "KGM");
    tp_dec_format(&v.out.quantity, buf, sizeof(buf));
    cr_assert_str_eq(buf, "12.5");
    cr_assert_eq(v.out.need_by_y, 2026);
    cr_assert_eq(v.out.need_by_m, 6);
    cr_assert_eq(v.out.need_by_d, 30);
    cr_assert_str_eq(v.out.delivery_zone, "FRK24");
    cr_assert_str_eq(v.out.currency, "EUR");
    cr_assert_not(v.out.has_max_price);
}

Test(validate, base_quantity_converted)
{
    vcase_t v;
    char buf[TP_DEC_STR_MAX];
    init_submit(&v);
    v.pr.quantity = "2.5";
    v.pr.unit = "TNE";
    expect_ok(&v);
    tp_dec_format(&v.out.base_quantity, buf, sizeof(buf));
    cr_assert_str_eq(buf, "2500");
}

Test(validate, good_amend_and_cancel)
{
    vcase_t v;
    init_submit(&v);
    v.env.body_case = TENDERPOOL__V1__ENVELOPE__BODY_AMEND;
    v.env.amend = &v.pr;
    v.pr.revision = 3;
    expect_ok(&v);
    cr_assert_eq(v.out.op, TP_OP_AMEND);
    cr_assert_eq(v.out.revision, 3);
    init_cancel(&v);
    expect_ok(&v);
    cr_assert_eq(v.out.op, TP_OP_CANCEL);
    cr_assert_str_eq(v.out.reason, "budget withdrawn");
    cr_assert_eq(v.out.revision, 2);
}

Test(validate, no_body_is_malformed)
{
    vcase_t v;
    init_submit(&v);
    v.env.body_case = TENDERPOOL__V1__ENVELOPE__BODY__NOT_SET;
    v.env.submit = NULL;
    expect_reject(&v, "MALFORMED", "body");
    init_submit(&v);
    v.env.submit = NULL; /* case set, message missing */
    expect_reject(&v, "MALFORMED", "body");
    cr_assert_eq(tp_validate_envelope(&v.ctx, NULL, &v.out, &v.rej), -1);
    cr_assert_str_eq(v.rej.code, "MALFORMED");
}

Test(validate, null_strings_are_empty)
{
    vcase_t v;
    init_submit(&v);
    v.pr.max_unit_price = NULL;
    v.pr.description = NULL;
    expect_ok(&v);
    cr_assert_str_eq(v.out.description, "");
    v.pr.request_ref = NULL;
    expect_reject(&v, "INVALID_FIELD", "request_ref");
}

/* ---- member_id ---- */

Test(validate, member_required_in_none_mode)
{
    vcase_t v;
    init_submit(&v);
    v.env.member_id = "";
    expect_reject(&v, "INVALID_FIELD", "member_id");
    v.env.member_id = "acme corp";
    expect_reject(&v, "INVALID_FIELD", "member_id");
    v.env.member_id = "acme:corp"; /* ':' is for request_ref only */
    expect_reject(&v, "INVALID_FIELD", "member_id");
    v.env.member_id = repeat(&v, "m", 65);
    expect_reject(&v, "INVALID_FIELD", "member_id");
    v.env.member_id = repeat(&v, "m", 64);
    expect_ok(&v);
    v.env.member_id = "Lab_2.ens-x";
    expect_ok(&v);
}

Test(validate, member_optional_without_auth)
{
    vcase_t v;
    init_submit(&v);
    v.ctx.member_required = false;
    v.env.member_id = "";
    expect_ok(&v);
    cr_assert_str_eq(v.out.member_id, "");
    v.env.member_id = "bad id";
    expect_reject(&v, "INVALID_FIELD", "member_id");
}

Test(validate, curve_member_mismatch)
{
    vcase_t v;
    init_submit(&v);
    v.ctx.member_required = false;
    v.ctx.auth_member = "acme-sas";
    v.env.member_id = "";
    expect_ok(&v);
    cr_assert_str_eq(v.out.member_id, "acme-sas");
    v.env.member_id = "acme-sas";
    expect_ok(&v);
    v.env.member_id = "rival";
    expect_reject(&v, "MEMBER_MISMATCH", "member_id");
    v.env.member_id = "\xff\xfe";
    expect_reject(&v, "MEMBER_MISMATCH", "member_id");
    cr_assert_null(strchr(v.rej.detail, '\xff'));
}

/* ---- request_ref and revision ---- */

Test(validate, request_ref_rules)
{
    vcase_t v;
    init_submit(&v);
    v.pr.request_ref = "";
    expect_reject(&v, "INVALID_FIELD", "request_ref");
    v.pr.request_ref = "line 1";
    expect_reject(&v, "INVALID_FIELD", "request_ref");
    v.pr.request_ref = "ligne-é";
    expect_reject(&v, "INVALID_FIELD", "request_ref");
    v.pr.request_ref = "a\xc3\x28";
    expect_reject(&v, "INVALID_FIELD", "request_ref");
    v.pr.request_ref = repeat(&v, "r", 65);
    expect_reject(&v, "INVALID_FIELD", "request_ref");
    v.pr.request_ref = repeat(&v, "r", 64);
    expect_ok(&v);
    v.pr.request_ref = "A-z_0.9:/x";
    expect_ok(&v);
}

Test(validate, submit_revision_must_be_one)
{
    vcase_t v;
    init_submit(&v);
    v.pr.revision = 2;
    expect_reject(&v, "INVALID_FIELD", "revision");
    cr_assert(strstr(v.rej.detail, "submit must have revision 1") != NULL, "%s", v.rej.detail);
    v.pr.revision = 0;
    expect_reject(&v, "INVALID_FIELD", "revision");
}

Test(validate, amend_and_cancel_revision_at_least_one)
{
    vcase_t v;
    init_submit(&v);
    v.env.body_case = TENDERPOOL__V1__ENVELOPE__BODY_AMEND;
    v.env.amend = &v.pr;
    v.pr.revision = 0;
    expect_reject(&v, "INVALID_FIELD", "revision");
    v.pr.revision = 1; /* STALE against the stored submit, but not a field error */
    expect_ok(&v);
    v.pr.revision = 2147483648u; /* does not fit the stored integer */
    expect_reject(&v, "INVALID_FIELD", "revision");
    v.pr.revision = 2147483647u;
    expect_ok(&v);
    init_cancel(&v);
    v.cancel.revision = 0;
    expect_reject(&v, "INVALID_FIELD", "revision");
    v.cancel.revision = 4000000000u;
    expect_reject(&v, "INVALID_FIELD", "revision");
}

/* ---- cpv ---- */

Test(validate, cpv_format)
{
    static const char *bad[] = {
        "",         "0311100",    "031110000", "03111000-", "03111000-55",
        "0311100a", "03111000-x", " 03111000", "03111000 ", "\xff\xff\xff\xff\xff\xff\xff\xff"};
    vcase_t v;
    init_submit(&v);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v.pr.cpv = (char *)bad[i];
        expect_reject(&v, "INVALID_FIELD", "cpv");
    }
    v.pr.cpv = "03111000";
    expect_ok(&v);
    cr_assert_str_eq(v.out.cpv, "03111000");
}

Test(validate, cpv_membership)
{
    vcase_t v;
    tp_cpv_set_t *set = tp_cpv_set_new();
    init_submit(&v);
    v.ctx.cpv = set;
    v.pr.cpv = "44000000";
    expect_ok(&v); /* empty set: format only */
    cr_assert_eq(tp_cpv_set_add(set, "03111000"), 0);
    tp_cpv_set_seal(set);
    expect_reject(&v, "UNKNOWN_CPV", "cpv");
    v.pr.cpv = "03111000-5";
    expect_ok(&v);
    v.pr.cpv = "0311100";
    expect_reject(&v, "INVALID_FIELD", "cpv");
    tp_cpv_set_destroy(&set);
}

/* ---- text fields ---- */

Test(validate, item_key_length_in_characters)
{
    vcase_t v;
    init_submit(&v);
    v.pr.item_key = "";
    expect_reject(&v, "INVALID_FIELD", "item_key");
    v.pr.item_key = repeat(&v, "k", 129);
    expect_reject(&v, "INVALID_FIELD", "item_key");
    v.pr.item_key = repeat(&v, "k", 128);
    expect_ok(&v);
    v.pr.item_key = repeat(&v, "é", 128); /* 256 bytes, 128 characters */
    expect_ok(&v);
    v.pr.item_key = repeat(&v, "é", 129);
    expect_reject(&v, "INVALID_FIELD", "item_key");
}

Test(validate, text_controls_and_bad_utf8)
{
    static const char *bad[] = {
        "a\x01z",             /* C0 */
        "a\x7fz",             /* DEL */
        "a\xc2\x85z",         /* C1 (NEL) */
        "a\nz",               /* newline */
        "a\tz",               /* tab */
        "a\xffz",             /* never valid */
        "a\xc3",              /* truncated */
        "a\xc0\xafz",         /* overlong '/' */
        "a\xe0\x80\xafz",     /* overlong '/', 3 bytes */
        "a\xed\xa0\x80z",     /* surrogate */
        "a\xf4\x90\x80\x80z", /* above U+10FFFF */
    };
    vcase_t v;
    init_submit(&v);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v.pr.item_key = (char *)bad[i];
        expect_reject(&v, "INVALID_FIELD", "item_key");
        v.pr.item_key = "ok";
        v.pr.description = (char *)bad[i];
        expect_reject(&v, "INVALID_FIELD", "description");
        v.pr.description = "";
    }
    v.pr.item_key = "日本語 ✓ 𝄞";
    expect_ok(&v);
}

Test(validate, description_length)
{
    vcase_t v;
    init_submit(&v);
    v.pr.description = "";
    expect_ok(&v);
    v.pr.description = repeat(&v, "€", 512);
    expect_ok(&v);
    v.pr.description = repeat(&v, "€", 513);
    expect_reject(&v, "INVALID_FIELD", "description");
}

/* ---- quantity and unit ---- */

Test(validate, quantity_must_be_positive)
{
    vcase_t v;
    init_submit(&v);
    v.pr.quantity = "0";
    expect_reject(&v, "INVALID_FIELD", "quantity");
    expect_detail(&v, "quantity: must be > 0");
    v.pr.quantity = "0.000000";
    expect_reject(&v, "INVALID_FIELD", "quantity");
    v.pr.quantity = "-1";
    expect_reject(&v, "INVALID_FIELD", "quantity");
}

Test(validate, quantity_decimal_format)
{
    static const char *bad[] = {"",   "NaN", "1e3", "+1",   " 1",    "1 ",  "1,5",
                                ".5", "5.",  "inf", "0x10", "1.2.3", "\xff"};
    vcase_t v;
    init_submit(&v);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v.pr.quantity = (char *)bad[i];
        expect_reject(&v, "INVALID_FIELD", "quantity");
    }
}

Test(validate, quantity_digit_limits)
{
    vcase_t v;
    init_submit(&v);
    v.pr.quantity = "999999999999"; /* 12 integer digits */
    expect_ok(&v);
    v.pr.quantity = "1000000000000"; /* 13 */
    expect_reject(&v, "INVALID_FIELD", "quantity");
    v.pr.quantity = "0.000001"; /* 6 fraction digits */
    expect_ok(&v);
    v.pr.quantity = "0.0000001"; /* 7 */
    expect_reject(&v, "INVALID_FIELD", "quantity");
    v.pr.quantity = "999999999999.999999";
    expect_ok(&v);
}

Test(validate, unknown_unit)
{
    vcase_t v;
    init_submit(&v);
    v.pr.unit = "XYZ";
    expect_reject(&v, "UNKNOWN_UNIT", "unit");
    expect_detail(&v, "unit: 'XYZ' is not in the unit table");
    v.pr.unit = "kgm";
    expect_reject(&v, "UNKNOWN_UNIT", "unit");
    v.pr.unit = "";
    expect_reject(&v, "INVALID_FIELD", "unit");
    v.pr.unit = "K\xffM";
    expect_reject(&v, "INVALID_FIELD", "unit");
}

Test(validate, count_units_need_whole_pieces)
{
    vcase_t v;
    char buf[TP_DEC_STR_MAX];
    init_submit(&v);
    v.pr.quantity = "0.5";
    v.pr.unit = "DZN";
    expect_ok(&v);
    tp_dec_format(&v.out.base_quantity, buf, sizeof(buf));
    cr_assert_str_eq(buf, "6");
    v.pr.unit = "PR";
    expect_ok(&v);
    v.pr.unit = "H87";
    expect_reject(&v, "INVALID_FIELD", "quantity");
    expect_detail(&v, "quantity: 0.5 H87 is not a whole number of pieces");
    v.pr.quantity = "0.1";
    v.pr.unit = "DZN"; /* 1.2 pieces */
    expect_reject(&v, "INVALID_FIELD", "quantity");
    v.pr.quantity = "0.5";
    v.pr.unit = "KGM"; /* not a count unit */
    expect_ok(&v);
}

/* ---- need_by ---- */

Test(validate, need_by_real_date)
{
    static const char *bad[] = {"2026-02-30", "2026-13-01", "2026-04-31",  "2026-00-10",
                                "2026-6-30",  "26-06-30",   "2026/06/30",  "2026-06-30T00:00",
                                "",           "2026-06-3x", " 2026-06-30", "2027-02-29"};
    vcase_t v;
    init_submit(&v);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v.pr.need_by = (char *)bad[i];
        expect_reject(&v, "INVALID_FIELD", "need_by");
    }
    v.pr.need_by = "2028-02-29";
    expect_ok(&v);
}

Test(validate, need_by_window)
{
    vcase_t v;
    init_submit(&v);
    v.pr.need_by = "2026-03-10"; /* the accept date itself */
    expect_ok(&v);
    v.pr.need_by = "2026-03-09"; /* yesterday */
    expect_reject(&v, "INVALID_FIELD", "need_by");
    v.pr.need_by = "2028-03-10"; /* exactly 2 years */
    expect_ok(&v);
    v.pr.need_by = "2028-03-11";
    expect_reject(&v, "INVALID_FIELD", "need_by");
    v.pr.need_by = "2029-03-10"; /* 3 years */
    expect_reject(&v, "INVALID_FIELD", "need_by");
}

Test(validate, need_by_two_years_from_leap_day)
{
    vcase_t v;
    init_submit(&v);
    v.ctx.today_y = 2028, v.ctx.today_m = 2, v.ctx.today_d = 29;
    v.pr.need_by = "2030-02-28"; /* Feb 29 + 2 years is clamped to Feb 28 */
    expect_ok(&v);
    v.pr.need_by = "2030-03-01";
    expect_reject(&v, "INVALID_FIELD", "need_by");
}

/* ---- zone, currency, price ---- */

Test(validate, delivery_zone_rules)
{
    vcase_t v;
    init_submit(&v);
    v.pr.delivery_zone = "frk24";
    expect_reject(&v, "INVALID_FIELD", "delivery_zone");
    v.pr.delivery_zone = "";
    expect_reject(&v, "INVALID_FIELD", "delivery_zone");
    v.pr.delivery_zone = "FR-K24";
    expect_reject(&v, "INVALID_FIELD", "delivery_zone");
    v.pr.delivery_zone = repeat(&v, "Z", 17);
    expect_reject(&v, "INVALID_FIELD", "delivery_zone");
    v.pr.delivery_zone = repeat(&v, "Z", 16);
    expect_ok(&v);
    v.pr.delivery_zone = "FR";
    expect_ok(&v);
}

Test(validate, currency_rules)
{
    static const char *bad[] = {"ABC", "XTS", "XXX",  "XAU", "XDR", "CHE",
                                "HRK", "eur", "EURO", "EU",  "",    "E\xffR"};
    static const char *good[] = {"EUR", "USD", "CHF", "GBP", "JPY", "XOF", "PLN"};
    vcase_t v;
    init_submit(&v);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v.pr.currency = (char *)bad[i];
        expect_reject(&v, "INVALID_FIELD", "currency");
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        v.pr.currency = (char *)good[i];
        expect_ok(&v);
    }
}

Test(validate, currency_table_sorted_and_real)
{
    size_t n = 0;
    for (; tp_currency_at(n) != NULL; n++) {
        const char *c = tp_currency_at(n);
        cr_assert_eq(strlen(c), 3);
        if (n > 0)
            cr_assert_lt(strcmp(tp_currency_at(n - 1), c), 0, "not sorted at %s", c);
        cr_assert(tp_valid_currency(c), "%s not found by bisection", c);
    }
    cr_assert_geq(n, 150);
    cr_assert_leq(n, 170);
}

Test(validate, max_unit_price_rules)
{
    vcase_t v;
    char buf[TP_DEC_STR_MAX];
    init_submit(&v);
    v.pr.max_unit_price = "0";
    expect_ok(&v);
    cr_assert(v.out.has_max_price);
    v.pr.max_unit_price = "12.345678";
    expect_ok(&v);
    tp_dec_format(&v.out.max_unit_price, buf, sizeof(buf));
    cr_assert_str_eq(buf, "12.345678");
    v.pr.max_unit_price = "-0.01";
    expect_reject(&v, "INVALID_FIELD", "max_unit_price");
    expect_detail(&v, "max_unit_price: must be >= 0");
    v.pr.max_unit_price = "12.3456789";
    expect_reject(&v, "INVALID_FIELD", "max_unit_price");
    v.pr.max_unit_price = "1000000000000";
    expect_reject(&v, "INVALID_FIELD", "max_unit_price");
    v.pr.max_unit_price = "1e3";
    expect_reject(&v, "INVALID_FIELD", "max_unit_price");
    v.pr.max_unit_price = "NaN";
    expect_reject(&v, "INVALID_FIELD", "max_unit_price");
}

/* ---- cancel ---- */

Test(validate, cancel_rules)
{
    vcase_t v;
    init_cancel(&v);
    v.cancel.request_ref = "";
    expect_reject(&v, "INVALID_FIELD", "request_ref");
    init_cancel(&v);
    v.cancel.reason = "";
    expect_ok(&v);
    v.cancel.reason = "bad\x01reason";
    expect_reject(&v, "INVALID_FIELD", "reason");
    v.cancel.reason = repeat(&v, "ü", 513);
    expect_reject(&v, "INVALID_FIELD", "reason");
    v.cancel.reason = repeat(&v, "ü", 512);
    expect_ok(&v);
    v.env.cancel = NULL;
    expect_reject(&v, "MALFORMED", "body");
    init_cancel(&v);
    v.env.member_id = "";
    expect_reject(&v, "INVALID_FIELD", "member_id");
}

/* ---- details never carry raw client bytes ---- */

Test(validate, detail_is_sanitized_and_truncated)
{
    vcase_t v;
    init_submit(&v);
    v.pr.currency = repeat(&v, "\xff", 300);
    expect_reject(&v, "INVALID_FIELD", "currency");
    cr_assert_null(strchr(v.rej.detail, '\xff'));
    cr_assert(strstr(v.rej.detail, "...") != NULL, "%s", v.rej.detail);
    init_submit(&v);
    v.pr.unit = repeat(&v, "é", 60);
    expect_reject(&v, "UNKNOWN_UNIT", "unit");
    cr_assert(strstr(v.rej.detail, repeat(&v, "é", 33)) == NULL, "%s", v.rej.detail);
    cr_assert(strstr(v.rej.detail, "...") != NULL, "%s", v.rej.detail);
    init_submit(&v);
    v.pr.cpv = "0311\x01\x1b[2J";
    expect_reject(&v, "INVALID_FIELD", "cpv");
    cr_assert_null(strchr(v.rej.detail, '\x1b'));
    cr_assert_null(strchr(v.rej.detail, '\x01'));
}

/* ---- exported field rules ---- */

Test(validate, field_rule_functions)
{
    cr_assert(tp_valid_request_ref("a:b/c"));
    cr_assert_not(tp_valid_request_ref(NULL));
    cr_assert_not(tp_valid_member_id("a:b"));
    cr_assert(tp_valid_delivery_zone("FRK24"));
    cr_assert_not(tp_valid_delivery_zone("frk24"));
    cr_assert(tp_valid_utf8("a\0b", 3)); /* U+0000 is well-formed UTF-8 */
    cr_assert_not(tp_valid_utf8("\xe2\x82", 2));
    cr_assert(tp_valid_utf8("\xe2\x82\xac", 3));
    cr_assert(tp_valid_utf8_text("abc", 1, 3));
    cr_assert_not(tp_valid_utf8_text("abcd", 1, 3));
    cr_assert_not(tp_valid_utf8_text("", 1, 3));
    cr_assert_not(tp_valid_utf8_text(NULL, 0, 3));
    cr_assert_not(tp_valid_currency(NULL));
}

Test(validate, dates)
{
    int y, m, d;
    cr_assert(tp_parse_date("2000-02-29", &y, &m, &d));
    cr_assert_eq(y, 2000);
    cr_assert_eq(m, 2);
    cr_assert_eq(d, 29);
    cr_assert_not(tp_parse_date("2100-02-29", &y, &m, &d));
    cr_assert_not(tp_parse_date("0000-01-01", &y, &m, &d));
    cr_assert_not(tp_parse_date(NULL, &y, &m, &d));
    cr_assert_eq(tp_days_from_civil(1970, 1, 1), 0);
    cr_assert_eq(tp_days_from_civil(1969, 12, 31), -1);
    cr_assert_eq(tp_days_from_civil(2000, 3, 1), 11017);
    cr_assert_eq(tp_days_from_civil(2026, 11, 26), 20783);
}
