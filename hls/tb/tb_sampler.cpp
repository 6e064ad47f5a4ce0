// C-simulation testbench of the latent sampler (sampler.h), driven by
// tests/hls_engines/test_sampler.py.  Vectors: hls/tb/tb_vectors.h.
//
//   group "hash", per case: v (n) 32-bit unsigned  -> fmix32 (n), xorshift32 (n)
//   group "stream", per case: streams (n, 4) rows (seed, image, channel, k), steps (scalar)
//     -> s0 (n): init_state;  state (n, steps), index (n, steps): after each draw_index
//   group "pick", per case: seed, image (scalars), spikes (T, C, K) 0/1, (C, K) instantiated
//     -> states0 (C): init_states;  z (T, C): pick_latent of each step
#include "fsvae/sampler.h"
#include "tb_vectors.h"

using namespace fsvae;
using tbv::fit;
using tbv::key;

static void hash_case(tbv::Inputs &in, tbv::Outputs &out, int64_t c) {
    const tbv::Array &v = in.get(key("hash", c, "v"), {-1});
    tbv::Array &f = out.add(key("hash", c, "fmix32"), {v.dim(0)});
    tbv::Array &x = out.add(key("hash", c, "xorshift32"), {v.dim(0)});
    for (int64_t i : v.data) {
        const ap_uint<32> word = fit<ap_uint<32> >(i, "HASH: value not 32-bit unsigned");
        f.put(fmix32(word).to_int64());
        x.put(xorshift32(word).to_int64());
    }
}

static void stream_case(tbv::Inputs &in, tbv::Outputs &out, int64_t c) {
    const tbv::Array &streams = in.get(key("stream", c, "streams"), {-1, 4});
    const int64_t n = streams.dim(0), steps = in.scalar(key("stream", c, "steps"), 0, 1 << 20);
    tbv::Array &s0 = out.add(key("stream", c, "s0"), {n});
    tbv::Array &states = out.add(key("stream", c, "state"), {n, steps});
    tbv::Array &indices = out.add(key("stream", c, "index"), {n, steps});
    for (int64_t i = 0; i < n; ++i) {
        const ap_uint<32> seed = fit<ap_uint<32> >(streams[size_t(4 * i)], "STREAM: seed not 32-bit");
        const ap_uint<16> image = fit<ap_uint<16> >(streams[size_t(4 * i + 1)], "STREAM: image not 16-bit");
        const ap_uint<16> channel = fit<ap_uint<16> >(streams[size_t(4 * i + 2)], "STREAM: channel not 16-bit");
        const int64_t k = streams[size_t(4 * i + 3)];
        if (k < 1 || k > SAMPLER_MAX_K) tbv::die("STREAM: k = %lld not in [1, 256]", (long long)k);
        ap_uint<32> state = init_state(seed, image, channel);
        s0.put(state.to_int64());
        for (int64_t t = 0; t < steps; ++t) {
            const ap_uint<8> index = draw_index(state, ap_uint<9>(k));
            states.put(state.to_int64());
            indices.put(index.to_int64());
        }
    }
}

template <int C, int K>
static void run_pick(tbv::Inputs &in, tbv::Outputs &out, int64_t c, const tbv::Array &spikes) {
    const ap_uint<32> seed = in.scalar(key("pick", c, "seed"), 0, 0xFFFFFFFFLL);
    const ap_uint<16> image = in.scalar(key("pick", c, "image"), 0, 0xFFFF);
    const int64_t T = spikes.dim(0);
    ap_uint<32> state[C];
    init_states<C>(seed, image, state);
    tbv::Array &states0 = out.add(key("pick", c, "states0"), {C});
    for (int ch = 0; ch < C; ++ch) states0.put(state[ch].to_int64());
    tbv::Array &z_out = out.add(key("pick", c, "z"), {T, C});
    for (int64_t t = 0; t < T; ++t) {
        static spike_t s[C * K];
        spike_t z[C];
        for (int j = 0; j < C * K; ++j) s[j] = fit<spike_t>(spikes[size_t(t * C * K + j)], "PICK: spike not 0/1");
        pick_latent<C, K>(s, state, z);
        for (int ch = 0; ch < C; ++ch) z_out.put(z[ch].to_int64());
    }
}

static void pick_case(tbv::Inputs &in, tbv::Outputs &out, int64_t c) {
    const tbv::Array &spikes = in.get(key("pick", c, "spikes"), {-1, -1, -1});
    const int64_t C = spikes.dim(1), K = spikes.dim(2);
    if (C == 4 && K == 20) run_pick<4, 20>(in, out, c, spikes);
    else if (C == 3 && K == 256) run_pick<3, 256>(in, out, c, spikes);
    else if (C == 5 && K == 1) run_pick<5, 1>(in, out, c, spikes);
    else tbv::die("PICK: no instantiation for (C, K) = (%lld, %lld)", (long long)C, (long long)K);
}

int main(int argc, char **argv) {
    return tbv::run(argc, argv, "tb_sampler", [](tbv::Inputs &in, tbv::Outputs &out) {
        for (int64_t c = 0, n = in.cases("hash"); c < n; ++c) hash_case(in, out, c);
        for (int64_t c = 0, n = in.cases("stream"); c < n; ++c) stream_case(in, out, c);
        for (int64_t c = 0, n = in.cases("pick"); c < n; ++c) pick_case(in, out, c);
    });
}
