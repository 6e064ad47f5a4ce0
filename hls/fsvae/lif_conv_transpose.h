// Event-driven LIF transposed convolution, one time step (golden.conv_transpose2d + LIFState.step),
// plus the LIF update of a channel-last feature map shared with conv_encoder.h.
//
// Layouts (all channel-last, like the golden traces):
//   input events   index = (ih * IW + iw) * CIN + c_in, ascending (see "Event order" below)
//   weight         [CIN][K][K][COUT] stored as [CIN*K*K][COUT]: row (c_in*K + kh)*K + kw holds
//                  the COUT output-channel weights of one tap; from the hardware model's torch
//                  layout (CIN, COUT, K, K): w.transpose(0, 2, 3, 1).reshape(CIN*K*K, COUT)
//   acc, membrane, spikes, currents   [OH*OW][COUT], position oh*OW + ow
//   output events  index = (oh * OW + ow) * COUT + c, ascending
//
// Memory layout: every access touches the P lanes of one channel group g (channels g*P ..
// g*P+P-1) of one row at once, one read and one write per cycle.  The CALLER lays out weight,
// acc, membrane, spikes and currents on the channel (last) dimension, either as P banks
// (ARRAY_PARTITION cyclic factor=P) or as one word of P lanes (ARRAY_RESHAPE cyclic
// factor=P: fewer, fuller block RAMs), and binds them (state: a RAM with one read and one
// write port, BIND_STORAGE type=ram_s2p): codegen/hls.py chooses per array by block count.
// These functions therefore set no partitioning on those arguments; they do on bias (a small
// ROM, always P banks) and on the output events (P banks, which the compaction needs).
//
// Widths: ACC_T must hold the layer's current_range and MEM_T its membrane_range (hwmodel
// bound analysis).  Every partial sum bias + (some of the taps) lies inside current_range
// too (each tap's contribution w * x with x in {0, 1} is between its two extremes, both of
// which are counted by the analysis, and 0), so accumulation never overflows ACC_T.
#ifndef FSVAE_LIF_CONV_TRANSPOSE_H
#define FSVAE_LIF_CONV_TRANSPOSE_H

#include "types.h"

#if defined(FSVAE_CHECK_DEPENDENCE) && !defined(__SYNTHESIS__)
#include <cstdio>
#include <cstdlib>
#endif

// Loop labels name the loops in the HLS reports; GCC's -Wall calls them unused.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-label"
#endif

namespace fsvae {

// Output size of a transposed convolution (torch / golden.conv_transpose2d).
constexpr int conv_transpose_out(int in, int k, int s, int pad, int out_pad) {
    return (in - 1) * s - 2 * pad + k + out_pad;
}

#if defined(FSVAE_CHECK_DEPENDENCE) && !defined(__SYNTHESIS__)
// C-simulation check of a DEPENDENCE pragma: every accumulator address must be revisited
// no sooner than DIST iterations after its previous read-modify-write.  Aborts otherwise.
template <int N>
struct raw_distance_check {
    long last[N];
    raw_distance_check() {
        for (int i = 0; i < N; ++i) last[i] = -(1L << 40);
    }
    void touch(int addr, long it, int dist, const char *who) {
        if (it - last[addr] < dist) {
            std::fprintf(stderr, "%s: RAW distance %ld < DEPENDENCE distance %d at address %d\n",
                         who, it - last[addr], dist, addr);
            std::abort();
        }
        last[addr] = it;
    }
};
#endif

// acc[pos][c] = bias[c].  NPOS * (COUT / P) iterations at II=1.
template <int NPOS, int COUT, int P, typename B_T, typename ACC_T>
void fill_bias(const B_T bias[COUT], ACC_T acc[NPOS][COUT]) {
    static_assert(P >= 1 && COUT % P == 0, "fill_bias: COUT must be a multiple of P");
    static const int G = COUT / P;
#pragma HLS ARRAY_PARTITION variable=bias type=cyclic factor=P dim=1
    int pos = 0, g = 0;
FILL:
    for (int i = 0; i < NPOS * G; ++i) {
#pragma HLS PIPELINE II=1
    FILL_LANES:
        for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
            acc[pos][g * P + p] = bias[g * P + p];
        }
        if (g == G - 1) {
            g = 0;
            ++pos;
        } else {
            ++g;
        }
    }
}

