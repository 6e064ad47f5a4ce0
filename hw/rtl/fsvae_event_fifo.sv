// A deep FIFO for AXI4-Stream beats in block RAM (up to 128 entries: LUTs): the buffer between two layers of the generated
// top that lets a producer run up to a time step ahead of its consumer (fsvae_stream_fifo, the
// small FIFO, couples them beat by beat: a layer waits for the next one to start the step
// before it can finish its own).
//
//   s_axis_* -> a DEPTH-entry RAM of {tuser, tlast, tdata} (DATA_W + 2 bits) -> a 3-entry
//   output buffer of registers -> m_axis_*, first in first out; DEPTH + 3 entries in all.
//   The RAM is read synchronously (one cycle, so it maps to block RAM), a read issued only
//   when the output buffer has room for it (buffered + in flight <= 2: registers only), so
//   no path leads from m_axis_tready to the RAM's enables or to s_axis_tready; one beat a
//   cycle in and out in steady state; a beat written into an empty FIFO appears on m_axis
//   three cycles later.
//   s_axis_tready = the RAM is not full (a flag register); m_axis_tvalid = the output buffer is
//   not empty (a register).
// DEPTH must be a power of two >= 4.  Synchronous active-high reset empties the FIFO.

`default_nettype none

module fsvae_event_fifo #(
    parameter int DATA_W = 8,                // tdata bits
    parameter int DEPTH  = 1024              // RAM entries, a power of two >= 4
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

    if (DEPTH < 4 || (1 << A_W) != DEPTH) begin : g_bad_depth
        $error("fsvae_event_fifo: DEPTH (%0d) must be a power of two >= 4", DEPTH);
    end

    // ---- the RAM: written on push, read (registered) on issue (fsvae_state_ram: block RAM, or
    // LUTs for a FIFO of at most 128 entries)
    logic [A_W-1:0] wr_ptr, rd_ptr;
    logic [A_W:0]   ram_count;                   // entries in the RAM not yet read
    logic [W-1:0]   rdata;
    logic           push, issue, in_flight;

    // ---- the output buffer: 3 registers, a ring
    logic [W-1:0]   buf_q [3];
    logic [1:0]     head, tail, buf_count;       // buf_count 0..3
    logic           pop;

    // ram_full / ram_any: ram_count == DEPTH / != 0 as registers, so that s_axis_tready and the
    // read issue wait on no compare of the count
    logic           ram_full, ram_any;
    assign s_axis_tready = !ram_full;
    assign push  = s_axis_tvalid && s_axis_tready;
    // room for one more read: what is buffered plus the read in flight stays <= 3 even with no pop
    assign issue = ram_any && ({1'b0, buf_count} + {2'b0, in_flight} <= 3'd2);

    assign m_axis_tvalid = (buf_count != '0);
    assign {m_axis_tuser, m_axis_tlast, m_axis_tdata} = buf_q[head];
    assign pop = m_axis_tvalid && m_axis_tready;

    fsvae_state_ram #(.DEPTH(DEPTH), .WIDTH(W)) u_ram (
        .clk, .we(push), .waddr(wr_ptr), .wdata({s_axis_tuser, s_axis_tlast, s_axis_tdata}),
        .re(issue), .raddr(rd_ptr), .rdata
    );

    function automatic logic [1:0] next(input logic [1:0] i);
        next = (i == 2'd2) ? 2'd0 : i + 2'd1;
    endfunction

    always_ff @(posedge clk) begin
        if (in_flight) buf_q[tail] <= rdata;
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            wr_ptr    <= '0;
            rd_ptr    <= '0;
            ram_count <= '0;
            ram_full  <= 1'b0;
            ram_any   <= 1'b0;
            in_flight <= 1'b0;
            head      <= '0;
            tail      <= '0;
            buf_count <= '0;
        end else begin
            if (push)  wr_ptr <= wr_ptr + 1'b1;
            if (issue) rd_ptr <= rd_ptr + 1'b1;
            if (push && !issue) begin
                ram_count <= ram_count + 1'b1;
                ram_full  <= (ram_count == (A_W + 1)'(DEPTH - 1));
                ram_any   <= 1'b1;
            end else if (issue && !push) begin
                ram_count <= ram_count - 1'b1;
                ram_full  <= 1'b0;
                ram_any   <= (ram_count != (A_W + 1)'(1));
            end
            in_flight <= issue;
            if (in_flight) tail <= next(tail);
            if (pop)       head <= next(head);
            if (in_flight && !pop)      buf_count <= buf_count + 2'd1;
            else if (pop && !in_flight) buf_count <= buf_count - 2'd1;
        end
    end

endmodule

`default_nettype wire
