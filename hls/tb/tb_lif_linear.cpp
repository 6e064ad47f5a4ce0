// C-simulation testbench of lif_linear_step and lif_linear_step_pairs (lif_linear.h) fed by
// spikes_to_events (event_list.h), driven by tests/hls_engines/test_lif_linear.py.  Vectors:
// hls/tb/tb_vectors.h.
//
//   group "lif", per case: config (scalar, an instantiation below), pairs (scalar 0/1: the
//     paired scatter, for instantiations with G = OUT / P >= 2), threshold (scalar),
//     weight (IN, OUT) ([in][out]), bias (OUT), membrane0 (OUT), spikes0 (OUT),
//     first (T) 0/1 (first[0] = 1: start of an image), x (T, IN) 0/1
//     -> count (T,), events (T, IN) (the event buffer, 0xFFFF past count), membrane (T, OUT),
//        spikes (T, OUT): after each step
#include <vector>

#include "fsvae/event_list.h"
#include "fsvae/lif_linear.h"
#include "tb_vectors.h"

using namespace fsvae;
using tbv::fit;

// The engine a case runs: one event a scatter, or two (PAIRS).
template <bool PAIRS>
struct Engine {
    template <int IN, int OUT, int P, typename W_T, typename B_T, typename ACC_T, typename U_T>
    static void step(const index_t events[IN], index_t count, const W_T weight[IN][OUT], const B_T bias[OUT],
                     U_T membrane[OUT], spike_t spikes[OUT], ACC_T threshold, bool first_step) {
        lif_linear_step<IN, OUT, P, W_T, B_T, ACC_T, U_T>(events, count, weight, bias, membrane, spikes,
                                                           threshold, first_step);
    }
};

template <>
struct Engine<true> {
    template <int IN, int OUT, int P, typename W_T, typename B_T, typename ACC_T, typename U_T>
    static void step(const index_t events[IN], index_t count, const W_T weight[IN][OUT], const B_T bias[OUT],
                     U_T membrane[OUT], spike_t spikes[OUT], ACC_T threshold, bool first_step) {
        lif_linear_step_pairs<IN, OUT, P, W_T, B_T, ACC_T, U_T>(events, count, weight, bias, membrane, spikes,
                                                                 threshold, first_step);
    }
};

template <bool PAIRS, int IN, int OUT, int P, typename W_T, typename B_T, typename ACC_T, typename U_T>
static void run_lif(tbv::Inputs &in, tbv::Outputs &out, int64_t c) {
    auto field = [c](const char *name) { return tbv::key("lif", c, name); };
    const ACC_T threshold = fit<ACC_T>(in.scalar(field("threshold"), INT64_MIN, INT64_MAX),
                                       "LIF: threshold does not fit ACC_T");
    const tbv::Array &w = in.get(field("weight"), {IN, OUT});
    const tbv::Array &b = in.get(field("bias"), {OUT});
    const tbv::Array &m0 = in.get(field("membrane0"), {OUT});
    const tbv::Array &s0 = in.get(field("spikes0"), {OUT});
    const tbv::Array &first = in.get(field("first"), {-1});
    const int64_t T = first.dim(0);
    if (T < 1 || T > 1000) tbv::die("LIF: bad T %lld", (long long)T);
    const tbv::Array &x = in.get(field("x"), {T, IN});
    static W_T weight[IN][OUT];
    static B_T bias[OUT];
    static U_T membrane[OUT];
    static spike_t spikes[OUT];
    for (int i = 0; i < IN; ++i)
        for (int o = 0; o < OUT; ++o)
            weight[i][o] = fit<W_T>(w[size_t(i * OUT + o)], "LIF: weight does not fit W_T");
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
        Engine<PAIRS>::template step<IN, OUT, P, W_T, B_T, ACC_T, U_T>(events, count, weight, bias, membrane,
                                                                        spikes, threshold, first_step);
        count_out.put(count.to_int64());
        for (int i = 0; i < IN; ++i) events_out.put(events[i].to_int64());
        for (int o = 0; o < OUT; ++o) membrane_out.put(membrane[o].to_int64());
        for (int o = 0; o < OUT; ++o) spikes_out.put(spikes[o].to_int64());
    }
}

// A case's engine; G = 1 has no paired one (a pair fetches its two events in two iterations).
template <int IN, int OUT, int P, typename W_T, typename B_T, typename ACC_T, typename U_T>
static void run_config(tbv::Inputs &in, tbv::Outputs &out, int64_t c) {
    static const bool CAN_PAIR = OUT / P >= 2;
    if (in.scalar(tbv::key("lif", c, "pairs"), 0, 1)) {
        if (!CAN_PAIR) tbv::die("LIF: pairs need G = OUT / P >= 2");
        run_lif<CAN_PAIR, IN, OUT, P, W_T, B_T, ACC_T, U_T>(in, out, c);
    } else {
        run_lif<false, IN, OUT, P, W_T, B_T, ACC_T, U_T>(in, out, c);
    }
}

// Instantiations: (IN, OUT, P) shapes with G = OUT/P of 12, 1, 5, 7 and 2.
//   narrow: int8 weights, 32-bit bias, 25-bit current, 26-bit membrane (|values| < 2^24 as
//           the hardware-model loader guarantees);  wide: 40/42 bits, for int32-extreme biases.
typedef ap_int<8> w8_t;
typedef ap_int<32> b32_t;
typedef ap_int<25> acc25_t;
typedef ap_int<26> u26_t;
typedef ap_int<40> acc40_t;
typedef ap_int<42> u42_t;

int main(int argc, char **argv) {
    return tbv::run(argc, argv, "tb_lif_linear", [](tbv::Inputs &in, tbv::Outputs &out) {
        const int64_t n = in.cases("lif");
        for (int64_t c = 0; c < n; ++c) {
            switch (in.scalar(tbv::key("lif", c, "config"), 0, 4)) {
            case 0: run_config<64, 48, 4, w8_t, b32_t, acc25_t, u26_t>(in, out, c); break;
            case 1: run_config<16, 8, 8, w8_t, b32_t, acc40_t, u42_t>(in, out, c); break;
            case 2: run_config<37, 15, 3, w8_t, b32_t, acc25_t, u26_t>(in, out, c); break;
            case 3: run_config<20, 7, 1, w8_t, b32_t, acc25_t, u26_t>(in, out, c); break;
            default: run_config<9, 8, 4, w8_t, b32_t, acc25_t, u26_t>(in, out, c); break;
            }
        }
    });
}
