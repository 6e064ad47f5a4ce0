// Event-driven LIF linear layer, one time step (golden.linear + golden.LIFState.step).
#ifndef FSVAE_LIF_LINEAR_H
#define FSVAE_LIF_LINEAR_H

#include "types.h"

// Loop labels name the loops in the HLS reports; GCC's -Wall calls them unused.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-label"
#endif

namespace fsvae {

// The two ends every variant shares: acc = bias, and the LIF update of the G output groups
// (hard reset to zero after a spike; every iteration reads and writes its own group only, so
// there is no carried dependence).  Inlined into the caller, whose arrays they partition.
template <int OUT, int P, typename B_T, typename ACC_T>
void lif_linear_load_bias(const B_T bias[OUT], ACC_T acc[OUT]) {
#pragma HLS INLINE
    BIAS:
    for (int g = 0; g < OUT / P; ++g) {
#pragma HLS PIPELINE II=1
        BIAS_LANES:
        for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
            acc[g * P + p] = bias[g * P + p];
        }
    }
}

template <int OUT, int P, typename ACC_T, typename U_T>
void lif_linear_update(const ACC_T acc[OUT], U_T membrane[OUT], spike_t spikes[OUT], ACC_T threshold,
                       bool first_step) {
#pragma HLS INLINE
    UPDATE:
    for (int g = 0; g < OUT / P; ++g) {
#pragma HLS PIPELINE II=1
        UPDATE_LANES:
        for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
            const int o = g * P + p;
            U_T leaked = 0;
            if (!first_step && !spikes[o]) {
                leaked = membrane[o] >> LEAK_SHIFT;   // arithmetic shift on signed U_T: floor
            }
            const U_T u = leaked + acc[o];
            membrane[o] = u;
            spikes[o] = (u > threshold) ? 1 : 0;
        }
    }
}

// One time step of a fully connected LIF layer driven by an event list:
//
//   acc[o] = bias[o] + sum_{e < count} weight[events[e]][o]          (= W x + b, x 0/1)
//   u[o]   = first_step ? acc[o] : (u[o] >> 2) * (1 - o_prev[o]) + acc[o]
//   o[o]   = u[o] > threshold
//
// weight is [input][output] (the transpose of the hardware model's (out, in)), so one
// event reads P consecutive output weights per cycle.  membrane and spikes carry the state
// between calls: spikes holds the previous step's spikes on entry (ignored when first_step)
// and the new spikes on return; membrane is ignored when first_step.
//
// Widths: ACC_T must hold the layer's current_range and U_T its membrane_range (hwmodel
// bound analysis); then nothing here can overflow (the leak term |u >> 2| <= |u|/4 + 1 is
// part of that analysis).  threshold is any value representable in ACC_T.
//
// Memory layout: every access touches the P lanes of one output group g (outputs g*P ..
// g*P+P-1), one read and one write per cycle.  bias and the local acc are partitioned cyclic
// P here (P banks); weight, membrane and spikes are laid out by the CALLER, cyclic P on the
// output dimension as P banks (ARRAY_PARTITION) or as one word of P lanes (ARRAY_RESHAPE),
// which codegen/hls.py chooses per array (see lif_conv_transpose.h).
//
// Latency (G = OUT / P):  G (bias load) + count * G (scatter) + G (LIF update)
//                         + the three pipeline depths (a few cycles each).
template <int IN, int OUT, int P, typename W_T, typename B_T, typename ACC_T, typename U_T>
void lif_linear_step(const index_t events[IN], index_t count, const W_T weight[IN][OUT],
                     const B_T bias[OUT], U_T membrane[OUT],
                     spike_t spikes[OUT] /* in: previous step's spikes, out: new */,
                     ACC_T threshold, bool first_step) {
    static_assert(P >= 1, "lif_linear_step: P must be >= 1");
    static_assert(OUT % P == 0, "lif_linear_step: OUT must be a multiple of the lane count P");
    static_assert(IN >= 1 && IN <= MAX_EVENTS, "lif_linear_step: IN must be in [1, 65535]");
    static const int G = OUT / P;              // output groups, one per pipeline iteration
    static const int SCATTER_MAX = IN * G;     // trip count of the scatter loop, all inputs on
    (void)SCATTER_MAX;                         // used by LOOP_TRIPCOUNT only

#pragma HLS ARRAY_PARTITION variable=bias type=cyclic factor=P dim=1

    ACC_T acc[OUT];
#pragma HLS ARRAY_PARTITION variable=acc type=cyclic factor=P dim=1

    // 1. acc = bias: G iterations, P lanes each.
    lif_linear_load_bias<OUT, P>(bias, acc);

    // 2. Scatter the events: the (event, group) nest flattened by hand into one loop of
    //    count * G iterations (the trip count is data dependent).  Each iteration adds the
    //    P weights weight[src][g*P .. g*P+P-1] into acc[g*P .. g*P+P-1].
    //    Read-modify-write of acc at II=1: consecutive iterations touch different groups,
    //    and the same accumulator comes back only G iterations later, which the DEPENDENCE
    //    pragma tells the scheduler (its own analysis cannot see through g*P+p and would
    //    assume distance 1).  The read -> add -> write path of a bank must therefore fit in
    //    G cycles: true for LUTRAM/registers at G >= 1 and for BRAM at G >= 2 (G = 1 means
    //    P = OUT: acc is then fully partitioned into registers anyway).
    const int total = int(count) * G;
    int e = 0;   // event being scattered
    int g = 0;   // output group
    SCATTER:
    for (int i = 0; i < total; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=0 max=SCATTER_MAX
#pragma HLS DEPENDENCE variable=acc type=inter direction=RAW dependent=true distance=G
        const index_t src = events[e];
        SCATTER_LANES:
        for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
            acc[g * P + p] += weight[src][g * P + p];
        }
        if (g == G - 1) {
            g = 0;
            ++e;
        } else {
            ++g;
        }
    }

    // 3. LIF update: G iterations, P lanes each.
    lif_linear_update<OUT, P>(acc, membrane, spikes, threshold, first_step);
}

