/* Unit tests for cli/feed.c: CSV / JSON-lines parsing and the outbox's delivery bookkeeping. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* feed.c belongs to the CLI binary, not to the shared library the tests link: compile it in. */
#include "tp_feed.h"
#include "tp_mem.h"

/* ---- helpers ------------------------------------------------------------------------------ */

typedef struct reader {
    FILE *in;
    tp_feed_t *feed;
    char err[768];
} reader_t;

static void reader_open(reader_t *r, const char *text, const char *name, tp_feed_format_t fmt)
{
    memset(r, 0, sizeof(*r));
    r->in = fmemopen((void *)text, strlen(text), "r");
    cr_assert_not_null(r->in);
    r->feed = tp_feed_open(r->in, name, fmt, r->err, sizeof(r->err));
}

static void reader_close(reader_t *r)
{
    tp_feed_destroy(&r->feed);
    cr_assert_null(r->feed);
    fclose(r->in);
}

/* Next item, asserting that one is there. */
static tp_feed_item_t *next_ok(reader_t *r)
{
    tp_feed_item_t *item = NULL;
    int rc = tp_feed_next(r->feed, &item, r->err, sizeof(r->err));
    cr_assert_eq(rc, 1, "expected an item, got %d (%s)", rc, rc < 0 ? r->err : "end");
    return item;
}

/* Next line, asserting it is unreadable with a message containing `want`. */
static void next_bad(reader_t *r, const char *want)
{
    tp_feed_item_t *item = NULL;
    int rc = tp_feed_next(r->feed, &item, r->err, sizeof(r->err));
    cr_assert_eq(rc, -1, "expected an unreadable line containing '%s'", want);
    cr_assert_null(item);
    cr_assert(strstr(r->err, want) != NULL, "error '%s' lacks '%s'", r->err, want);
}

static void next_end(reader_t *r)
{
    tp_feed_item_t *item = NULL;
    cr_assert_eq(tp_feed_next(r->feed, &item, r->err, sizeof(r->err)), 0);
}

#define HDR                                                                                        \
    "op,request_ref,revision,cpv,item_key,description,quantity,unit,need_by,delivery_zone,"        \
    "currency,max_unit_price,reason\n"

/* ---- CSV ---------------------------------------------------------------------------------- */

Test(feed_csv, full_row_keeps_text_exactly)
{
    reader_t r;
    reader_open(&r,
                HDR "submit,PO-1,1,03111000,GTIN:123,Seeds,12.50,KGM,2027-01-15,FRK24,EUR,"
                    "3.000,\n",
                "f.csv", TP_FEED_AUTO);
    cr_assert_not_null(r.feed, "%s", r.err);
    cr_assert_eq(tp_feed_format(r.feed), TP_FEED_CSV);
    tp_feed_item_t *it = next_ok(&r);
    cr_assert_eq(it->line, 2);
    cr_assert_eq(it->op, TP_FEED_SUBMIT);
    cr_assert_eq(it->revision, 1);
    cr_assert_str_eq(it->request_ref, "PO-1");
    cr_assert_str_eq(it->cpv, "03111000");
    cr_assert_str_eq(it->item_key, "GTIN:123");
    cr_assert_str_eq(it->description, "Seeds");
    cr_assert_str_eq(it->quantity, "12.50");
    cr_assert_str_eq(it->unit, "KGM");
    cr_assert_str_eq(it->need_by, "2027-01-15");
    cr_assert_str_eq(it->delivery_zone, "FRK24");
    cr_assert_str_eq(it->currency, "EUR");
    cr_assert_str_eq(it->max_unit_price, "3.000");
    cr_assert_null(it->reason);
    tp_feed_item_destroy(&it);
    cr_assert_null(it);
    next_end(&r);
    reader_close(&r);
}

Test(feed_csv, quoted_fields_with_commas_and_doubled_quotes)
{
    reader_t r;
    reader_open(&r,
                "request_ref,description,quantity\n"
                "A1,\"Paper, A4 \"\"premium\"\", 80g\",\"5\"\n"
                "A2,\"\",\"\"\"\"\n",
                "f.csv", TP_FEED_CSV);
    cr_assert_not_null(r.feed, "%s", r.err);
    tp_feed_item_t *it = next_ok(&r);
    cr_assert_str_eq(it->description, "Paper, A4 \"premium\", 80g");
    cr_assert_str_eq(it->quantity, "5");
    tp_feed_item_destroy(&it);
    it = next_ok(&r);
    cr_assert_str_eq(it->request_ref, "A2");
    cr_assert_null(it->description, "an empty quoted field is absent");
    cr_assert_str_eq(it->quantity, "\"");
    tp_feed_item_destroy(&it);
    next_end(&r);
    reader_close(&r);
}

