// Common types and constants of the FSVAE engine library (nothing model-specific).
#ifndef FSVAE_TYPES_H
#define FSVAE_TYPES_H

// The vendor ap_types headers trip GCC 12's -Wint-in-bool-context and -Wuninitialized
// (default-constructed ap_private reads its own word in clearUnusedBits).  Silence exactly
// those, for the vendor include only, so that C simulation builds with -Wall -Werror.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__SYNTHESIS__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wint-in-bool-context"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <ap_int.h>
#pragma GCC diagnostic pop
#else
#include <ap_int.h>
#endif

namespace fsvae {

typedef ap_uint<1> spike_t;    // one spike (0/1)
typedef ap_uint<16> index_t;   // an input index or an event count (layers up to 65535 wide)
typedef ap_uint<8> pixel_t;    // an output pixel

// LIF leak: u <- (u >> LEAK_SHIFT) * (1 - o) + I, arithmetic shift (floor), i.e. tau = 0.75
// rounded down in the membrane unit (hwmodel.LEAK_SHIFT).
static const int LEAK_SHIFT = 2;

// Largest layer width an index_t event list can describe (count must fit index_t too).
static const int MAX_EVENTS = 65535;

}  // namespace fsvae

#endif  // FSVAE_TYPES_H
