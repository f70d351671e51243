/* `tenderpool cpv import`: parse the CPV CSV whole, upsert it in one transaction or not at all. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tp_cli.h"
#include "tp_cpv.h"
#include "tp_mem.h"
#include "tp_pg.h"

#define CSV_MAX_FIELDS 8

/* An RFC 4180 reader over an in-memory file: one record at a time, fields unescaped. */
typedef struct csv_reader {
    const char *p, *end;
    int line;        /* physical line of p, 1-based */
    int record_line; /* line the current record starts on */
    char *buf;       /* the current record's fields, each NUL-terminated */
    size_t len, cap;
    size_t field[CSV_MAX_FIELDS]; /* offsets into buf */
    int nfields;                  /* may exceed CSV_MAX_FIELDS: then only counted */
} csv_reader_t;

typedef struct cpv_row {
    char code[9];
    char *label;
    int line;
} cpv_row_t;

typedef struct cpv_import {
    const char *path;
    char *text; /* the whole file */
    size_t text_len;
    cpv_row_t *rows;
    size_t nrows;
    PGconn *pg;
    char err[2048];
} cpv_import_t;

static void cpv_usage(void)
{
    fprintf(stderr, "usage: tenderpool cpv import -c FILE CSV\n");
}

static void csv_putc(csv_reader_t *r, char ch)
{
    if (r->len + 1 >= r->cap)
        r->buf = xrealloc(r->buf, r->cap = r->cap ? r->cap * 2 : 256);
    r->buf[r->len++] = ch;
}

static bool at_line_end(const csv_reader_t *r)
{
    return r->p < r->end &&
           (*r->p == '\n' || (*r->p == '\r' && r->p + 1 < r->end && r->p[1] == '\n'));
}

/* Consumes "\n" or "\r\n". */
static void skip_line_end(csv_reader_t *r)
{
    r->p += *r->p == '\r' ? 2 : 1;
    r->line++;
}

static int csv_quoted_field(csv_reader_t *r, char *err, size_t errlen)
{
    int start_line = r->line;
    for (r->p++;; r->p++) {
        if (r->p >= r->end) {
            snprintf(err, errlen, "%d: quoted field never closed", start_line);
            return -1;
        }
        if (*r->p == '"') {
            if (r->p + 1 < r->end && r->p[1] == '"') {
                csv_putc(r, '"');
                r->p++;
                continue;
            }
            r->p++;
            break;
        }
        if (*r->p == '\0') {
            snprintf(err, errlen, "%d: NUL byte in a field", r->line);
            return -1;
        }
        if (*r->p == '\n')
            r->line++;
        csv_putc(r, *r->p);
    }
    if (r->p < r->end && *r->p != ',' && !at_line_end(r)) {
        snprintf(err, errlen, "%d: unexpected character after a closing quote", r->line);
        return -1;
    }
    return 0;
}

static int csv_plain_field(csv_reader_t *r, char *err, size_t errlen)
{
    for (; r->p < r->end && *r->p != ',' && !at_line_end(r); r->p++) {
        if (*r->p == '\0') {
            snprintf(err, errlen, "%d: NUL byte in a field", r->line);
            return -1;
        }
        if (*r->p == '"' || *r->p == '\r') {
            snprintf(err, errlen, "%d: %s inside an unquoted field", r->line,
                     *r->p == '"' ? "quote" : "carriage return");
            return -1;
        }
        csv_putc(r, *r->p);
    }
    return 0;
}

/* Next record: 1, 0 at end of input, -1 with "line N: ..." in err. Blank lines are skipped. */
static int csv_next(csv_reader_t *r, char *err, size_t errlen)
{
    while (at_line_end(r))
        skip_line_end(r);
    if (r->p >= r->end)
        return 0;
    r->record_line = r->line;
    r->len = 0;
    r->nfields = 0;
    for (;;) {
        if (r->nfields < CSV_MAX_FIELDS)
            r->field[r->nfields] = r->len;
        r->nfields++;
        int rc = r->p < r->end && *r->p == '"' ? csv_quoted_field(r, err, errlen)
                                               : csv_plain_field(r, err, errlen);
        if (rc < 0)
            return -1;
        csv_putc(r, '\0');
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end)
            skip_line_end(r);
        return 1;
    }
}

/* Trims ASCII blanks in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Well-formed UTF-8 without control characters (labels are one line of text). */
static bool label_text_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int more = *p < 0x80             ? 0
                   : (*p & 0xE0) == 0xC0 ? 1
                   : (*p & 0xF0) == 0xE0 ? 2
                   : (*p & 0xF8) == 0xF0 ? 3
                                         : -1;
        if (more < 0 || *p < 0x20 || *p == 0x7F || (more == 1 && *p < 0xC2))
            return false;
        for (p++; more > 0; more--, p++)
            if ((*p & 0xC0) != 0x80)
                return false;
    }
    return true;
}