Test(feed_csv, crlf_line_endings_and_bom)
{
    reader_t r;
    reader_open(&r, "\xEF\xBB\xBFrequest_ref,unit\r\nR1,KGM\r\n\r\nR2,\"LTR\"\r\n", "x.txt",
                TP_FEED_AUTO);
    cr_assert_not_null(r.feed, "%s", r.err);
    tp_feed_item_t *it = next_ok(&r);
    cr_assert_str_eq(it->request_ref, "R1");
    cr_assert_str_eq(it->unit, "KGM", "no \\r may stay in the last field");
    tp_feed_item_destroy(&it);
    it = next_ok(&r);
    cr_assert_str_eq(it->unit, "LTR");
    cr_assert_eq(it->line, 4, "blank lines still count for line numbers");
    tp_feed_item_destroy(&it);
    next_end(&r);
    reader_close(&r);
}

Test(feed_csv, missing_field_is_unreadable_and_reading_goes_on)
{
    reader_t r;
    reader_open(&r, "request_ref,quantity,unit\nR1,5\nR2,6,KGM\nR3,1,KGM,extra\n", "f.csv",
                TP_FEED_CSV);
    cr_assert_not_null(r.feed, "%s", r.err);
    next_bad(&r, "f.csv:2: 2 fields, the header has 3");
    tp_feed_item_t *it = next_ok(&r);
    cr_assert_str_eq(it->request_ref, "R2");
    tp_feed_item_destroy(&it);
    next_bad(&r, "f.csv:4: 4 fields");
    next_end(&r);
    reader_close(&r);
}

Test(feed_csv, absent_column_leaves_field_empty)
{
    reader_t r;
    reader_open(&r, "request_ref,quantity\nR1,5\n", "f.csv", TP_FEED_CSV);
    cr_assert_not_null(r.feed, "%s", r.err);
    tp_feed_item_t *it = next_ok(&r);
    cr_assert_null(it->unit);
    cr_assert_null(it->cpv);
    cr_assert_eq(it->revision, 1);
    tp_feed_item_destroy(&it);
    reader_close(&r);
}

Test(feed_csv, unknown_column_names_line_and_column)
{
    reader_t r;
    reader_open(&r, "request_ref,qty,unit\nR1,5,KGM\n", "f.csv", TP_FEED_CSV);
    cr_assert_null(r.feed);
    cr_assert_str_eq(r.err, "f.csv:1: unknown column 'qty' (column 2)");
    fclose(r.in);
}

Test(feed_csv, header_errors)
{
    reader_t r;
    reader_open(&r, "quantity,unit\n5,KGM\n", "f.csv", TP_FEED_CSV);
    cr_assert_null(r.feed);
    cr_assert(strstr(r.err, "no request_ref column") != NULL, "%s", r.err);
    fclose(r.in);
    reader_open(&r, "request_ref,unit,UNIT\n", "f.csv", TP_FEED_CSV);
    cr_assert_null(r.feed);
    cr_assert(strstr(r.err, "appears twice (columns 2 and 3)") != NULL, "%s", r.err);
    fclose(r.in);
}

Test(feed_csv, header_names_trimmed_and_case_insensitive)
{
    reader_t r;
    reader_open(&r, " Request_Ref , Quantity\nR1,2\n", "f.csv", TP_FEED_CSV);
    cr_assert_not_null(r.feed, "%s", r.err);
    tp_feed_item_t *it = next_ok(&r);
    cr_assert_str_eq(it->quantity, "2");
    tp_feed_item_destroy(&it);
    reader_close(&r);
}

