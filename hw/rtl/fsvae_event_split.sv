// Event split: one step's event stream dealt round robin to R engine replicas, so that R
// copies of an engine scatter R events at once (a transposed-conv layer's copies, whose
// currents are then summed by fsvae_current_join: accumulation is additive, so any
// partition of the events gives the same sum).
//
//   s_axis_*: a step's events (tdata, tlast on the last; or one beat with tuser = 1 when the
//     step has none), the engines' s_axis_event_* conventions.
//   m_axis_*[r]: replica r's events of the step.  Every replica sees exactly one step end per
//     input step: the replica that takes the step's last event gets it with tlast, every
//     other replica then gets an end-of-step beat (tuser = 1, tlast = 1, tdata = 0), which
//     the engines accept after events, too (fsvae_convt_current ends the step on it).
//   Event k of a step goes to replica k mod R.  One event per cycle; the end beats take one
//   cycle per replica (including the one that took tlast), so a step of n events costs n + R
//   cycles and an empty step R + 1.
// Synchronous active-high reset.

`default_nettype none

module fsvae_event_split #(
    parameter int R = 2,                     // replicas, >= 2
    parameter int W = 8                      // event index bits
) (
    input  wire logic            clk,
    input  wire logic            rst,

    input  wire logic [W-1:0]    s_axis_tdata,
    input  wire logic            s_axis_tvalid,
    output logic                 s_axis_tready,
    input  wire logic            s_axis_tlast,
    input  wire logic            s_axis_tuser,

    output logic [R*W-1:0]       m_axis_tdata,
    output logic [R-1:0]         m_axis_tvalid,
    input  wire logic [R-1:0]    m_axis_tready,
    output logic [R-1:0]         m_axis_tlast,
    output logic [R-1:0]         m_axis_tuser
);

    localparam int R_W = $clog2(R);

    if (R < 2) begin : g_bad_r
        $error("fsvae_event_split: R must be at least 2");
    end

    logic           ending;                  // sending the end beats
    logic [R_W-1:0] rr;                      // replica of the next event
    logic [R_W-1:0] term;                    // replica of the next end beat
    logic [R-1:0]   need;                    // replicas still owed an end beat

    always_comb begin
        m_axis_tdata  = '0;
        m_axis_tvalid = '0;
        m_axis_tlast  = '0;
        m_axis_tuser  = '0;
        s_axis_tready = 1'b0;
        if (ending) begin
            m_axis_tvalid[term] = need[term];
            m_axis_tlast[term]  = 1'b1;
            m_axis_tuser[term]  = 1'b1;
        end else if (s_axis_tuser) begin     // an empty step: every replica gets an end beat
            // handled as "ending" with all replicas owed; the input beat is taken now
            s_axis_tready = 1'b1;
        end else begin
            m_axis_tdata[rr * W +: W] = s_axis_tdata;
            m_axis_tvalid[rr]         = s_axis_tvalid;
            m_axis_tlast[rr]          = s_axis_tlast;
            s_axis_tready             = m_axis_tready[rr];
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            ending <= 1'b0;
            rr     <= '0;
            term   <= '0;
            need   <= '0;
        end else if (ending) begin
            if (!need[term] || m_axis_tready[term]) begin
                need[term] <= 1'b0;
                if (term == R_W'(R - 1)) begin
                    ending <= 1'b0;
                    term   <= '0;
                end else begin
                    term <= term + 1'b1;
                end
            end
        end else if (s_axis_tvalid && s_axis_tready) begin
            if (s_axis_tuser) begin
                ending <= 1'b1;
                need   <= '1;
                rr     <= '0;
            end else if (s_axis_tlast) begin
                ending   <= 1'b1;
                need     <= '1;
                need[rr] <= 1'b0;
                rr       <= '0;
            end else begin
                rr <= (rr == R_W'(R - 1)) ? '0 : rr + 1'b1;
            end
        end
    end

endmodule

`default_nettype wire
