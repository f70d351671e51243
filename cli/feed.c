/* Publish feeds: CSV / JSON-lines reading and delivery bookkeeping; no sockets, no validation. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "tp_feed.h"
#include "tp_mem.h"

/* ==== items ============================================================================= */

#define FEED_OP_BIT(op) (1u << (op))
#define FEED_OPS_ALL                                                                               \
    (FEED_OP_BIT(TP_FEED_SUBMIT) | FEED_OP_BIT(TP_FEED_AMEND) | FEED_OP_BIT(TP_FEED_CANCEL))
#define FEED_OPS_REQUEST (FEED_OP_BIT(TP_FEED_SUBMIT) | FEED_OP_BIT(TP_FEED_AMEND))
#define FEED_OPS_CANCEL FEED_OP_BIT(TP_FEED_CANCEL)

typedef enum feed_col_kind {
    FEED_COL_OP,
    FEED_COL_REVISION,
    FEED_COL_TEXT,
    FEED_COL_DECIMAL
} feed_col_kind_t;

/* The columns (CSV) / keys (JSON lines): the SPEC's field names. */
typedef struct feed_col {
    const char *name;
    feed_col_kind_t kind;
    size_t offset; /* of the char * in tp_feed_item_t, for TEXT and DECIMAL */
    unsigned ops;  /* operations the column applies to */
} feed_col_t;

#define FEED_TEXT(name, ops)                                                                       \
    {                                                                                              \
#name, FEED_COL_TEXT, offsetof(tp_feed_item_t, name), ops                                  \
    }
#define FEED_DECIMAL(name)                                                                         \
    {                                                                                              \
#name, FEED_COL_DECIMAL, offsetof(tp_feed_item_t, name), FEED_OPS_REQUEST                  \
    }

static const feed_col_t feed_cols[] = {
    {"op", FEED_COL_OP, 0, FEED_OPS_ALL},
    FEED_TEXT(request_ref, FEED_OPS_ALL),
    {"revision", FEED_COL_REVISION, 0, FEED_OPS_ALL},
    FEED_TEXT(cpv, FEED_OPS_REQUEST),
    FEED_TEXT(item_key, FEED_OPS_REQUEST),
    FEED_TEXT(description, FEED_OPS_REQUEST),
    FEED_DECIMAL(quantity),
    FEED_TEXT(unit, FEED_OPS_REQUEST),
    FEED_TEXT(need_by, FEED_OPS_REQUEST),
    FEED_TEXT(delivery_zone, FEED_OPS_REQUEST),
    FEED_TEXT(currency, FEED_OPS_REQUEST),
    FEED_DECIMAL(max_unit_price),
    FEED_TEXT(reason, FEED_OPS_CANCEL),
};

#define FEED_NCOLS (sizeof(feed_cols) / sizeof(feed_cols[0]))

static const char *const feed_op_names[] = {"submit", "amend", "cancel"};

const char *tp_feed_op_name(tp_feed_op_t op)
{
    return feed_op_names[op];
}

static char **feed_item_field(tp_feed_item_t *item, const feed_col_t *col)
{
    return (char **)((char *)item + col->offset);
}

void tp_feed_item_destroy(tp_feed_item_t **pitem)
{
    tp_feed_item_t *item = pitem ? *pitem : NULL;
    if (item == NULL)
        return;
    for (size_t c = 0; c < FEED_NCOLS; c++)
        if (feed_cols[c].kind == FEED_COL_TEXT || feed_cols[c].kind == FEED_COL_DECIMAL)
            free(*feed_item_field(item, &feed_cols[c]));
    free(item);
    *pitem = NULL;
}

static int feed_col_find(const char *name)
{
    for (size_t c = 0; c < FEED_NCOLS; c++)
        if (strcasecmp(feed_cols[c].name, name) == 0)
            return (int)c;
    return -1;
}

static bool feed_blank(const char *s)
{
    return s == NULL || *s == '\0';
}

/* ==== one line's values -> an item ======================================================= */

/* Values of one line by column; pointers borrow from the line being parsed. */
typedef struct feed_row {
    const char *value[FEED_NCOLS];
    char revision_buf[24];
    const char *noun; /* "column" or "key", for messages */
} feed_row_t;

