// y = 1 when at most one bit of x is set, as a balanced tree of (any, two or more) pairs: no
// carry chain, about log6(W) + 1 LUT levels.  For the "one bit left" flags of the bitmap
// scanners (fsvae_spike_emitter, fsvae_event_list), where x & (x - 1) == 0 put a W-bit
// carry chain (or, mapped to LUTs, several levels) behind every handshake.  Combinational.

`default_nettype none

module fsvae_at_most_one #(
    parameter int W = 8
) (
    input  wire logic [W-1:0] x,
    output logic              y
);

    localparam int L = (W > 1) ? $clog2(W) : 1;     // tree levels over 2^L leaves

    always_comb begin
        logic [(1 << L)-1:0] any, many;
        any  = '0;
        many = '0;
        any[W-1:0] = x;
        for (int l = 0; l < L; l++) begin
            for (int i = 0; i < ((1 << L) >> (l + 1)); i++) begin
                many[i] = many[2*i] | many[2*i+1] | (any[2*i] & any[2*i+1]);
                any[i]  = any[2*i] | any[2*i+1];
            end
        end
        y = !many[0];
    end

endmodule

`default_nettype wire
