// C-simulation testbench of lif_linear_step_ddr (lif_linear.h: weight rows from DDR) fed by
// spikes_to_events (event_list.h), driven by tests/hls_engines/test_lif_linear_ddr.py.
// Vectors: hls/tb/tb_vectors.h.
//
//   group "lif", per case: config (scalar, an instantiation below), threshold (scalar),
//     ddr (BYTES) the DDR image of the layer's rows (bytes 0..255, little-endian beats; the
//     test packs it as design.ddr_weight_image does), bias (OUT), membrane0 (OUT),
//     spikes0 (OUT), first (T) 0/1 (first[0] = 1), x (T, IN) 0/1
//     -> count (T,), events (T, IN), membrane (T, OUT), spikes (T, OUT): after each step
#include <vector>

#include "fsvae/event_list.h"
#include "fsvae/lif_linear.h"
#include "tb_vectors.h"

using namespace fsvae;
using tbv::fit;

template <int IN, int OUT, int P, int W_BITS, int STRIDE, int DDR_BITS, typename B_T, typename ACC_T, typename U_T>
static void run_lif(tbv::Inputs &in, tbv::Outputs &out, int64_t c) {
    auto field = [c](const char *name) { return tbv::key("lif", c, name); };
    const int BEAT_BYTES = DDR_BITS / 8;
    const ACC_T threshold = fit<ACC_T>(in.scalar(field("threshold"), INT64_MIN, INT64_MAX),
                                       "LIF: threshold does not fit ACC_T");
    const tbv::Array &d = in.get(field("ddr"), {int64_t(IN) * STRIDE * BEAT_BYTES});
    const tbv::Array &b = in.get(field("bias"), {OUT});
    const tbv::Array &m0 = in.get(field("membrane0"), {OUT});
    const tbv::Array &s0 = in.get(field("spikes0"), {OUT});
    const tbv::Array &first = in.get(field("first"), {-1});
    const int64_t T = first.dim(0);
    if (T < 1 || T > 1000) tbv::die("LIF: bad T %lld", (long long)T);
    const tbv::Array &x = in.get(field("x"), {T, IN});
    // exactly the rows of the layer: a read past them would read past the vector
    std::vector<ap_uint<DDR_BITS> > ddr(static_cast<size_t>(IN) * STRIDE);
    for (size_t i = 0; i < ddr.size(); ++i)
        for (int k = 0; k < BEAT_BYTES; ++k)
            ddr[i].range(8 * k + 7, 8 * k) = fit<ap_uint<8> >(d[i * BEAT_BYTES + k], "LIF: ddr byte not 0..255");
    static B_T bias[OUT];
    static U_T membrane[OUT];
    static spike_t spikes[OUT];
    for (int o = 0; o < OUT; ++o) {
        bias[o] = fit<B_T>(b[size_t(o)], "LIF: bias does not fit B_T");
        membrane[o] = fit<U_T>(m0[size_t(o)], "LIF: membrane0 does not fit U_T");
        spikes[o] = fit<spike_t>(s0[size_t(o)], "LIF: spikes0 not 0/1");
    }
    tbv::Array &count_out = out.add(field("count"), {T});
    tbv::Array &events_out = out.add(field("events"), {T, IN});
    tbv::Array &membrane_out = out.add(field("membrane"), {T, OUT});
    tbv::Array &spikes_out = out.add(field("spikes"), {T, OUT});
    for (int64_t t = 0; t < T; ++t) {
        const bool first_step = fit<ap_uint<1> >(first[size_t(t)], "LIF: first flag not 0/1") != 0;
        spike_t xt[IN];
        index_t events[IN];
        for (int i = 0; i < IN; ++i) {
            xt[i] = fit<spike_t>(x[size_t(t * IN + i)], "LIF: input spike not 0/1");
            events[i] = 0xFFFF;   // poison: entries past count must not be read
        }
        index_t count = 0;
        spikes_to_events<IN>(xt, events, count);
        lif_linear_step_ddr<IN, OUT, P, W_BITS, STRIDE>(events, count, ddr.data(), bias, membrane, spikes,
                                                        threshold, first_step);
        count_out.put(count.to_int64());
        for (int i = 0; i < IN; ++i) events_out.put(events[i].to_int64());
        for (int o = 0; o < OUT; ++o) membrane_out.put(membrane[o].to_int64());
        for (int o = 0; o < OUT; ++o) spikes_out.put(spikes[o].to_int64());
    }
}

// Instantiations (IN, OUT, P, weight bits, row stride in beats, beat bits): the three ways an
// engine word of P*W bits meets a beat (tests/hls_engines/test_lif_linear_ddr.py DDR_CONFIGS):
//   0: 32-bit words, 2 a 64-bit beat, 6 beats a row, rows 8 beats apart (padding between rows)
//   1: 64-bit words = beats, G = 1
//   2: 256-bit words, 4 beats each (KV260 lanes)
//   3: 16-bit words, 4 a beat, G = 3: the row's one beat is partly padding
//   4: 8-bit words (P = 1), 4 a 32-bit beat, G = 7: 2 beats, the last partly padding
typedef ap_int<32> b32_t;
typedef ap_int<25> acc25_t;
typedef ap_int<26> u26_t;
typedef ap_int<40> acc40_t;
typedef ap_int<42> u42_t;

int main(int argc, char **argv) {
    return tbv::run(argc, argv, "tb_lif_linear_ddr", [](tbv::Inputs &in, tbv::Outputs &out) {
        const int64_t n = in.cases("lif");
        for (int64_t c = 0; c < n; ++c) {
            switch (in.scalar(tbv::key("lif", c, "config"), 0, 4)) {
            case 0: run_lif<64, 48, 4, 8, 8, 64, b32_t, acc25_t, u26_t>(in, out, c); break;
            case 1: run_lif<16, 8, 8, 8, 1, 64, b32_t, acc40_t, u42_t>(in, out, c); break;
            case 2: run_lif<20, 96, 32, 8, 16, 64, b32_t, acc25_t, u26_t>(in, out, c); break;
            case 3: run_lif<12, 6, 2, 8, 1, 64, b32_t, acc25_t, u26_t>(in, out, c); break;
            default: run_lif<20, 7, 1, 8, 2, 32, b32_t, acc25_t, u26_t>(in, out, c); break;
            }
        }
    });
}
