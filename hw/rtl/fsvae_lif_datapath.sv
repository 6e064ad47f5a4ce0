// The LIF neuron update of P lanes, the one definition every engine instantiates
// (fsvae_lif_linear, fsvae_lif_update); bit-exact with golden.LIFState.step:
//
//   u_new = first ? cur : (u_old >>> 2) * (1 - s_old) + cur      (>>> = floor)
//   s_new = u_new > THRESHOLD
//
// Ports: lane p of every vector at p*BITS (lane 0 in the low bits), two's complement.
//   first: ignore the stored state (step 0: u = I).
//   cur:   the currents, CUR_BITS each, resized to MEM_BITS (sign-extended; the bound
//          analysis makes MEM_BITS >= CUR_BITS, a narrower MEM_BITS would wrap).
//   u_old / s_old -> u_new / s_new: the stored membranes and spikes and their successors.
// Latency: none (combinational); the engines register around it.  Nothing saturates: the
// bound analysis (hwmodel.membrane_range) sizes MEM_BITS so that u never overflows.
// Cost: P adders and P comparators.

`default_nettype none

module fsvae_lif_datapath #(
    parameter int P         = 4,
    parameter int CUR_BITS  = 16,
    parameter int MEM_BITS  = 17,
    parameter int THRESHOLD = 0
) (
    input  wire logic                  first,
    input  wire logic [P*CUR_BITS-1:0] cur,
    input  wire logic [P*MEM_BITS-1:0] u_old,
    input  wire logic [P-1:0]          s_old,
    output logic      [P*MEM_BITS-1:0] u_new,
    output logic      [P-1:0]          s_new
);

    // THRESHOLD is an int: compare at 32 bits at least, so that it is never truncated.
    localparam int CMP_BITS = (MEM_BITS > 32) ? MEM_BITS : 32;
    localparam logic signed [CMP_BITS-1:0] THR = CMP_BITS'(THRESHOLD);

    for (genvar p = 0; p < P; p++) begin : g_lane
        logic signed [CUR_BITS-1:0] i;
        logic signed [MEM_BITS-1:0] u, shifted, leaked, sum;

        assign i = cur[p*CUR_BITS +: CUR_BITS];
        assign u = u_old[p*MEM_BITS +: MEM_BITS];
        // The shift has its own signal: inside ?: next to an unsigned '0 it would be
        // evaluated unsigned, i.e. as a logical shift.
        assign shifted = u >>> 2;
        // Hard reset: a neuron that spiked restarts from its current alone.
        assign leaked = (first || s_old[p]) ? '0 : shifted;
        assign sum    = leaked + MEM_BITS'(i);
        assign u_new[p*MEM_BITS +: MEM_BITS] = sum;
        assign s_new[p] = CMP_BITS'(sum) > THR;
    end

endmodule

`default_nettype wire
