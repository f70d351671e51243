/* The `tenderpool` command: one entry function per subcommand, dispatched from main.c. */
#ifndef TP_CLI_H
#define TP_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "tp_config.h"

/* Each takes the arguments after the subcommand name (argv[0] is the subcommand) and
 * returns the process exit code. */
int tp_cmd_migrate(int argc, char **argv);
int tp_cmd_cpv(int argc, char **argv);
int tp_cmd_publish(int argc, char **argv);
int tp_cmd_verify(int argc, char **argv);
int tp_cmd_rounds(int argc, char **argv);
int tp_cmd_lots(int argc, char **argv);
int tp_cmd_export_ocds(int argc, char **argv);
int tp_cmd_award(int argc, char **argv);
int tp_cmd_status(int argc, char **argv);
int tp_cmd_keygen(int argc, char **argv);
int tp_cmd_member(int argc, char **argv);
/* `lots withdraw LOT [--reason TEXT]` (argv[0] "withdraw"): called by tp_cmd_lots. */
int tp_cmd_lots_withdraw(int argc, char **argv);

/* Send cmd to the daemon's control endpoint ([control] endpoint) and wait up to 10 s for the
 * reply (NUL-terminated into reply). 0, or -1 after printing why to stderr. */
int tp_cli_control(const tp_config_t *cfg, const char *cmd, size_t cmdlen, char *reply,
                   size_t replylen);
/* The same, printing the reply (stderr when it starts with "error"): the process exit code. */
int tp_cli_control_print(const tp_config_t *cfg, const char *cmd, size_t cmdlen);

/* Shared option handling: finds "-c FILE" in argv, loads it into cfg (exits 2 with a
 * message on error). Returns 0 when -c was given, -1 when it was absent. */
int tp_cli_load_config(int argc, char **argv, tp_config_t *cfg);

/* A "--name VALUE" (or "--name=VALUE") option a subcommand takes. "--json" and "--sql-role"
 * are flags: bare, their *value becomes "1". */
typedef struct tp_cli_opt {
    const char *name;   /* "--round" */
    const char **value; /* receives the value */
} tp_cli_opt_t;

/* Parse argv[1..] against opts, skipping "-c FILE"/"--config FILE" (tp_cli_load_config reads
 * it); anything else is an error printed as "tenderpool CMD: unexpected argument". 0 or -1. */
int tp_cli_parse_opts(const char *cmd, int argc, char **argv, const tp_cli_opt_t *opts,
                      size_t nopts);

/* The read commands' session (lots.c): loads -c FILE, connects, opens a read-only snapshot
 * with times in [rounds] timezone. NULL after printing why, with *exit_code 2 (no -c) or 1. */
PGconn *tp_cli_read_open(const char *cmd, int argc, char **argv, const char *usage, int *exit_code);
/* Round R's lots as `lots list` shows them, status NULL for all (lots.c); NULL with err set. */
PGresult *tp_lots_of_round(PGconn *c, const char *round, const char *status, char *err,
                           size_t errlen);

#endif