// The same layer step scattering two events an iteration (LayerPlan.event_pairs, the HLS
// sibling of fsvae_lif_linear PAIRS): iteration (pair k, group g) adds
// weight[events[2k]][g*P + p] + weight[events[2k+1]][g*P + p] into acc[g*P + p], the second row
// only where event 2k+1 exists (an odd count leaves the last pair one event), so the scatter
// takes ceil(count / 2) * G iterations instead of count * G.  Same results as lif_linear_step,
// bit for bit: after every iteration acc[o] is bias[o] plus the weights of a set of distinct
// inputs (spikes_to_events lists each input once), which lies in the layer's current_range and
// so in ACC_T (Widths, above), whichever way the additions are grouped.
//
// Memory: two weight rows read a cycle, from the same array as lif_linear_step (no second
// copy): the CALLER binds weight to a two-port memory (BIND_STORAGE type=rom_2p, or ram_2p
// where load_weights writes it: codegen/hls_memory.py).  events is still read once a cycle:
// the next pair's two events are fetched in the current pair's last two groups, so a pair
// needs G >= 2 iterations (as the RTL's, whose events arrive one a cycle; design.py
// check_event_pairs refuses G = 1).
//
// Latency (G = OUT / P >= 2):  G (bias load) + 2 (the first pair's events)
//                              + ceil(count / 2) * G (scatter) + G (LIF update)
//                              + the three pipeline depths (a few cycles each).
template <int IN, int OUT, int P, typename W_T, typename B_T, typename ACC_T, typename U_T>
void lif_linear_step_pairs(const index_t events[IN], index_t count, const W_T weight[IN][OUT],
                           const B_T bias[OUT], U_T membrane[OUT],
                           spike_t spikes[OUT] /* in: previous step's spikes, out: new */,
                           ACC_T threshold, bool first_step) {
    static_assert(P >= 1, "lif_linear_step_pairs: P must be >= 1");
    static_assert(OUT % P == 0, "lif_linear_step_pairs: OUT must be a multiple of the lane count P");
    static_assert(OUT / P >= 2, "lif_linear_step_pairs: a pair needs G = OUT / P >= 2 iterations");
    static_assert(IN >= 1 && IN <= MAX_EVENTS, "lif_linear_step_pairs: IN must be in [1, 65535]");
    static const int G = OUT / P;                   // output groups, one per pipeline iteration
    static const int SCATTER_MAX = (IN + 1) / 2 * G;   // trip count of the scatter, all inputs on
    (void)SCATTER_MAX;                              // used by LOOP_TRIPCOUNT only

#pragma HLS ARRAY_PARTITION variable=bias type=cyclic factor=P dim=1

    ACC_T acc[OUT];
#pragma HLS ARRAY_PARTITION variable=acc type=cyclic factor=P dim=1

    // 1. acc = bias: G iterations, P lanes each.
    lif_linear_load_bias<OUT, P>(bias, acc);

    // 2. Scatter the events in pairs: the (pair, group) nest flattened by hand, as in
    //    lif_linear_step, with the same DEPENDENCE argument (acc's group g comes back G
    //    iterations later).  src1 of a pair without a second event is a valid row whose
    //    weights are not added, so both reads stay unconditional.
    const int n = int(count);
    const int total = (n + 1) / 2 * G;
    index_t src0 = n > 0 ? events[0] : index_t(0);  // the pair being scattered
    index_t src1 = n > 1 ? events[1] : index_t(0);
    index_t next0 = 0;                              // the next pair's first event
    int e = 0;   // the pair's first event
    int g = 0;   // output group
    SCATTER_PAIRS:
    for (int i = 0; i < total; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=0 max=SCATTER_MAX
#pragma HLS DEPENDENCE variable=acc type=inter direction=RAW dependent=true distance=G
        const bool second = e + 1 < n;
        // one event read an iteration: the next pair's first in group G-2, its second in G-1
        const int ahead = e + 2 + (g == G - 1 ? 1 : 0);
        index_t fetched = 0;
        if (g >= G - 2 && ahead < n) {
            fetched = events[ahead];
        }
        SCATTER_PAIRS_LANES:
        for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
            const W_T w1 = weight[src1][g * P + p];
            acc[g * P + p] += weight[src0][g * P + p] + (second ? w1 : W_T(0));
        }
        if (g == G - 2) {
            next0 = fetched;
        }
        if (g == G - 1) {
            src0 = next0;
            src1 = fetched;
            g = 0;
            e += 2;
        } else {
            ++g;
        }
    }

    // 3. LIF update: G iterations, P lanes each.
    lif_linear_update<OUT, P>(acc, membrane, spikes, threshold, first_step);
}

