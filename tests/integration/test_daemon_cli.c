/* Integration: tenderpoold's command line and the configuration checks it makes before starting. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tp_testenv.h"

static int check_config(tp_test_daemon_t *d, const char *endpoint, const char *mode, char *out,
                        size_t outlen)
{
    tp_test_write_config(d, 1, "1w", NULL);
    char sed[512];
    snprintf(sed, sizeof(sed),
             "sed -i -e 's#^endpoint = tcp://127.0.0.1:[0-9]*#endpoint = %s#' "
             "-e 's#^mode = none#mode = %s#' %s",
             endpoint, mode, d->conf);
    cr_assert_eq(tp_test_run(NULL, 0, "%s", sed), 0);
    return tp_test_run(out, outlen, "%s/tenderpoold --check-config -c %s 2>&1", TP_TEST_BIN_DIR,
                       d->conf);
}

Test(daemon_cli, loopback_and_mode_none_is_valid)
{
    tp_test_daemon_t d = {0};
    char out[2048];
    cr_expect_eq(check_config(&d, "tcp://127.0.0.1:5999", "none", out, sizeof(out)), 0, "%s", out);
    cr_expect(strstr(out, "configuration is valid") != NULL, "%s", out);
}

Test(daemon_cli, mode_none_refuses_a_public_address)
{
    tp_test_daemon_t d = {0};
    char out[2048];
    cr_expect_eq(check_config(&d, "tcp://0.0.0.0:5999", "none", out, sizeof(out)), 1, "%s", out);
    cr_expect(strstr(out, "refuses to bind") != NULL, "%s", out);
}

Test(daemon_cli, curve_without_a_secret_key_is_refused)
{
    tp_test_daemon_t d = {0};
    char out[2048];
    cr_expect_eq(check_config(&d, "tcp://127.0.0.1:5999", "curve", out, sizeof(out)), 1, "%s", out);
    cr_expect(strstr(out, "secret_key_file") != NULL, "%s", out);
}

Test(daemon_cli, help_and_bad_usage)
{
    char out[4096];
    cr_expect_eq(tp_test_run(out, sizeof(out), "%s/tenderpoold --help 2>&1", TP_TEST_BIN_DIR), 0);
    cr_expect(strstr(out, "--check-config") != NULL, "%s", out);
    cr_expect_eq(tp_test_run(out, sizeof(out), "%s/tenderpoold 2>&1", TP_TEST_BIN_DIR), 2,
                 "no -c: usage, exit 2");
    cr_expect_eq(
        tp_test_run(out, sizeof(out), "%s/tenderpoold -c /nonexistent.conf 2>&1", TP_TEST_BIN_DIR),
        1);
    cr_expect(strstr(out, "nonexistent") != NULL, "the error names the file: %s", out);
}
