/* tenderpool: the operator's and integrator's command, dispatching to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "tp_cli.h"
#include "tp_log.h"

typedef struct tp_cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} tp_cli_cmd_t;

static const tp_cli_cmd_t tp_cli_cmds[] = {
    {"migrate", tp_cmd_migrate,
     "migrate -c FILE                  apply sql/ migrations (idempotent)"},
    {"cpv", tp_cmd_cpv, "cpv import -c FILE CSV           load the CPV 2008 code list"},
    {"rounds", tp_cmd_rounds,
     "rounds close-current -c FILE     close the open round now (coordinator's cutoff)\n"
     "  tenderpool rounds list [--json] -c FILE     rounds, newest first, with lot counts\n"
     "  tenderpool rounds show R [--json] -c FILE   a round's record, then its lots"},
    {"lots", tp_cmd_lots,
     "lots list --round R [--status viable|below_threshold] [--json] -c FILE\n"
     "                                              a round's lots and their tender state\n"
     "  tenderpool lots show L [--json] -c FILE     a lot, its lines (member data), allocations"},
    {"publish", tp_cmd_publish,
     "publish -c FILE --member M FEED  send a CSV or JSON-lines feed of requests"},
    {"verify", tp_cmd_verify,
     "verify --round R -c FILE         recompute a closed round's lots and report differences"},
    {"export-ocds", tp_cmd_export_ocds,
     "export-ocds --round R -c FILE    a closed round's tender as OCDS (stdout, or -o FILE)"},
    {"award", tp_cmd_award,
     "award --lot L --supplier NAME --unit-price P [--quantity Q] -c FILE\n"
     "                                              record an award; show the allocation"},
    {"keygen", tp_cmd_keygen,
     "keygen PATH                      the daemon's CURVE key pair: PATH, PATH_secret"},
    {"member", tp_cmd_member,
     "member add|list|revoke|rotate-key ... -c FILE   members and their keys (see member)"},
    {"status", tp_cmd_status,
     "status [--json] -c FILE          daemon health, open round, workers, last close"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: tenderpool COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(tp_cli_cmds) / sizeof(tp_cli_cmds[0]); i++)
        fprintf(out, "  tenderpool %s\n", tp_cli_cmds[i].usage);
    fprintf(out, "\nEvery command that talks to the daemon or the database takes -c FILE.\n");
}

int main(int argc, char **argv)
{
    tp_log_open("tenderpool", TP_LOG_WARNING);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tenderpool %s\n", TP_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(tp_cli_cmds) / sizeof(tp_cli_cmds[0]); i++)
        if (strcmp(argv[1], tp_cli_cmds[i].name) == 0)
            return tp_cli_cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tenderpool: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
