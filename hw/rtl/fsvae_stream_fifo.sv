// A small synchronous FIFO for AXI4-Stream beats (the glue between the engines of the
// generated top, hw/templates/fsvae_top.sv.in).
//
//   s_axis_* -> DEPTH entries of {tuser, tlast, tdata} (DATA_W + 2 bits) -> m_axis_*, first
//   in first out.  s_axis_tready = not full, m_axis_tvalid = not empty; both are flag
//   registers, so there is no combinational path from m_axis_tready to s_axis_tready
//   (the FIFO is also a register slice).  m_axis_tdata/tlast/tuser are read combinationally
//   from the storage array (LUTRAM for small DEPTH).
// DEPTH must be a power of two >= 2.  Synchronous active-high reset empties the FIFO.

`default_nettype none

module fsvae_stream_fifo #(
    parameter int DATA_W = 8,                // tdata bits
    parameter int DEPTH  = 4                 // entries, a power of two >= 2
) (
    input  wire logic              clk,
    input  wire logic              rst,

    input  wire logic [DATA_W-1:0] s_axis_tdata,
    input  wire logic              s_axis_tvalid,
    output logic                   s_axis_tready,
    input  wire logic              s_axis_tlast,
    input  wire logic              s_axis_tuser,

    output logic [DATA_W-1:0]      m_axis_tdata,
    output logic                   m_axis_tvalid,
    input  wire logic              m_axis_tready,
    output logic                   m_axis_tlast,
    output logic                   m_axis_tuser
);

    localparam int A_W = $clog2(DEPTH);
    localparam int W   = DATA_W + 2;             // an entry: {tuser, tlast, tdata}

    if (DEPTH < 2 || (1 << A_W) != DEPTH) begin : g_bad_depth
        $error("fsvae_stream_fifo: DEPTH (%0d) must be a power of two >= 2", DEPTH);
    end

    logic [W-1:0]   mem [DEPTH];
    logic [A_W-1:0] wr_ptr, rd_ptr;
    logic [A_W:0]   count;
    logic           push, pop;
    logic           full, any;                   // count == DEPTH, count != 0: flag registers

    assign s_axis_tready = !full;
    assign m_axis_tvalid = any;
    assign {m_axis_tuser, m_axis_tlast, m_axis_tdata} = mem[rd_ptr];
    assign push = s_axis_tvalid && s_axis_tready;
    assign pop  = m_axis_tvalid && m_axis_tready;

    always_ff @(posedge clk) begin
        if (push) mem[wr_ptr] <= {s_axis_tuser, s_axis_tlast, s_axis_tdata};
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            wr_ptr <= '0;
            rd_ptr <= '0;
            count  <= '0;
            full   <= 1'b0;
            any    <= 1'b0;
        end else begin
            if (push) wr_ptr <= wr_ptr + 1'b1;
            if (pop)  rd_ptr <= rd_ptr + 1'b1;
            if (push && !pop) begin
                count <= count + 1'b1;
                full  <= (count == (A_W + 1)'(DEPTH - 1));
                any   <= 1'b1;
            end else if (pop && !push) begin
                count <= count - 1'b1;
                full  <= 1'b0;
                any   <= (count != (A_W + 1)'(1));
            end
        end
    end

endmodule

`default_nettype wire
