// Event-driven LIF transposed convolution: one time step per `start`, bit-exact with
// golden.conv_transpose2d + golden.LIFState.step (sw/fsvae_fpga/golden.py); the RTL twin of
// hls/fsvae/lif_conv_transpose.h (same microarchitecture: event -> tap -> channel group scatter,
// weights stored [CIN*K*K][COUT], P output-channel lanes) with the stream conventions of
// fsvae_lif_linear.sv.
//
//   I[oh][ow][c] = bias[c] + sum_{events (ih, iw, ci), taps (kh, kw) with
//                    oh = ih*S - PAD + kh, ow = iw*S - PAD + kw inside OH x OW} W[ci][c][kh][kw]
//   SPIKING = 1:  u = first_step ? I : (u >>> 2) * (1 - s) + I   (>>> = floor);  s = u > THRESHOLD
//   SPIKING = 0:  the currents I themselves are streamed out (membrane-output layer)
//   OH = (IH - 1)*S - 2*PAD + K + OUTPAD, OW likewise; NPOS = OH*OW, G = COUT / P.
//
// Interface
//   start / first_step: sampled only while busy is low; first_step ignores the stored
//     membranes and spikes (u = I); the first step after a reset must be a first_step.
//     busy is high from the cycle after start until the step's final output beat is
//     accepted; done pulses in the next cycle, with busy already low.  After reset busy is
//     also high for NPOS*G cycles while the accumulators are cleared.
//   s_axis_event_*: the step's input events, channel-last indices (ih*IW + iw)*CIN + ci,
//     ascending by convention (as a chained layer or fsvae_event_list emits them; any order
//     is computed correctly, see the hazard note), each at most once, tlast on the last.  A step without events sends a single beat with tuser = 1 ("empty"; tdata
//     ignored, tlast should be 1).  Beats are accepted only after start.
//   m_axis_spike_* (SPIKING = 1): the step's output spikes as ascending channel-last
//     indices pos*COUT + c (pos = oh*OW + ow), tlast on the last; when no neuron spiked, a
//     single beat with tuser = 1 (empty), tdata = 0, tlast = 1.  Tied off when SPIKING = 0.
//   m_axis_cur_* (SPIKING = 0): the step's currents, one beat per (position, channel group)
//     in ascending order, beat pos*G + g = I[pos][g*P + p] in lane p (ACC_BITS each, two's
//     complement, lane 0 in the low bits), tlast on beat NPOS*G - 1; plain valid/ready (AXI
//     stream without tuser/tkeep).  Tied off when SPIKING = 1.
//   dbg_addr -> dbg_membrane / dbg_spike (SPIKING = 1): while busy is low, the P membranes
//     and spikes of word dbg_addr = pos*G + g (lane p = channel g*P + p), one cycle after
//     dbg_addr.  Zero when SPIKING = 0.
//
// Memory files ($readmemh, one word per line, two's complement, lane 0 in the low bits):
//   WEIGHT_FILE: CIN*K*K*G lines, line row*G + g with row = (ci*K + kh)*K + kw holds
//                W[ci][g*P + p][kh][kw], p = 0..P-1, W_BITS each (torch layout (CIN, COUT,
//                K, K) -> w.transpose(0, 2, 3, 1).reshape(CIN*K*K, COUT), P per line)
//   BIAS_FILE:   G lines, line g = bias[g*P + p], p = 0..P-1, B_BITS each
//
// Widths: ACC_BITS must hold the layer's current_range("convT", ...) and MEM_BITS its
// membrane_range (hwmodel.py).  Every partial sum (bias + any subset of the taps reaching a
// neuron) lies inside current_range as well; the accumulators hold the tap sum alone and the
// bias is added in the update, all modulo 2^ACC_BITS, exact because the final sum fits.
//
// Microarchitecture (one accumulator RAM word = P lanes of one (position, channel group)):
//   scatter: an event is decoded when accepted (divisions by the constants CIN and IW, a
//     multiply-add by constants; cheap when CIN and IW are powers of two) into its first
//     tap's output coordinates and RAM addresses; then one (tap, group) iteration per
//     cycle: taps in DESCENDING order (kh, kw from K-1 down to 0, i.e. weight row
//     descending), groups 0..G-1 innermost, tracked by incremental counters (no multiplier
//     in the loop).  A tap landing outside OH x OW still takes its G cycles but does no
//     RAM access, so an event costs exactly K*K*G cycles; the next event is accepted
//     during the last iteration of the current one (back to back, no bubble).
//   update: NPOS*G cycles, one word per cycle in ascending address order: acc + bias,
//     leak, compare; membranes and spikes written back, the accumulator word cleared for
//     the next step (no bias-fill pass; the reset clears the RAM once).  The spike emitter
//     is the one of fsvae_lif_linear (serialises each word's spike mask, stalls the update
//     only while it still holds two or more spikes of an earlier word, holds one spike back
//     so tlast is exact).  SPIKING = 0: the current word is the output beat itself
//     (m_axis_cur_tvalid = the update's stage-B valid; backpressure stalls the update).
//     m_axis_*_tready reaches the update's RAM enables combinationally; add a register
//     slice on the output if that path limits the clock.
//   Accumulator read-modify-write hazard: the RAM read is synchronous (issue in cycle t,
//     data in t+1, sum written at the end of t+1).  Two accesses to the same word are
//     >= K*K*G iterations apart: within one event the taps land on distinct positions and
//     the groups on distinct words; across ascending events, with descending taps, a later
//     event (ih+dh, iw+dw) hitting the output of an earlier one's tap t1 with its tap t2
//     is G*(K*K + S*(dh*K + dw)) >= G*K*K iterations later (the HLS DEPENDENCE argument;
//     in ascending tap order the last tap of one event and the first of the next could
//     collide 1 iteration apart).  Stalls (input idle) only add distance.  So for
//     K*K*G >= 2 the write always lands an edge before the re-read.  The only distance-1
//     case (K = 1, G = 1: e.g. two input channels of one pixel) and the last scatter write
//     against the first update read are covered by read-during-write forwarding: the read
//     port records, at each read, whether the write port writes the same word at that
//     edge, and if so uses the written value instead of the RAM output (read-first and
//     write-first RAMs both work).  Forwarding makes the engine safe for any order; the
//     descending order is kept only to mirror the HLS schedule.
//
// Cycles per step (busy cycles, start to done, no input idle and no output backpressure),
// E events (E = 0: the empty beat), NW = NPOS*G update words:
//   SPIKING = 1, k_w spikes in word w:
//     3 + E*K*K*G + NW + sum_{w < NW-1} max(k_w - 1, 0) + k_{NW-1}
//   SPIKING = 0:
//     2 + E*K*K*G + NW
//   `cycles` reports the count of the last completed step.
//
// Cost: weight ROM CIN*K*K*G x P*W_BITS, bias ROM G x P*B_BITS, accumulator RAM NW x
// P*ACC_BITS, membrane RAM NW x P*MEM_BITS and spike RAM NW x P (SPIKING = 1 only); all one
// read + one write port with synchronous read (BRAM or LUTRAM); P adders for the scatter,
// P adders (+ P leak adders and comparators) for the update.

