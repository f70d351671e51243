/* tenderpoold.conf: declarative key table (SPEC section 6), parsed with inih. */
#ifndef TP_CONFIG_H
#define TP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TP_CFG_STR 256

typedef enum tp_security_mode { TP_SECURITY_CURVE, TP_SECURITY_NONE } tp_security_mode_t;

typedef struct tp_config {
    /* [intake] */
    char intake_endpoint[TP_CFG_STR]; /* tcp://127.0.0.1:5570 */
    int64_t max_message_bytes;        /* 1048576 */
    int max_batch_items;              /* 1000 */
    /* [control] */
    char control_endpoint[TP_CFG_STR]; /* ipc:///run/tenderpool/control */
    /* [metrics] */
    char metrics_listen[TP_CFG_STR]; /* 127.0.0.1:9570; empty disables */
    /* [database] */
    char dsn[1024];       /* postgresql:///tenderpool */
    char owner_dsn[1024]; /* defaults to dsn */
    /* [workers] */
    int worker_count;             /* 2 */
    char runtime_dir[TP_CFG_STR]; /* /run/tenderpool: worker ipc sockets */
    int heartbeat_timeout_s;      /* 90: a ready worker silent this long is killed */
    /* [rounds] */
    char period[32];   /* 1w */
    char timezone[64]; /* Europe/Paris */
    /* [pooling] */
    int min_members;    /* 3 */
    int max_carry_over; /* 2 */
    /* [limits] */
    int64_t member_rate;   /* 50000 per second */
    int64_t member_burst;  /* 100000 */
    int64_t max_in_flight; /* 200000 */
    /* [tender] */
    int tender_period_days;      /* 21 */
    char ocid_prefix[64];        /* ocds-tndrpl: OCDS ocid = prefix "-" round id */
    char buyer_name[TP_CFG_STR]; /* tenderpool coordinator: OCDS buyer and publisher */
    /* [log] */
    int log_level; /* LOG_INFO (syslog numbering) */
    /* [security] */
    tp_security_mode_t security_mode; /* curve */
    char secret_key_file[TP_CFG_STR];
} tp_config_t;

/* Defaults for every key. */
void tp_config_defaults(tp_config_t *cfg);

/* Load FILE over the defaults. Unknown sections or keys, bad values and missing
 * files are errors: returns -1 with "FILE:LINE: message" in err. */
int tp_config_load(tp_config_t *cfg, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Keys whose change needs a restart; fills names of changed ones (comma separated). */
void tp_config_restart_needed(const tp_config_t *old, const tp_config_t *new_cfg, char *out,
                              size_t outlen);

#endif
