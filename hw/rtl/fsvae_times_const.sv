// y = x * C (modulo 2^W) for a constant C, as shifted copies of x, one per set bit of C
// (9 * G: two): adders, where `*` makes synthesis infer a DSP multiplier.  For the engines'
// event -> weight-row address, behind an event FIFO read: as an unregistered DSP stage there
// it set the KV260 clock.  Combinational.

`default_nettype none

module fsvae_times_const #(
    parameter int W = 8,
    parameter int C = 1                    // >= 0
) (
    input  wire logic [W-1:0] x,
    output logic      [W-1:0] y
);

    always_comb begin
        y = '0;
        for (int i = 0; i < W; i++) begin
            if (((C >> i) & 1) != 0) begin
                y = y + (x << i);
            end
        end
    end

endmodule

`default_nettype wire
