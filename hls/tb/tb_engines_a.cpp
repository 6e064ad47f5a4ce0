// C-simulation testbench of the engines in event_list.h, lif_linear.h, sampler.h and
// membrane_output.h, driven by tests/test_hls_engines_a.py.
//
// Usage: tb_engines_a <cases.bin> <results.bin>
//
// File format (both files): a flat sequence of little-endian signed 64-bit words.
//   header:  MAGIC, FORMAT_VERSION, number of cases
//   case:    kind, then the kind's fields (below); every result record starts with the kind
//            again.  Arrays are row-major, their lengths implied by the preceding fields.
// 64-bit words because membrane sums (M_T) and 32-bit unsigned sampler words do not fit int32.
//
//   KIND_LIF (1):     config, IN, OUT, T, threshold, weight[IN*OUT] ([in][out]), bias[OUT],
//                     membrane0[OUT], spikes0[OUT], first[T], x[T*IN]
//                     -> per step: count, events[count], membrane[OUT], spikes[OUT]
//   KIND_HASH (2):    n, v[n]                  -> per value: fmix32(v), xorshift32(v)
//   KIND_STREAM (3):  n, n x (seed, image, channel, k, steps)
//                     -> per stream: s0, then steps x (state, index)
//   KIND_PICK (4):    C, K, seed, image, T, spikes[T*C*K]  -> states0[C], z[T*C]
//   KIND_OUTPUT (5):  N, T, coef[T], current[T*N], thresholds[255] -> m[T*N] (after each
//                     step), pixels[N]
//   KIND_PIXEL (6):   thresholds[255], n, m[n]  -> pixels[n]
//
// Any malformed input or value that does not fit its hardware type aborts with exit 2.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "fsvae/event_list.h"
#include "fsvae/lif_linear.h"
#include "fsvae/membrane_output.h"
#include "fsvae/sampler.h"
#include "fsvae/types.h"

using namespace fsvae;

static const int64_t MAGIC = 0x3141454156534646LL;   // "FFSVAEA1" little-endian bytes
static const int64_t FORMAT_VERSION = 1;
enum { KIND_LIF = 1, KIND_HASH = 2, KIND_STREAM = 3, KIND_PICK = 4, KIND_OUTPUT = 5, KIND_PIXEL = 6 };

static void die(const char *what, long long a = 0, long long b = 0) {
    std::fprintf(stderr, "tb_engines_a: %s (%lld, %lld)\n", what, a, b);
    std::exit(2);
}

struct Reader {
    FILE *f;
    int64_t get() {
        int64_t v;
        if (std::fread(&v, sizeof v, 1, f) != 1) die("unexpected end of input");
        return v;
    }
    int64_t get_in(int64_t lo, int64_t hi, const char *what) {
        const int64_t v = get();
        if (v < lo || v > hi) die(what, v, hi);
        return v;
    }
};

struct Writer {
    FILE *f;
    void put(int64_t v) {
        if (std::fwrite(&v, sizeof v, 1, f) != 1) die("write failed");
    }
};

// int64 -> hardware type, refusing values the type cannot hold (no silent wrap-around).
template <typename T>
static T fit(int64_t v, const char *what) {
    T x = v;
    if (x.to_int64() != v) die(what, v);
    return x;
}
template <typename T>
static int64_t wide(const T &x) { return x.to_int64(); }

