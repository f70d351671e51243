/* Unit: the IPC counters workers send with their heartbeats (common/ipc.c). */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tp_ipc.h"

static int code_index(const char *code)
{
    for (int i = 0; i < TP_IPC_NCODES; i++)
        if (strcmp(tp_ipc_code_names[i], code) == 0)
            return i;
    return -1;
}

Test(ipc, the_code_list_is_spec_section_3)
{
    static const char *const spec[] = {"MALFORMED",       "UNAUTHENTICATED", "MEMBER_MISMATCH",
                                       "INVALID_FIELD",   "UNKNOWN_UNIT",    "UNKNOWN_CPV",
                                       "UNKNOWN_REQUEST", "ROUND_CLOSED",    "BATCH_TOO_LARGE",
                                       "DB_UNAVAILABLE",  "OVERLOADED",      "RATE_LIMITED"};
    cr_assert_eq(sizeof(spec) / sizeof(spec[0]), TP_IPC_NCODES);
    for (size_t i = 0; i < TP_IPC_NCODES; i++)
        cr_expect_geq(code_index(spec[i]), 0, "%s listed", spec[i]);
}

Test(ipc, acks_count_by_status_and_code)
{
    tp_ipc_counts_t c;
    memset(&c, 0, sizeof(c));
    tp_ipc_counts_ack(&c, 1, "", 3);
    tp_ipc_counts_ack(&c, 2, NULL, 1);
    tp_ipc_counts_ack(&c, 4, "UNKNOWN_UNIT", 2);
    tp_ipc_counts_ack(&c, 5, "RATE_LIMITED", 7);
    tp_ipc_counts_ack(&c, 4, "NOT_A_CODE", 1); /* by status only */
    tp_ipc_counts_ack(&c, 9, "MALFORMED", 1);  /* no such status: by code only */
    cr_expect_eq(c.status[1], 3);
    cr_expect_eq(c.status[2], 1);
    cr_expect_eq(c.status[4], 3);
    cr_expect_eq(c.status[5], 7);
    cr_expect_eq(c.code[code_index("UNKNOWN_UNIT")], 2);
    cr_expect_eq(c.code[code_index("RATE_LIMITED")], 7);
    cr_expect_eq(c.code[code_index("MALFORMED")], 1);
    uint64_t codes = 0;
    for (int i = 0; i < TP_IPC_NCODES; i++)
        codes += c.code[i];
    cr_expect_eq(codes, 10);
}

Test(ipc, commits_fall_in_their_bucket_bounds_inclusive)
{
    tp_ipc_counts_t c;
    memset(&c, 0, sizeof(c));
    tp_ipc_counts_commit(&c, 0);       /* <= 1 ms */
    tp_ipc_counts_commit(&c, 1000);    /* <= 1 ms */
    tp_ipc_counts_commit(&c, 1001);    /* <= 2 ms */
    tp_ipc_counts_commit(&c, 999999);  /* <= 1 s */
    tp_ipc_counts_commit(&c, 1000001); /* above every bound */
    cr_expect_eq(c.commits, 5);
    cr_expect_eq(c.commit_in[0], 2);
    cr_expect_eq(c.commit_in[1], 1);
    cr_expect_eq(c.commit_in[TP_IPC_NLAT - 1], 1);
    cr_expect_eq(c.commit_in[TP_IPC_NLAT], 1);
    cr_expect_eq(c.commit_us, 1000 + 1001 + 999999 + 1000001);
    for (int i = 1; i < TP_IPC_NLAT; i++)
        cr_expect_gt(tp_ipc_lat_bounds_us[i], tp_ipc_lat_bounds_us[i - 1], "bounds increase");
}

Test(ipc, add_sums_every_field)
{
    tp_ipc_counts_t a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    tp_ipc_counts_ack(&a, 1, "", 5);
    tp_ipc_counts_commit(&a, 3000);
    tp_ipc_counts_ack(&b, 1, "", 2);
    tp_ipc_counts_ack(&b, 4, "INVALID_FIELD", 1);
    tp_ipc_counts_commit(&b, 3500);
    tp_ipc_counts_commit(&b, 2000000);
    tp_ipc_counts_add(&a, &b);
    cr_expect_eq(a.status[1], 7);
    cr_expect_eq(a.status[4], 1);
    cr_expect_eq(a.code[code_index("INVALID_FIELD")], 1);
    cr_expect_eq(a.commits, 3);
    cr_expect_eq(a.commit_in[2], 2, "two commits <= 5 ms");
    cr_expect_eq(a.commit_in[TP_IPC_NLAT], 1);
    cr_expect_eq(a.commit_us, 3000 + 3500 + 2000000);
}

/* FNV-1a 64 reference vectors: content_hash values stored in tenderpool.revision and the
 * (member, ref) -> worker routing depend on this function never changing. */
Test(ipc, fnv1a_matches_the_reference_vectors)
{
    cr_expect_eq(tp_fnv1a(TP_FNV_INIT, "", 0), 0xcbf29ce484222325ULL);
    cr_expect_eq(tp_fnv1a(TP_FNV_INIT, "a", 1), 0xaf63dc4c8601ec8cULL);
    cr_expect_eq(tp_fnv1a(TP_FNV_INIT, "foobar", 6), 0x85944171f73967e8ULL);
    cr_expect_eq(tp_fnv1a(tp_fnv1a(TP_FNV_INIT, "foo", 3), "bar", 3), 0x85944171f73967e8ULL,
                 "continuing from h is hashing the concatenation");
}

/* The supervisor routes from counted bytes (a batch read from the wire) or from decoded
 * strings: both must pick the same worker. */
Test(ipc, route_worker_from_counted_bytes_is_the_same)
{
    static const char *const members[] = {"acme", "bolt", "", "a-very-long-member-id.0001"};
    char ref[32];
    for (size_t m = 0; m < sizeof(members) / sizeof(members[0]); m++)
        for (int i = 0; i < 200; i++) {
            snprintf(ref, sizeof(ref), "ref-%d", i);
            for (uint32_t nw = 1; nw <= 4; nw++)
                cr_assert_eq(
                    tp_route_worker_n(members[m], strlen(members[m]), ref, strlen(ref), nw),
                    tp_route_worker(members[m], ref, nw));
        }
    uint32_t seen[2] = {0, 0};
    for (int i = 0; i < 200; i++) {
        snprintf(ref, sizeof(ref), "ref-%d", i);
        seen[tp_route_worker("acme", ref, 2)]++;
    }
    cr_expect(seen[0] > 60 && seen[1] > 60, "both workers get refs (%u, %u)", seen[0], seen[1]);
}
