/* The CLI's result printer: libpq rows as aligned tables or JSON. It prints values from
 * PostgreSQL's text as they are (never through a double) and must not run queries. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tp_output.h"

/* Type OIDs of pg_type (stable across PostgreSQL versions; libpq does not export them). */
#define TP_OID_BOOL 16
#define TP_OID_INT8 20
#define TP_OID_INT2 21
#define TP_OID_INT4 23
#define TP_OID_NUMERIC 1700

#define COL_SEP "  "

typedef enum col_kind { COL_TEXT, COL_NUMBER, COL_BOOL } col_kind_t;

static col_kind_t col_kind(const PGresult *r, int col)
{
    switch (PQftype(r, col)) {
    case TP_OID_INT2:
    case TP_OID_INT4:
    case TP_OID_INT8:
    case TP_OID_NUMERIC:
        return COL_NUMBER;
    case TP_OID_BOOL:
        return COL_BOOL;
    default:
        return COL_TEXT;
    }
}

/* The final check of every printer: everything reached f. */
static int out_status(FILE *f)
{
    return fflush(f) != 0 || ferror(f) ? -1 : 0;
}

/* ---- text: cells are shown with control characters escaped (member data must not drive the
 * operator's terminal), widths counted in UTF-8 code points ---- */

/* The escape shown for byte s[0] (and s[1] for a C1 control), "" when shown as is;
 * *len receives how many bytes it stands for. */
static const char *cell_escape(const unsigned char *s, char buf[8], size_t *len)
{
    *len = 1;
    if (s[0] == '\n')
        return "\\n";
    if (s[0] == '\t')
        return "\\t";
    if (s[0] == '\r')
        return "\\r";
    if (s[0] < 0x20 || s[0] == 0x7f) {
        snprintf(buf, 8, "\\x%02x", s[0]);
        return buf;
    }
    if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) { /* U+0080..U+009F */
        *len = 2;
        snprintf(buf, 8, "\\u%04x", s[1]);
        return buf;
    }
    return "";
}

/* What a cell shows: "-" for NULL, true/false for a bool, else its text. */
static const char *cell_text(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return "-";
    const char *v = PQgetvalue(r, row, col);
    if (col_kind(r, col) == COL_BOOL && (strcmp(v, "t") == 0 || strcmp(v, "f") == 0))
        return v[0] == 't' ? "true" : "false";
    return v;
}

static size_t text_width(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t w = 0, len;
    char buf[8];
    while (*s) {
        const char *esc = cell_escape(s, buf, &len);
        if (*esc)
            w += strlen(esc);
        else if ((*s & 0xc0) != 0x80)
            w++;
        s += len;
    }
    return w;
}

static void put_text(FILE *f, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t len;
    char buf[8];
    while (*s) {
        const char *esc = cell_escape(s, buf, &len);
        if (*esc)
            fputs(esc, f);
        else
            fputc(*s, f);
        s += len;
    }
}

static void put_spaces(FILE *f, size_t n)
{
    while (n-- > 0)
        fputc(' ', f);
}

/* One cell padded to width; the last column of a line is not padded on the right. */
static void put_cell(FILE *f, const char *text, size_t width, bool right, bool last)
{
    size_t pad = width - text_width(text);
    if (right)
        put_spaces(f, pad);
    put_text(f, text);
    if (!right && !last)
        put_spaces(f, pad);
}

static size_t col_width(const PGresult *r, int col)
{
    size_t w = text_width(PQfname(r, col));
    for (int row = 0; row < PQntuples(r); row++) {
        size_t cw = text_width(cell_text(r, row, col));
        if (cw > w)
            w = cw;
    }
    return w;
}

static void table_header(const PGresult *r, const size_t *widths, FILE *f)
{
    int ncols = PQnfields(r);
    for (int col = 0; col < ncols; col++) {
        fputs(col > 0 ? COL_SEP : "", f);
        put_cell(f, PQfname(r, col), widths[col], col_kind(r, col) == COL_NUMBER, col == ncols - 1);
    }
    fputc('\n', f);
    for (int col = 0; col < ncols; col++) {
        fputs(col > 0 ? COL_SEP : "", f);
        for (size_t i = 0; i < widths[col]; i++)
            fputc('-', f);
    }
    fputc('\n', f);
}

static void table_row(const PGresult *r, int row, const size_t *widths, FILE *f)
{
    int ncols = PQnfields(r);
    for (int col = 0; col < ncols; col++) {
        fputs(col > 0 ? COL_SEP : "", f);
        put_cell(f, cell_text(r, row, col), widths[col], col_kind(r, col) == COL_NUMBER,
                 col == ncols - 1);
    }
    fputc('\n', f);
}