// LIF update of a [NPOS][COUT] map driven by the currents in acc, exactly as golden.LIFState:
//
//   u = first_step ? acc : (u >> 2) * (1 - o_prev) + acc      (arithmetic shift = floor)
//   o = u > threshold
//
// mem and spk are the state (mem ignored when first_step; spk holds o_prev on entry and o on
// return).  When RESET_ACC, acc[pos][c] is set back to bias[c] in the same cycle it is read,
// so the next step's scatter starts from the bias without a separate pass (bias is not read
// otherwise).  The spikes are also written as an event list: out_ev[0 .. out_n) = ascending
// indices (pos * COUT + c) of the neurons that spiked.
//
// Event compaction at P lanes per cycle: the lanes that spiked get ranks 0, 1, ... (a prefix
// count), and event number n goes to out_ev[n], which lives in bank n % P of the cyclic-P
// partitioned out_ev.  Bank b takes the lane whose rank is (b - wp) mod P (wp = events written
// so far): the address is written as row * P + b with b the unrolled constant, so each bank
// gets at most one write per cycle and the scheduler can see it statically.
//
// NPOS * (COUT / P) iterations at II=1 (+ pipeline depth); no loop-carried dependence except
// the write pointer (one adder).
template <int NPOS, int COUT, int P, bool RESET_ACC, typename B_T, typename ACC_T, typename MEM_T>
void lif_map_update(ACC_T acc[NPOS][COUT], const B_T bias[COUT], MEM_T mem[NPOS][COUT],
                    spike_t spk[NPOS][COUT], MEM_T threshold, bool first_step,
                    index_t out_ev[NPOS * COUT], index_t &out_n) {
    static_assert(P >= 1 && COUT % P == 0, "lif_map_update: COUT must be a multiple of P");
    static_assert(NPOS * COUT <= MAX_EVENTS, "lif_map_update: the map must fit an index_t event list");
    static const int G = COUT / P;
#pragma HLS ARRAY_PARTITION variable=bias type=cyclic factor=P dim=1
#pragma HLS ARRAY_PARTITION variable=out_ev type=cyclic factor=P dim=1
    unsigned wp = 0;   // events written so far
    int pos = 0, g = 0;
LIF:
    for (int i = 0; i < NPOS * G; ++i) {
#pragma HLS PIPELINE II=1
        bool fire[P];
        int rank[P];
#pragma HLS ARRAY_PARTITION variable=fire type=complete
#pragma HLS ARRAY_PARTITION variable=rank type=complete
        int fired = 0;
    LIF_LANES:
        for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
            const int c = g * P + p;
            const ACC_T a = acc[pos][c];
            MEM_T leaked = 0;
            if (!first_step && !spk[pos][c]) {
                leaked = mem[pos][c] >> LEAK_SHIFT;   // arithmetic shift of a signed MEM_T: floor
            }
            const MEM_T u = leaked + a;
            const bool o = u > threshold;
            mem[pos][c] = u;
            spk[pos][c] = o ? 1 : 0;
            if (RESET_ACC) {
                acc[pos][c] = bias[c];
            }
            fire[p] = o;
            rank[p] = fired;
            fired += o ? 1 : 0;
        }
        const int base = pos * COUT + g * P;
        const unsigned wp_mod = wp % unsigned(P);
    COMPACT_BANKS:
        for (int b = 0; b < P; ++b) {
#pragma HLS UNROLL
            const unsigned want = (unsigned(b + P) - wp_mod) % unsigned(P);   // rank landing in bank b
            bool found = false;
            int lane = 0;
        COMPACT_LANES:
            for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
                if (fire[p] && unsigned(rank[p]) == want) {
                    found = true;
                    lane = p;
                }
            }
            if (found) {
                // == out_ev[wp + want], written as row * P + b with b the unrolled constant so
                // that the bank is static; unsigned, so that / P and * P are shifts for P = 2^n
                const unsigned row = (wp + want) / unsigned(P);
                out_ev[row * unsigned(P) + unsigned(b)] = base + lane;
            }
        }
        wp += unsigned(fired);
        if (g == G - 1) {
            g = 0;
            ++pos;
        } else {
            ++g;
        }
    }
    out_n = wp;
}

