// Performance counters: cycles a unit is busy and events it takes in, since reset, read by
// the testbench through the hierarchy (make sim's report).  The generated top has one for the
// run (busy = not ap_idle, events = images sent: perf_run_cycles, perf_images) and one per
// layer engine (perf_<instance>_busy / _events; a LIF update stage counts busy cycles only;
// the output stage counts the spikes of the masks it takes, E = P at a time).
//
//   busy: the unit is busy this cycle; busy_cycles counts those cycles.
//   event_in: E event flags this cycle (one bit per event, a 1-cycle pulse each); events
//     counts the set bits.
//   busy_cycles, events: W-bit counts since reset, wrapping modulo 2**W; each includes this
//     cycle's input from the next cycle on (latency 1).
// Synchronous active-high reset.

`default_nettype none

module fsvae_run_counters #(
    parameter int W = 32,                 // counter width
    parameter int E = 1                   // event flags per cycle
) (
    input  wire logic        clk,
    input  wire logic        rst,
    input  wire logic        busy,
    input  wire logic [E-1:0] event_in,
    output logic [W-1:0]     busy_cycles,
    output logic [W-1:0]     events
);

    always_ff @(posedge clk) begin
        if (rst) begin
            busy_cycles <= '0;
            events      <= '0;
        end else begin
            if (busy) busy_cycles <= busy_cycles + 1'b1;
            events <= events + W'($countones(event_in));
        end
    end

endmodule

`default_nettype wire
