/* main.c - the leancv command-line tool: global options (--version, help) and dispatch to the
 * subcommands, each in its own cmd_<name>.c. */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"

int cmd_build(int argc, char **argv); /* cmd_build.c */
int cmd_distill(int argc, char **argv); /* cmd_distill.c */
int cmd_detect(int argc, char **argv);   /* cmd_detect.c */
int cmd_segment(int argc, char **argv);  /* cmd_segment.c */
int cmd_textdet(int argc, char **argv);  /* cmd_textdet.c */
int cmd_evaluate(int argc, char **argv); /* cmd_evaluate.c */
int cmd_quantize(int argc, char **argv); /* cmd_quantize.c */
int cmd_convert(int argc, char **argv);  /* cmd_convert.c */

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"info", cmd_info, "describe a model: inputs, outputs, ops, parameters, MACs"},
    {"run", cmd_run, "run a model on .npy or image inputs, save outputs, print top-k"},
    {"bench", cmd_bench, "measure latency and a per-op time profile"},
    {"eval", cmd_eval, "classification accuracy on an MNIST-style IDX data set"},
    {"train", cmd_train, "train a classifier on a labelled data set, with checkpoints"},
    {"distill", cmd_distill, "train a student with knowledge distillation (teacher, mutual, self)"},
    {"build", cmd_build, "write a named architecture (resnet8, mobilenetv2-tiny, ...) as ONNX"},
    {"detect", cmd_detect, "detect objects (YOLO, SSD, RetinaNet, FCOS, CenterNet heads)"},
    {"segment", cmd_segment, "label every pixel of an image with a segmentation model"},
    {"textdet", cmd_textdet, "find text regions in an image with a DBNet-style model"},
    {"evaluate", cmd_evaluate, "mAP of detections or mIoU of label maps against ground truth"},
    {"quantize", cmd_quantize, "post-training int8 quantization to QDQ ONNX, or fp16/bf16 weights"},
    {"convert", cmd_convert, "write a model in leancv's own format (.lcvm), optimized graph included"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: leancv <command> [options]   (leancv <command> --help for details)\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "  help      show this message\n\n"
               "options:\n  --version  print the leancv version\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("leancv %s\n", lcv_version());
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2)
            for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
                if (strcmp(argv[2], COMMANDS[i].name) == 0) {
                    char *help_argv[] = {argv[2], "--help", NULL};
                    return COMMANDS[i].fn(2, help_argv);
                }
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(cmd, COMMANDS[i].name) == 0) return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "leancv: unknown command '%s' (try 'leancv help')\n", cmd);
    return 1;
}
