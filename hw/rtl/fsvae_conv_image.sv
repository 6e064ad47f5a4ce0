// The encoder's first layer (encoder.0): convolution of the int8 image, computed ONCE per
// image, then a LIF step per `start` on that constant current; bit-exact with
// golden.encode's  current = golden.conv2d(image) (bias included)  and
// golden.LIFState.step(current) at every step (sw/fsvae_fpga/golden.py).  The RTL twin of
// conv_image + lif_conv_image in hls/fsvae/conv_encoder.h (same MAC schedule and weight
// layout), with the step interface of fsvae_lif_conv.sv.
//
//   I[oh][ow][c] = bias[c] + sum_{ci, kh, kw; (ih, iw) inside} W[c][ci][kh][kw] * x[ci][ih][iw],
//                  ih = oh*S - PAD + kh, iw = ow*S - PAD + kw   (pixels x: signed int8)
//   u = first_step ? I : (u >>> 2) * (1 - s) + I   (>>> = floor);  s = u > THRESHOLD
//   OH = (IH + 2*PAD - K) / S + 1, OW likewise; NPOS = OH*OW, G = COUT / P, R = CIN*K*K,
//   NPIX = CIN*IH*IW, NIW = ceil(NPIX / 4).
//
// Interface
//   load: sampled only while busy is low (it wins over a simultaneous start, which is then
//     ignored).  The engine accepts one image on s_axis_image_*, computes its currents
//     into the current RAM and drops busy; done pulses in the next cycle.  The currents
//     stay until the next load, so an image can be restarted (first_step) any number of
//     times.  After a reset (which may cut a load short) load an image before a step.
//   s_axis_image_*: the accelerator's in_r format (hw/interface.yaml): 32-bit words, four
//     int8 pixels per word, pixel 4w + k in bits 8k+7:8k, C-H-W order (pixel
//     (ci*IH + ih)*IW + iw), tlast on the last word.  tready is high only while loading.
//     The load ends with the tlast beat; words past NIW are ignored, bytes past NPIX in the
//     last word are ignored, and a frame shorter than NIW words leaves the missing words at
//     their previous values (a simulation-only $error reports both framing faults).
//   start / first_step: sampled only while busy is low; one LIF step over all neurons on the
//     stored currents.  first_step ignores the stored membranes and spikes (u = I) and must
//     be the first step after each load (and after a reset).  busy is high from the cycle
//     after start until the step's final output beat is accepted; done pulses in the next
//     cycle, with busy already low.
//   m_axis_spike_*: the step's output spikes as ascending channel-last indices
//     pos*COUT + c (pos = oh*OW + ow), tlast on the last; when no neuron spiked, a single
//     beat with tuser = 1 (empty), tdata = 0, tlast = 1 (as the other LIF engines).
//   dbg_addr -> dbg_membrane / dbg_spike / dbg_current: while busy is low, the P membranes,
//     spikes and currents (ACC_BITS each, lane 0 low) of word dbg_addr = pos*G + g (lane
//     p = channel g*P + p), one cycle after dbg_addr.
//
// Memory files ($readmemh, one word per line, two's complement, lane 0 in the low bits):
//   WEIGHT_FILE: R*G lines, line row*G + g with row = (ci*K + kh)*K + kw holds
//                W[g*P + p][ci][kh][kw], p = 0..P-1, W_BITS each (torch layout (COUT, CIN,
//                K, K) -> w.transpose(1, 2, 3, 0).reshape(R, COUT), P per line; the layout of
//                fsvae_lif_conv and conv_encoder.h)
//   BIAS_FILE:   G lines, line g = bias[g*P + p], p = 0..P-1, B_BITS each
//
// Widths: ACC_BITS must hold the layer's current_range("conv", w, b, -128, 127) and
// MEM_BITS its membrane_range (hwmodel.py).  The MAC chain starts from the bias and adds one
// product per cycle modulo 2^ACC_BITS, exact because the final sum fits (no partial sum
// needs to, although the bound analysis makes every one fit as well).
//
// Microarchitecture:
//   load: one word per cycle into the image RAM (NIW x 32, as received).
//   currents: the loop of conv_image: position (oh, ow) -> group g -> reduction step
//     row = (ci, kh, kw) innermost, one iteration per cycle (counters, no multiplier in the
//     loop control).  Stage A reads the image word holding pixel (ci, ih, iw) and weight
//     word row*G + g (and bias word g); stage B selects the byte (0 in the padding) and does
//     P multiply-accumulates into P registers, restarting from the bias at row 0; stage C
//     writes the P sums of the word's last row to the current RAM (address pos*G + g, a
//     counter).  P multipliers of W_BITS x 8 bits (DSPs or LUTs).
//   step: NPOS*G cycles, one word per cycle: leak, add the current, compare; membranes and
//     spikes written back; the current RAM is only read.  The spike emitter is the one of
//     fsvae_lif_linear / fsvae_lif_conv (m_axis_spike_tready reaches the update's RAM
//     enables combinationally; add a register slice on the output if that path limits the
//     clock).
//
// Cycles (busy cycles, from the cycle after load / start to done; no input idle and no
// output backpressure), NW = NPOS*G words, k_w spikes in word w:
//   load:  NIW + NPOS*G*R + 2
//   step:  2 + NW + sum_{w < NW-1} max(k_w - 1, 0) + k_{NW-1}
//   `cycles` reports the count of the last completed load or step.
//
// Cost: image RAM NIW x 32, weight ROM R*G x P*W_BITS, bias ROM G x P*B_BITS, current RAM
// NW x P*ACC_BITS, membrane RAM NW x P*MEM_BITS and spike RAM NW x P; all one read + one
// write port with synchronous read (BRAM or LUTRAM); P multipliers and P adders for the
// currents, P leak adders and comparators for the update.

