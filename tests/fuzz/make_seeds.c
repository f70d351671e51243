/* Seed corpus for fuzz_client_message: real ClientMessage frames, good and borderline, one file
 * each, written into the directory given. Runs at build time; the corpus is never committed. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tenderpool/v1/tenderpool.pb-c.h"
#include "tp_civil.h"
#include "tp_fuzz_fixture.h"

#define SEED_BIG_BATCH 1000

/* One envelope's fields as text (NULL: empty string). */
typedef struct seed_item {
    const char *op; /* "submit", "amend" or "cancel"; NULL: no body at all */
    const char *member_id, *request_ref;
    uint32_t revision;
    const char *cpv, *item_key, *description, *quantity, *unit, *need_by, *delivery_zone, *currency,
        *max_unit_price, *reason;
} seed_item_t;

/* One borderline variant of the good submit: a field set to a value. */
typedef struct seed_variant {
    const char *name;
    size_t field; /* offset of a const char * in seed_item_t */
    const char *value;
} seed_variant_t;

typedef struct seed_writer {
    const char *dir;
    int count;
    uint64_t batch_id; /* 0: the fuzzer's curve context accepts on TP_FUZZ_TODAY too */
} seed_writer_t;

enum { D_TODAY, D_YESTERDAY, D_MONTH, D_TWO_YEARS, D_TWO_YEARS_1, D_NDATES };

static char today_plus[D_NDATES][11]; /* need_by dates relative to the fixture's accept dates */

static void fmt_day(char out[11], long day)
{
    int y, m, d;
    tp_civil_from_days(day, &y, &m, &d);
    snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
}

static void init_dates(void)
{
    long t = tp_days_from_civil(TP_FUZZ_TODAY_Y, TP_FUZZ_TODAY_M, TP_FUZZ_TODAY_D);
    long t2 = tp_days_from_civil(TP_FUZZ_TODAY_Y + 2, TP_FUZZ_TODAY_M, TP_FUZZ_TODAY_D);
    fmt_day(today_plus[D_TODAY], t);
    fmt_day(today_plus[D_YESTERDAY], t - 1);
    fmt_day(today_plus[D_MONTH], t + 30);
    fmt_day(today_plus[D_TWO_YEARS], t2);
    fmt_day(today_plus[D_TWO_YEARS_1], t2 + 1);
}

/* A good submit for the security = none context: 10 pieces of nitrile gloves in a month. */
static seed_item_t good_item(const char *ref)
{
    return (seed_item_t){.op = "submit",
                         .member_id = TP_FUZZ_AUTH_MEMBER,
                         .request_ref = ref,
                         .revision = 1,
                         .cpv = "18424300",
                         .item_key = "GLOVE-NITRILE-M",
                         .description = "Nitrile gloves, size M",
                         .quantity = "10",
                         .unit = "H87",
                         .need_by = today_plus[D_MONTH],
                         .delivery_zone = "FRK24",
                         .currency = "EUR",
                         .max_unit_price = "0.12"};
}

static char *text(const char *s)
{
    return (char *)(s ? s : "");
}

static void fill_purchase(Tenderpool__V1__PurchaseRequest *p, const seed_item_t *it)
{
    tenderpool__v1__purchase_request__init(p);
    p->request_ref = text(it->request_ref);
    p->revision = it->revision;
    p->cpv = text(it->cpv);
    p->item_key = text(it->item_key);
    p->description = text(it->description);
    p->quantity = text(it->quantity);
    p->unit = text(it->unit);
    p->need_by = text(it->need_by);
    p->delivery_zone = text(it->delivery_zone);
    p->currency = text(it->currency);
    p->max_unit_price = text(it->max_unit_price);
}

static void fill_cancel(Tenderpool__V1__Cancel *c, const seed_item_t *it)
{
    tenderpool__v1__cancel__init(c);
    c->request_ref = text(it->request_ref);
    c->revision = it->revision;
    c->reason = text(it->reason);
}

