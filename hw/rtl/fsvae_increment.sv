// x + 1 (modulo 2^W) as gates rather than an adder: bit i flips when every lower bit is 1.
// For the counters that address a ROM whose read is registered: synthesis moves that
// register onto the ROM's address, which puts the counter's increment in front of the ROM,
// and as a carry chain there it measured 11 LUT + 1 carry deep where gates stay under 10
// (PYNQ-Z2 paper design, prior.2's bias ROM; make estimate).  Combinational.

`default_nettype none

module fsvae_increment #(
    parameter int W = 8
) (
    input  wire logic [W-1:0] x,
    output logic      [W-1:0] y
);

    always_comb begin
        for (int i = 0; i < W; i++) begin
            y[i] = x[i] ^ (&(x | ~W'((1 << i) - 1)));
        end
    end

endmodule

`default_nettype wire