Test(feed_csv, broken_quoting_is_unreadable)
{
    reader_t r;
    reader_open(&r,
                "request_ref,description\n"
                "R1,\"open\n"
                "R2,\"closed\"x\n"
                "R3,a\"b\n"
                "R4,ok\n",
                "f.csv", TP_FEED_CSV);
    cr_assert_not_null(r.feed, "%s", r.err);
    next_bad(&r, ":2: unterminated quoted field in column 2");
    next_bad(&r, ":3: text after the closing quote in column 2");
    next_bad(&r, ":4: quote inside an unquoted field in column 2");
    tp_feed_item_t *it = next_ok(&r);
    cr_assert_str_eq(it->request_ref, "R4");
    tp_feed_item_destroy(&it);
    reader_close(&r);
}

Test(feed_csv, revision_must_be_a_number)
{
    reader_t r;
    reader_open(&r,
                "op,request_ref,revision\n"
                "amend,R1,two\n"
                "amend,R1,4294967296\n"
                "amend,R1,\n"
                "amend,R1,4294967295\n"
                "delete,R1,3\n",
                "f.csv", TP_FEED_CSV);
    cr_assert_not_null(r.feed, "%s", r.err);
    next_bad(&r, ":2: revision 'two' is not a number");
    next_bad(&r, ":3: revision '4294967296' is not a number");
    next_bad(&r, ":4: revision is required for op=amend");
    tp_feed_item_t *it = next_ok(&r);
    cr_assert_eq(it->op, TP_FEED_AMEND);
    cr_assert_eq(it->revision, 4294967295u);
    tp_feed_item_destroy(&it);
    next_bad(&r, ":6: unknown op 'delete'");
    next_end(&r);
    reader_close(&r);
}

Test(feed_csv, cancel_rows)
{
    reader_t r;
    reader_open(&r,
                HDR "cancel,PO-1,2,,,,,,,,,,\"no longer needed, sorry\"\n"
                    "CANCEL,PO-2,3,03111000,,,,,,,,,\n"
                    "submit,PO-3,,,,,,,,,,,why\n"
                    "cancel,PO-4,,,,,,,,,,,\n",
                "f.csv", TP_FEED_CSV);
    cr_assert_not_null(r.feed, "%s", r.err);
    tp_feed_item_t *it = next_ok(&r);
    cr_assert_eq(it->op, TP_FEED_CANCEL);
    cr_assert_str_eq(it->request_ref, "PO-1");
    cr_assert_eq(it->revision, 2);
    cr_assert_str_eq(it->reason, "no longer needed, sorry");
    cr_assert_null(it->cpv);
    tp_feed_item_destroy(&it);
    next_bad(&r, ":3: column 'cpv' does not apply to op=cancel");
    next_bad(&r, ":4: column 'reason' does not apply to op=submit");
    next_bad(&r, ":5: revision is required for op=cancel");
    next_end(&r);
    reader_close(&r);
}

Test(feed_csv, rows_of_empty_fields_are_skipped)
{
    reader_t r;
    reader_open(&r, "request_ref,unit\n,\n  \nR1,KGM\n", "f.csv", TP_FEED_CSV);
    cr_assert_not_null(r.feed, "%s", r.err);
    tp_feed_item_t *it = next_ok(&r);
    cr_assert_str_eq(it->request_ref, "R1");
    tp_feed_item_destroy(&it);
    next_end(&r);
    reader_close(&r);
}

Test(feed_csv, empty_feed)
{
    reader_t r;
    reader_open(&r, "", "f.csv", TP_FEED_AUTO);
    cr_assert_not_null(r.feed, "%s", r.err);
    next_end(&r);
    reader_close(&r);
}

/* ---- JSON lines --------------------------------------------------------------------------- */

Test(feed_jsonl, objects_by_content_detection)
{
    reader_t r;
    reader_open(&r,
                "  {\"request_ref\":\"J1\",\"cpv\":\"03111000-2\",\"quantity\":\"0.125\","
                "\"unit\":\"TNE\",\"max_unit_price\":\"1200\",\"revision\":1}\r\n"
                "\n"
                "{\"op\":\"amend\",\"request_ref\":\"J1\",\"revision\":\"2\",\"quantity\":\"1\","
                "\"description\":null}\n",
                "-", TP_FEED_AUTO);
    cr_assert_not_null(r.feed, "%s", r.err);
    cr_assert_eq(tp_feed_format(r.feed), TP_FEED_JSONL);
    tp_feed_item_t *it = next_ok(&r);
    cr_assert_eq(it->line, 1);
    cr_assert_str_eq(it->cpv, "03111000-2");
    cr_assert_str_eq(it->quantity, "0.125");
    cr_assert_str_eq(it->max_unit_price, "1200");
    cr_assert_eq(it->revision, 1);
    tp_feed_item_destroy(&it);
    it = next_ok(&r);
    cr_assert_eq(it->line, 3);
    cr_assert_eq(it->op, TP_FEED_AMEND);
    cr_assert_eq(it->revision, 2);
    cr_assert_null(it->description, "null means absent");
    tp_feed_item_destroy(&it);
    next_end(&r);
    reader_close(&r);
}

