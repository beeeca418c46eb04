/* vmath_coef.h - the constants of leancv's float32 exp, tanh and erf approximations, shared by
 * the scalar, AVX2 and AVX-512 versions (vmath_<isa>.h) so every ISA evaluates the same
 * polynomials. The coefficients were fitted for this project (near-minimax by iteratively
 * reweighted least squares at Chebyshev nodes, in 40-digit arithmetic) and rounded to float. */
#ifndef LCV_VMATH_COEF_H
#define LCV_VMATH_COEF_H

/* exp(x) = 2^n * e^r, n = round(x * log2(e)), r = x - n * ln 2 in [-ln2/2, ln2/2].
 * ln 2 is split Cody-Waite style: LN2_HI has 9 significant bits, so n * LN2_HI is exact for
 * |n| < 2^15 even without FMA. e^r = 1 + r + r^2 * (C2 + C3 r + ... + C6 r^4), relative error
 * 3.1e-9 before rounding. Inputs are clamped to [EXP_LO, EXP_HI]: beyond them the result is
 * already 0 (below 2^-150) or +inf in float. */
#define LCV_VM_LOG2E 1.44269504088896341f
#define LCV_VM_LN2_HI 0.693359375f
#define LCV_VM_LN2_LO -2.12194440e-4f
#define LCV_VM_EXP_LO -104.0f
#define LCV_VM_EXP_HI 89.0f
#define LCV_VM_EXP_C2 0.4999999403953552f
#define LCV_VM_EXP_C3 0.1666652113199234f
#define LCV_VM_EXP_C4 0.04166838899254799f
#define LCV_VM_EXP_C5 0.008368710055947304f
#define LCV_VM_EXP_C6 0.0013814610429108143f

/* tanh(x) = x + x^3 * (T0 + T1 x^2 + ... + T4 x^8) for |x| < TANH_SMALL (relative error of
 * tanh(x) - x: 1.4e-9), else sign(x) * (1 - e) / (1 + e) with e = exp(-2|x|). */
#define LCV_VM_TANH_SMALL 0.5625f
#define LCV_VM_TANH_T0 -0.3333331346511841f
#define LCV_VM_TANH_T1 0.1333245187997818f
#define LCV_VM_TANH_T2 -0.05383743345737457f
#define LCV_VM_TANH_T3 0.021007467061281204f
#define LCV_VM_TANH_T4 -0.0061798193491995335f

/* erf(|x|) on [0, 4) in 8 intervals [i/2, i/2 + 1/2): a degree-7 polynomial in t = |x| - c_i,
 * c_i the interval's centre except c_0 = 0 with a zero constant term, so erf keeps its relative
 * accuracy near 0. Absolute error before rounding <= 7.6e-9 relative near 0, 7e-10 elsewhere;
 * erf(x) rounds to 1 in float for |x| >= 3.92, so |x| is clamped to 4. Index [k][i]:
 * coefficient of t^k for interval i. */
#define LCV_VM_ERF_CLAMP 4.0f
static const float lcv_vm_erf_centre[8] = {0.0f, 0.75f, 1.25f, 1.75f, 2.25f, 2.75f, 3.25f, 3.75f};
static const float lcv_vm_erf_coef[8][8] = {
    {0.000000000e+00f, 7.111556530e-01f, 9.229001403e-01f, 9.866716862e-01f, 9.985373020e-01f,
     9.998993874e-01f, 9.999957085e-01f, 9.999998808e-01f},
    {1.128379226e+00f, 6.429310441e-01f, 2.365211248e-01f, 5.277499557e-02f, 7.142319344e-03f,
     5.862773396e-04f, 2.918900100e-05f, 8.814262173e-07f},
    {-1.623313892e-06f, -4.821981490e-01f, -2.956517339e-01f, -9.235620499e-02f,
     -1.607015729e-02f, -1.612267341e-03f, -9.486932686e-05f, -3.306070539e-06f},
    {-3.760763407e-01f, 2.678815462e-02f, 1.675359309e-01f, 9.015743434e-02f, 2.172449417e-02f,
     2.760376548e-03f, 1.958139910e-04f, 7.970661500e-06f},
    {-5.740644410e-04f, 1.506757587e-01f, -6.132055540e-03f, -4.810548946e-02f,
     -1.908825338e-02f, -3.257713048e-03f, -2.861695539e-04f, -1.378542675e-05f},
    {1.159145758e-01f, -5.321077257e-02f, -4.718795419e-02f, 6.617027801e-03f, 1.066066977e-02f,
     2.756412374e-03f, 3.135854786e-04f, 1.831937334e-05f},
    {-8.071577176e-03f, -2.658424340e-02f, 2.059795707e-02f, 9.049122222e-03f, -2.779600443e-03f,
     -1.667821896e-03f, -2.737570030e-04f, -2.069223774e-05f},
    {-1.793262362e-02f, 1.782744564e-02f, 3.757902654e-03f, -5.919797812e-03f, -7.271070499e-04f,
     6.347001763e-04f, 1.739930303e-04f, 1.724242065e-05f}};

#endif
