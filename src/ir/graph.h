/* graph.h - the intermediate representation: values and nodes in id-indexed arrays.
 * A graph owns everything it points to. Frontends build it with the functions below; the
 * runtime resolves ops, verifies, orders and plans it. Depends on core only. */
#ifndef LCV_GRAPH_H
#define LCV_GRAPH_H

#include "../core/act.h"
#include "../core/core.h"

/* Attribute types; values follow ONNX AttributeProto.AttributeType. */
typedef enum lcv_attr_type {
    LCV_ATTR_UNDEFINED = 0,
    LCV_ATTR_FLOAT = 1,
    LCV_ATTR_INT = 2,
    LCV_ATTR_STRING = 3,
    LCV_ATTR_TENSOR = 4,
    LCV_ATTR_GRAPH = 5,
    LCV_ATTR_FLOATS = 6,
    LCV_ATTR_INTS = 7,
    LCV_ATTR_STRINGS = 8,
    LCV_ATTR_TENSORS = 9,
    LCV_ATTR_GRAPHS = 10,
    LCV_ATTR_SPARSE_TENSOR = 11,
    LCV_ATTR_SPARSE_TENSORS = 12,
    LCV_ATTR_TYPE_PROTO = 13,
    LCV_ATTR_TYPE_PROTOS = 14
} lcv_attr_type;

typedef struct lcv_attr {
    char *name;         /* owned */
    lcv_attr_type type;
    float f;            /* FLOAT */
    int64_t i;          /* INT */
    char *s;            /* STRING: owned, NUL-terminated (s_len excludes the NUL) */
    size_t s_len;
    lcv_tensor *t;      /* TENSOR: owned */
    int64_t n;          /* element count of floats / ints / strings */
    float *floats;      /* FLOATS: owned */
    int64_t *ints;      /* INTS: owned */
    char **strings;     /* STRINGS: owned array of owned strings */
    struct lcv_graph *g; /* GRAPH: owned subgraph (If branches, Loop body); see lcv_graph.outer */
} lcv_attr;

/* Subgraphs nest at most this deep (a Loop body holding an If is depth 2); the importer and
 * the runtime refuse deeper nesting, so hostile files cannot exhaust the stack. */
#define LCV_MAX_SUBGRAPH_DEPTH 16

/* A value: a named edge of the graph. Shape facts: ndim == -1 means rank unknown; a dim of -1
 * is dynamic (dim_params[i] may name its symbol). */
typedef struct lcv_value {
    char *name;                          /* owned */
    lcv_dtype dtype;                     /* LCV_DTYPE_UNDEFINED when not known */
    int ndim;
    int64_t dims[LCV_MAX_DIMS];
    char *dim_params[LCV_MAX_DIMS];      /* owned or NULL */
    lcv_tensor *init;                    /* owned constant data (initializer/folded), or NULL */
    int producer;                        /* index of the producing node, -1 if none */
    bool is_input;                       /* listed in graph.input */
    bool is_output;                      /* listed in graph.output */
    bool is_initializer;                 /* came from graph.initializer */
} lcv_value;


/* A node. in[i] is a value id, or -1 for an omitted optional input (empty name in ONNX). */
typedef struct lcv_node {
    char *name;     /* owned; never NULL (importers synthesise "<op>_<index>" when missing) */
    char *op_type;  /* owned */
    char *domain;   /* owned; "" for the default ONNX domain */
    int op;         /* index into the op table (ops.def), -1 until resolved */
    int opset;      /* opset version in force for the node's domain */
    int n_in, n_out;
    int *in;        /* owned */
    int *out;       /* owned */
    int n_attrs;
    lcv_attr *attrs; /* owned */
    lcv_fused fused; /* set by optimizer passes; act NONE and residual -1 otherwise */
    /* The last n_implicit inputs are not ONNX inputs: they are the enclosing-graph values the
     * node's subgraphs read by name (lcv_graph.outer), so ordering, liveness and "is it
     * produced" checks see those reads. 0 for nodes without graph attributes. */
    int n_implicit;
} lcv_node;

typedef struct lcv_opset_import {
    char *domain; /* owned */
    int64_t version;
} lcv_opset_import;

