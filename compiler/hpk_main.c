/* hpk_main.c — the hpk command-line driver: dispatches to the commands of cli.h's table. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "cli.h"

static const cli_cmd commands[] = {
#define CLI_ENTRY(name, syn, sum) {#name, syn, sum, cmd_##name},
    CLI_COMMANDS(CLI_ENTRY)
#undef CLI_ENTRY
};

static void usage(FILE *f)
{
    fprintf(f, "usage: hpk COMMAND [ARGS...]   (hpk COMMAND --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    /* oneDNN runs on OpenMP, whose threads spin between parallel regions by default: on a shared or
     * oversubscribed machine (our own data-loader threads count) a descheduled spinner stalls every barrier and
     * an evaluation measured 35x slower. Sleeping waits are the robust default; a user's setting wins. libgomp
     * reads its environment before main runs, so the setting takes a re-exec of this same program. */
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        execv("/proc/self/exe", argv); /* returns only on failure: then carry on as we are */
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("hpk 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1, &commands[i]);
    fprintf(stderr, "hpk: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
