// Run counters: free-running performance counters of the generated top, read by the
// testbench through the hierarchy (perf_run_cycles, perf_images) and differenced per run.
//
//   running: the accelerator is not idle (ap_idle low); run_cycles counts those cycles.
//   image_done: an image has been sent (a 1-cycle pulse); images counts them.
//   run_cycles, images: W-bit counts since reset, wrapping modulo 2**W; each includes this
//     cycle's input from the next cycle on (latency 1).
// Synchronous active-high reset.

`default_nettype none

module fsvae_run_counters #(
    parameter int W = 32                  // counter width
) (
    input  wire logic        clk,
    input  wire logic        rst,
    input  wire logic        running,
    input  wire logic        image_done,
    output logic [W-1:0]     run_cycles,
    output logic [W-1:0]     images
);

    always_ff @(posedge clk) begin
        if (rst) begin
            run_cycles <= '0;
            images     <= '0;
        end else begin
            if (running) run_cycles <= run_cycles + 1'b1;
            if (image_done) images <= images + 1'b1;
        end
    end

endmodule

`default_nettype wire
