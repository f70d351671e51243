/* Validation of member envelopes against the SPEC section 3 rules, with error codes. */
#ifndef TP_VALIDATE_H
#define TP_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tenderpool/v1/tenderpool.pb-c.h"
#include "tp_civil.h"
#include "tp_cpv.h"
#include "tp_decimal.h"
#include "tp_unit.h"

/* Revisions are stored as PostgreSQL integer. */
#define TP_MAX_REVISION 2147483647

typedef enum tp_op { TP_OP_SUBMIT = 1, TP_OP_AMEND = 2, TP_OP_CANCEL = 3 } tp_op_t;

/* A validated envelope. String pointers borrow from the decoded protobuf message
 * (or from the caller's buffers) and live as long as it does. */
typedef struct tp_request {
    tp_op_t op;
    const char *member_id;
    const char *request_ref;
    uint32_t revision;
    /* submit/amend only: */
    char cpv[9]; /* 8 digits, check digit stripped (held inline: the struct is
                    copied into commit groups, so it must not point into itself) */
    const char *item_key;
    const char *description;
    tp_dec_t quantity; /* in `unit` */
    const tp_unit_t *unit;
    tp_dec_t base_quantity; /* in unit->base */
    int need_by_y, need_by_m, need_by_d;
    const char *delivery_zone;
    const char *currency;
    bool has_max_price;
    tp_dec_t max_unit_price;
    /* cancel only: */
    const char *reason;
} tp_request_t;

/* Rejection: status code text (SPEC: "INVALID_FIELD", ...) and a detail naming
 * the field and the rule. */
typedef struct tp_reject {
    const char *code;
    char detail[160];
} tp_reject_t;

typedef struct tp_validate_ctx {
    const tp_cpv_set_t *cpv;       /* NULL or empty: format check only */
    int today_y, today_m, today_d; /* accept date in the rounds' zone */
    bool member_required;          /* security = none: member_id 1-64 [A-Za-z0-9._-] */
    const char *auth_member;       /* curve: the authenticated member, else NULL */
} tp_validate_ctx_t;

/* Validate one envelope into *out. Returns 0 when valid, else -1 with *rej set.
 * Stored-state rules (revision vs stored, UNKNOWN_REQUEST, STALE) are not checked
 * here: submit must have revision 1, amend/cancel revision >= 2 is NOT required
 * (an amend of revision 1 would be STALE against the stored submit). */
int tp_validate_envelope(const tp_validate_ctx_t *ctx, const Tenderpool__V1__Envelope *env,
                         tp_request_t *out, tp_reject_t *rej) __attribute__((warn_unused_result));

/* Field rules, exposed for the CLI feed reader and for tests. Each returns true when valid. */
/* The body's request_ref and revision of a decoded envelope ("" and 0 without a body). */
const char *tp_envelope_ref(const Tenderpool__V1__Envelope *e);
uint32_t tp_envelope_revision(const Tenderpool__V1__Envelope *e);
bool tp_valid_request_ref(const char *s);
bool tp_valid_member_id(const char *s);
bool tp_valid_utf8_text(const char *s, size_t min_chars, size_t max_chars); /* no controls */
bool tp_valid_utf8(const char *s, size_t len);
bool tp_valid_delivery_zone(const char *s);
bool tp_valid_currency(const char *s); /* ISO 4217 active codes */
/* The i-th ISO 4217 code of the table (sorted), NULL past the end: for listings and tests. */
const char *tp_currency_at(size_t i);
/* "YYYY-MM-DD" that is a real date. */
bool tp_parse_date(const char *s, int *y, int *m, int *d);

#endif
