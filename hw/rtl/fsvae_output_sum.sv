// Output layer and membrane output by exact algebra: the last spiking layer's spike masks
// in, the image's pixels out; bit-exact with the tail of golden.decode
// (sw/fsvae_fpga/contract/golden.py: the output layer's currents I_t = W * s_t + b, their
// decayed sum m = sum_t coef[t] * I_t, the pixel table).  Everything is an integer, so
//
//   m[oy][ox] = b * sum(coef) + sum_{c, ky, kx} W[c][ky][kx] * Sc[c][oy + PAD - ky][ox + PAD - kx]
//   Sc[c][iy][ix] = sum_t coef[t] * s_t[c][iy][ix]              (unsigned, 0 .. sum(coef))
//   pixel = #{k : thr[k] <= m}  = np.searchsorted(thr, m, side='right')   (0..255)
//
// (a transposed convolution with stride 1 and one output channel, weight W[c][0][ky][kx];
// input positions outside IH x IW contribute nothing).  So the T time steps cost one
// accumulate per neuron and step (a P-bit mask word per cycle) and the taps are applied once
// per image, P multiply-accumulates per cycle, instead of scattering every spike of every
// step to K*K outputs.
//
// Interface
//   s_axis_mask_*: the spikes of CIN x IH x IW neurons, T steps per image, each step EVERY
//     word w = 0 .. NW-1 once (NW = IH*IW*G, G = CIN/P), in any order, tlast on the step's
//     last word: tdata = {w, mask}, mask in bits P-1:0, bit p = neuron (position w / G,
//     channel (w mod G)*P + p), position iy*IW + ix (fsvae_lif_update's m_axis_mask_*).
//     The step is an internal counter: step 0 after reset and after each image, tlast
//     advances it.  Step 0 writes Sc = coef[0]*mask (no clearing pass), later steps add:
//     every word of every step must come.  tready is high while steps are accumulated (one
//     word per cycle) and low from the last word of step T-1 until the image's last pixel
//     word has been sent.
//   m_axis_pix_*: the OH*OW pixels as uint8, raster order, 4 per 32-bit word, pixel 4w + k
//     in bits 8k +: 8 (interface.yaml out_r format), tlast on the last word; done pulses in
//     the cycle after that word's handshake, when busy is already low and tready high again.
//   busy: high from the first accepted word of an image until its last pixel word is taken.
//
// Parameters: BIAS_SUM = b * sum(coef), the bias term of m (SUM_BITS two's complement).
//   SB must hold sum(coef), SUM_BITS the hardware model's output sum_range.  The sums are
//   modulo 2^SUM_BITS, exact because m lies in sum_range; starting from BIAS_SUM, every
//   partial sum over a subset of the taps does too (each tap term lies between
//   min(0, W) * sum(coef) and max(0, W) * sum(coef); hwmodel.py's bound counts every tap),
//   though the adder tree's sums of a few lanes need not, which modular arithmetic allows.
//
// Memory files ($readmemh, one word per line, hex):
//   COEF_FILE:   T lines, coef[t] unsigned COEF_BITS (round(0.8^(T-1-t) * 2^D) for the model)
//   WEIGHT_FILE: K*K*G lines, line (ky*K + kx)*G + g = W[g*P + p][0][ky][kx], p = 0..P-1,
//                W_BITS each, lane 0 in the low bits
//   THRESH_FILE: 255 lines, thresholds non-decreasing, signed THR_BITS two's complement
//
// Microarchitecture
//   Sc RAM: NW words of P*SB bits, one synchronous read port, one write port.
//   Accumulate: a word's Sc is read at the handshake (cycle c), coef[t] added to the lanes
//     whose mask bit is set and written back in cycle c+1, so one word per cycle.  With one
//     word (NW = 1) the next step re-reads the word at the edge that writes it: the read
//     port records that case and takes the written value (read-first and write-first RAMs
//     both work), as in fsvae_lif_linear.
//   Convolution: after the last word of step T-1 (and its write-back), one (pixel, tap,
//     group) per cycle: pixels in raster order, taps ky, kx ascending, groups innermost.
//     Stages: X (input position and RAM addresses from the counters, registered), R (Sc
//     word and weight word read), M (P products W * Sc, zero for a tap outside the input,
//     registered), A1 (the balanced adder tree's first three levels: sums of 8 products,
//     P/8 of them registered), A2 (the rest of the tree plus the running sum, which starts
//     at BIAS_SUM on a pixel's first tap; the pixel's m after its last).  The tree is split
//     for the clock: in one stage, P = 32 took 10 LUT levels (Yosys, xcup), over the 6 that
//     250 MHz on the K26 allows; split, no stage adds more than three adders.
//   Pixels: the 8-stage pipelined binary search (stage j sets bit 7-j of the count when
//     thr[pos + 2^(7-j) - 1] <= m; stage j reads among 2^j table entries only; stage 7's
//     entry, one of 128, is read into a register the cycle before), packed 4 to a word.  The whole pipeline moves only when the output register is free or being taken
//     (adv = !tvalid || tready), so backpressure stalls it without loss; tready reaches the
//     RAM read enables combinationally (add a register slice on the output if that path
//     limits the clock).
//   Cycles per image (no input idle, no backpressure): busy is high for
//     T*NW + OH*OW*K*K*G + 15 cycles: one per word, the last write-back, one per (pixel,
//     tap, group), then X, R, M, A1, A2, 8 search stages and stage 7's table read, and the
//     packer/output register.
//
// Cost: Sc RAM NW x P*SB, weight ROM K*K*G x P*W_BITS (LUTs at WEIGHT_STYLE 3), coefficient
// ROM T x COEF_BITS, P multipliers W_BITS x SB and a P-input adder tree of SUM_BITS (P/8 partial
// sums registered), P
// SB-bit adders for the accumulation, 8 comparators of max(SUM_BITS, THR_BITS) bits with
// their table muxes.
// Synchronous active-high reset (the RAM needs no clearing: step 0 overwrites it).