// --- LIF linear -----------------------------------------------------------------------------
template <int IN, int OUT, int P, typename W_T, typename B_T, typename ACC_T, typename U_T>
static void run_lif(Reader &r, Writer &w) {
    if (r.get() != IN) die("LIF: IN does not match the configuration");
    if (r.get() != OUT) die("LIF: OUT does not match the configuration");
    const int64_t T = r.get_in(1, 1000, "LIF: bad T");
    const ACC_T threshold = fit<ACC_T>(r.get(), "LIF: threshold does not fit ACC_T");
    static W_T weight[IN][OUT];
    static B_T bias[OUT];
    static U_T membrane[OUT];
    static spike_t spikes[OUT];
    for (int i = 0; i < IN; ++i)
        for (int o = 0; o < OUT; ++o) weight[i][o] = fit<W_T>(r.get(), "LIF: weight does not fit W_T");
    for (int o = 0; o < OUT; ++o) bias[o] = fit<B_T>(r.get(), "LIF: bias does not fit B_T");
    for (int o = 0; o < OUT; ++o) membrane[o] = fit<U_T>(r.get(), "LIF: membrane0 does not fit U_T");
    for (int o = 0; o < OUT; ++o) spikes[o] = fit<spike_t>(r.get(), "LIF: spikes0 not 0/1");
    std::vector<bool> first(T);
    for (int64_t t = 0; t < T; ++t) first[t] = r.get_in(0, 1, "LIF: first flag not 0/1") != 0;
    w.put(KIND_LIF);
    for (int64_t t = 0; t < T; ++t) {
        spike_t x[IN];
        index_t events[IN];
        for (int i = 0; i < IN; ++i) {
            x[i] = fit<spike_t>(r.get(), "LIF: input spike not 0/1");
            events[i] = 0xFFFF;   // poison: entries past count must not be read
        }
        index_t count = 0;
        spikes_to_events<IN>(x, events, count);
        lif_linear_step<IN, OUT, P, W_T, B_T, ACC_T, U_T>(events, count, weight, bias, membrane,
                                                           spikes, threshold, first[t]);
        w.put(count.to_int64());
        for (int e = 0; e < int(count); ++e) w.put(events[e].to_int64());
        for (int o = 0; o < OUT; ++o) w.put(wide(membrane[o]));
        for (int o = 0; o < OUT; ++o) w.put(wide(spikes[o]));
    }
}

// Instantiations: (IN, OUT, P) shapes with G = OUT/P of 12, 1, 5 and 7.
//   narrow: int8 weights, 32-bit bias, 25-bit current, 26-bit membrane (|values| < 2^24 as
//           the hardware-model loader guarantees);  wide: 40/42 bits, for int32-extreme biases.
typedef ap_int<8> w8_t;
typedef ap_int<32> b32_t;
typedef ap_int<25> acc25_t;
typedef ap_int<26> u26_t;
typedef ap_int<40> acc40_t;
typedef ap_int<42> u42_t;

static void lif_case(Reader &r, Writer &w) {
    switch (r.get()) {
    case 0: run_lif<64, 48, 4, w8_t, b32_t, acc25_t, u26_t>(r, w); break;
    case 1: run_lif<16, 8, 8, w8_t, b32_t, acc40_t, u42_t>(r, w); break;
    case 2: run_lif<37, 15, 3, w8_t, b32_t, acc25_t, u26_t>(r, w); break;
    case 3: run_lif<20, 7, 1, w8_t, b32_t, acc25_t, u26_t>(r, w); break;
    default: die("LIF: unknown configuration");
    }
}

// --- sampler ----------------------------------------------------------------------------------
static void hash_case(Reader &r, Writer &w) {
    const int64_t n = r.get_in(0, 1 << 20, "HASH: bad n");
    w.put(KIND_HASH);
    for (int64_t i = 0; i < n; ++i) {
        const ap_uint<32> v = fit<ap_uint<32> >(r.get(), "HASH: value not 32-bit unsigned");
        w.put(wide(fmix32(v)));
        w.put(wide(xorshift32(v)));
    }
}

static void stream_case(Reader &r, Writer &w) {
    const int64_t n = r.get_in(0, 1 << 20, "STREAM: bad n");
    w.put(KIND_STREAM);
    for (int64_t i = 0; i < n; ++i) {
        const ap_uint<32> seed = fit<ap_uint<32> >(r.get(), "STREAM: seed not 32-bit");
        const ap_uint<16> image = fit<ap_uint<16> >(r.get(), "STREAM: image not 16-bit");
        const ap_uint<16> channel = fit<ap_uint<16> >(r.get(), "STREAM: channel not 16-bit");
        const ap_uint<9> k = r.get_in(1, SAMPLER_MAX_K, "STREAM: k not in [1, 256]");
        const int64_t steps = r.get_in(0, 1 << 20, "STREAM: bad steps");
        ap_uint<32> state = init_state(seed, image, channel);
        w.put(wide(state));
        for (int64_t t = 0; t < steps; ++t) {
            const ap_uint<8> index = draw_index(state, k);
            w.put(wide(state));
            w.put(wide(index));
        }
    }
}