static int feed_parse_op(const char *s, tp_feed_op_t *op, char *why, size_t whylen)
{
    if (feed_blank(s)) {
        *op = TP_FEED_SUBMIT;
        return 0;
    }
    for (size_t i = 0; i < sizeof(feed_op_names) / sizeof(feed_op_names[0]); i++) {
        if (strcasecmp(s, feed_op_names[i]) == 0) {
            *op = (tp_feed_op_t)i;
            return 0;
        }
    }
    snprintf(why, whylen, "unknown op '%s' (submit, amend or cancel)", s);
    return -1;
}

/* Digits only, 0..UINT32_MAX; blank means 1 for submit and is an error otherwise. */
static int feed_parse_revision(const char *s, tp_feed_op_t op, uint32_t *rev, char *why,
                               size_t whylen)
{
    if (feed_blank(s)) {
        if (op == TP_FEED_SUBMIT) {
            *rev = 1;
            return 0;
        }
        snprintf(why, whylen, "revision is required for op=%s", tp_feed_op_name(op));
        return -1;
    }
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > UINT32_MAX) {
            snprintf(why, whylen, "revision '%s' is not a number from 0 to %u", s, UINT32_MAX);
            return -1;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > UINT32_MAX) {
        snprintf(why, whylen, "revision '%s' is not a number from 0 to %u", s, UINT32_MAX);
        return -1;
    }
    *rev = (uint32_t)v;
    return 0;
}

/* The value of the (single) column of this kind. */
static const char *feed_row_value(const feed_row_t *row, feed_col_kind_t kind)
{
    for (size_t c = 0; c < FEED_NCOLS; c++)
        if (feed_cols[c].kind == kind)
            return row->value[c];
    return NULL;
}

static tp_feed_item_t *feed_row_to_item(const feed_row_t *row, size_t line, char *why,
                                        size_t whylen)
{
    tp_feed_op_t op;
    uint32_t rev;
    if (feed_parse_op(feed_row_value(row, FEED_COL_OP), &op, why, whylen) < 0)
        return NULL;
    for (size_t c = 0; c < FEED_NCOLS; c++) {
        if (!feed_blank(row->value[c]) && !(feed_cols[c].ops & FEED_OP_BIT(op))) {
            snprintf(why, whylen, "%s '%s' does not apply to op=%s", row->noun, feed_cols[c].name,
                     tp_feed_op_name(op));
            return NULL;
        }
    }
    if (feed_parse_revision(feed_row_value(row, FEED_COL_REVISION), op, &rev, why, whylen) < 0)
        return NULL;
    tp_feed_item_t *item = xcalloc(1, sizeof(*item));
    item->line = line;
    item->op = op;
    item->revision = rev;
    for (size_t c = 0; c < FEED_NCOLS; c++)
        if ((feed_cols[c].kind == FEED_COL_TEXT || feed_cols[c].kind == FEED_COL_DECIMAL) &&
            !feed_blank(row->value[c]))
            *feed_item_field(item, &feed_cols[c]) = xstrdup(row->value[c]);
    return item;
}

/* ==== reader ============================================================================ */

struct tp_feed {
    FILE *in;
    char *name;
    tp_feed_format_t format;
    char *buf; /* the current physical line, without its line ending */
    size_t cap;
    size_t len;
    size_t lineno; /* physical lines read so far */
    bool held;     /* buf holds a line read ahead by tp_feed_open */
    bool eof;
    size_t ncols;  /* CSV: header columns */
    int *col_of;   /* CSV: header column -> feed_cols index */
    char **fields; /* CSV: fields of the current line, pointing into buf */
    size_t fields_cap;
};

tp_feed_format_t tp_feed_format_from_name(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot == NULL || strchr(dot, '/') != NULL)
        return TP_FEED_AUTO;
    if (strcasecmp(dot, ".csv") == 0)
        return TP_FEED_CSV;
    if (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".ndjson") == 0)
        return TP_FEED_JSONL;
    return TP_FEED_AUTO;
}

