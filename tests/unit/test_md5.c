/* Unit tests for the MD5 used in lot ids: RFC 1321 test suite vectors. */
#include <criterion/criterion.h>
#include <string.h>

#include "tp_md5.h"

static void expect_md5(const char *in, const char *want)
{
    char hex[33];
    tp_md5_hex(in, strlen(in), hex);
    cr_expect_str_eq(hex, want, "md5(\"%s\")", in);
}

Test(md5, rfc1321_vectors)
{
    expect_md5("", "d41d8cd98f00b204e9800998ecf8427e");
    expect_md5("a", "0cc175b9c0f1b6a831c399e269772661");
    expect_md5("abc", "900150983cd24fb0d6963f7d28e17f72");
    expect_md5("message digest", "f96b697d7cb7938d525a2f31aaf161d0");
    expect_md5("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b");
    expect_md5("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
               "d174ab98d277d9f5a5611c2c9f419d9f");
    expect_md5("1234567890123456789012345678901234567890123456789012345678901234567890123456789"
               "0",
               "57edf4a22be3c955ac49da2e2107b67a");
}

Test(md5, block_boundaries)
{
    /* 55, 56 and 64 bytes: the padding spills into a second block at 56 */
    char buf[200];
    memset(buf, 'a', sizeof(buf));
    char hex[33];
    tp_md5_hex(buf, 55, hex);
    cr_expect_str_eq(hex, "ef1772b6dff9a122358552954ad0df65");
    tp_md5_hex(buf, 56, hex);
    cr_expect_str_eq(hex, "3b0c8ac703f828b04c6c197006d17218");
    tp_md5_hex(buf, 64, hex);
    cr_expect_str_eq(hex, "014842d480b571495a4a0363793f7367");
    tp_md5_hex(buf, 200, hex);
    cr_expect_str_eq(hex, "887f30b43b2867f4a9accceee7d16e6c");
}
