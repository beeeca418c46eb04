/* test_quant.c - quantization ops: Quantize/DequantizeLinear (per-tensor, per-axis, half-even
 * rounding, saturation), DynamicQuantizeLinear and QLinearMatMul (ONNX backend values),
 * MatMulInteger / ConvInteger / QLinearConv (hand-computed, exact int32 sums), bad inputs. */
#include "op_case.h"

#define F32 LCV_DTYPE_FLOAT32
#define U8 LCV_DTYPE_UINT8
#define I8 LCV_DTYPE_INT8
#define I32 LCV_DTYPE_INT32

static void test_qdq(void) {
    opcase k;
    case_begin(&k, "QuantizeLinear", 13, 3, 1);
    case_in(&k, 0, F32, 1, (const int64_t[]){7}, (const double[]){0, 1, 3, 5, 1000, -254, 2.5});
    case_in(&k, 1, F32, 0, NULL, (const double[]){2});
    case_in(&k, 2, U8, 0, NULL, (const double[]){128});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(k.out[0]->dtype == U8);
    /* 0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (half to even); 500 saturates */
    CHECK(optest_close(k.out[0], (const double[]){128, 128, 130, 130, 255, 1, 129}, 7, 0, 0));
    case_end(&k);

    /* per-axis int8 */
    case_begin(&k, "QuantizeLinear", 13, 3, 1);
    case_in(&k, 0, F32, 3, (const int64_t[]){1, 2, 2}, (const double[]){1, 2, 4, -300});
    case_in(&k, 1, F32, 1, (const int64_t[]){2}, (const double[]){1, 2});
    case_in(&k, 2, I8, 1, (const int64_t[]){2}, (const double[]){0, -1});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){1, 2, 1, -128}, 4, 0, 0));
    case_in(&k, 2, I8, 1, (const int64_t[]){3}, NULL);
    CHECK(case_fails(&k, "zero point must be a scalar or 1-D with 2 entries"));
    case_in(&k, 2, I32, 1, (const int64_t[]){2}, NULL);
    CHECK(case_fails(&k, "zero point dtype int32"));
    case_end(&k);

    /* opset 10 is per-tensor only; no zero point -> uint8 */
    case_begin(&k, "QuantizeLinear", 10, 2, 1);
    case_in(&k, 0, F32, 1, (const int64_t[]){2}, (const double[]){-1, 3});
    case_in(&k, 1, F32, 1, (const int64_t[]){2}, (const double[]){1, 1});
    CHECK(case_fails(&k, "scale must be a scalar"));
    case_in(&k, 1, F32, 0, NULL, (const double[]){1});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(k.out[0]->dtype == U8);
    CHECK(optest_close(k.out[0], (const double[]){0, 3}, 2, 0, 0));
    case_end(&k);

    case_begin(&k, "DequantizeLinear", 13, 3, 1);
    case_in(&k, 0, U8, 1, (const int64_t[]){4}, (const double[]){0, 3, 128, 255});
    case_in(&k, 1, F32, 0, NULL, (const double[]){2});
    case_in(&k, 2, U8, 0, NULL, (const double[]){128});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){-256, -250, 0, 254}, 4, 0, 0));
    case_in(&k, 2, I8, 0, NULL, (const double[]){0});
    CHECK(case_fails(&k, "x_zero_point has dtype int8"));
    case_end(&k);

    /* per-axis on axis 0 */
    case_begin(&k, "DequantizeLinear", 13, 3, 1);
    optest_attr_int(&k.t, "axis", 0);
    case_in(&k, 0, I8, 2, (const int64_t[]){2, 2}, (const double[]){-128, 127, 10, 20});
    case_in(&k, 1, F32, 1, (const int64_t[]){2}, (const double[]){0.5, 2});
    case_in(&k, 2, I8, 1, (const int64_t[]){2}, (const double[]){0, 10});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){-64, 63.5, 0, 20}, 4, 0, 0));
    case_end(&k);

    case_begin(&k, "DequantizeLinear", 13, 2, 1);
    optest_attr_int(&k.t, "axis", 3);
    case_in(&k, 0, I32, 1, (const int64_t[]){2}, (const double[]){-7, 9});
    case_in(&k, 1, F32, 1, (const int64_t[]){2}, (const double[]){1, 1});
    CHECK(case_fails(&k, "axis 3 is out of range"));
    case_end(&k);
}