tp_feed_format_t tp_feed_format(const tp_feed_t *f)
{
    return f->format;
}

static void feed_error(const tp_feed_t *f, size_t line, const char *why, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s:%zu: %s", f->name, line, why);
}

/* Next physical line into f->buf: 1, 0 at the end, -1 on a read error. Strips LF / CRLF
 * and, on line 1, a UTF-8 byte order mark. */
static int feed_read_line(tp_feed_t *f)
{
    if (f->held) {
        f->held = false;
        return 1;
    }
    if (f->eof)
        return 0;
    ssize_t n = getline(&f->buf, &f->cap, f->in);
    if (n < 0) {
        f->eof = true;
        return ferror(f->in) ? -1 : 0;
    }
    size_t len = (size_t)n;
    f->lineno++;
    if (len > 0 && f->buf[len - 1] == '\n')
        len--;
    if (len > 0 && f->buf[len - 1] == '\r')
        len--;
    f->buf[len] = '\0';
    if (f->lineno == 1 && len >= 3 && memcmp(f->buf, "\xEF\xBB\xBF", 3) == 0) {
        memmove(f->buf, f->buf + 3, len - 2);
        len -= 3;
    }
    f->len = len;
    return 1;
}

static bool feed_line_blank(const tp_feed_t *f)
{
    for (size_t i = 0; i < f->len; i++)
        if (f->buf[i] != ' ' && f->buf[i] != '\t')
            return false;
    return true;
}

/* Next non-blank line: 1, 0 at the end, -1 with err set (read error, NUL byte). */
static int feed_next_line(tp_feed_t *f, char *err, size_t errlen)
{
    for (;;) {
        int rc = feed_read_line(f);
        if (rc < 0) {
            feed_error(f, f->lineno + 1, strerror(errno), err, errlen);
            return -1;
        }
        if (rc == 0)
            return 0;
        if (memchr(f->buf, '\0', f->len) != NULL) {
            feed_error(f, f->lineno, "NUL byte in line", err, errlen);
            return -1;
        }
        if (!feed_line_blank(f))
            return 1;
    }
}

static void feed_push_field(tp_feed_t *f, size_t *n, char *field)
{
    if (*n == f->fields_cap) {
        f->fields_cap = f->fields_cap ? 2 * f->fields_cap : 16;
        f->fields = xrealloc(f->fields, f->fields_cap * sizeof(*f->fields));
    }
    f->fields[(*n)++] = field;
}

/* Split f->buf into f->fields in place (RFC 4180 quoting, "" for a quote inside quotes).
 * A record is one line: no field may contain a line break. */
static int feed_csv_split(tp_feed_t *f, size_t *nfields, char *why, size_t whylen)
{
    char *r = f->buf, *w = f->buf;
    size_t n = 0;
    for (;;) {
        char *start = w;
        if (*r == '"') {
            for (r++;; r++) {
                if (*r == '\0') {
                    snprintf(why, whylen, "unterminated quoted field in column %zu", n + 1);
                    return -1;
                }
                if (*r == '"' && r[1] != '"')
                    break;
                if (*r == '"')
                    r++;
                *w++ = *r;
            }
            r++;
            if (*r != ',' && *r != '\0') {
                snprintf(why, whylen, "text after the closing quote in column %zu", n + 1);
                return -1;
            }
        } else {
            for (; *r != ',' && *r != '\0'; r++) {
                if (*r == '"') {
                    snprintf(why, whylen, "quote inside an unquoted field in column %zu", n + 1);
                    return -1;
                }
                *w++ = *r;
            }
        }
        char sep = *r; /* w may equal r: read the separator before terminating the field */
        *w = '\0';
        feed_push_field(f, &n, start);
        if (sep == '\0')
            break;
        r++;
        w++;
    }
    *nfields = n;
    return 0;
}

static char *feed_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        s[--len] = '\0';
    return s;
}

