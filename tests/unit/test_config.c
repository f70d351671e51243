/* Unit tests for the config table: defaults, every error kind with its line, restart detection. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tp_config.h"
#include "tp_log.h"

typedef struct cfg_case {
    char path[64];
    tp_config_t cfg;
    char err[512];
} cfg_case_t;

static void write_conf(cfg_case_t *c, const char *text)
{
    snprintf(c->path, sizeof(c->path), "/tmp/tp_test_config_XXXXXX");
    int fd = mkstemp(c->path);
    cr_assert_geq(fd, 0);
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static int load(cfg_case_t *c, const char *text)
{
    write_conf(c, text);
    tp_config_defaults(&c->cfg);
    c->err[0] = '\0';
    int rc = tp_config_load(&c->cfg, c->path, c->err, sizeof(c->err));
    unlink(c->path);
    return rc;
}

static void expect_ok(cfg_case_t *c, const char *text)
{
    cr_assert_eq(load(c, text), 0, "unexpected error: %s", c->err);
}

/* Fails with "PATH:LINE: <what>" and mentions msg. */
static void expect_error(cfg_case_t *c, const char *text, int line, const char *what,
                         const char *msg)
{
    char prefix[256];
    cr_assert_eq(load(c, text), -1, "accepted:\n%s", text);
    snprintf(prefix, sizeof(prefix), "%s:%d: %s", c->path, line, what);
    cr_assert(strncmp(c->err, prefix, strlen(prefix)) == 0, "error '%s' does not start '%s'",
              c->err, prefix);
    cr_assert(strstr(c->err, msg) != NULL, "error '%s' does not say '%s'", c->err, msg);
}

Test(config, defaults_match_spec)
{
    tp_config_t cfg;
    tp_config_defaults(&cfg);
    cr_assert_str_eq(cfg.intake_endpoint, "tcp://127.0.0.1:5570");
    cr_assert_eq(cfg.max_message_bytes, 1048576);
    cr_assert_eq(cfg.max_batch_items, 1000);
    cr_assert_str_eq(cfg.control_endpoint, "ipc:///run/tenderpool/control");
    cr_assert_str_eq(cfg.metrics_listen, "127.0.0.1:9570");
    cr_assert_str_eq(cfg.dsn, "postgresql:///tenderpool");
    cr_assert_str_eq(cfg.owner_dsn, "postgresql:///tenderpool");
    cr_assert_eq(cfg.worker_count, 2);
    cr_assert_str_eq(cfg.runtime_dir, "/run/tenderpool");
    cr_assert_str_eq(cfg.period, "1w");
    cr_assert_str_eq(cfg.timezone, "Europe/Paris");
    cr_assert_eq(cfg.min_members, 3);
    cr_assert_eq(cfg.max_carry_over, 2);
    cr_assert_eq(cfg.member_rate, 50000);
    cr_assert_eq(cfg.member_burst, 100000);
    cr_assert_eq(cfg.max_in_flight, 200000);
    cr_assert_eq(cfg.tender_period_days, 21);
    cr_assert_str_eq(cfg.ocid_prefix, "ocds-tndrpl");
    cr_assert_str_eq(cfg.buyer_name, "tenderpool coordinator");
    cr_assert_eq(cfg.log_level, TP_LOG_INFO);
    cr_assert_eq(cfg.security_mode, TP_SECURITY_CURVE);
    cr_assert_str_eq(cfg.secret_key_file, "");
}

Test(config, empty_file_gives_defaults)
{
    cfg_case_t c;
    tp_config_t def;
    expect_ok(&c, "; nothing here\n# nor here\n\n");
    tp_config_defaults(&def);
    cr_assert_str_eq(c.cfg.dsn, def.dsn);
    cr_assert_eq(c.cfg.worker_count, def.worker_count);
}