static int cpv_check_header(cpv_import_t *im, csv_reader_t *r)
{
    char *a = r->nfields == 2 ? trim(r->buf + r->field[0]) : NULL;
    char *b = r->nfields == 2 ? trim(r->buf + r->field[1]) : NULL;
    if (a != NULL && strcasecmp(a, "code") == 0 && strcasecmp(b, "description") == 0)
        return 0;
    snprintf(im->err, sizeof(im->err), "%s:%d: expected the header \"code,description\"", im->path,
             r->record_line);
    return -1;
}

/* Validates one data record and appends it to im->rows. */
static int cpv_add_record(cpv_import_t *im, csv_reader_t *r)
{
    int line = r->record_line;
    if (r->nfields != 2) {
        snprintf(im->err, sizeof(im->err), "%s:%d: expected 2 fields (code,description), found %d",
                 im->path, line, r->nfields);
        return -1;
    }
    char *code = trim(r->buf + r->field[0]);
    char *label = trim(r->buf + r->field[1]);
    cpv_row_t row = {.line = line};
    if (!tp_cpv_parse(code, row.code)) {
        snprintf(im->err, sizeof(im->err),
                 "%s:%d: bad CPV code \"%.40s\" (want 8 digits, optionally -D)", im->path, line,
                 code);
        return -1;
    }
    if (*label == '\0' || !label_text_ok(label)) {
        snprintf(im->err, sizeof(im->err), "%s:%d: %s for code %s", im->path, line,
                 *label == '\0' ? "empty description" : "description is not one line of UTF-8 text",
                 row.code);
        return -1;
    }
    row.label = xstrdup(label);
    im->rows = xrealloc(im->rows, (im->nrows + 1) * sizeof(*im->rows));
    im->rows[im->nrows++] = row;
    return 0;
}

