// Spike vector -> event list (indices of the active inputs of one time step).
#ifndef FSVAE_EVENT_LIST_H
#define FSVAE_EVENT_LIST_H

#include "types.h"

// Loop labels name the loops in the HLS reports; GCC's -Wall calls them unused.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-label"
#endif

namespace fsvae {

// events[0 .. count) = ascending indices i with spikes[i] == 1; events[count ..) untouched.
// Latency: N iterations at II=1 (+ pipeline depth, ~2 cycles).  The write address n is a
// loop-carried counter (one adder + register), so the loop keeps II=1.
template <int N>
void spikes_to_events(const spike_t spikes[N], index_t events[N], index_t &count) {
    // inlined: one instance per call site, so that callers may pass arrays laid out
    // differently (P banks, words of P lanes, or one bank) without conflicting interfaces
#pragma HLS INLINE
    static_assert(N >= 1 && N <= MAX_EVENTS, "spikes_to_events: N must be in [1, 65535]");
    index_t n = 0;
    SCAN:
    for (int i = 0; i < N; ++i) {
#pragma HLS PIPELINE II=1
        if (spikes[i]) {
            events[n] = i;
            n++;
        }
    }
    count = n;
}

}  // namespace fsvae

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // FSVAE_EVENT_LIST_H
