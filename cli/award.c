/* tenderpool award: record a lot's award and show how it is allocated to the lot's lines. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tp_cli.h"
#include "tp_decimal.h"
#include "tp_output.h"
#include "tp_pg.h"

static void award_usage(void)
{
    fprintf(stderr,
            "usage: tenderpool award --lot L --supplier NAME --unit-price P [--quantity Q] "
            "[--json] -c FILE\n"
            "  P: price per unit of the lot's base unit, in the lot's currency\n"
            "  Q: quantity awarded in the lot's base unit (default: the whole lot); below the\n"
            "     lot total it is allocated pro rata to the lines, whole pieces for count units\n");
}

/* A decimal option: at most 12 integer and 6 fraction digits, >= 0 (as SPEC section 3). */
static bool decimal_ok(const char *name, const char *s)
{
    tp_dec_t d;
    const char *why = NULL;
    if (tp_dec_parse(s, strlen(s), 12, 6, &d, &why) < 0 || tp_dec_sign(&d) < 0) {
        fprintf(stderr, "tenderpool award: %s '%s': %s\n", name, s,
                why ? why : "must not be negative");
        return false;
    }
    return true;
}

/* Each line's allocation, also in the member's own unit where that is exact. */
static const char tp_award_lines_sql[] =
    "SELECT a.member_id, a.request_ref, trim_scale(a.quantity) AS allocated, l.base_unit, "
    "CASE WHEN u.factor IS NOT NULL AND round(a.quantity / u.factor, 20) * u.factor = a.quantity "
    "THEN trim_scale(round(a.quantity / u.factor, 20)) END AS in_own_unit, ll.unit AS own_unit, "
    "trim_scale(ll.quantity) AS requested "
    "FROM tenderpool.allocation a JOIN tenderpool.lot l USING (lot_id) "
    "JOIN tenderpool.lot_lines ll ON ll.lot_id = a.lot_id AND ll.member_id = a.member_id "
    "AND ll.request_ref = a.request_ref LEFT JOIN tenderpool.unit u ON u.code = ll.unit "
    "WHERE a.lot_id = $1 ORDER BY a.member_id COLLATE \"C\", a.request_ref COLLATE \"C\"";

int tp_cmd_award(int argc, char **argv)
{
    const char *lot = NULL, *supplier = NULL, *price = NULL, *qty = NULL, *json = NULL;
    tp_cli_opt_t opts[] = {{"--lot", &lot},
                           {"--supplier", &supplier},
                           {"--unit-price", &price},
                           {"--quantity", &qty},
                           {"--json", &json}};
    tp_config_t cfg;
    if (tp_cli_parse_opts("award", argc, argv, opts, sizeof(opts) / sizeof(opts[0])) < 0 ||
        lot == NULL || supplier == NULL || price == NULL) {
        award_usage();
        return 2;
    }
    if (tp_cli_load_config(argc, argv, &cfg) < 0) {
        fprintf(stderr, "tenderpool award: -c FILE is required\n");
        return 2;
    }
    if (!decimal_ok("--unit-price", price) || (qty && !decimal_ok("--quantity", qty)))
        return 2;
    char err[1024];
    PGconn *pg = tp_pg_connect(cfg.dsn, err, sizeof(err));
    if (pg == NULL) {
        fprintf(stderr, "tenderpool award: %s\n", err);
        return 1;
    }
    int rc = 1;
    const char *params[] = {lot, supplier, price, qty};
    PGresult *r = tp_pg_query(pg, "award", err, sizeof(err),
                              "SELECT trim_scale(tenderpool.award_lot($1, $2, $3::numeric, "
                              "$4::numeric))",
                              4, params);
    if (r == NULL) {
        fprintf(stderr, "tenderpool award: %s\n", err);
        goto out;
    }
    PQclear(r);
    r = tp_pg_query(pg, "allocation", err, sizeof(err), tp_award_lines_sql, 1, params);
    if (r == NULL) {
        fprintf(stderr, "tenderpool award: awarded, but the allocation cannot be read: %s\n", err);
        goto out;
    }
    if (json == NULL)
        printf("lot %s awarded to %s at %s per base unit; allocation:\n", lot, supplier, price);
    rc = tp_out_rows(r, json != NULL, stdout) == 0 ? 0 : 1;
    PQclear(r);
out:
    PQfinish(pg);
    return rc;
}
