// Event-driven LIF linear layer: one time step per `start`, bit-exact with
// golden.linear + golden.LIFState.step (sw/fsvae_fpga/contract/golden.py); the RTL twin of
// hls/fsvae/lif_linear.h (same microarchitecture: weights stored [input][output], P lanes).
//
//   I[o] = bias[o] + sum_{events i} W[o][i]
//   u[o] = first_step ? I[o] : (u[o] >>> 2) * (1 - s[o]) + I[o]      (>>> = floor)
//   s[o] = u[o] > THRESHOLD
//
// Interface
//   start / first_step: sampled only while busy is low; first_step ignores the stored
//     membranes and spikes (u = I); the first step after a reset must be a first_step.
//     busy is high from the cycle after start until the step's final output beat is
//     accepted; done pulses in the next cycle, with busy already low.  After reset busy is
//     also high for G cycles while the accumulators are cleared.
//   s_axis_event_*: the step's input events, one input index (< IN) per beat, any order,
//     repeats allowed (each beat adds its weights once), tlast on the last one.  A step
//     without events sends a single beat with tuser = 1 ("empty"; tdata ignored, tlast
//     should be 1).  Beats are accepted only after start, so a producer may run ahead.
//   m_axis_spike_*: the step's output spikes as ascending output indices, tlast on the last;
//     when no neuron spiked, a single beat with tuser = 1 (empty), tdata = 0, tlast = 1.
//     So m_axis_spike_* connects straight to the next layer's s_axis_event_*.  done pulses
//     the cycle after the beat with tlast is accepted (with or without spikes).
//   m_axis_mask_* (MASKS = 1, in place of m_axis_spike_*, whose outputs are then 0; for a
//     consumer that takes P neurons a cycle: fsvae_latent_pick MP = P): per step every
//     group's spike mask in ascending g, tdata = {g, mask} (bit p = output g*P + p), tlast on
//     group G-1; done pulses the cycle after it is accepted.  MASKS = 0: outputs 0.
//   dbg_group -> dbg_membrane / dbg_spike: while busy is low, the P membranes and spikes of
//     output group dbg_group (lane p = output dbg_group*P + p), one cycle after dbg_group.
//   wl_*: the weight memory's load port (WEIGHT_LOAD = 1); unused otherwise.
//   s_axis_weight_* (WEIGHT_STREAM = 1): the weight rows, e.g. from fsvae_weight_stream
//     reading them from DDR.  For every non-empty event beat i, in event order, exactly
//     G words: word g = W[g*P + p][i], p = 0..P-1 (lane 0 in the low bits: the words of
//     WEIGHT_FILE line i*G + g); no tlast, the empty beat has no words.  With
//     WEIGHT_STREAM = 0 tdata/tvalid are ignored and tready is 0.
//
// Memory files ($readmemh, one word per line, two's complement, lane 0 in the low bits):
//   WEIGHT_FILE: IN*G lines, line i*G + g = weights W[g*P + p][i], p = 0..P-1, W_BITS each
//                (not read with WEIGHT_LOAD = 1 or WEIGHT_STREAM = 1)
//   BIAS_FILE:   G lines,    line g       = biases  b[g*P + p],    p = 0..P-1, B_BITS each
//   (G = OUT / P.)
//
// Widths: ACC_BITS must hold the layer's current_range and MEM_BITS its membrane_range
// (hwmodel.py bound analysis); nothing saturates, the bound analysis makes overflow
// impossible (modular sums: see fsvae_current_acc).
//
// Microarchitecture (G = OUT / P output groups, one group = P lanes = one RAM word), built
// from the shared parts fsvae_engine_ctrl (step control), fsvae_current_acc (weights, biases,
// accumulators), fsvae_lif_datapath (the neuron update) and fsvae_spike_emitter (REG_OUT = 0):
//   accumulate: each event reads G consecutive weight words (address i*G + g) and adds them
//     to the G accumulator words, one (event, group) per cycle; the next event is accepted
//     during the last group of the current one, so back-to-back events cost exactly G cycles.
//     With G = 1 the next event's read meets the previous write at the same edge; the
//     accumulator's read-during-write forwarding covers it, and the last accumulate write
//     against the first update read.
//   weight stream (WEIGHT_STREAM = 1, no weight memory): s_axis_weight_tready is high
//     exactly while the engine wants the word of the current (event, group), i.e. in the
//     accumulate with an event in progress, whatever tvalid (a producer may count
//     tready && !tvalid as its starved cycles).  The scatter of (event, group) issues on
//     the handshake only and the group / event counters advance only then, so a starving
//     stream stalls the accumulate; the next event is accepted, and the accumulate ends,
//     only in the cycle of the last group's handshake.  The word goes into the register the
//     memory read fills, so the pipeline is the same; issues with gaps need no extra
//     forwarding (see fsvae_current_acc).  Combinational paths: s_axis_weight_tvalid joins
//     acc / ev_v (registers) in the issue (acc && ev_v && tvalid) and in
//     s_axis_event_tready and acc_end, one LUT input more on paths that exist anyway (the
//     accumulator's read enable and address select, its forwarding compare, the counters,
//     the step control); not registered, since a slice in between would raise tready when
//     the engine does not want a word.  So the producer's weight tvalid must not depend
//     combinationally on s_axis_event_tready (fsvae_weight_stream's tvalid is its own).
//   PAIRS = 1 (weights from the own memory only): events go through a one-event holding
//     register and are scattered two at a time: the held event and the next beat read their
//     words through the weight memory's two ports (fsvae_weight_mem_pair, no second memory)
//     and both are added to the group's accumulator word in one cycle, so a pair costs G
//     cycles.  A beat is taken into the holding register while it is empty, and paired with
//     the held event when the scatter can start the next one (the beat's handshake is the
//     pair's start); the step's last event, if it is held alone, is scattered alone.  So
//     E events cost ceil(E / 2) * G cycles instead of E * G (G >= 2: the events arrive one a
//     cycle, so a pair needs two cycles; the parameter check refuses G = 1): the lever for the layer whose
//     events set the pace of the prior's loop (prior.2, hw/boards.yaml event_pairs).
//   update:     G cycles, one group per cycle: acc + bias, leak, compare; membranes and
//     spikes written back, the accumulator word cleared for the next step (so no bias-load
//     pass is needed; the reset clears it once).  The group's spike mask goes, through a
//     register (stage C: the emitter's input waits on no LIF adder or compare), to the
//     emitter, which serialises it (one index per cycle) and stalls the update only while it
//     still holds two or more spikes of an earlier group.  One spike is held back until the
//     next is known or the update is finished, so tlast is exact.  m_axis_spike_tready
//     reaches the update's RAM enables combinationally (tvalid does not depend on it); add
//     a register slice on the output if that path limits the clock.
//
// Cycles per step (busy cycles, start to done, no input idle and no output backpressure):
//   E events (E = 0: the empty beat), k_g spikes in group g:
//     4 + (E + 1) * G + sum_{g < G-1} max(k_g - 1, 0) + k_{G-1}
//   i.e. G per event, G for the update, plus the emitter's stalls (a group holding k spikes
//   needs k cycles) and stage C's one cycle; `cycles` reports the count of the last
//   completed step.
//   MASKS = 1: 3 + (E + 1) * G (no emitter: stage C is the output beat, so the last group
//   leaves the cycle after its update, where the emitter takes one more).
//   PAIRS = 1: 5 + (ceil(E / 2) + 1) * G + (the emitter's stalls, as above), one cycle more
//     than ceil(E / 2) events would take at PAIRS = 0 (the holding register's); MASKS = 1
//     with PAIRS = 1: 4 + (ceil(E / 2) + 1) * G.  E = 0 (the empty beat): as PAIRS = 0.
//   WEIGHT_STREAM = 1: the same formula exactly when the weight stream never starves
//   (tvalid high whenever tready is); otherwise formula + starved cycles (cycles with
//   s_axis_weight_tready && !s_axis_weight_tvalid), each of which delays the step by one.
//
// Cost: weight ROM IN*G x P*W_BITS (none with WEIGHT_STREAM = 1: one P*W_BITS register
// takes the streamed word), bias ROM G x P*B_BITS, accumulator RAM G x P*ACC_BITS,
// membrane RAM G x P*MEM_BITS, spike RAM G x P (all one read + one write port, synchronous
// read: BRAM or LUTRAM); P adders for the scatter, P adders + comparators for the update.

