/* Closed rounds and the lots that carried their requests on: where a stored request stands. */
#ifndef TP_HISTORY_H
#define TP_HISTORY_H

#include <stdbool.h>

#include "tp_reqindex.h"

/* The state load's view of the closes so far, so that a worker places each stored request
 * itself, as tenderpool.request_position_of() does, instead of asking PostgreSQL to walk
 * every request of every closed round (10 s for 1 M of them; see docs/performance.md). */
typedef struct tp_history tp_history_t;

tp_history_t *tp_history_new(void);
void tp_history_destroy(tp_history_t **h);

/* A closed round and how many times its lots may carry a request on (NULL max: 0). */
void tp_history_add_round(tp_history_t *h, const char *round_id, int max_carry_over);
/* A lot of a closed round that pooled nothing: below the threshold, or withdrawn. `to` is
 * where it carries its requests (the withdrawal's carried_to, else its round's next round;
 * NULL: nowhere). */
void tp_history_add_lot(tp_history_t *h, const char *lot_id, const char *to);

/* True when round_id is a closed round of the history. */
bool tp_history_closed(const tp_history_t *h, const char *round_id);

/* Where a request stands: the round (borrowed from h, or `home`), carried `carries` times. */
typedef struct tp_history_pos {
    const char *round_id;
    int carries;
    tp_rstate_t state; /* OPEN, CARRIED_OVER, POOLED or UNPOOLED */
} tp_history_pos_t;

/* Walk a request stored in round `home` whose lot key hashes to lot_hash (the 12 hex digits
 * of tenderpool.lot_key_hash) through the closes, as request_walk does: in a closed round
 * whose lot carried, it moves on to the lot's target while its carries are below the
 * round's max_carry_over. A request that stops in a closed round in a lot that carried is
 * UNPOOLED; in any other lot POOLED (the walk says unpooled when the lot does not exist at
 * all: to the intake both are final, ROUND_CLOSED for an amend or a cancel). */
void tp_history_walk(const tp_history_t *h, const char *home, const char *lot_hash,
                     tp_history_pos_t *pos);

size_t tp_history_lot_count(const tp_history_t *h);

#endif
