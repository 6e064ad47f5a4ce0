// The encoder's strided convolutions (golden.conv2d + LIFState.step), channel-last.
//
//  (a) conv_image + lif_conv_image: the first layer takes the int8 image, which does not
//      change over time, so its current is computed ONCE per image (dense MACs) and the LIF
//      update reuses it at all T steps.
//  (b) lif_conv_events: the spiking layers, event driven: input event (c_in, ih, iw) adds the
//      weight taps (kh, kw) to the outputs (oh, ow) it reaches, oh*S - PAD + kh == ih and
//      ow*S - PAD + kw == iw, then the LIF update (lif_map_update, lif_conv_transpose.h).
//
// Layouts (channel-last, like the golden traces):
//   image          [IH*IW][CIN], position ih*IW + iw (the golden's images.transpose(0, 2, 3, 1))
//   input events   index = (ih * IW + iw) * CIN + c_in, ascending
//   weight         [CIN][K][K][COUT] stored as [CIN*K*K][COUT] for BOTH versions: row
//                  (c_in*K + kh)*K + kw holds the COUT output-channel weights of one tap; from
//                  the hardware model's torch layout (COUT, CIN, K, K):
//                  w.transpose(1, 2, 3, 0).reshape(CIN*K*K, COUT).  The dense layer reduces
//                  over the rows in storage order (row r = its reduction step), so it reads
//                  the weights sequentially; one layout means one exporter transform for every
//                  convolution (the transposed ones use the same [CIN][K][K][COUT]).
//   cur, acc, membrane, spikes  [OH*OW][COUT];  output events index = (oh*OW + ow)*COUT + c
// Memory layout: as in lif_conv_transpose.h (the caller partitions or reshapes weight, cur,
// acc, membrane and spikes cyclic P on the channel dimension; bias is partitioned here).
// The image needs no partitioning (one pixel per cycle).
// Widths: ACC_T holds current_range, MEM_T membrane_range (hwmodel bound analysis); every
// partial sum starting from the bias stays inside current_range (the analysis counts each
// tap's extreme, and an input of 0 is always possible), so nothing overflows.
#ifndef FSVAE_CONV_ENCODER_H
#define FSVAE_CONV_ENCODER_H

#include "types.h"
#include "lif_conv_transpose.h"   // fill_bias, lif_map_update, raw_distance_check

// Loop labels name the loops in the HLS reports; GCC's -Wall calls them unused.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-label"
#endif

namespace fsvae {

// Output size of a convolution (torch / golden.conv2d).
constexpr int conv_out(int in, int k, int s, int pad) {
    return (in + 2 * pad - k) / s + 1;
}

// (a) Dense current of the image layer, once per image: cur = conv2d(img, weight) + bias.
// Loop: position -> channel group -> reduction step r = (c_in, kh, kw), flattened by hand
// into one pipelined loop of NPOS * G * CIN*K*K iterations (G = COUT / P).  Each iteration
// reads one pixel (0 for taps in the padding) and one weight row slice of P channels and does
// P MACs into P register accumulators; the only loop-carried dependence is the accumulator's
// add (started from the bias at r == 0, written to cur at the last r), one adder: II=1.
// Latency: OH*OW * G * CIN*K*K cycles (+ pipeline depth), once per image.
template <int CIN, int COUT, int IH, int IW, int K, int S, int PAD, int P,
          typename PIX_T, typename W_T, typename B_T, typename ACC_T>
void conv_image(const PIX_T img[IH * IW][CIN], const W_T weight[CIN * K * K][COUT],
                const B_T bias[COUT],
                ACC_T cur[conv_out(IH, K, S, PAD) * conv_out(IW, K, S, PAD)][COUT]) {
    static const int OH = conv_out(IH, K, S, PAD);
    static const int OW = conv_out(IW, K, S, PAD);
    static const int G = COUT / P;
    static const int R = CIN * K * K;
    static_assert(P >= 1 && COUT % P == 0, "conv_image: COUT must be a multiple of P");
    static_assert(OH >= 1 && OW >= 1, "conv_image: empty output");
#pragma HLS ARRAY_PARTITION variable=bias type=cyclic factor=P dim=1
    ACC_T sum[P];
#pragma HLS ARRAY_PARTITION variable=sum type=complete
    int oh = 0, ow = 0, g = 0, r = 0, c_in = 0, kh = 0, kw = 0;
MAC:
    for (int it = 0; it < OH * OW * G * R; ++it) {
#pragma HLS PIPELINE II=1
        const int ih = oh * S - PAD + kh;
        const int iw = ow * S - PAD + kw;
        PIX_T x = 0;
        if (ih >= 0 && ih < IH && iw >= 0 && iw < IW) {
            x = img[ih * IW + iw][c_in];
        }
    MAC_LANES:
        for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
            const int c = g * P + p;
            const ACC_T prev = (r == 0) ? ACC_T(bias[c]) : sum[p];
            const ACC_T s = prev + weight[r][c] * x;
            sum[p] = s;
            if (r == R - 1) {
                cur[oh * OW + ow][c] = s;
            }
        }
        // advance (c_in, kh, kw) -> g -> (oh, ow); r is the weight row (c_in*K + kh)*K + kw
        if (r < R - 1) {
            ++r;
            if (kw < K - 1) {
                ++kw;
            } else {
                kw = 0;
                if (kh < K - 1) {
                    ++kh;
                } else {
                    kh = 0;
                    ++c_in;
                }
            }
        } else {
            r = 0;
            c_in = 0;
            kh = 0;
            kw = 0;
            if (g < G - 1) {
                ++g;
            } else {
                g = 0;
                if (ow < OW - 1) {
                    ++ow;
                } else {
                    ow = 0;
                    ++oh;
                }
            }
        }
    }
}

