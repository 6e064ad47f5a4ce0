// Spike bitmap -> event list: the ascending indices of the set bits of an N-bit spike
// vector (the RTL twin of hls/fsvae/event_list.h, spikes_to_events).
//
// Input s_axis_*: the bitmap as a stream of W-bit words (tdata), word w holding bits
//   w*W .. w*W+W-1 (bit 0 of the word = lowest index).  NW = ceil(N/W) words make one
//   list; the module counts them, so there is no input tlast, and lists may follow back to
//   back.  Bits at or above N in the last word are ignored.  A stream composes with any
//   producer: a layer engine emitting its spikes in neuron order, or a bitmap RAM read
//   by an address counter; the module never holds more than one word, and its storage
//   does not grow with N (no N-wide vector, no N-wide priority encoder).
// Output m_axis_*: one beat per set bit, tdata = its index, ascending, tlast on the list's
//   last event.  A list without any set bit produces exactly one beat with tuser = 1
//   ("empty") and tlast = 1 (tdata = 0), so a consumer that runs until tlast never hangs:
//   the engines' s_axis_event_* conventions.  `done` pulses for one cycle after the tlast
//   beat is accepted, with done_count = the number of events of that list (0 for an empty
//   list).
//
// Throughput: one event per cycle when neither side stalls; a word with m set bits
//   occupies the scanner for max(m, 1) cycles (an all-zero word costs one cycle).
//   tlast can only be known once every later word has been seen, so each event waits
//   in a one-entry holding register for the next event or the end of the list; the
//   first event of a list leaves 3 cycles after its word is accepted when it is alone
//   in the list's last word, later events follow one per cycle.  One bubble is added
//   only when an empty list directly follows a list that ended in its last word.
// Handshake: s_axis_tready and m_axis_tvalid depend on registers only (no combinational
//   path between m_axis_tready and s_axis_tready); the output is a 2-entry FIFO.
// Synchronous active-high reset.

