/* cmd_info.c - `leancv info MODEL [--json] [--optimized]`: what a model takes and gives
 * (dynamic dims by name), its op histogram, size (parameters, weight bytes, planned activation
 * memory) and cost (MACs per layer, total), as text or JSON; the graph as in the file, or as
 * the optimizer leaves it (with fused activations and residual adds shown on their nodes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

static const char *const HELP =
    "usage: leancv info MODEL [--json] [--optimized]\n\n"
    "Describes an ONNX model: inputs and outputs with dtypes and shapes (dynamic dims by name),\n"
    "op histogram, parameter count, weight bytes, activation memory (the arena a session plans:\n"
    "peak, and the sum of all tensors without reuse) and multiply-accumulates (MACs) per layer\n"
    "and in total, computed with dynamic dims taken as 1.\n\n"
    "  --json        machine-readable output\n"
    "  --optimized   show the graph after the optimizer's passes (as it runs): fused\n"
    "                activations and residual adds appear on their node, e.g. Conv+Add+Relu\n";

typedef struct op_count {
    const char *op;
    int64_t count;
    int64_t macs;
} op_count;

static void human(double v, const char *unit, char *buf, size_t cap) {
    const char *pre[] = {"", "K", "M", "G", "T"};
    int i = 0;
    while (v >= 1000 && i < 4) {
        v /= 1000;
        i++;
    }
    if (i)
        snprintf(buf, cap, "%.2f %s%s", v, pre[i], unit);
    else
        snprintf(buf, cap, "%.0f%s%s", v, *unit ? " " : "", unit);
}

static void json_shape(int nd, const int64_t *d, const char *const *names) {
    if (nd < 0) {
        printf("null");
        return;
    }
    putchar('[');
    for (int k = 0; k < nd; k++) {
        if (k) putchar(',');
        if (d[k] >= 0)
            printf("%lld", (long long)d[k]);
        else
            cli_json_string(names[k] ? names[k] : "?");
    }
    putchar(']');
}

static void print_io(const lcv_model *m, bool json, bool outputs) {
    int n = outputs ? lcv_model_output_count(m) : lcv_model_input_count(m);
    for (int i = 0; i < n; i++) {
        lcv_dtype dt = LCV_DTYPE_UNDEFINED;
        int64_t d[LCV_MAX_DIMS];
        const char *names[LCV_MAX_DIMS] = {0};
        int nd = outputs ? lcv_model_output_info(m, i, &dt, d, names)
                         : lcv_model_input_info(m, i, &dt, d, names);
        const char *name = outputs ? lcv_model_output_name(m, i) : lcv_model_input_name(m, i);
        if (json) {
            printf("%s{\"name\":", i ? "," : "");
            cli_json_string(name);
            printf(",\"dtype\":\"%s\",\"shape\":", lcv_dtype_name(dt));
            json_shape(nd, d, names);
            putchar('}');
        } else {
            char shape[256];
            cli_shape_text(nd, d, names, shape, sizeof shape);
            printf("  %-20s %-8s %s\n", name, lcv_dtype_name(dt), shape);
        }
    }
}

static int count_ops(const char *cmd, const lcv_model *m, int64_t nodes, op_count **out,
                     int *n_out) {
    op_count *ops = calloc(nodes > 0 ? (size_t)nodes : 1, sizeof *ops);
    if (!ops) return cli_fail(cmd, "out of memory");
    int n = 0;
    for (int64_t i = 0; i < nodes; i++) {
        lcv_node_info ni;
        if (lcv_model_node_info(m, i, &ni) != LCV_OK) continue;
        int k = 0;
        while (k < n && strcmp(ops[k].op, ni.op_type) != 0) k++;
        if (k == n) ops[n++].op = ni.op_type;
        ops[k].count++;
        if (ni.macs > 0) ops[k].macs += ni.macs;
    }
    *out = ops;
    *n_out = n;
    return 0;
}

/* "Conv", "Conv+Relu", "Conv+Add+Relu": the op with what the optimizer fused into it. */
static const char *layer_label(const lcv_node_info *ni, char *buf, size_t cap) {
    static const char *const names[][2] = {
        {"relu", "Relu"},         {"clip", "Clip"},
        {"leakyrelu", "LeakyRelu"}, {"sigmoid", "Sigmoid"},
        {"hardsigmoid", "HardSigmoid"}, {"hardswish", "HardSwish"},
        {"silu", "SiLU"},         {"tanh", "Tanh"},
        {"gelu", "GELU"},
    };
    const char *act = ni->fused ? ni->fused : "";
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strcmp(act, names[k][0]) == 0) act = names[k][1];
    snprintf(buf, cap, "%s%s%s%s", ni->op_type, ni->has_residual ? "+Add" : "", *act ? "+" : "",
             act);
    return buf;
}

