// C-simulation testbench of the convolution engines (lif_conv_transpose.h, conv_encoder.h),
// driven by tests/test_hls_engines_b.py, which computes the expected values with the golden
// model and compares them with what this program writes.
//
//   tb_engines_b CASES.bin RESULTS.bin
//
// Both files are little-endian int32 words.
// CASES:   magic 0x42565346 ("FSVB"), version 1, number of cases, then per case:
//   header  kind CIN COUT IH IW K S PAD OUTPAD P ACC_BITS MEM_BITS T threshold
//           kind 1 = LIF convT, 2 = convT currents (non-spiking), 3 = LIF conv on events,
//           4 = image conv + LIF
//   weight  CIN*K*K*COUT words, layout [CIN][K][K][COUT];  bias  COUT words
//   input   kinds 1-3: per step t < T: n, then n event indices;  kind 4: image IH*IW*CIN
//           (channel-last)
// RESULTS: magic, version, number of cases, then per case (NOUT = OH*OW*COUT, channel-last):
//   kind 4 first: the image current, NOUT words
//   per step: kind 2: currents (NOUT); kinds 1, 3, 4: spikes (NOUT), membranes (NOUT),
//             n_out, then n_out output event indices
// The engines are templates: every (kind, geometry, P, widths) the test uses is instantiated
// in INSTANCES below; a case with no instance is an error.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "fsvae/conv_encoder.h"
#include "fsvae/lif_conv_transpose.h"

