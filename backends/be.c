/* be.c — the backend registry: look a backend up by name, and the default one. */
#include <string.h>

#include "be.h"

const be_vtable *be_find(const char *name)
{
    if (!name)
        return NULL;
    if (strcmp(name, "ref") == 0)
        return &be_ref;
#ifdef HPK_HAVE_ONEDNN
    if (strcmp(name, "onednn") == 0)
        return &be_onednn;
#endif
    return NULL;
}

const be_vtable *be_default(void)
{
#ifdef HPK_HAVE_ONEDNN
    return &be_onednn;
#else
    return &be_ref;
#endif
}