static int feed_csv_header_column(tp_feed_t *f, size_t i, char *why, size_t whylen)
{
    const char *name = feed_trim(f->fields[i]);
    int c = feed_col_find(name);
    if (*name == '\0') {
        snprintf(why, whylen, "column %zu has no name", i + 1);
        return -1;
    }
    if (c < 0) {
        snprintf(why, whylen, "unknown column '%.64s' (column %zu)", name, i + 1);
        return -1;
    }
    for (size_t j = 0; j < i; j++) {
        if (f->col_of[j] == c) {
            snprintf(why, whylen, "column '%s' appears twice (columns %zu and %zu)",
                     feed_cols[c].name, j + 1, i + 1);
            return -1;
        }
    }
    f->col_of[i] = c;
    return 0;
}

/* f->buf holds the header line. */
static int feed_csv_header(tp_feed_t *f, char *why, size_t whylen)
{
    size_t n;
    bool has_ref = false;
    if (feed_csv_split(f, &n, why, whylen) < 0)
        return -1;
    f->ncols = n;
    f->col_of = xcalloc(n, sizeof(*f->col_of));
    for (size_t i = 0; i < n; i++) {
        if (feed_csv_header_column(f, i, why, whylen) < 0)
            return -1;
        has_ref |= strcmp(feed_cols[f->col_of[i]].name, "request_ref") == 0;
    }
    if (!has_ref) {
        snprintf(why, whylen, "the header has no request_ref column");
        return -1;
    }
    return 0;
}

tp_feed_t *tp_feed_open(FILE *in, const char *name, tp_feed_format_t format, char *err,
                        size_t errlen)
{
    tp_feed_t *f = xcalloc(1, sizeof(*f));
    char why[256];
    f->in = in;
    f->name = xstrdup(name);
    int rc = feed_next_line(f, err, errlen);
    if (rc < 0) {
        tp_feed_destroy(&f);
        return NULL;
    }
    if (format == TP_FEED_AUTO) {
        const char *p = f->buf;
        while (rc == 1 && (*p == ' ' || *p == '\t'))
            p++;
        format = rc == 1 && *p == '{' ? TP_FEED_JSONL : TP_FEED_CSV;
    }
    f->format = format;
    if (rc == 0 || format == TP_FEED_JSONL) {
        f->held = rc == 1;
        return f;
    }
    if (feed_csv_header(f, why, sizeof(why)) < 0) {
        feed_error(f, f->lineno, why, err, errlen);
        tp_feed_destroy(&f);
        return NULL;
    }
    return f;
}

static bool feed_fields_empty(const tp_feed_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (f->fields[i][0] != '\0')
            return false;
    return true;
}