namespace {

const int32_t MAGIC = 0x42565346;
const int32_t VERSION = 1;

struct Input {
    std::vector<int32_t> w;
    size_t pos = 0;
    int32_t next() {
        if (pos >= w.size()) {
            std::fprintf(stderr, "tb: input file truncated\n");
            std::exit(2);
        }
        return w[pos++];
    }
};

struct Output {
    std::vector<int32_t> w;
    void put(int32_t v) { w.push_back(v); }
};

struct Header {
    int kind, cin, cout, ih, iw, k, s, pad, outpad, p, accb, memb, t, threshold;
};

template <int CIN, int COUT, int K, typename W_T>
void read_weight(Input &in, W_T weight[CIN * K * K][COUT]) {
    for (int r = 0; r < CIN * K * K; ++r)
        for (int c = 0; c < COUT; ++c) weight[r][c] = in.next();
}

template <int N>
int read_events(Input &in, fsvae::index_t ev[N]) {
    const int n = in.next();
    if (n < 0 || n > N) {
        std::fprintf(stderr, "tb: bad event count %d (max %d)\n", n, N);
        std::exit(2);
    }
    int prev = -1;
    for (int i = 0; i < n; ++i) {
        const int v = in.next();
        if (v <= prev || v >= N) {
            std::fprintf(stderr, "tb: events must be ascending indices < %d\n", N);
            std::exit(2);
        }
        ev[i] = v;
        prev = v;
    }
    return n;
}

template <int NPOS, int COUT, typename MEM_T>
void write_lif(Output &out, fsvae::spike_t spk[NPOS][COUT], MEM_T mem[NPOS][COUT],
               fsvae::index_t out_ev[NPOS * COUT], fsvae::index_t out_n) {
    for (int i = 0; i < NPOS; ++i)
        for (int c = 0; c < COUT; ++c) out.put(int(spk[i][c]));
    for (int i = 0; i < NPOS; ++i)
        for (int c = 0; c < COUT; ++c) out.put(int(mem[i][c]));
    out.put(int(out_n));
    for (int i = 0; i < int(out_n); ++i) out.put(int(out_ev[i]));
}

template <int NPOS, int COUT, typename ACC_T>
void write_map(Output &out, ACC_T a[NPOS][COUT]) {
    for (int i = 0; i < NPOS; ++i)
        for (int c = 0; c < COUT; ++c) out.put(int(a[i][c]));
}

// kind 1 (spiking) and 2 (currents): transposed convolution
template <int CIN, int COUT, int IH, int IW, int K, int S, int PAD, int OUTPAD, int P, int ACCB, int MEMB>
void run_convT(Input &in, Output &out, const Header &h) {
    typedef ap_int<8> w_t;
    typedef ap_int<ACCB> b_t;
    typedef ap_int<ACCB> acc_t;
    typedef ap_int<MEMB> mem_t;
    static const int NPOS = fsvae::conv_transpose_out(IH, K, S, PAD, OUTPAD) *
                            fsvae::conv_transpose_out(IW, K, S, PAD, OUTPAD);
    static w_t weight[CIN * K * K][COUT];
    static b_t bias[COUT];
    static acc_t acc[NPOS][COUT];
    static mem_t mem[NPOS][COUT];
    static fsvae::spike_t spk[NPOS][COUT];
    static fsvae::index_t in_ev[IH * IW * CIN];
    static fsvae::index_t out_ev[NPOS * COUT];
    read_weight<CIN, COUT, K>(in, weight);
    for (int c = 0; c < COUT; ++c) bias[c] = in.next();
    for (int t = 0; t < h.t; ++t) {
        const int n = read_events<IH * IW * CIN>(in, in_ev);
        if (h.kind == 1) {
            fsvae::index_t out_n = 0;
            fsvae::lif_conv_transpose<CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P>(
                in_ev, fsvae::index_t(n), weight, bias, acc, mem, spk, mem_t(h.threshold), t == 0,
                out_ev, out_n);
            write_lif<NPOS, COUT>(out, spk, mem, out_ev, out_n);
        } else {
            fsvae::conv_transpose_currents<CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P>(
                in_ev, fsvae::index_t(n), weight, bias, acc);
            write_map<NPOS, COUT>(out, acc);
        }
    }
}

// kind 3: LIF convolution on events
template <int CIN, int COUT, int IH, int IW, int K, int S, int PAD, int P, int ACCB, int MEMB>
void run_conv_events(Input &in, Output &out, const Header &h) {
    typedef ap_int<8> w_t;
    typedef ap_int<ACCB> b_t;
    typedef ap_int<ACCB> acc_t;
    typedef ap_int<MEMB> mem_t;
    static const int NPOS = fsvae::conv_out(IH, K, S, PAD) * fsvae::conv_out(IW, K, S, PAD);
    static w_t weight[CIN * K * K][COUT];
    static b_t bias[COUT];
    static acc_t acc[NPOS][COUT];
    static mem_t mem[NPOS][COUT];
    static fsvae::spike_t spk[NPOS][COUT];
    static fsvae::index_t in_ev[IH * IW * CIN];
    static fsvae::index_t out_ev[NPOS * COUT];
    read_weight<CIN, COUT, K>(in, weight);
    for (int c = 0; c < COUT; ++c) bias[c] = in.next();
    for (int t = 0; t < h.t; ++t) {
        const int n = read_events<IH * IW * CIN>(in, in_ev);
        fsvae::index_t out_n = 0;
        fsvae::lif_conv_events<CIN, COUT, IH, IW, K, S, PAD, P>(
            in_ev, fsvae::index_t(n), weight, bias, acc, mem, spk, mem_t(h.threshold), t == 0, out_ev, out_n);
        write_lif<NPOS, COUT>(out, spk, mem, out_ev, out_n);
    }
}

// kind 4: image convolution once, then LIF on the constant current
template <int CIN, int COUT, int IH, int IW, int K, int S, int PAD, int P, int ACCB, int MEMB>
void run_conv_image(Input &in, Output &out, const Header &h) {
    typedef ap_int<8> pix_t;
    typedef ap_int<8> w_t;
    typedef ap_int<ACCB> b_t;
    typedef ap_int<ACCB> acc_t;
    typedef ap_int<MEMB> mem_t;
    static const int OH = fsvae::conv_out(IH, K, S, PAD);
    static const int OW = fsvae::conv_out(IW, K, S, PAD);
    static w_t weight[CIN * K * K][COUT];
    static b_t bias[COUT];
    static pix_t img[IH * IW][CIN];
    static acc_t cur[OH * OW][COUT];
    static mem_t mem[OH * OW][COUT];
    static fsvae::spike_t spk[OH * OW][COUT];
    static fsvae::index_t out_ev[OH * OW * COUT];
    read_weight<CIN, COUT, K>(in, weight);
    for (int c = 0; c < COUT; ++c) bias[c] = in.next();
    for (int i = 0; i < IH * IW; ++i)
        for (int c = 0; c < CIN; ++c) img[i][c] = in.next();
    fsvae::conv_image<CIN, COUT, IH, IW, K, S, PAD, P>(img, weight, bias, cur);
    write_map<OH * OW, COUT>(out, cur);
    for (int t = 0; t < h.t; ++t) {
        fsvae::index_t out_n = 0;
        fsvae::lif_conv_image<COUT, OH, OW, P>(cur, mem, spk, mem_t(h.threshold), t == 0, out_ev, out_n);
        write_lif<OH * OW, COUT>(out, spk, mem, out_ev, out_n);
    }
}

bool match(const Header &h, int kind, int cin, int cout, int ih, int iw, int k, int s, int pad,
           int outpad, int p, int accb, int memb) {
    return h.kind == kind && h.cin == cin && h.cout == cout && h.ih == ih && h.iw == iw && h.k == k &&
           h.s == s && h.pad == pad && h.outpad == outpad && h.p == p && h.accb == accb && h.memb == memb;
}

}  // namespace