`default_nettype none

module fsvae_lif_linear #(
    parameter int IN        = 16,              // inputs (event index range)
    parameter int OUT       = 16,              // outputs (neurons)
    parameter int P         = 4,               // lanes, OUT % P == 0
    parameter int W_BITS    = 8,               // signed weights
    parameter int B_BITS    = 32,              // signed biases
    parameter int ACC_BITS  = 24,              // signed, holds current_range
    parameter int MEM_BITS  = 25,              // signed, holds membrane_range
    parameter int THRESHOLD = 0,               // spike when u > THRESHOLD
    parameter     WEIGHT_FILE = "weights.hex",
    parameter int WEIGHT_LOAD = 0,               // 1: weights written through wl_* (no WEIGHT_FILE)
    parameter int WEIGHT_STYLE = 0,              // fsvae_weight_mem STYLE (memory kind hint)
    parameter int WEIGHT_STREAM = 0,             // 1: weight rows on s_axis_weight_* (no weight memory)
    parameter     BIAS_FILE   = "bias.hex",
    parameter int MASKS     = 0,               // 1: the spike masks on m_axis_mask_* (no emitter)
    parameter int PAIRS     = 0,               // 1: two events a scatter (header; WEIGHT_STREAM = 0)
    parameter int IN_W  = (IN > 1) ? $clog2(IN) : 1,    // event index width
    parameter int OUT_W = (OUT > 1) ? $clog2(OUT) : 1,  // spike index width
    parameter int G_W   = (OUT / P > 1) ? $clog2(OUT / P) : 1,
    parameter int WL_W  = (IN * (OUT / P) > 1) ? $clog2(IN * (OUT / P)) : 1   // weight word address
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
    // MASKS = 1, in place of m_axis_spike_*: every group's spike mask, {g, mask}
    output logic [G_W+P-1:0]             m_axis_mask_tdata,
    output logic                         m_axis_mask_tvalid,
    input  wire logic                    m_axis_mask_tready,
    output logic                         m_axis_mask_tlast,
    // weight load port (WEIGHT_LOAD = 1): word wl_addr of the weight memory (file layout)
    input  wire logic                    wl_en,
    input  wire logic [WL_W-1:0]         wl_addr,
    input  wire logic [P*W_BITS-1:0]     wl_data,
    // weight stream (WEIGHT_STREAM = 1): G words per non-empty event, in event order
    input  wire logic [P*W_BITS-1:0]     s_axis_weight_tdata,
    input  wire logic                    s_axis_weight_tvalid,
    output logic                         s_axis_weight_tready,

    input  wire logic [G_W-1:0]          dbg_group,
    output logic [P*MEM_BITS-1:0]        dbg_membrane,
    output logic [P-1:0]                 dbg_spike
);

    localparam int G    = OUT / P;
    localparam int WA_W = (IN * G > 1) ? $clog2(IN * G) : 1;
    localparam logic [G_W-1:0] LAST_G = G_W'(G - 1);

    if (P < 1 || OUT % P != 0) begin : g_bad_lanes
        $error("fsvae_lif_linear: OUT (%0d) must be a multiple of P (%0d)", OUT, P);
    end
    if (PAIRS != 0 && WEIGHT_STREAM != 0) begin : g_bad_pairs
        $error("fsvae_lif_linear: PAIRS reads two rows of the own weight memory (WEIGHT_STREAM = 0)");
    end
    if (PAIRS != 0 && G < 2) begin : g_bad_pair_groups
        // events arrive one a cycle: a pair every G = 1 cycle would need two
        $error("fsvae_lif_linear: PAIRS needs G = OUT / P >= 2 (it is %0d): events arrive one a cycle", G);
    end

    // ------------------------------------------------------------------ step control
    logic           init, idle, acc, acc_end, upd_issue, upd_adv, updb_v, emit_ready;
    logic [G_W-1:0] clr_g, ua_g, updb_g;   // words: reset clear, update stages A and B

    fsvae_engine_ctrl #(.N(G)) u_ctrl (
        .clk, .rst, .start, .acc_end, .upd_ready(emit_ready),
        .step_end((MASKS != 0) ? (m_axis_mask_tvalid && m_axis_mask_tready && m_axis_mask_tlast)
                               : (m_axis_spike_tvalid && m_axis_spike_tready && m_axis_spike_tlast)),
        .init, .idle, .acc, .clr_addr(clr_g), .upd_issue, .ua(ua_g), .updb_v, .updb(updb_g), .upd_adv,
        .busy, .done, .cycles
    );

    // ------------------------------------------------------------------ accumulate
    logic            first_q;      // the step ignores the stored state
    logic            ev_v;         // an event (PAIRS: one or two) is being scattered
    logic [WA_W-1:0] wa;           // weight word of group ag: index * G + ag
    logic [WA_W-1:0] wa_next;      // wa + 1 by gates: a ROM's address (fsvae_increment)
    fsvae_increment #(.W(WA_W)) u_wa_next (.x(wa), .y(wa_next));
    logic [WA_W-1:0] ev_row;       // the beat's first weight word, index * G by shift-adds
    fsvae_times_const #(.W(WA_W), .C(G)) u_ev_row (.x(WA_W'(s_axis_event_tdata)), .y(ev_row));
    logic [G_W-1:0]  ag;           // group being issued
    logic            ev_seen_last; // the step's last (or empty) beat was accepted
    logic            ev_hs, acc_issue;
    logic            w_go;         // the current (event, group)'s weight word is here
    logic            free;         // the scatter can take the next event (or pair) this cycle
    // PAIRS = 1: the holding register and the pair's second row
    logic            h_v, h_last;  // an event is held; it is the step's last
    logic [WA_W-1:0] h_row;        // its first weight word
    logic            pair_go;      // a scatter of the held event (and the beat) starts
    logic            wb_v;         // the scatter has a second event
    logic [WA_W-1:0] wb, wb_next;  // its weight word of group ag
    fsvae_increment #(.W(WA_W)) u_wb_next (.x(wb), .y(wb_next));

    if (WEIGHT_STREAM != 0) begin : g_wstream
        assign s_axis_weight_tready = acc && ev_v;          // independent of tvalid
        assign w_go = s_axis_weight_tvalid;                 // issue = the handshake
    end else begin : g_wmem
        assign s_axis_weight_tready = 1'b0;
        assign w_go = 1'b1;                                 // the memory is always there
        wire unused_wstream = ^{s_axis_weight_tvalid, s_axis_weight_tdata};
    end

    assign free      = !ev_v || (ag == LAST_G && w_go);
    assign ev_hs     = s_axis_event_tvalid && s_axis_event_tready;
    assign acc_issue = acc && ev_v && w_go;
    if (PAIRS != 0) begin : g_pairs
        // a beat fills the empty holding register, or pairs with the held event as the scatter frees
        assign s_axis_event_tready = acc && !ev_seen_last && (!h_v || free);
        assign pair_go = acc && h_v && free && (ev_hs || h_last);
        assign acc_end = (ev_seen_last && !h_v && free) || (ev_hs && s_axis_event_tuser);
    end else begin : g_single
        assign s_axis_event_tready = acc && !ev_seen_last && free;
        assign pair_go = 1'b0;
        wire unused_hold = ^{h_v, h_last};    // no holding register (its logic is optimised away)
        // Leave while the last group of the last event is issued (or on the empty beat); its
        // write meets the first update read through the accumulator's forwarding.
        assign acc_end = (ev_seen_last && free) || (ev_hs && s_axis_event_tuser);
    end

    always_ff @(posedge clk) begin
        if (idle && start) begin
            first_q      <= first_step;
            ev_v         <= 1'b0;
            ev_seen_last <= 1'b0;
            h_v          <= 1'b0;
        end
        if (acc) begin
            if (acc_issue) begin
                ag <= ag + 1'b1;
                wa <= wa_next;
                wb <= wb_next;
                if (ag == LAST_G) begin
                    ev_v <= 1'b0;
                end
            end
            if (ev_hs) begin
                ev_seen_last <= s_axis_event_tlast || s_axis_event_tuser;
            end
            if (PAIRS == 0) begin
                if (ev_hs && !s_axis_event_tuser) begin
                    ev_v <= 1'b1;
                    wa   <= ev_row;
                    ag   <= '0;
                end
            end else begin
                if (pair_go) begin              // the held event, and the beat if one came
                    ev_v <= 1'b1;
                    wa   <= h_row;
                    wb   <= ev_row;
                    wb_v <= ev_hs;
                    ag   <= '0;
                    h_v  <= 1'b0;
                end else if (ev_hs && !s_axis_event_tuser) begin
                    h_v    <= 1'b1;             // held until the next beat, or alone if last
                    h_row  <= ev_row;
                    h_last <= s_axis_event_tlast;
                end
            end
        end
        if (rst) begin
            ev_v <= 1'b0;
            h_v  <= 1'b0;
        end
    end

    // ------------------------------------------------------------------ currents
    logic [P*ACC_BITS-1:0] cur;

    fsvae_current_acc #(.P(P), .W_BITS(W_BITS), .B_BITS(B_BITS), .ACC_BITS(ACC_BITS), .ROWS(IN * G),
                        .WORDS(G), .BWORDS(G), .WEIGHT_FILE(WEIGHT_FILE), .WEIGHT_LOAD(WEIGHT_LOAD),
                        .WEIGHT_STYLE(WEIGHT_STYLE), .WEIGHT_STREAM(WEIGHT_STREAM),
                        .BIAS_FILE(BIAS_FILE), .PAIRS(PAIRS)) u_currents (
        .clk, .rst,
        .add_en(acc_issue), .add_waddr(wa), .add_aaddr(ag), .add_wdata(s_axis_weight_tdata),
        .add_waddr2(wb), .add_second(wb_v),
        .rd_en(upd_issue), .rd_aaddr(ua_g), .rd_baddr(ua_g), .cur,
        // the update clears each word it reads (no bias-load pass); the reset clears all
        .clr_en(upd_adv || init), .clr_addr(upd_adv ? updb_g : clr_g),
        .wl_en, .wl_addr, .wl_data
    );

    // ------------------------------------------------------------------ neurons
    logic                  st_re;
    logic [G_W-1:0]        st_ra;
    logic [P*MEM_BITS-1:0] u_q, u_new;
    logic [P-1:0]          s_q, s_new;

    assign st_re = upd_issue || idle;
    assign st_ra = upd_issue ? ua_g : dbg_group;

    // membranes and spike bits in one memory: written and read together
    fsvae_state_ram #(.DEPTH(G), .WIDTH(P * MEM_BITS + P)) u_state (
        .clk, .we(upd_adv), .waddr(updb_g), .wdata({u_new, s_new}),
        .re(st_re), .raddr(st_ra), .rdata({u_q, s_q})
    );

    assign dbg_membrane = u_q;
    assign dbg_spike    = s_q;

    fsvae_lif_datapath #(.P(P), .CUR_BITS(ACC_BITS), .MEM_BITS(MEM_BITS), .THRESHOLD(THRESHOLD)) u_lif (
        .first(first_q), .cur, .u_old(u_q), .s_old(s_q), .u_new, .s_new
    );

    // ------------------------------------------------------------------ emitter
    // Stage C: the group's spike word in a register, so that the emitter's flags ("rest of
    // the word", "one bit left") wait on no LIF adder and compare (the deepest path when the
    // word went straight in); the update hands a word on as C empties or is taken.
    logic             c_v, mask_ready;
    logic [P-1:0]     c_mask;
    logic [G_W-1:0]   c_g;
    logic             emit_busy;   // unused: the step ends with the tlast beat
    logic [OUT_W-1:0] emit_base;   // the group's first neuron
    assign emit_ready = !c_v || mask_ready;
    assign emit_base  = OUT_W'(c_g) * OUT_W'(P);

    always_ff @(posedge clk) begin
        if (upd_adv) begin
            c_v    <= 1'b1;
            c_mask <= s_new;
            c_g    <= updb_g;
        end else if (mask_ready) begin
            c_v <= 1'b0;
        end
        if (rst) begin
            c_v <= 1'b0;
        end
    end

    if (MASKS == 0) begin : g_emitter
        fsvae_spike_emitter #(.P(P), .OUT_W(OUT_W), .REG_OUT(0)) u_emitter (
            .clk, .rst,
            .s_axis_mask_tdata({emit_base, c_mask}), .s_axis_mask_tvalid(c_v),
            .s_axis_mask_tready(mask_ready), .s_axis_mask_tlast(c_g == LAST_G),
            .m_axis_spike_tdata, .m_axis_spike_tvalid, .m_axis_spike_tready, .m_axis_spike_tlast,
            .m_axis_spike_tuser, .busy(emit_busy)
        );
        assign m_axis_mask_tdata  = '0;
        assign m_axis_mask_tvalid = 1'b0;
        assign m_axis_mask_tlast  = 1'b0;
        wire unused_mask_ready = m_axis_mask_tready;
    end else begin : g_masks
        // stage C is the output beat: one group a cycle, every group (empty or not)
        assign m_axis_mask_tdata   = {c_g, c_mask};
        assign m_axis_mask_tvalid  = c_v;
        assign m_axis_mask_tlast   = c_g == LAST_G;
        assign mask_ready          = m_axis_mask_tready;
        assign m_axis_spike_tdata  = '0;
        assign m_axis_spike_tvalid = 1'b0;
        assign m_axis_spike_tlast  = 1'b0;
        assign m_axis_spike_tuser  = 1'b0;
        assign emit_busy           = 1'b0;
        wire unused_spike_ready = ^{m_axis_spike_tready, emit_base};
    end
    wire unused_emit = ^{emit_busy, updb_v};   // stage B's valid: upd_adv says what C needs

`ifndef SYNTHESIS
    always_ff @(posedge clk) begin
        if (!rst && ev_hs && !s_axis_event_tuser && 32'(s_axis_event_tdata) >= 32'(IN)) begin
            $error("fsvae_lif_linear: event index %0d >= IN (%0d)", s_axis_event_tdata, IN);
        end
    end
`endif

endmodule

`default_nettype wire