`default_nettype none

module fsvae_lif_conv_transpose #(
    parameter int CIN       = 4,               // input channels
    parameter int COUT      = 4,               // output channels
    parameter int IH        = 4,               // input height
    parameter int IW        = 4,               // input width
    parameter int K         = 3,               // kernel size
    parameter int S         = 2,               // stride
    parameter int PAD       = 1,               // padding
    parameter int OUTPAD    = 1,               // output padding
    parameter int P         = 4,               // lanes, COUT % P == 0
    parameter int W_BITS    = 8,               // signed weights
    parameter int B_BITS    = 32,              // signed biases
    parameter int ACC_BITS  = 24,              // signed, holds current_range
    parameter int MEM_BITS  = 25,              // signed, holds membrane_range
    parameter int THRESHOLD = 0,               // spike when u > THRESHOLD
    parameter int SPIKING   = 1,               // 1: LIF layer, 0: current output layer
    parameter     WEIGHT_FILE = "weights.hex",
    parameter int WEIGHT_LOAD = 0,               // 1: weights written through wl_* (no WEIGHT_FILE)
    parameter int WEIGHT_STYLE = 0,              // fsvae_weight_mem STYLE (memory kind hint)
    parameter     BIAS_FILE   = "bias.hex",
    // derived (do not override)
    parameter int OH    = (IH - 1) * S - 2 * PAD + K + OUTPAD,
    parameter int OW    = (IW - 1) * S - 2 * PAD + K + OUTPAD,
    parameter int NIN   = IH * IW * CIN,
    parameter int NOUT  = OH * OW * COUT,
    parameter int NW    = OH * OW * (COUT / P),
    parameter int IN_W  = (NIN > 1) ? $clog2(NIN) : 1,     // event index width
    parameter int OUT_W = (NOUT > 1) ? $clog2(NOUT) : 1,   // spike index width
    parameter int AA_W  = (NW > 1) ? $clog2(NW) : 1,       // accumulator word address width
    parameter int WL_W  = (CIN * K * K * (COUT / P) > 1) ? $clog2(CIN * K * K * (COUT / P)) : 1  // weight word address
) (
    input  wire logic                    clk,
    input  wire logic                    rst,

    input  wire logic                    start,
    input  wire logic                    first_step,
    output logic                         busy,
    output logic                         done,
    output logic [31:0]                  cycles,

    input  wire logic [IN_W-1:0]         s_axis_event_tdata,
    input  wire logic                    s_axis_event_tvalid,
    output logic                         s_axis_event_tready,
    input  wire logic                    s_axis_event_tlast,
    input  wire logic                    s_axis_event_tuser,    // empty step

    output logic [OUT_W-1:0]             m_axis_spike_tdata,
    output logic                         m_axis_spike_tvalid,
    input  wire logic                    m_axis_spike_tready,
    output logic                         m_axis_spike_tlast,
    output logic                         m_axis_spike_tuser,    // no spike this step

    output logic [P*ACC_BITS-1:0]        m_axis_cur_tdata,
    output logic                         m_axis_cur_tvalid,
    input  wire logic                    m_axis_cur_tready,
    output logic                         m_axis_cur_tlast,
    // weight load port (WEIGHT_LOAD = 1): word wl_addr of the weight memory (file layout)
    input  wire logic                    wl_en,
    input  wire logic [WL_W-1:0]         wl_addr,
    input  wire logic [P*W_BITS-1:0]     wl_data,


    input  wire logic [AA_W-1:0]         dbg_addr,
    output logic [P*MEM_BITS-1:0]        dbg_membrane,
    output logic [P-1:0]                 dbg_spike
);

    localparam int G     = COUT / P;
    localparam int TAPS  = K * K;
    localparam int NWROW = CIN * TAPS * G;
    localparam int G_W   = (G > 1) ? $clog2(G) : 1;
    localparam int K_W   = (K > 1) ? $clog2(K) : 1;
    localparam int WA_W  = (NWROW > 1) ? $clog2(NWROW) : 1;
    localparam int P_W   = (P > 1) ? $clog2(P) : 1;
    // signed output coordinates during the scatter: -PAD-1 .. (IH-1)*S - PAD + K - 1
    localparam int CRD_W = $clog2(IH * S + IW * S + OH + OW + K + PAD + 2) + 2;
    localparam int CMP_BITS = (MEM_BITS > 32) ? MEM_BITS : 32;
    localparam logic signed [CMP_BITS-1:0] THR = CMP_BITS'(THRESHOLD);
    localparam logic [G_W-1:0]  LAST_G  = G_W'(G - 1);
    localparam logic [K_W-1:0]  LAST_K  = K_W'(K - 1);
    localparam logic [AA_W-1:0] LAST_W  = AA_W'(NW - 1);
    localparam logic signed [CRD_W-1:0] OH_C = CRD_W'(OH);
    localparam logic signed [CRD_W-1:0] OW_C = CRD_W'(OW);

    if (P < 1 || COUT % P != 0) begin : g_bad_lanes
        $error("fsvae_lif_conv_transpose: COUT (%0d) must be a multiple of P (%0d)", COUT, P);
    end
    if (OH < 1 || OW < 1) begin : g_bad_shape
        $error("fsvae_lif_conv_transpose: empty output (%0d x %0d)", OH, OW);
    end

    localparam logic [1:0] S_INIT = 2'd0, S_IDLE = 2'd1, S_ACC = 2'd2, S_UPD = 2'd3;
    logic [1:0]  state;
    logic        first_q;
    logic [31:0] cycles_cnt;

    // ------------------------------------------------------------------ memories
    logic [P*B_BITS-1:0]   b_mem   [G];
    logic [P*ACC_BITS-1:0] acc_mem [NW];

    initial begin
        $readmemh(BIAS_FILE, b_mem);
    end
    fsvae_file_check #(.FILE(BIAS_FILE)) u_bias_file_check ();

    // ------------------------------------------------------------------ scatter: decode
    // First tap (kh = kw = K-1) of the event on s_axis_event_tdata.
    int dec_ci, dec_pix, dec_ih, dec_iw, dec_oh, dec_ow;
    always_comb begin
        dec_ci  = int'(32'(s_axis_event_tdata) % 32'(CIN));
        dec_pix = int'(32'(s_axis_event_tdata) / 32'(CIN));
        dec_ih  = dec_pix / IW;
        dec_iw  = dec_pix % IW;
        dec_oh  = dec_ih * S - PAD + K - 1;
        dec_ow  = dec_iw * S - PAD + K - 1;
    end

    // ------------------------------------------------------------------ scatter: iteration
    logic                    ev_v;         // an event is being scattered
    logic [G_W-1:0]          ag;           // group
    logic [K_W-1:0]          kh_c, kw_c;   // tap (counting down)
    logic signed [CRD_W-1:0] oh_c, ow_c;   // output coordinates of the tap
    logic [WA_W-1:0]         w_tap;        // weight word of (tap, group 0): row*G
    int                      a_tap;        // accumulator word of (tap, group 0): pos*G (may be off-map)
    logic                    ev_seen_last; // the step's last (or empty) beat was accepted
    logic                    ev_hs, it_last, tap_in, acc_issue;

    assign it_last   = (ag == LAST_G) && (kw_c == '0) && (kh_c == '0);
    assign s_axis_event_tready = (state == S_ACC) && !ev_seen_last && (!ev_v || it_last);
    assign ev_hs     = s_axis_event_tvalid && s_axis_event_tready;
    assign tap_in    = (oh_c >= 0) && (oh_c < OH_C) && (ow_c >= 0) && (ow_c < OW_C);
    assign acc_issue = (state == S_ACC) && ev_v && tap_in;

    // ------------------------------------------------------------------ update: address
    logic             ua_active;   // words left to issue
    logic [AA_W-1:0]  ua_a;        // word pos*G + g
    logic [G_W-1:0]   ua_g;        // its group (bias word)
    logic [OUT_W-1:0] ua_base;     // its first neuron index, ua_a * P
    logic             upd_issue, upd_adv, upd_all_done, out_ready, step_end;

    // Stage B registers (RAM outputs arrive here)
    logic             accb_v;
    logic [AA_W-1:0]  accb_a;
    logic             updb_v;
    logic [AA_W-1:0]  updb_a;
    logic [OUT_W-1:0] updb_base;

    assign upd_all_done = (state == S_UPD) && !ua_active && !updb_v;
    assign upd_issue    = (state == S_UPD) && ua_active && (!updb_v || upd_adv);
    assign upd_adv      = updb_v && out_ready;

    // ------------------------------------------------------------------ RAM ports
    logic [WA_W-1:0]       w_ra;
    logic [P*W_BITS-1:0]   w_q;
    logic [P*B_BITS-1:0]   b_q;
    logic                  acc_re, acc_we;
    logic [AA_W-1:0]       acc_ra, acc_wa, acc_ia;
    logic [P*ACC_BITS-1:0] acc_wd, acc_q, acc_sum, fwd_data, cur_w;
    logic                  fwd_sel;
    logic [AA_W-1:0]       ig;     // clear pointer after reset

    assign w_ra   = w_tap + WA_W'(ag);
    assign acc_ia = AA_W'(a_tap + int'({1'b0, ag}));
    assign acc_re = acc_issue || upd_issue;
    assign acc_ra = acc_issue ? acc_ia : ua_a;

    always_comb begin
        acc_we = 1'b0;
        acc_wa = accb_a;
        acc_wd = acc_sum;
        if (accb_v) begin
            acc_we = 1'b1;
        end else if (upd_adv) begin
            acc_we = 1'b1;
            acc_wa = updb_a;
            acc_wd = '0;
        end else if (state == S_INIT) begin
            acc_we = 1'b1;
            acc_wa = ig;
            acc_wd = '0;
        end
    end

    fsvae_weight_mem #(.DEPTH(NWROW), .WIDTH(P * W_BITS), .INIT_FILE(WEIGHT_FILE), .LOADABLE(WEIGHT_LOAD),
                       .STYLE(WEIGHT_STYLE)) u_weights (
        .clk, .rd_en(acc_issue), .rd_addr(w_ra), .rd_data(w_q),
        .wr_en(wl_en), .wr_addr(wl_addr), .wr_data(wl_data)
    );

    always_ff @(posedge clk) begin
        if (upd_issue) begin
            b_q <= b_mem[ua_g];
        end
    end

    always_ff @(posedge clk) begin
        if (acc_we) begin
            acc_mem[acc_wa] <= acc_wd;
        end
        if (acc_re) begin
            acc_q <= acc_mem[acc_ra];
        end
    end

    // Read-during-write forwarding (see header): held together with acc_q while stalled.
    always_ff @(posedge clk) begin
        if (acc_re) begin
            fwd_sel  <= acc_we && (acc_wa == acc_ra);
            fwd_data <= acc_wd;
        end
    end

    // ------------------------------------------------------------------ lanes: currents
    for (genvar p = 0; p < P; p++) begin : g_lane
        logic signed [ACC_BITS-1:0] acc_op, w_ext, b_ext;
        // Bits above ACC_BITS of a wider weight or bias are not needed (modular sum).
        /* verilator lint_off UNUSEDSIGNAL */
        logic signed [W_BITS-1:0]   w;
        logic signed [B_BITS-1:0]   b;
        /* verilator lint_on UNUSEDSIGNAL */

        assign acc_op = fwd_sel ? fwd_data[p*ACC_BITS +: ACC_BITS] : acc_q[p*ACC_BITS +: ACC_BITS];
        assign w      = w_q[p*W_BITS +: W_BITS];
        assign w_ext  = ACC_BITS'(w);          // sign-extend (or wrap: exact modulo 2^ACC_BITS)
        assign acc_sum[p*ACC_BITS +: ACC_BITS] = acc_op + w_ext;

        assign b      = b_q[p*B_BITS +: B_BITS];
        assign b_ext  = ACC_BITS'(b);
        assign cur_w[p*ACC_BITS +: ACC_BITS] = acc_op + b_ext;
    end

    // ------------------------------------------------------------------ outputs per variant
    if (SPIKING != 0) begin : g_spiking
        logic [P*MEM_BITS-1:0] u_mem [NW];
        logic [P-1:0]          s_mem [NW];
        logic                  st_re;
        logic [AA_W-1:0]       st_ra;
        logic [P*MEM_BITS-1:0] u_q, u_new;
        logic [P-1:0]          s_q, s_new;

        assign st_re = upd_issue || (state == S_IDLE);
        assign st_ra = upd_issue ? ua_a : dbg_addr;

        always_ff @(posedge clk) begin
            if (upd_adv) begin
                u_mem[updb_a] <= u_new;
                s_mem[updb_a] <= s_new;
            end
            if (st_re) begin
                u_q <= u_mem[st_ra];
                s_q <= s_mem[st_ra];
            end
        end

        assign dbg_membrane = u_q;
        assign dbg_spike    = s_q;

        for (genvar p = 0; p < P; p++) begin : g_lif
            logic signed [MEM_BITS-1:0] u_old, shifted, leaked, u;
            assign u_old = u_q[p*MEM_BITS +: MEM_BITS];
            // The shift has its own signal: inside ?: next to an unsigned '0 it would be
            // evaluated unsigned, i.e. as a logical shift.
            assign shifted = u_old >>> 2;
            // Hard reset: a neuron that spiked restarts from its current alone.
            assign leaked = (first_q || s_q[p]) ? '0 : shifted;
            assign u      = leaked + MEM_BITS'($signed(cur_w[p*ACC_BITS +: ACC_BITS]));
            assign u_new[p*MEM_BITS +: MEM_BITS] = u;
            assign s_new[p] = CMP_BITS'(u) > THR;
        end

        // Emitter (as fsvae_lif_linear)
        logic [P-1:0]     mask_c;      // spikes of word base_c not yet moved to hold
        logic [OUT_W-1:0] base_c;
        logic             hold_v;      // one spike index waiting for its tlast to be known
        logic [OUT_W-1:0] hold_idx;
        logic             move, out_fire, mask_one;

        function automatic logic [P_W-1:0] lowest(input logic [P-1:0] m);
            lowest = '0;
            for (int i = P - 1; i >= 0; i--) begin
                if (m[i]) begin
                    lowest = P_W'(i);
                end
            end
        endfunction

        assign mask_one = (mask_c & (mask_c - 1'b1)) == '0;   // at most one bit set

        assign m_axis_spike_tvalid = (state == S_UPD)
                                   && (hold_v ? (mask_c != '0 || upd_all_done) : (mask_c == '0 && upd_all_done));
        assign m_axis_spike_tdata  = hold_v ? hold_idx : '0;
        assign m_axis_spike_tlast  = mask_c == '0;
        assign m_axis_spike_tuser  = !hold_v;
        assign out_fire  = m_axis_spike_tvalid && m_axis_spike_tready;
        assign move      = (mask_c != '0) && (!hold_v || out_fire);
        assign out_ready = (mask_c == '0) || (mask_one && move);
        assign step_end  = out_fire && m_axis_spike_tlast;

        always_ff @(posedge clk) begin
            if (move) begin
                hold_v   <= 1'b1;
                hold_idx <= base_c + OUT_W'(lowest(mask_c));
                mask_c   <= mask_c & (mask_c - 1'b1);
            end else if (out_fire) begin
                hold_v <= 1'b0;   // the last spike (or the empty beat) left
            end
            if (upd_adv) begin
                mask_c <= s_new;  // out_ready: the old mask is empty or leaves now
                base_c <= updb_base;
            end
            if (rst) begin
                mask_c <= '0;
                hold_v <= 1'b0;
            end
        end

        assign m_axis_cur_tdata  = '0;
        assign m_axis_cur_tvalid = 1'b0;
        assign m_axis_cur_tlast  = 1'b0;
        wire unused_cur = m_axis_cur_tready;
    end else begin : g_current
        // The stage-B word is the output beat; it is held (acc_q, fwd, b_q) while stalled.
        assign m_axis_cur_tdata  = cur_w;
        assign m_axis_cur_tvalid = updb_v;
        assign m_axis_cur_tlast  = updb_a == LAST_W;
        assign out_ready = m_axis_cur_tready;
        assign step_end  = upd_adv && (updb_a == LAST_W);

        assign m_axis_spike_tdata  = '0;
        assign m_axis_spike_tvalid = 1'b0;
        assign m_axis_spike_tlast  = 1'b0;
        assign m_axis_spike_tuser  = 1'b0;
        assign dbg_membrane = '0;
        assign dbg_spike    = '0;
        wire unused_ports = &{1'b0, m_axis_spike_tready, dbg_addr, first_q, updb_base, upd_all_done};
    end

    // ------------------------------------------------------------------ control
    assign busy = (state != S_IDLE);

    always_ff @(posedge clk) begin
        done <= 1'b0;

        case (state)
            S_INIT: begin
                ig <= ig + 1'b1;
                if (ig == LAST_W) begin
                    state <= S_IDLE;
                end
            end
            S_IDLE: begin
                if (start) begin
                    state        <= S_ACC;
                    first_q      <= first_step;
                    ev_v         <= 1'b0;
                    ev_seen_last <= 1'b0;
                    cycles_cnt   <= 32'd1;
                end
            end
            S_ACC: begin
                cycles_cnt <= cycles_cnt + 1'b1;
                if (ev_v) begin
                    if (ag != LAST_G) begin
                        ag <= ag + 1'b1;
                    end else begin
                        ag    <= '0;
                        w_tap <= w_tap - WA_W'(G);   // next tap = previous weight row
                        if (kw_c != '0) begin
                            kw_c  <= kw_c - 1'b1;
                            ow_c  <= ow_c - 1'b1;
                            a_tap <= a_tap - G;
                        end else begin
                            kw_c  <= LAST_K;
                            ow_c  <= ow_c + CRD_W'(K - 1);
                            oh_c  <= oh_c - 1'b1;
                            a_tap <= a_tap + (K - 1) * G - OW * G;
                            if (kh_c != '0) begin
                                kh_c <= kh_c - 1'b1;
                            end else begin
                                ev_v <= 1'b0;
                            end
                        end
                    end
                end
                if (ev_hs) begin
                    ev_seen_last <= s_axis_event_tlast || s_axis_event_tuser;
                    if (!s_axis_event_tuser) begin
                        ev_v  <= 1'b1;
                        ag    <= '0;
                        kh_c  <= LAST_K;
                        kw_c  <= LAST_K;
                        oh_c  <= CRD_W'(dec_oh);
                        ow_c  <= CRD_W'(dec_ow);
                        w_tap <= WA_W'((dec_ci * TAPS + TAPS - 1) * G);
                        a_tap <= (dec_oh * OW + dec_ow) * G;
                    end
                end
                // Leave while the last iteration of the last event is issued (or on the
                // empty beat); its write meets the first update read through the forwarding.
                if ((ev_seen_last && (!ev_v || it_last)) || (ev_hs && s_axis_event_tuser)) begin
                    state     <= S_UPD;
                    ua_active <= 1'b1;
                    ua_a      <= '0;
                    ua_g      <= '0;
                    ua_base   <= '0;
                end
            end
            S_UPD: begin
                cycles_cnt <= cycles_cnt + 1'b1;
                if (step_end) begin
                    state  <= S_IDLE;
                    done   <= 1'b1;
                    cycles <= cycles_cnt;
                end
            end
            default: state <= S_IDLE;
        endcase

        // Update stages A and B
        if (upd_issue) begin
            ua_a    <= ua_a + 1'b1;
            ua_g    <= (ua_g == LAST_G) ? '0 : ua_g + 1'b1;
            ua_base <= ua_base + OUT_W'(P);
            if (ua_a == LAST_W) begin
                ua_active <= 1'b0;
            end
            updb_v    <= 1'b1;
            updb_a    <= ua_a;
            updb_base <= ua_base;
        end else if (upd_adv) begin
            updb_v <= 1'b0;
        end

        // Scatter stage B
        accb_v <= acc_issue;
        accb_a <= acc_ia;

        if (rst) begin
            state     <= S_INIT;
            ig        <= '0;
            done      <= 1'b0;
            cycles    <= '0;
            ev_v      <= 1'b0;
            ua_active <= 1'b0;
            updb_v    <= 1'b0;
            accb_v    <= 1'b0;
        end
    end

`ifndef SYNTHESIS
    always_ff @(posedge clk) begin
        if (!rst && ev_hs && !s_axis_event_tuser && 32'(s_axis_event_tdata) >= 32'(NIN)) begin
            $error("fsvae_lif_conv_transpose: event index %0d >= %0d", s_axis_event_tdata, NIN);
        end
    end
`endif

endmodule

`default_nettype wire
