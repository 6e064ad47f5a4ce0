// Event-driven LIF linear layer: one time step per `start`, bit-exact with
// golden.linear + golden.LIFState.step (sw/fsvae_fpga/golden.py); the RTL twin of
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
//   dbg_group -> dbg_membrane / dbg_spike: while busy is low, the P membranes and spikes of
//     output group dbg_group (lane p = output dbg_group*P + p), one cycle after dbg_group.
//
// Memory files ($readmemh, one word per line, two's complement, lane 0 in the low bits):
//   WEIGHT_FILE: IN*G lines, line i*G + g = weights W[g*P + p][i], p = 0..P-1, W_BITS each
//   BIAS_FILE:   G lines,    line g       = biases  b[g*P + p],    p = 0..P-1, B_BITS each
//   (G = OUT / P.)
//
// Widths: ACC_BITS must hold the layer's current_range and MEM_BITS its membrane_range
// (hwmodel.py bound analysis).  Every partial sum bias + (subset of weights) is a possible
// current, so it also lies in current_range; the accumulators hold the weight sum alone and
// add the bias in the update, all modulo 2^ACC_BITS, which is exact because the final sum
// fits.  Nothing saturates: the bound analysis makes overflow impossible.
//
// Microarchitecture (G = OUT / P output groups, one group = P lanes = one RAM word):
//   accumulate: each event reads G consecutive weight words (address i*G + g) and adds them
//     to the G accumulator words, one (event, group) per cycle; the next event is accepted
//     during the last group of the current one, so back-to-back events cost exactly G cycles.
//   update:     G cycles, one group per cycle: acc + bias, leak, compare; membranes and
//     spikes written back, the accumulator word cleared for the next step (so no bias-load
//     pass is needed; the reset clears it once).  The group's spike mask goes to the
//     emitter, which serialises it (one index per cycle) and stalls the update only while it
//     still holds two or more spikes of an earlier group.  One spike is held back until the
//     next is known or the update is finished, so tlast is exact.  m_axis_spike_tready
//     reaches the update's RAM enables combinationally (tvalid does not depend on it); add
//     a register slice on the output if that path limits the clock.
//   Accumulator read-modify-write: the RAM read is synchronous (issue in cycle t, data in
//     t+1, sum written at the end of t+1), so with G = 1 the next event's read of the same
//     word is sampled at the very edge that writes it.  The read port therefore records, at
//     each read, whether the write port is writing the same word at that edge, and if so
//     takes the written value instead of the RAM output (read-first and write-first RAMs
//     both work).  With G >= 2 the write is always an edge earlier than the re-read.  The
//     same forwarding covers the last accumulate write against the first update read.
//
// Cycles per step (busy cycles, start to done, no input idle and no output backpressure):
//   E events (E = 0: the empty beat), k_g spikes in group g:
//     3 + (E + 1) * G + sum_{g < G-1} max(k_g - 1, 0) + k_{G-1}
//   i.e. G per event, G for the update, plus the emitter's stalls (a group holding k spikes
//   needs k cycles); `cycles` reports the count of the last completed step.
//
// Cost: weight ROM IN*G x P*W_BITS, bias ROM G x P*B_BITS, accumulator RAM G x P*ACC_BITS,
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
    parameter     BIAS_FILE   = "bias.hex",
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
    // weight load port (WEIGHT_LOAD = 1): word wl_addr of the weight memory (file layout)
    input  wire logic                    wl_en,
    input  wire logic [WL_W-1:0]         wl_addr,
    input  wire logic [P*W_BITS-1:0]     wl_data,


    input  wire logic [G_W-1:0]          dbg_group,
    output logic [P*MEM_BITS-1:0]        dbg_membrane,
    output logic [P-1:0]                 dbg_spike
);

    localparam int G        = OUT / P;
    localparam int WA_W     = (IN * G > 1) ? $clog2(IN * G) : 1;
    localparam int P_W      = (P > 1) ? $clog2(P) : 1;
    localparam int CMP_BITS = (MEM_BITS > 32) ? MEM_BITS : 32;
    localparam logic signed [CMP_BITS-1:0] THR = CMP_BITS'(THRESHOLD);
    localparam logic [G_W-1:0] LAST_G = G_W'(G - 1);

    if (P < 1 || OUT % P != 0) begin : g_bad_lanes
        $error("fsvae_lif_linear: OUT (%0d) must be a multiple of P (%0d)", OUT, P);
    end

    localparam logic [1:0] S_INIT = 2'd0, S_IDLE = 2'd1, S_ACC = 2'd2, S_UPD = 2'd3;
    logic [1:0]  state;
    logic        first_q;
    logic [31:0] cycles_cnt;

    // ------------------------------------------------------------------ memories
    logic [P*B_BITS-1:0]   b_mem   [G];
    logic [P*ACC_BITS-1:0] acc_mem [G];
    logic [P*MEM_BITS-1:0] u_mem   [G];
    logic [P-1:0]          s_mem   [G];

    initial begin
        $readmemh(BIAS_FILE, b_mem);
    end
    fsvae_file_check #(.FILE(BIAS_FILE)) u_bias_file_check ();

    // ------------------------------------------------------------------ accumulate: address
    logic            ev_v;         // an event is being scattered
    logic [WA_W-1:0] ev_base;      // its first weight word, index * G
    logic [G_W-1:0]  ag;           // group being issued
    logic            ev_seen_last; // the step's last (or empty) beat was accepted
    logic            ev_hs, acc_issue;

    assign s_axis_event_tready = (state == S_ACC) && !ev_seen_last && (!ev_v || ag == LAST_G);
    assign ev_hs     = s_axis_event_tvalid && s_axis_event_tready;
    assign acc_issue = (state == S_ACC) && ev_v;

    // ------------------------------------------------------------------ update: address
    logic             ua_active;   // groups left to issue
    logic [G_W-1:0]   ua_g;
    logic [OUT_W-1:0] ua_base;     // ua_g * P
    logic             upd_issue, upd_adv, upd_all_done;

    // Stage B registers (RAM outputs arrive here)
    logic             accb_v;
    logic [G_W-1:0]   accb_g;
    logic             updb_v;
    logic [G_W-1:0]   updb_g;
    logic [OUT_W-1:0] updb_base;

    // Emitter
    logic [P-1:0]     mask_c;      // spikes of group base_c not yet moved to hold
    logic [OUT_W-1:0] base_c;
    logic             hold_v;      // one spike index waiting for its tlast to be known
    logic [OUT_W-1:0] hold_idx;
    logic             c_ready, move, out_fire;

    assign upd_all_done = (state == S_UPD) && !ua_active && !updb_v;
    assign upd_issue    = (state == S_UPD) && ua_active && (!updb_v || upd_adv);
    assign upd_adv      = updb_v && c_ready;

    // ------------------------------------------------------------------ RAM ports
    logic [WA_W-1:0]       w_ra;
    logic [P*W_BITS-1:0]   w_q;
    logic [P*B_BITS-1:0]   b_q;
    logic                  acc_re, acc_we;
    logic [G_W-1:0]        acc_ra, acc_wa;
    logic [P*ACC_BITS-1:0] acc_wd, acc_q, acc_sum, fwd_data;
    logic                  fwd_sel;
    logic                  st_re;
    logic [G_W-1:0]        st_ra;
    logic [P*MEM_BITS-1:0] u_q, u_new;
    logic [P-1:0]          s_q, s_new;
    logic [G_W-1:0]        ig;     // clear pointer after reset

    assign w_ra   = ev_base + WA_W'(ag);
    assign acc_re = acc_issue || upd_issue;
    assign acc_ra = acc_issue ? ag : ua_g;
    assign st_re  = upd_issue || (state == S_IDLE);
    assign st_ra  = upd_issue ? ua_g : dbg_group;

    always_comb begin
        acc_we = 1'b0;
        acc_wa = accb_g;
        acc_wd = acc_sum;
        if (accb_v) begin
            acc_we = 1'b1;
        end else if (upd_adv) begin
            acc_we = 1'b1;
            acc_wa = updb_g;
            acc_wd = '0;
        end else if (state == S_INIT) begin
            acc_we = 1'b1;
            acc_wa = ig;
            acc_wd = '0;
        end
    end

    fsvae_weight_mem #(.DEPTH(IN * G), .WIDTH(P * W_BITS), .INIT_FILE(WEIGHT_FILE), .LOADABLE(WEIGHT_LOAD),
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

    always_ff @(posedge clk) begin
        if (upd_adv) begin
            u_mem[updb_g] <= u_new;
            s_mem[updb_g] <= s_new;
        end
        if (st_re) begin
            u_q <= u_mem[st_ra];
            s_q <= s_mem[st_ra];
        end
    end

    assign dbg_membrane = u_q;
    assign dbg_spike    = s_q;

    // ------------------------------------------------------------------ lanes
    for (genvar p = 0; p < P; p++) begin : g_lane
        logic signed [ACC_BITS-1:0] acc_op, w_ext, b_ext, cur;
        // Bits above ACC_BITS of a wider weight or bias are not needed (modular sum).
        /* verilator lint_off UNUSEDSIGNAL */
        logic signed [W_BITS-1:0]   w;
        logic signed [B_BITS-1:0]   b;
        /* verilator lint_on UNUSEDSIGNAL */
        logic signed [MEM_BITS-1:0] u_old, shifted, leaked, u;

        assign acc_op = fwd_sel ? fwd_data[p*ACC_BITS +: ACC_BITS] : acc_q[p*ACC_BITS +: ACC_BITS];
        assign w      = w_q[p*W_BITS +: W_BITS];
        assign w_ext  = ACC_BITS'(w);          // sign-extend (or wrap: exact modulo 2^ACC_BITS)
        assign acc_sum[p*ACC_BITS +: ACC_BITS] = acc_op + w_ext;

        assign b      = b_q[p*B_BITS +: B_BITS];
        assign b_ext  = ACC_BITS'(b);
        assign cur    = acc_op + b_ext;
        assign u_old  = u_q[p*MEM_BITS +: MEM_BITS];
        // The shift has its own signal: inside ?: next to an unsigned '0 it would be
        // evaluated unsigned, i.e. as a logical shift.
        assign shifted = u_old >>> 2;
        // Hard reset: a neuron that spiked restarts from its current alone.
        assign leaked = (first_q || s_q[p]) ? '0 : shifted;
        assign u      = leaked + MEM_BITS'(cur);
        assign u_new[p*MEM_BITS +: MEM_BITS] = u;
        assign s_new[p] = CMP_BITS'(u) > THR;
    end

    // ------------------------------------------------------------------ emitter
    function automatic logic [P_W-1:0] lowest(input logic [P-1:0] m);
        lowest = '0;
        for (int i = P - 1; i >= 0; i--) begin
            if (m[i]) begin
                lowest = P_W'(i);
            end
        end
    endfunction

    logic mask_one;   // mask_c has at most one bit set
    assign mask_one = (mask_c & (mask_c - 1'b1)) == '0;

    assign m_axis_spike_tvalid = (state == S_UPD)
                               && (hold_v ? (mask_c != '0 || upd_all_done) : (mask_c == '0 && upd_all_done));
    assign m_axis_spike_tdata  = hold_v ? hold_idx : '0;
    assign m_axis_spike_tlast  = mask_c == '0;
    assign m_axis_spike_tuser  = !hold_v;
    assign out_fire = m_axis_spike_tvalid && m_axis_spike_tready;
    assign move     = (mask_c != '0) && (!hold_v || out_fire);
    assign c_ready  = (mask_c == '0) || (mask_one && move);

    // ------------------------------------------------------------------ control
    assign busy = (state != S_IDLE);

    always_ff @(posedge clk) begin
        done <= 1'b0;

        case (state)
            S_INIT: begin
                ig <= ig + 1'b1;
                if (ig == LAST_G) begin
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
                    ag <= ag + 1'b1;
                    if (ag == LAST_G) begin
                        ev_v <= 1'b0;
                    end
                end
                if (ev_hs) begin
                    ev_seen_last <= s_axis_event_tlast || s_axis_event_tuser;
                    if (!s_axis_event_tuser) begin
                        ev_v    <= 1'b1;
                        ev_base <= WA_W'(s_axis_event_tdata) * WA_W'(G);
                        ag      <= '0;
                    end
                end
                // Leave while the last group of the last event is issued (or on the empty
                // beat); its write meets the first update read through the forwarding.
                if ((ev_seen_last && (!ev_v || ag == LAST_G)) || (ev_hs && s_axis_event_tuser)) begin
                    state     <= S_UPD;
                    ua_active <= 1'b1;
                    ua_g      <= '0;
                    ua_base   <= '0;
                end
            end
            S_UPD: begin
                cycles_cnt <= cycles_cnt + 1'b1;
                if (out_fire && m_axis_spike_tlast) begin
                    state  <= S_IDLE;
                    done   <= 1'b1;
                    cycles <= cycles_cnt;
                end
            end
            default: state <= S_IDLE;
        endcase

        // Update stages A and B
        if (upd_issue) begin
            ua_g    <= ua_g + 1'b1;
            ua_base <= ua_base + OUT_W'(P);
            if (ua_g == LAST_G) begin
                ua_active <= 1'b0;
            end
            updb_v    <= 1'b1;
            updb_g    <= ua_g;
            updb_base <= ua_base;
        end else if (upd_adv) begin
            updb_v <= 1'b0;
        end

        // Accumulate stage B
        accb_v <= acc_issue;
        accb_g <= ag;

        // Emitter
        if (move) begin
            hold_v   <= 1'b1;
            hold_idx <= base_c + OUT_W'(lowest(mask_c));
            mask_c   <= mask_c & (mask_c - 1'b1);
        end else if (out_fire) begin
            hold_v <= 1'b0;   // the last spike (or the empty beat) left
        end
        if (upd_adv) begin
            mask_c <= s_new;  // c_ready: the old mask is empty or leaves now
            base_c <= updb_base;
        end

        if (rst) begin
            state     <= S_INIT;
            ig        <= '0;
            done      <= 1'b0;
            cycles    <= '0;
            ev_v      <= 1'b0;
            ua_active <= 1'b0;
            updb_v    <= 1'b0;
            accb_v    <= 1'b0;
            mask_c    <= '0;
            hold_v    <= 1'b0;
        end
    end

`ifndef SYNTHESIS
    always_ff @(posedge clk) begin
        if (!rst && ev_hs && !s_axis_event_tuser && 32'(s_axis_event_tdata) >= 32'(IN)) begin
            $error("fsvae_lif_linear: event index %0d >= IN (%0d)", s_axis_event_tdata, IN);
        end
    end
`endif

endmodule

`default_nettype wire