// (a) LIF step of the image layer on its constant current (cur from conv_image, untouched).
// Latency: OH*OW * G cycles per step (+ pipeline depth).
template <int COUT, int OH, int OW, int P, typename ACC_T, typename MEM_T>
void lif_conv_image(ACC_T cur[OH * OW][COUT], MEM_T mem[OH * OW][COUT], spike_t spk[OH * OW][COUT],
                    MEM_T threshold, bool first_step, index_t out_ev[OH * OW * COUT], index_t &out_n) {
    static const ACC_T no_bias[COUT] = {};   // never read: RESET_ACC is false
    lif_map_update<OH * OW, COUT, P, false>(cur, no_bias, mem, spk, threshold, first_step, out_ev, out_n);
}

// (b) Scatter of one time step's input events of a strided convolution into acc (which holds
// the bias on entry).  An input row ih reaches the outputs oh with kh = ih + PAD - oh*S in
// [0, K): at most KS = ceil(K/S) of them, oh = oh_hi - a for a = 0 .. KS-1 with
// oh_hi = (ih + PAD) / S (and kh = (ih + PAD) % S + a*S); the same for columns.  So each event
// takes KS*KS iterations (4 for K=3, S=2, instead of 9 with a kh, kw scan), invalid ones
// (kh >= K or outside the output) included, times G = COUT / P channel groups.
//
// Loop: event -> (a, b) -> channel group, flattened by hand into one pipelined loop of
// n_in * KS*KS * G iterations, P read-modify-writes of acc per iteration (one per bank).
// Why II=1 is real: the DEPENDENCE pragma gives the true minimum distance between two accesses
// to one accumulator, DIST = (KS*KS - KS + 1) * G iterations (3G for K=3, S=2):
//  * one event's KS*KS outputs are distinct; groups of one output are distinct addresses;
//  * outputs run in DESCENDING order (a, b ascending; tap number t = a*KS + b).  A later event
//    hitting the same output (oh, ow) as an earlier one has oh_hi2 = oh_hi1 + Dh, ow_hi2 =
//    ow_hi1 + Dw and distance G * (KS*KS - t1 + t2) = G * (KS*KS + Dh*KS + Dw).  Sorted events
//    give Dh >= 0; Dh = 0 with ih2 == ih1 gives Dw >= 0; otherwise a shared output needs
//    |Dw| <= KS - 1; hence distance >= G * (KS*KS - KS + 1).
// The read -> add -> write path of an accumulator bank must fit in DIST >= 3 cycles: true
// for LUTRAM and for BRAM with an unregistered read (1-cycle read, add, write).  Checked in C
// simulation when FSVAE_CHECK_DEPENDENCE is defined.  Precondition: in_ev ascending.
template <int CIN, int COUT, int IH, int IW, int K, int S, int PAD, int P, typename W_T, typename ACC_T>
void conv_events_scatter(const index_t in_ev[IH * IW * CIN], index_t n_in,
                         const W_T weight[CIN * K * K][COUT],
                         ACC_T acc[conv_out(IH, K, S, PAD) * conv_out(IW, K, S, PAD)][COUT]) {
    static const int OH = conv_out(IH, K, S, PAD);
    static const int OW = conv_out(IW, K, S, PAD);
    static const int G = COUT / P;
    static const int KS = (K + S - 1) / S;                    // outputs reached per input row
    static const int DIST = (KS * KS - KS + 1) * G;           // minimum RAW distance, see above
    static const int MAX_ITER = IH * IW * CIN * KS * KS * G;  // all inputs active
    static_assert(P >= 1 && COUT % P == 0, "conv_events_scatter: COUT must be a multiple of P");
    static_assert(OH >= 1 && OW >= 1, "conv_events_scatter: empty output");
    static_assert(IH * IW * CIN <= MAX_EVENTS, "conv_events_scatter: input too wide for index_t");
    (void)DIST;       // used by the pragmas (and the C-simulation check)
    (void)MAX_ITER;
#if defined(FSVAE_CHECK_DEPENDENCE) && !defined(__SYNTHESIS__)
    raw_distance_check<OH * OW * G> check;
#endif
    const int total = int(n_in) * KS * KS * G;
    int e = 0, a = 0, b = 0, g = 0;
SCATTER:
    for (int it = 0; it < total; ++it) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=0 max=MAX_ITER
#pragma HLS DEPENDENCE variable=acc type=inter direction=RAW dependent=true distance=DIST
        const int idx = in_ev[e];
        const int c_in = idx % CIN;
        const int pix = idx / CIN;
        const int ih = pix / IW;
        const int iw = pix % IW;
        const int oh = (ih + PAD) / S - a;
        const int ow = (iw + PAD) / S - b;
        const int kh = ih + PAD - oh * S;   // >= 0 by construction
        const int kw = iw + PAD - ow * S;
        if (kh < K && kw < K && oh >= 0 && oh < OH && ow >= 0 && ow < OW) {
            const int pos = oh * OW + ow;
            const int row = (c_in * K + kh) * K + kw;
#if defined(FSVAE_CHECK_DEPENDENCE) && !defined(__SYNTHESIS__)
            check.touch(pos * G + g, it, DIST, "conv_events_scatter");
#endif
        SCATTER_LANES:
            for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
                acc[pos][g * P + p] += weight[row][g * P + p];
            }
        }
        if (g < G - 1) {
            ++g;
        } else {
            g = 0;
            if (b < KS - 1) {
                ++b;
            } else {
                b = 0;
                if (a < KS - 1) {
                    ++a;
                } else {
                    a = 0;
                    ++e;
                }
            }
        }
    }
}

