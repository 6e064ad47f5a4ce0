// A stand-in for the vendor header ap_axi_sdata.h, for the g++ C simulation only
// (toolchain/csim.py puts this folder on the include path).  The vendor header ships with
// Vitis HLS, not with the hls4ml wheel; Vitis compiles the generated project with its own.
// It declares just what the generated design and testbench use: the TDATA, TKEEP, TSTRB and
// TLAST fields of ap_axiu<D, 0, 0, 0> (no TUSER, TID, TDEST).
#ifndef FSVAE_CSIM_AP_AXI_SDATA_H
#define FSVAE_CSIM_AP_AXI_SDATA_H

#include <ap_int.h>

template <int D, int U, int TI, int TD>
struct ap_axiu {
    static_assert(U == 0 && TI == 0 && TD == 0, "csim stand-in: side channels are not modelled");
    ap_uint<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    ap_uint<1> last;
};

#endif