`default_nettype none

module fsvae_output_sum #(
    parameter int T         = 4,              // time steps
    parameter int CIN       = 8,              // input channels (the last spiking layer's)
    parameter int IH        = 4,              // input height
    parameter int IW        = 4,              // input width
    parameter int K         = 3,              // kernel size
    parameter int S         = 1,              // stride (1 only)
    parameter int PAD       = 1,              // padding
    parameter int OUTPAD    = 0,              // output padding
    parameter int P         = 4,              // lanes: channels per mask word, CIN % P == 0
    parameter int W_BITS    = 8,              // signed weights
    parameter int COEF_BITS = 9,              // unsigned decay coefficients
    parameter int SB        = 11,             // unsigned Sc, holds sum(coef)
    parameter int SUM_BITS  = 24,             // signed m, holds the output's sum_range
    parameter int THR_BITS  = SUM_BITS,       // signed thresholds
    parameter logic [SUM_BITS-1:0] BIAS_SUM = '0,    // b * sum(coef), two's complement
    parameter int WEIGHT_STYLE = 0,           // fsvae_weight_mem STYLE (3: LUT ROM)
    parameter     COEF_FILE   = "coef.hex",
    parameter     WEIGHT_FILE = "weights.hex",
    parameter     THRESH_FILE = "thresh.hex",
    // derived (do not override)
    parameter int OH   = (IH - 1) * S - 2 * PAD + K + OUTPAD,
    parameter int OW   = (IW - 1) * S - 2 * PAD + K + OUTPAD,
    parameter int NW   = IH * IW * (CIN / P),
    parameter int W_W  = (NW > 1) ? $clog2(NW) : 1
) (
    input  wire logic                      clk,
    input  wire logic                      rst,

    input  wire logic [W_W+P-1:0]          s_axis_mask_tdata,      // {w, mask}
    input  wire logic                      s_axis_mask_tvalid,
    output logic                           s_axis_mask_tready,
    input  wire logic                      s_axis_mask_tlast,

    output logic [31:0]                    m_axis_pix_tdata,
    output logic                           m_axis_pix_tvalid,
    input  wire logic                      m_axis_pix_tready,
    output logic                           m_axis_pix_tlast,

    output logic                           busy,
    output logic                           done
);

    localparam int G        = CIN / P;
    localparam int TAPS     = K * K;
    localparam int NWROW    = TAPS * G;                           // weight words
    localparam int NPOS     = OH * OW;
    localparam int NPW      = NPOS / 4;                           // output words
    localparam int T_W      = (T > 1) ? $clog2(T) : 1;
    localparam int G_W      = (G > 1) ? $clog2(G) : 1;
    localparam int K_W      = (K > 1) ? $clog2(K) : 1;
    localparam int WA_W     = (NWROW > 1) ? $clog2(NWROW) : 1;
    localparam int NPW_W    = (NPW > 1) ? $clog2(NPW) : 1;
    localparam int OY_W     = $clog2(OH + 1);
    localparam int OX_W     = $clog2(OW + 1);
    localparam int PROD_BITS = W_BITS + SB + 1;                   // signed W x unsigned Sc
    localparam int CMP_BITS = (SUM_BITS > THR_BITS) ? SUM_BITS : THR_BITS;
    localparam int PP       = 1 << ((P > 1) ? $clog2(P) : 0);     // adder tree leaves
    localparam int GL       = (PP < 8) ? PP : 8;                  // leaves per stage-A1 sum
    localparam int NA       = PP / GL;                            // stage-A1 partial sums
    // a sum of GL products is exact in PROD_BITS + log2(GL) bits; wider than SUM_BITS it is
    // kept modulo 2^SUM_BITS, like every other sum here
    localparam int PS_BITS  = (PROD_BITS + $clog2(GL) < SUM_BITS) ? PROD_BITS + $clog2(GL) : SUM_BITS;
    localparam logic [T_W-1:0]   LAST_T  = T_W'(T - 1);
    localparam logic [G_W-1:0]   LAST_G  = G_W'(G - 1);
    localparam logic [K_W-1:0]   LAST_K  = K_W'(K - 1);
    localparam logic [OY_W-1:0]  LAST_OY = OY_W'(OH - 1);
    localparam logic [OX_W-1:0]  LAST_OX = OX_W'(OW - 1);
    localparam logic [NPW_W-1:0] LAST_PW = NPW_W'(NPW - 1);

    if (S != 1) begin : g_bad_stride
        $error("fsvae_output_sum: stride %0d; only stride 1 is implemented", S);
    end
    if (T < 1 || P < 1 || CIN % P != 0) begin : g_bad_lanes
        $error("fsvae_output_sum: CIN (%0d) must be a multiple of P (%0d)", CIN, P);
    end
    if (OH < 1 || OW < 1 || NPOS % 4 != 0) begin : g_bad_shape
        $error("fsvae_output_sum: output %0d x %0d must be non-empty with a multiple of 4 pixels", OH, OW);
    end

    // ------------------------------------------------------------------ memories
    logic [COEF_BITS-1:0]       coef_mem [T];
    logic signed [THR_BITS-1:0] thr_mem  [255];
    logic [P*SB-1:0]            s_mem    [NW];

    initial begin
        $readmemh(COEF_FILE, coef_mem);
        $readmemh(THRESH_FILE, thr_mem);
    end
    fsvae_file_check #(.FILE(COEF_FILE)) u_coef_file_check ();
    fsvae_file_check #(.FILE(THRESH_FILE)) u_thresh_file_check ();

    localparam logic [1:0] S_ACC = 2'd0, S_WAIT = 2'd1, S_CONV = 2'd2;
    logic [1:0]     state;
    logic [T_W-1:0] step;
    logic           adv;                       // the convolution and pixel pipeline moves

    // ------------------------------------------------------------------ accumulate
    logic            in_hs;
    logic            acc_v, acc_first;          // stage 2 (write-back) of a word
    logic [W_W-1:0]  in_w, acc_w;
    logic [P-1:0]    in_mask, acc_mask;
    logic [COEF_BITS-1:0] acc_coef;
    logic [P*SB-1:0] acc_sum;

    assign {in_w, in_mask}    = s_axis_mask_tdata;
    assign s_axis_mask_tready = (state == S_ACC);
    assign in_hs              = s_axis_mask_tvalid && s_axis_mask_tready;

    // RAM read port: the accumulator's read at the handshake, the convolution's in S_CONV;
    // the two never overlap (S_WAIT separates them).
    logic            rd_en, fwd_q;
    logic [W_W-1:0]  rd_addr, x_addr;
    logic [P*SB-1:0] rd_q, wr_q, rd_data;

    assign rd_en   = (state == S_CONV) ? adv : in_hs;
    assign rd_addr = (state == S_CONV) ? x_addr : in_w;

    always_ff @(posedge clk) begin
        if (rd_en) begin
            rd_q  <= s_mem[rd_addr];
            fwd_q <= acc_v && acc_w == rd_addr;
            wr_q  <= acc_sum;
        end
        if (acc_v) s_mem[acc_w] <= acc_sum;
    end
    assign rd_data = fwd_q ? wr_q : rd_q;

    always_comb begin
        for (int p = 0; p < P; p++) begin
            logic [SB-1:0] prev, add;
            prev = acc_first ? '0 : rd_data[p*SB +: SB];
            add  = acc_mask[p] ? SB'(acc_coef) : '0;
            acc_sum[p*SB +: SB] = prev + add;
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            acc_v <= 1'b0;
        end else begin
            acc_v <= in_hs;
        end
        if (in_hs) begin
            acc_w     <= in_w;
            acc_mask  <= in_mask;
            acc_coef  <= coef_mem[step];
            acc_first <= (step == '0);
        end
    end

    // ------------------------------------------------------------------ convolution
    // issue counters: pixel (oy, ox), tap (ky, kx), group g
    logic            iss_active;
    logic [OY_W-1:0] oy;
    logic [OX_W-1:0] ox;
    logic [K_W-1:0]  ky, kx;
    logic [G_W-1:0]  g;
    logic            iss_first, iss_last, iss_in;
    int              iy, ix;
    logic [W_W-1:0]  iss_addr;

    always_comb begin
        iy        = int'(oy) + PAD - int'(ky);
        ix        = int'(ox) + PAD - int'(kx);
        iss_in    = (iy >= 0) && (iy < IH) && (ix >= 0) && (ix < IW);
        iss_addr  = iss_in ? W_W'((iy * IW + ix) * G + int'(g)) : '0;
        iss_first = (ky == '0) && (kx == '0) && (g == '0);
        iss_last  = (ky == LAST_K) && (kx == LAST_K) && (g == LAST_G);
    end

    // stage X: addresses registered
    logic            x_v, x_in, x_first, x_last;
    logic [WA_W-1:0] x_waddr;
    // stage R: the RAM and weight ROM outputs
    logic            r_v, r_in, r_first, r_last;
    logic [P*W_BITS-1:0] w_q;
    // stage M: products
    logic            m_v, m_first, m_last;
    logic signed [PROD_BITS-1:0] m_prod [P];
    // stage A1: partial sums of GL products
    logic            a1_v, a1_first, a1_last;
    logic signed [PS_BITS-1:0] a1_ps [NA], ps_next [NA];
    // stage A2: running sum, the pixel's m
    logic signed [SUM_BITS-1:0] a_sum, tree_sum, a_next;
    logic            px_v;
    logic signed [SUM_BITS-1:0] px_m;

    fsvae_weight_mem #(.DEPTH(NWROW), .WIDTH(P * W_BITS), .INIT_FILE(WEIGHT_FILE), .LOADABLE(0),
                       .STYLE(WEIGHT_STYLE)) u_weights (
        .clk, .rd_en(adv), .rd_addr(x_waddr), .rd_data(w_q),
        .wr_en(1'b0), .wr_addr('0), .wr_data('0)
    );

    // The P-leaf balanced tree in two stages, at most three adder levels each (P = 32:
    // 32 -> 4 in A1, 4 -> 1 plus the running sum in A2).
    always_comb begin
        for (int n = 0; n < NA; n++) begin
            logic signed [PS_BITS-1:0] node [2*GL-1];     // a balanced tree, leaves GL-1 ..
            for (int i = 0; i < GL; i++) begin
                node[GL - 1 + i] = (n * GL + i < P) ? PS_BITS'(m_prod[n * GL + i]) : '0;
            end
            for (int i = GL - 2; i >= 0; i--) begin
                node[i] = node[2 * i + 1] + node[2 * i + 2];
            end
            ps_next[n] = node[0];
        end
    end

    always_comb begin
        logic signed [SUM_BITS-1:0] node [2*NA-1];        // a balanced tree, leaves NA-1 ..
        for (int i = 0; i < NA; i++) begin
            node[NA - 1 + i] = SUM_BITS'(a1_ps[i]);
        end
        for (int i = NA - 2; i >= 0; i--) begin
            node[i] = node[2 * i + 1] + node[2 * i + 2];
        end
        tree_sum = node[0];
        a_next   = (a1_first ? signed'(BIAS_SUM) : a_sum) + tree_sum;
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            x_v  <= 1'b0;
            r_v  <= 1'b0;
            m_v  <= 1'b0;
            a1_v <= 1'b0;
            a1_first <= 1'b0;                      // reset: kept out of a shift-register LUT,
            a1_last  <= 1'b0;                      // whose read would add a level before A2
            px_v <= 1'b0;
        end else if (adv) begin
            x_v  <= (state == S_CONV) && iss_active;
            r_v  <= x_v;
            m_v  <= r_v;
            a1_v <= m_v;
            a1_first <= m_first;
            a1_last  <= m_last;
            px_v <= a1_v && a1_last;
        end
        if (adv) begin
            x_addr  <= iss_addr;
            x_waddr <= WA_W'((int'(ky) * K + int'(kx)) * G + int'(g));
            x_in    <= iss_in;
            x_first <= iss_first;
            x_last  <= iss_last;
            r_in    <= x_in;
            r_first <= x_first;
            r_last  <= x_last;
            m_first <= r_first;
            m_last  <= r_last;
            for (int p = 0; p < P; p++) begin
                m_prod[p] <= r_in ? PROD_BITS'(signed'(w_q[p*W_BITS +: W_BITS]))
                                    * PROD_BITS'(signed'({1'b0, rd_data[p*SB +: SB]})) : '0;
            end
            a1_ps   <= ps_next;
            if (a1_v) begin
                a_sum <= a_next;
                px_m  <= a_next;
            end
        end
    end

    // ------------------------------------------------------------------ pixel search
    logic            s_v   [8];
    logic signed [CMP_BITS-1:0] s_m [8];
    logic [7:0]      s_pos [8];
    logic            st_v   [8];
    logic signed [CMP_BITS-1:0] st_m [8], st_thr [8];
    logic [7:0]      st_pos [8];
    // the last stage's table entry (one of 128) is read a cycle ahead of its comparison,
    // into lk_*: read and compared in one cycle they took 6 LUT levels and a carry (Yosys, xcup)
    logic            lk_v;
    logic signed [CMP_BITS-1:0] lk_m, lk_thr;
    logic [7:0]      lk_pos;
    always_comb begin
        st_v[0]   = px_v;
        st_m[0]   = CMP_BITS'(px_m);
        st_pos[0] = 8'd0;
        for (int j = 1; j < 7; j++) begin
            st_v[j]   = s_v[j-1];
            st_m[j]   = s_m[j-1];
            st_pos[j] = s_pos[j-1];
        end
        st_v[7]   = lk_v;
        st_m[7]   = lk_m;
        st_pos[7] = lk_pos;
        for (int j = 0; j < 7; j++) begin
            st_thr[j] = CMP_BITS'(thr_mem[(st_pos[j] | (8'd1 << (7 - j))) - 8'd1]);
        end
        st_thr[7] = lk_thr;
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            for (int j = 0; j < 8; j++) s_v[j] <= 1'b0;
            lk_v <= 1'b0;
        end else if (adv) begin
            for (int j = 0; j < 8; j++) s_v[j] <= st_v[j];
            lk_v <= s_v[6];
        end
        if (adv) begin
            for (int j = 0; j < 8; j++) begin
                logic [7:0] probe;
                probe = st_pos[j] | (8'd1 << (7 - j));
                s_m[j]   <= st_m[j];
                s_pos[j] <= (st_thr[j] <= st_m[j]) ? probe : st_pos[j];
            end
            lk_m   <= s_m[6];
            lk_pos <= s_pos[6];
            lk_thr <= CMP_BITS'(thr_mem[(s_pos[6] | 8'd1) - 8'd1]);
        end
    end

    // ------------------------------------------------------------------ control, packer
    logic [1:0]       pk_n;                      // pixels in the packer
    logic [23:0]      pk_data;
    logic [NPW_W-1:0] out_w;                     // words sent
    logic             out_hs;

    assign adv    = !m_axis_pix_tvalid || m_axis_pix_tready;
    assign out_hs = m_axis_pix_tvalid && m_axis_pix_tready;

    always_ff @(posedge clk) begin
        if (rst) begin
            state             <= S_ACC;
            step              <= '0;
            busy              <= 1'b0;
            done              <= 1'b0;
            iss_active        <= 1'b0;
            oy                <= '0;
            ox                <= '0;
            ky                <= '0;
            kx                <= '0;
            g                 <= '0;
            pk_n              <= '0;
            out_w             <= '0;
            m_axis_pix_tvalid <= 1'b0;
            m_axis_pix_tlast  <= 1'b0;
        end else begin
            done <= 1'b0;
            case (state)
                S_ACC: if (in_hs) begin
                    busy <= 1'b1;
                    if (s_axis_mask_tlast) begin
                        step <= (step == LAST_T) ? '0 : step + 1'b1;
                        if (step == LAST_T) state <= S_WAIT;
                    end
                end
                S_WAIT: begin                          // the last word's write-back
                    state      <= S_CONV;
                    iss_active <= 1'b1;
                end
                default: begin                         // S_CONV
                    if (adv && iss_active) begin
                        g <= (g == LAST_G) ? '0 : g + 1'b1;
                        if (g == LAST_G) begin
                            kx <= (kx == LAST_K) ? '0 : kx + 1'b1;
                            if (kx == LAST_K) begin
                                ky <= (ky == LAST_K) ? '0 : ky + 1'b1;
                                if (ky == LAST_K) begin
                                    ox <= (ox == LAST_OX) ? '0 : ox + 1'b1;
                                    if (ox == LAST_OX) begin
                                        oy <= (oy == LAST_OY) ? '0 : oy + 1'b1;
                                        if (oy == LAST_OY) iss_active <= 1'b0;
                                    end
                                end
                            end
                        end
                    end
                    if (out_hs && m_axis_pix_tlast) begin
                        state <= S_ACC;
                        busy  <= 1'b0;
                        done  <= 1'b1;
                        out_w <= '0;
                    end
                end
            endcase

            if (adv) begin
                if (s_v[7]) begin
                    pk_data <= {s_pos[7], pk_data[23:8]};
                    pk_n    <= pk_n + 1'b1;
                end
                m_axis_pix_tvalid <= s_v[7] && pk_n == 2'd3;
                if (s_v[7] && pk_n == 2'd3) begin
                    m_axis_pix_tdata <= {s_pos[7], pk_data};
                    m_axis_pix_tlast <= (out_w == LAST_PW);
                    out_w            <= out_w + 1'b1;
                end
            end
        end
    end

endmodule

`default_nettype wire
