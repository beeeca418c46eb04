/* test_qadd.c - QLinearAdd (com.microsoft; fuse_qdq's residual junction) reference kernel:
 * hand-computed values with half-to-even ties and saturation for uint8 and int8, numpy
 * broadcasting, an omitted C zero point, and bad inputs (each a status with a message). */
#include "op_case.h"

#define F32 LCV_DTYPE_FLOAT32
#define U8 LCV_DTYPE_UINT8
#define I8 LCV_DTYPE_INT8

static void begin(opcase *k, int nin) {
    case_begin(k, "QLinearAdd", 1, nin, 1);
    k->t.node->op = lcv_op_lookup("QLinearAdd", "com.microsoft");
    CHECK(k->t.node->op == LCV_OP_QLinearAdd);
}

static void test_values(void) {
    opcase k;
    /* (a - 10) * 0.5 + b * 0.25 over [2,3] + [3]: ties 0.5 -> 0, 2.5 -> 2; -4.5 saturates */
    begin(&k, 8);
    case_in(&k, 0, U8, 2, (const int64_t[]){2, 3}, (const double[]){10, 12, 13, 0, 255, 11});
    case_in(&k, 1, F32, 0, NULL, (const double[]){0.5});
    case_in(&k, 2, U8, 0, NULL, (const double[]){10});
    case_in(&k, 3, U8, 1, (const int64_t[]){3}, (const double[]){2, 6, 4});
    case_in(&k, 4, F32, 0, NULL, (const double[]){0.25});
    case_in(&k, 5, U8, 0, NULL, (const double[]){0});
    case_in(&k, 6, F32, 0, NULL, (const double[]){1});
    case_in(&k, 7, U8, 0, NULL, (const double[]){0});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(k.out[0]->dtype == U8 && case_shape(&k, 0, 2, (const int64_t[]){2, 3}));
    CHECK(optest_close(k.out[0], (const double[]){0, 2, 2, 0, 124, 2}, 6, 0, 0));
    case_end(&k);

    /* int8: (a + 1) + (b - 2) * 0.5 with b = [5] broadcast from the left, zy 3: -0.5 -> 0,
     * 2.5 -> 2, 129.5 -> 130 saturates at 127, -125.5 -> -126 */
    begin(&k, 8);
    case_in(&k, 0, I8, 1, (const int64_t[]){1}, (const double[]){5});
    case_in(&k, 1, F32, 0, NULL, (const double[]){0.5});
    case_in(&k, 2, I8, 0, NULL, (const double[]){2});
    case_in(&k, 3, I8, 2, (const int64_t[]){4, 1}, (const double[]){-3, 0, 127, -128});
    case_in(&k, 4, F32, 1, (const int64_t[]){1}, (const double[]){1});
    case_in(&k, 5, I8, 1, (const int64_t[]){1}, (const double[]){-1});
    case_in(&k, 6, F32, 0, NULL, (const double[]){1});
    case_in(&k, 7, I8, 0, NULL, (const double[]){3});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(k.out[0]->dtype == I8 && case_shape(&k, 0, 2, (const int64_t[]){4, 1}));
    CHECK(optest_close(k.out[0], (const double[]){3, 5, 127, -123}, 4, 0, 0));
    case_end(&k);

    /* C_zero_point omitted: 0 */
    begin(&k, 7);
    case_in(&k, 0, U8, 1, (const int64_t[]){2}, (const double[]){7, 200});
    case_in(&k, 1, F32, 0, NULL, (const double[]){2});
    case_in(&k, 2, U8, 0, NULL, (const double[]){0});
    case_in(&k, 3, U8, 1, (const int64_t[]){2}, (const double[]){1, 0});
    case_in(&k, 4, F32, 0, NULL, (const double[]){3});
    case_in(&k, 5, U8, 0, NULL, (const double[]){1});
    case_in(&k, 6, F32, 0, NULL, (const double[]){4});
    CHECK(case_run(&k) == LCV_OK);
    /* 14 / 4 = 3.5 -> 4; (400 - 3) / 4 = 99.25 -> 99 */
    CHECK(optest_close(k.out[0], (const double[]){4, 99}, 2, 0, 0));
    case_end(&k);
}

static void test_bad(void) {
    opcase k;
    begin(&k, 8);
    case_in(&k, 0, U8, 1, (const int64_t[]){3}, NULL);
    case_in(&k, 1, F32, 0, NULL, (const double[]){0.5});
    case_in(&k, 2, U8, 0, NULL, NULL);
    case_in(&k, 3, I8, 1, (const int64_t[]){3}, NULL);
    case_in(&k, 4, F32, 0, NULL, (const double[]){0.5});
    case_in(&k, 5, I8, 0, NULL, NULL);
    case_in(&k, 6, F32, 0, NULL, (const double[]){1});
    case_in(&k, 7, U8, 0, NULL, NULL);
    CHECK(case_fails(&k, "A is uint8 but B is int8"));
    case_in(&k, 3, U8, 1, (const int64_t[]){3}, NULL);
    case_in(&k, 5, I8, 0, NULL, NULL);
    CHECK(case_fails(&k, "B_zero_point has dtype int8 but its tensor is uint8"));
    case_in(&k, 5, U8, 0, NULL, NULL);
    case_in(&k, 7, I8, 0, NULL, NULL);
    CHECK(case_fails(&k, "C_zero_point has dtype int8"));
    case_in(&k, 7, U8, 0, NULL, NULL);
    case_in(&k, 4, F32, 1, (const int64_t[]){3}, NULL);
    CHECK(case_fails(&k, "B_scale must be a scalar, got 3 entries"));
    case_in(&k, 4, U8, 0, NULL, NULL);
    CHECK(case_fails(&k, "B_scale must be a float tensor"));
    case_in(&k, 4, F32, 0, NULL, (const double[]){0.5});
    case_in(&k, 3, U8, 1, (const int64_t[]){4}, NULL);
    CHECK(case_fails(&k, "broadcast"));
    case_in(&k, 0, F32, 1, (const int64_t[]){4}, NULL);
    CHECK(case_fails(&k, "A must be int8 or uint8, got float32"));
    case_end(&k);
}

int main(void) {
    test_values();
    test_bad();
    return lcv_test_finish("ops_qadd");
}
