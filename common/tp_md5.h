/* MD5 digest in lowercase hex: lot ids must equal PostgreSQL's md5() of the same text. */
#ifndef TP_MD5_H
#define TP_MD5_H

#include <stddef.h>

/* Lowercase hex MD5 of n bytes of data into out (32 digits and a NUL). */
void tp_md5_hex(const void *data, size_t n, char out[33]);

#endif
