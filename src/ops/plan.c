/* plan.c - the table of plan functions generated from plans.def. */
#include <stdlib.h>

#include "plan.h"

lcv_plan_fn lcv_plan_lookup(int op) {
    switch (op) {
#define LCV_PLAN(op_type, suffix)                                                                \
    case LCV_OP_##op_type: return lcv_plan_##suffix;
#include "plans.def"
#undef LCV_PLAN
    default: return NULL;
    }
}

void lcv_plan_clear(lcv_plan *p) {
    if (p->data) {
        if (p->free_data)
            p->free_data(p->data);
        else
            free(p->data);
    }
    p->exec = NULL;
    p->data = NULL;
    p->free_data = NULL;
}