typedef struct lcv_graph {
    char *name; /* owned, may be NULL */
    lcv_value *values;
    int n_values, cap_values;
    lcv_node *nodes;
    int n_nodes, cap_nodes;
    int *inputs; /* graph inputs that are not initializers, in declaration order */
    int n_inputs, cap_inputs;
    int *outputs;
    int n_outputs, cap_outputs;
    lcv_opset_import *opsets;
    int n_opsets;
    int64_t ir_version;
    /* True when every graph input has a fully static declared shape, so the value shapes the
     * runtime infers at load are exact (set by the runtime before the optimizer runs). */
    bool static_shapes;
    /* For a subgraph (an attribute's graph): the values it reads from enclosing scopes (used
     * by a node or listed as an output, but not produced, an initializer or an input here),
     * in first-use order, and for each the index of the owning node's input (among its
     * n_implicit trailing inputs) that carries the enclosing value. Owned; NULL when none. */
    int *outer;
    int *outer_in;
    int n_outer;
    /* name -> value id hash index (open addressing, private to graph.c) */
    int *index;
    int index_cap;
} lcv_graph;

lcv_graph *lcv_graph_new(void);
void lcv_graph_free(lcv_graph *g);

/* Returns the id of the value named name, or -1. */
int lcv_graph_find(const lcv_graph *g, const char *name);
/* Returns the id of the value named name, creating it (dtype undefined, rank unknown) when
 * absent. name: borrowed, copied. *id receives the id. */
lcv_status lcv_graph_intern(lcv_graph *g, const char *name, int *id, lcv_err *e);

/* Appends a node; in_names/out_names are borrowed and copied, an empty or NULL input name means
 * an omitted optional input. Output values must not already have a producer (or be an
 * initializer): a duplicated definition is an error naming the value and both nodes.
 * *node_out (optional) receives the new node, valid until the next add. */
lcv_status lcv_graph_add_node(lcv_graph *g, const char *name, const char *op_type,
                              const char *domain, int n_in, const char *const *in_names, int n_out,
                              const char *const *out_names, lcv_node **node_out, lcv_err *e);
/* Appends an attribute to node (zero-initialised apart from the copied name); fill it in. */
lcv_status lcv_node_add_attr(lcv_node *node, const char *name, lcv_attr **out, lcv_err *e);

/* Marks values as graph inputs/outputs (ids already interned). */
lcv_status lcv_graph_add_input(lcv_graph *g, int id, lcv_err *e);
lcv_status lcv_graph_add_output(lcv_graph *g, int id, lcv_err *e);
/* Sets an initializer (takes ownership of t, even on failure). Errors on a duplicate. */
lcv_status lcv_graph_set_initializer(lcv_graph *g, int id, lcv_tensor *t, lcv_err *e);
lcv_status lcv_graph_add_opset(lcv_graph *g, const char *domain, int64_t version, lcv_err *e);
/* Opset version imported for domain ("" and "ai.onnx" are the same), or -1. */
int64_t lcv_graph_opset(const lcv_graph *g, const char *domain);

/* Orders nodes topologically in place (stable where possible) and checks the graph: every
 * consumed value is produced, an initializer, or a graph input; no cycles; outputs defined.
 * Errors name the node and value at fault. */
lcv_status lcv_graph_toposort(lcv_graph *g, lcv_err *e);

/* Removes the nodes with remove[i] set (their output values lose their producer), keeping the
 * order of the rest and fixing value->producer. remove: borrowed, n_nodes entries. */
void lcv_graph_remove_nodes(lcv_graph *g, const bool *remove);

/* Frees everything a holds (a subgraph included) and zeroes it. */
void lcv_attr_clear(lcv_attr *a);

/* Fills sg->outer (see lcv_graph) from sg's nodes and outputs; call once sg is complete. */
lcv_status lcv_graph_collect_outer(lcv_graph *sg, lcv_err *e);

/* Gives node `node` of g its implicit inputs: for every GRAPH attribute, each outer value of
 * the subgraph (collected first) is interned in g by name and appended to the node's inputs
 * (once per name), and the subgraph's outer_in records where. Call once per node. */
lcv_status lcv_node_link_subgraphs(lcv_graph *g, int node, lcv_err *e);

#endif /* LCV_GRAPH_H */