static void fill_envelope(Tenderpool__V1__Envelope *e, Tenderpool__V1__PurchaseRequest *p,
                          Tenderpool__V1__Cancel *c, const seed_item_t *it)
{
    tenderpool__v1__envelope__init(e);
    e->member_id = text(it->member_id);
    if (it->op == NULL)
        return;
    if (strcmp(it->op, "cancel") == 0) {
        fill_cancel(c, it);
        e->body_case = TENDERPOOL__V1__ENVELOPE__BODY_CANCEL;
        e->cancel = c;
        return;
    }
    fill_purchase(p, it);
    if (strcmp(it->op, "amend") == 0) {
        e->body_case = TENDERPOOL__V1__ENVELOPE__BODY_AMEND;
        e->amend = p;
    } else {
        e->body_case = TENDERPOOL__V1__ENVELOPE__BODY_SUBMIT;
        e->submit = p;
    }
}

static void *xcalloc_or_die(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL) {
        fprintf(stderr, "make_seeds: out of memory\n");
        exit(1);
    }
    return p;
}

static uint8_t *pack_message(const Tenderpool__V1__ClientMessage *m, size_t *len)
{
    *len = tenderpool__v1__client_message__get_packed_size(m);
    uint8_t *buf = xcalloc_or_die(*len, 1);
    tenderpool__v1__client_message__pack(m, buf);
    return buf;
}

/* A Batch of n items as a ClientMessage frame (malloc'd). */
static uint8_t *pack_batch(uint64_t batch_id, const seed_item_t *items, size_t n, size_t *len)
{
    Tenderpool__V1__Envelope *env = xcalloc_or_die(n, sizeof(*env));
    Tenderpool__V1__Envelope **envp = xcalloc_or_die(n, sizeof(*envp));
    Tenderpool__V1__PurchaseRequest *pr = xcalloc_or_die(n, sizeof(*pr));
    Tenderpool__V1__Cancel *cn = xcalloc_or_die(n, sizeof(*cn));
    for (size_t i = 0; i < n; i++) {
        fill_envelope(&env[i], &pr[i], &cn[i], &items[i]);
        envp[i] = &env[i];
    }
    Tenderpool__V1__Batch b = TENDERPOOL__V1__BATCH__INIT;
    b.batch_id = batch_id;
    b.n_items = n;
    b.items = envp;
    Tenderpool__V1__ClientMessage m = TENDERPOOL__V1__CLIENT_MESSAGE__INIT;
    m.kind_case = TENDERPOOL__V1__CLIENT_MESSAGE__KIND_BATCH;
    m.batch = &b;
    uint8_t *buf = pack_message(&m, len);
    free(cn);
    free(pr);
    free(envp);
    free(env);
    return buf;
}

static uint8_t *pack_status(uint64_t query_id, const char *member, const char *const *refs,
                            size_t nrefs, const char *round_id, size_t *len)
{
    Tenderpool__V1__StatusQuery q = TENDERPOOL__V1__STATUS_QUERY__INIT;
    q.query_id = query_id;
    q.member_id = text(member);
    q.n_request_refs = nrefs;
    q.request_refs = (char **)refs;
    q.round_id = text(round_id);
    Tenderpool__V1__ClientMessage m = TENDERPOOL__V1__CLIENT_MESSAGE__INIT;
    m.kind_case = TENDERPOOL__V1__CLIENT_MESSAGE__KIND_STATUS;
    m.status = &q;
    return pack_message(&m, len);
}

/* ---- output ---- */