// The same layer step with its weights in DDR (hw/boards.yaml weight_stream): per input
// event, the event's row is read with one burst from the AXI4 master behind `rows` (the top's
// m_axi weights_base port, at the layer's offset in the DDR weight image) instead of from an
// on-chip array.  Same results as lif_linear_step, bit for bit.
//
// The image (design.ddr_weight_layout): row i = the engine's G weight words of input i, word g
// = outputs g*P .. g*P+P-1 (lane p in bits [p*W_BITS, (p+1)*W_BITS), two's complement), words
// packed little-endian into DDR_BITS-bit beats; rows ROW_STRIDE beats apart.  A word of
// WB = P*W_BITS bits either divides a beat (K = DDR_BITS / WB words a beat, word k of beat b
// is word b*K + k, in the beat's bits [k*WB, (k+1)*WB)) or spans M = WB / DDR_BITS beats (low
// bits first), as in the RTL's fsvae_weight_stream.
//
// Per event (count events):
//   ROW_FETCH: ROW_BEATS beats in a pipelined loop from rows[src*ROW_STRIDE], one burst (the
//              m_axi adapter splits it at max_read_burst_length; the 4 KB-aligned layers and
//              the row stride keep a burst inside 4 KB), split into the G words of `row`
//              (cyclic K banks: K words written a cycle);
//   ROW_ADD:   G iterations adding word g's P lanes into acc[g*P .. g*P+P-1].
// Latency (G = OUT / P):  G (bias) + count * (DDR latency + ROW_BEATS + G + a few cycles)
//                         + G (LIF update).  Rows are not prefetched across events (the RTL's
// weight stream is), so every event pays the memory latency once.
template <int IN, int OUT, int P, int W_BITS, int ROW_STRIDE, int DDR_BITS, typename B_T, typename ACC_T,
          typename U_T>
