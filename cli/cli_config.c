/* The CLI's shared "-c FILE" handling: find the option, load the INI; never talks to a server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_cli.h"

/* The value of "-c FILE", "--config FILE" or "--config=FILE"; NULL when absent.
 * A trailing "-c" with no FILE is a usage error and exits 2. */
static const char *cli_config_path(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
        if (strcmp(argv[i], "-c") != 0 && strcmp(argv[i], "--config") != 0)
            continue;
        if (i + 1 >= argc || argv[i + 1][0] == '\0') {
            fprintf(stderr, "tenderpool: %s needs a FILE\n", argv[i]);
            exit(2);
        }
        return argv[i + 1];
    }
    return NULL;
}

int tp_cli_load_config(int argc, char **argv, tp_config_t *cfg)
{
    const char *path = cli_config_path(argc, argv);
    if (path == NULL)
        return -1;
    char err[1024];
    tp_config_defaults(cfg);
    if (tp_config_load(cfg, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "tenderpool: %s\n", err);
        exit(2);
    }
    return 0;
}

static int match_opt(const tp_cli_opt_t *o, int argc, char **argv, int *i)
{
    size_t n = strlen(o->name);
    const char *a = argv[*i];
    if (strcmp(o->name, "--json") == 0 || strcmp(o->name, "--sql-role") == 0) { /* flags */
        if (strcmp(a, o->name) != 0)
            return 0;
        *o->value = "1";
        return 1;
    }
    if (strcmp(a, o->name) == 0 && *i + 1 < argc) {
        *o->value = argv[++*i];
        return 1;
    }
    if (strncmp(a, o->name, n) == 0 && a[n] == '=') {
        *o->value = a + n + 1;
        return 1;
    }
    return 0;
}

int tp_cli_parse_opts(const char *cmd, int argc, char **argv, const tp_cli_opt_t *opts,
                      size_t nopts)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0)
            continue;
        size_t k = 0;
        while (k < nopts && !match_opt(&opts[k], argc, argv, &i))
            k++;
        if (k == nopts) {
            fprintf(stderr, "tenderpool %s: unexpected argument '%s'\n", cmd, a);
            return -1;
        }
    }
    return 0;
}