Test(feed_jsonl, bad_json_line_does_not_stop_the_next)
{
    reader_t r;
    reader_open(&r,
                "{\"request_ref\":\"J1\"}\n"
                "{\"request_ref\":\"J2\",\n"
                "[1,2]\n"
                "{\"request_ref\":\"J3\",\"request_ref\":\"J4\"}\n"
                "{\"request_ref\":\"J5\"} trailing\n"
                "{\"request_ref\":\"J6\"}\n",
                "f.jsonl", TP_FEED_AUTO);
    cr_assert_not_null(r.feed, "%s", r.err);
    tp_feed_item_t *it = next_ok(&r);
    tp_feed_item_destroy(&it);
    next_bad(&r, "f.jsonl:2: bad JSON");
    next_bad(&r, "f.jsonl:3: not a JSON object");
    next_bad(&r, "f.jsonl:4: bad JSON");
    next_bad(&r, "f.jsonl:5: bad JSON");
    it = next_ok(&r);
    cr_assert_str_eq(it->request_ref, "J6");
    tp_feed_item_destroy(&it);
    next_end(&r);
    reader_close(&r);
}

Test(feed_jsonl, unknown_key_names_line_and_key)
{
    reader_t r;
    reader_open(&r, "{\"request_ref\":\"J1\",\"qty\":\"5\"}\n{\"request_ref\":\"J2\"}\n",
                "f.ndjson", TP_FEED_JSONL);
    cr_assert_not_null(r.feed, "%s", r.err);
    next_bad(&r, "f.ndjson:1: unknown key 'qty'");
    tp_feed_item_t *it = next_ok(&r);
    cr_assert_str_eq(it->request_ref, "J2");
    tp_feed_item_destroy(&it);
    reader_close(&r);
}

Test(feed_jsonl, numbers_for_quantity_and_price_are_refused)
{
    reader_t r;
    reader_open(&r,
                "{\"request_ref\":\"J1\",\"quantity\":12.5}\n"
                "{\"request_ref\":\"J2\",\"max_unit_price\":3}\n"
                "{\"request_ref\":\"J3\",\"quantity\":\"12.50\"}\n"
                "{\"request_ref\":\"J4\",\"unit\":5}\n"
                "{\"request_ref\":\"J5\",\"revision\":1.0}\n"
                "{\"request_ref\":\"J6\",\"revision\":-1}\n"
                "{\"request_ref\":\"J7\",\"cpv\":[\"x\"]}\n",
                "f.jsonl", TP_FEED_AUTO);
    cr_assert_not_null(r.feed, "%s", r.err);
    next_bad(&r, ":1: quantity must be a JSON string to stay exact");
    next_bad(&r, ":2: max_unit_price must be a JSON string to stay exact");
    tp_feed_item_t *it = next_ok(&r);
    cr_assert_str_eq(it->quantity, "12.50", "string quantities keep their exact text");
    tp_feed_item_destroy(&it);
    next_bad(&r, ":4: unit must be a JSON string");
    next_bad(&r, ":5: revision must be an integer");
    next_bad(&r, ":6: revision -1 is out of range");
    next_bad(&r, ":7: cpv must be a JSON string");
    next_end(&r);
    reader_close(&r);
}

Test(feed_jsonl, cancel_objects)
{
    reader_t r;
    reader_open(&r,
                "{\"op\":\"cancel\",\"request_ref\":\"J1\",\"revision\":3,\"reason\":\"dup\"}\n"
                "{\"op\":\"cancel\",\"request_ref\":\"J2\",\"revision\":3,\"quantity\":\"1\"}\n",
                "f.jsonl", TP_FEED_AUTO);
    cr_assert_not_null(r.feed, "%s", r.err);
    tp_feed_item_t *it = next_ok(&r);
    cr_assert_eq(it->op, TP_FEED_CANCEL);
    cr_assert_eq(it->revision, 3);
    cr_assert_str_eq(it->reason, "dup");
    tp_feed_item_destroy(&it);
    next_bad(&r, ":2: key 'quantity' does not apply to op=cancel");
    reader_close(&r);
}

