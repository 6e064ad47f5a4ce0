// C-simulation testbench of the membrane-output layer (membrane_output.h), driven by
// tests/hls_engines/test_membrane_output.py.  Vectors: hls/tb/tb_vectors.h.
//
//   group "pixel", per case: thresholds (255) non-decreasing, m (n)  -> pixels (n):
//     pixel_from_sum of each m
//   group "output", per case: coef (16), current (16, 16) [t][n], thresholds (255)
//     -> m (16, 16): the sums after each step's output_accumulate;  pixels (16): output_pixels
#include "fsvae/membrane_output.h"
#include "tb_vectors.h"

using namespace fsvae;
using tbv::fit;
using tbv::key;

typedef ap_int<25> cur25_t;   // output current, |I| < 2^24
typedef ap_int<46> sum46_t;   // sum of T <= 16 steps of 17-bit coef x 25-bit current

static void read_thresholds(tbv::Inputs &in, const std::string &name, sum46_t thr[255]) {
    const tbv::Array &a = in.get(name, {255});
    for (int p = 0; p < 255; ++p) thr[p] = fit<sum46_t>(a[size_t(p)], "threshold does not fit M_T");
}

static void pixel_case(tbv::Inputs &in, tbv::Outputs &out, int64_t c) {
    sum46_t thr[255];
    read_thresholds(in, key("pixel", c, "thresholds"), thr);
    const tbv::Array &m = in.get(key("pixel", c, "m"), {-1});
    tbv::Array &pixels = out.add(key("pixel", c, "pixels"), {m.dim(0)});
    for (int64_t v : m.data)
        pixels.put(pixel_from_sum(fit<sum46_t>(v, "PIXEL: m does not fit M_T"), thr).to_int64());
}

static void output_case(tbv::Inputs &in, tbv::Outputs &out, int64_t c) {
    const int N = 16, T = 16;
    const tbv::Array &coef_in = in.get(key("output", c, "coef"), {T});
    const tbv::Array &current_in = in.get(key("output", c, "current"), {T, N});
    coef_t coef[T];
    for (int t = 0; t < T; ++t) coef[t] = fit<coef_t>(coef_in[size_t(t)], "OUTPUT: coef does not fit coef_t");
    static cur25_t current[T][N];
    for (int t = 0; t < T; ++t)
        for (int n = 0; n < N; ++n)
            current[t][n] = fit<cur25_t>(current_in[size_t(t * N + n)], "OUTPUT: current does not fit I_T");
    sum46_t thr[255];
    read_thresholds(in, key("output", c, "thresholds"), thr);
    sum46_t m[N];
    for (int n = 0; n < N; ++n) m[n] = 0x123456789LL;   // garbage: t == 0 must overwrite it
    tbv::Array &m_out = out.add(key("output", c, "m"), {T, N});
    for (int t = 0; t < T; ++t) {
        output_accumulate<T, N, cur25_t, sum46_t>(current[t], coef, t, m);
        for (int n = 0; n < N; ++n) m_out.put(m[n].to_int64());
    }
    ap_uint<8> pixels[N];
    output_pixels<N, sum46_t>(m, thr, pixels);
    tbv::Array &p_out = out.add(key("output", c, "pixels"), {N});
    for (int n = 0; n < N; ++n) p_out.put(pixels[n].to_int64());
}

int main(int argc, char **argv) {
    return tbv::run(argc, argv, "tb_membrane_output", [](tbv::Inputs &in, tbv::Outputs &out) {
        for (int64_t c = 0, n = in.cases("pixel"); c < n; ++c) pixel_case(in, out, c);
        for (int64_t c = 0, n = in.cases("output"); c < n; ++c) output_case(in, out, c);
    });
}
