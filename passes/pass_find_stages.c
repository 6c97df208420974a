/* pass_find_stages.c — stage discovery as a pass (in place): records stage1..stage5 and fc by the resolution
 * rule of the design notes (models/model_stages.c holds the rule, shared with the builders' own tables). The
 * export keeps them in the model's metadata, so `hpk opt --passes find-stages` annotates a model for hpk. */
#include "models.h"
#include "passes.h"

int pass_find_stages(ir_graph *g, hpk_err *err) { return model_find_stages(g, err); }