Test(feed_jsonl, nul_escape_is_refused)
{
    reader_t r;
    reader_open(&r, "{\"request_ref\":\"J\\u0000X\"}\n", "f.jsonl", TP_FEED_AUTO);
    cr_assert_not_null(r.feed, "%s", r.err);
    next_bad(&r, "bad JSON");
    reader_close(&r);
}

Test(feed_format, from_name)
{
    cr_assert_eq(tp_feed_format_from_name("a/b.csv"), TP_FEED_CSV);
    cr_assert_eq(tp_feed_format_from_name("b.CSV"), TP_FEED_CSV);
    cr_assert_eq(tp_feed_format_from_name("b.jsonl"), TP_FEED_JSONL);
    cr_assert_eq(tp_feed_format_from_name("b.ndjson"), TP_FEED_JSONL);
    cr_assert_eq(tp_feed_format_from_name("b.txt"), TP_FEED_AUTO);
    cr_assert_eq(tp_feed_format_from_name("dir.csv/feed"), TP_FEED_AUTO);
    cr_assert_eq(tp_feed_format_from_name("-"), TP_FEED_AUTO);
}

Test(feed_format, extension_wins_over_content)
{
    reader_t r;
    reader_open(&r, "{\"request_ref\":\"J1\"}\n", "f.csv", TP_FEED_CSV);
    cr_assert_null(r.feed, "a CSV whose header is JSON has unknown columns");
    fclose(r.in);
}

/* ---- outbox ------------------------------------------------------------------------------- */

static tp_feed_item_t *mk_item(const char *ref, size_t wire_bytes)
{
    tp_feed_item_t *it = xcalloc(1, sizeof(*it));
    it->request_ref = xstrdup(ref);
    it->revision = 1;
    it->wire_bytes = wire_bytes;
    return it;
}

static tp_feed_outbox_t *mk_outbox(size_t batch, size_t window, size_t max_bytes)
{
    tp_feed_outbox_opts_t o = {
        .batch_items = batch,
        .max_batch_bytes = max_bytes,
        .window = window,
        .timeout_ms = 5000,
        .backoff_min_ms = 100,
        .backoff_max_ms = 5000,
        .first_batch_id = 1000,
    };
    return tp_feed_outbox_new(&o);
}

static void add_n(tp_feed_outbox_t *ob, const char *prefix, int n)
{
    char ref[32];
    for (int i = 0; i < n; i++) {
        snprintf(ref, sizeof(ref), "%s%d", prefix, i);
        tp_feed_outbox_add(ob, mk_item(ref, 10));
    }
}

/* Ack a whole batch with one status. */
static int ack_all(tp_feed_outbox_t *ob, uint64_t id, size_t n, tp_feed_result_t res, int64_t now)
{
    tp_feed_ack_t acks[1000];
    cr_assert_leq(n, 1000);
    for (size_t i = 0; i < n; i++)
        acks[i] = (tp_feed_ack_t){.result = res};
    return tp_feed_outbox_ack(ob, id, acks, n, now);
}

Test(feed_outbox, batches_fill_the_window_then_wait)
{
    tp_feed_outbox_t *ob = mk_outbox(100, 2, 0);
    uint64_t id1, id2, id3;
    tp_feed_item_t *const *items;
    add_n(ob, "R", 250);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id1, &items), 100);
    cr_assert_str_eq(items[0]->request_ref, "R0");
    cr_assert_str_eq(items[99]->request_ref, "R99");
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id2, &items), 100);
    cr_assert_neq(id1, id2);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id3, &items), 0, "window of 2 is full");
    cr_assert_eq(tp_feed_outbox_in_flight(ob), 2);
    cr_assert_eq(tp_feed_outbox_next_wakeup(ob, 10), 4990, "only the timeout is due");
    cr_assert_eq(ack_all(ob, id1, 100, TP_FEED_ACCEPTED, 20), 0);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 20, &id3, &items), 50);
    cr_assert_str_eq(items[0]->request_ref, "R200");
    cr_assert_eq(ack_all(ob, id2, 100, TP_FEED_DUPLICATE, 30), 0);
    cr_assert(!tp_feed_outbox_done(ob));
    cr_assert_eq(ack_all(ob, id3, 50, TP_FEED_ACCEPTED, 30), 0);
    cr_assert(tp_feed_outbox_done(ob));
    tp_feed_report_t *rep = tp_feed_outbox_report(ob);
    cr_assert_eq(rep->count[TP_FEED_ACCEPTED], 150);
    cr_assert_eq(rep->count[TP_FEED_DUPLICATE], 100);
    cr_assert_eq(tp_feed_report_exit_code(rep), 0);
    tp_feed_outbox_destroy(&ob);
    cr_assert_null(ob);
}

