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
    BIAS:
    for (int g = 0; g < G; ++g) {
#pragma HLS PIPELINE II=1
        BIAS_LANES:
        for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
            acc[g * P + p] = bias[g * P + p];
        }
    }

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

    // 3. LIF update, hard reset to zero after a spike: G iterations, P lanes each; every
    //    iteration reads and writes its own group only, so there is no carried dependence.
    UPDATE:
    for (int g2 = 0; g2 < G; ++g2) {
#pragma HLS PIPELINE II=1
        UPDATE_LANES:
        for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
            const int o = g2 * P + p;
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

}  // namespace fsvae

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // FSVAE_LIF_LINEAR_H
