/* The CPV 2008 code set: format check and membership of imported codes. */
#ifndef TP_CPV_H
#define TP_CPV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tp_cpv_set tp_cpv_set_t;

/* Format: 8 digits, optionally followed by "-" and one check digit.
 * On success writes the 8 digits (NUL-terminated) to code8 and returns true. */
bool tp_cpv_parse(const char *s, char code8[9]);

tp_cpv_set_t *tp_cpv_set_new(void);
void tp_cpv_set_destroy(tp_cpv_set_t **set);
/* Add one 8-digit code (duplicates fine). 0, or -1 when code8 is not 8 digits. */
int tp_cpv_set_add(tp_cpv_set_t *set, const char *code8) __attribute__((warn_unused_result));
/* Sort after the last add; lookups need it. */
void tp_cpv_set_seal(tp_cpv_set_t *set);
size_t tp_cpv_set_count(const tp_cpv_set_t *set);
bool tp_cpv_set_has(const tp_cpv_set_t *set, const char *code8);

#endif
