// Performance counters of one engine: cycles it is busy and events it takes in, since reset.
//
// The generated top gives every layer engine one of these (perf_<instance>_busy / _events,
// read by the simulation testbench through the hierarchy for make sim's report); a LIF
// update stage counts busy cycles only (event_in tied low).  Counters wrap at 2^W.
`default_nettype none

module fsvae_engine_counters #(
    parameter int W = 32
) (
    input  wire logic         clk,
    input  wire logic         rst,
    input  wire logic         busy,        // the engine is inside a time step
    input  wire logic         event_in,    // one input event taken this cycle
    output logic [W-1:0]      busy_cycles,
    output logic [W-1:0]      events
);
    always_ff @(posedge clk) begin
        if (rst) begin
            busy_cycles <= '0;
            events      <= '0;
        end else begin
            if (busy) busy_cycles <= busy_cycles + 1'b1;
            if (event_in) events <= events + 1'b1;
        end
    end
endmodule

`default_nettype wire