static void test_dynamic(void) {
    opcase k;
    case_begin(&k, "DynamicQuantizeLinear", 11, 1, 3);
    case_in(&k, 0, F32, 1, (const int64_t[]){6}, (const double[]){0, 2, -3, -2.5, 1.34, 0.5});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(k.out[1]->ndim == 0 && k.out[2]->ndim == 0);
    CHECK_NEAR(((const float *)k.out[1]->data)[0], 0.0196078438, 1e-9);
    CHECK(((const uint8_t *)k.out[2]->data)[0] == 153);
    CHECK(optest_close(k.out[0], (const double[]){153, 255, 0, 26, 221, 179}, 6, 0, 0));
    /* all zeros: scale 0, everything maps to the zero point 0 */
    case_in(&k, 0, F32, 1, (const int64_t[]){2}, (const double[]){0, 0});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){0, 0}, 2, 0, 0));
    case_in(&k, 0, U8, 1, (const int64_t[]){2}, NULL);
    CHECK(case_fails(&k, "x must be float32"));
    case_end(&k);
}

static void test_matmul(void) {
    opcase k;
    /* A [2,3] - 1, B [3,2] - per-column zero points {0, 2} */
    case_begin(&k, "MatMulInteger", 10, 4, 1);
    case_in(&k, 0, U8, 2, (const int64_t[]){2, 3}, (const double[]){1, 2, 3, 4, 5, 6});
    case_in(&k, 1, U8, 2, (const int64_t[]){3, 2}, (const double[]){1, 2, 3, 4, 5, 6});
    case_in(&k, 2, U8, 0, NULL, (const double[]){1});
    case_in(&k, 3, U8, 1, (const int64_t[]){2}, (const double[]){0, 2});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(k.out[0]->dtype == I32);
    /* rows (0,1,2),(3,4,5); cols (1,3,5),(0,2,4) */
    CHECK(optest_close(k.out[0], (const double[]){13, 10, 40, 28}, 4, 0, 0));
    case_in(&k, 3, U8, 1, (const int64_t[]){3}, NULL);
    CHECK(case_fails(&k, "b_zero_point must be a scalar or 1-D with 2 entries"));
    case_in(&k, 3, I8, 0, NULL, (const double[]){0});
    CHECK(case_fails(&k, "b_zero_point has dtype int8"));
    case_end(&k);

    /* exact large sums, broadcast batch, 1-D B */
    case_begin(&k, "MatMulInteger", 10, 2, 1);
    double b[1000];
    for (int i = 0; i < 1000; i++) b[i] = 255;
    case_in(&k, 0, I8, 3, (const int64_t[]){2, 1, 1000}, NULL);
    for (int i = 0; i < 2000; i++) ((int8_t *)k.in[0]->data)[i] = (int8_t)(i < 1000 ? 127 : -128);
    case_in(&k, 1, U8, 1, (const int64_t[]){1000}, b);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 2, (const int64_t[]){2, 1}));
    CHECK(((const int32_t *)k.out[0]->data)[0] == 127 * 255 * 1000);
    CHECK(((const int32_t *)k.out[0]->data)[1] == -128 * 255 * 1000);
    case_in(&k, 1, U8, 1, (const int64_t[]){999}, NULL);
    CHECK(case_fails(&k, "inner dims differ"));
    case_end(&k);

    /* QLinearMatMul, values of the ONNX backend case test_qlinearmatmul_2D */
    case_begin(&k, "QLinearMatMul", 10, 8, 1);
    case_in(&k, 0, U8, 2, (const int64_t[]){2, 4}, (const double[]){208, 236, 0, 238, 3, 214, 255, 29});
    case_in(&k, 1, F32, 0, NULL, (const double[]){0.0066});
    case_in(&k, 2, U8, 0, NULL, (const double[]){113});
    case_in(&k, 3, U8, 2, (const int64_t[]){4, 3},
            (const double[]){152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247});
    case_in(&k, 4, F32, 0, NULL, (const double[]){0.00705});
    case_in(&k, 5, U8, 0, NULL, (const double[]){114});
    case_in(&k, 6, F32, 0, NULL, (const double[]){0.0107});
    case_in(&k, 7, U8, 0, NULL, (const double[]){118});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){168, 115, 255, 1, 66, 151}, 6, 0, 0));
    case_in(&k, 6, U8, 0, NULL, (const double[]){1});
    CHECK(case_fails(&k, "y_scale must be a float tensor"));
    case_end(&k);
}

