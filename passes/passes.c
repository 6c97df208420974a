/* passes.c — the pass registry and the use/replace helpers passes share. */
#include <string.h>

#include "passes.h"

const pass_info pass_table[] = {
#define PASS(cname, name, summary) {name, summary, pass_##cname},
#include "passes.def"
#undef PASS
    {NULL, NULL, NULL},
};

const pass_info *pass_find(const char *name)
{
    for (const pass_info *p = pass_table; p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

int pass_run_list(ir_graph *g, const char *csv, hpk_err *err)
{
    char name[64];
    const char *s = csv;
    while (s && *s) {
        size_t len = strcspn(s, ",");
        if (len == 0 || len >= sizeof name)
            return hpk_err_set(err, HPK_EUSAGE, "bad pass list '%s'", csv);
        memcpy(name, s, len);
        name[len] = 0;
        const pass_info *p = pass_find(name);
        if (!p)
            return hpk_err_set(err, HPK_EUSAGE, "unknown pass '%s'", name);
        int rc = p->run(g, err);
        if (rc)
            return rc;
        if ((rc = ir_verify(g, err)))
            return rc;
        s += len;
        if (*s == ',')
            s++;
    }
    return HPK_OK;
}

void pass_replace_uses(ir_graph *g, int from, int to)
{
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] == from)
                n->in[j] = to;
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == from)
            g->outputs[i] = to;
    for (int i = 0; i < g->n_stages; i++)
        if (g->stages[i].value == from)
            g->stages[i].value = to;
}

int pass_use_count(const ir_graph *g, int v)
{
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int j = 0; j < n->n_in; j++)
            c += n->in[j] == v;
    }
    for (int i = 0; i < g->n_outputs; i++)
        c += g->outputs[i] == v;
    return c;
}
