/* CPV 2008 codes: format check and a sorted set of imported codes (no database access here). */
#include <stdlib.h>
#include <string.h>

#include "tp_cpv.h"
#include "tp_mem.h"

struct tp_cpv_set {
    uint32_t *codes; /* each code's 8 digits as a number; sorted and unique once sealed */
    size_t count;
    size_t cap;
    bool sealed;
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* The check digit after '-' is accepted but not verified: the CPV regulation publishes it
 * without its algorithm, and membership of the 8 digits in the imported list is what counts. */
bool tp_cpv_parse(const char *s, char code8[9])
{
    if (s == NULL || !all_digits(s, 8))
        return false; /* all_digits stops at the NUL of a short string */
    if (s[8] != '\0' && !(s[8] == '-' && is_digit(s[9]) && s[10] == '\0'))
        return false;
    memcpy(code8, s, 8);
    code8[8] = '\0';
    return true;
}

static bool code8_value(const char *code8, uint32_t *out)
{
    if (code8 == NULL || !all_digits(code8, 8) || code8[8] != '\0')
        return false;
    uint32_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v * 10 + (uint32_t)(code8[i] - '0');
    *out = v;
    return true;
}

tp_cpv_set_t *tp_cpv_set_new(void)
{
    return xcalloc(1, sizeof(tp_cpv_set_t));
}

void tp_cpv_set_destroy(tp_cpv_set_t **set)
{
    if (set == NULL || *set == NULL)
        return;
    free((*set)->codes);
    free(*set);
    *set = NULL;
}

int tp_cpv_set_add(tp_cpv_set_t *set, const char *code8)
{
    uint32_t v;
    if (!code8_value(code8, &v))
        return -1;
    if (set->count == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 1024;
        set->codes = xrealloc(set->codes, set->cap * sizeof(uint32_t));
    }
    set->codes[set->count++] = v;
    set->sealed = false;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void tp_cpv_set_seal(tp_cpv_set_t *set)
{
    if (set->count > 1)
        qsort(set->codes, set->count, sizeof(uint32_t), cmp_u32);
    size_t out = 0;
    for (size_t i = 0; i < set->count; i++)
        if (out == 0 || set->codes[out - 1] != set->codes[i])
            set->codes[out++] = set->codes[i];
    set->count = out;
    set->sealed = true;
}

/* Distinct codes once sealed; before that, the number of adds. */
size_t tp_cpv_set_count(const tp_cpv_set_t *set)
{
    return set ? set->count : 0;
}

static bool linear_has(const tp_cpv_set_t *set, uint32_t v)
{
    for (size_t i = 0; i < set->count; i++)
        if (set->codes[i] == v)
            return true;
    return false;
}

/* Binary search once sealed; an unsealed set still answers correctly, slowly. */
bool tp_cpv_set_has(const tp_cpv_set_t *set, const char *code8)
{
    uint32_t v;
    if (set == NULL || set->count == 0 || !code8_value(code8, &v))
        return false;
    if (!set->sealed)
        return linear_has(set, v);
    return bsearch(&v, set->codes, set->count, sizeof(uint32_t), cmp_u32) != NULL;
}
