/* tenderpool keygen PATH: the daemon's CURVE key pair, PATH (public) and PATH_secret (0600). */
#include <stdio.h>
#include <string.h>

#include "tp_cert.h"
#include "tp_cli.h"

int tp_cmd_keygen(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: tenderpool keygen PATH\n"
                        "  writes the server key pair: PATH (public certificate, give it to the\n"
                        "  members) and PATH_secret (mode 0600, [security] secret_key_file)\n");
        return 2;
    }
    char secret[4096], err[600];
    if (snprintf(secret, sizeof(secret), "%s_secret", argv[1]) >= (int)sizeof(secret)) {
        fprintf(stderr, "tenderpool keygen: path too long\n");
        return 2;
    }
    tp_cert_t c;
    if (tp_cert_generate(&c) < 0) {
        fprintf(stderr, "tenderpool keygen: libzmq has no CURVE support\n");
        return 1;
    }
    if (tp_cert_write(secret, &c, true, err, sizeof(err)) < 0 ||
        tp_cert_write(argv[1], &c, false, err, sizeof(err)) < 0) {
        fprintf(stderr, "tenderpool keygen: %s\n", err);
        return 1;
    }
    printf("wrote %s (public) and %s (secret, mode 0600); server public key %s\n", argv[1], secret,
           c.public_key);
    memset(&c, 0, sizeof(c));
    return 0;
}