static int cpv_row_cmp(const void *a, const void *b)
{
    const cpv_row_t *x = a, *y = b;
    int c = strcmp(x->code, y->code);
    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/* One code twice would make the upsert touch a row twice; name both lines instead. */
static int cpv_check_duplicates(cpv_import_t *im)
{
    qsort(im->rows, im->nrows, sizeof(*im->rows), cpv_row_cmp);
    for (size_t i = 1; i < im->nrows; i++)
        if (strcmp(im->rows[i].code, im->rows[i - 1].code) == 0) {
            snprintf(im->err, sizeof(im->err), "%s:%d: duplicate code %s (first on line %d)",
                     im->path, im->rows[i].line, im->rows[i].code, im->rows[i - 1].line);
            return -1;
        }
    return 0;
}

static int cpv_read_file(cpv_import_t *im)
{
    FILE *f = fopen(im->path, "rb");
    if (f == NULL) {
        snprintf(im->err, sizeof(im->err), "cannot open %s: %s", im->path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16;
    im->text = xmalloc(cap);
    for (size_t got; (got = fread(im->text + im->text_len, 1, cap - im->text_len, f)) > 0;) {
        im->text_len += got;
        if (im->text_len == cap)
            im->text = xrealloc(im->text, cap *= 2);
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        snprintf(im->err, sizeof(im->err), "cannot read %s", im->path);
        return -1;
    }
    return 0;
}

/* Whole file -> im->rows, or -1 naming the first bad line. */
static int cpv_parse(cpv_import_t *im)
{
    csv_reader_t r = {.p = im->text, .end = im->text + im->text_len, .line = 1};
    if (im->text_len >= 3 && memcmp(im->text, "\xEF\xBB\xBF", 3) == 0)
        r.p += 3; /* UTF-8 byte order mark */
    char err[256];
    int rc, records = 0;
    while ((rc = csv_next(&r, err, sizeof(err))) > 0) {
        if (records++ == 0 ? cpv_check_header(im, &r) < 0 : cpv_add_record(im, &r) < 0)
            break;
    }
    free(r.buf);
    if (rc < 0)
        snprintf(im->err, sizeof(im->err), "%s:%s", im->path, err);
    if (rc != 0)
        return -1;
    if (im->nrows == 0) {
        snprintf(im->err, sizeof(im->err), "%s: no CPV codes in the file", im->path);
        return -1;
    }
    return cpv_check_duplicates(im);
}

/* A growable byte buffer for the COPY stream. */
typedef struct copy_buf {
    char *data;
    size_t len, cap;
} copy_buf_t;

static void copy_putc(copy_buf_t *b, char ch)
{
    if (b->len + 1 >= b->cap)
        b->data = xrealloc(b->data, b->cap = b->cap ? b->cap * 2 : 1 << 16);
    b->data[b->len++] = ch;
}

/* One COPY text-format value: backslash, tab, newline and carriage return escaped. */
static void copy_put_value(copy_buf_t *b, const char *s)
{
    for (; *s; s++) {
        const char *esc = *s == '\\'   ? "\\\\"
                          : *s == '\t' ? "\\t"
                          : *s == '\n' ? "\\n"
                          : *s == '\r' ? "\\r"
                                       : NULL;
        if (esc == NULL) {
            copy_putc(b, *s);
        } else {
            copy_putc(b, esc[0]);
            copy_putc(b, esc[1]);
        }
    }
}

static int cpv_copy_rows(cpv_import_t *im)
{
    PGresult *r = PQexec(im->pg, "COPY tp_cpv_in (code, label) FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        tp_pg_error(r, im->pg, "copy into tp_cpv_in", im->err, sizeof(im->err));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    copy_buf_t b = {0};
    for (size_t i = 0; i < im->nrows; i++) {
        copy_put_value(&b, im->rows[i].code);
        copy_putc(&b, '\t');
        copy_put_value(&b, im->rows[i].label);
        copy_putc(&b, '\n');
    }
    int ok = PQputCopyData(im->pg, b.data, (int)b.len) == 1 && PQputCopyEnd(im->pg, NULL) == 1;
    free(b.data);
    r = PQgetResult(im->pg);
    int rc = ok && PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc < 0)
        tp_pg_error(r, im->pg, "copy into tp_cpv_in", im->err, sizeof(im->err));
    PQclear(r);
    while ((r = PQgetResult(im->pg)) != NULL)
        PQclear(r);
    return rc;
}

static int cpv_store(cpv_import_t *im, const tp_config_t *cfg)
{
    /* Reference data is the operator's: the schema owner's connection (owner_dsn, defaulting
     * to dsn), since the daemon's role may only read tenderpool.cpv_code. */
    const char *dsn = cfg->owner_dsn[0] ? cfg->owner_dsn : cfg->dsn;
    char *e = im->err;
    size_t el = sizeof(im->err);
    if ((im->pg = tp_pg_connect(dsn, e, el)) == NULL)
        return -1;
    if (PQsetClientEncoding(im->pg, "UTF8") != 0) {
        snprintf(e, el, "cannot set client encoding UTF8: %s", PQerrorMessage(im->pg));
        return -1;
    }
    if (tp_pg_exec(im->pg, "begin", e, el, "BEGIN", 0, NULL) < 0 ||
        tp_pg_exec(im->pg, "create tp_cpv_in", e, el,
                   "CREATE TEMP TABLE tp_cpv_in (code char(8) NOT NULL, label text NOT NULL)"
                   " ON COMMIT DROP",
                   0, NULL) < 0 ||
        cpv_copy_rows(im) < 0 ||
        tp_pg_exec(im->pg, "upsert tenderpool.cpv_code", e, el,
                   "INSERT INTO tenderpool.cpv_code AS t (code, label)"
                   " SELECT code, label FROM tp_cpv_in"
                   " ON CONFLICT (code) DO UPDATE SET label = EXCLUDED.label"
                   " WHERE t.label IS DISTINCT FROM EXCLUDED.label",
                   0, NULL) < 0 ||
        tp_pg_exec(im->pg, "commit", e, el, "COMMIT", 0, NULL) < 0) {
        if (strstr(e, " 42P01 ") != NULL) /* undefined_table */
            strncat(e, " (run tenderpool migrate first)", el - strlen(e) - 1);
        return -1;
    }
    return 0;
}

static void cpv_import_clear(cpv_import_t *im)
{
    for (size_t i = 0; i < im->nrows; i++)
        free(im->rows[i].label);
    free(im->rows);
    free(im->text);
    if (im->pg != NULL)
        PQfinish(im->pg);
}

/* "import" then -c FILE and exactly one CSV path. 0, or -1 on a usage error. */
static int cpv_parse_args(int argc, char **argv, const char **csv)
{
    if (argc < 2 || strcmp(argv[1], "import") != 0)
        return -1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc)
            i++;
        else if (strncmp(a, "--config=", 9) == 0)
            continue;
        else if (a[0] == '-' || *csv != NULL)
            return -1;
        else
            *csv = a;
    }
    return *csv == NULL ? -1 : 0;
}

int tp_cmd_cpv(int argc, char **argv)
{
    const char *csv = NULL;
    tp_config_t cfg;
    if (cpv_parse_args(argc, argv, &csv) < 0 || tp_cli_load_config(argc, argv, &cfg) < 0) {
        cpv_usage();
        return 2;
    }
    cpv_import_t im = {.path = csv};
    int rc = 0;
    if (cpv_read_file(&im) < 0 || cpv_parse(&im) < 0 || cpv_store(&im, &cfg) < 0) {
        fprintf(stderr, "tenderpool: cpv import: %s\n", im.err);
        rc = 1;
    } else {
        printf("imported %zu CPV codes\n", im.nrows);
    }
    cpv_import_clear(&im);
    return rc;
}
