// N AXI4 read masters (the weight streamers, fsvae_weight_stream) on one AXI4 read port:
// the read-address requests are granted round robin, and the read data of each burst goes
// back to the master that asked for it.  One ID: the memory answers bursts in the order it
// accepted them (AXI's rule for one ID), so a FIFO of owners, pushed at each grant and popped
// at each burst's rlast, routes the data.
//
//   s_ar*[i] -> m_ar*: a request (address, length) of master i.  One master has the turn
//     (a register); s_arready is high for it alone, whenever the output register can take a
//     request, whatever its arvalid, so that no master's arready waits on another's arvalid
//     through the round-robin search.  The turn moves to the next master with a request
//     (after the one that has it; itself last) after each grant, and while the master that
//     has it asks for nothing.  The output request is a register (m_arvalid held with
//     m_araddr/m_arlen until m_arready); a new grant loads it in the cycle the old one is
//     taken, so back-to-back requests of one master pass at one per cycle, and a master
//     that starts asking while another has the turn waits a cycle for it.
//   m_r* -> s_r*: rdata/rresp/rlast go to every master; rvalid only to the owner of the
//     burst at the head of the owner FIFO, and m_rready is its rready.  With no request
//     outstanding m_rready is 0.
//   OUTSTANDING bounds the bursts granted and not yet finished (the owner FIFO's depth); a
//     master is not granted while the FIFO is full.
// Deadlock: a master must be able to take the data of every burst it asked for (the
// streamers issue a burst only when their data FIFO has room for all of it, so their rready
// is always 1); a master that holds rready low stalls everyone behind it.
// Synchronous active-high reset.

`default_nettype none

module fsvae_axi_read_arb #(
    parameter int N           = 2,         // masters, >= 1
    parameter int ADDR_BITS   = 32,
    parameter int DATA_BITS   = 64,
    parameter int OUTSTANDING = 16,        // bursts in flight, >= 1
    parameter int ID_W        = (N > 1) ? $clog2(N) : 1
) (
    input  wire logic                   clk,
    input  wire logic                   rst,

    input  wire logic [N*ADDR_BITS-1:0] s_araddr,      // master i in bits [i*ADDR_BITS +: ADDR_BITS]
    input  wire logic [N*8-1:0]         s_arlen,
    input  wire logic [N-1:0]           s_arvalid,
    output logic      [N-1:0]           s_arready,
    output logic      [DATA_BITS-1:0]   s_rdata,
    output logic      [1:0]             s_rresp,
    output logic                        s_rlast,
    output logic      [N-1:0]           s_rvalid,
    input  wire logic [N-1:0]           s_rready,

    output logic      [ADDR_BITS-1:0]   m_araddr,
    output logic      [7:0]             m_arlen,
    output logic                        m_arvalid,
    input  wire logic                   m_arready,
    input  wire logic [DATA_BITS-1:0]   m_rdata,
    input  wire logic [1:0]             m_rresp,
    input  wire logic                   m_rlast,
    input  wire logic                   m_rvalid,
    output logic                        m_rready
);

    localparam int O_W = (OUTSTANDING > 1) ? $clog2(OUTSTANDING) : 1;

    if (N < 1 || OUTSTANDING < 1) begin : g_bad
        $error("fsvae_axi_read_arb: N and OUTSTANDING must be at least 1");
    end

    // ------------------------------------------------------------------ owner FIFO
    logic [ID_W-1:0] owners [OUTSTANDING];
    logic [O_W-1:0]  wr_ptr, rd_ptr;
    logic [O_W:0]    count;
    logic            push, pop, full, empty;
    logic [ID_W-1:0] grant_id, head;

    assign empty = count == '0;
    assign head  = owners[rd_ptr];
    assign pop   = m_rvalid && m_rready && m_rlast;

    always_ff @(posedge clk) begin
        if (push) begin
            owners[wr_ptr] <= grant_id;
        end
        if (rst) begin
            wr_ptr <= '0;
            rd_ptr <= '0;
            count  <= '0;
            full   <= 1'b0;
        end else begin
            if (push) wr_ptr <= (wr_ptr == O_W'(OUTSTANDING - 1)) ? '0 : wr_ptr + 1'b1;
            if (pop)  rd_ptr <= (rd_ptr == O_W'(OUTSTANDING - 1)) ? '0 : rd_ptr + 1'b1;
            count <= count + (O_W + 1)'(push) - (O_W + 1)'(pop);
            // a register, so that the grant (and the masters' FIFO pops behind s_arready)
            // does not wait on a compare of count
            full  <= (count + (O_W + 1)'(push) - (O_W + 1)'(pop)) == (O_W + 1)'(OUTSTANDING);
        end
    end

    // ------------------------------------------------------------------ request arbiter
    logic            open;          // the output register can take a request this cycle
    logic            load;          // ... and takes one
    logic            found;
    logic [ID_W-1:0] turn, next_turn;   // the master whose request may be taken

    assign open     = (!m_arvalid || m_arready) && !full;
    assign grant_id = turn;
    assign load     = open && s_arvalid[turn];
    assign push     = load;

    always_comb begin
        s_arready = '0;
        s_arready[turn] = open;
    end

    // round robin: the first master with a request after the one that has the turn (itself last)
    always_comb begin
        found     = 1'b0;
        next_turn = turn;
        for (int k = 1; k <= N; k++) begin
            if (!found && s_arvalid[(int'(turn) + k) % N]) begin
                found     = 1'b1;
                next_turn = ID_W'((int'(turn) + k) % N);
            end
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            m_arvalid <= 1'b0;
            turn      <= '0;
        end else begin
            if (load) begin
                m_arvalid <= 1'b1;
                m_araddr  <= s_araddr[grant_id * ADDR_BITS +: ADDR_BITS];
                m_arlen   <= s_arlen[grant_id * 8 +: 8];
            end else if (m_arready) begin
                m_arvalid <= 1'b0;
            end
            if (load || !s_arvalid[turn]) begin
                turn <= next_turn;
            end
        end
    end

    // ------------------------------------------------------------------ read data routing
    assign s_rdata  = m_rdata;
    assign s_rresp  = m_rresp;
    assign s_rlast  = m_rlast;
    assign m_rready = !empty && s_rready[head];
    always_comb begin
        s_rvalid = '0;
        if (!empty) s_rvalid[head] = m_rvalid;
    end

endmodule

`default_nettype wire