/* 1 item, 0 skip (a row of empty fields), -1 error in why. */
static int feed_csv_item(tp_feed_t *f, tp_feed_item_t **item, char *why, size_t whylen)
{
    size_t n;
    feed_row_t row = {.noun = "column"};
    if (feed_csv_split(f, &n, why, whylen) < 0)
        return -1;
    if (feed_fields_empty(f, n))
        return 0;
    if (n != f->ncols) {
        snprintf(why, whylen, "%zu fields, the header has %zu", n, f->ncols);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        row.value[f->col_of[i]] = f->fields[i];
    *item = feed_row_to_item(&row, f->lineno, why, whylen);
    return *item ? 1 : -1;
}

static int feed_json_value(feed_row_t *row, int c, json_t *v, char *why, size_t whylen)
{
    const char *name = feed_cols[c].name;
    if (json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        row->value[c] = json_string_value(v);
        return 0;
    }
    if (feed_cols[c].kind == FEED_COL_REVISION && json_is_integer(v)) {
        json_int_t r = json_integer_value(v);
        if (r < 0 || r > (json_int_t)UINT32_MAX) {
            snprintf(why, whylen, "revision %lld is out of range", (long long)r);
            return -1;
        }
        snprintf(row->revision_buf, sizeof(row->revision_buf), "%lld", (long long)r);
        row->value[c] = row->revision_buf;
        return 0;
    }
    if (feed_cols[c].kind == FEED_COL_REVISION)
        snprintf(why, whylen, "revision must be an integer");
    else if (feed_cols[c].kind == FEED_COL_DECIMAL && json_is_number(v))
        snprintf(why, whylen, "%s must be a JSON string to stay exact", name);
    else
        snprintf(why, whylen, "%s must be a JSON string", name);
    return -1;
}

static int feed_json_item(tp_feed_t *f, tp_feed_item_t **item, char *why, size_t whylen)
{
    json_error_t jerr;
    feed_row_t row = {.noun = "key"};
    const char *key;
    json_t *v;
    json_t *obj = json_loadb(f->buf, f->len, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL) {
        snprintf(why, whylen, "bad JSON at column %d: %s", jerr.column, jerr.text);
        return -1;
    }
    *item = NULL;
    if (!json_is_object(obj))
        snprintf(why, whylen, "not a JSON object");
    else {
        json_object_foreach(obj, key, v)
        {
            int c = feed_col_find(key);
            if (c < 0) {
                snprintf(why, whylen, "unknown key '%.64s'", key);
                goto out;
            }
            if (feed_json_value(&row, c, v, why, whylen) < 0)
                goto out;
        }
        *item = feed_row_to_item(&row, f->lineno, why, whylen);
    }
out:
    json_decref(obj);
    return *item ? 1 : -1;
}

int tp_feed_next(tp_feed_t *f, tp_feed_item_t **item, char *err, size_t errlen)
{
    char why[512];
    *item = NULL;
    for (;;) {
        int rc = feed_next_line(f, err, errlen);
        if (rc <= 0)
            return rc;
        rc = f->format == TP_FEED_JSONL ? feed_json_item(f, item, why, sizeof(why))
                                        : feed_csv_item(f, item, why, sizeof(why));
        if (rc < 0)
            feed_error(f, f->lineno, why, err, errlen);
        if (rc != 0)
            return rc;
    }
}

void tp_feed_destroy(tp_feed_t **pf)
{
    tp_feed_t *f = pf ? *pf : NULL;
    if (f == NULL)
        return;
    free(f->name);
    free(f->buf);
    free(f->col_of);
    free(f->fields);
    free(f);
    *pf = NULL;
}

/* ==== report ============================================================================ */

static const char *const feed_result_names[TP_FEED_NRESULTS] = {
    "accepted", "duplicate", "stale", "rejected", "undelivered", "unreadable",
};

const char *tp_feed_result_name(tp_feed_result_t r)
{
    return r < TP_FEED_NRESULTS ? feed_result_names[r] : "retry_later";
}

void tp_feed_report_init(tp_feed_report_t *r)
{
    memset(r, 0, sizeof(*r));
}

void tp_feed_report_free(tp_feed_report_t *r)
{
    for (size_t i = 0; i < r->n_rejected_lines; i++)
        free(r->rejected[i]);
    for (size_t i = 0; i < r->n_unreadable_lines; i++)
        free(r->unreadable[i]);
    tp_feed_report_init(r);
}

/* Server text goes to a terminal: control characters become '?'. */
static char *feed_printable(const char *text)
{
    char *s = xstrdup(text);
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return s;
}

void tp_feed_report_unreadable(tp_feed_report_t *r, const char *msg)
{
    r->count[TP_FEED_UNREADABLE]++;
    if (r->n_unreadable_lines < TP_FEED_REPORT_LINES)
        r->unreadable[r->n_unreadable_lines++] = feed_printable(msg);
}

static void feed_report_rejected(tp_feed_report_t *r, const tp_feed_item_t *item,
                                 const tp_feed_ack_t *ack)
{
    char line[1024];
    r->count[TP_FEED_REJECTED]++;
    if (r->n_rejected_lines == TP_FEED_REPORT_LINES)
        return;
    snprintf(line, sizeof(line), "REJECTED %s %u %s %s",
             feed_blank(item->request_ref) ? "-" : item->request_ref, item->revision,
             feed_blank(ack->error_code) ? "-" : ack->error_code, ack->detail ? ack->detail : "");
    r->rejected[r->n_rejected_lines++] = feed_printable(line);
}

static void feed_report_lines(FILE *out, char *const *lines, size_t n, uint64_t total)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s\n", lines[i]);
    if (total > n)
        fprintf(out, "... %llu more\n", (unsigned long long)(total - n));
}