Test(feed_outbox, unknown_and_duplicate_replies_are_ignored)
{
    tp_feed_outbox_t *ob = mk_outbox(10, 4, 0);
    uint64_t id;
    tp_feed_item_t *const *items;
    add_n(ob, "R", 3);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id, &items), 3);
    cr_assert_eq(ack_all(ob, id + 77, 3, TP_FEED_ACCEPTED, 1), 1);
    cr_assert_eq(ack_all(ob, 0, 1, TP_FEED_REJECTED, 1), 1, "undecodable-frame acks carry id 0");
    cr_assert_eq(ack_all(ob, id, 3, TP_FEED_ACCEPTED, 1), 0);
    cr_assert_eq(ack_all(ob, id, 3, TP_FEED_ACCEPTED, 1), 1, "second reply to the same batch");
    cr_assert_eq(tp_feed_outbox_report(ob)->count[TP_FEED_ACCEPTED], 3);
    tp_feed_outbox_destroy(&ob);
}

Test(feed_outbox, acks_apply_in_order_and_rejections_are_listed)
{
    tp_feed_outbox_t *ob = mk_outbox(10, 1, 0);
    uint64_t id;
    tp_feed_item_t *const *items;
    add_n(ob, "R", 4);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id, &items), 4);
    tp_feed_ack_t acks[4] = {
        {.result = TP_FEED_ACCEPTED, .request_ref = "R0"},
        {.result = TP_FEED_REJECTED,
         .request_ref = "R1",
         .error_code = "UNKNOWN_UNIT",
         .detail = "unit: 'KGX' is not a Rec 20 code"},
        {.result = TP_FEED_STALE, .request_ref = ""},
        {.result = TP_FEED_REJECTED, .detail = "bad\nline"},
    };
    cr_assert_eq(tp_feed_outbox_ack(ob, id, acks, 4, 5), 0);
    tp_feed_report_t *rep = tp_feed_outbox_report(ob);
    cr_assert_eq(rep->count[TP_FEED_ACCEPTED], 1);
    cr_assert_eq(rep->count[TP_FEED_REJECTED], 2);
    cr_assert_eq(rep->count[TP_FEED_STALE], 1);
    cr_assert_eq(rep->n_rejected_lines, 2);
    cr_assert_str_eq(rep->rejected[0],
                     "REJECTED R1 1 UNKNOWN_UNIT unit: 'KGX' is not a Rec 20 code");
    cr_assert_str_eq(rep->rejected[1], "REJECTED R3 1 - bad?line");
    cr_assert_eq(tp_feed_report_exit_code(rep), 1);
    tp_feed_outbox_destroy(&ob);
}

Test(feed_outbox, mismatched_reply_is_ignored)
{
    tp_feed_outbox_t *ob = mk_outbox(10, 1, 0);
    uint64_t id;
    tp_feed_item_t *const *items;
    add_n(ob, "R", 3);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id, &items), 3);
    cr_assert_eq(ack_all(ob, id, 2, TP_FEED_ACCEPTED, 1), -1, "2 acks for 3 items");
    tp_feed_ack_t acks[3] = {{.result = TP_FEED_ACCEPTED, .request_ref = "R0"},
                             {.result = TP_FEED_ACCEPTED, .request_ref = "R2"},
                             {.result = TP_FEED_ACCEPTED, .request_ref = "R1"}};
    cr_assert_eq(tp_feed_outbox_ack(ob, id, acks, 3, 1), -1, "echoed refs out of order");
    cr_assert_eq(tp_feed_outbox_in_flight(ob), 1, "the batch stays in flight");
    cr_assert_eq(tp_feed_outbox_report(ob)->count[TP_FEED_ACCEPTED], 0);
    tp_feed_outbox_destroy(&ob);
}

