// Latent pick: z_t[c] = prior-output spike (c*K + idx_t[c]) of step t, with idx_t[c] drawn by
// fsvae_sampler (golden._latent_step: np.take_along_axis(spikes(C, K), idx)), and the
// bitmap of z_t sent twice: to the decoder (every step) and back to the prior's first
// layer as its next step's input (steps 0..T-2).  Before step 0 the prior gets z_{-1} = 0.
//
//   go (1-cycle pulse, honoured while idle) with n_images (>= 1), image_base: a run.  For
//     each image i: seed the sampler (sampler_start, sampler_image = image_base + i), send
//     the all-zero bitmap to m_axis_fb (z_{-1}), then for t = 0..T-1: pulse sampler_step once
//     sampler_ready is high, merge the step's spikes with its C indices, send z_t.
//   s_axis_spike_*: the prior output's spikes of one step, ascending indices c*K + j (< C*K),
//     tlast on the last, or one beat with tuser = 1 when none spiked (fsvae_lif_linear's
//     m_axis_spike_* conventions).
//   MP > 0 (fsvae_lif_linear MASKS = 1 in front): s_axis_spike_* carries the step's spike
//     masks instead, every word w of MP spikes (w*MP + p, p = bit) in ascending order,
//     tdata = {w, mask}, tlast on the last word; tuser unused (tie it to 0).
//   s_axis_idx_*: the sampler's C indices of the step (fsvae_sampler m_axis_idx_*), channel
//     order, tlast on channel C-1.
//   m_axis_dec_*, m_axis_fb_*: the bitmap as NW = ceil(C/W) words of W bits (tdata; bit b
//     of word w = channel w*W + b), for fsvae_event_list's s_axis_*.  A word is offered on
//     both at once (m_axis_fb only for t < T-1), each side taken independently.  No tlast:
//     the event list counts the words.
//   busy: an image is in progress.
//
// Merge: the spikes and indices both arrive in ascending order, so one pass suffices: a
//   spike below the current target c*K + idx[c] is dropped, one equal to it sets z[c].
//   One spike or one channel per cycle: a step costs C + (spikes) + NW cycles at most.
//   MP > 0: a mask word below the target's word is dropped, one holding it gives z[c] its
//   bit and stays for the next channels (a target's word and bit are slices of it: MP a
//   power of two): C + C*K/MP + NW cycles at most, whatever the spikes.
//   The indices pass a two-entry stage that turns each into its target c*K + idx, so the
//   compare starts from registers and s_axis_idx_tready is a register (1 cycle of latency).
// Synchronous active-high reset.

