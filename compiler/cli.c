/* cli.c — flag parsing, usage text and error reporting shared by the hpk commands. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "onnx.h"

void cli_usage(FILE *f, const cli_cmd *cmd, const cli_flag *flags)
{
    fprintf(f, "usage: hpk %s %s\n%s\n", cmd->name, cmd->synopsis, cmd->summary);
    if (flags && flags[0].name) {
        fprintf(f, "\noptions:\n");
        for (const cli_flag *fl = flags; fl->name; fl++) {
            char left[64];
            snprintf(left, sizeof left, "%s%s%s", fl->name, fl->arg ? " " : "", fl->arg ? fl->arg : "");
            fprintf(f, "  %-24s %s\n", left, fl->help);
        }
    }
    fprintf(f, "  %-24s %s\n", "--help", "show this help");
}

static int usage_err(const cli_cmd *cmd, const char *what, const char *a)
{
    fprintf(stderr, "hpk %s: %s '%s' (see hpk %s --help)\n", cmd->name, what, a, cmd->name);
    return 2;
}

int cli_parse(int argc, char **argv, const cli_cmd *cmd, const cli_flag *flags, const char **pos, int max_pos,
              int *n_pos)
{
    *n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_usage(stdout, cmd, flags);
            return -1;
        }
        if (a[0] == '-' && a[1] != 0) {
            const cli_flag *fl = NULL;
            const char *val = NULL;
            size_t len = strcspn(a, "=");
            for (const cli_flag *f = flags; f && f->name; f++)
                if (strlen(f->name) == len && strncmp(f->name, a, len) == 0)
                    fl = f;
            if (!fl)
                return usage_err(cmd, "unknown option", a);
            if (a[len] == '=')
                val = a + len + 1;
            if (fl->kind == CLI_BOOL) {
                if (val)
                    return usage_err(cmd, "this option takes no value:", fl->name);
                *(bool *)fl->dst = true;
                continue;
            }
            if (!val) {
                if (i + 1 >= argc)
                    return usage_err(cmd, "this option needs a value:", fl->name);
                val = argv[++i];
            }
            char *end;
            errno = 0;
            switch (fl->kind) {
            case CLI_STR: *(const char **)fl->dst = val; break;
            case CLI_INT: {
                long v = strtol(val, &end, 10);
                if (end == val || *end || errno)
                    return usage_err(cmd, "an option needs an integer, got", val);
                *(long *)fl->dst = v;
                break;
            }
            case CLI_DOUBLE: {
                double v = strtod(val, &end);
                if (end == val || *end || errno)
                    return usage_err(cmd, "an option needs a number, got", val);
                *(double *)fl->dst = v;
                break;
            }
            case CLI_BOOL: break;
            }
            continue;
        }
        if (*n_pos >= max_pos)
            return usage_err(cmd, "unexpected argument", a);
        pos[(*n_pos)++] = a;
    }
    return 0;
}

int cli_fail(const cli_cmd *cmd, const hpk_err *err)
{
    fprintf(stderr, "hpk %s: %s\n", cmd->name, err->msg[0] ? err->msg : "failed");
    return hpk_exit_status(err->code ? err->code : HPK_EINPUT);
}

int cli_load_model(const char *path, ir_graph **out, hpk_err *err)
{
    hpk_alloc a = {0};
    return onnx_load(path, a, NULL, out, err);
}
