// Starts one engine T times per image: the engine's time steps 0..T-1, each as soon as the
// previous one is done, so that every layer of the generated top runs ahead of the layers
// below it as far as its input events allow (layers overlap across time steps; an engine
// only accepts a step's input events after its start, so a fast producer simply waits in
// the FIFO between them).
//
//   go (1-cycle pulse, honoured while finished): begin an image, step 0 next.
//   start/first_step: to the engine; start is high for one cycle when the engine is not
//     busy (busy also covers its accumulator clearing after reset), the previous step is
//     done and fewer than T steps were started.  first_step is high for step 0.
//   step: the index of the step the engine is running (or last ran).
//   finished: no image in progress (all T steps done, or nothing started since reset).
// Synchronous active-high reset.

`default_nettype none

module fsvae_step_sequencer #(
    parameter int T   = 16,
    parameter int T_W = $clog2(T + 1)
) (
    input  wire logic            clk,
    input  wire logic            rst,

    input  wire logic            go,
    output logic                 finished,

    output logic                 start,
    output logic                 first_step,
    input  wire logic            busy,
    input  wire logic            done,
    output logic [T_W-1:0]       step
);

    logic           running, pending;
    logic [T_W-1:0] started;                     // steps started in this image

    assign start      = running && !pending && (started != T_W'(T)) && !busy;
    assign first_step = (started == '0);
    assign finished   = !running;
    assign step       = (started == '0) ? '0 : started - 1'b1;

    always_ff @(posedge clk) begin
        if (rst) begin
            running <= 1'b0;
            pending <= 1'b0;
            started <= '0;
        end else if (go && !running) begin
            running <= 1'b1;
            pending <= 1'b0;
            started <= '0;
        end else begin
            if (start) begin
                started <= started + 1'b1;
                pending <= 1'b1;
            end else if (done) begin
                pending <= 1'b0;
            end
            if (running && !pending && !start && started == T_W'(T))
                running <= 1'b0;
        end
    end

endmodule

`default_nettype wire