`default_nettype none

module fsvae_latent_pick #(
    parameter int T     = 16,                // time steps
    parameter int C     = 16,                // latent channels
    parameter int K     = 4,                 // spikes per channel
    parameter int W     = 16,                // bitmap word width
    parameter int MP    = 0,                 // 0: spike indices in; else mask words of MP spikes (a power of two)
    parameter int IDX_W = (MP > 0) ? (((C * K / MP > 1) ? $clog2(C * K / MP) : 1) + MP)
                                   : ((C * K > 1) ? $clog2(C * K) : 1)
) (
    input  wire logic              clk,
    input  wire logic              rst,

    input  wire logic              go,
    input  wire logic [31:0]       n_images,
    input  wire logic [31:0]       image_base,
    output logic                   busy,

    output logic                   sampler_start,
    output logic [15:0]            sampler_image,

    input  wire logic [IDX_W-1:0]  s_axis_spike_tdata,
    input  wire logic              s_axis_spike_tvalid,
    output logic                   s_axis_spike_tready,
    input  wire logic              s_axis_spike_tlast,
    input  wire logic              s_axis_spike_tuser,

    output logic                   sampler_step,
    input  wire logic              sampler_ready,
    input  wire logic [7:0]        s_axis_idx_tdata,
    input  wire logic              s_axis_idx_tvalid,
    output logic                   s_axis_idx_tready,
    input  wire logic              s_axis_idx_tlast,

    output logic [W-1:0]           m_axis_dec_tdata,
    output logic                   m_axis_dec_tvalid,
    input  wire logic              m_axis_dec_tready,

    output logic [W-1:0]           m_axis_fb_tdata,
    output logic                   m_axis_fb_tvalid,
    input  wire logic              m_axis_fb_tready
);

    localparam int NW   = (C + W - 1) / W;
    localparam int T_W  = $clog2(T + 1);
    localparam int B_W  = (W > 1) ? $clog2(W) : 1;
    localparam int NW_W = $clog2(NW + 1);
    // c*K + idx without overflow (c < C, idx < 256: at most (C-1)*K + 255), and no wider: the
    // spike compares with it set the clock (21 bits for C*K = 2,560 put 8 LUT levels in front
    // of the bitmap word; 12 are enough)
    localparam int TG_W = $clog2((C - 1) * K + 256);

    localparam logic [2:0] S_IDLE = 3'd0, S_INIT = 3'd1, S_STEP = 3'd2, S_PICK = 3'd3,
                           S_DRAIN = 3'd4, S_FLUSH = 3'd5, S_SEED = 3'd6;
    logic [2:0]      state;
    logic [T_W-1:0]  t;
    logic [NW_W-1:0] init_words;
    logic [B_W-1:0]  bit_pos;                    // c mod W
    logic [W-1:0]    word;                       // z bits of the current word so far
    logic            spikes_done;                // the step's last spike beat was taken
    logic            out_busy;
    logic [31:0]     img, n_q, base_q;

    assign busy = (state != S_IDLE);
    assign out_busy = m_axis_dec_tvalid || m_axis_fb_tvalid;

    logic            head_real, head_below, head_hit, resolve, drop, word_full;

    // The index stage: each index as its target c*K + idx, in registers (a head and a skid
    // entry), so that the compare with the head spike starts from registers and
    // s_axis_idx_tready is a register (the sampler's handshake waits on no compare).
    logic            t_valid, k_valid;           // head / skid entry holds a target
    logic [TG_W-1:0] t_tgt, k_tgt, in_base;      // in_base: c*K of the next index to arrive
    logic            t_last, k_last;
    logic            idx_take, head_free;
    logic [TG_W-1:0] in_tgt;
    assign in_tgt            = in_base + TG_W'(s_axis_idx_tdata);
    assign s_axis_idx_tready = !k_valid;
    assign idx_take          = s_axis_idx_tvalid && !k_valid;
    assign head_free         = !t_valid || resolve;

    always_ff @(posedge clk) begin
        if (idx_take) begin
            in_base <= s_axis_idx_tlast ? '0 : in_base + TG_W'(K);
        end
        if (head_free) begin
            t_valid <= k_valid || idx_take;
            t_tgt   <= k_valid ? k_tgt : in_tgt;
            t_last  <= k_valid ? k_last : s_axis_idx_tlast;
        end
        if (k_valid) begin
            k_valid <= !head_free;               // the skid entry moves to the head
        end else if (idx_take && !head_free) begin
            k_valid <= 1'b1;
            k_tgt   <= in_tgt;
            k_last  <= s_axis_idx_tlast;
        end
        if (rst) begin
            t_valid <= 1'b0;
            k_valid <= 1'b0;
            in_base <= '0;
        end
    end

    // the head spike (MP > 0: the head mask word), compared with the current target
    logic [TG_W-1:0] target;
    logic            head_bit;                   // the target's spike: the spike itself, or its bit of the word
    assign target     = t_tgt;
    assign head_real  = s_axis_spike_tvalid && !s_axis_spike_tuser;
    if (MP == 0) begin : g_spikes
        assign head_below = head_real && (TG_W'(s_axis_spike_tdata) < target);
        assign head_hit   = head_real && (TG_W'(s_axis_spike_tdata) == target);
        assign head_bit   = 1'b1;
    end else begin : g_masks
        // word w = {tdata above the mask}: spikes w*MP .. w*MP + MP - 1; several targets may
        // fall in one word, so a hit does not take it: it leaves when below the next target
        localparam int MB = $clog2(MP);
        logic [IDX_W-MP-1:0] head_w;
        assign head_w     = s_axis_spike_tdata[IDX_W-1:MP];
        assign head_below = head_real && (TG_W'(head_w) < (target >> MB));
        assign head_hit   = head_real && (TG_W'(head_w) == (target >> MB));
        logic [MP-1:0] head_mask;
        assign head_mask = s_axis_spike_tdata[MP-1:0];
        if (MP == 1) begin : g_one
            assign head_bit = head_mask[0];
        end else begin : g_bit
            assign head_bit = head_mask[target[MB-1:0]];
        end
        if ((1 << MB) != MP) begin : g_bad_mp
            $error("fsvae_latent_pick: MP (%0d) must be a power of two", MP);
        end
    end
    // a channel is resolved once its index is here and the spike stream has moved past it
    assign resolve    = (state == S_PICK) && t_valid && !out_busy &&
                        (spikes_done || (s_axis_spike_tvalid && !s_axis_spike_tuser && !head_below));
    // spikes below the target, the empty marker, and (in S_DRAIN) everything are dropped
    // (the target is only known while t_valid: a stale index must not drop a spike)
    assign drop       = ((state == S_PICK) && !spikes_done && s_axis_spike_tvalid &&
                         (s_axis_spike_tuser || (t_valid && head_below))) ||
                        ((state == S_DRAIN) && !spikes_done && s_axis_spike_tvalid);
    assign s_axis_spike_tready = drop || (MP == 0 && resolve && !spikes_done && head_hit);
    assign sampler_step        = (state == S_STEP) && sampler_ready;
    assign sampler_start       = (state == S_SEED);
    assign sampler_image       = 16'(base_q + img);
    assign word_full           = (bit_pos == B_W'(W - 1)) || t_last;

    always_ff @(posedge clk) begin
        if (rst) begin
            state       <= S_IDLE;
            t           <= '0;
            init_words  <= '0;
            bit_pos     <= '0;
            word        <= '0;
            spikes_done <= 1'b0;
            m_axis_dec_tvalid <= 1'b0;
            m_axis_fb_tvalid  <= 1'b0;
            m_axis_dec_tdata  <= '0;
            m_axis_fb_tdata   <= '0;
            img         <= '0;
            n_q         <= '0;
            base_q      <= '0;
        end else begin
            if (m_axis_dec_tvalid && m_axis_dec_tready) m_axis_dec_tvalid <= 1'b0;
            if (m_axis_fb_tvalid && m_axis_fb_tready)   m_axis_fb_tvalid  <= 1'b0;
            if (s_axis_spike_tvalid && s_axis_spike_tready &&
                (s_axis_spike_tlast || s_axis_spike_tuser))
                spikes_done <= 1'b1;

            case (state)
                S_IDLE: if (go && n_images != '0) begin
                    state  <= S_SEED;
                    img    <= '0;
                    n_q    <= n_images;
                    base_q <= image_base;
                end
                S_SEED: begin                            // the sampler drops ready now
                    state      <= S_INIT;
                    t          <= '0;
                    init_words <= '0;
                end
                S_INIT: if (!m_axis_fb_tvalid || m_axis_fb_tready) begin   // z_{-1} = 0
                    if (init_words == NW_W'(NW)) begin
                        state <= S_STEP;
                    end else begin
                        m_axis_fb_tvalid <= 1'b1;
                        m_axis_fb_tdata  <= '0;
                        init_words <= init_words + 1'b1;
                    end
                end
                S_STEP: if (sampler_ready) begin
                    state       <= S_PICK;
                    bit_pos     <= '0;
                    word        <= '0;
                    spikes_done <= 1'b0;
                end
                S_PICK: if (resolve) begin
                    bit_pos <= bit_pos + 1'b1;
                    word    <= word | (W'(!spikes_done && head_hit && head_bit) << bit_pos);
                    if (word_full) begin
                        m_axis_dec_tvalid <= 1'b1;
                        m_axis_dec_tdata  <= word | (W'(!spikes_done && head_hit && head_bit) << bit_pos);
                        m_axis_fb_tvalid  <= (t != T_W'(T - 1));
                        m_axis_fb_tdata   <= word | (W'(!spikes_done && head_hit && head_bit) << bit_pos);
                        word        <= '0;
                        bit_pos     <= '0;
                    end
                    if (t_last)
                        state <= S_DRAIN;
                end
                S_DRAIN: begin
                    // the rest of the step's spikes (above the last target); spikes_done
                    // may have been set by the last resolve or is set by a drop here
                    if (spikes_done || (s_axis_spike_tvalid && (s_axis_spike_tlast || s_axis_spike_tuser)))
                        state <= S_FLUSH;
                end
                S_FLUSH: if (!out_busy) begin          // the step's last word has left
                    t <= t + 1'b1;
                    if (t != T_W'(T - 1)) begin
                        state <= S_STEP;
                    end else begin
                        img   <= img + 1'b1;
                        state <= (img + 1'b1 == n_q) ? S_IDLE : S_SEED;
                    end
                end
                default: state <= S_IDLE;
            endcase
        end
    end

endmodule

`default_nettype wire
