// C-simulation testbench of the encoder convolution engines (conv_encoder.h): lif_conv_events
// (kind 3) and conv_image + lif_conv_image (kind 4), driven by
// tests/hls_engines/test_conv_encoder.py.  Case format: tb_conv.h.  Built with
// FSVAE_CHECK_DEPENDENCE: every scatter checks its DEPENDENCE pragma distance at run time.
#include "fsvae/conv_encoder.h"
#include "tb_conv.h"

// kind 3: LIF convolution on events
template <int CIN, int COUT, int IH, int IW, int K, int S, int PAD, int P, int ACCB, int MEMB>
static void run_conv_events(ConvCase &cc) {
    typedef ap_int<8> w_t;
    typedef ap_int<ACCB> acc_t;
    typedef ap_int<MEMB> mem_t;
    static const int NPOS = fsvae::conv_out(IH, K, S, PAD) * fsvae::conv_out(IW, K, S, PAD);
    static w_t weight[CIN * K * K][COUT];
    static acc_t bias[COUT];
    static acc_t acc[NPOS][COUT];
    static mem_t mem[NPOS][COUT];
    static fsvae::spike_t spk[NPOS][COUT];
    static fsvae::index_t in_ev[IH * IW * CIN];
    static fsvae::index_t out_ev[NPOS * COUT];
    cc.read_layer<CIN * K * K, COUT>(weight, bias);
    const mem_t threshold = tbv::fit<mem_t>(cc.threshold, "threshold does not fit MEM_T");
    LifOutputs<NPOS, COUT> lif(cc);
    for (int t = 0; t < cc.steps; ++t) {
        const int n = cc.read_events<IH * IW * CIN>(t, in_ev);
        fsvae::index_t out_n = 0;
        fsvae::lif_conv_events<CIN, COUT, IH, IW, K, S, PAD, P>(
            in_ev, fsvae::index_t(n), weight, bias, acc, mem, spk, threshold, t == 0, out_ev, out_n);
        lif.put(spk, mem, out_ev, out_n);
    }
}

// kind 4: image convolution once, then LIF on the constant current
template <int CIN, int COUT, int IH, int IW, int K, int S, int PAD, int P, int ACCB, int MEMB>
static void run_conv_image(ConvCase &cc) {
    typedef ap_int<8> pix_t;
    typedef ap_int<8> w_t;
    typedef ap_int<ACCB> acc_t;
    typedef ap_int<MEMB> mem_t;
    static const int OH = fsvae::conv_out(IH, K, S, PAD);
    static const int OW = fsvae::conv_out(IW, K, S, PAD);
    static w_t weight[CIN * K * K][COUT];
    static acc_t bias[COUT];
    static pix_t img[IH * IW][CIN];
    static acc_t cur[OH * OW][COUT];
    static mem_t mem[OH * OW][COUT];
    static fsvae::spike_t spk[OH * OW][COUT];
    static fsvae::index_t out_ev[OH * OW * COUT];
    cc.read_layer<CIN * K * K, COUT>(weight, bias);
    const mem_t threshold = tbv::fit<mem_t>(cc.threshold, "threshold does not fit MEM_T");
    const tbv::Array &image = cc.in.get(cc.key("image"), {IH * IW, CIN});
    for (int i = 0; i < IH * IW; ++i)
        for (int c = 0; c < CIN; ++c) img[i][c] = tbv::fit<pix_t>(image[size_t(i * CIN + c)], "pixel not int8");
    fsvae::conv_image<CIN, COUT, IH, IW, K, S, PAD, P>(img, weight, bias, cur);
    cc.put_map<OH * OW, COUT>(cc.out.add(cc.key("current"), {OH * OW, COUT}), cur);
    LifOutputs<OH * OW, COUT> lif(cc);
    for (int t = 0; t < cc.steps; ++t) {
        fsvae::index_t out_n = 0;
        fsvae::lif_conv_image<COUT, OH, OW, P>(cur, mem, spk, threshold, t == 0, out_ev, out_n);
        lif.put(spk, mem, out_ev, out_n);
    }
}

// The instances the test uses (keep in sync with CONFIGS in tests/hls_engines/conv_cases.py).
#define CONV_EVENTS(CIN, COUT, IH, IW, K, S, PAD, P, ACCB, MEMB)                                  \
    if (cc.is({3, CIN, COUT, IH, IW, K, S, PAD, 0, P, ACCB, MEMB}))                               \
        return run_conv_events<CIN, COUT, IH, IW, K, S, PAD, P, ACCB, MEMB>(cc);
#define CONV_IMAGE(CIN, COUT, IH, IW, K, S, PAD, P, ACCB, MEMB)                                   \
    if (cc.is({4, CIN, COUT, IH, IW, K, S, PAD, 0, P, ACCB, MEMB}))                               \
        return run_conv_image<CIN, COUT, IH, IW, K, S, PAD, P, ACCB, MEMB>(cc);

static void dispatch(ConvCase &cc) {
    // LIF convolutions on events (encoder.1-3)
    CONV_EVENTS(8, 4, 8, 8, 3, 2, 1, 1, 18, 19)
    CONV_EVENTS(8, 4, 8, 8, 3, 2, 1, 2, 18, 19)
    CONV_EVENTS(8, 4, 8, 8, 3, 2, 1, 4, 18, 19)
    CONV_EVENTS(3, 4, 7, 6, 3, 2, 1, 2, 16, 17)
    // image convolutions (encoder.0)
    CONV_IMAGE(1, 4, 8, 8, 3, 2, 1, 1, 19, 20)
    CONV_IMAGE(1, 4, 8, 8, 3, 2, 1, 2, 19, 20)
    CONV_IMAGE(1, 4, 8, 8, 3, 2, 1, 4, 19, 20)
    CONV_IMAGE(3, 4, 7, 6, 3, 2, 1, 2, 21, 22)
    tbv::die("case %lld has no compiled instance", (long long)cc.c);
}

int main(int argc, char **argv) {
    return tbv::run(argc, argv, "tb_conv_encoder", [](tbv::Inputs &in, tbv::Outputs &out) {
        for (int64_t c = 0, n = in.cases("conv"); c < n; ++c) {
            ConvCase cc(in, out, c);
            dispatch(cc);
        }
    });
}