static void print_text(const char *path, const lcv_model *m, const lcv_model_stats *st,
                       const op_count *ops, int n_ops) {
    char a[32], b[32], c[32];
    printf("model: %s\ninputs:\n", path);
    print_io(m, false, false);
    printf("outputs:\n");
    print_io(m, false, true);
    human((double)st->param_count, "", a, sizeof a);
    human((double)st->weight_bytes, "B", b, sizeof b);
    if (st->macs >= 0)
        human((double)st->macs, "", c, sizeof c);
    else
        snprintf(c, sizeof c, "unknown");
    printf("nodes: %lld   parameters: %lld (%s)   weights: %s   MACs: %s\n",
           (long long)st->node_count, (long long)st->param_count, a, b, c);
    if (st->peak_activation_bytes >= 0) {
        human((double)st->peak_activation_bytes, "B", a, sizeof a);
        human((double)st->activation_bytes, "B", c, sizeof c);
        printf("activations: %s peak (%lld bytes; %s without reuse)\n", a,
               (long long)st->peak_activation_bytes, c);
    } else {
        printf("activations: unknown (the declared inputs leave shapes open)\n");
    }
    printf("\nop histogram:\n  %-20s %6s %14s\n", "op", "count", "MACs");
    for (int k = 0; k < n_ops; k++)
        printf("  %-20s %6lld %14lld\n", ops[k].op, (long long)ops[k].count,
               (long long)ops[k].macs);
    printf("\nlayers (MACs with dynamic dims = 1):\n  %4s  %-22s %-28s %-20s %14s\n", "#", "op",
           "name", "output", "MACs");
    for (int64_t i = 0; i < st->node_count; i++) {
        lcv_node_info ni;
        if (lcv_model_node_info(m, i, &ni) != LCV_OK) continue;
        char shape[128], macs[32], label[64];
        cli_shape_text(ni.out_ndim, ni.out_dims, NULL, shape, sizeof shape);
        if (ni.macs >= 0)
            snprintf(macs, sizeof macs, "%lld", (long long)ni.macs);
        else
            snprintf(macs, sizeof macs, "?");
        printf("  %4lld  %-22s %-28s %-20s %14s\n", (long long)i,
               layer_label(&ni, label, sizeof label),
               ni.name && *ni.name ? ni.name : "-", shape, macs);
    }
    if (st->macs >= 0)
        printf("  total MACs: %lld\n", (long long)st->macs);
    else
        printf("  total MACs: unknown\n");
}

static void print_json(const char *path, const lcv_model *m, const lcv_model_stats *st,
                       const op_count *ops, int n_ops) {
    printf("{\"model\":");
    cli_json_string(path);
    printf(",\"inputs\":[");
    print_io(m, true, false);
    printf("],\"outputs\":[");
    print_io(m, true, true);
    printf("],\"node_count\":%lld,\"param_count\":%lld,\"weight_bytes\":%lld,\"macs\":%lld",
           (long long)st->node_count, (long long)st->param_count, (long long)st->weight_bytes,
           (long long)st->macs);
    printf(",\"peak_activation_bytes\":%lld,\"activation_bytes\":%lld",
           (long long)st->peak_activation_bytes, (long long)st->activation_bytes);
    printf(",\"ops\":{");
    for (int k = 0; k < n_ops; k++) {
        if (k) putchar(',');
        cli_json_string(ops[k].op);
        printf(":%lld", (long long)ops[k].count);
    }
    printf("},\"layers\":[");
    for (int64_t i = 0; i < st->node_count; i++) {
        lcv_node_info ni;
        if (lcv_model_node_info(m, i, &ni) != LCV_OK) continue;
        printf("%s{\"name\":", i ? "," : "");
        cli_json_string(ni.name ? ni.name : "");
        printf(",\"op\":");
        cli_json_string(ni.op_type);
        printf(",\"output_shape\":");
        json_shape(ni.out_ndim, ni.out_dims, NULL);
        printf(",\"macs\":%lld,\"fused\":", (long long)ni.macs);
        cli_json_string(ni.fused ? ni.fused : "");
        printf(",\"residual\":%s}", ni.has_residual ? "true" : "false");
    }
    printf("]}\n");
}

int cmd_info(int argc, char **argv) {
    const char *cmd = "info", *path = NULL;
    bool json = false, optimized = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(HELP, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--optimized") == 0)
            optimized = true;
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return cli_fail(cmd, "unknown option '%s' (see leancv info --help)", argv[i]);
        else if (path)
            return cli_fail(cmd, "more than one model given ('%s', '%s')", path, argv[i]);
        else
            path = argv[i];
    }
    if (!path) return cli_fail(cmd, "no model given (see leancv info --help)");
    /* Without --optimized: the graph as written in the file. */
    lcv_model_params params = lcv_model_default_params();
    params.optimize = optimized;
    lcv_model *m = NULL;
    if (lcv_model_load_file(path, &params, &m) != LCV_OK) {
        cli_fail(cmd, "%s", m ? lcv_model_errmsg(m) : "out of memory loading the model");
        lcv_model_free(m);
        return 1;
    }
    lcv_model_stats st;
    lcv_model_get_stats(m, &st);
    op_count *ops = NULL;
    int n_ops = 0;
    int rc = count_ops(cmd, m, st.node_count, &ops, &n_ops);
    if (!rc) {
        if (json)
            print_json(path, m, &st, ops, n_ops);
        else
            print_text(path, m, &st, ops, n_ops);
    }
    free(ops);
    lcv_model_free(m);
    return rc;
}
