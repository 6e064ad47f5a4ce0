// Membrane-output layer: decayed sum of the output currents over time, then the pixel table.
#ifndef FSVAE_MEMBRANE_OUTPUT_H
#define FSVAE_MEMBRANE_OUTPUT_H

#include "types.h"

// Loop labels name the loops in the HLS reports; GCC's -Wall calls them unused.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-label"
#endif

namespace fsvae {

// Decay coefficients are 0.8^(T-1-t) rounded to D <= 16 fraction bits: integers in
// [0, 2^16], 17 bits unsigned.  17 x current_bits (<= 25) fits one DSP48 multiplier.
typedef ap_uint<17> coef_t;

// m[n] = sum_{t' <= t} coef[t'] * current_t'[n], one call per time step t (t == 0 starts the
// sum, so m needs no clearing).  M_T must hold the output's sum_range (hwmodel
// output.sum_bits).  N iterations at II=1 (+ depth: read, multiply, add).
template <int T, int N, typename I_T, typename M_T, typename C_T = coef_t>
void output_accumulate(const I_T current[N], const C_T coef[T], int t, M_T m[N]) {
    static_assert(T >= 1 && N >= 1, "output_accumulate: T and N must be positive");
    const C_T c = coef[t];
    const bool first = (t == 0);
    ACCUMULATE:
    for (int n = 0; n < N; ++n) {
#pragma HLS PIPELINE II=1
        const M_T product = c * current[n];
        m[n] = first ? product : M_T(m[n] + product);
    }
}

// pixel = #{p : thresholds[p] <= m} for a non-decreasing table of 255 thresholds
// (= np.searchsorted(thresholds, m, side='right')), by an 8-step binary search: the count
// is built MSB first; bit b is set when thresholds[pos + 2^b - 1] <= m.  Constant latency,
// 8 dependent reads.  Step j reads among 2^j entries only (index = 2^(7-j) - 1 mod 2^(8-j)),
// so for one pixel per cycle the caller partitions the table completely (it is a constant
// table: that becomes comparators against constants behind small muxes).
template <typename M_T>
ap_uint<8> pixel_from_sum(M_T m, const M_T thresholds[255]) {
#pragma HLS INLINE
    ap_uint<8> pos = 0;
    SEARCH:
    for (int b = 7; b >= 0; --b) {
#pragma HLS UNROLL
        const ap_uint<8> probe = pos | ap_uint<8>(1u << b);   // pos + 2^b, <= 255
        if (thresholds[int(probe) - 1] <= m) {
            pos = probe;
        }
    }
    return pos;
}

// Pixels of N sums: N iterations at II=1 (+ depth ~ 8 compare/mux levels).
template <int N, typename M_T>
void output_pixels(const M_T m[N], const M_T thresholds[255], ap_uint<8> pixels[N]) {
#pragma HLS ARRAY_PARTITION variable=thresholds type=complete dim=1
    PIXELS:
    for (int n = 0; n < N; ++n) {
#pragma HLS PIPELINE II=1
        pixels[n] = pixel_from_sum<M_T>(m[n], thresholds);
    }
}

}  // namespace fsvae

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // FSVAE_MEMBRANE_OUTPUT_H
