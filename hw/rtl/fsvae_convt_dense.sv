// Dense transposed-convolution current engine: a layer's input spike masks in, the step's
// synaptic currents out, computed row by row by an array of OW x COUT accumulators (one per
// output column and channel), not by scattering events.  The sibling of fsvae_convt_current
// (same currents, same output stream, bit-exact with golden.conv_transpose2d) for the dense
// late decoder layers: at spike rates of 40-50 % the event scatter reads and writes a
// current word per (event, tap), and its copies each hold all currents; here a weight word
// is read once per (input channel, kernel row) and added, gated by the input spikes, into
// every output column of a row at once, and the currents live in the accumulators.
//
//   I[oh][ow][c] = bias[c] + sum_{ci, kh, kw: oh = ih*S - PAD + kh, ow = iw*S - PAD + kw,
//                  (ih, iw) inside IH x IW} W[ci][c][kh][kw] * s[ci][ih][iw]
//   OH = (IH - 1)*S - 2*PAD + K + OUTPAD, OW likewise; G = COUT / P.
//
// Interface
//   start: sampled only while busy is low.  busy is high from the cycle after start until
//     the step's final current beat is accepted; done pulses in the next cycle, with busy
//     already low (fsvae_convt_current's protocol: the same step sequencer drives both).
//   s_axis_mask_*: the step's input spikes as the previous layer's fsvae_lif_update
//     (MASKS = 1) sends them: every word of the step, ascending, word w = (ih*IW + iw)*GIN + gi
//     (GIN = CIN / PIN), tdata = {w, mask} with mask bit p = spike of channel gi*PIN + p,
//     tlast on word NWIN - 1.  The word index is not decoded: the engine counts the words
//     (and checks the index in simulation).  Beats are accepted only after start.
//   m_axis_cur_*: the step's currents as fsvae_convt_current sends them: beat pos*G + g =
//     I[pos][g*P + p] in lane p (ACC_BITS each, two's complement, lane 0 low), tlast on
//     beat OH*OW*G - 1.
//
// Memory files ($readmemh, one word per line, two's complement, lowest field in the low bits):
//   WEIGHT_FILE: CIN*K lines, line ci*K + kh holds W[ci][c][kh][kw] at field c*K + kw
//                (COUT*K fields of W_BITS: torch (CIN, COUT, K, K) -> w.transpose(0, 2, 1, 3)
//                .reshape(CIN*K, COUT*K))
//   BIAS_FILE:   G lines, line g = bias[g*P + p], p = 0..P-1, B_BITS each (as fsvae_convt_current)
//
// Widths: ACC_BITS must hold the layer's current_range; the sums are modular (any order of
// the adds gives the same ACC_BITS bits) and the range makes them exact.
//
// Microarchitecture
//   collect: one mask word per cycle into the spike bitmap: IW memories (one per input
//     column iw), GIN*IH words of PIN bits, word gi*IH + ih (LUT RAM, asynchronous read).
//   compute: each output row oh in XT column tiles of X = OW/XT columns (X a multiple of S
//     when XT > 1, so that every tile has the same kernel columns per accumulator); for each
//     tile, for each kernel row kh that reaches oh (kh with oh + PAD - kh = ih*S,
//     0 <= ih < IH: the elaboration-time tables below), for each input channel ci: one
//     iteration (one cycle).  It reads weight word ci*K + kh (block-RAM ROM, registered) and
//     the tile's window of input row ih of channel ci (bit ci mod PIN of every column
//     memory's word (ci / PIN)*IH + ih; NWD columns from t*X/S + WLO, 0 outside the input;
//     registered), and accumulator (x, c) adds W[ci][c][kh][kw] for each kw with
//     x + PAD - kw a multiple of S whose input column iw = t*X/S + floor((x + PAD - kw)/S)
//     spikes (at most ceil(K/S) terms, fixed per accumulator).  The tile's first iteration
//     starts from the bias.  A row no kernel row reaches costs one iteration (bias alone)
//     per tile.
//   drain: a tile's last iteration also loads its sums into OW/XT*G drain words (by clock
//     enable), which leave one a beat (word i: accumulators i*P .. i*P + P - 1, read by
//     index) while the next tile accumulates.  The last iteration of a tile is issued only
//     when the drain is empty and no other load is in flight: a tile shorter than its
//     drain waits.
//
// Cycles per step (start to done, no input idle and no output backpressure):
//     NWIN (collect) + sum over (row, tile) of max(1, NKH(oh))*CIN (+ a wait wherever a
//     tile's last iteration finds the drain busy) + 1 (the pipeline) + OW/XT*G (the last
//     tile's drain);
//   the bench's cycle model (sim/fsvae_convt_dense) counts it exactly, as does
//   latency.dense_step_cycles, which the balance plan uses; `cycles` reports the count of
//   the last completed step.
//
// Cost: OW/XT*COUT accumulators (ACC_BITS flip-flops, an adder of at most ceil(K/S) gated
// weights each) and as many drain registers, a P*ACC_BITS-wide OW/XT*G:1 read multiplexer;
// weight ROM CIN*K x COUT*K*W_BITS (block RAM); spike bitmap CIN*IH*IW bits (LUT RAM);
// bias constants.  XT trades accumulators for cycles: the balance plan chooses it.
// Synchronous active-high reset (nothing needs clearing: every step writes the whole bitmap
// and every row starts from the bias).