static void write_seed(seed_writer_t *w, const char *name, const uint8_t *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%03d-%s.pb", w->dir, w->count++, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "make_seeds: %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static void seed_batch(seed_writer_t *w, const char *name, const seed_item_t *items, size_t n)
{
    size_t len;
    uint8_t *buf = pack_batch(w->batch_id, items, n, &len);
    write_seed(w, name, buf, len);
    free(buf);
}

static void seed_one(seed_writer_t *w, const char *name, const seed_item_t *it)
{
    seed_batch(w, name, it, 1);
}

/* ---- the seeds ---- */

#define FIELD(f) offsetof(seed_item_t, f)

static const seed_variant_t variants[] = {
    /* quantity: huge, tiny, not numbers */
    {"qty-max", FIELD(quantity), "999999999999.999999"},
    {"qty-13-int-digits", FIELD(quantity), "1234567890123"},
    {"qty-7-frac-digits", FIELD(quantity), "1.0000001"},
    {"qty-40-digits", FIELD(quantity), "1234567890123456789012345678901234567890"},
    {"qty-leading-zeros", FIELD(quantity), "0000000000000000000012"},
    {"qty-zero", FIELD(quantity), "0"},
    {"qty-zero-frac", FIELD(quantity), "0.000000"},
    {"qty-negative", FIELD(quantity), "-5"},
    {"qty-minus-zero", FIELD(quantity), "-0"},
    {"qty-nan", FIELD(quantity), "NaN"},
    {"qty-inf", FIELD(quantity), "Infinity"},
    {"qty-exponent", FIELD(quantity), "1e5"},
    {"qty-comma", FIELD(quantity), "1,5"},
    {"qty-plus", FIELD(quantity), "+1"},
    {"qty-space", FIELD(quantity), " 1"},
    {"qty-dot-first", FIELD(quantity), ".5"},
    {"qty-dot-last", FIELD(quantity), "5."},
    {"qty-empty", FIELD(quantity), ""},
    {"qty-half-piece", FIELD(quantity), "0.5"},
    /* units */
    {"unit-unknown", FIELD(unit), "XYZ"},
    {"unit-lowercase", FIELD(unit), "h87"},
    {"unit-empty", FIELD(unit), ""},
    {"unit-long", FIELD(unit),
     "KGMKGMKGMKGMKGMKGMKGMKGMKGMKGMKGMKGMKGMKGMKGMKGMKGMKGMKGMKGMKGMKGM"},
    {"unit-dozen", FIELD(unit), "DZN"},
    {"unit-pound", FIELD(unit), "LBR"},
    {"unit-tonne", FIELD(unit), "TNE"},
    {"unit-box", FIELD(unit), "BX"},
    /* CPV */
    {"cpv-check-digit", FIELD(cpv), "18424300-1"},
    {"cpv-7-digits", FIELD(cpv), "1842430"},
    {"cpv-dash-only", FIELD(cpv), "18424300-"},
    {"cpv-unknown", FIELD(cpv), "99999999"},
    {"cpv-letters", FIELD(cpv), "1842430X"},
    /* UTF-8 and controls in text fields */
    {"desc-bad-utf8", FIELD(description), "gloves \xff\xfe"},
    {"desc-overlong", FIELD(description), "slash \xc0\xaf"},
    {"desc-surrogate", FIELD(description), "\xed\xa0\x80"},
    {"desc-truncated", FIELD(description), "caf\xc3"},
    {"desc-control", FIELD(description), "line\nbreak"},
    {"desc-c1-control", FIELD(description), "c1 \xc2\x85"},
    {"desc-4-byte", FIELD(description), "gloves \xf0\x9f\xa7\xa4"},
    {"desc-above-10ffff", FIELD(description), "\xf4\x90\x80\x80"},
    {"item-key-empty", FIELD(item_key), ""},
    {"item-key-bad-utf8", FIELD(item_key), "\x80"},
    {"ref-bad-utf8", FIELD(request_ref), "PO-\xc3\x28"},
    {"ref-space", FIELD(request_ref), "PO 1"},
    {"ref-quote", FIELD(request_ref), "PO\"1"},
    {"ref-empty", FIELD(request_ref), ""},
    {"ref-65", FIELD(request_ref),
     "R1234567890123456789012345678901234567890123456789012345678901234"},
    {"member-empty", FIELD(member_id), ""},
    {"member-bad-utf8", FIELD(member_id), "acme\xe2\x82"},
    {"member-colon", FIELD(member_id), "acme:1"},
    {"member-other", FIELD(member_id), "globex"},
    /* dates, zones, currencies, prices */
    {"need-by-today", FIELD(need_by), today_plus[D_TODAY]},
    {"need-by-yesterday", FIELD(need_by), today_plus[D_YESTERDAY]},
    {"need-by-two-years", FIELD(need_by), today_plus[D_TWO_YEARS]},
    {"need-by-two-years-1", FIELD(need_by), today_plus[D_TWO_YEARS_1]},
    {"need-by-feb-29-common", FIELD(need_by), "2027-02-29"},
    {"need-by-far", FIELD(need_by), "9999-12-31"},
    {"need-by-year-0", FIELD(need_by), "0000-01-01"},
    {"need-by-slashes", FIELD(need_by), "2026/12/26"},
    {"zone-lowercase", FIELD(delivery_zone), "frk24"},
    {"zone-17", FIELD(delivery_zone), "FRK24FRK24FRK24FR"},
    {"currency-xxx", FIELD(currency), "XXX"},
    {"currency-lowercase", FIELD(currency), "eur"},
    {"currency-withdrawn", FIELD(currency), "HRK"},
    {"price-negative", FIELD(max_unit_price), "-0.01"},
    {"price-zero", FIELD(max_unit_price), "0"},
    {"price-empty", FIELD(max_unit_price), ""},
    {"price-huge", FIELD(max_unit_price), "99999999999999999999"},
    {"price-nan", FIELD(max_unit_price), "nan"},
};

static void seed_variants(seed_writer_t *w)
{
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        seed_item_t it = good_item("PO-1");
        *(const char **)((char *)&it + variants[i].field) = variants[i].value;
        seed_one(w, variants[i].name, &it);
    }
}