void tp_feed_report_print(const tp_feed_report_t *r, FILE *summary, FILE *details)
{
    feed_report_lines(details, r->unreadable, r->n_unreadable_lines, r->count[TP_FEED_UNREADABLE]);
    feed_report_lines(details, r->rejected, r->n_rejected_lines, r->count[TP_FEED_REJECTED]);
    fflush(details);
    for (int i = 0; i < TP_FEED_NRESULTS; i++)
        fprintf(summary, "%-12s %llu\n", feed_result_names[i], (unsigned long long)r->count[i]);
    fflush(summary);
}

int tp_feed_report_exit_code(const tp_feed_report_t *r)
{
    for (int i = 0; i < TP_FEED_NRESULTS; i++)
        if (i != TP_FEED_ACCEPTED && i != TP_FEED_DUPLICATE && r->count[i] > 0)
            return 1;
    return 0;
}

/* ==== outbox ============================================================================ */

/* Retry delays double per level up to backoff_max_ms; each level is a FIFO sorted by due
 * time because its delay is constant and time only moves forward. */
#define FEED_BACKOFF_LEVELS 16

typedef struct feed_queue {
    tp_feed_item_t *head;
    tp_feed_item_t *tail;
    size_t n;
} feed_queue_t;

typedef struct feed_batch {
    bool used;
    bool resend; /* timed out: to be sent again, same items, new id */
    uint64_t batch_id;
    int64_t sent_ms;
    size_t n;
    tp_feed_item_t **items;
} feed_batch_t;

struct tp_feed_outbox {
    tp_feed_outbox_opts_t o;
    feed_queue_t ready;
    feed_queue_t retry[FEED_BACKOFF_LEVELS];
    size_t n_levels;
    feed_batch_t *batches; /* o.window slots */
    size_t in_flight;      /* slots used, including those waiting for a resend */
    uint64_t next_id;
    tp_feed_report_t report;
};

static void feed_queue_push(feed_queue_t *q, tp_feed_item_t *item)
{
    item->next = NULL;
    if (q->tail)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
    q->n++;
}

static tp_feed_item_t *feed_queue_pop(feed_queue_t *q)
{
    tp_feed_item_t *item = q->head;
    if (item == NULL)
        return NULL;
    q->head = item->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->n--;
    item->next = NULL;
    return item;
}

static int64_t feed_backoff_ms(const tp_feed_outbox_t *ob, size_t level)
{
    int64_t d = ob->o.backoff_min_ms;
    for (size_t i = 0; i < level && d < ob->o.backoff_max_ms; i++)
        d *= 2;
    return d < ob->o.backoff_max_ms ? d : ob->o.backoff_max_ms;
}

tp_feed_outbox_t *tp_feed_outbox_new(const tp_feed_outbox_opts_t *opts)
{
    tp_feed_outbox_t *ob = xcalloc(1, sizeof(*ob));
    ob->o = *opts;
    if (ob->o.batch_items == 0)
        ob->o.batch_items = 1;
    if (ob->o.window == 0)
        ob->o.window = 1;
    if (ob->o.backoff_min_ms <= 0)
        ob->o.backoff_min_ms = 1;
    if (ob->o.backoff_max_ms < ob->o.backoff_min_ms)
        ob->o.backoff_max_ms = ob->o.backoff_min_ms;
    ob->n_levels = 1;
    while (ob->n_levels < FEED_BACKOFF_LEVELS &&
           feed_backoff_ms(ob, ob->n_levels - 1) < ob->o.backoff_max_ms)
        ob->n_levels++;
    ob->batches = xcalloc(ob->o.window, sizeof(*ob->batches));
    for (size_t i = 0; i < ob->o.window; i++)
        ob->batches[i].items = xcalloc(ob->o.batch_items, sizeof(tp_feed_item_t *));
    ob->next_id = opts->first_batch_id;
    tp_feed_report_init(&ob->report);
    return ob;
}

static void feed_queue_free(feed_queue_t *q, tp_feed_report_t *count_into)
{
    tp_feed_item_t *item;
    while ((item = feed_queue_pop(q)) != NULL) {
        if (count_into)
            count_into->count[TP_FEED_UNDELIVERED]++;
        tp_feed_item_destroy(&item);
    }
}

