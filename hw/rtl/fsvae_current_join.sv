// Current join: the element-wise sum of R current streams that carry the same beats in the
// same order (R replicas of a transposed-conv layer's engine, fed by fsvae_event_split), modulo
// 2^BITS per lane.  Exact because each replica's partial sum and the total lie in the
// layer's current range (a subset of the taps; only replica 0 adds the bias).
//
//   s_axis_tdata[r]: LANES signed BITS-wide values of replica r (lane l at bits l*BITS).
//   A beat leaves when all R inputs are valid (a join); tlast is taken from replica 0.
//   Output registered (one beat per cycle, no combinational path from m_axis_tready to
//   the inputs' tready beyond the join's own AND).
// Synchronous active-high reset.

`default_nettype none

module fsvae_current_join #(
    parameter int R     = 2,
    parameter int LANES = 1,
    parameter int BITS  = 16
) (
    input  wire logic                      clk,
    input  wire logic                      rst,

    input  wire logic [R*LANES*BITS-1:0]   s_axis_tdata,
    input  wire logic [R-1:0]              s_axis_tvalid,
    output logic [R-1:0]                   s_axis_tready,
    /* verilator lint_off UNUSEDSIGNAL */  // tlast of replicas 1.. equals replica 0's
    input  wire logic [R-1:0]              s_axis_tlast,
    /* verilator lint_on UNUSEDSIGNAL */

    output logic [LANES*BITS-1:0]          m_axis_tdata,
    output logic                           m_axis_tvalid,
    input  wire logic                      m_axis_tready,
    output logic                           m_axis_tlast
);

    logic all_valid, take;
    logic [LANES*BITS-1:0] sum;
    logic [BITS-1:0] acc;                    // one lane's running sum (combinational)

    assign all_valid     = &s_axis_tvalid;
    assign take          = all_valid && (!m_axis_tvalid || m_axis_tready);
    assign s_axis_tready = {R{take}};

    always_comb begin
        acc = '0;
        for (int l = 0; l < LANES; l++) begin
            acc = '0;
            for (int r = 0; r < R; r++)
                acc = acc + s_axis_tdata[(r * LANES + l) * BITS +: BITS];
            sum[l * BITS +: BITS] = acc;
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            m_axis_tvalid <= 1'b0;
            m_axis_tdata  <= '0;
            m_axis_tlast  <= 1'b0;
        end else if (take) begin
            m_axis_tvalid <= 1'b1;
            m_axis_tdata  <= sum;
            m_axis_tlast  <= s_axis_tlast[0];
        end else if (m_axis_tready) begin
            m_axis_tvalid <= 1'b0;
        end
    end

endmodule

`default_nettype wire
