// Run-time weight loading (mode load_weights of hw/interface.yaml): one weight memory from
// a stream of 32-bit words.
#ifndef FSVAE_WEIGHT_LOAD_H
#define FSVAE_WEIGHT_LOAD_H

#include "types.h"

// Loop labels name the loops in the HLS reports; GCC's -Wall calls them unused.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-label"
#endif

namespace fsvae {

// weight[ROWS][COUT] from ROWS * G memory words (G = COUT / P), in the layout the engines read
// and the RTL's weight memories hold: memory word a = row * G + g holds the P lanes
// weight[row][g*P + p], lane p in bits [p*W_BITS, (p+1)*W_BITS) (two's complement), and
// arrives as CHUNKS = ceil(P*W_BITS / 32) words, low bits first.  That is the blob of
// hw/interface.yaml (streams.in_r.load_weights_format), which codegen hls and codegen rtl
// both write with rtl.write_weight_blob.  The stream element only needs a .data member
// (ap_axiu: TLAST and TKEEP are ignored, so the blob may come in any number of transfers).
//
// One word per cycle (II=1): the chunks shift into a register from the top, so that after
// CHUNKS words the first one sits in the low bits; on the last chunk the P lanes are written
// in one iteration, which is one word write when the caller reshapes weight (ARRAY_RESHAPE
// cyclic factor=P dim=2) and P bank writes when it partitions it.  taken counts the words
// taken in this run (it goes on from memory to memory) and is copied to progress each word.
template <int ROWS, int COUT, int P, int W_BITS, typename W_T, typename STREAM_T>
void load_weight_memory(STREAM_T &in, W_T weight[ROWS][COUT], ap_uint<32> &taken, ap_uint<32> &progress) {
    static_assert(P >= 1 && COUT % P == 0, "load_weight_memory: COUT must be a multiple of P");
    static_assert(W_BITS >= 2 && W_BITS <= 32, "load_weight_memory: weights of 2 to 32 bits");
    static const int G = COUT / P;
    static const int CHUNKS = (P * W_BITS + 31) / 32;
    static const int WORDS = ROWS * G * CHUNKS;
    ap_uint<32 * CHUNKS> entry = 0;
    ap_uint<32> n = taken;
    int k = 0, row = 0, g = 0;
LOAD_WORDS:
    for (int i = 0; i < WORDS; ++i) {
#pragma HLS PIPELINE II=1
        const ap_uint<32> word = in.read().data;
        if (CHUNKS > 1) {
            entry = entry >> 32;
        }
        entry.range(32 * CHUNKS - 1, 32 * (CHUNKS - 1)) = word;
        ++n;
        progress = n;
        if (k == CHUNKS - 1) {
        LOAD_LANES:
            for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
                const ap_int<W_BITS> v = entry.range(p * W_BITS + W_BITS - 1, p * W_BITS);
                weight[row][g * P + p] = W_T(v);
            }
            k = 0;
            if (g == G - 1) {
                g = 0;
                ++row;
            } else {
                ++g;
            }
        } else {
            ++k;
        }
    }
    taken = n;
}

}  // namespace fsvae

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // FSVAE_WEIGHT_LOAD_H
