/* Group gathering: when a worker's building group is ready to be committed. */
#ifndef TP_GATHER_H
#define TP_GATHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* In a stream of commits (the last one ended less than TP_GATHER_US ago), a group of fewer
 * than TP_GATHER_ITEMS items waits until its first item is TP_GATHER_US old before it is
 * committed. Under a flow of small messages this halves the commits (each costs PostgreSQL
 * ~0.15 ms of CPU and a WAL flush) and frees CPU for the acks' path; an isolated request, or a
 * group of TP_GATHER_ITEMS items or more, is committed at once. */
#define TP_GATHER_US 1000
#define TP_GATHER_ITEMS 64

/* Microseconds the group (n items, the first arrived at first_us) still waits at now_us;
 * 0: commit it now (if it has items). commit_ended_us: when the last commit succeeded, 0 never;
 * committing: a commit is running (the group waits for it anyway). Times are tp_mono_us(). */
int64_t tp_gather_wait_us(bool committing, size_t n, int64_t first_us, int64_t commit_ended_us,
                          int64_t now_us);

#endif
