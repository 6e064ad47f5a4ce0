// LIF update and spike emission as a stage of its own: the currents of a layer (from one
// fsvae_convt_current, or R of them summed by fsvae_current_join) in,
// the layer's spikes out.  Bit-exact with golden.LIFState.step (sw/fsvae_fpga/contract/golden.py):
//
//   u = first_step ? I : (u >>> 2) * (1 - s) + I      (>>> = floor);   s = u > THRESHOLD
//
// Splitting the update from the scatter lets a layer overlap its spike emission (one spike
// per cycle, the slow part of a busy layer's update) with the scatter of its next time
// step: the update takes one current word per cycle and parks the word's spike mask in a
// FIFO; the emitter serialises the masks at its own pace.
//
// Interface
//   s_axis_cur_*: the layer's currents, T steps per image, each step NW words in ascending
//     order (word w = position*G + g, lane p = channel g*P + p, ACC_BITS each, lane 0 low),
//     tlast on word NW-1.  The step number is an internal counter: step 0 after reset and
//     after every T steps; step 0 ignores the stored state (u = I).
//   m_axis_spike_*: per step the ascending indices w*P + p of the neurons that spiked, tlast
//     on the last, or one beat with tuser = 1 (empty), tdata = 0, tlast = 1 when none did:
//     the engines' s_axis_event_* conventions.  NE > 1: NE such streams (stream e at bits
//     e*OUT_W, bit e of the others) carrying the spikes of the words w with w mod NE = e,
//     each a complete step, so that a consumer can take NE spikes per cycle.
//   m_axis_mask_* (MASKS = 1, in place of the spike streams, for a consumer that takes P
//     neurons a cycle: fsvae_output_sum): per step every word's spike mask, ascending w,
//     tdata = {w, mask} (mask in bits P-1:0, bit p = neuron w*P + p), tlast on word NW-1.
//     The ports of the mode not chosen are tied off (outputs 0, inputs ignored).
//   busy: a word or spike is anywhere occupied.
//
// Microarchitecture
//   update: a word is accepted (its state read from the membrane and spike RAMs, synchronous
//     read), computed (fsvae_lif_datapath) and written back in the next cycle (stage B).
//     Its spike mask then passes two registers (C: the mask; D: the FIFO entry and, per
//     stream, whether the word goes there) before it is pushed into the mask FIFO
//     (MASK_DEPTH entries of {end of step, w, mask}) when it has a spike or ends the step:
//     the comparators, the P-input "any spike" and the FIFO's pointers each get a cycle.
//     s_axis_cur_tready = room in the FIFO for the words in B, C and D and this one, kept
//     as an occupancy count register per stream (tready is one of its bits).  With NW = 1
//     the same word is read at the edge that writes it: forwarded, as in the engines.
//   emitter: fsvae_spike_emitter with REG_OUT = 1 (its pipelined, chunked search): FIFO
//     entries are taken as its first stage empties, one spike leaves per cycle, lowest
//     lane first, one held back so that tlast is exact.  Output registered, and the FIFO
//     pop depends only on registers: m_axis_spike_tready never reaches the FIFO or the RAMs.
//   MASKS = 1: every word is pushed (one FIFO, NE = 1) and the FIFO's head is the output
//     beat: one word per cycle, m_axis_mask_tready reaches only the FIFO's read pointer.
// Cost: membrane RAM NW x P*MEM_BITS, spike RAM NW x P, two P-bit mask registers, mask
// FIFO MASK_DEPTH x (P + log2 NW + 1) per stream, P adders and comparators; a P-bit spike
// emitter per stream (MASKS = 0).
// Synchronous active-high reset (the RAMs need no clearing: step 0 ignores them).
//
// STATELESS = 1 (after fsvae_convt_current FUSED = 1, which keeps the membranes itself): the
// input words are the membranes u_t (ACC_BITS = their width; MEM_BITS >= ACC_BITS as ever,
// MEM_BITS = ACC_BITS is enough) and s = u > THRESHOLD (fsvae_lif_datapath with first = 1:
// u = the input), nothing is stored: no membrane or spike RAM, no step count (T unused).
// The spikes, the masks, the FIFO, the emitter, the output protocol and the cycles are those
// of STATELESS = 0.

