// What the convolution testbenches (tb_lif_conv_transpose.cpp, tb_conv_encoder.cpp) share:
// reading one case of group "conv" and writing its LIF results.  Vectors: tb_vectors.h.
//
// Inputs of case i ("conv.<i>.<field>"):
//   geometry (12)  kind CIN COUT IH IW K S PAD OUTPAD P ACC_BITS MEM_BITS; kind 1 = LIF convT,
//                  2 = convT currents (non-spiking), 3 = LIF conv on events, 4 = image conv + LIF
//   threshold, steps (scalars);  weight (CIN*K*K, COUT), layout [CIN][K][K][COUT];  bias (COUT)
//   kinds 1-3: count (steps), events (sum of count): each step's ascending input event indices
//              (ih*IW + iw)*CIN + c, one step after the other
//   kind 4:    image (IH*IW, CIN), channel-last
// Outputs (NPOS = OH*OW, channel-last):
//   kind 4 first: current (NPOS, COUT), the image current
//   kind 2: currents (steps, NPOS, COUT)
//   kinds 1, 3, 4: spikes, membrane (steps, NPOS, COUT);  count (steps), events (sum of count):
//              each step's output events, as the input events
// The engines are templates: every (kind, geometry, P, widths) a test uses is instantiated in
// the testbench; a case with no instance is an error.
#ifndef FSVAE_TB_CONV_H
#define FSVAE_TB_CONV_H

#include "fsvae/types.h"
#include "tb_vectors.h"

struct ConvCase {
    tbv::Inputs &in;
    tbv::Outputs &out;
    int64_t c;
    int64_t geometry[12];
    int64_t threshold, steps;
    size_t next_event;   // read position in the input events

    ConvCase(tbv::Inputs &in_, tbv::Outputs &out_, int64_t c_) : in(in_), out(out_), c(c_), next_event(0) {
        const tbv::Array &g = in.get(key("geometry"), {12});
        for (int i = 0; i < 12; ++i) geometry[i] = g[size_t(i)];
        threshold = in.scalar(key("threshold"), INT32_MIN, INT32_MAX);
        steps = in.scalar(key("steps"), 1, 1000);
    }
    std::string key(const char *field) const { return tbv::key("conv", c, field); }
    int kind() const { return int(geometry[0]); }
    bool is(std::initializer_list<int64_t> g) const {
        size_t i = 0;
        for (int64_t v : g)
            if (geometry[i++] != v) return false;
        return true;
    }

    template <int ROWS, int COUT, typename W_T, typename B_T>
    void read_layer(W_T weight[ROWS][COUT], B_T bias[COUT]) {
        const tbv::Array &w = in.get(key("weight"), {ROWS, COUT});
        for (int r = 0; r < ROWS; ++r)
            for (int o = 0; o < COUT; ++o)
                weight[r][o] = tbv::fit<W_T>(w[size_t(r * COUT + o)], "weight does not fit W_T");
        const tbv::Array &b = in.get(key("bias"), {COUT});
        for (int o = 0; o < COUT; ++o) bias[o] = tbv::fit<B_T>(b[size_t(o)], "bias does not fit B_T");
    }

    // Step t's input events into ev; returns their number.
    template <int N>
    int read_events(int64_t t, fsvae::index_t ev[N]) {
        const tbv::Array &count = in.get(key("count"), {steps});
        const tbv::Array &events = in.get(key("events"), {-1});
        const int64_t n = count[size_t(t)];
        if (n < 0 || n > N || next_event + size_t(n) > events.data.size())
            tbv::die("bad event count %lld at step %lld (max %d)", (long long)n, (long long)t, N);
        int64_t prev = -1;
        for (int64_t i = 0; i < n; ++i) {
            const int64_t v = events[next_event++];
            if (v <= prev || v >= N) tbv::die("events must be ascending indices < %d", N);
            ev[i] = fsvae::index_t(v);
            prev = v;
        }
        if (t == steps - 1 && next_event != events.data.size()) tbv::die("more events than the counts say");
        return int(n);
    }

    template <int NPOS, int COUT, typename T>
    void put_map(tbv::Array &a, T map[NPOS][COUT]) const {
        for (int i = 0; i < NPOS; ++i)
            for (int o = 0; o < COUT; ++o) a.put(map[i][o].to_int64());
    }
};

// The LIF results of one case, one step at a time.
template <int NPOS, int COUT>
struct LifOutputs {
    ConvCase &cc;
    tbv::Array &spikes, &membrane, &count, &events;
    explicit LifOutputs(ConvCase &c)
        : cc(c), spikes(c.out.add(c.key("spikes"), {c.steps, NPOS, COUT})),
          membrane(c.out.add(c.key("membrane"), {c.steps, NPOS, COUT})),
          count(c.out.add(c.key("count"), {c.steps})), events(c.out.add(c.key("events"), {0})) {}

    template <typename MEM_T>
    void put(fsvae::spike_t spk[NPOS][COUT], MEM_T mem[NPOS][COUT], const fsvae::index_t out_ev[NPOS * COUT],
             fsvae::index_t out_n) {
        cc.put_map<NPOS, COUT>(spikes, spk);
        cc.put_map<NPOS, COUT>(membrane, mem);
        count.put(out_n.to_int64());
        for (int i = 0; i < int(out_n); ++i) events.put(out_ev[i].to_int64());
        events.dims[0] = int64_t(events.data.size());
    }
};

#endif  // FSVAE_TB_CONV_H