static void seed_revisions(seed_writer_t *w)
{
    static const struct {
        const char *name, *op;
        uint32_t revision;
    } revs[] = {
        {"submit-rev-0", "submit", 0},
        {"submit-rev-2", "submit", 2},
        {"amend-rev-0", "amend", 0},
        {"amend-rev-max", "amend", 2147483647u},
        {"amend-rev-over", "amend", 2147483648u},
        {"cancel-rev-over", "cancel", 4294967295u},
    };
    for (size_t i = 0; i < sizeof(revs) / sizeof(revs[0]); i++) {
        seed_item_t it = good_item("PO-1");
        it.op = revs[i].op;
        it.revision = revs[i].revision;
        seed_one(w, revs[i].name, &it);
    }
}

/* A long text of n copies of unit (for the 128 and 512 character limits, in characters). */
static char *repeat(const char *unit, size_t n)
{
    size_t k = strlen(unit);
    char *s = xcalloc_or_die(n * k + 1, 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * k, unit, k);
    return s;
}

static void seed_lengths(seed_writer_t *w)
{
    char *e512 = repeat("\xc3\xa9", 512), *e513 = repeat("e", 513), *k129 = repeat("k", 129);
    seed_item_t it = good_item("PO-1");
    it.description = e512;
    seed_one(w, "desc-512-two-byte-chars", &it);
    it.description = e513;
    seed_one(w, "desc-513", &it);
    it = good_item("PO-1");
    it.item_key = k129;
    seed_one(w, "item-key-129", &it);
    it = good_item("PO-1");
    it.op = "cancel";
    it.revision = 2;
    it.reason = e513;
    seed_one(w, "cancel-reason-513", &it);
    free(k129);
    free(e513);
    free(e512);
}

/* The good shapes: one of each operation, a mixed batch, a full batch and one too many. */
static void seed_good(seed_writer_t *w)
{
    seed_item_t mix[5] = {good_item("PO-1"), good_item("PO-2"), good_item("PO-3"),
                          good_item("PO/2026:4"), good_item("PO-5")};
    seed_one(w, "submit", &mix[0]);
    mix[1].op = "amend", mix[1].revision = 3, mix[1].quantity = "12.5", mix[1].unit = "KGM";
    seed_one(w, "amend", &mix[1]);
    mix[2].op = "cancel", mix[2].revision = 2, mix[2].reason = "budget cut";
    seed_one(w, "cancel", &mix[2]);
    mix[3].quantity = "0.5", mix[3].unit = "DZN", mix[3].max_unit_price = "";
    mix[4].op = NULL; /* no body: MALFORMED, the rest of the batch goes on */
    seed_batch(w, "batch-mixed", mix, 5);
    seed_item_t *big = xcalloc_or_die(SEED_BIG_BATCH + 1, sizeof(*big));
    char(*refs)[16] = xcalloc_or_die(SEED_BIG_BATCH + 1, sizeof(*refs));
    static const char *const units[] = {"H87", "KGM", "LTR", "TNE", "MTR", "PK", "DZN", "KWH"};
    for (size_t i = 0; i <= SEED_BIG_BATCH; i++) {
        snprintf(refs[i], sizeof(refs[i]), "PO-%zu", i);
        big[i] = good_item(refs[i]);
        big[i].unit = units[i % (sizeof(units) / sizeof(units[0]))];
    }
    seed_batch(w, "batch-1000", big, SEED_BIG_BATCH);
    seed_batch(w, "batch-1001", big, SEED_BIG_BATCH + 1);
    seed_batch(w, "batch-empty", big, 0);
    free(refs);
    free(big);
}

