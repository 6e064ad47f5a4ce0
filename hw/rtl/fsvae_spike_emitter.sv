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
// Both variants keep one held index back until the next bit (tlast = 0) or the step's end
// (tlast = 1, or the empty beat) is known.
//   REG_OUT = 0 (as the engines had it, cycle for cycle): the current word's remaining bits,
//     the held index, the end flag.  A bit moves to the hold register whenever that is free
//     or its index leaves; m_axis_spike_* straight from the registers (tvalid does not
//     depend on tready).  The next word is taken in the cycle its predecessor's last bit
//     moves, so a word with k spikes holds the input for max(k, 1) cycles; the end beat can
//     leave one cycle after the last word's last bit moved, and the next step's first word
//     is taken in the cycle after that (k + 2 cycles after a last word with k spikes).
//     s_axis_mask_tready depends combinationally on m_axis_spike_tready.  Cost: P-bit mask,
//     an OUT_W-bit hold, the mask's rest (without its lowest bit) and two flags as registers
//     computed a cycle ahead, so that tready and tvalid wait on no P-bit subtraction (the
//     "one bit left" flag from a carry-free at-most-one tree, not from rest == 0), a
//     P-input one-hot encoder and an OUT_W adder in front of the hold.
//   REG_OUT = 1 (fsvae_lif_update; P up to 128 and more): the search is split into chunks
//     of C = min(CHUNK, P) bits and pipelined, so that no register's next state depends on
//     more than an NC- or C-bit search (NC = ceil(P / C) chunks): about 5 LUT levels at P =
//     32..64 (CHUNK = 8), against a P-bit priority encoder and adder in one cycle.  Stages:
//       V  the word as taken (a plain register behind the FIFO's read port);
//       U  its per-chunk fields: which chunks have a bit, and per chunk the lowest bit's
//          offset, the bits above it, whether it is alone;
//       W  hands on the word's nonempty chunks, lowest first, one per cycle (an empty word
//          one empty chunk), and takes U's next word as its last chunk leaves;
//       T  a two-entry chunk queue: V, U, W and s_axis_mask_tready see only registers;
//       S  serialises a chunk, one bit per cycle into the hold register, and takes the next
//          chunk as its last bit moves (not the next step's first chunk before the step's
//          end beat leaves);
//       o  m_axis_spike_* registered; the index base + chunk*C + offset is added here.
//     Each stage takes from the one before when empty or emptying; a word is taken when V
//     is empty or hands its word on.  Without backpressure the output carries one spike per
//     cycle across chunks and words; an empty word costs a cycle of S, a step's end about
//     two; the first spike of a word leaves 4 cycles later than with the single-stage search
//     this replaced (which took k + 1 cycles a word).  Cost: the word three times (V, U, W;
//     U and W with NC*(log2 C + 1) more bits), a two-entry queue of chunks, C- and NC-bit
//     carry chains (x & (x - 1): the bits above the lowest, whose OR per bit would map to
//     chains of LUTs), an OUT_W adder between registers.
// Synchronous active-high reset.