`default_nettype none

module fsvae_convt_dense #(
    parameter int CIN       = 4,               // input channels
    parameter int COUT      = 4,               // output channels
    parameter int IH        = 4,               // input height
    parameter int IW        = 4,               // input width
    parameter int K         = 3,               // kernel size
    parameter int S         = 2,               // stride
    parameter int PAD       = 1,               // padding
    parameter int OUTPAD    = 1,               // output padding
    parameter int P         = 4,               // output lanes, COUT % P == 0
    parameter int PIN       = 4,               // input mask lanes, CIN % PIN == 0
    parameter int XT        = 1,               // column tiles a row (OW/XT accumulator columns)
    parameter int W_BITS    = 8,               // signed weights
    parameter int B_BITS    = 32,              // signed biases
    parameter int ACC_BITS  = 24,              // signed, holds current_range
    parameter     WEIGHT_FILE = "weights.hex",
    parameter     BIAS_FILE   = "bias.hex",
    // derived (do not override)
    parameter int OH    = (IH - 1) * S - 2 * PAD + K + OUTPAD,
    parameter int OW    = (IW - 1) * S - 2 * PAD + K + OUTPAD,
    parameter int NWIN  = IH * IW * (CIN / PIN),                 // mask words per step
    parameter int MI_W  = (NWIN > 1) ? $clog2(NWIN) : 1          // mask word index width
) (
    input  wire logic                    clk,
    input  wire logic                    rst,

    input  wire logic                    start,
    output logic                         busy,
    output logic                         done,
    output logic [31:0]                  cycles,

    input  wire logic [MI_W+PIN-1:0]     s_axis_mask_tdata,      // {w, mask}
    input  wire logic                    s_axis_mask_tvalid,
    output logic                         s_axis_mask_tready,
    input  wire logic                    s_axis_mask_tlast,

    output logic [P*ACC_BITS-1:0]        m_axis_cur_tdata,
    output logic                         m_axis_cur_tvalid,
    input  wire logic                    m_axis_cur_tready,
    output logic                         m_axis_cur_tlast
);

    localparam int G     = COUT / P;
    localparam int GIN   = CIN / PIN;
    localparam int X     = OW / XT;                       // output columns a tile
    localparam int NKM   = (K + S - 1) / S;               // kernel rows reaching one output row at most
    localparam int NPE   = X * COUT;                      // accumulators
    localparam int NDR   = X * G;                         // drain words a tile
    localparam int BROWS = GIN * IH;                      // bitmap rows per column memory
    // the input columns a tile reads: ix = t*X/S + floor((x + PAD - kw)/S), x < X, kw < K,
    // a window of NWD columns from t*X/S + WLO (outside the input: 0)
    localparam int VOFF  = S * K;                         // makes x + PAD - kw + VOFF >= 0
    localparam int WLO   = (PAD - (K - 1) + VOFF) / S - K;
    localparam int WHI   = (X - 1 + PAD + VOFF) / S - K;
    localparam int NWD   = WHI - WLO + 1;
    localparam int CI_W  = (CIN > 1) ? $clog2(CIN) : 1;
    localparam int CK_W  = (CIN * K > 1) ? $clog2(CIN * K) : 1;
    localparam int PI_W  = (PIN > 1) ? $clog2(PIN) : 1;
    localparam int GI_W  = (GIN > 1) ? $clog2(GIN) : 1;
    localparam int BR_W  = (BROWS > 1) ? $clog2(BROWS) : 1;
    localparam int OH_W  = (OH > 1) ? $clog2(OH) : 1;
    localparam int IH_W  = (IH > 1) ? $clog2(IH) : 1;
    localparam int IW_W  = (IW > 1) ? $clog2(IW) : 1;
    localparam int K_W   = (K > 1) ? $clog2(K) : 1;
    localparam int J_W   = (NKM > 1) ? $clog2(NKM) : 1;
    localparam int T_W   = (XT > 1) ? $clog2(XT) : 1;
    localparam int DR_W  = $clog2(NDR + 1);
    localparam int DI_W  = (NDR > 1) ? $clog2(NDR) : 1;
    localparam int WW    = COUT * K * W_BITS;             // weight ROM word

    if (P < 1 || COUT % P != 0) begin : g_bad_lanes
        $error("fsvae_convt_dense: COUT (%0d) must be a multiple of P (%0d)", COUT, P);
    end
    if (PIN < 1 || CIN % PIN != 0) begin : g_bad_in_lanes
        $error("fsvae_convt_dense: CIN (%0d) must be a multiple of PIN (%0d)", CIN, PIN);
    end
    if (OH < 1 || OW < 1) begin : g_bad_shape
        $error("fsvae_convt_dense: empty output (%0d x %0d)", OH, OW);
    end
    if (XT < 1 || OW % XT != 0 || (XT > 1 && X % S != 0)) begin : g_bad_tiles
        $error("fsvae_convt_dense: XT (%0d) must divide OW (%0d) into tiles of a multiple of S (%0d) columns",
               XT, OW, S);
    end

    // ------------------------------------------------------------------ geometry (elaboration)
    // Output row oh is reached by kernel row kh when oh + PAD - kh = ih*S with 0 <= ih < IH.
    function automatic bit reaches(int o, int k, int n_in);
        int v;
        v = o + PAD - k;
        reaches = v >= 0 && v % S == 0 && v / S < n_in;
    endfunction
    function automatic int n_reach(int o, int n_in);
        n_reach = 0;
        for (int k = 0; k < K; k++) if (reaches(o, k, n_in)) n_reach++;
    endfunction
    function automatic int kth_reach(int o, int j, int n_in);    // the j-th such k, ascending
        int c;
        c = 0;
        kth_reach = 0;
        for (int k = 0; k < K; k++) begin
            if (reaches(o, k, n_in)) begin
                if (c == j) kth_reach = k;
                c++;
            end
        end
    endfunction

    logic [J_W-1:0]  row_jlast [OH];             // iterations' kernel rows - 1 (0 for none)
    logic            row_none  [OH];             // no kernel row reaches oh: bias only
    logic [K_W-1:0]  row_kh    [OH][NKM];
    logic [IH_W-1:0] row_ih    [OH][NKM];
    for (genvar o = 0; o < OH; o++) begin : g_rows
        localparam int N = n_reach(o, IH);
        assign row_jlast[o] = J_W'((N > 0) ? N - 1 : 0);
        assign row_none[o]  = N == 0;
        for (genvar j = 0; j < NKM; j++) begin : g_j
            localparam int KH = kth_reach(o, j, IH);
            assign row_ih[o][j] = IH_W'((j < N) ? (o + PAD - KH) / S : 0);
            assign row_kh[o][j] = K_W'(KH);
        end
    end

    // ------------------------------------------------------------------ step control
    localparam logic [1:0] S_IDLE = 2'd0, S_COLLECT = 2'd1, S_COMPUTE = 2'd2, S_DRAIN = 2'd3;
    logic [1:0]  phase;
    logic [31:0] cyc;
    logic        final_hs;                       // the step's last current beat leaves

    assign busy = phase != S_IDLE;

    // ------------------------------------------------------------------ collect: the bitmap
    logic [GI_W-1:0] in_g;                       // the next mask word's channel group, column, row
    logic [IW_W-1:0] in_iw;
    logic [IH_W-1:0] in_ih;
    logic [BR_W-1:0] in_row;                     // in_g*IH + in_ih
    logic            mask_hs;
    assign s_axis_mask_tready = phase == S_COLLECT;
    assign mask_hs = s_axis_mask_tvalid && s_axis_mask_tready;

    always_ff @(posedge clk) begin
        if (mask_hs) begin
            if (in_g != GI_W'(GIN - 1)) begin
                in_g   <= in_g + 1'b1;
                in_row <= in_row + BR_W'(IH);
            end else begin
                in_g <= '0;
                if (in_iw != IW_W'(IW - 1)) begin
                    in_iw  <= in_iw + 1'b1;
                    in_row <= BR_W'(in_ih);
                end else begin
                    in_iw  <= '0;
                    in_ih  <= in_ih + 1'b1;
                    in_row <= BR_W'(in_ih) + 1'b1;
                end
            end
        end
        if (rst || (mask_hs && s_axis_mask_tlast)) begin
            in_g   <= '0;
            in_iw  <= '0;
            in_ih  <= '0;
            in_row <= '0;
        end
    end

    // one memory per input column iw: row gi*IH + ih holds the mask word of (ih, iw, gi)
    logic [CI_W-1:0] ci;                         // compute: the iteration's input channel
    logic [PI_W-1:0] ci_p;                       // ci mod PIN
    logic [BR_W-1:0] ci_row0;                    // (ci / PIN)*IH
    logic [BR_W-1:0] rd_row;
    logic [IW-1:0]   in_row_bits;                // s[ci][ih][*] of the iteration
    for (genvar c = 0; c < IW; c++) begin : g_bitmap
        logic [PIN-1:0] words [BROWS];
        always_ff @(posedge clk) begin
            if (mask_hs && in_iw == IW_W'(c)) begin
                words[in_row] <= s_axis_mask_tdata[PIN-1:0];
            end
        end
        assign in_row_bits[c] = words[rd_row][ci_p];
    end

    // ------------------------------------------------------------------ compute: iterations
    logic [OH_W-1:0] oy;
    logic [T_W-1:0]  tt;                          // column tile
    logic [J_W-1:0]  jj;                          // kernel row index within the row's list
    logic [CK_W-1:0] ci_k;                        // ci*K
    logic            it_first, it_last, it_final, issue;
    logic            v1, first1, last1, final1;  // stage 1: the iteration's ROM word and input window
    logic            xfer_ok;
    logic [DR_W-1:0] dr_left;                    // drain words left
    logic            dr_final;                   // the drain holds the step's last tile

    // (ci / PIN)*IH + ih: with IH a power of two the two parts' bits do not overlap and the
    // sum is an OR (no carry on the bitmap's read path, which set the KV260 design's depth)
    assign rd_row   = ((IH & (IH - 1)) == 0) ? (ci_row0 | BR_W'(row_ih[oy][jj])) : (ci_row0 + BR_W'(row_ih[oy][jj]));
    assign it_first = jj == '0 && ci == '0;
    assign it_last  = row_none[oy] || (jj == row_jlast[oy] && ci == CI_W'(CIN - 1));
    assign it_final = it_last && oy == OH_W'(OH - 1) && tt == T_W'(XT - 1);
    // a tile's last iteration loads the drain one cycle after its issue: it must be empty
    assign xfer_ok  = dr_left == '0 && !(v1 && last1);
    assign issue    = phase == S_COMPUTE && (!it_last || xfer_ok);

    always_ff @(posedge clk) begin
        if (issue) begin
            if (it_last || ci == CI_W'(CIN - 1)) begin
                ci      <= '0;
                ci_p    <= '0;
                ci_k    <= '0;
                ci_row0 <= '0;
            end else begin
                ci   <= ci + 1'b1;
                ci_k <= ci_k + CK_W'(K);
                if (ci_p == PI_W'(PIN - 1)) begin
                    ci_p    <= '0;
                    ci_row0 <= ci_row0 + BR_W'(IH);
                end else begin
                    ci_p <= ci_p + 1'b1;
                end
            end
            if (it_last) begin
                jj <= '0;
                if (tt == T_W'(XT - 1)) begin
                    tt <= '0;
                    oy <= oy + 1'b1;
                end else begin
                    tt <= tt + 1'b1;
                end
            end else if (ci == CI_W'(CIN - 1)) begin
                jj <= jj + 1'b1;
            end
        end
        if (rst || phase == S_COLLECT) begin
            oy      <= '0;
            tt      <= '0;
            jj      <= '0;
            ci      <= '0;
            ci_p    <= '0;
            ci_k    <= '0;
            ci_row0 <= '0;
        end
    end

    // the tile's window of the input row: column t*X/S + WLO + i (0 outside the input)
    logic [NWD-1:0] win;
    always_comb begin
        win = '0;
        for (int t = 0; t < XT; t++) begin
            if (tt == T_W'(t)) begin
                for (int i = 0; i < NWD; i++) begin
                    if (t * (X / S) + WLO + i >= 0 && t * (X / S) + WLO + i < IW) begin
                        win[i] = in_row_bits[t * (X / S) + WLO + i];
                    end
                end
            end
        end
    end

    // stage 1: weight word ci*K + kh (block-RAM ROM, read registered) and the input window
    (* rom_style = "block" *) logic [WW-1:0] rom [CIN * K];
    initial $readmemh(WEIGHT_FILE, rom);
    logic [WW-1:0]  w1;
    logic [NWD-1:0] win1;
    always_ff @(posedge clk) begin
        if (issue) begin
            w1   <= rom[ci_k + CK_W'(row_kh[oy][jj])];
            win1 <= row_none[oy] ? '0 : win;
        end
        v1     <= issue;
        first1 <= it_first;
        last1  <= it_last;
        final1 <= it_final;
        if (rst) begin
            v1 <= 1'b0;
        end
    end

    // ------------------------------------------------------------------ the accumulators
    // accumulator (x, c) of the tile: output column t*X + x, channel c; kernel column kw
    // reaches it when x + PAD - kw is a multiple of S (X is: the same for every tile), from
    // window bit floor((x + PAD - kw)/S) - WLO
    logic [P*B_BITS-1:0] bias_mem [G];
    initial $readmemh(BIAS_FILE, bias_mem);
    logic [ACC_BITS-1:0] acc [NPE];
    logic [ACC_BITS-1:0] sum [NPE];
    for (genvar x = 0; x < X; x++) begin : g_col
        for (genvar c = 0; c < COUT; c++) begin : g_ch
            localparam int I = x * COUT + c;
            logic [ACC_BITS-1:0] bias_c, term;
            logic [ACC_BITS-1:0] tk [K];          // kernel column kw's gated weight (0: none)
            assign bias_c = ACC_BITS'($signed(bias_mem[c / P][(c % P) * B_BITS +: B_BITS]));
            for (genvar kw = 0; kw < K; kw++) begin : g_kw
                localparam bit RE = (x + PAD - kw + VOFF) % S == 0;
                localparam int WI = (x + PAD - kw + VOFF) / S - K - WLO;
                if (RE) begin : g_on
                    assign tk[kw] = win1[WI] ? ACC_BITS'($signed(w1[(c * K + kw) * W_BITS +: W_BITS])) : '0;
                end else begin : g_off
                    assign tk[kw] = '0;
                end
            end
            always_comb begin
                term = '0;
                for (int kw = 0; kw < K; kw++) begin
                    term = term + tk[kw];
                end
                sum[I] = (first1 ? bias_c : acc[I]) + term;
            end
            always_ff @(posedge clk) begin
                if (v1) begin
                    acc[I] <= sum[I];
                end
            end
        end
    end

    // ------------------------------------------------------------------ drain
    // the tile's sums, loaded in one cycle (a clock enable, no multiplexer in front), read
    // out word by word (word i: accumulators i*P .. i*P + P - 1): an array of words, so that
    // the read is one NDR:1 multiplexer of P*ACC_BITS bits (indexing the accumulators by
    // i*P + p gave Yosys a multiplexer over all of them for every lane)
    logic [P*ACC_BITS-1:0] drain [NDR];
    logic [DI_W-1:0]       dr_idx;
    logic                  cur_hs;
    assign m_axis_cur_tdata  = drain[dr_idx];
    assign m_axis_cur_tvalid = dr_left != '0;
    assign m_axis_cur_tlast  = dr_final && dr_left == DR_W'(1);
    assign cur_hs            = m_axis_cur_tvalid && m_axis_cur_tready;
    assign final_hs          = cur_hs && m_axis_cur_tlast;

    logic [P*ACC_BITS-1:0] sum_w [NDR];          // the sums as drain words
    for (genvar i = 0; i < NDR; i++) begin : g_drain
        for (genvar p = 0; p < P; p++) begin : g_lane
            assign sum_w[i][p * ACC_BITS +: ACC_BITS] = sum[i * P + p];
        end
    end
    always_ff @(posedge clk) begin
        if (v1 && last1) begin                   // (the drain is empty: xfer_ok at issue)
            drain <= sum_w;
        end
    end
    always_ff @(posedge clk) begin
        if (v1 && last1) begin
            dr_left  <= DR_W'(NDR);
            dr_idx   <= '0;
            dr_final <= final1;
        end else if (cur_hs) begin
            dr_left <= dr_left - 1'b1;
            dr_idx  <= dr_idx + 1'b1;
        end
        if (rst) begin
            dr_left  <= '0;
            dr_final <= 1'b0;
        end
    end

    // ------------------------------------------------------------------ phases, done, cycles
    always_ff @(posedge clk) begin
        done <= 1'b0;
        if (busy) begin
            cyc <= cyc + 1;
        end
        case (phase)
            S_IDLE:    if (start) begin
                           phase <= S_COLLECT;
                           cyc   <= 32'd1;
                       end
            S_COLLECT: if (mask_hs && s_axis_mask_tlast) phase <= S_COMPUTE;
            S_COMPUTE: if (issue && it_final) phase <= S_DRAIN;
            default:   if (final_hs) begin
                           phase  <= S_IDLE;
                           done   <= 1'b1;
                           cycles <= cyc;
                       end
        endcase
        if (rst) begin
            phase  <= S_IDLE;
            done   <= 1'b0;
            cycles <= '0;
            cyc    <= '0;
        end
    end

    // the word index is only checked in simulation (below): the engine counts the words
    wire unused_mask_index = ^s_axis_mask_tdata[MI_W+PIN-1:PIN];

`ifndef SYNTHESIS
    localparam int WI_W = $clog2(NWIN + 1);
    logic [WI_W-1:0] in_word;
    always_ff @(posedge clk) begin
        if (mask_hs) begin
            if (32'(s_axis_mask_tdata[MI_W+PIN-1:PIN]) != 32'(in_word)) begin
                $error("fsvae_convt_dense: mask word %0d where word %0d was due", s_axis_mask_tdata[MI_W+PIN-1:PIN],
                       in_word);
            end
            if (s_axis_mask_tlast != (32'(in_word) == NWIN - 1)) begin
                $error("fsvae_convt_dense: tlast %0d on mask word %0d of %0d", s_axis_mask_tlast, in_word, NWIN);
            end
            in_word <= s_axis_mask_tlast ? '0 : in_word + 1'b1;
        end
        if (rst) begin
            in_word <= '0;
        end
    end
`endif

endmodule

`default_nettype wire
