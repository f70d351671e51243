/* Worker 0 at a close: every worker's partial aggregates of a round merged into its lot rows. */
#ifndef TP_LOTMERGE_H
#define TP_LOTMERGE_H

#include <stddef.h>

/* tail: the CLOSE_COMMIT tail, [u32 length][one worker's READY tail] per worker, each READY
 * tail [u32 length][tp_pool_agg_pack bytes] per lot. Merges the partials of each key exactly
 * (members counted once across workers) and writes the COPY text rows tp_store_close_lots
 * takes into *rows (malloc'd, *rowlen bytes), sorted by lot id. 0, or -1 with err set when a
 * part is malformed, belongs to another round, or two keys share a lot id. */
int tp_lots_merge(const void *tail, size_t len, const char *round, int min_members, char **rows,
                  size_t *rowlen, int *lots, int *viable, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