Test(config, every_key_is_read)
{
    cfg_case_t c;
    expect_ok(&c, "[intake]\n"
                  "endpoint = tcp://0.0.0.0:6000\n"
                  "max_message_bytes = 65536\n"
                  "max_batch_items = 100\n"
                  "[control]\n"
                  "endpoint = ipc:///tmp/tp/control\n"
                  "[metrics]\n"
                  "listen =\n"
                  "[database]\n"
                  "dsn = host=/tmp dbname=tp\n"
                  "[workers]\n"
                  "  count = 8 ; indented, with a comment\n"
                  "  runtime_dir = /tmp/tp\n"
                  "[rounds]\n"
                  "period = 30s\n"
                  "timezone = UTC\n"
                  "[pooling]\n"
                  "min_members = 2\n"
                  "max_carry_over = 0\n"
                  "[limits]\n"
                  "member_rate = 10\n"
                  "member_burst = 20\n"
                  "max_in_flight = 300000\n"
                  "[tender]\n"
                  "period_days = 30\n"
                  "ocid_prefix = ocds-abc123\n"
                  "buyer_name = Pole Mecanique purchasing\n"
                  "[log]\n"
                  "level = debug\n"
                  "[security]\n"
                  "mode = none\n"
                  "secret_key_file = /etc/tenderpool/server.key\n");
    cr_assert_str_eq(c.cfg.intake_endpoint, "tcp://0.0.0.0:6000");
    cr_assert_eq(c.cfg.max_message_bytes, 65536);
    cr_assert_eq(c.cfg.max_batch_items, 100);
    cr_assert_str_eq(c.cfg.control_endpoint, "ipc:///tmp/tp/control");
    cr_assert_str_eq(c.cfg.metrics_listen, "");
    cr_assert_str_eq(c.cfg.dsn, "host=/tmp dbname=tp");
    cr_assert_str_eq(c.cfg.owner_dsn, "host=/tmp dbname=tp"); /* follows dsn */
    cr_assert_eq(c.cfg.worker_count, 8);
    cr_assert_str_eq(c.cfg.runtime_dir, "/tmp/tp");
    cr_assert_str_eq(c.cfg.period, "30s");
    cr_assert_str_eq(c.cfg.timezone, "UTC");
    cr_assert_eq(c.cfg.min_members, 2);
    cr_assert_eq(c.cfg.max_carry_over, 0);
    cr_assert_eq(c.cfg.member_rate, 10);
    cr_assert_eq(c.cfg.member_burst, 20);
    cr_assert_eq(c.cfg.max_in_flight, 300000);
    cr_assert_eq(c.cfg.tender_period_days, 30);
    cr_assert_str_eq(c.cfg.ocid_prefix, "ocds-abc123");
    cr_assert_str_eq(c.cfg.buyer_name, "Pole Mecanique purchasing");
    cr_assert_eq(c.cfg.log_level, TP_LOG_DEBUG);
    cr_assert_eq(c.cfg.security_mode, TP_SECURITY_NONE);
    cr_assert_str_eq(c.cfg.secret_key_file, "/etc/tenderpool/server.key");
}

Test(config, int64_beyond_int_range)
{
    cfg_case_t c;
    expect_ok(&c, "[intake]\nmax_message_bytes = 1073741824\n");
    cr_assert_eq(c.cfg.max_message_bytes, 1073741824LL);
    expect_ok(&c, "[limits]\nmax_in_flight = 1000000000\n");
    cr_assert_eq(c.cfg.max_in_flight, 1000000000LL);
}

Test(config, owner_dsn_explicit)
{
    cfg_case_t c;
    expect_ok(&c, "[database]\nowner_dsn = dbname=tp user=owner\ndsn = dbname=tp user=app\n");
    cr_assert_str_eq(c.cfg.dsn, "dbname=tp user=app");
    cr_assert_str_eq(c.cfg.owner_dsn, "dbname=tp user=owner");
}

Test(config, log_levels)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"err", 3}, {"warning", 4}, {"notice", 5}, {"info", 6}, {"debug", 7}};
    cfg_case_t c;
    char text[64];
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        snprintf(text, sizeof(text), "[log]\nlevel = %s\n", levels[i].name);
        expect_ok(&c, text);
        cr_assert_eq(c.cfg.log_level, levels[i].level);
    }
}

Test(config, unknown_section)
{
    cfg_case_t c;
    expect_error(&c, "[intake]\nendpoint = tcp://127.0.0.1:1\n[bogus]\nx = 1\n", 3, "[bogus]",
                 "unknown section");
    expect_error(&c, "[log]\nlevel = info\n\n[empty]\n", 4, "[empty]", "unknown section");
}

Test(config, unknown_key)
{
    cfg_case_t c;
    expect_error(&c, "[intake]\n\nendpont = tcp://127.0.0.1:1\n", 3, "[intake] endpont",
                 "unknown key");
    expect_error(&c, "level = info\n", 1, "[] level", "before any [section]");
}