// (b) One time step of an event-driven LIF convolution layer (same contract as
// lif_conv_transpose: acc holds the bias again on return; filled first when first_step).
// Latency (G = COUT / P, NPOS = OH*OW, KS = ceil(K/S)):
//   (first_step ? NPOS*G : 0) + n_in * KS*KS * G + NPOS * G   cycles (+ pipeline depths)
template <int CIN, int COUT, int IH, int IW, int K, int S, int PAD, int P,
          typename W_T, typename B_T, typename ACC_T, typename MEM_T>
void lif_conv_events(const index_t in_ev[IH * IW * CIN], index_t n_in,
                     const W_T weight[CIN * K * K][COUT], const B_T bias[COUT],
                     ACC_T acc[conv_out(IH, K, S, PAD) * conv_out(IW, K, S, PAD)][COUT],
                     MEM_T mem[conv_out(IH, K, S, PAD) * conv_out(IW, K, S, PAD)][COUT],
                     spike_t spk[conv_out(IH, K, S, PAD) * conv_out(IW, K, S, PAD)][COUT],
                     MEM_T threshold, bool first_step,
                     index_t out_ev[conv_out(IH, K, S, PAD) * conv_out(IW, K, S, PAD) * COUT],
                     index_t &out_n) {
    static const int NPOS = conv_out(IH, K, S, PAD) * conv_out(IW, K, S, PAD);
    if (first_step) {
        fill_bias<NPOS, COUT, P>(bias, acc);
    }
    conv_events_scatter<CIN, COUT, IH, IW, K, S, PAD, P>(in_ev, n_in, weight, acc);
    lif_map_update<NPOS, COUT, P, true>(acc, bias, mem, spk, threshold, first_step, out_ev, out_n);
}

}  // namespace fsvae

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // FSVAE_CONV_ENCODER_H
