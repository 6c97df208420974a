/* onednn_softmax.c — Softmax/LogSoftmax on oneDNN softmax_v2; opset < 13 coerces the input to 2-D first. */
#include "onednn.h"

static int softmax(be_plan *p, int ni, bool log)
{
    const ir_node *n = &p->g->nodes[ni];
    int x = n->in[0], y = n->out[0], rc;
    const ir_shape *xs = &p->shapes[x];
    int r = xs->rank;
    int64_t axis = ir_attr_int(n, "axis", p->g->opset >= 13 ? -1 : 1);
    if (axis < 0)
        axis += r;
    ir_shape vs; /* the shape softmax runs on */
    int vaxis;
    if (p->g->opset >= 13) {
        vs = *xs;
        vaxis = (int)axis;
    } else {
        /* opset < 13: [prod(d < axis), prod(d >= axis)], normalized along dim 1 */
        vs.rank = 2;
        vs.d[0] = vs.d[1] = 1;
        for (int i = 0; i < r; i++)
            vs.d[i < axis ? 0 : 1] *= xs->d[i];
        vaxis = 1;
    }
    if (vs.rank > DNNL_MAX_NDIMS)
        return od_fail(p, HPK_EUNSUPPORTED, ni, "rank %d is more than oneDNN's %d", vs.rank, DNNL_MAX_NDIMS);
    dnnl_memory_desc_t md;
    if (od_md_plain(&md, &vs, IR_DT_F32))
        return od_fail(p, HPK_EINTERNAL, ni, "softmax descriptor");
    dnnl_softmax_v2_desc_t sd;
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_softmax_v2_forward_desc_init(&sd, (dnnl_prop_kind_t)od_prop(p),
                                                        log ? dnnl_softmax_log : dnnl_softmax_accurate, &md, &md, vaxis);
    if (s == dnnl_success)
        s = od_pd_try(p, &pd, &sd, NULL);
    if (s != dnnl_success)
        return od_dnnl_fail(p, s, ni, "softmax");
    int xm, ym;
    if ((rc = od_input_plain(p, x, ni, &xm)) || (rc = od_output_new(p, y, NULL, &ym))) {
        dnnl_primitive_desc_destroy(pd);
        return rc;
    }
    int xv = od_mem_view(p, xm, &md, &vs), yv = od_mem_view(p, ym, &md, &vs);
    if (xv < 0 || yv < 0) {
        dnnl_primitive_desc_destroy(pd);
        return HPK_ENOMEM;
    }
    od_arg args[2] = {{DNNL_ARG_SRC, xv}, {DNNL_ARG_DST, yv}};
    return od_step_prim(p, ni, pd, args, 2, false);
}

int od_op_Softmax(be_plan *p, int ni) { return softmax(p, ni, false); }
int od_op_LogSoftmax(be_plan *p, int ni) { return softmax(p, ni, true); }