static void test_conv(void) {
    opcase k;
    /* ONNX backend test_convinteger_with_padding / without_padding */
    double x[9];
    for (int i = 0; i < 9; i++) x[i] = i + 2;
    case_begin(&k, "ConvInteger", 10, 3, 1);
    case_in(&k, 0, U8, 4, (const int64_t[]){1, 1, 3, 3}, x);
    case_in(&k, 1, U8, 4, (const int64_t[]){1, 1, 2, 2}, (const double[]){1, 1, 1, 1});
    case_in(&k, 2, U8, 0, NULL, (const double[]){1});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){12, 16, 24, 28}, 4, 0, 0));
    optest_attr_ints(&k.t, "pads", 4, (const int64_t[]){1, 1, 1, 1});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 4, (const int64_t[]){1, 1, 4, 4}));
    CHECK(optest_close(k.out[0], (const double[]){1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15,
                                                  17, 9}, 16, 0, 0));
    case_in(&k, 1, U8, 4, (const int64_t[]){1, 2, 2, 2}, NULL);
    CHECK(case_fails(&k, "group 1"));
    case_end(&k);

    /* grouped (depthwise) with strides and per-channel weight zero points */
    case_begin(&k, "ConvInteger", 10, 4, 1);
    optest_attr_int(&k.t, "group", 2);
    optest_attr_ints(&k.t, "strides", 1, (const int64_t[]){2});
    case_in(&k, 0, I8, 3, (const int64_t[]){1, 2, 4}, (const double[]){1, 2, 3, 4, -1, -2, -3, -4});
    case_in(&k, 1, I8, 3, (const int64_t[]){2, 1, 2}, (const double[]){1, 1, 3, 5});
    case_in(&k, 3, I8, 1, (const int64_t[]){2}, (const double[]){0, 1});
    CHECK(case_run(&k) == LCV_OK);
    /* ch0: 1+2, 3+4; ch1: (-1)*2 + (-2)*4, (-3)*2 + (-4)*4 */
    CHECK(optest_close(k.out[0], (const double[]){3, 7, -10, -22}, 4, 0, 0));
    case_end(&k);

    /* QLinearConv, 1x1 kernel, per-channel weight scale, bias:
     * ch0: ((x-10)*2 + 4) * 0.5*0.25/0.5 + 100; ch1: (x-10)*-1 * 0.5*1/0.5 + 100 */
    case_begin(&k, "QLinearConv", 10, 9, 1);
    case_in(&k, 0, U8, 4, (const int64_t[]){1, 1, 2, 2}, (const double[]){10, 20, 30, 40});
    case_in(&k, 1, F32, 0, NULL, (const double[]){0.5});
    case_in(&k, 2, U8, 0, NULL, (const double[]){10});
    case_in(&k, 3, I8, 4, (const int64_t[]){2, 1, 1, 1}, (const double[]){2, -1});
    case_in(&k, 4, F32, 1, (const int64_t[]){2}, (const double[]){0.25, 1});
    case_in(&k, 5, I8, 0, NULL, (const double[]){0});
    case_in(&k, 6, F32, 0, NULL, (const double[]){0.5});
    case_in(&k, 7, U8, 0, NULL, (const double[]){100});
    case_in(&k, 8, I32, 1, (const int64_t[]){2}, (const double[]){4, 0});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(k.out[0]->dtype == U8);
    CHECK(optest_close(k.out[0], (const double[]){101, 106, 111, 116, 100, 90, 80, 70}, 8, 0, 0));
    /* saturation at the top */
    case_in(&k, 6, F32, 0, NULL, (const double[]){0.01});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(((const uint8_t *)k.out[0]->data)[3] == 255);
    case_in(&k, 8, I32, 1, (const int64_t[]){3}, NULL);
    CHECK(case_fails(&k, "B must be int32 of shape [2]"));
    case_in(&k, 8, I32, 1, (const int64_t[]){2}, NULL);
    case_in(&k, 4, F32, 1, (const int64_t[]){3}, NULL);
    CHECK(case_fails(&k, "w_scale must be a scalar or 1-D with 2 entries"));
    case_in(&k, 4, F32, 0, NULL, (const double[]){1});
    case_in(&k, 0, F32, 4, (const int64_t[]){1, 1, 2, 2}, NULL);
    CHECK(case_fails(&k, "x must be int8 or uint8"));
    case_end(&k);
}

int main(void) {
    test_qdq();
    test_dynamic();
    test_matmul();
    test_conv();
    return lcv_test_finish("ops_quant");
}