/* Frees (and, with count_into, counts as undelivered) every item the outbox holds. */
static void feed_outbox_drop_all(tp_feed_outbox_t *ob, tp_feed_report_t *count_into)
{
    feed_queue_free(&ob->ready, count_into);
    for (size_t l = 0; l < FEED_BACKOFF_LEVELS; l++)
        feed_queue_free(&ob->retry[l], count_into);
    for (size_t i = 0; i < ob->o.window; i++) {
        feed_batch_t *b = &ob->batches[i];
        for (size_t j = 0; b->used && j < b->n; j++) {
            if (count_into)
                count_into->count[TP_FEED_UNDELIVERED]++;
            tp_feed_item_destroy(&b->items[j]);
        }
        b->used = b->resend = false;
        b->n = 0;
    }
    ob->in_flight = 0;
}

void tp_feed_outbox_destroy(tp_feed_outbox_t **pob)
{
    tp_feed_outbox_t *ob = pob ? *pob : NULL;
    if (ob == NULL)
        return;
    feed_outbox_drop_all(ob, NULL);
    for (size_t i = 0; i < ob->o.window; i++)
        free(ob->batches[i].items);
    free(ob->batches);
    tp_feed_report_free(&ob->report);
    free(ob);
    *pob = NULL;
}

void tp_feed_outbox_add(tp_feed_outbox_t *ob, tp_feed_item_t *item)
{
    item->retries = 0;
    item->due_ms = 0;
    feed_queue_push(&ob->ready, item);
}

size_t tp_feed_outbox_ready(const tp_feed_outbox_t *ob)
{
    return ob->ready.n;
}

size_t tp_feed_outbox_in_flight(const tp_feed_outbox_t *ob)
{
    return ob->in_flight;
}

static uint64_t feed_outbox_new_id(tp_feed_outbox_t *ob)
{
    if (ob->next_id == 0) /* 0 is what an undecodable frame's ack carries */
        ob->next_id++;
    return ob->next_id++;
}

static feed_batch_t *feed_outbox_find(tp_feed_outbox_t *ob, bool used, bool resend)
{
    for (size_t i = 0; i < ob->o.window; i++)
        if (ob->batches[i].used == used && (!used || ob->batches[i].resend == resend))
            return &ob->batches[i];
    return NULL;
}

/* Moves the head of q into b while it fits the batch limits and is due. */
static void feed_batch_fill(const tp_feed_outbox_t *ob, feed_batch_t *b, size_t *bytes,
                            feed_queue_t *q, int64_t now_ms)
{
    while (q->head && q->head->due_ms <= now_ms && b->n < ob->o.batch_items) {
        if (ob->o.max_batch_bytes && b->n > 0 &&
            *bytes + q->head->wire_bytes > ob->o.max_batch_bytes)
            return;
        *bytes += q->head->wire_bytes;
        b->items[b->n++] = feed_queue_pop(q);
    }
}

size_t tp_feed_outbox_next_batch(tp_feed_outbox_t *ob, int64_t now_ms, uint64_t *batch_id,
                                 tp_feed_item_t *const **items)
{
    feed_batch_t *b = feed_outbox_find(ob, true, true);
    size_t bytes = 0;
    if (b == NULL) {
        b = feed_outbox_find(ob, false, false);
        if (b == NULL)
            return 0;
        b->n = 0;
        for (size_t l = 0; l < ob->n_levels; l++)
            feed_batch_fill(ob, b, &bytes, &ob->retry[l], now_ms);
        feed_batch_fill(ob, b, &bytes, &ob->ready, now_ms);
        if (b->n == 0)
            return 0;
        b->used = true;
        ob->in_flight++;
    }
    b->resend = false;
    b->batch_id = feed_outbox_new_id(ob);
    b->sent_ms = now_ms;
    *batch_id = b->batch_id;
    *items = b->items;
    return b->n;
}

