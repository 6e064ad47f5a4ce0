// A small synchronous FIFO for valid/ready streams (the glue between the engines of the
// generated top, hw/templates/fsvae_top.sv.in).
//
//   s_* -> DEPTH entries of W bits -> m_*, first in first out.
//   s_ready = not full, m_valid = not empty; both come from registers only, so there is no
//   combinational path from m_ready to s_ready (the FIFO is also a register slice).
//   m_data is read combinationally from the storage array (LUTRAM for small DEPTH).
// DEPTH must be a power of two >= 2.  Synchronous active-high reset empties the FIFO.

`default_nettype none

module fsvae_stream_fifo #(
    parameter int W     = 8,                 // data bits per entry
    parameter int DEPTH = 4                  // entries, a power of two >= 2
) (
    input  wire logic          clk,
    input  wire logic          rst,

    input  wire logic [W-1:0]  s_data,
    input  wire logic          s_valid,
    output logic               s_ready,

    output logic [W-1:0]       m_data,
    output logic               m_valid,
    input  wire logic          m_ready
);

    localparam int A_W = $clog2(DEPTH);

    if (DEPTH < 2 || (1 << A_W) != DEPTH) begin : g_bad_depth
        $error("fsvae_stream_fifo: DEPTH (%0d) must be a power of two >= 2", DEPTH);
    end

    logic [W-1:0]   mem [DEPTH];
    logic [A_W-1:0] wr_ptr, rd_ptr;
    logic [A_W:0]   count;
    logic           push, pop;

    assign s_ready = (count != (A_W + 1)'(DEPTH));
    assign m_valid = (count != '0);
    assign m_data  = mem[rd_ptr];
    assign push    = s_valid && s_ready;
    assign pop     = m_valid && m_ready;

    always_ff @(posedge clk) begin
        if (push) mem[wr_ptr] <= s_data;
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            wr_ptr <= '0;
            rd_ptr <= '0;
            count  <= '0;
        end else begin
            if (push) wr_ptr <= wr_ptr + 1'b1;
            if (pop)  rd_ptr <= rd_ptr + 1'b1;
            if (push && !pop)      count <= count + 1'b1;
            else if (pop && !push) count <= count - 1'b1;
        end
    end

endmodule

`default_nettype wire
