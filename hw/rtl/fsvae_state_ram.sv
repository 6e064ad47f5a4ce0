// A layer's state memory (accumulated currents, membranes and spike bits): one write port and
// one registered read port, as a simple-dual-port RAM.
//
//   we/waddr/wdata: written at the clock edge.
//   re/raddr -> rdata one cycle later (holds between reads).  A read of the word being
//     written in the same cycle returns the old word (the engines forward the new one).
//
// Where it lives follows from its depth alone, so that codegen's block-RAM count
// (fsvae_fpga.codegen.balance.state_bram18) makes the same choice: a memory of at most
// LUTRAM_DEPTH words goes to distributed RAM (LUTs).  The engines' state memories are P words
// wide and often shallow (a 2,560-neuron layer at 32 lanes: 80 words of 448 bits); in block
// RAM such a memory takes one 512-deep block per 36-72 bits of width and leaves most of each
// block empty, in LUTs it takes 2-4 LUTs per bit of width.

`default_nettype none

module fsvae_state_ram #(
    parameter int DEPTH = 16,
    parameter int WIDTH = 8,
    parameter int LUTRAM_DEPTH = 128,           // deepest memory kept in LUTs
    parameter int A_W   = (DEPTH > 1) ? $clog2(DEPTH) : 1
) (
    input  wire logic             clk,
    input  wire logic             we,
    input  wire logic [A_W-1:0]   waddr,
    input  wire logic [WIDTH-1:0] wdata,
    input  wire logic             re,
    input  wire logic [A_W-1:0]   raddr,
    output logic      [WIDTH-1:0] rdata
);

    if (DEPTH <= LUTRAM_DEPTH) begin : g_lut
        (* ram_style = "distributed" *) logic [WIDTH-1:0] mem [DEPTH];
        always_ff @(posedge clk) begin
            if (we) mem[waddr] <= wdata;
            if (re) rdata <= mem[raddr];
        end
    end else begin : g_block
        (* ram_style = "block" *) logic [WIDTH-1:0] mem [DEPTH];
        always_ff @(posedge clk) begin
            if (we) mem[waddr] <= wdata;
            if (re) rdata <= mem[raddr];
        end
    end

endmodule

`default_nettype wire