Test(feed_outbox, single_rejection_refuses_the_whole_batch)
{
    tp_feed_outbox_t *ob = mk_outbox(10, 1, 0);
    uint64_t id;
    tp_feed_item_t *const *items;
    add_n(ob, "R", 3);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id, &items), 3);
    tp_feed_ack_t ack = {.result = TP_FEED_REJECTED, .error_code = "BATCH_TOO_LARGE"};
    cr_assert_eq(tp_feed_outbox_ack(ob, id, &ack, 1, 1), 0);
    tp_feed_report_t *rep = tp_feed_outbox_report(ob);
    cr_assert_eq(rep->count[TP_FEED_REJECTED], 3);
    cr_assert_str_eq(rep->rejected[2], "REJECTED R2 1 BATCH_TOO_LARGE ");
    cr_assert(tp_feed_outbox_done(ob));
    tp_feed_outbox_destroy(&ob);
}

Test(feed_outbox, retry_later_backs_off_exponentially)
{
    tp_feed_outbox_t *ob = mk_outbox(10, 4, 0);
    uint64_t id;
    tp_feed_item_t *const *items;
    int64_t t = 1000;
    int64_t want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
    add_n(ob, "R", 1);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, t, &id, &items), 1);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cr_assert_eq(ack_all(ob, id, 1, TP_FEED_RETRY_LATER, t), 0);
        cr_assert_eq(tp_feed_outbox_next_wakeup(ob, t), want[i], "retry %zu", i + 1);
        cr_assert_eq(tp_feed_outbox_next_batch(ob, t + want[i] - 1, &id, &items), 0,
                     "not before the backoff");
        t += want[i];
        cr_assert_eq(tp_feed_outbox_next_batch(ob, t, &id, &items), 1);
        cr_assert_str_eq(items[0]->request_ref, "R0", "same item resent");
    }
    cr_assert_eq(ack_all(ob, id, 1, TP_FEED_DUPLICATE, t), 0);
    cr_assert(tp_feed_outbox_done(ob));
    cr_assert_eq(tp_feed_outbox_report(ob)->count[TP_FEED_DUPLICATE], 1);
    tp_feed_outbox_destroy(&ob);
}

Test(feed_outbox, retries_go_before_new_items)
{
    tp_feed_outbox_t *ob = mk_outbox(2, 4, 0);
    uint64_t id;
    tp_feed_item_t *const *items;
    add_n(ob, "A", 2);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id, &items), 2);
    tp_feed_ack_t acks[2] = {{.result = TP_FEED_ACCEPTED}, {.result = TP_FEED_RETRY_LATER}};
    cr_assert_eq(tp_feed_outbox_ack(ob, id, acks, 2, 0), 0);
    add_n(ob, "B", 3);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 100, &id, &items), 2);
    cr_assert_str_eq(items[0]->request_ref, "A1");
    cr_assert_str_eq(items[1]->request_ref, "B0");
    tp_feed_outbox_destroy(&ob);
}

Test(feed_outbox, timed_out_batch_is_resent_with_the_same_items)
{
    tp_feed_outbox_t *ob = mk_outbox(10, 1, 0);
    uint64_t id, id2;
    tp_feed_item_t *const *items;
    add_n(ob, "R", 3);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id, &items), 3);
    cr_assert_eq(tp_feed_outbox_expire(ob, 4999), 0);
    cr_assert_eq(tp_feed_outbox_expire(ob, 5000), 1);
    cr_assert_eq(tp_feed_outbox_next_wakeup(ob, 5000), 0);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 5000, &id2, &items), 3, "resend needs no free slot");
    cr_assert_neq(id2, id);
    cr_assert_str_eq(items[0]->request_ref, "R0");
    cr_assert_str_eq(items[2]->request_ref, "R2");
    cr_assert_eq(ack_all(ob, id, 3, TP_FEED_ACCEPTED, 5001), 1, "late reply to the old id");
    cr_assert_eq(ack_all(ob, id2, 3, TP_FEED_ACCEPTED, 5001), 0);
    cr_assert(tp_feed_outbox_done(ob));
    tp_feed_outbox_destroy(&ob);
}