`default_nettype none

module fsvae_lif_update #(
    parameter int T          = 4,
    parameter int NW         = 8,               // current words per step
    parameter int P          = 4,               // lanes per word
    parameter int ACC_BITS   = 16,
    parameter int MEM_BITS   = 17,
    parameter int THRESHOLD  = 0,
    parameter int MASK_DEPTH = 16,              // power of two >= 4
    parameter int NE         = 1,               // spike streams (word w -> stream w mod NE)
    parameter int MASKS      = 0,               // 1: the masks on m_axis_mask_* (NE = 1, no emitter)
    parameter int STATELESS  = 0,               // 1: the input is the membrane, no state (header)
    parameter int OUT_W      = (NW * P > 1) ? $clog2(NW * P) : 1,
    parameter int W_W        = (NW > 1) ? $clog2(NW) : 1          // word index width
) (
    input  wire logic                    clk,
    input  wire logic                    rst,

    input  wire logic [P*ACC_BITS-1:0]   s_axis_cur_tdata,
    input  wire logic                    s_axis_cur_tvalid,
    output logic                         s_axis_cur_tready,
    input  wire logic                    s_axis_cur_tlast,

    output logic [NE*OUT_W-1:0]          m_axis_spike_tdata,
    output logic [NE-1:0]                m_axis_spike_tvalid,
    /* verilator lint_off UNUSEDSIGNAL */   // the tready of the mode not chosen is ignored
    input  wire logic [NE-1:0]           m_axis_spike_tready,
    output logic [NE-1:0]                m_axis_spike_tlast,
    output logic [NE-1:0]                m_axis_spike_tuser,

    output logic [W_W+P-1:0]             m_axis_mask_tdata,      // {w, mask}
    output logic                         m_axis_mask_tvalid,
    input  wire logic                    m_axis_mask_tready,
    /* verilator lint_on UNUSEDSIGNAL */
    output logic                         m_axis_mask_tlast,

    output logic                         busy
);

    localparam int T_W      = (T > 1) ? $clog2(T) : 1;
    localparam int MD_W     = $clog2(MASK_DEPTH);
    localparam int E_W      = 1 + W_W + P;      // FIFO entry: {end, w, mask}

    if (MASK_DEPTH < 4 || (1 << MD_W) != MASK_DEPTH) begin : g_bad_depth
        $error("fsvae_lif_update: MASK_DEPTH (%0d) must be a power of two >= 4", MASK_DEPTH);
    end
    if (MASKS != 0 && NE != 1) begin : g_bad_streams
        $error("fsvae_lif_update: MASKS = 1 has one stream (NE = %0d)", NE);
    end
    if (ACC_BITS > MEM_BITS) begin : g_bad_widths
        $error("fsvae_lif_update: MEM_BITS (%0d) must be at least ACC_BITS (%0d)", MEM_BITS, ACC_BITS);
    end

    // ------------------------------------------------------------------ update, stage A
    logic [W_W-1:0]        in_w;                // word index of the next input beat
    logic                  in_hs;

    logic                  b_v;                 // stage B holds a word
    assign in_hs        = s_axis_cur_tvalid && s_axis_cur_tready;

    // ------------------------------------------------------------------ stage B
    logic [W_W-1:0]        b_w;
    logic                  b_end;
    logic [P*ACC_BITS-1:0] b_cur;
    logic [P*MEM_BITS-1:0] b_u_new, b_u_old;
    logic [P-1:0]          b_s_new, b_s_old;
    logic                  b_first;

    always_ff @(posedge clk) begin
        if (in_hs) begin
            b_w     <= in_w;
            b_end   <= s_axis_cur_tlast;
            b_cur   <= s_axis_cur_tdata;
        end
    end

    if (STATELESS != 0) begin : g_stateless
        // u = the input word (first = 1 ignores the state), s = u > THRESHOLD
        assign b_first = 1'b1;
        assign b_u_old = '0;
        assign b_s_old = '0;
        wire unused_state = ^b_u_new;
    end else begin : g_state
        logic [T_W-1:0]        in_t;            // step of the next input beat
        logic                  b_fwd;
        logic [P*MEM_BITS-1:0] b_u_ram, b_u_fwd;
        logic [P-1:0]          b_s_ram, b_s_fwd;

        // membranes and spike bits in one memory: written and read together
        fsvae_state_ram #(.DEPTH(NW), .WIDTH(P * MEM_BITS + P)) u_state (
            .clk, .we(b_v), .waddr(b_w), .wdata({b_u_new, b_s_new}),
            .re(in_hs), .raddr(in_w), .rdata({b_u_ram, b_s_ram})
        );

        always_ff @(posedge clk) begin
            if (in_hs) begin
                b_fwd   <= b_v && (b_w == in_w);    // the word being written now (NW = 1)
                b_u_fwd <= b_u_new;
                b_s_fwd <= b_s_new;
                b_first <= (in_t == '0);
            end
        end

        always_ff @(posedge clk) begin
            if (rst) begin
                in_t <= '0;
            end else if (in_hs && s_axis_cur_tlast) begin
                in_t <= (in_t == T_W'(T - 1)) ? '0 : in_t + 1'b1;
            end
        end

        assign b_u_old = b_fwd ? b_u_fwd : b_u_ram;
        assign b_s_old = b_fwd ? b_s_fwd : b_s_ram;
    end

    fsvae_lif_datapath #(.P(P), .CUR_BITS(ACC_BITS), .MEM_BITS(MEM_BITS), .THRESHOLD(THRESHOLD)) u_lif (
        .first(b_first), .cur(b_cur), .u_old(b_u_old), .s_old(b_s_old),
        .u_new(b_u_new), .s_new(b_s_new)
    );

    always_ff @(posedge clk) begin
        if (rst) begin
            in_w <= '0;
            b_v  <= 1'b0;
        end else begin
            b_v <= in_hs;
            if (in_hs) begin
                if (s_axis_cur_tlast) begin
                    in_w <= '0;
                end else begin
                    in_w <= in_w + 1'b1;
                end
            end
        end
    end

    // ------------------------------------------------------------------ stages C and D
    // Two registers between the datapath and the FIFO push, so that the comparators, the
    // test for "any spike" (a P-input OR) and the FIFO's pointers each have a cycle of their
    // own: C holds the word's spike mask, D the FIFO entry (and, per stream, d_push).
    logic                  c_v, c_end, d_v, d_end;
    logic [W_W-1:0]        c_w, d_w;
    logic [P-1:0]          c_s, d_s;
    logic                  c_any;

    assign c_any = c_s != '0;

    always_ff @(posedge clk) begin
        c_end <= b_end;
        c_w   <= b_w;
        c_s   <= b_s_new;
        d_end <= c_end;
        d_w   <= c_w;
        d_s   <= c_s;
        if (rst) begin
            c_v <= 1'b0;
            d_v <= 1'b0;
        end else begin
            c_v <= b_v;
            d_v <= c_v;
        end
    end

    // ------------------------------------------------------------------ mask FIFOs + emitters
    // NE spike streams: the mask of word w goes to stream w mod NE; the step's end marker to
    // every stream (each stream is a complete step: ascending indices, tlast or empty beat).
    // MASKS = 1: every word to the one FIFO, whose head is m_axis_mask_*.
    logic [NE-1:0] room, occupied, nonempty;
    logic [E_W-1:0] heads [NE];
    assign s_axis_cur_tready = &room;

    for (genvar e = 0; e < NE; e++) begin : g_stream
        logic [E_W-1:0]  f_mem [MASK_DEPTH];
        logic [MD_W-1:0] f_wr, f_rd;
        logic [MD_W:0]   f_count, f_occ;
        logic            f_push, f_pop, f_nonempty, mine, d_push, e_ready;
        logic [E_W-1:0]  f_head;

        // f_occ = f_count + the words in stages B, C and D (each may still come here): room
        // for one more while f_occ < MASK_DEPTH, its top bit (it never exceeds MASK_DEPTH).
        // f_nonempty = f_count != 0, registered: the pop sees flip-flops only.
        assign room[e]     = !f_occ[MD_W];
        assign nonempty[e] = f_nonempty;
        assign mine        = ((32'(d_w) % NE) == e);
        assign f_push      = d_v && d_push;
        assign f_head      = f_mem[f_rd];
        assign heads[e]    = f_head;

        always_ff @(posedge clk) begin
            d_push <= MASKS != 0 || c_end || (((32'(c_w) % NE) == e) && c_any);    // C's word, here
            if (f_push) f_mem[f_wr] <= {d_end, d_w, mine ? d_s : P'(0)};
        end

        always_ff @(posedge clk) begin
            if (rst) begin
                f_wr       <= '0;
                f_rd       <= '0;
                f_count    <= '0;
                f_occ      <= '0;
                f_nonempty <= 1'b0;
            end else begin
                if (f_push) f_wr <= f_wr + 1'b1;
                if (f_pop)  f_rd <= f_rd + 1'b1;
                if (f_push && !f_pop)      f_count <= f_count + 1'b1;
                else if (f_pop && !f_push) f_count <= f_count - 1'b1;
                f_nonempty <= f_push || f_count > (f_pop ? 1 : 0);
                // in: a word accepted; out: popped, or a word leaving D for another stream
                f_occ <= f_occ + {MD_W'(0), in_hs} - {MD_W'(0), f_pop} - {MD_W'(0), d_v && !d_push};
            end
        end

        logic             e_busy;
        if (MASKS == 0) begin : g_emitter
            // entries taken as the emitter's first stage empties, one spike per cycle out
            logic             e_end;
            logic [W_W-1:0]   e_w;
            logic [P-1:0]     e_mask;
            logic [OUT_W-1:0] e_base;           // the word's first neuron
            assign {e_end, e_w, e_mask} = f_head;
            assign e_base = OUT_W'(e_w) * OUT_W'(P);
            fsvae_spike_emitter #(.P(P), .OUT_W(OUT_W), .REG_OUT(1)) u_emitter (
                .clk, .rst,
                .s_axis_mask_tdata({e_base, e_mask}), .s_axis_mask_tvalid(nonempty[e]),
                .s_axis_mask_tready(e_ready), .s_axis_mask_tlast(e_end),
                .m_axis_spike_tdata(m_axis_spike_tdata[e * OUT_W +: OUT_W]),
                .m_axis_spike_tvalid(m_axis_spike_tvalid[e]), .m_axis_spike_tready(m_axis_spike_tready[e]),
                .m_axis_spike_tlast(m_axis_spike_tlast[e]), .m_axis_spike_tuser(m_axis_spike_tuser[e]),
                .busy(e_busy)
            );
        end else begin : g_masks
            assign e_ready = m_axis_mask_tready;
            assign e_busy  = 1'b0;
            assign m_axis_spike_tdata[e * OUT_W +: OUT_W] = '0;
            assign m_axis_spike_tvalid[e] = 1'b0;
            assign m_axis_spike_tlast[e]  = 1'b0;
            assign m_axis_spike_tuser[e]  = 1'b0;
        end
        assign f_pop       = e_ready && nonempty[e];
        assign occupied[e] = nonempty[e] || e_busy;
    end

    // MASKS = 1: the one FIFO's head, {end, w, mask}
    assign m_axis_mask_tdata  = (MASKS != 0) ? heads[0][W_W+P-1:0] : '0;
    assign m_axis_mask_tvalid = (MASKS != 0) && nonempty[0];
    assign m_axis_mask_tlast  = (MASKS != 0) && heads[0][W_W+P];

    assign busy = b_v || c_v || d_v || (|occupied);

endmodule

`default_nettype wire
