/* Test client: build protocol messages and exchange them with the real daemon over ZeroMQ. */
#ifndef TP_TESTCLIENT_H
#define TP_TESTCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tenderpool/v1/tenderpool.pb-c.h"

/* One envelope's fields, as text; NULL fields take good defaults (see tp_test_item_default). */
typedef struct tp_test_item {
    const char *op; /* "submit" (default), "amend", "cancel" */
    const char *member_id;
    const char *request_ref;
    uint32_t revision;
    const char *cpv, *item_key, *description, *quantity, *unit, *need_by, *delivery_zone, *currency,
        *max_unit_price, *reason;
} tp_test_item_t;

/* A good submit for (member, ref): CPV 18424300, gloves, 10 H87, need_by today + 30 days. */
tp_test_item_t tp_test_item_default(const char *member, const char *ref);

/* A good submit of qty `unit` of item `item` in CPV `cpv` (other fields as the default). */
tp_test_item_t tp_test_item_line(const char *member, const char *ref, const char *cpv,
                                 const char *item, const char *qty, const char *unit);

/* Connect a DEALER to endpoint. */
void *tp_test_connect(void *zctx, const char *endpoint);
/* Pack a batch of items into a ClientMessage frame (malloc'd, *len set). */
uint8_t *tp_test_pack_batch(uint64_t batch_id, const tp_test_item_t *items, size_t n, size_t *len);
uint8_t *tp_test_pack_status(uint64_t query_id, const char *member, const char *const *refs,
                             size_t nrefs, const char *round_id, size_t *len);
/* Send raw bytes as one frame. */
void tp_test_send(void *sock, const void *buf, size_t len);
/* Receive one ServerMessage (NULL on timeout). Free with ..._free_unpacked(m, NULL). */
Tenderpool__V1__ServerMessage *tp_test_recv(void *sock, int timeout_ms);
/* Send a batch and wait for its ack (fails the test on timeout). */
Tenderpool__V1__BatchAck *tp_test_batch(void *sock, const tp_test_item_t *items, size_t n,
                                        Tenderpool__V1__ServerMessage **owner);

/* Send a batch and assert every item is ACCEPTED (the message names the first that is not). */
void tp_test_send_accepted(void *sock, const tp_test_item_t *items, size_t n);

const char *tp_test_status_name(Tenderpool__V1__Status st);
/* YYYY-MM-DD, days from today (UTC) */
void tp_test_date(char out[11], int days_from_today);

#endif