void lif_linear_step_ddr(const index_t events[IN], index_t count, const ap_uint<DDR_BITS> *rows,
                         const B_T bias[OUT], U_T membrane[OUT],
                         spike_t spikes[OUT] /* in: previous step's spikes, out: new */,
                         ACC_T threshold, bool first_step) {
    static_assert(P >= 1, "lif_linear_step_ddr: P must be >= 1");
    static_assert(OUT % P == 0, "lif_linear_step_ddr: OUT must be a multiple of the lane count P");
    static_assert(IN >= 1 && IN <= MAX_EVENTS, "lif_linear_step_ddr: IN must be in [1, 65535]");
    static_assert(W_BITS >= 2 && W_BITS <= 32, "lif_linear_step_ddr: weights of 2 to 32 bits");
    static const int WB = P * W_BITS;          // bits of one engine word
    static_assert(DDR_BITS % WB == 0 || WB % DDR_BITS == 0,
                  "lif_linear_step_ddr: an engine word must divide a DDR beat or be whole beats");
    static const int G = OUT / P;              // engine words (output groups) of a row
    static const int K = WB <= DDR_BITS ? DDR_BITS / WB : 1;   // words a beat
    static const int M = WB > DDR_BITS ? WB / DDR_BITS : 1;    // beats a word
    static const int ROW_BEATS = (G * WB + DDR_BITS - 1) / DDR_BITS;
    static_assert(ROW_STRIDE >= ROW_BEATS, "lif_linear_step_ddr: rows overlap (ROW_STRIDE < ROW_BEATS)");

#pragma HLS ARRAY_PARTITION variable=bias type=cyclic factor=P dim=1

    ACC_T acc[OUT];
#pragma HLS ARRAY_PARTITION variable=acc type=cyclic factor=P dim=1
    ap_uint<WB> row[G];                        // the current event's row, one engine word an entry
#pragma HLS ARRAY_PARTITION variable=row type=cyclic factor=K dim=1

    // 1. acc = bias: G iterations, P lanes each.
    lif_linear_load_bias<OUT, P>(bias, acc);

    // 2. Per event: fetch its row from DDR, then add it.
    DDR_EVENTS:
    for (int e = 0; e < int(count); ++e) {
#pragma HLS LOOP_TRIPCOUNT min=0 max=IN
        const ap_uint<DDR_BITS> *src_row = rows + int(events[e]) * ROW_STRIDE;
        ap_uint<WB> word = 0;                  // M > 1: the word being assembled, low beats first
        int m = 0;                             // M > 1: beats of it taken
        int gw = 0;                            // M > 1: the word being assembled
        ROW_FETCH:
        for (int b = 0; b < ROW_BEATS; ++b) {
#pragma HLS PIPELINE II=1
            const ap_uint<DDR_BITS> beat = src_row[b];
            if (M == 1) {
                ROW_SPLIT:
                for (int k = 0; k < K; ++k) {
#pragma HLS UNROLL
                    if (G % K == 0 || b * K + k < G) {
                        row[b * K + k] = beat.range(k * WB + WB - 1, k * WB);
                    }
                }
            } else {
                word = (word >> DDR_BITS) | (ap_uint<WB>(beat) << (WB - DDR_BITS));
                if (m == M - 1) {
                    row[gw] = word;
                    m = 0;
                    ++gw;
                } else {
                    ++m;
                }
            }
        }
        ROW_ADD:
        for (int g = 0; g < G; ++g) {
#pragma HLS PIPELINE II=1
            const ap_uint<WB> w = row[g];
            ROW_ADD_LANES:
            for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
                acc[g * P + p] += ap_int<W_BITS>(w.range(p * W_BITS + W_BITS - 1, p * W_BITS));
            }
        }
    }

    // 3. LIF update (as lif_linear_step).
    lif_linear_update<OUT, P>(acc, membrane, spikes, threshold, first_step);
}

}  // namespace fsvae

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // FSVAE_LIF_LINEAR_H
