// Spike vectors in, spike events out: the one definition of the priority search (lowest
// set bit first) and of the held-back index that makes tlast exact, used by
// fsvae_lif_linear (REG_OUT = 0) and by every stream of fsvae_lif_update (REG_OUT = 1).
//
// Interface
//   s_axis_mask_*: one word of P neurons per beat, tdata = {base, mask} packed (mask in
//     bits P-1:0, base in bits P+OUT_W-1:P): lane p of mask = neuron base + p, in ascending
//     base order within a step; tlast on the step's last word.  A word may be empty (costs
//     no emitted beat).  s_axis_mask_tready does not depend on s_axis_mask_tvalid.
//   m_axis_spike_*: per step the ascending indices of the set bits, tlast on the last one;
//     a step without any spike is one beat with tuser = 1, tdata = 0, tlast = 1 (the
//     engines' s_axis_event_* conventions).
//   busy: a word, a held spike or the step's end beat is still inside.
//
// Microarchitecture: the current word's remaining bits, one held index, the end flag.  A bit
// moves to the hold register whenever that is free or its index leaves; a move sends the
// previously held index on (tlast = 0).  Once the word with tlast is empty, the held index
// (or the empty beat) follows with tlast = 1, and the next step's first word is taken in
// the cycle after that: k + 2 cycles after a last word with k spikes.  The two variants
// differ only in the output register and in when the next word of a step is taken (both
// exactly as the engines had them, so the design's cycle counts are unchanged):
//   REG_OUT = 0: m_axis_spike_* straight from the registers (tvalid does not depend on
//     tready).  The next word is taken in the cycle its predecessor's last bit moves, so a word with
//     k spikes holds the input for max(k, 1) cycles; the end beat can leave one cycle
//     after the last word's last bit moved.  s_axis_mask_tready depends combinationally
//     on m_axis_spike_tready.
//   REG_OUT = 1: m_axis_spike_* registered (one cycle later).  A word is taken only into an
//     emitter whose word is empty and whose output register can take a beat, so a word
//     with k spikes holds the input for k + 1 cycles (taking it while the last bit moves
//     would save that cycle; kept as it was).
// Cost: P-bit mask, two OUT_W-bit registers, a P-input priority encoder, an OUT_W adder.
// Synchronous active-high reset.

`default_nettype none

module fsvae_spike_emitter #(
    parameter int P       = 4,                 // neurons per word
    parameter int OUT_W   = 8,                 // index width
    parameter int REG_OUT = 0                  // 1: registered output (see header)
) (
    input  wire logic               clk,
    input  wire logic               rst,

    input  wire logic [OUT_W+P-1:0] s_axis_mask_tdata,     // {base, mask}
    input  wire logic               s_axis_mask_tvalid,
    output logic                    s_axis_mask_tready,
    input  wire logic               s_axis_mask_tlast,

    output logic [OUT_W-1:0]        m_axis_spike_tdata,
    output logic                    m_axis_spike_tvalid,
    input  wire logic               m_axis_spike_tready,
    output logic                    m_axis_spike_tlast,
    output logic                    m_axis_spike_tuser,

    output logic                    busy
);

    localparam int P_W = (P > 1) ? $clog2(P) : 1;

    logic [P-1:0]     mask;        // bits of word `base` not yet moved to the hold register
    logic [OUT_W-1:0] base;
    logic             end_q;       // the step's last word has been taken
    logic             hold_v;      // one index waiting until its tlast is known
    logic [OUT_W-1:0] hold_idx;
    logic [P_W-1:0]   low;         // lowest set bit of mask
    logic             take, move;
    logic             c_valid, c_ready, c_fire, c_last;   // the beat the registers make

    always_comb begin
        low = '0;
        for (int i = P - 1; i >= 0; i--) begin
            if (mask[i]) begin
                low = P_W'(i);
            end
        end
    end

    assign c_last   = mask == '0;
    assign c_valid  = hold_v ? (!c_last || end_q) : (c_last && end_q);
    assign c_fire   = c_valid && c_ready;
    assign take     = s_axis_mask_tvalid && s_axis_mask_tready;
    assign move     = !c_last && (!hold_v || c_fire);   // hold free, or its index leaves

    if (REG_OUT == 0) begin : g_direct
        logic mask_one;   // at most one bit left
        assign mask_one = (mask & (mask - 1'b1)) == '0;
        assign c_ready  = m_axis_spike_tready;
        assign s_axis_mask_tready = !end_q && (c_last || (mask_one && move));

        assign m_axis_spike_tvalid = c_valid;
        assign m_axis_spike_tdata  = hold_v ? hold_idx : '0;
        assign m_axis_spike_tlast  = c_last;
        assign m_axis_spike_tuser  = !hold_v;
        assign busy = !c_last || end_q || hold_v;
    end else begin : g_registered
        logic             o_v, o_last, o_user;
        logic [OUT_W-1:0] o_idx;

        assign c_ready = !o_v || m_axis_spike_tready;
        assign s_axis_mask_tready = !end_q && c_last && c_ready;

        always_ff @(posedge clk) begin
            if (rst) begin
                o_v    <= 1'b0;
                o_idx  <= '0;
                o_last <= 1'b0;
                o_user <= 1'b0;
            end else if (c_ready) begin
                o_v <= c_valid;
                if (c_valid) begin
                    o_idx  <= hold_v ? hold_idx : '0;
                    o_last <= c_last;
                    o_user <= !hold_v;
                end
            end
        end

        assign m_axis_spike_tvalid = o_v;
        assign m_axis_spike_tdata  = o_idx;
        assign m_axis_spike_tlast  = o_last;
        assign m_axis_spike_tuser  = o_user;
        assign busy = !c_last || end_q || hold_v || o_v;
    end

    always_ff @(posedge clk) begin
        if (take) begin
            mask <= s_axis_mask_tdata[P-1:0];     // the old word is empty or empties now
            base <= s_axis_mask_tdata[P +: OUT_W];
        end else if (move) begin
            mask <= mask & (mask - 1'b1);
        end
        if (move) begin
            hold_v   <= 1'b1;
            hold_idx <= base + OUT_W'(low);
        end else if (c_fire) begin
            hold_v <= 1'b0;               // the step's last spike (or the empty beat) left
        end
        if (take && s_axis_mask_tlast) begin
            end_q <= 1'b1;
        end else if (c_fire && c_last) begin
            end_q <= 1'b0;
        end
        if (rst) begin
            mask   <= '0;
            hold_v <= 1'b0;
            end_q  <= 1'b0;
        end
    end

endmodule

`default_nettype wire