// Scatter of one time step's input events into acc (acc must hold the bias on entry):
// event (c_in, ih, iw) adds weight[c_in][kh][kw][:] to acc[(ih*S - PAD + kh) * OW + iw*S - PAD + kw][:]
// for every tap that lands inside the output.
//
// Loop: event -> tap -> channel group, flattened by hand into one pipelined loop of
// n_in * K*K * G iterations (G = COUT / P); each iteration reads P weights of one tap and does
// P read-modify-writes acc[pos][g*P .. g*P+P-1] (one per bank).  Taps outside the output
// (borders) still take their iteration, so the schedule is data independent per event.
//
// Why II=1 is real (the RMW hazard on acc): the scheduler cannot analyse acc[pos][...] with a
// data-dependent pos and would assume distance 1; the DEPENDENCE pragma tells it the true
// minimum distance between two accesses to the same accumulator, DIST = K*K*G iterations:
//  * within one event the K*K taps land on distinct positions (tap -> position is injective)
//    and the G groups of one tap on distinct addresses: no repeat inside an event;
//  * taps run in DESCENDING order (kh, kw from K-1 down to 0, tap number t = (K-1-kh)*K +
//    (K-1-kw)).  If a later event (ih+dh, iw+dw) hits the same output as tap (kh1, kw1) of
//    an earlier one, with its tap (kh2, kw2), then kh1 - kh2 = S*dh and kw1 - kw2 = S*dw, and
//    the iteration distance is G * (K*K - t1 + t2) = G * (K*K + S*(dh*K + dw)) >= G*K*K,
//    because events are sorted ((dh, dw) lexicographically >= 0, and |S*dw| <= K-1 < K).
//    (In ascending tap order the same pair could be 1 iteration apart: the last tap of one
//    event and the first tap of the next one hit the same output.)
// So the read -> add -> write path of an accumulator bank must fit in K*K*G >= 9 cycles
// (K = 3): true for LUTRAM and BRAM alike.  The C simulation checks the distance on every run
// when FSVAE_CHECK_DEPENDENCE is defined.  Precondition: in_ev ascending (as produced by
// lif_map_update or spikes_to_events); an unsorted list would break the distance argument.
template <int CIN, int COUT, int IH, int IW, int K, int S, int PAD, int OUTPAD, int P,
          typename W_T, typename ACC_T>
void conv_transpose_scatter(const index_t in_ev[IH * IW * CIN], index_t n_in,
                            const W_T weight[CIN * K * K][COUT],
                            ACC_T acc[conv_transpose_out(IH, K, S, PAD, OUTPAD) *
                                      conv_transpose_out(IW, K, S, PAD, OUTPAD)][COUT]) {
    static const int OH = conv_transpose_out(IH, K, S, PAD, OUTPAD);
    static const int OW = conv_transpose_out(IW, K, S, PAD, OUTPAD);
    static const int G = COUT / P;
    static const int TAPS = K * K;
    static const int DIST = TAPS * G;                        // minimum RAW distance, see above
    static const int MAX_ITER = IH * IW * CIN * TAPS * G;    // all inputs active
    static_assert(P >= 1 && COUT % P == 0, "conv_transpose_scatter: COUT must be a multiple of P");
    static_assert(OH >= 1 && OW >= 1, "conv_transpose_scatter: empty output");
    static_assert(IH * IW * CIN <= MAX_EVENTS, "conv_transpose_scatter: input too wide for index_t");
    (void)DIST;       // used by the pragmas (and the C-simulation check)
    (void)MAX_ITER;
#if defined(FSVAE_CHECK_DEPENDENCE) && !defined(__SYNTHESIS__)
    raw_distance_check<OH * OW * G> check;
#endif
    const int total = int(n_in) * TAPS * G;
    int e = 0, kh = K - 1, kw = K - 1, g = 0;
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
        const int oh = ih * S - PAD + kh;
        const int ow = iw * S - PAD + kw;
        if (oh >= 0 && oh < OH && ow >= 0 && ow < OW) {
            const int pos = oh * OW + ow;
            const int row = (c_in * K + kh) * K + kw;
#if defined(FSVAE_CHECK_DEPENDENCE) && !defined(__SYNTHESIS__)
            check.touch(pos * G + g, it, DIST, "conv_transpose_scatter");
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
            if (kw > 0) {
                --kw;
            } else {
                kw = K - 1;
                if (kh > 0) {
                    --kh;
                } else {
                    kh = K - 1;
                    ++e;
                }
            }
        }
    }
}