Test(config, bad_numbers)
{
    cfg_case_t c;
    expect_error(&c, "[workers]\ncount = two\n", 2, "[workers] count", "not an integer");
    expect_error(&c, "[workers]\ncount = 2x\n", 2, "[workers] count", "not an integer");
    expect_error(&c, "[workers]\ncount = \n", 2, "[workers] count", "not an integer");
    expect_error(&c, "[workers]\ncount = +2\n", 2, "[workers] count", "not an integer");
    expect_error(&c, "[limits]\nmember_rate = 1.5\n", 2, "[limits] member_rate", "not an integer");
}

Test(config, out_of_range)
{
    cfg_case_t c;
    expect_error(&c, "[workers]\ncount = 0\n", 2, "[workers] count", "out of range");
    expect_error(&c, "[intake]\nmax_batch_items = 1001\n", 2, "[intake] max_batch_items",
                 "out of range");
    expect_error(&c, "[pooling]\nmax_carry_over = -1\n", 2, "[pooling] max_carry_over",
                 "out of range");
    expect_error(&c, "[limits]\nmax_in_flight = 99999999999999999999999\n", 2,
                 "[limits] max_in_flight", "out of range");
    expect_error(&c, "[intake]\nmax_message_bytes = 1073741825\n", 2, "[intake] max_message_bytes",
                 "out of range");
}

Test(config, bad_enums)
{
    cfg_case_t c;
    expect_error(&c, "[security]\nmode = open\n", 2, "[security] mode", "curve|none");
    expect_error(&c, "[log]\nlevel = verbose\n", 2, "[log] level", "err|warning|notice|info|debug");
    expect_error(&c, "[log]\nlevel = INFO\n", 2, "[log] level", "not one of");
}

Test(config, strings_required_and_length_checked)
{
    cfg_case_t c;
    expect_error(&c, "[database]\ndsn =\n", 2, "[database] dsn", "must not be empty");
    expect_error(&c, "[intake]\nendpoint = \n", 2, "[intake] endpoint", "must not be empty");
    expect_error(&c, "[rounds]\nperiod = 1234567890123456789012345678901234567890\n", 2,
                 "[rounds] period", "longer than 31 characters");
}

Test(config, long_line)
{
    cfg_case_t c;
    char text[512];
    snprintf(text, sizeof(text), "[database]\ndsn = %0300d\n[log]\nlevel = debug\n", 0);
    expect_error(&c, text, 2, "line", "longer than");
}

Test(config, duplicate_key)
{
    cfg_case_t c;
    expect_error(&c, "[log]\nlevel = info\n[intake]\nendpoint = tcp://a:1\n[log]\nlevel = debug\n",
                 6, "[log] level", "duplicate key (first set on line 2)");
}

Test(config, syntax_error)
{
    cfg_case_t c;
    expect_error(&c, "[log]\nlevel = info\nthis line has no equals sign\n", 3, "syntax error",
                 "expected");
    expect_error(&c, "[log\nlevel = info\n", 1, "syntax error", "expected");
}

Test(config, first_error_wins)
{
    cfg_case_t c;
    expect_error(&c, "[workers]\ncount = 0\nnonsense\n[log]\nlevel = loud\n", 2, "[workers] count",
                 "out of range");
    expect_error(&c, "[workers]\nnonsense\ncount = 0\n", 2, "syntax error", "expected");
}

Test(config, rounds_checked_with_calendar)
{
    cfg_case_t c;
    expect_error(&c, "[rounds]\ntimezone = UTC\nperiod = 7d\n", 3, "[rounds] period", "7d");
    expect_error(&c, "[rounds]\nperiod = 1d\ntimezone = Mars/Olympus_Mons\n", 3,
                 "[rounds] timezone", "Mars/Olympus_Mons");
    expect_ok(&c, "[rounds]\nperiod = 1M\ntimezone = America/New_York\n");
}

Test(config, metrics_listen_is_host_port_or_empty)
{
    cfg_case_t c;
    expect_ok(&c, "[metrics]\nlisten =\n");
    expect_ok(&c, "[metrics]\nlisten = 127.0.0.1:9570\n");
    expect_ok(&c, "[metrics]\nlisten = localhost:0\n");
    expect_ok(&c, "[metrics]\nlisten = [::1]:9570\n");
    expect_error(&c, "[metrics]\nlisten = 9570\n", 2, "[metrics] listen", "HOST:PORT");
    expect_error(&c, "[metrics]\nlisten = 127.0.0.1:\n", 2, "[metrics] listen", "HOST:PORT");
    expect_error(&c, "[metrics]\nlisten = :9570\n", 2, "[metrics] listen", "HOST:PORT");
    expect_error(&c, "[metrics]\nlisten = 127.0.0.1:65536\n", 2, "[metrics] listen", "HOST:PORT");
    expect_error(&c, "[metrics]\nlisten = 127.0.0.1:http\n", 2, "[metrics] listen", "HOST:PORT");
    expect_error(&c, "[metrics]\nlisten = ::1:9570\n", 2, "[metrics] listen", "[::1]");
}

