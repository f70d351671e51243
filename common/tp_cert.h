/* ZeroMQ CURVE certificates in the ZPL text format czmq's zcert writes (pyzmq reads it). */
#ifndef TP_CERT_H
#define TP_CERT_H

#include <stdbool.h>
#include <stddef.h>

#define TP_Z85_KEY_LEN 40 /* a 32-byte key in Z85 */

typedef struct tp_cert {
    char public_key[TP_Z85_KEY_LEN + 1];
    char secret_key[TP_Z85_KEY_LEN + 1]; /* "" when the file has none */
} tp_cert_t;

/* A new key pair (zmq_curve_keypair). 0, or -1 (libzmq built without CURVE). */
int tp_cert_generate(tp_cert_t *c) __attribute__((warn_unused_result));

/* Write c as a ZPL certificate: with_secret writes both keys, mode 0600, else only the public
 * key, mode 0644. Written to a temporary file and renamed. 0, or -1 with err set. */
int tp_cert_write(const char *path, const tp_cert_t *c, bool with_secret, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Read a ZPL certificate ("curve" section, public-key and optional secret-key, quoted or not).
 * require_private_mode: refuse a file that others may read (a secret key). 0, or -1 with err. */
int tp_cert_read(const char *path, tp_cert_t *c, bool require_private_mode, char *err,
                 size_t errlen) __attribute__((warn_unused_result));

/* True when s is 40 Z85 characters that decode to a key. */
bool tp_cert_key_valid(const char *s);

#endif