// The instances the Python test uses (keep in sync with CONFIGS in tests/test_hls_engines_b.py).
#define CONVT(KIND, CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P, ACCB, MEMB)                          \
    if (match(h, KIND, CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P, ACCB, MEMB)) {                    \
        run_convT<CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P, ACCB, MEMB>(in, out, h);               \
        return true;                                                                              \
    }
#define CONV_EVENTS(CIN, COUT, IH, IW, K, S, PAD, P, ACCB, MEMB)                                  \
    if (match(h, 3, CIN, COUT, IH, IW, K, S, PAD, 0, P, ACCB, MEMB)) {                            \
        run_conv_events<CIN, COUT, IH, IW, K, S, PAD, P, ACCB, MEMB>(in, out, h);                 \
        return true;                                                                              \
    }
#define CONV_IMAGE(CIN, COUT, IH, IW, K, S, PAD, P, ACCB, MEMB)                                   \
    if (match(h, 4, CIN, COUT, IH, IW, K, S, PAD, 0, P, ACCB, MEMB)) {                            \
        run_conv_image<CIN, COUT, IH, IW, K, S, PAD, P, ACCB, MEMB>(in, out, h);                  \
        return true;                                                                              \
    }

static bool dispatch(const Header &h, Input &in, Output &out) {
    // LIF transposed convolutions (decoder.*)
    CONVT(1, 3, 4, 4, 4, 3, 2, 1, 1, 1, 16, 17)
    CONVT(1, 3, 4, 4, 4, 3, 2, 1, 1, 2, 16, 17)
    CONVT(1, 3, 4, 4, 4, 3, 2, 1, 1, 4, 16, 17)
    CONVT(1, 2, 4, 3, 5, 3, 2, 1, 1, 2, 24, 25)
    CONVT(1, 2, 2, 3, 2, 4, 2, 1, 0, 2, 16, 17)
    // non-spiking transposed convolutions (the output layer: K3 S1 P1)
    CONVT(2, 4, 1, 8, 8, 3, 1, 1, 0, 1, 16, 17)
    CONVT(2, 3, 2, 5, 4, 3, 1, 1, 0, 2, 16, 17)
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
    return false;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s CASES.bin RESULTS.bin\n", argv[0]);
        return 2;
    }
    Input in;
    {
        FILE *f = std::fopen(argv[1], "rb");
        if (!f) {
            std::fprintf(stderr, "tb: cannot open %s\n", argv[1]);
            return 2;
        }
        int32_t v;
        while (std::fread(&v, sizeof v, 1, f) == 1) in.w.push_back(v);   // host is little-endian (x86/ARM)
        std::fclose(f);
    }
    if (in.next() != MAGIC || in.next() != VERSION) {
        std::fprintf(stderr, "tb: %s is not a version-%d FSVB file\n", argv[1], VERSION);
        return 2;
    }
    const int n_cases = in.next();
    Output out;
    out.put(MAGIC);
    out.put(VERSION);
    out.put(n_cases);
    for (int i = 0; i < n_cases; ++i) {
        Header h;
        int *fields[] = {&h.kind, &h.cin, &h.cout, &h.ih, &h.iw, &h.k, &h.s, &h.pad, &h.outpad,
                         &h.p, &h.accb, &h.memb, &h.t, &h.threshold};
        for (int *field : fields) *field = in.next();
        if (!dispatch(h, in, out)) {
            std::fprintf(stderr,
                         "tb: case %d has no compiled instance (kind %d CIN %d COUT %d IH %d IW %d K %d S %d "
                         "PAD %d OUTPAD %d P %d ACC %d MEM %d)\n",
                         i, h.kind, h.cin, h.cout, h.ih, h.iw, h.k, h.s, h.pad, h.outpad, h.p, h.accb, h.memb);
            return 3;
        }
    }
    if (in.pos != in.w.size()) {
        std::fprintf(stderr, "tb: %zu trailing words in %s\n", in.w.size() - in.pos, argv[1]);
        return 2;
    }
    FILE *f = std::fopen(argv[2], "wb");
    if (!f || std::fwrite(out.w.data(), sizeof(int32_t), out.w.size(), f) != out.w.size()) {
        std::fprintf(stderr, "tb: cannot write %s\n", argv[2]);
        return 2;
    }
    std::fclose(f);
    std::printf("tb_engines_b: %d cases OK\n", n_cases);
    return 0;
}