Test(config, missing_and_unreadable_file)
{
    tp_config_t cfg;
    char err[256];
    tp_config_defaults(&cfg);
    cr_assert_eq(tp_config_load(&cfg, "/nonexistent/tenderpoold.conf", err, sizeof(err)), -1);
    cr_assert(strncmp(err, "/nonexistent/tenderpoold.conf: ", 31) == 0, "%s", err);
    cr_assert(strstr(err, "No such file") != NULL, "%s", err);
    cr_assert_eq(tp_config_load(&cfg, "/tmp", err, sizeof(err)), -1); /* a directory */
    cr_assert(strncmp(err, "/tmp: ", 6) == 0, "%s", err);
    cr_assert_eq(tp_config_load(&cfg, NULL, err, sizeof(err)), -1);
}

Test(config, failed_load_leaves_config_unchanged)
{
    cfg_case_t c;
    tp_config_t before;
    write_conf(&c, "[workers]\ncount = 5\n[log]\nlevel = shout\n");
    tp_config_defaults(&c.cfg);
    c.cfg.worker_count = 7;
    before = c.cfg;
    cr_assert_eq(tp_config_load(&c.cfg, c.path, c.err, sizeof(c.err)), -1);
    unlink(c.path);
    cr_assert_eq(memcmp(&before, &c.cfg, sizeof(before)), 0);
}

Test(config, reload_starts_from_defaults)
{
    cfg_case_t c;
    write_conf(&c, "[pooling]\nmax_carry_over = 1\n");
    tp_config_defaults(&c.cfg);
    c.cfg.min_members = 9; /* as if an older file had set it */
    cr_assert_eq(tp_config_load(&c.cfg, c.path, c.err, sizeof(c.err)), 0, "%s", c.err);
    unlink(c.path);
    cr_assert_eq(c.cfg.min_members, 3);
    cr_assert_eq(c.cfg.max_carry_over, 1);
}

Test(config, restart_needed_lists_changed_static_keys)
{
    tp_config_t a, b;
    char out[256];
    tp_config_defaults(&a);
    tp_config_defaults(&b);
    tp_config_restart_needed(&a, &b, out, sizeof(out));
    cr_assert_str_eq(out, "");
    b.log_level = TP_LOG_DEBUG;
    b.min_members = 4;
    b.member_rate = 1;
    b.max_batch_items = 10;
    b.tender_period_days = 7;
    snprintf(b.ocid_prefix, sizeof(b.ocid_prefix), "ocds-zzz999");
    snprintf(b.buyer_name, sizeof(b.buyer_name), "another coordinator");
    tp_config_restart_needed(&a, &b, out, sizeof(out));
    cr_assert_str_eq(out, "");
    b.worker_count = 4;
    snprintf(b.intake_endpoint, sizeof(b.intake_endpoint), "tcp://127.0.0.1:1");
    b.security_mode = TP_SECURITY_NONE;
    snprintf(b.dsn, sizeof(b.dsn), "dbname=other");
    tp_config_restart_needed(&a, &b, out, sizeof(out));
    cr_assert_str_eq(out, "intake.endpoint, database.dsn, workers.count, security.mode");
}

Test(config, restart_needed_each_static_key)
{
    tp_config_t a, b;
    char out[256];
    tp_config_defaults(&a);
    b = a;
    snprintf(b.control_endpoint, sizeof(b.control_endpoint), "ipc:///tmp/x");
    b.metrics_listen[0] = '\0';
    snprintf(b.runtime_dir, sizeof(b.runtime_dir), "/tmp/x");
    snprintf(b.secret_key_file, sizeof(b.secret_key_file), "/k");
    tp_config_restart_needed(&a, &b, out, sizeof(out));
    cr_assert_str_eq(
        out, "control.endpoint, metrics.listen, workers.runtime_dir, security.secret_key_file");
    tp_config_restart_needed(&a, &b, out, 20); /* truncated, still terminated */
    cr_assert_lt(strlen(out), 20);
}