/* Accepted on 29 February 2028 (batch_id: see TP_FUZZ_DATE_SPAN): the last day is 2030-02-28. */
static void seed_leap_day(seed_writer_t *w)
{
    long today = tp_days_from_civil(TP_FUZZ_TODAY_Y, TP_FUZZ_TODAY_M, TP_FUZZ_TODAY_D);
    seed_item_t its[3] = {good_item("PO-1"), good_item("PO-2"), good_item("PO-3")};
    its[0].need_by = "2028-02-29", its[1].need_by = "2030-02-28", its[2].need_by = "2030-03-01";
    w->batch_id = (uint64_t)(tp_days_from_civil(2028, 2, 29) - today);
    seed_batch(w, "leap-day-accept-date", its, 3);
    w->batch_id = 0;
}

static void seed_status(seed_writer_t *w)
{
    static const char *const refs[] = {"PO-1", "PO-2", "PO\"}", "PO-\xff", ""};
    size_t len;
    const struct {
        const char *name, *member;
        size_t nrefs;
        const char *round;
    } qs[] = {
        {"status-refs", "acme", 2, ""},           {"status-round", "acme", 0, "2026-W48"},
        {"status-nothing", "acme", 0, ""},        {"status-bad-refs", "acme", 5, ""},
        {"status-no-member", "", 1, ""},          {"status-bad-round", "acme", 0, "2026 W48'"},
        {"status-bad-member", "ac\xffme", 1, ""},
    };
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        uint8_t *buf = pack_status(i + 1, qs[i].member, refs, qs[i].nrefs, qs[i].round, &len);
        write_seed(w, qs[i].name, buf, len);
        free(buf);
    }
    const char **many = xcalloc_or_die(1001, sizeof(*many));
    for (size_t i = 0; i < 1001; i++)
        many[i] = "PO-1";
    uint8_t *buf = pack_status(99, "acme", many, 1001, "", &len);
    write_seed(w, "status-1001-refs", buf, len);
    free(buf);
    free(many);
}

/* Strings with a NUL byte inside (valid protobuf; protobuf-c hands them over as C strings, so
 * everything after the NUL goes unseen): made by packing a marker and overwriting it. */
static void seed_embedded_nul(seed_writer_t *w)
{
    seed_item_t it = good_item("PO-1#: spaces!");
    it.description = "ok#\x01\xff";
    it.quantity = "10#.5";
    size_t len;
    uint8_t *buf = pack_batch(0, &it, 1, &len);
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '#')
            buf[i] = '\0';
    write_seed(w, "embedded-nul", buf, len);
    free(buf);
}

/* Frames that are not quite messages: no kind, truncated, trailing bytes, unknown fields. */
static void seed_frames(seed_writer_t *w)
{
    static const uint8_t unknown_field[] = {0x18, 0x01, 0x0a, 0x02, 0x08, 0x07};
    Tenderpool__V1__ClientMessage m = TENDERPOOL__V1__CLIENT_MESSAGE__INIT;
    size_t len;
    uint8_t *empty = pack_message(&m, &len);
    write_seed(w, "no-kind", empty, len);
    free(empty);
    seed_item_t it = good_item("PO-1");
    uint8_t *buf = pack_batch(7, &it, 1, &len);
    write_seed(w, "truncated", buf, len - 3);
    uint8_t *longer = xcalloc_or_die(len + 4, 1);
    memcpy(longer, buf, len);
    memcpy(longer + len, "\xff\xff\xff\xff", 4);
    write_seed(w, "trailing-garbage", longer, len + 4);
    write_seed(w, "unknown-field", unknown_field, sizeof(unknown_field));
    free(longer);
    free(buf);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    if (mkdir(argv[1], 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "make_seeds: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    seed_writer_t w = {.dir = argv[1]};
    init_dates();
    seed_good(&w);
    seed_variants(&w);
    seed_revisions(&w);
    seed_lengths(&w);
    seed_leap_day(&w);
    seed_status(&w);
    seed_frames(&w);
    seed_embedded_nul(&w);
    printf("make_seeds: %d seeds in %s\n", w.count, w.dir);
    return 0;
}