`default_nettype none

module fsvae_event_list #(
    parameter int N = 64,                               // inputs (bits per list), >= 1
    parameter int W = 32,                               // bitmap word width, >= 1
    parameter int IDX_W = (N > 1) ? $clog2(N) : 1,      // event index width
    parameter int CNT_W = $clog2(N + 1)                 // event count width (holds N)
) (
    input  wire logic             clk,
    input  wire logic             rst,

    input  wire logic             s_axis_tvalid,
    output logic                  s_axis_tready,
    input  wire logic [W-1:0]     s_axis_tdata,

    output logic                  m_axis_tvalid,
    input  wire logic             m_axis_tready,
    output logic [IDX_W-1:0]      m_axis_tdata,
    output logic                  m_axis_tlast,
    output logic                  m_axis_tuser,

    output logic                  done,
    output logic [CNT_W-1:0]      done_count
);

    localparam int NW = (N + W - 1) / W;                // words per list
    localparam int WIDX_W = (NW > 1) ? $clog2(NW) : 1;
    // Bit position within a word; never wider than an index (when W > 2**IDX_W, the
    // list is one word and every set bit is below N <= 2**IDX_W).
    localparam int PW_W = (W > 1) ? $clog2(W) : 1;
    localparam int PW = (PW_W < IDX_W) ? PW_W : IDX_W;
    localparam int REM = N - (NW - 1) * W;              // used bits of the last word
    localparam logic [W-1:0] LAST_MASK = {W{1'b1}} >> (W - REM);
    localparam logic [WIDX_W-1:0] LAST_WORD = WIDX_W'(NW - 1);

    if (N < 1 || W < 1) begin : g_bad_n
        $error("fsvae_event_list: N and W must be at least 1");
    end
    if ((N > 1 && IDX_W < $clog2(N)) || IDX_W < 1) begin : g_bad_idx_w
        $error("fsvae_event_list: IDX_W must hold N-1");
    end
    if (CNT_W < $clog2(N + 1)) begin : g_bad_cnt_w
        $error("fsvae_event_list: CNT_W must hold N");
    end

    // ------------------------------------------------------------------ input side
    logic [WIDX_W-1:0] in_widx;                         // word index of the next input word
    logic [IDX_W-1:0]  in_base;                         // in_widx * W

    // ------------------------------------------------------------------ scanner (stage A)
    logic              a_valid;
    logic [W-1:0]      a_word;                          // bits not yet emitted
    logic [IDX_W-1:0]  a_base;
    logic              a_lastw;                         // word is the list's last
    // Registered views of a_word, each computed a cycle ahead on the register's input, so
    // that s_axis_tready, the event and its last flag wait on no W-bit subtraction or
    // reduction: a_rest = a_word without its lowest set bit, a_single = (a_rest == 0) (at
    // most one bit left: the next event is the word's last), a_nz = (a_word != 0).
    logic [W-1:0]      a_rest;
    logic              a_single;
    logic              a_nz;

    logic [W-1:0]      a_low;                           // a_word's lowest set bit, one-hot
    logic [PW-1:0]     a_pos;
    logic [IDX_W-1:0]  a_ev;
    logic              a_final;                         // a_ev is the list's last event

    assign a_low = a_word & ~a_rest;
    always_comb begin                                   // one-hot -> index: OR trees
        a_pos = '0;
        for (int i = 0; i < W; i++) begin
            if (a_low[i]) begin
                a_pos = a_pos | PW'(i);
            end
        end
    end

    assign a_ev    = a_base + IDX_W'(a_pos);
    assign a_final = a_lastw && a_single;

    // ------------------------------------------------------------------ holding register (B)
    // pend_conf: the held event is known to be its list's last (the list has ended).
    logic              pend_valid;
    logic              pend_conf;
    logic [IDX_W-1:0]  pend_idx;

    // ------------------------------------------------------------------ output FIFO
    localparam int FIFO_DEPTH = 2;
    logic [IDX_W-1:0]  f_idx   [FIFO_DEPTH];
    logic              f_last  [FIFO_DEPTH];
    logic              f_empty [FIFO_DEPTH];
    logic              f_wp, f_rp;
    logic [1:0]        f_cnt;
    logic              f_space;
    logic              f_pop;

    // f_space (f_cnt != FIFO_DEPTH) is a register: the scanner's advance, and s_axis_tready
    // behind it, wait on no count compare
    assign f_pop   = m_axis_tvalid && m_axis_tready;

    assign m_axis_tvalid = (f_cnt != 2'd0);
    assign m_axis_tdata  = f_idx[f_rp];
    assign m_axis_tlast  = f_last[f_rp];
    assign m_axis_tuser  = f_empty[f_rp];

    // ------------------------------------------------------------------ A -> B -> FIFO
    logic              a_go;                            // scanner advances this cycle
    logic              a_done_word;                     // ... and finishes its word
    logic              push;
    logic [IDX_W-1:0]  push_idx;
    logic              push_last;
    logic              push_empty;
    logic              pend_load;
    logic              pend_clear;

    always_comb begin
        a_go       = 1'b0;
        push       = 1'b0;
        push_idx   = pend_idx;
        push_last  = 1'b1;
        push_empty = 1'b0;
        pend_load  = 1'b0;
        pend_clear = 1'b0;
        if (a_valid && a_nz) begin
            // an event: it replaces the held one, which leaves (its last flag is known)
            if (!pend_valid) begin
                a_go      = 1'b1;
                pend_load = 1'b1;
            end else if (f_space) begin
                a_go      = 1'b1;
                pend_load = 1'b1;
                push      = 1'b1;
                push_last = pend_conf;
            end
        end else if (a_valid && a_lastw && !(pend_valid && pend_conf)) begin
            // end of the list on an empty last word: the held event is the last one,
            // or, when nothing is held, the list had no event at all
            if (f_space) begin
                a_go = 1'b1;
                push = 1'b1;
                if (pend_valid) begin
                    pend_clear = 1'b1;
                end else begin
                    push_empty = 1'b1;
                    push_idx   = '0;
                end
            end
        end else begin
            // an empty middle word, no word, or an empty last word that must wait for
            // the previous list's confirmed last event to leave first
            a_go = a_valid && !a_lastw;
            if (pend_valid && pend_conf && f_space) begin
                push       = 1'b1;
                pend_clear = 1'b1;
            end
        end
    end

    assign a_done_word   = a_go && a_single;            // a_rest == 0
    assign s_axis_tready = !a_valid || a_done_word;

    logic [W-1:0] in_word, in_rest, rest_rest;          // the input word (bits >= N cleared)
    logic         in_single, rest_single;               // in_rest == 0, rest_rest == 0
    assign in_word     = s_axis_tdata & ((in_widx == LAST_WORD) ? LAST_MASK : {W{1'b1}});
    assign in_rest     = in_word & (in_word - 1'b1);
    assign rest_rest   = a_rest & (a_rest - 1'b1);
    // in_rest == 0 and rest_rest == 0 as carry-free trees on the words themselves: the flags
    // wait on no W-bit subtraction (as the subtraction in LUTs, 8 levels deep, it set the
    // KV260 clock on the latent bitmaps' lists)
    fsvae_at_most_one #(.W(W)) u_in_single (.x(in_word), .y(in_single));
    fsvae_at_most_one #(.W(W)) u_rest_single (.x(a_rest), .y(rest_single));

    always_ff @(posedge clk) begin
        if (push) begin
            f_idx[f_wp]   <= push_idx;
            f_last[f_wp]  <= push_last;
            f_empty[f_wp] <= push_empty;
        end
        if (pend_load) begin
            pend_idx <= a_ev;
        end
        if (s_axis_tvalid && s_axis_tready) begin
            a_word   <= in_word;
            a_rest   <= in_rest;
            a_single <= in_single;
            a_nz     <= (in_word != '0);
            a_base   <= in_base;
            a_lastw  <= (in_widx == LAST_WORD);
        end else if (a_go) begin
            a_word   <= a_rest;
            a_rest   <= rest_rest;
            a_single <= rest_single;
            a_nz     <= !a_single;
        end
    end

    logic [CNT_W-1:0] out_cnt;                          // events of the list accepted so far

    always_ff @(posedge clk) begin
        if (rst) begin
            in_widx    <= '0;
            in_base    <= '0;
            a_valid    <= 1'b0;
            pend_valid <= 1'b0;
            pend_conf  <= 1'b0;
            f_wp       <= 1'b0;
            f_rp       <= 1'b0;
            f_cnt      <= '0;
            f_space    <= 1'b1;
            out_cnt    <= '0;
            done       <= 1'b0;
            done_count <= '0;
        end else begin
            if (s_axis_tvalid && s_axis_tready) begin
                a_valid <= 1'b1;
                if (in_widx == LAST_WORD) begin
                    in_widx <= '0;
                    in_base <= '0;
                end else begin
                    in_widx <= in_widx + 1'b1;
                    in_base <= in_base + IDX_W'(W);
                end
            end else if (a_done_word) begin
                a_valid <= 1'b0;
            end

            if (pend_load) begin
                pend_valid <= 1'b1;
                pend_conf  <= a_final;
            end else if (pend_clear) begin
                pend_valid <= 1'b0;
                pend_conf  <= 1'b0;
            end

            if (push) begin
                f_wp <= ~f_wp;
            end
            if (f_pop) begin
                f_rp <= ~f_rp;
            end
            f_cnt   <= f_cnt + 2'(push) - 2'(f_pop);
            f_space <= (f_cnt + 2'(push) - 2'(f_pop)) != 2'(FIFO_DEPTH);

            done <= 1'b0;
            if (f_pop) begin
                if (m_axis_tlast) begin
                    done       <= 1'b1;
                    done_count <= m_axis_tuser ? '0 : out_cnt + 1'b1;
                    out_cnt    <= '0;
                end else begin
                    out_cnt <= out_cnt + 1'b1;
                end
            end
        end
    end

endmodule

`default_nettype wire
