// C-simulation testbench of the transposed-convolution engines (lif_conv_transpose.h):
// lif_conv_transpose (kind 1) and conv_transpose_currents (kind 2), driven by
// tests/hls_engines/test_lif_conv_transpose.py.  Case format: tb_conv.h.  Built with
// FSVAE_CHECK_DEPENDENCE: every scatter checks its DEPENDENCE pragma distance at run time.
#include "fsvae/lif_conv_transpose.h"
#include "tb_conv.h"

template <int CIN, int COUT, int IH, int IW, int K, int S, int PAD, int OUTPAD, int P, int ACCB, int MEMB>
static void run_convT(ConvCase &cc) {
    typedef ap_int<8> w_t;
    typedef ap_int<ACCB> acc_t;
    typedef ap_int<MEMB> mem_t;
    static const int NPOS = fsvae::conv_transpose_out(IH, K, S, PAD, OUTPAD) *
                            fsvae::conv_transpose_out(IW, K, S, PAD, OUTPAD);
    static w_t weight[CIN * K * K][COUT];
    static acc_t bias[COUT];
    static acc_t acc[NPOS][COUT];
    static mem_t mem[NPOS][COUT];
    static fsvae::spike_t spk[NPOS][COUT];
    static fsvae::index_t in_ev[IH * IW * CIN];
    static fsvae::index_t out_ev[NPOS * COUT];
    cc.read_layer<CIN * K * K, COUT>(weight, bias);
    const mem_t threshold = tbv::fit<mem_t>(cc.threshold, "threshold does not fit MEM_T");
    if (cc.kind() == 1) {
        LifOutputs<NPOS, COUT> lif(cc);
        for (int t = 0; t < cc.steps; ++t) {
            const int n = cc.read_events<IH * IW * CIN>(t, in_ev);
            fsvae::index_t out_n = 0;
            fsvae::lif_conv_transpose<CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P>(
                in_ev, fsvae::index_t(n), weight, bias, acc, mem, spk, threshold, t == 0, out_ev, out_n);
            lif.put(spk, mem, out_ev, out_n);
        }
    } else {
        tbv::Array &currents = cc.out.add(cc.key("currents"), {cc.steps, NPOS, COUT});
        for (int t = 0; t < cc.steps; ++t) {
            const int n = cc.read_events<IH * IW * CIN>(t, in_ev);
            fsvae::conv_transpose_currents<CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P>(
                in_ev, fsvae::index_t(n), weight, bias, acc);
            cc.put_map<NPOS, COUT>(currents, acc);
        }
    }
}

// The instances the test uses (keep in sync with CONFIGS in tests/hls_engines/conv_cases.py).
#define CONVT(KIND, CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P, ACCB, MEMB)                          \
    if (cc.is({KIND, CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P, ACCB, MEMB}))                       \
        return run_convT<CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P, ACCB, MEMB>(cc);

static void dispatch(ConvCase &cc) {
    // LIF transposed convolutions (decoder.*)
    CONVT(1, 3, 4, 4, 4, 3, 2, 1, 1, 1, 16, 17)
    CONVT(1, 3, 4, 4, 4, 3, 2, 1, 1, 2, 16, 17)
    CONVT(1, 3, 4, 4, 4, 3, 2, 1, 1, 4, 16, 17)
    CONVT(1, 2, 4, 3, 5, 3, 2, 1, 1, 2, 24, 25)
    CONVT(1, 2, 2, 3, 2, 4, 2, 1, 0, 2, 16, 17)
    // non-spiking transposed convolutions (the output layer: K3 S1 P1)
    CONVT(2, 4, 1, 8, 8, 3, 1, 1, 0, 1, 16, 17)
    CONVT(2, 3, 2, 5, 4, 3, 1, 1, 0, 2, 16, 17)
    tbv::die("case %lld has no compiled instance", (long long)cc.c);
}

int main(int argc, char **argv) {
    return tbv::run(argc, argv, "tb_lif_conv_transpose", [](tbv::Inputs &in, tbv::Outputs &out) {
        for (int64_t c = 0, n = in.cases("conv"); c < n; ++c) {
            ConvCase cc(in, out, c);
            dispatch(cc);
        }
    });
}