static void feed_outbox_settle(tp_feed_outbox_t *ob, tp_feed_item_t *item, const tp_feed_ack_t *ack,
                               int64_t now_ms)
{
    switch (ack->result) {
    case TP_FEED_RETRY_LATER: {
        size_t level = item->retries < ob->n_levels ? item->retries : ob->n_levels - 1;
        item->retries++;
        item->due_ms = now_ms + feed_backoff_ms(ob, level);
        feed_queue_push(&ob->retry[level], item);
        return;
    }
    case TP_FEED_ACCEPTED:
    case TP_FEED_DUPLICATE:
    case TP_FEED_STALE:
        ob->report.count[ack->result]++;
        break;
    default: /* REJECTED, and anything a caller maps wrongly */
        feed_report_rejected(&ob->report, item, ack);
        break;
    }
    tp_feed_item_destroy(&item);
}

static bool feed_acks_fit(const feed_batch_t *b, const tp_feed_ack_t *acks, size_t n_acks)
{
    if (n_acks != b->n)
        return false;
    for (size_t i = 0; i < n_acks; i++)
        if (!feed_blank(acks[i].request_ref) &&
            (b->items[i]->request_ref == NULL ||
             strcmp(acks[i].request_ref, b->items[i]->request_ref) != 0))
            return false;
    return true;
}

int tp_feed_outbox_ack(tp_feed_outbox_t *ob, uint64_t batch_id, const tp_feed_ack_t *acks,
                       size_t n_acks, int64_t now_ms)
{
    feed_batch_t *b = NULL;
    for (size_t i = 0; batch_id != 0 && i < ob->o.window && b == NULL; i++)
        if (ob->batches[i].used && !ob->batches[i].resend && ob->batches[i].batch_id == batch_id)
            b = &ob->batches[i];
    if (b == NULL)
        return 1;
    bool whole = n_acks == 1 && b->n > 1 && acks[0].result == TP_FEED_REJECTED;
    if (!whole && !feed_acks_fit(b, acks, n_acks))
        return -1;
    for (size_t i = 0; i < b->n; i++)
        feed_outbox_settle(ob, b->items[i], whole ? &acks[0] : &acks[i], now_ms);
    b->used = false;
    b->n = 0;
    ob->in_flight--;
    return 0;
}

size_t tp_feed_outbox_expire(tp_feed_outbox_t *ob, int64_t now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < ob->o.window; i++) {
        feed_batch_t *b = &ob->batches[i];
        if (b->used && !b->resend && now_ms - b->sent_ms >= ob->o.timeout_ms) {
            b->resend = true;
            b->batch_id = 0; /* a late reply to the old id is ignored */
            n++;
        }
    }
    return n;
}

static int64_t feed_min_wait(int64_t best, int64_t due, int64_t now_ms)
{
    int64_t wait = due > now_ms ? due - now_ms : 0;
    return best < 0 || wait < best ? wait : best;
}

int64_t tp_feed_outbox_next_wakeup(const tp_feed_outbox_t *ob, int64_t now_ms)
{
    int64_t best = -1;
    for (size_t i = 0; i < ob->o.window; i++) {
        const feed_batch_t *b = &ob->batches[i];
        if (b->used)
            best = feed_min_wait(best, b->resend ? now_ms : b->sent_ms + ob->o.timeout_ms, now_ms);
    }
    if (ob->in_flight == ob->o.window)
        return best;
    if (ob->ready.n > 0)
        return 0;
    for (size_t l = 0; l < ob->n_levels; l++)
        if (ob->retry[l].head)
            best = feed_min_wait(best, ob->retry[l].head->due_ms, now_ms);
    return best;
}

bool tp_feed_outbox_done(const tp_feed_outbox_t *ob)
{
    if (ob->ready.n > 0 || ob->in_flight > 0)
        return false;
    for (size_t l = 0; l < FEED_BACKOFF_LEVELS; l++)
        if (ob->retry[l].n > 0)
            return false;
    return true;
}

void tp_feed_outbox_abandon(tp_feed_outbox_t *ob)
{
    feed_outbox_drop_all(ob, &ob->report);
}

tp_feed_report_t *tp_feed_outbox_report(tp_feed_outbox_t *ob)
{
    return &ob->report;
}