static void table(const PGresult *r, FILE *f)
{
    int ncols = PQnfields(r);
    if (PQntuples(r) == 0 || ncols == 0) {
        fputs("(no rows)\n", f);
        return;
    }
    size_t widths[ncols];
    for (int col = 0; col < ncols; col++)
        widths[col] = col_width(r, col);
    table_header(r, widths, f);
    for (int row = 0; row < PQntuples(r); row++)
        table_row(r, row, widths, f);
}

static void record(const PGresult *r, int row, FILE *f)
{
    size_t w = 0;
    for (int col = 0; col < PQnfields(r); col++)
        if (text_width(PQfname(r, col)) > w)
            w = text_width(PQfname(r, col));
    for (int col = 0; col < PQnfields(r); col++) {
        put_text(f, PQfname(r, col));
        fputc(':', f);
        put_spaces(f, w - text_width(PQfname(r, col)) + 1);
        put_text(f, cell_text(r, row, col));
        fputc('\n', f);
    }
}

/* ---- JSON ---- */

/* RFC 8259 number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? ("NaN" and "Infinity",
 * which numeric can hold, are not numbers in JSON). */
static bool is_json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        s += strspn(s, "0123456789");
    else
        return false;
    if (*s == '.') {
        size_t n = strspn(++s, "0123456789");
        if (n == 0)
            return false;
        s += n;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        size_t n = strspn(s, "0123456789");
        if (n == 0)
            return false;
        s += n;
    }
    return *s == '\0';
}

/* A JSON string; the text is UTF-8 (the session's client_encoding), passed through as is
 * except for the characters JSON requires escaped. */
static void json_string(const char *text, FILE *f)
{
    fputc('"', f);
    for (const unsigned char *s = (const unsigned char *)text; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
            fputc(*s, f);
        } else if (*s == '\n') {
            fputs("\\n", f);
        } else if (*s == '\t') {
            fputs("\\t", f);
        } else if (*s == '\r') {
            fputs("\\r", f);
        } else if (*s < 0x20) {
            fprintf(f, "\\u%04x", *s);
        } else {
            fputc(*s, f);
        }
    }
    fputc('"', f);
}

static void json_value(const PGresult *r, int row, int col, FILE *f)
{
    if (PQgetisnull(r, row, col)) {
        fputs("null", f);
        return;
    }
    const char *v = PQgetvalue(r, row, col);
    col_kind_t kind = col_kind(r, col);
    if (kind == COL_NUMBER && is_json_number(v))
        fputs(v, f);
    else if (kind == COL_BOOL && (strcmp(v, "t") == 0 || strcmp(v, "f") == 0))
        fputs(v[0] == 't' ? "true" : "false", f);
    else
        json_string(v, f);
}

/* The members of row's object, "name":value joined by commas, without the braces. */
static void json_members(const PGresult *r, int row, FILE *f)
{
    for (int col = 0; col < PQnfields(r); col++) {
        if (col > 0)
            fputc(',', f);
        json_string(PQfname(r, col), f);
        fputc(':', f);
        json_value(r, row, col, f);
    }
}

/* An array of row objects, one per line; no trailing newline. */
static void json_array(const PGresult *r, FILE *f)
{
    if (PQntuples(r) == 0) {
        fputs("[]", f);
        return;
    }
    fputs("[\n", f);
    for (int row = 0; row < PQntuples(r); row++) {
        fputs("  {", f);
        json_members(r, row, f);
        fputs(row + 1 < PQntuples(r) ? "},\n" : "}\n", f);
    }
    fputc(']', f);
}

/* ---- the API ---- */

int tp_out_rows(const PGresult *r, bool json, FILE *f)
{
    if (json) {
        json_array(r, f);
        fputc('\n', f);
    } else {
        table(r, f);
    }
    return out_status(f);
}

int tp_out_record(const PGresult *r, int row, bool json, FILE *f)
{
    if (row < 0 || row >= PQntuples(r))
        return -1;
    if (json) {
        fputc('{', f);
        json_members(r, row, f);
        fputs("}\n", f);
    } else {
        record(r, row, f);
    }
    return out_status(f);
}

int tp_out_record_with_rows(const PGresult *r, int row, const char *key, const PGresult *sub,
                            bool json, FILE *f)
{
    if (row < 0 || row >= PQntuples(r))
        return -1;
    if (json) {
        fputc('{', f);
        json_members(r, row, f);
        fputs(PQnfields(r) > 0 ? "," : "", f);
        json_string(key, f);
        fputc(':', f);
        json_array(sub, f);
        fputs("}\n", f);
    } else {
        record(r, row, f);
        fputs("\n", f);
        put_text(f, key);
        fputs(":\n", f);
        table(sub, f);
    }
    return out_status(f);
}
