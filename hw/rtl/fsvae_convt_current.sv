// Transposed-convolution current engine: the event-driven scatter of a transposed
// convolution, input spike events in, the step's synaptic currents out; there is no neuron
// state in here.  One time step per `start`, bit-exact with golden.conv_transpose2d
// (sw/fsvae_fpga/contract/golden.py); the RTL twin of the scatter in hls/fsvae/lif_conv_transpose.h
// (same microarchitecture: event -> tap -> channel group scatter, weights stored
// [CIN*K*K][COUT], P output-channel lanes; except that the RTL skips the taps landing outside
// the output, where the HLS loop still spends their iterations).  A spiking layer's
// neurons are a separate stage, fsvae_lif_update (after fsvae_current_join when a layer
// has several copies of this engine).  The output layer is not computed here:
// fsvae_output_sum takes the last spiking layer's spike masks.
//
//   I[oh][ow][c] = bias[c] + sum_{events (ih, iw, ci), taps (kh, kw) with
//                    oh = ih*S - PAD + kh, ow = iw*S - PAD + kw inside OH x OW} W[ci][c][kh][kw]
//   OH = (IH - 1)*S - 2*PAD + K + OUTPAD, OW likewise; NPOS = OH*OW, G = COUT / P.
//
// Interface
//   start: sampled only while busy is low.  busy is high from the cycle after start until
//     the step's final current beat is accepted; done pulses in the next cycle, with busy
//     already low.  After reset busy is also high for NPOS*G cycles while the accumulators
//     are cleared.
//   s_axis_event_*: the step's input events, channel-last indices (ih*IW + iw)*CIN + ci,
//     ascending by convention (as a chained layer or fsvae_event_list emits them; any order
//     is computed correctly, see the hazard note), each at most once, tlast on the last.  A
//     step without events sends a single beat with tuser = 1 ("empty"; tdata ignored, tlast
//     should be 1).  Beats are accepted only after start.
//   m_axis_cur_*: the step's currents, one beat per (position, channel group) in ascending
//     order, beat pos*G + g = I[pos][g*P + p] in lane p (ACC_BITS each, two's complement,
//     lane 0 in the low bits), tlast on beat NPOS*G - 1; plain valid/ready (AXI stream
//     without tuser/tkeep).  FUSED = 1: the membranes u_t in place of I (see the end).
//   w_rd_* (WEIGHT_EXT = 1): no weight memory in here; the engine reads word w_rd_addr (the
//     WEIGHT_FILE layout) from one outside with w_rd_en and takes w_rd_data a cycle later,
//     the timing of its own memory, so that two copies of a layer share one memory through
//     its two ports (fsvae_weight_mem_pair).  WEIGHT_EXT = 0: w_rd_en stays low.
//
// Memory files ($readmemh, one word per line, two's complement, lane 0 in the low bits):
//   WEIGHT_FILE: CIN*K*K*G lines, line row*G + g with row = (ci*K + kh)*K + kw holds
//                W[ci][g*P + p][kh][kw], p = 0..P-1, W_BITS each (torch layout (CIN, COUT,
//                K, K) -> w.transpose(0, 2, 3, 1).reshape(CIN*K*K, COUT), P per line)
//   BIAS_FILE:   G lines, line g = bias[g*P + p], p = 0..P-1, B_BITS each
//
// Widths: ACC_BITS must hold the layer's current_range("convT", ...) (hwmodel.py); the sums
// are modular and exact (see fsvae_current_acc).
//
// Microarchitecture (one accumulator word = P lanes of one (position, channel group); the
// step control is fsvae_engine_ctrl, the memories and adders fsvae_current_acc):
//   scatter: only the event's in-range taps are iterated.  Those of input row ih are
//       kh = KH_LO(ih) .. KH_HI(ih),  KH_LO = max(0, PAD - ih*S),  KH_HI = min(K-1, OH-1 + PAD - ih*S)
//     (oh = ih*S - PAD + kh inside [0, OH)), NH(ih) = KH_HI - KH_LO + 1 of them (none when
//     negative); columns likewise (KW_LO(iw), KW_HI(iw), NWC(iw), with OW).  Per row and per
//     column a small table built at elaboration (IH and IW entries: count - 1, a none flag
//     and the first tap's RAM address offsets) holds them.  An event is decoded when
//     accepted (divisions by the constants CIN and IW, ci times a constant by shift-adds, the
//     two table reads and two small adds; cheap when CIN and IW are powers of two) into its
//     tap box and its first tap's RAM addresses; then one (tap, group) iteration per cycle:
//     kh from KH_HI down to KH_LO, within it kw from KW_HI down to KW_LO (DESCENDING: weight
//     row descending within the box), groups 0..G-1 innermost, tracked by down-counters
//     (each with its "at the end" flag as a register, so the last-iteration test and
//     s_axis_event_tready are one LUT of flip-flops) and addresses stepped by constants
//     (-G per tap; per row -OW*G and -K*G from the row's first tap, kept in a register: no
//     multiplier in the loop).  Every iteration is a RAM
//     access.  An event costs exactly NH(ih)*NWC(iw)*G cycles, and the next event is
//     accepted during the last iteration of the current one (back to back, no bubble).  An
//     event with no in-range tap (possible only when PAD >= K) starts no iteration: it is
//     consumed in the cycle it is accepted, and costs that one cycle (the next event is
//     accepted in the cycle after).
//   update: NPOS*G cycles, one word per cycle in ascending address order: acc + bias is
//     the output beat (m_axis_cur_tvalid = the update's stage-B valid; backpressure stalls
//     the update), the accumulator word cleared for the next step (no bias-fill pass; the
//     reset clears the RAM once).  m_axis_cur_tready reaches the update's RAM enables
//     combinationally; add a register slice on the output if that path limits the clock.
//   Accumulator read-modify-write hazard: the RAM read is synchronous (issue in cycle t,
//     data in t+1, sum written at the end of t+1).  Within one event the taps land on
//     distinct positions and the groups on distinct words: no repeat.  Across events: if
//     event B, after event A, hits with its tap t2 = (kh2, kw2) the word of A's tap t1 = (kh1, kw1)
//     (same group), then with A's box KH_LO_A.., KW_LO_A.. of NWC_A columns and B's box
//     ..KH_HI_B, ..KW_HI_B of NWC_B columns, B's access comes
//       G*((kh1 - KH_LO_A)*NWC_A + (kw1 - KW_LO_A) + 1 + (KH_HI_B - kh2)*NWC_B + (KW_HI_B - kw2))
//     iterations after A's (A's iterations after t1, then B's before t2; events, empty
//     events and stalls in between only add distance), and every term is >= 0: so >= G.
//     For ascending events whose boxes are the full K x K (interior pixels) this is the old
//     bound G*(K*K + S*(dh*K + dw)) >= G*K*K (kh1 - kh2 = S*dh, kw1 - kw2 = S*dw; the HLS
//     DEPENDENCE argument; ascending tap order could collide 1 iteration apart).  Clipped
//     boxes can bring it down to G (t1 A's last tap, t2 B's first: e.g. a 1 x 1 output, or
//     the input channels of one pixel with a 1-tap box).  So for G >= 2 the write always
//     lands an edge before the re-read; distance 1 (G = 1, the last tap of one event and
//     the first of the next on one word) and the last scatter write against the first
//     update read are covered by the accumulator's read-during-write forwarding, which
//     makes the engine exact for any order (the bench runs random orders too); the
//     descending order is kept to mirror the HLS schedule and keep the distance large in
//     the usual case.
//
// Cycles per step (busy cycles, start to done, no input idle and no output backpressure),
// events e = (ih, iw, ci) (none: the empty beat), NW = NPOS*G update words:
//     2 + sum_e C(e) + NW,   C(e) = NH(ih)*NWC(iw)*G, or 1 when NH(ih)*NWC(iw) = 0
// (without in-range taps at the borders C(e) = K*K*G; e.g. 2x2 -> 4x4, K = 3, S = 2,
// PAD = 1, OUTPAD = 1: NH = 2, 3 for ih = 0, 1, so C = 4G, 6G, 6G, 9G for the four pixels
// instead of 9G each).
//   `cycles` reports the count of the last completed step.
//
// Cost: weight ROM CIN*K*K*G x P*W_BITS, bias ROM G x P*B_BITS, accumulator RAM NW x
// P*ACC_BITS (one read + one write port with synchronous read: BRAM or LUTRAM); P adders
// for the scatter, P adders for the bias; the tap tables (IH + IW entries of a few address
// bits: LUTs) and two row-start address registers.
//
// FUSED = 1: the membranes in place of the accumulators (fsvae_current_acc FUSED = 1): one
// RAM word per neuron (P lanes) holds b + the leak of the previous step, the scatter adds the
// step's weights to it, so the update reads the membrane u_t itself: the current stream
// m_axis_cur_* then carries u_t (same beats, widths and order), and the neuron stage after it
// is fsvae_lif_update STATELESS = 1 (s = u > THRESHOLD, no membrane or spike RAM).  Exact
// with golden.LIFState (same sums, modulo 2^ACC_BITS: see fsvae_current_acc).
//   ACC_BITS: the membrane width (MEM_BITS, holds membrane_range).  THRESHOLD: the layer's.
//   T: steps per image.  The step is an internal count, as in fsvae_lif_update: step 0 after
//     reset and after every T steps (a reset in the middle of an image restarts at step 0);
//     no new port.  The update writes back b + (step T-1 ? 0 : (u >>> 2) * (1 - s)) in
//     place of the clear, in the same cycles, so the next image's step 0 starts at b.
//   After reset the init pass writes b into every word (the same NW busy cycles: word w's
//     bias word is read in init cycle w and written at the end of the next cycle, so the last
//     one lands in the first idle cycle, before any scatter can reach the RAM).
//   Replicas (several copies summed by fsvae_current_join) are not possible: one membrane per
//     neuron, in one engine.
//   Cycles: as above.  Cost: NW x P*ACC_BITS RAM replaces the accumulator RAM here and the
//     membrane (NW x P*MEM_BITS) and spike (NW x P) RAMs of fsvae_lif_update: ACC_BITS + 1
//     bits less per neuron; P comparators and multiplexers on the write-back.

