// Starts one engine for every time step of every image of a run: N_IMAGES x T steps, each
// as soon as the previous one is done, so that every layer of the generated top runs ahead
// of the layers below it as far as its input events allow: layers overlap across time
// steps and across images (an engine only accepts a step's input events after its start,
// so a fast producer simply waits in the FIFO between them).
//
//   go (1-cycle pulse, honoured while finished) with n_images (>= 1): begin a run.
//   start/first_step: to the engine; start is high for one cycle when the engine is not
//     busy (busy also covers its accumulator clearing after reset), the previous step is
//     done and steps remain.  first_step is high for step 0 of each image.
//   step / image: the step (0..T-1) and the image (0..n_images-1, within the run) the
//     engine is running or last ran.
//   finished: no run in progress (all steps done, or nothing started since reset).
// Synchronous active-high reset.

`default_nettype none

module fsvae_step_sequencer #(
    parameter int T   = 16,
    parameter int T_W = $clog2(T + 1)
) (
    input  wire logic            clk,
    input  wire logic            rst,

    input  wire logic            go,
    input  wire logic [31:0]     n_images,
    output logic                 finished,

    output logic                 start,
    output logic                 first_step,
    input  wire logic            busy,
    input  wire logic            done,
    output logic [T_W-1:0]       step,
    output logic [31:0]          image
);

    logic           running, pending;
    logic [T_W-1:0] next_step;                   // step of the next start
    logic [31:0]    next_image, n_q;

    assign start      = running && !pending && !busy;
    assign first_step = (next_step == '0);
    assign finished   = !running && !pending;

    always_ff @(posedge clk) begin
        if (rst) begin
            running    <= 1'b0;
            pending    <= 1'b0;
            next_step  <= '0;
            next_image <= '0;
            n_q        <= '0;
            step       <= '0;
            image      <= '0;
        end else if (go && finished) begin
            running    <= (n_images != '0);
            next_step  <= '0;
            next_image <= '0;
            n_q        <= n_images;
        end else begin
            if (start) begin
                pending <= 1'b1;
                step    <= next_step;
                image   <= next_image;
                if (next_step == T_W'(T - 1)) begin
                    next_step  <= '0;
                    next_image <= next_image + 1'b1;
                    if (next_image + 1'b1 == n_q) running <= 1'b0;
                end else begin
                    next_step <= next_step + 1'b1;
                end
            end else if (done) begin
                pending <= 1'b0;
            end
        end
    end

endmodule

`default_nettype wire