template <int C, int K>
static void run_pick(Reader &r, Writer &w) {
    const ap_uint<32> seed = fit<ap_uint<32> >(r.get(), "PICK: seed not 32-bit");
    const ap_uint<16> image = fit<ap_uint<16> >(r.get(), "PICK: image not 16-bit");
    const int64_t T = r.get_in(1, 1000, "PICK: bad T");
    ap_uint<32> state[C];
    init_states<C>(seed, image, state);
    w.put(KIND_PICK);
    for (int c = 0; c < C; ++c) w.put(wide(state[c]));
    for (int64_t t = 0; t < T; ++t) {
        static spike_t spikes[C * K];
        spike_t z[C];
        for (int j = 0; j < C * K; ++j) spikes[j] = fit<spike_t>(r.get(), "PICK: spike not 0/1");
        pick_latent<C, K>(spikes, state, z);
        for (int c = 0; c < C; ++c) w.put(wide(z[c]));
    }
}

static void pick_case(Reader &r, Writer &w) {
    const int64_t C = r.get(), K = r.get();
    if (C == 4 && K == 20) run_pick<4, 20>(r, w);
    else if (C == 3 && K == 256) run_pick<3, 256>(r, w);
    else if (C == 5 && K == 1) run_pick<5, 1>(r, w);
    else die("PICK: no instantiation for (C, K)", C, K);
}

// --- membrane output ----------------------------------------------------------------------------
typedef ap_int<25> cur25_t;   // output current, |I| < 2^24
typedef ap_int<46> sum46_t;   // sum of T <= 16 steps of 17-bit coef x 25-bit current

static void read_thresholds(Reader &r, sum46_t thr[255]) {
    for (int p = 0; p < 255; ++p) thr[p] = fit<sum46_t>(r.get(), "threshold does not fit M_T");
}

static void output_case(Reader &r, Writer &w) {
    const int N = 16, T = 16;
    if (r.get() != N || r.get() != T) die("OUTPUT: (N, T) must be (16, 16)");
    coef_t coef[T];
    for (int t = 0; t < T; ++t) coef[t] = fit<coef_t>(r.get(), "OUTPUT: coef does not fit coef_t");
    static cur25_t current[T][N];
    for (int t = 0; t < T; ++t)
        for (int n = 0; n < N; ++n) current[t][n] = fit<cur25_t>(r.get(), "OUTPUT: current does not fit I_T");
    sum46_t thr[255];
    read_thresholds(r, thr);
    sum46_t m[N];
    for (int n = 0; n < N; ++n) m[n] = 0x123456789LL;   // garbage: t == 0 must overwrite it
    w.put(KIND_OUTPUT);
    for (int t = 0; t < T; ++t) {
        output_accumulate<T, N, cur25_t, sum46_t>(current[t], coef, t, m);
        for (int n = 0; n < N; ++n) w.put(wide(m[n]));
    }
    ap_uint<8> pixels[N];
    output_pixels<N, sum46_t>(m, thr, pixels);
    for (int n = 0; n < N; ++n) w.put(wide(pixels[n]));
}

static void pixel_case(Reader &r, Writer &w) {
    sum46_t thr[255];
    read_thresholds(r, thr);
    const int64_t n = r.get_in(0, 1 << 22, "PIXEL: bad n");
    w.put(KIND_PIXEL);
    for (int64_t i = 0; i < n; ++i) {
        const sum46_t m = fit<sum46_t>(r.get(), "PIXEL: m does not fit M_T");
        w.put(wide(pixel_from_sum(m, thr)));
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <cases.bin> <results.bin>\n", argv[0]);
        return 2;
    }
    FILE *in = std::fopen(argv[1], "rb");
    if (!in) die("cannot open the input file");
    FILE *out = std::fopen(argv[2], "wb");
    if (!out) die("cannot open the output file");
    Reader r{in};
    Writer w{out};
    if (r.get() != MAGIC) die("bad magic");
    if (r.get() != FORMAT_VERSION) die("unsupported format version");
    const int64_t n_cases = r.get_in(0, 1 << 20, "bad case count");
    w.put(MAGIC);
    w.put(n_cases);
    for (int64_t i = 0; i < n_cases; ++i) {
        const int64_t kind = r.get();
        switch (kind) {
        case KIND_LIF: lif_case(r, w); break;
        case KIND_HASH: hash_case(r, w); break;
        case KIND_STREAM: stream_case(r, w); break;
        case KIND_PICK: pick_case(r, w); break;
        case KIND_OUTPUT: output_case(r, w); break;
        case KIND_PIXEL: pixel_case(r, w); break;
        default: die("unknown case kind", kind);
        }
    }
    int64_t extra;
    if (std::fread(&extra, sizeof extra, 1, in) == 1) die("trailing data after the last case");
    std::fclose(in);
    if (std::fclose(out) != 0) die("closing the output file failed");
    return 0;
}