`default_nettype none

module fsvae_convt_current #(
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
    parameter     WEIGHT_FILE = "weights.hex",
    parameter int WEIGHT_LOAD = 0,               // 1: weights written through wl_* (no WEIGHT_FILE)
    parameter int WEIGHT_STYLE = 0,              // fsvae_weight_mem STYLE (memory kind hint)
    parameter int WEIGHT_EXT  = 0,               // 1: weights from a memory outside, w_rd_* (header)
    parameter int STATE_LUTRAM = 0,              // 1: the currents in LUTs (fsvae_current_acc)
    parameter     BIAS_FILE   = "bias.hex",
    parameter int FUSED       = 0,               // 1: membranes, not currents, out (header)
    parameter int T           = 4,               // FUSED = 1: steps per image
    parameter int THRESHOLD   = 0,               // FUSED = 1: spike when u > THRESHOLD
    // derived (do not override)
    parameter int OH    = (IH - 1) * S - 2 * PAD + K + OUTPAD,
    parameter int OW    = (IW - 1) * S - 2 * PAD + K + OUTPAD,
    parameter int NIN   = IH * IW * CIN,
    parameter int NW    = OH * OW * (COUT / P),
    parameter int IN_W  = (NIN > 1) ? $clog2(NIN) : 1,     // event index width
    parameter int WL_W  = (CIN * K * K * (COUT / P) > 1) ? $clog2(CIN * K * K * (COUT / P)) : 1  // weight word address
) (
    input  wire logic                    clk,
    input  wire logic                    rst,

    input  wire logic                    start,
    output logic                         busy,
    output logic                         done,
    output logic [31:0]                  cycles,

    input  wire logic [IN_W-1:0]         s_axis_event_tdata,
    input  wire logic                    s_axis_event_tvalid,
    output logic                         s_axis_event_tready,
    input  wire logic                    s_axis_event_tlast,
    input  wire logic                    s_axis_event_tuser,    // empty step

    output logic [P*ACC_BITS-1:0]        m_axis_cur_tdata,
    output logic                         m_axis_cur_tvalid,
    input  wire logic                    m_axis_cur_tready,
    output logic                         m_axis_cur_tlast,
    // weight load port (WEIGHT_LOAD = 1): word wl_addr of the weight memory (file layout)
    input  wire logic                    wl_en,
    input  wire logic [WL_W-1:0]         wl_addr,
    input  wire logic [P*W_BITS-1:0]     wl_data,
    // external weight memory (WEIGHT_EXT = 1): read word w_rd_addr (file layout) with w_rd_en;
    // w_rd_data is that word one cycle later, held until the next read (fsvae_weight_mem_pair)
    output logic                         w_rd_en,
    output logic [WL_W-1:0]              w_rd_addr,
    input  wire logic [P*W_BITS-1:0]     w_rd_data
);

    localparam int G     = COUT / P;
    localparam int TAPS  = K * K;
    localparam int NWROW = CIN * TAPS * G;
    localparam int G_W   = (G > 1) ? $clog2(G) : 1;
    localparam int K_W   = (K > 1) ? $clog2(K) : 1;
    localparam int WA_W  = (NWROW > 1) ? $clog2(NWROW) : 1;
    localparam int WO_W  = (TAPS * G > 1) ? $clog2(TAPS * G) : 1;   // a word within one ci's rows
    localparam int AA_W  = (NW > 1) ? $clog2(NW) : 1;       // accumulator word address width
    localparam logic [G_W-1:0]  LAST_G  = G_W'(G - 1);
    localparam logic [AA_W-1:0] LAST_W  = AA_W'(NW - 1);

    if (P < 1 || COUT % P != 0) begin : g_bad_lanes
        $error("fsvae_convt_current: COUT (%0d) must be a multiple of P (%0d)", COUT, P);
    end
    if (OH < 1 || OW < 1) begin : g_bad_shape
        $error("fsvae_convt_current: empty output (%0d x %0d)", OH, OW);
    end

    // ------------------------------------------------------------------ step control
    logic            init, idle, acc, acc_end, upd_issue, upd_adv, updb_v;
    logic [AA_W-1:0] clr_a, ua_a, updb_a;  // words: reset clear, update stages A and B (pos*G + g)
    logic [G_W-1:0]  ua_g;                 // ua_a's group (bias word)

    fsvae_engine_ctrl #(.N(NW)) u_ctrl (
        .clk, .rst, .start, .acc_end, .upd_ready(m_axis_cur_tready), .step_end(upd_adv && updb_a == LAST_W),
        .init, .idle, .acc, .clr_addr(clr_a), .upd_issue, .ua(ua_a), .updb_v, .updb(updb_a), .upd_adv,
        .busy, .done, .cycles
    );

    // FUSED = 1: ua_g also counts the init pass (clr_a's group: the fill's bias word).
    always_ff @(posedge clk) begin
        if (acc && acc_end) begin
            ua_g <= '0;
        end else if (upd_issue || (FUSED != 0 && init)) begin
            ua_g <= (ua_g == LAST_G) ? '0 : ua_g + 1'b1;
        end
        if (FUSED != 0 && rst) begin
            ua_g <= '0;
        end
    end

    // FUSED = 1, init pass: word clr_a's bias word is read now (rd_en), written one cycle later.
    logic            fill_v;
    logic [AA_W-1:0] fill_a;
    if (FUSED != 0) begin : g_fill
        always_ff @(posedge clk) begin
            fill_v <= init;
            fill_a <= clr_a;
            if (rst) begin
                fill_v <= 1'b0;
            end
        end
    end else begin : g_no_fill
        assign fill_v = 1'b0;
        assign fill_a = '0;
        wire unused_fill = ^{fill_v, fill_a};
    end

    // ------------------------------------------------------------------ scatter: tables
    // Per input row ih (column iw likewise), built at elaboration: the in-range taps are
    // kh = LO .. HI with LO = max(0, PAD - ih*S), HI = min(K-1, OH-1 + PAD - ih*S) (so that
    // oh = ih*S - PAD + kh lies in [0, OH)); none when HI < LO.  The tables hold HI - LO (the
    // count less one), the none flag, and the first tap's (kh = HI) address offsets:
    // accumulator oh*OW*G (column: ow*G), weight HI*K*G (column: HI*G).
    function automatic int tap_lo(int i);
        int v;
        v = PAD - i * S;
        tap_lo = (v > 0) ? v : 0;
    endfunction
    function automatic int tap_hi(int i, int n_out);
        int v;
        v = n_out - 1 + PAD - i * S;
        tap_hi = (v < K - 1) ? v : K - 1;
    endfunction

    logic [K_W-1:0]  row_n1 [IH], col_n1 [IW];   // in-range taps - 1
    logic            row_none [IH], col_none [IW];
    logic [AA_W-1:0] row_a [IH], col_a [IW];     // first tap: oh*OW*G, ow*G
    logic [WO_W-1:0] row_w [IH], col_w [IW];     // first tap: HI*K*G, HI*G
    for (genvar i = 0; i < IH; i++) begin : g_row
        localparam int LO = tap_lo(i);
        localparam int HI = tap_hi(i, OH);
        assign row_none[i] = HI < LO;
        assign row_n1[i]   = K_W'((HI < LO) ? 0 : HI - LO);
        assign row_a[i]    = AA_W'((HI < LO) ? 0 : (i * S - PAD + HI) * OW * G);
        assign row_w[i]    = WO_W'((HI < LO) ? 0 : HI * K * G);
    end
    for (genvar i = 0; i < IW; i++) begin : g_col
        localparam int LO = tap_lo(i);
        localparam int HI = tap_hi(i, OW);
        assign col_none[i] = HI < LO;
        assign col_n1[i]   = K_W'((HI < LO) ? 0 : HI - LO);
        assign col_a[i]    = AA_W'((HI < LO) ? 0 : (i * S - PAD + HI) * G);
        assign col_w[i]    = WO_W'((HI < LO) ? 0 : HI * G);
    end

    // ------------------------------------------------------------------ scatter: decode
    // The event on s_axis_event_tdata: its pixel, its in-range tap box and its first tap (an
    // index >= NIN, an error reported below, reads outside the tables).
    localparam int IH_W = (IH > 1) ? $clog2(IH) : 1;
    localparam int IW_W = (IW > 1) ? $clog2(IW) : 1;
    int              dec_pix;
    logic [WA_W-1:0] dec_ci;                     // < CIN <= 2^WA_W
    // ci * TAPS * G by shift-adds (fsvae_times_const), not a DSP multiplier: an unregistered
    // DSP stage behind the event FIFO's read set the KV260 clock
    logic [WA_W-1:0] dec_row;
    fsvae_times_const #(.W(WA_W), .C(TAPS * G)) u_first_row (.x(dec_ci), .y(dec_row));
    logic [IH_W-1:0] dec_ih;
    logic [IW_W-1:0] dec_iw;
    logic            dec_none;                 // no in-range tap
    logic [K_W-1:0]  dec_kh_n1, dec_kw_n1;
    logic [AA_W-1:0] dec_a;
    logic [WO_W-1:0] dec_w;                      // first tap's word within ci's rows
    always_comb begin
        dec_ci    = WA_W'(32'(s_axis_event_tdata) % 32'(CIN));
        dec_pix   = int'(32'(s_axis_event_tdata) / 32'(CIN));
        dec_ih    = IH_W'(dec_pix / IW);
        dec_iw    = IW_W'(dec_pix % IW);
        dec_none  = row_none[dec_ih] || col_none[dec_iw];
        dec_kh_n1 = row_n1[dec_ih];
        dec_kw_n1 = col_n1[dec_iw];
        // the row part is a multiple of OW*G and the column part below it: when OW*G is a
        // power of two their bits do not overlap, and the sum is an OR (no carry in the decode)
        dec_a     = ((OW * G & (OW * G - 1)) == 0) ? (row_a[dec_ih] | col_a[dec_iw]) : (row_a[dec_ih] + col_a[dec_iw]);
        dec_w     = row_w[dec_ih] + col_w[dec_iw];
    end

    // ------------------------------------------------------------------ scatter: iteration
    logic                    ev_v;         // an event is being scattered
    logic [G_W-1:0]          ag;           // group
    logic [K_W-1:0]          kh_left;      // in-range rows left after this one
    logic [K_W-1:0]          kw_left;      // in-range columns left in this row after this one
    logic [K_W-1:0]          kw_n1;        // the event's in-range columns - 1
    // ag == LAST_G, kw_left == 0, kh_left == 0 and kw_n1 == 0 as registers, set with their
    // counters: the last-iteration flag, and through it s_axis_event_tready and every address
    // register's select, is then one LUT of flip-flops instead of three compares deep
    logic                    ag_last, kw_zero, kh_zero, kw_n1_zero;
    // The weight word is w_base + wa: w_base = ci * TAPS * G, the event's first row (set when
    // it is accepted), and the offsets below it within those TAPS * G words, so that the
    // decode's adds are short and the full-width add sits between registers and the ROM.
    logic [WA_W-1:0]         w_base;
    logic [WO_W-1:0]         w_tap, w_row; // word of (tap, group 0), of (row's first tap, 0)
    // wa = w_tap + ag, the word being issued, a register stepped by gates (fsvae_increment)
    logic [WO_W-1:0]         wa, wa_next;
    fsvae_increment #(.W(WO_W)) u_wa_next (.x(wa), .y(wa_next));
    logic [AA_W-1:0]         a_tap, a_row; // accumulator word of (tap, group 0), of (row's first tap, 0)
    // aa = a_tap + ag, the accumulator word being issued, stepped like wa (no adder between
    // the registers and the accumulator's address and forwarding compares)
    logic [AA_W-1:0]         aa, aa_next;
    fsvae_increment #(.W(AA_W)) u_aa_next (.x(aa), .y(aa_next));
    logic                    ev_seen_last; // the step's last (or empty) beat was accepted
    logic                    ev_hs, it_last, acc_issue;
    localparam logic [AA_W-1:0] A_ROW = AA_W'(OW * G);   // one output row
    localparam logic [WO_W-1:0] W_ROW = WO_W'(K * G);    // one kernel row
    localparam logic [AA_W-1:0] A_G   = AA_W'(G);
    localparam logic [WO_W-1:0] W_G   = WO_W'(G);

    assign it_last   = ag_last && kw_zero && kh_zero;
    assign s_axis_event_tready = acc && !ev_seen_last && (!ev_v || it_last);
    assign ev_hs     = s_axis_event_tvalid && s_axis_event_tready;
    assign acc_issue = acc && ev_v;
    // Leave while the last iteration of the last event is issued (or on the empty beat); its
    // write meets the first update read through the accumulator's forwarding.
    assign acc_end   = (ev_seen_last && (!ev_v || it_last)) || (ev_hs && s_axis_event_tuser);

    always_ff @(posedge clk) begin
        if (idle && start) begin
            ev_v         <= 1'b0;
            ev_seen_last <= 1'b0;
        end
        if (acc && ev_v) begin
            if (!ag_last) begin
                ag      <= ag + 1'b1;
                ag_last <= ag == G_W'(G - 2);      // (only reached with G >= 2)
                wa      <= wa_next;
                aa      <= aa_next;
            end else begin
                ag      <= '0;
                ag_last <= G == 1;
                if (!kw_zero) begin            // next tap: kw - 1
                    kw_left <= kw_left - 1'b1;
                    kw_zero <= kw_left == K_W'(1);
                    a_tap   <= a_tap - A_G;
                    aa      <= a_tap - A_G;
                    w_tap   <= w_tap - W_G;
                    wa      <= w_tap - W_G;
                end else begin                 // next row: kh - 1, kw = the event's HI
                    kw_left <= kw_n1;
                    kw_zero <= kw_n1_zero;
                    a_row   <= a_row - A_ROW;
                    a_tap   <= a_row - A_ROW;
                    aa      <= a_row - A_ROW;
                    w_row   <= w_row - W_ROW;
                    w_tap   <= w_row - W_ROW;
                    wa      <= w_row - W_ROW;
                    if (!kh_zero) begin
                        kh_left <= kh_left - 1'b1;
                        kh_zero <= kh_left == K_W'(1);
                    end else begin
                        ev_v <= 1'b0;
                    end
                end
            end
        end
        if (ev_hs) begin
            ev_seen_last <= s_axis_event_tlast || s_axis_event_tuser;
            if (!s_axis_event_tuser) begin
                ev_v       <= !dec_none;       // no in-range tap: consumed, no iteration
                ag         <= '0;
                ag_last    <= G == 1;
                kh_left    <= dec_kh_n1;
                kh_zero    <= dec_kh_n1 == '0;
                kw_left    <= dec_kw_n1;
                kw_zero    <= dec_kw_n1 == '0;
                kw_n1      <= dec_kw_n1;
                kw_n1_zero <= dec_kw_n1 == '0;
                a_tap      <= dec_a;
                a_row      <= dec_a;
                aa         <= dec_a;
                w_base     <= dec_row;
                w_tap      <= dec_w;
                w_row      <= dec_w;
                wa         <= dec_w;
            end
        end
        if (rst) begin
            ev_v <= 1'b0;
        end
    end

    // ------------------------------------------------------------------ currents
    // FUSED = 0: the update clears each word it reads (no bias-fill pass); the reset clears all.
    // FUSED = 1: the update writes each word back (b + leak), the reset pass writes b (fill).
    // (The fill reads word clr_a too, though only its bias word matters: a defined address.)
    logic            clr_en, rd_en;
    logic [AA_W-1:0] clr_addr, rd_addr;
    assign rd_en    = upd_issue || (FUSED != 0 && init);
    assign rd_addr  = (FUSED != 0 && init) ? clr_a : ua_a;
    assign clr_en   = upd_adv || ((FUSED != 0) ? fill_v : init);
    assign clr_addr = upd_adv ? updb_a : ((FUSED != 0) ? fill_a : clr_a);

    logic [WA_W-1:0] w_addr;
    assign w_addr    = w_base + WA_W'(wa);
    assign w_rd_en   = (WEIGHT_EXT != 0) && acc_issue;
    assign w_rd_addr = WL_W'(w_addr);
    if (WEIGHT_EXT != 0 && WEIGHT_LOAD != 0) begin : g_bad_ext
        $error("fsvae_convt_current: an external weight memory (WEIGHT_EXT) is loaded outside (WEIGHT_LOAD = 0)");
    end

    fsvae_current_acc #(.P(P), .W_BITS(W_BITS), .B_BITS(B_BITS), .ACC_BITS(ACC_BITS), .ROWS(NWROW),
                        .WORDS(NW), .BWORDS(G), .WEIGHT_FILE(WEIGHT_FILE), .WEIGHT_LOAD(WEIGHT_LOAD),
                        .WEIGHT_STYLE(WEIGHT_STYLE), .WEIGHT_STREAM((WEIGHT_EXT != 0) ? 2 : 0),
                        .BIAS_FILE(BIAS_FILE), .FUSED(FUSED), .T(T), .THRESHOLD(THRESHOLD),
                        .STATE_LUTRAM(STATE_LUTRAM)) u_currents (
        .clk, .rst,
        .add_en(acc_issue), .add_waddr(w_addr), .add_aaddr(aa),
        .add_wdata(w_rd_data),          // WEIGHT_EXT = 1: the external memory's word; else unused
        .add_waddr2('0), .add_second(1'b0),   // one weight word a scatter (PAIRS = 0)
        .rd_en, .rd_aaddr(rd_addr), .rd_baddr(ua_g), .cur(m_axis_cur_tdata),
        .clr_en, .clr_addr,
        .wl_en, .wl_addr, .wl_data
    );

    // The stage-B word is the output beat; the accumulator holds it while stalled.
    assign m_axis_cur_tvalid = updb_v;
    assign m_axis_cur_tlast  = updb_a == LAST_W;

`ifndef SYNTHESIS
    always_ff @(posedge clk) begin
        if (!rst && ev_hs && !s_axis_event_tuser && 32'(s_axis_event_tdata) >= 32'(NIN)) begin
            $error("fsvae_convt_current: event index %0d >= %0d", s_axis_event_tdata, NIN);
        end
    end
`endif

endmodule

`default_nettype wire
