// LIF update and spike emission as a stage of its own: the currents of a layer (from one
// fsvae_lif_conv_transpose with SPIKING = 0, or R of them summed by fsvae_current_join) in,
// the layer's spikes out.  Bit-exact with golden.LIFState.step (sw/fsvae_fpga/golden.py):
//
//   u = first_step ? I : (u >>> 2) * (1 - s) + I      (>>> = floor);   s = u > THRESHOLD
//
// Splitting the update from the scatter lets a layer overlap its spike emission (one spike
// per cycle, the slow part of a busy layer's update) with the scatter of its next time
// step: the update takes one current word per cycle and parks the word's spike mask in a
// FIFO; the emitter serialises the masks at its own pace.
//
// Interface
//   s_cur_*: the layer's currents, T steps per image, each step NW words in ascending order
//     (word w = position*G + g, lane p = channel g*P + p, ACC_BITS each, lane 0 low),
//     tlast on word NW-1.  The step number is an internal counter: step 0 after reset and
//     after every T steps; step 0 ignores the stored state (u = I).
//   m_spike_*: per step the ascending indices w*P + p of the neurons that spiked, tlast on
//     the last, or one beat with tuser = 1 (empty), tdata = 0, tlast = 1 when none did:
//     the engines' s_axis_event_* conventions.  NE > 1: NE such streams (stream e at bits
//     e*OUT_W, bit e of the others) carrying the spikes of the words w with w mod NE = e,
//     each a complete step, so that a consumer can take NE spikes per cycle.
//   busy: a word or spike is anywhere occupied.
//
// Microarchitecture
//   update: a word is accepted (its state read from the membrane and spike RAMs, synchronous
//     read), computed and written back in the next cycle, and its spike mask pushed into the
//     mask FIFO (MASK_DEPTH entries of {end of step, w, mask}) when it has a spike or ends
//     the step.  s_cur_tready = room in the FIFO for the word in flight and this one.  With
//     NW = 1 the same word is read at the edge that writes it: forwarded, as in the engines.
//   emitter: one FIFO entry is loaded per cycle when idle, then one spike per cycle, lowest
//     lane first.  One spike is held back until the next one or the end of the step is
//     known, so tlast is exact.  Output registered: m_spike_tready never reaches the RAMs.
// Cost: membrane RAM NW x P*MEM_BITS, spike RAM NW x P, mask FIFO MASK_DEPTH x (P + log2 NW
// + 1), P adders and comparators.
// Synchronous active-high reset (the RAMs need no clearing: step 0 ignores them).

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
    parameter int OUT_W      = (NW * P > 1) ? $clog2(NW * P) : 1
) (
    input  wire logic                    clk,
    input  wire logic                    rst,

    input  wire logic [P*ACC_BITS-1:0]   s_cur_tdata,
    input  wire logic                    s_cur_tvalid,
    output logic                         s_cur_tready,
    input  wire logic                    s_cur_tlast,

    output logic [NE*OUT_W-1:0]          m_spike_tdata,
    output logic [NE-1:0]                m_spike_tvalid,
    input  wire logic [NE-1:0]           m_spike_tready,
    output logic [NE-1:0]                m_spike_tlast,
    output logic [NE-1:0]                m_spike_tuser,

    output logic                         busy
);

    localparam int W_W      = (NW > 1) ? $clog2(NW) : 1;
    localparam int T_W      = (T > 1) ? $clog2(T) : 1;
    localparam int MD_W     = $clog2(MASK_DEPTH);
    localparam int CMP_BITS = (MEM_BITS > 32) ? MEM_BITS : 32;
    localparam int P_W      = (P > 1) ? $clog2(P) : 1;
    localparam logic signed [CMP_BITS-1:0] THR = CMP_BITS'(THRESHOLD);
    localparam int E_W      = 1 + W_W + P;      // FIFO entry: {end, w, mask}

    if (MASK_DEPTH < 4 || (1 << MD_W) != MASK_DEPTH) begin : g_bad_depth
        $error("fsvae_lif_update: MASK_DEPTH (%0d) must be a power of two >= 4", MASK_DEPTH);
    end
    if (ACC_BITS > MEM_BITS) begin : g_bad_widths
        $error("fsvae_lif_update: MEM_BITS (%0d) must be at least ACC_BITS (%0d)", MEM_BITS, ACC_BITS);
    end

    // ------------------------------------------------------------------ update, stage A
    logic [P*MEM_BITS-1:0] u_mem [NW];
    logic [P-1:0]          s_mem [NW];
    logic [W_W-1:0]        in_w;                // word index of the next input beat
    logic [T_W-1:0]        in_t;                // step of the next input beat
    logic                  in_hs;

    logic                  b_v;                 // stage B holds a word
    assign in_hs        = s_cur_tvalid && s_cur_tready;

    // ------------------------------------------------------------------ stage B
    logic [W_W-1:0]        b_w;
    logic                  b_first, b_end, b_fwd;
    logic [P*ACC_BITS-1:0] b_cur;
    logic [P*MEM_BITS-1:0] b_u_ram, b_u_new, b_u_fwd;
    logic [P-1:0]          b_s_ram, b_s_new, b_s_fwd;

    always_ff @(posedge clk) begin
        if (in_hs) begin
            b_u_ram <= u_mem[in_w];
            b_s_ram <= s_mem[in_w];
            b_fwd   <= b_v && (b_w == in_w);    // the word being written now (NW = 1)
            b_u_fwd <= b_u_new;
            b_s_fwd <= b_s_new;
            b_w     <= in_w;
            b_first <= (in_t == '0);
            b_end   <= s_cur_tlast;
            b_cur   <= s_cur_tdata;
        end
        if (b_v) begin
            u_mem[b_w] <= b_u_new;
            s_mem[b_w] <= b_s_new;
        end
    end

    logic signed [MEM_BITS-1:0] u_old, u_shift, u_leak, u_val;
    logic                       s_old;
    always_comb begin
        b_u_new = '0;
        b_s_new = '0;
        u_old   = '0;
        u_shift = '0;
        u_leak  = '0;
        u_val   = '0;
        s_old   = 1'b0;
        for (int p = 0; p < P; p++) begin
            u_old  = b_fwd ? b_u_fwd[p*MEM_BITS +: MEM_BITS] : b_u_ram[p*MEM_BITS +: MEM_BITS];
            s_old  = b_fwd ? b_s_fwd[p] : b_s_ram[p];
            // shift on its own: occupied `c ? '0 : u >>> 2` the unsigned '0 would make the
            // whole expression unsigned and >>> a logical shift
            u_shift = u_old >>> 2;
            u_leak  = (b_first || s_old) ? '0 : u_shift;
            u_val  = u_leak + MEM_BITS'(signed'(b_cur[p*ACC_BITS +: ACC_BITS]));
            b_u_new[p*MEM_BITS +: MEM_BITS] = u_val;
            b_s_new[p] = CMP_BITS'(u_val) > THR;
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            in_w <= '0;
            in_t <= '0;
            b_v  <= 1'b0;
        end else begin
            b_v <= in_hs;
            if (in_hs) begin
                if (s_cur_tlast) begin
                    in_w <= '0;
                    in_t <= (in_t == T_W'(T - 1)) ? '0 : in_t + 1'b1;
                end else begin
                    in_w <= in_w + 1'b1;
                end
            end
        end
    end

    // ------------------------------------------------------------------ mask FIFOs + emitters
    // NE spike streams: the mask of word w goes to stream w mod NE; the step's end marker to
    // every stream (each stream is a complete step: ascending indices, tlast or empty beat).
    logic [NE-1:0] room, occupied;
    assign s_cur_tready = &room;

    for (genvar e = 0; e < NE; e++) begin : g_stream
        logic [E_W-1:0]  f_mem [MASK_DEPTH];
        logic [MD_W-1:0] f_wr, f_rd;
        logic [MD_W:0]   f_count;
        logic            f_push, f_pop, mine;
        logic [E_W-1:0]  f_head;

        assign room[e] = (32'(f_count) + (b_v ? 32'd1 : 32'd0) + 32'd1) <= 32'(MASK_DEPTH);
        assign mine    = ((32'(b_w) % NE) == e);
        assign f_push  = b_v && (b_end || (mine && b_s_new != '0));
        assign f_head  = f_mem[f_rd];

        always_ff @(posedge clk) begin
            if (f_push) f_mem[f_wr] <= {b_end, b_w, mine ? b_s_new : P'(0)};
        end

        always_ff @(posedge clk) begin
            if (rst) begin
                f_wr    <= '0;
                f_rd    <= '0;
                f_count <= '0;
            end else begin
                if (f_push) f_wr <= f_wr + 1'b1;
                if (f_pop)  f_rd <= f_rd + 1'b1;
                if (f_push && !f_pop)      f_count <= f_count + 1'b1;
                else if (f_pop && !f_push) f_count <= f_count - 1'b1;
            end
        end

        // emitter: one entry loaded per cycle when idle, then one spike per cycle, lowest
        // lane first, one spike held back until the next one or the step's end is known
        logic             c_v, c_end;
        logic [W_W-1:0]   c_w;
        logic [P-1:0]     c_mask;
        logic             h_v;
        logic [OUT_W-1:0] h_idx;
        logic             adv;
        logic [P_W-1:0]   low;
        logic [OUT_W-1:0] n_idx;
        logic             o_v, o_last, o_user;
        logic [OUT_W-1:0] o_idx;

        always_comb begin
            low = '0;
            for (int p = P - 1; p >= 0; p--)
                if (c_mask[p]) low = P_W'(p);
        end
        assign n_idx = OUT_W'(c_w) * OUT_W'(P) + OUT_W'(low);
        assign adv   = !o_v || m_spike_tready[e];
        assign f_pop = adv && !c_v && (f_count != '0);
        assign m_spike_tvalid[e]                  = o_v;
        assign m_spike_tdata[e * OUT_W +: OUT_W]  = o_idx;
        assign m_spike_tlast[e]                   = o_last;
        assign m_spike_tuser[e]                   = o_user;
        assign occupied[e] = (f_count != '0) || c_v || h_v || o_v;

        always_ff @(posedge clk) begin
            if (rst) begin
                c_v    <= 1'b0;
                c_end  <= 1'b0;
                c_w    <= '0;
                c_mask <= '0;
                h_v    <= 1'b0;
                h_idx  <= '0;
                o_v    <= 1'b0;
                o_idx  <= '0;
                o_last <= 1'b0;
                o_user <= 1'b0;
            end else if (adv) begin
                o_v <= 1'b0;
                if (f_pop) begin
                    {c_end, c_w, c_mask} <= f_head;
                    c_v <= 1'b1;
                end else if (c_v && c_mask != '0) begin
                    if (h_v) begin              // the held spike was not the step's last
                        o_v    <= 1'b1;
                        o_idx  <= h_idx;
                        o_last <= 1'b0;
                        o_user <= 1'b0;
                    end
                    h_v    <= 1'b1;
                    h_idx  <= n_idx;
                    c_mask <= c_mask & ~(P'(1) << low);
                    if ((c_mask & ~(P'(1) << low)) == '0 && !c_end)
                        c_v <= 1'b0;
                end else if (c_v) begin         // c_mask empty: the end of the step
                    o_v    <= 1'b1;
                    o_idx  <= h_v ? h_idx : '0;
                    o_last <= 1'b1;
                    o_user <= !h_v;
                    h_v    <= 1'b0;
                    c_v    <= 1'b0;
                end
            end
        end
    end

    assign busy = b_v || (|occupied);

endmodule

`default_nettype wire
