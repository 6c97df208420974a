/* cli.c — flag parsing, usage text and error reporting shared by the hpk commands. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "be.h"
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

void cli_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

void cli_json_shape(FILE *f, const ir_graph *g, const ir_shape *s)
{
    fputc('[', f);
    for (int i = 0; i < s->rank; i++) {
        if (i)
            fputs(", ", f);
        if (s->d[i] >= 0) {
            fprintf(f, "%lld", (long long)s->d[i]);
        } else {
            int64_t sym = -s->d[i] - 1;
            cli_json_str(f, sym < g->n_syms ? g->syms[sym] : "?");
        }
    }
    fputc(']', f);
}

const be_vtable *cli_backend(const cli_cmd *cmd, const char *name)
{
    if (!name)
        return be_default();
    const be_vtable *be = be_find(name);
    if (!be)
        fprintf(stderr, "hpk %s: unknown backend '%s' (ref%s) (see hpk %s --help)\n", cmd->name, name,
#ifdef HPK_HAVE_ONEDNN
                ", onednn",
#else
                "",
#endif
                cmd->name);
    return be;
}

int cli_run_graph(ir_graph *g, const be_vtable *be, int threads, const hpk_tensor *x, hpk_tensor *out,
                  hpk_err *err)
{
    memset(out, 0, sizeof *out);
    if (g->n_inputs != 1)
        return hpk_err_set(err, HPK_EUNSUPPORTED, "the model has %d inputs; hpk run feeds exactly one",
                           g->n_inputs);
    if (g->n_outputs < 1)
        return hpk_err_set(err, HPK_EINPUT, "the model has no outputs");
    const ir_value *iv = &g->values[g->inputs[0]];
    if ((int)iv->dtype != x->dtype)
        return hpk_err_set(err, HPK_EINPUT, "input '%s' is %s, the .npy holds %s", iv->name,
                           ir_dtype_name(iv->dtype), hpk_dtype_name(x->dtype));
    ir_shape s = ir_shape_make(x->rank, x->dims);
    be_options opt = {.threads = threads};
    be_plan *p = NULL;
    int rc = be->prepare(g, &opt, &s, &p, err);
    if (rc)
        return rc;
    hpk_tensor *in = be->io(p, g->inputs[0]);
    memcpy(in->data, x->data, x->nbytes);
    if ((rc = be->run(p, err))) {
        be->free(p);
        return rc;
    }
    const hpk_tensor *y = be->io(p, g->outputs[0]);
    *out = *y;
    out->data = malloc(y->nbytes ? y->nbytes : 1);
    if (!out->data) {
        be->free(p);
        return hpk_err_set(err, HPK_ENOMEM, "out of memory copying the output");
    }
    memcpy(out->data, y->data, y->nbytes);
    be->free(p);
    return HPK_OK;
}