`default_nettype none

module fsvae_conv_image #(
    parameter int CIN       = 1,               // image channels
    parameter int COUT      = 4,               // output channels
    parameter int IH        = 8,               // image height
    parameter int IW        = 8,               // image width
    parameter int K         = 3,               // kernel size
    parameter int S         = 2,               // stride
    parameter int PAD       = 1,               // padding
    parameter int P         = 4,               // lanes, COUT % P == 0
    parameter int W_BITS    = 8,               // signed weights
    parameter int B_BITS    = 32,              // signed biases
    parameter int ACC_BITS  = 24,              // signed, holds current_range
    parameter int MEM_BITS  = 25,              // signed, holds membrane_range
    parameter int THRESHOLD = 0,               // spike when u > THRESHOLD
    parameter     WEIGHT_FILE = "weights.hex",
    parameter     BIAS_FILE   = "bias.hex",
    // derived (do not override)
    parameter int OH    = (IH + 2 * PAD - K) / S + 1,
    parameter int OW    = (IW + 2 * PAD - K) / S + 1,
    parameter int NOUT  = OH * OW * COUT,
    parameter int NW    = OH * OW * (COUT / P),
    parameter int OUT_W = (NOUT > 1) ? $clog2(NOUT) : 1,   // spike index width
    parameter int AA_W  = (NW > 1) ? $clog2(NW) : 1        // current word address width
) (
    input  wire logic                    clk,
    input  wire logic                    rst,

    input  wire logic                    load,
    input  wire logic                    start,
    input  wire logic                    first_step,
    output logic                         busy,
    output logic                         done,
    output logic [31:0]                  cycles,

    input  wire logic [31:0]             s_axis_image_tdata,
    input  wire logic                    s_axis_image_tvalid,
    output logic                         s_axis_image_tready,
    input  wire logic                    s_axis_image_tlast,

    output logic [OUT_W-1:0]             m_axis_spike_tdata,
    output logic                         m_axis_spike_tvalid,
    input  wire logic                    m_axis_spike_tready,
    output logic                         m_axis_spike_tlast,
    output logic                         m_axis_spike_tuser,    // no spike this step

    input  wire logic [AA_W-1:0]         dbg_addr,
    output logic [P*MEM_BITS-1:0]        dbg_membrane,
    output logic [P-1:0]                 dbg_spike,
    output logic [P*ACC_BITS-1:0]        dbg_current
);

    localparam int G     = COUT / P;
    localparam int R     = CIN * K * K;
    localparam int NWROW = R * G;
    localparam int NPIX  = CIN * IH * IW;
    localparam int NIW   = (NPIX + 3) / 4;
    localparam int G_W   = (G > 1) ? $clog2(G) : 1;
    localparam int K_W   = (K > 1) ? $clog2(K) : 1;
    localparam int CI_W  = (CIN > 1) ? $clog2(CIN) : 1;
    localparam int R_W   = (R > 1) ? $clog2(R) : 1;
    localparam int OH_W  = (OH > 1) ? $clog2(OH) : 1;
    localparam int OW_W  = (OW > 1) ? $clog2(OW) : 1;
    localparam int WA_W  = (NWROW > 1) ? $clog2(NWROW) : 1;
    localparam int IA_W  = (NIW > 1) ? $clog2(NIW) : 1;
    localparam int IC_W  = $clog2(NIW + 1);          // load word counter, up to NIW
    localparam int P_W   = (P > 1) ? $clog2(P) : 1;
    localparam int CMP_BITS = (MEM_BITS > 32) ? MEM_BITS : 32;
    localparam logic signed [CMP_BITS-1:0] THR = CMP_BITS'(THRESHOLD);
    localparam logic [G_W-1:0]  LAST_G  = G_W'(G - 1);
    localparam logic [K_W-1:0]  LAST_K  = K_W'(K - 1);
    localparam logic [R_W-1:0]  LAST_R  = R_W'(R - 1);
    localparam logic [OW_W-1:0] LAST_OW = OW_W'(OW - 1);
    localparam logic [AA_W-1:0] LAST_W  = AA_W'(NW - 1);
    localparam logic [IC_W-1:0] NIW_C   = IC_W'(NIW);

    if (P < 1 || COUT % P != 0) begin : g_bad_lanes
        $error("fsvae_conv_image: COUT (%0d) must be a multiple of P (%0d)", COUT, P);
    end
    if (OH < 1 || OW < 1) begin : g_bad_shape
        $error("fsvae_conv_image: empty output (%0d x %0d)", OH, OW);
    end

    localparam logic [1:0] S_IDLE = 2'd0, S_LOAD = 2'd1, S_CONV = 2'd2, S_UPD = 2'd3;
    logic [1:0]  state;
    logic        first_q;
    logic [31:0] cycles_cnt;

    // ------------------------------------------------------------------ memories
    logic [31:0]           img_mem [NIW];
    logic [P*W_BITS-1:0]   w_mem   [NWROW];
    logic [P*B_BITS-1:0]   b_mem   [G];
    logic [P*ACC_BITS-1:0] cur_mem [NW];
    logic [P*MEM_BITS-1:0] u_mem   [NW];
    logic [P-1:0]          s_mem   [NW];

    initial begin
        $readmemh(WEIGHT_FILE, w_mem);
        $readmemh(BIAS_FILE, b_mem);
    end

    // ------------------------------------------------------------------ load
    logic [IC_W-1:0] ld_cnt;       // words received
    logic            img_hs;

    assign s_axis_image_tready = (state == S_LOAD);
    assign img_hs = s_axis_image_tvalid && s_axis_image_tready;

    always_ff @(posedge clk) begin
        if (img_hs && ld_cnt < NIW_C) begin
            img_mem[IA_W'(ld_cnt)] <= s_axis_image_tdata;
        end
    end

    // ------------------------------------------------------------------ currents: stage A
    logic             mi_active;    // iterations left to issue
    logic [OH_W-1:0]  m_oh;
    logic [OW_W-1:0]  m_ow;
    logic [G_W-1:0]   m_g;
    logic [CI_W-1:0]  m_ci;
    logic [K_W-1:0]   m_kh, m_kw;
    logic [R_W-1:0]   m_r;          // weight row (ci*K + kh)*K + kw
    logic [AA_W-1:0]  m_cw;         // current word pos*G + g
    int               m_ih, m_iw, m_pix;
    logic             m_inside, m_issue;

    always_comb begin
        m_ih     = int'(m_oh) * S - PAD + int'(m_kh);
        m_iw     = int'(m_ow) * S - PAD + int'(m_kw);
        m_inside = (m_ih >= 0) && (m_ih < IH) && (m_iw >= 0) && (m_iw < IW);
        m_pix    = (int'(m_ci) * IH + m_ih) * IW + m_iw;
    end

    assign m_issue = (state == S_CONV) && mi_active;

    // stage B (RAM outputs) and C (write) registers
    logic                  m1_v, m1_first, m1_last, m1_final, m1_inside;
    logic [1:0]            m1_byte;
    logic [AA_W-1:0]       m1_cw;
    logic                  m2_v, m2_last, m2_final;
    logic [AA_W-1:0]       m2_cw;
    logic [31:0]           img_q;
    logic [P*W_BITS-1:0]   mw_q;
    logic [P*B_BITS-1:0]   mb_q;
    logic [P*ACC_BITS-1:0] sum_q;
    logic signed [7:0]     pix_x;

    always_ff @(posedge clk) begin
        if (m_issue) begin
            img_q <= img_mem[IA_W'(m_pix >>> 2)];
            mw_q  <= w_mem[WA_W'(int'(m_r) * G + int'(m_g))];
            mb_q  <= b_mem[m_g];
        end
    end

    always_ff @(posedge clk) begin
        if (m2_v && m2_last) begin
            cur_mem[m2_cw] <= sum_q;
        end
    end

    assign pix_x = m1_inside ? img_q[8 * m1_byte +: 8] : '0;

    for (genvar p = 0; p < P; p++) begin : g_mac
        logic signed [W_BITS-1:0]   w;
        logic signed [W_BITS+7:0]   prod;
        logic signed [ACC_BITS-1:0] prev, b_ext;
        // Bits above ACC_BITS of a wider bias are not needed (modular sum).
        /* verilator lint_off UNUSEDSIGNAL */
        logic signed [B_BITS-1:0]   b;
        /* verilator lint_on UNUSEDSIGNAL */

        assign w     = mw_q[p*W_BITS +: W_BITS];
        assign b     = mb_q[p*B_BITS +: B_BITS];
        assign b_ext = ACC_BITS'(b);
        assign prod  = w * pix_x;
        assign prev  = m1_first ? b_ext : sum_q[p*ACC_BITS +: ACC_BITS];

        always_ff @(posedge clk) begin
            if (m1_v) begin
                sum_q[p*ACC_BITS +: ACC_BITS] <= prev + ACC_BITS'(prod);
            end
        end
    end

    // ------------------------------------------------------------------ step: update
    logic             ua_active;   // words left to issue
    logic [AA_W-1:0]  ua_a;        // word pos*G + g
    logic [OUT_W-1:0] ua_base;     // its first neuron index, ua_a * P
    logic             updb_v;
    logic [AA_W-1:0]  updb_a;
    logic [OUT_W-1:0] updb_base;
    logic             upd_issue, upd_adv, upd_all_done, out_ready, step_end;

    assign upd_all_done = (state == S_UPD) && !ua_active && !updb_v;
    assign upd_issue    = (state == S_UPD) && ua_active && (!updb_v || upd_adv);
    assign upd_adv      = updb_v && out_ready;

    logic                  st_re;
    logic [AA_W-1:0]       st_ra;
    logic [P*ACC_BITS-1:0] cur_q;
    logic [P*MEM_BITS-1:0] u_q, u_new;
    logic [P-1:0]          s_q, s_new;

    // One read port per RAM, shared by the update and (while idle) the debug port; held
    // while the update is stalled.
    assign st_re = upd_issue || (state == S_IDLE);
    assign st_ra = upd_issue ? ua_a : dbg_addr;

    always_ff @(posedge clk) begin
        if (upd_adv) begin
            u_mem[updb_a] <= u_new;
            s_mem[updb_a] <= s_new;
        end
        if (st_re) begin
            u_q   <= u_mem[st_ra];
            s_q   <= s_mem[st_ra];
            cur_q <= cur_mem[st_ra];
        end
    end

    assign dbg_membrane = u_q;
    assign dbg_spike    = s_q;
    assign dbg_current  = cur_q;

    for (genvar p = 0; p < P; p++) begin : g_lif
        logic signed [MEM_BITS-1:0] u_old, shifted, leaked, u;
        assign u_old = u_q[p*MEM_BITS +: MEM_BITS];
        // The shift has its own signal: inside ?: next to an unsigned '0 it would be
        // evaluated unsigned, i.e. as a logical shift.
        assign shifted = u_old >>> 2;
        // Hard reset: a neuron that spiked restarts from its current alone.
        assign leaked = (first_q || s_q[p]) ? '0 : shifted;
        assign u      = leaked + MEM_BITS'($signed(cur_q[p*ACC_BITS +: ACC_BITS]));
        assign u_new[p*MEM_BITS +: MEM_BITS] = u;
        assign s_new[p] = CMP_BITS'(u) > THR;
    end

    // ------------------------------------------------------------------ spike emitter
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

    // ------------------------------------------------------------------ control
    assign busy = (state != S_IDLE);

    always_ff @(posedge clk) begin
        done <= 1'b0;

        case (state)
            S_IDLE: begin
                if (load) begin
                    state      <= S_LOAD;
                    ld_cnt     <= '0;
                    cycles_cnt <= 32'd1;
                end else if (start) begin
                    state      <= S_UPD;
                    first_q    <= first_step;
                    ua_active  <= 1'b1;
                    ua_a       <= '0;
                    ua_base    <= '0;
                    cycles_cnt <= 32'd1;
                end
            end
            S_LOAD: begin
                cycles_cnt <= cycles_cnt + 1'b1;
                if (img_hs) begin
                    if (ld_cnt < NIW_C) begin
                        ld_cnt <= ld_cnt + 1'b1;
                    end
                    if (s_axis_image_tlast) begin
                        state     <= S_CONV;
                        mi_active <= 1'b1;
                        m_oh      <= '0;
                        m_ow      <= '0;
                        m_g       <= '0;
                        m_ci      <= '0;
                        m_kh      <= '0;
                        m_kw      <= '0;
                        m_r       <= '0;
                        m_cw      <= '0;
                    end
                end
            end
            S_CONV: begin
                cycles_cnt <= cycles_cnt + 1'b1;
                if (m2_v && m2_final) begin
                    state  <= S_IDLE;
                    done   <= 1'b1;
                    cycles <= cycles_cnt;
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

        // Currents: advance (ci, kh, kw) -> g -> (oh, ow)
        if (m_issue) begin
            if (m_r != LAST_R) begin
                m_r <= m_r + 1'b1;
                if (m_kw != LAST_K) begin
                    m_kw <= m_kw + 1'b1;
                end else begin
                    m_kw <= '0;
                    if (m_kh != LAST_K) begin
                        m_kh <= m_kh + 1'b1;
                    end else begin
                        m_kh <= '0;
                        m_ci <= m_ci + 1'b1;
                    end
                end
            end else begin
                m_r  <= '0;
                m_ci <= '0;
                m_kh <= '0;
                m_kw <= '0;
                m_cw <= m_cw + 1'b1;
                if (m_cw == LAST_W) begin
                    mi_active <= 1'b0;
                end
                if (m_g != LAST_G) begin
                    m_g <= m_g + 1'b1;
                end else begin
                    m_g <= '0;
                    if (m_ow != LAST_OW) begin
                        m_ow <= m_ow + 1'b1;
                    end else begin
                        m_ow <= '0;
                        m_oh <= m_oh + 1'b1;
                    end
                end
            end
        end
        m1_v      <= m_issue;
        m1_first  <= m_r == '0;
        m1_last   <= m_r == LAST_R;
        m1_final  <= (m_r == LAST_R) && (m_cw == LAST_W);
        m1_inside <= m_inside;
        m1_byte   <= 2'(m_pix);
        m1_cw     <= m_cw;
        m2_v      <= m1_v;
        m2_last   <= m1_last;
        m2_final  <= m1_final;
        m2_cw     <= m1_cw;

        // Update stages A and B
        if (upd_issue) begin
            ua_a    <= ua_a + 1'b1;
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

        if (rst) begin
            state     <= S_IDLE;
            done      <= 1'b0;
            cycles    <= '0;
            mi_active <= 1'b0;
            m1_v      <= 1'b0;
            m2_v      <= 1'b0;
            ua_active <= 1'b0;
            updb_v    <= 1'b0;
        end
    end

`ifndef SYNTHESIS
    always_ff @(posedge clk) begin
        if (!rst && img_hs && (s_axis_image_tlast != (ld_cnt == NIW_C - 1'b1))) begin
            $error("fsvae_conv_image: image word %0d with tlast = %0d (an image is %0d words)",
                   ld_cnt, s_axis_image_tlast, NIW);
        end
    end
`endif

endmodule

`default_nettype wire
