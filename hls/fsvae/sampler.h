// Latent random source: xorshift32-per-channel, spec version 1 (sw/fsvae_fpga/contract/sampler.py).
#ifndef FSVAE_SAMPLER_H
#define FSVAE_SAMPLER_H

#include "types.h"

// Loop labels name the loops in the HLS reports; GCC's -Wall calls them unused.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-label"
#endif

namespace fsvae {

// Spec constants (sampler.SPEC).
static const unsigned SAMPLER_KEY_XOR = 0x9E3779B9u;
static const unsigned SAMPLER_ZERO_STATE_REPLACEMENT = 0x6A09E667u;
static const unsigned FMIX32_C1 = 0x85EBCA6Bu;
static const unsigned FMIX32_C2 = 0xC2B2AE35u;
static const int SAMPLER_MAX_K = 256;

// murmur3 32-bit finaliser.  Two 32x32 multiplies, low 32 bits kept (only at image start).
inline ap_uint<32> fmix32(ap_uint<32> h) {
#pragma HLS INLINE
    h ^= h >> 16;
    h = ap_uint<32>(h * ap_uint<32>(FMIX32_C1));   // 64-bit product, truncated: mod 2^32
    h ^= h >> 13;
    h = ap_uint<32>(h * ap_uint<32>(FMIX32_C2));
    h ^= h >> 16;
    return h;
}

// Marsaglia xorshift32 (13, 17, 5): a fixed XOR network, no carry chain.  ap_uint<32> << n
// keeps the width, so bits shifted out of bit 31 are discarded as the spec requires.
inline ap_uint<32> xorshift32(ap_uint<32> x) {
#pragma HLS INLINE
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

// Seed state of stream (image, channel): fmix32(fmix32(key ^ 0x9E3779B9) ^ seed), never 0.
inline ap_uint<32> init_state(ap_uint<32> seed, ap_uint<16> image, ap_uint<16> channel) {
#pragma HLS INLINE
    ap_uint<32> key = 0;
    key.range(31, 16) = image;
    key.range(15, 0) = channel;
    ap_uint<32> s0 = fmix32(fmix32(key ^ ap_uint<32>(SAMPLER_KEY_XOR)) ^ seed);
    if (s0 == 0) {
        s0 = SAMPLER_ZERO_STATE_REPLACEMENT;
    }
    return s0;
}

// One draw: advance first, then index = ((x >> 16) * k) >> 16, in [0, k).  k in [1, 256].
// A 16x9 unsigned multiply; bits [23:16] of the (at most 24-bit) product are the index.
inline ap_uint<8> draw_index(ap_uint<32> &state, ap_uint<9> k) {
#pragma HLS INLINE
    const ap_uint<32> x = xorshift32(state);
    state = x;
    const ap_uint<16> hi = x.range(31, 16);
    const ap_uint<25> product = hi * k;
    return ap_uint<8>(product >> 16);
}

// Seed states of every channel of one image: C iterations at II=1 (four 32x32
// multiplies per iteration when fully pipelined; off the per-step critical path).
template <int C>
void init_states(ap_uint<32> seed, ap_uint<16> image, ap_uint<32> state[C]) {
    static_assert(C >= 1 && C <= 65536, "init_states: C must be in [1, 65536]");
    SEED:
    for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE II=1
        state[c] = init_state(seed, image, ap_uint<16>(c));
    }
}

// Latent bit of every channel for one time step: each channel's stream advances once and
// z[c] = spikes[c*K + index].  C iterations at II=1 (+ depth: xorshift, multiply, read);
// each iteration touches its own state word, so there is no carried dependence.
template <int C, int K>
void pick_latent(const spike_t spikes[C * K], ap_uint<32> state[C], spike_t z[C]) {
    static_assert(K >= 1 && K <= SAMPLER_MAX_K, "pick_latent: K must be in [1, 256]");
    static_assert(C >= 1 && C <= 65536, "pick_latent: C must be in [1, 65536]");
    PICK:
    for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE II=1
        ap_uint<32> s = state[c];
        const ap_uint<8> index = draw_index(s, ap_uint<9>(K));
        state[c] = s;
        z[c] = spikes[c * K + int(index)];
    }
}

}  // namespace fsvae

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // FSVAE_SAMPLER_H
