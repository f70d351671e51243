/* The project's UN/ECE Rec 20 unit table and exact conversion to base units; no floating point. */
#include "tp_unit.h"

#include <string.h>

/* Factors are exact decimal text, relative to the dimension's base unit; names and factors
 * follow Rec 20 Annex I (mass, volume, length, area, energy) and Annexes II/III (count,
 * packaging). H87, EA and NAR have no Rec 20 factor; the SPEC counts them as C62 (one).
 * Packaging codes have no factor at all and pool only with themselves. */
static const tp_unit_t units[] = {
    {"KGM", "kilogram", TP_DIM_MASS, "KGM", "1"},
    {"GRM", "gram", TP_DIM_MASS, "KGM", "0.001"},
    {"MGM", "milligram", TP_DIM_MASS, "KGM", "0.000001"},
    {"TNE", "tonne (metric ton)", TP_DIM_MASS, "KGM", "1000"},
    {"LBR", "pound", TP_DIM_MASS, "KGM", "0.45359237"},
    {"MTQ", "cubic metre", TP_DIM_VOLUME, "MTQ", "1"},
    {"LTR", "litre", TP_DIM_VOLUME, "MTQ", "0.001"},
    {"MLT", "millilitre", TP_DIM_VOLUME, "MTQ", "0.000001"},
    {"HLT", "hectolitre", TP_DIM_VOLUME, "MTQ", "0.1"},
    {"MTR", "metre", TP_DIM_LENGTH, "MTR", "1"},
    {"CMT", "centimetre", TP_DIM_LENGTH, "MTR", "0.01"},
    {"MMT", "millimetre", TP_DIM_LENGTH, "MTR", "0.001"},
    {"KMT", "kilometre", TP_DIM_LENGTH, "MTR", "1000"},
    {"MTK", "square metre", TP_DIM_AREA, "MTK", "1"},
    {"C62", "one", TP_DIM_COUNT, "C62", "1"},
    {"H87", "piece", TP_DIM_COUNT, "C62", "1"},
    {"EA", "each", TP_DIM_COUNT, "C62", "1"},
    {"NAR", "number of articles", TP_DIM_COUNT, "C62", "1"},
    {"DZN", "dozen", TP_DIM_COUNT, "C62", "12"},
    {"PR", "pair", TP_DIM_COUNT, "C62", "2"},
    {"KWH", "kilowatt hour", TP_DIM_ENERGY, "KWH", "1"},
    {"MWH", "megawatt hour (1000 kW.h)", TP_DIM_ENERGY, "KWH", "1000"},
    {"BX", "box", TP_DIM_PACKAGE, "BX", "1"},
    {"PK", "pack", TP_DIM_PACKAGE, "PK", "1"},
    {"PA", "packet", TP_DIM_PACKAGE, "PA", "1"},
    {"CT", "carton", TP_DIM_PACKAGE, "CT", "1"},
    {"BG", "bag", TP_DIM_PACKAGE, "BG", "1"},
    {"DR", "drum", TP_DIM_PACKAGE, "DR", "1"},
    {"RO", "roll", TP_DIM_PACKAGE, "RO", "1"},
    {"PL", "pail", TP_DIM_PACKAGE, "PL", "1"},
    {"CS", "case", TP_DIM_PACKAGE, "CS", "1"},
};

#define N_UNITS ((int)(sizeof(units) / sizeof(units[0])))

static const char *const dim_names[] = {
    [TP_DIM_MASS] = "mass",       [TP_DIM_VOLUME] = "volume", [TP_DIM_LENGTH] = "length",
    [TP_DIM_AREA] = "area",       [TP_DIM_COUNT] = "count",   [TP_DIM_ENERGY] = "energy",
    [TP_DIM_PACKAGE] = "package",
};

const tp_unit_t *tp_unit_find(const char *code)
{
    for (int i = 0; i < N_UNITS; i++) /* the first letter spares most strcmp calls */
        if (units[i].code[0] == code[0] && strcmp(units[i].code, code) == 0)
            return &units[i];
    return NULL;
}

const char *tp_dim_name(tp_dim_t dim)
{
    if ((int)dim < 0 || (size_t)dim >= sizeof(dim_names) / sizeof(dim_names[0]))
        return "unknown";
    return dim_names[dim];
}

int tp_unit_to_base(const tp_unit_t *u, const tp_dec_t *q, tp_dec_t *out)
{
    tp_dec_t factor;

    if (tp_dec_from_str(u->factor, &factor) < 0)
        return -1; /* unreachable with the table above; tests parse every factor */
    return tp_dec_mul(q, &factor, out);
}

const tp_unit_t *tp_unit_table(int *n)
{
    *n = N_UNITS;
    return units;
}