// One time step of a LIF transposed-convolution layer.
//   in_ev[0 .. n_in)   this step's input events (ascending)
//   acc                accumulators; on return they hold the bias again (ready for the next
//                      step); on the first step of an image they are filled first
//   mem, spk           LIF state (see lif_map_update); out_ev/out_n: this step's output events
// Latency (G = COUT / P, NPOS = OH * OW):
//   (first_step ? NPOS*G : 0) + n_in * K*K * G + NPOS * G   cycles (+ three pipeline depths)
template <int CIN, int COUT, int IH, int IW, int K, int S, int PAD, int OUTPAD, int P,
          typename W_T, typename B_T, typename ACC_T, typename MEM_T>
void lif_conv_transpose(const index_t in_ev[IH * IW * CIN], index_t n_in,
                        const W_T weight[CIN * K * K][COUT], const B_T bias[COUT],
                        ACC_T acc[conv_transpose_out(IH, K, S, PAD, OUTPAD) *
                                  conv_transpose_out(IW, K, S, PAD, OUTPAD)][COUT],
                        MEM_T mem[conv_transpose_out(IH, K, S, PAD, OUTPAD) *
                                  conv_transpose_out(IW, K, S, PAD, OUTPAD)][COUT],
                        spike_t spk[conv_transpose_out(IH, K, S, PAD, OUTPAD) *
                                    conv_transpose_out(IW, K, S, PAD, OUTPAD)][COUT],
                        MEM_T threshold, bool first_step,
                        index_t out_ev[conv_transpose_out(IH, K, S, PAD, OUTPAD) *
                                       conv_transpose_out(IW, K, S, PAD, OUTPAD) * COUT],
                        index_t &out_n) {
    static const int NPOS = conv_transpose_out(IH, K, S, PAD, OUTPAD) * conv_transpose_out(IW, K, S, PAD, OUTPAD);
    if (first_step) {
        fill_bias<NPOS, COUT, P>(bias, acc);
    }
    conv_transpose_scatter<CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P>(in_ev, n_in, weight, acc);
    lif_map_update<NPOS, COUT, P, true>(acc, bias, mem, spk, threshold, first_step, out_ev, out_n);
}

// Non-spiking variant (the membrane-output layer): only the currents of one time step,
// cur = bias + scatter(in_ev); the caller consumes cur (output_accumulate) before the next step.
// Latency: NPOS * G + n_in * K*K * G cycles (+ two pipeline depths).
template <int CIN, int COUT, int IH, int IW, int K, int S, int PAD, int OUTPAD, int P,
          typename W_T, typename B_T, typename ACC_T>
void conv_transpose_currents(const index_t in_ev[IH * IW * CIN], index_t n_in,
                             const W_T weight[CIN * K * K][COUT], const B_T bias[COUT],
                             ACC_T cur[conv_transpose_out(IH, K, S, PAD, OUTPAD) *
                                       conv_transpose_out(IW, K, S, PAD, OUTPAD)][COUT]) {
    static const int NPOS = conv_transpose_out(IH, K, S, PAD, OUTPAD) * conv_transpose_out(IW, K, S, PAD, OUTPAD);
    fill_bias<NPOS, COUT, P>(bias, cur);
    conv_transpose_scatter<CIN, COUT, IH, IW, K, S, PAD, OUTPAD, P>(in_ev, n_in, weight, cur);
}

}  // namespace fsvae

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // FSVAE_LIF_CONV_TRANSPOSE_H
