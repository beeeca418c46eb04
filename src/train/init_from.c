/* init_from.c - lcv_trainer_init_from_file: starting a model from another model's weights
 * (transfer learning), e.g. a segmenter first trained on smaller images. The other model's
 * initializers are matched to this trainer's parameters and buffers by name, and taken only
 * where dtype and shape agree too; everything else keeps its own start. */
#include <stdlib.h>
#include <string.h>

#include "../frontends/onnx/onnx.h"
#include "ema.h"
#include "trainer_impl.h"

lcv_status lcv_trainer_init_from_file(lcv_trainer *t, const char *path, int *taken) {
    if (!t || !t->ready) return LCV_ERR_INVALID_ARG;
    t->err.msg[0] = '\0';
    if (taken) *taken = 0;
    if (!path) return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "initial model path is NULL");
    uint64_t max = t->p.max_bytes ? t->p.max_bytes : LCV_TRAIN_DEFAULT_MAX_BYTES;
    void *data = NULL;
    size_t size = 0;
    lcv_status st = lcv_read_file(path, max, &data, &size, &t->err);
    if (st != LCV_OK) return st;
    lcv_graph *src = NULL;
    st = lcv_onnx_import(data, size, NULL, max, &src, &t->err);
    free(data);
    if (st != LCV_OK) {
        lcv_err_prefix(&t->err, "initial model '%s'", path);
        return st;
    }
    const lcv_graph *g = lcv_autodiff_graph(t->ad);
    int n = 0;
    for (int i = 0; i < t->n_params + t->n_buffers; i++) {
        bool param = i < t->n_params;
        int v = param ? lcv_autodiff_param_value(t->ad, i)
                      : lcv_autodiff_buffer_value(t->ad, i - t->n_params);
        lcv_tensor *dst = param ? t->params[i] : t->buffers[i - t->n_params];
        int s = lcv_graph_find(src, g->values[v].name);
        const lcv_tensor *from = s >= 0 ? src->values[s].init : NULL;
        if (from && from->dtype == dst->dtype &&
            lcv_shape_equal(from->ndim, from->dims, dst->ndim, dst->dims)) {
            memcpy(dst->data, from->data, lcv_tensor_nbytes(dst));
            n++;
        }
    }
    lcv_graph_free(src);
    lcv_autodiff_params_changed(t->ad);
    if (t->ema) lcv_ema_reset(t->ema, t->params); /* the average starts from the new weights */
    if (n == 0)
        return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "initial model '%s' has no initializer "
                        "with the name, type and shape of a parameter or buffer of this model",
                        path);
    if (taken) *taken = n;
    return LCV_OK;
}