Test(feed_outbox, byte_limit_splits_batches)
{
    tp_feed_outbox_t *ob = mk_outbox(100, 4, 25);
    uint64_t id;
    tp_feed_item_t *const *items;
    add_n(ob, "R", 5); /* 10 bytes each */
    tp_feed_outbox_add(ob, mk_item("BIG", 40));
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id, &items), 2);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id, &items), 2);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id, &items), 1, "R4 then BIG does not fit");
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id, &items), 1, "an oversize item goes alone");
    cr_assert_str_eq(items[0]->request_ref, "BIG");
    tp_feed_outbox_destroy(&ob);
}

Test(feed_outbox, abandon_counts_everything_left_as_undelivered)
{
    tp_feed_outbox_t *ob = mk_outbox(2, 2, 0);
    uint64_t id;
    tp_feed_item_t *const *items;
    add_n(ob, "R", 7);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id, &items), 2);
    tp_feed_ack_t acks[2] = {{.result = TP_FEED_ACCEPTED}, {.result = TP_FEED_RETRY_LATER}};
    cr_assert_eq(tp_feed_outbox_ack(ob, id, acks, 2, 0), 0);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id, &items), 2, "R2, R3 (R1 not due)");
    tp_feed_outbox_abandon(ob);
    tp_feed_report_t *rep = tp_feed_outbox_report(ob);
    cr_assert_eq(rep->count[TP_FEED_ACCEPTED], 1);
    cr_assert_eq(rep->count[TP_FEED_UNDELIVERED], 6);
    cr_assert(tp_feed_outbox_done(ob));
    cr_assert_eq(tp_feed_outbox_next_wakeup(ob, 0), -1);
    cr_assert_eq(tp_feed_report_exit_code(rep), 1);
    tp_feed_outbox_destroy(&ob);
}

Test(feed_outbox, batch_ids_skip_zero)
{
    tp_feed_outbox_opts_t o = {.batch_items = 1,
                               .window = 4,
                               .timeout_ms = 1000,
                               .backoff_min_ms = 100,
                               .backoff_max_ms = 5000,
                               .first_batch_id = UINT64_MAX};
    tp_feed_outbox_t *ob = tp_feed_outbox_new(&o);
    uint64_t a, b;
    tp_feed_item_t *const *items;
    add_n(ob, "R", 2);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &a, &items), 1);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &b, &items), 1);
    cr_assert_eq(a, UINT64_MAX);
    cr_assert_eq(b, 1);
    tp_feed_outbox_destroy(&ob);
}

/* ---- report ------------------------------------------------------------------------------- */

Test(feed_report, summary_and_capped_lists)
{
    tp_feed_outbox_t *ob = mk_outbox(100, 1, 0);
    uint64_t id;
    tp_feed_item_t *const *items;
    char *sbuf = NULL, *dbuf = NULL;
    size_t slen, dlen;
    add_n(ob, "R", 60);
    cr_assert_eq(tp_feed_outbox_next_batch(ob, 0, &id, &items), 60);
    cr_assert_eq(ack_all(ob, id, 60, TP_FEED_REJECTED, 0), 0);
    tp_feed_report_t *rep = tp_feed_outbox_report(ob);
    tp_feed_report_unreadable(rep, "f.csv:9: bad");
    FILE *s = open_memstream(&sbuf, &slen), *d = open_memstream(&dbuf, &dlen);
    tp_feed_report_print(rep, s, d);
    fclose(s);
    fclose(d);
    cr_assert_str_eq(sbuf, "accepted     0\nduplicate    0\nstale        0\nrejected     60\n"
                           "undelivered  0\nunreadable   1\n");
    const char *head = "f.csv:9: bad\nREJECTED R0 1 - \n";
    cr_assert(strncmp(dbuf, head, strlen(head)) == 0, "%s", dbuf);
    cr_assert(strstr(dbuf, "REJECTED R49 1") != NULL);
    cr_assert(strstr(dbuf, "REJECTED R50 1") == NULL, "only the first 50");
    cr_assert(strstr(dbuf, "\n... 10 more\n") != NULL, "%s", dbuf);
    free(sbuf);
    free(dbuf);
    tp_feed_outbox_destroy(&ob);
}