`default_nettype none

module fsvae_spike_emitter #(
    parameter int P       = 4,                 // neurons per word
    parameter int OUT_W   = 8,                 // index width
    parameter int REG_OUT = 0,                 // 1: registered output, pipelined (header)
    parameter int CHUNK   = 8                  // REG_OUT = 1: chunk width, a power of two
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

    if (REG_OUT == 0) begin : g_direct
        localparam int P_W = (P > 1) ? $clog2(P) : 1;

        logic [P-1:0]     mask;        // bits of word `base` not yet moved to the hold register
        logic [OUT_W-1:0] base;
        logic             end_q;       // the step's last word has been taken
        logic             hold_v;      // one index waiting until its tlast is known
        logic [OUT_W-1:0] hold_idx;
        logic [P_W-1:0]   low;         // lowest set bit of mask
        logic             take, move;
        logic             c_valid, c_ready, c_fire, c_last;   // the beat the registers make
        // Registered views of mask, computed a cycle ahead (as fsvae_event_list's scanner),
        // so that the handshakes wait on no P-bit subtraction or reduction: rest = mask
        // without its lowest bit, mask_one = (rest == 0), mask_none = (mask == 0).
        logic [P-1:0]     rest, low_hot, in_mask, in_rest, rest_rest;
        logic             mask_one, mask_none;

        // "At most one bit set" by a carry-free tree (fsvae_at_most_one), so the flag registers
        // wait on no subtraction (x & (x - 1) == 0 put a P-bit carry chain behind the LIF compare).
        logic in_one, rest_one;
        fsvae_at_most_one #(.W(P)) u_in_one (.x(in_mask), .y(in_one));
        fsvae_at_most_one #(.W(P)) u_rest_one (.x(rest), .y(rest_one));

        assign low_hot = mask & ~rest;
        always_comb begin                          // one-hot -> index: OR trees
            low = '0;
            for (int i = 0; i < P; i++) begin
                if (low_hot[i]) begin
                    low = low | P_W'(i);
                end
            end
        end
        assign in_mask   = s_axis_mask_tdata[P-1:0];
        assign in_rest   = in_mask & (in_mask - 1'b1);
        assign rest_rest = rest & (rest - 1'b1);

        assign c_last   = mask_none;
        assign c_valid  = hold_v ? (!c_last || end_q) : (c_last && end_q);
        assign c_fire   = c_valid && c_ready;
        assign take     = s_axis_mask_tvalid && s_axis_mask_tready;
        assign move     = !c_last && (!hold_v || c_fire);   // hold free, or its index leaves

        assign c_ready  = m_axis_spike_tready;
        assign s_axis_mask_tready = !end_q && (c_last || (mask_one && move));

        assign m_axis_spike_tvalid = c_valid;
        assign m_axis_spike_tdata  = hold_v ? hold_idx : '0;
        assign m_axis_spike_tlast  = c_last;
        assign m_axis_spike_tuser  = !hold_v;
        assign busy = !c_last || end_q || hold_v;

        always_ff @(posedge clk) begin
            if (take) begin
                mask      <= in_mask;                // the old word is empty or empties now
                rest      <= in_rest;
                mask_one  <= in_one;
                mask_none <= (in_mask == '0);
                base      <= s_axis_mask_tdata[P +: OUT_W];
            end else if (move) begin
                mask      <= rest;
                rest      <= rest_rest;
                mask_one  <= rest_one;
                mask_none <= mask_one;
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
                mask      <= '0;
                rest      <= '0;
                mask_one  <= 1'b1;
                mask_none <= 1'b1;
                hold_v    <= 1'b0;
                end_q     <= 1'b0;
            end
        end
    end else begin : g_pipelined
        // The stages of the header, each next-state function a small cone.  V is a plain
        // register so that a block-RAM FIFO in front reads synchronously into it (no
        // read-during-write bypass).  Lowest set bit and the bits above it are x & ~(x - 1)
        // and x & (x - 1): carry chains (an OR over x[i-1:0] per bit maps to LUT chains).
        localparam int C     = (P < CHUNK) ? P : CHUNK;     // chunk width
        localparam int NC    = (P + C - 1) / C;             // chunks per word
        localparam int OFF_W = (C > 1) ? $clog2(C) : 1;
        localparam int J_W   = (NC > 1) ? $clog2(NC) : 1;
        localparam int LOC_W = (NC > 1) ? J_W + OFF_W : OFF_W; // {chunk, offset} = chunk*C + offset
        localparam int T_W   = 3 + J_W + OUT_W + OFF_W + C;  // {end, j, base, nz, one, off, rest}

        if (CHUNK < 2 || (1 << $clog2(CHUNK)) != CHUNK) begin : g_bad_chunk
            $error("fsvae_spike_emitter: CHUNK (%0d) must be a power of two >= 2", CHUNK);
        end

        // ---- V: the word as taken
        logic                v_v, v_end;
        logic [OUT_W-1:0]    v_base;
        logic [P-1:0]        v_mask;
        logic                u_load, w_load;

        assign s_axis_mask_tready = !v_v || u_load;

        always_ff @(posedge clk) begin
            if (s_axis_mask_tvalid && s_axis_mask_tready) begin
                v_v    <= 1'b1;
                v_end  <= s_axis_mask_tlast;
                v_base <= s_axis_mask_tdata[P +: OUT_W];
                v_mask <= s_axis_mask_tdata[P-1:0];
            end else if (u_load) begin
                v_v <= 1'b0;
            end
            if (rst) v_v <= 1'b0;
        end

        // ---- U: the word's fields, computed from V
        logic [NC*C-1:0]     v_padded, v_rest;
        logic [NC*OFF_W-1:0] v_off;
        logic [NC-1:0]       v_cv, v_one, v_above;

        assign v_padded  = (NC*C)'(v_mask);          // zero-padded to whole chunks
        for (genvar j = 0; j < NC; j++) begin : g_in
            logic [C-1:0] x;
            assign x         = v_padded[j*C +: C];
            assign v_cv[j]  = x != '0;
            assign v_rest[j*C +: C] = x & (x - 1'b1);
            assign v_one[j] = v_rest[j*C +: C] == '0;
            for (genvar b = 0; b < OFF_W; b++) begin : g_off      // encode x & ~rest
                logic [C-1:0] sel;
                for (genvar i = 0; i < C; i++) begin : g_i
                    assign sel[i] = ((i >> b) & 1) != 0 && x[i] && !v_rest[j*C + i];
                end
                assign v_off[j*OFF_W + b] = sel != '0;
            end
        end
        assign v_above = v_cv & (v_cv - 1'b1);

        logic                u_v, u_end, u_one;
        logic [OUT_W-1:0]    u_base;
        logic [NC*C-1:0]     u_rest;
        logic [NC*OFF_W-1:0] u_off;
        logic [NC-1:0]       u_fone, u_oh, u_above;

        assign u_load = v_v && (!u_v || w_load);

        always_ff @(posedge clk) begin
            if (u_load) begin
                u_v     <= 1'b1;
                u_end   <= v_end;
                u_base  <= v_base;
                u_rest  <= v_rest;
                u_off   <= v_off;
                u_fone  <= v_one;
                u_oh    <= v_cv & ~v_above;       // none: an empty word, one empty chunk
                u_above <= v_above;
                u_one   <= v_above == '0;
            end else if (w_load) begin
                u_v <= 1'b0;
            end
            if (rst) u_v <= 1'b0;
        end

        // ---- W: the chunks of a word, lowest first
        logic                w_v, w_end, w_one;     // w_one: no chunk left after w_oh's
        logic [OUT_W-1:0]    w_base;
        logic [NC*C-1:0]     w_frest;
        logic [NC*OFF_W-1:0] w_foff;
        logic [NC-1:0]       w_fone;
        logic [NC-1:0]       w_oh, w_rest;          // the chunk handed on next; those after it
        logic [NC-1:0]       r_above;
        logic                t_take, t_full;

        assign r_above = w_rest & (w_rest - 1'b1);
        assign t_take  = w_v && !t_full;
        assign w_load  = u_v && (!w_v || (w_one && !t_full));   // W empty, or its last chunk goes

        always_ff @(posedge clk) begin
            if (w_load) begin
                w_v     <= 1'b1;
                w_end   <= u_end;
                w_base  <= u_base;
                w_frest <= u_rest;
                w_foff  <= u_off;
                w_fone  <= u_fone;
                w_oh    <= u_oh;
                w_rest  <= u_above;
                w_one   <= u_one;
            end else if (t_take) begin
                w_oh    <= w_rest & ~r_above;
                w_rest  <= r_above;
                w_one   <= r_above == '0;
                if (w_one) w_v <= 1'b0;
            end
            if (rst) w_v <= 1'b0;
        end

        // the chunk at w_oh (an AND-OR over the chunks)
        logic [C-1:0]        wc_rest;
        logic [OFF_W-1:0]    wc_off;
        logic [J_W-1:0]      wc_j;
        logic                wc_one;
        for (genvar i = 0; i < C; i++) begin : g_crest
            logic [NC-1:0] sel;
            for (genvar j = 0; j < NC; j++) begin : g_j
                assign sel[j] = w_oh[j] && w_frest[j*C + i];
            end
            assign wc_rest[i] = sel != '0;
        end
        for (genvar b = 0; b < OFF_W; b++) begin : g_coff
            logic [NC-1:0] sel;
            for (genvar j = 0; j < NC; j++) begin : g_j
                assign sel[j] = w_oh[j] && w_foff[j*OFF_W + b];
            end
            assign wc_off[b] = sel != '0;
        end
        for (genvar b = 0; b < J_W; b++) begin : g_cj
            logic [NC-1:0] sel;
            for (genvar j = 0; j < NC; j++) begin : g_j
                assign sel[j] = ((j >> b) & 1) != 0 && w_oh[j];
            end
            assign wc_j[b] = sel != '0;
        end
        assign wc_one = (w_oh & w_fone) != '0;

        // ---- T: two entries, written at t_wr, read at t_rd
        logic [T_W-1:0]      t_mem [2];
        logic                t_wr, t_rd;
        logic [1:0]          t_cnt;
        logic                t_end, t_nz, t_one;
        logic [J_W-1:0]      t_j;
        logic [OUT_W-1:0]    t_base;
        logic [OFF_W-1:0]    t_off;
        logic [C-1:0]        t_rest;
        logic                s_take;

        assign t_full = t_cnt[1];
        assign {t_end, t_j, t_base, t_nz, t_one, t_off, t_rest} = t_mem[t_rd];

        always_ff @(posedge clk) begin
            if (t_take) begin
                t_mem[t_wr] <= {w_end && w_one, wc_j, w_base, w_oh != '0, wc_one, wc_off, wc_rest};
                t_wr        <= !t_wr;
            end
            if (s_take) t_rd <= !t_rd;
            if (t_take && !s_take)      t_cnt <= t_cnt + 1'b1;
            else if (s_take && !t_take) t_cnt <= t_cnt - 1'b1;
            if (rst) begin
                t_wr  <= 1'b0;
                t_rd  <= 1'b0;
                t_cnt <= '0;
            end
        end

        // ---- S: the chunk being serialised
        logic                s_v, s_one, end_q;     // s_one: the bit at s_off is the last
        logic [C-1:0]        s_rest, r_rest;        // bits above s_off; r_rest: those above the next
        logic [OFF_W-1:0]    s_off, r_off;
        logic [OUT_W-1:0]    s_base;
        logic [J_W-1:0]      s_j;
        logic                hold_v, move, c_valid, c_ready, c_fire, c_last;

        assign r_rest = s_rest & (s_rest - 1'b1);
        for (genvar b = 0; b < OFF_W; b++) begin : g_roff
            logic [C-1:0] sel;
            for (genvar i = 0; i < C; i++) begin : g_i
                assign sel[i] = ((i >> b) & 1) != 0 && s_rest[i] && !r_rest[i];
            end
            assign r_off[b] = sel != '0;
        end

        assign c_last  = !s_v;
        assign c_valid = hold_v ? (s_v || end_q) : (!s_v && end_q);
        assign c_ready = !o_v || m_axis_spike_tready;
        assign c_fire  = c_valid && c_ready;
        assign move    = s_v && (!hold_v || c_fire);
        // the next chunk: S empty, or its last bit moves now (back to back); past the step's
        // end only as the end beat leaves
        assign s_take  = (t_cnt != '0) && (!end_q || (c_fire && c_last)) && (!s_v || (s_one && move));

        always_ff @(posedge clk) begin
            if (s_take) begin
                s_v    <= t_nz;
                s_one  <= t_one;
                s_off  <= t_off;
                s_rest <= t_rest;
                s_base <= t_base;
                s_j    <= t_j;
                end_q  <= t_end;
            end else begin
                if (move) begin
                    s_v    <= s_rest != '0;
                    s_one  <= r_rest == '0;
                    s_off  <= r_off;
                    s_rest <= r_rest;
                end
                if (c_fire && c_last) end_q <= 1'b0;
            end
            if (rst) begin
                s_v   <= 1'b0;
                end_q <= 1'b0;
            end
        end

        // ---- hold and the output register
        logic                o_v, o_last, o_user;
        logic [OUT_W-1:0]    o_idx, h_base;
        logic [LOC_W-1:0]    h_loc;

        always_ff @(posedge clk) begin
            if (move) begin
                hold_v <= 1'b1;
                h_base <= s_base;
                h_loc  <= LOC_W'({s_j, s_off});    // NC = 1: the offset alone
            end else if (c_fire) begin
                hold_v <= 1'b0;               // the step's last spike (or the empty beat) left
            end
            if (c_ready) begin
                o_v <= c_valid;
                if (c_valid) begin
                    o_idx  <= hold_v ? h_base + OUT_W'(h_loc) : '0;
                    o_last <= c_last;
                    o_user <= !hold_v;
                end
            end
            if (rst) begin
                hold_v <= 1'b0;
                o_v    <= 1'b0;
                o_idx  <= '0;
                o_last <= 1'b0;
                o_user <= 1'b0;
            end
        end

        assign m_axis_spike_tvalid = o_v;
        assign m_axis_spike_tdata  = o_idx;
        assign m_axis_spike_tlast  = o_last;
        assign m_axis_spike_tuser  = o_user;
        assign busy = v_v || u_v || w_v || (t_cnt != '0) || s_v || end_q || hold_v || o_v;
    end

endmodule

`default_nettype wire
