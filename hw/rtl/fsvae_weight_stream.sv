// Weight streamer: a linear layer's weight rows fetched from DDR through an AXI4 read
// master, row after row in the order of the layer's input events, for a fsvae_lif_linear in
// its weight-stream mode (the layers too large to hold on chip: the paper-size model on
// PYNQ-Z2, through a Zynq-7000 HP port).
//
//   s_axis_event_* -> event FIFO (EV_DEPTH) -> m_axis_event_*: the layer's input events
//     (tdata = input index < IN, tlast = the step's last, tuser = the step's empty beat,
//     tdata ignored), forwarded unchanged and in order to the engine.  Each non-empty event
//     requests its weight row as soon as it is accepted (prefetch: the events run ahead of
//     the engine, across time steps, by as much as the FIFOs hold).  tready comes from
//     registers only.
//   m_axis_weight_*: the rows' words, exactly ROW_WORDS words per non-empty event, in event
//     order (word g of row i holds the weights of outputs g*P .. g*P+P-1 for input i, lane 0
//     in the low bits).  The consumer may raise tready whenever it wants the next word,
//     regardless of tvalid: tready && !tvalid is a starved cycle (counted in starve_cycles).
//     tvalid and tdata come from registers.
//   base_addr: row 0's byte address, stable during a run.  Row i is ROW_WORDS*WORD_BITS/8
//     useful bytes at base_addr + i * ROW_BYTES, read as ROW_BEATS = ceil(useful bytes /
//     (DATA_BITS/8)) beats in bursts of MAX_BURST beats, the last burst shorter.  Words
//     narrower than a beat: a beat holds DATA_BITS/WORD_BITS words, low first, and the
//     unused words of a row's last beat are dropped.  Words wider than a beat:
//     WORD_BITS/DATA_BITS beats form one word, low beat first.
//   m_axi_ar*, m_axi_r*: the AXI4 read channels (single ID, INCR bursts, arsize = the
//     data width).  The AR outputs are registers and hold while arvalid is not accepted.
//     rresp != OKAY sets `error`.
//   beats: R beats received; starve_cycles: cycles with m_axis_weight_tready &&
//     !m_axis_weight_tvalid; error: a beat came with rresp != OKAY (the weights are wrong).
//     All three are cleared by rst and by `clear` (a pulse at a run's start).
//
// Flow control by credits: a burst is issued only when the data FIFO has room for all its
// beats counting every beat still outstanding, so the streamer never refuses an R beat
// (m_axi_rready is constantly 1).  Several streamers can therefore share one AXI port
// through an in-order router (R beats returned in AR order, each to the streamer that
// issued the burst) without a deadlock: no streamer's stall can block the R channel for
// the others.  No deadlock with the engine either: every event the engine can take has had
// its row requested, the rows come back in order, and a burst waits only for the engine to
// consume words of earlier rows (FIFO_BEATS holds at least one burst).
//
// Memory layout (the generator's guarantee, checked at elaboration where it can be):
// ROW_BYTES is a multiple of BURST_BYTES = MAX_BURST * DATA_BITS/8, or a power of two
// <= BURST_BYTES, and base_addr is 4 KB aligned (BURST_BYTES aligned would do), so no burst
// crosses a BURST_BYTES boundary, hence none crosses a 4 KB one.  MAX_BURST = 16: the AXI3
// HP ports of a Zynq-7000 take at most 16 beats.
//
// Pipeline (every AXI output a register; the data FIFO is a synchronous-read RAM):
//   event accepted -> request FIFO (2) -> row offset i * ROW_BYTES (register) -> burst
//   address base + offset, then + BURST_BYTES per burst (register) -> AR register
//   (loaded when it is free or being accepted, the credits cover the burst and fewer than
//   MAX_OUTSTANDING bursts are outstanding) ... R beat -> data FIFO RAM (FIFO_BEATS x
//   DATA_BITS, block RAM) -> RAM output register -> word register (a shift register
//   splitting the beat into words, or the gathered beats of a wide word; none when a word
//   is a beat) -> m_axis_weight.
//   Latency: the AR handshake 3 cycles after the event's (arready high); the first word
//   taken 3 cycles after its R beat (2 when WORD_BITS = DATA_BITS), so from idle a row's
//   first word comes the memory's latency + 6 cycles after its event.  Throughput: one burst per cycle
//   on AR, one beat per cycle on R, one word per cycle out (WORD_BITS <= DATA_BITS) or one
//   word per WORD_BITS/DATA_BITS cycles.  Sustained, the memory's rate binds, or the
//   outstanding bursts: MAX_OUTSTANDING * (average burst) beats in flight per round trip
//   (latency + burst transfer + ~6 cycles), and the credits: FIFO_BEATS beats per round
//   trip (sim/fsvae_weight_stream: 0.75 beats per cycle at latency 60 needs about 60 beats
//   in flight: 4 full bursts, or 8 bursts of rows of 16 + 4 beats).
// Cost (Yosys synth_xilinx, xc7, IN = 64, 67 words of 32 bits, ROW_BYTES = 384): 1 RAMB36,
// 2 RAM32M (event FIFO), ~160 LUTs, 300 FFs, 4 LUT levels + 1 carry at the deepest.
// Synchronous active-high reset (control only; the data paths need none).  Reset only while
// no burst is outstanding (with the AXI port's own reset, or after a run has drained):
// beats of a burst issued before the reset would be taken as the next rows' beats.

`default_nettype none

module fsvae_weight_stream #(
    parameter int IN              = 16,        // rows (event index range)
    parameter int ROW_WORDS       = 4,         // words per row (the engine's G)
    parameter int WORD_BITS       = 32,        // a multiple of 8 dividing DATA_BITS, or a multiple of it
    parameter int DATA_BITS       = 64,        // AXI data width
    parameter int ADDR_BITS       = 32,        // AXI address width
    parameter int ROW_BYTES       = 16,        // row stride in memory, bytes
    parameter int MAX_BURST       = 16,        // beats per burst, a power of two (AXI3: <= 16)
    parameter int FIFO_BEATS      = 256,       // data FIFO depth in beats, a power of two
    parameter int MAX_OUTSTANDING = 4,         // bursts in flight
    parameter int EV_DEPTH        = 32,        // event FIFO depth, a power of two >= 2
    parameter int IN_W = (IN > 1) ? $clog2(IN) : 1    // event index width
) (
    input  wire logic                 clk,
    input  wire logic                 rst,
    input  wire logic                 clear,
    input  wire logic [ADDR_BITS-1:0] base_addr,

    input  wire logic [IN_W-1:0]      s_axis_event_tdata,
    input  wire logic                 s_axis_event_tvalid,
    output logic                      s_axis_event_tready,
    input  wire logic                 s_axis_event_tlast,
    input  wire logic                 s_axis_event_tuser,     // empty step

    output logic [IN_W-1:0]           m_axis_event_tdata,
    output logic                      m_axis_event_tvalid,
    input  wire logic                 m_axis_event_tready,
    output logic                      m_axis_event_tlast,
    output logic                      m_axis_event_tuser,

    output logic [WORD_BITS-1:0]      m_axis_weight_tdata,
    output logic                      m_axis_weight_tvalid,
    input  wire logic                 m_axis_weight_tready,

    output logic [ADDR_BITS-1:0]      m_axi_araddr,
    output logic [7:0]                m_axi_arlen,
    output logic [2:0]                m_axi_arsize,
    output logic [1:0]                m_axi_arburst,
    output logic                      m_axi_arvalid,
    input  wire logic                 m_axi_arready,
    input  wire logic [DATA_BITS-1:0] m_axi_rdata,
    input  wire logic [1:0]           m_axi_rresp,
    input  wire logic                 m_axi_rlast,
    input  wire logic                 m_axi_rvalid,
    output logic                      m_axi_rready,

    output logic [31:0]               beats,
    output logic [31:0]               starve_cycles,
    output logic                      error
);

    localparam int BEAT_BYTES  = DATA_BITS / 8;
    localparam int BURST_BYTES = MAX_BURST * BEAT_BYTES;
    localparam int USEFUL      = ROW_WORDS * WORD_BITS / 8;                     // useful bytes per row
    localparam int ROW_BEATS   = (USEFUL + BEAT_BYTES - 1) / BEAT_BYTES;
    localparam int BURSTS      = (ROW_BEATS + MAX_BURST - 1) / MAX_BURST;       // bursts per row
    localparam int LAST_LEN    = ROW_BEATS - (BURSTS - 1) * MAX_BURST;          // beats of the last one
    localparam int FIRST_LEN   = (BURSTS > 1) ? MAX_BURST : LAST_LEN;
    localparam int FA_W        = $clog2(FIFO_BEATS);
    localparam int C_W         = FA_W + 1;                                      // holds FIFO_BEATS
    localparam int O_W         = $clog2(MAX_OUTSTANDING + 1);
    localparam int L_W         = $clog2(MAX_BURST + 1);                         // holds a burst length
    localparam int B_W         = (BURSTS > 1) ? $clog2(BURSTS) : 1;
    localparam longint SPAN    = longint'(IN) * longint'(ROW_BYTES);            // the layer's bytes

    // ------------------------------------------------------------------ elaboration checks
    if (DATA_BITS < 8 || (DATA_BITS & (DATA_BITS - 1)) != 0) begin : g_bad_data
        $error("fsvae_weight_stream: DATA_BITS (%0d) must be a power of two >= 8", DATA_BITS);
    end
    if (WORD_BITS < 8 || WORD_BITS % 8 != 0 || (DATA_BITS % WORD_BITS != 0 && WORD_BITS % DATA_BITS != 0)) begin : g_bad_word
        $error("fsvae_weight_stream: WORD_BITS (%0d) must be a multiple of 8 that divides DATA_BITS (%0d) or is a multiple of it",
               WORD_BITS, DATA_BITS);
    end
    if (IN < 1 || ROW_WORDS < 1) begin : g_bad_size
        $error("fsvae_weight_stream: IN (%0d) and ROW_WORDS (%0d) must be at least 1", IN, ROW_WORDS);
    end
    if (MAX_BURST < 1 || MAX_BURST > 256 || (MAX_BURST & (MAX_BURST - 1)) != 0 || BURST_BYTES > 4096) begin : g_bad_burst
        $error("fsvae_weight_stream: MAX_BURST (%0d) must be a power of two <= 256 with MAX_BURST * DATA_BITS/8 <= 4096",
               MAX_BURST);
    end
    if (ROW_BYTES < ROW_BEATS * BEAT_BYTES) begin : g_bad_stride
        $error("fsvae_weight_stream: ROW_BYTES (%0d) is shorter than a row's %0d beats of %0d bytes",
               ROW_BYTES, ROW_BEATS, BEAT_BYTES);
    end
    if (ROW_BYTES % BURST_BYTES != 0 && ((ROW_BYTES & (ROW_BYTES - 1)) != 0 || ROW_BYTES > BURST_BYTES)) begin : g_bad_align
        $error("fsvae_weight_stream: ROW_BYTES (%0d) must be a multiple of BURST_BYTES (%0d) or a power of two below it",
               ROW_BYTES, BURST_BYTES);
    end
    if (SPAN > (longint'(1) << ADDR_BITS)) begin : g_bad_span
        $error("fsvae_weight_stream: IN * ROW_BYTES (%0d) does not fit in ADDR_BITS (%0d)", SPAN, ADDR_BITS);
    end
    if (FIFO_BEATS < 2 || (FIFO_BEATS & (FIFO_BEATS - 1)) != 0 || FIFO_BEATS < FIRST_LEN) begin : g_bad_fifo
        $error("fsvae_weight_stream: FIFO_BEATS (%0d) must be a power of two >= 2 holding a burst (%0d beats)",
               FIFO_BEATS, FIRST_LEN);
    end
    if (MAX_OUTSTANDING < 1) begin : g_bad_outstanding
        $error("fsvae_weight_stream: MAX_OUTSTANDING must be at least 1");
    end

    // ------------------------------------------------------------------ events
    logic ev_ready, rq_ready;                  // the event FIFO and the request FIFO take a beat

    assign s_axis_event_tready = ev_ready && rq_ready;

    fsvae_stream_fifo #(.DATA_W(IN_W), .DEPTH(EV_DEPTH)) u_events (
        .clk, .rst,
        .s_axis_tdata(s_axis_event_tdata), .s_axis_tvalid(s_axis_event_tvalid && rq_ready),
        .s_axis_tready(ev_ready), .s_axis_tlast(s_axis_event_tlast), .s_axis_tuser(s_axis_event_tuser),
        .m_axis_tdata(m_axis_event_tdata), .m_axis_tvalid(m_axis_event_tvalid),
        .m_axis_tready(m_axis_event_tready), .m_axis_tlast(m_axis_event_tlast),
        .m_axis_tuser(m_axis_event_tuser)
    );

    // ------------------------------------------------------------------ row requests
    logic [IN_W-1:0] rq_idx;
    logic            rq_valid, rq_take;
    /* verilator lint_off UNUSEDSIGNAL */      // the request FIFO's tlast / tuser (always 0)
    logic            rq_tlast, rq_tuser;
    /* verilator lint_on UNUSEDSIGNAL */

    fsvae_stream_fifo #(.DATA_W(IN_W), .DEPTH(2)) u_requests (
        .clk, .rst,
        .s_axis_tdata(s_axis_event_tdata),
        .s_axis_tvalid(s_axis_event_tvalid && ev_ready && !s_axis_event_tuser),
        .s_axis_tready(rq_ready), .s_axis_tlast(1'b0), .s_axis_tuser(1'b0),
        .m_axis_tdata(rq_idx), .m_axis_tvalid(rq_valid), .m_axis_tready(rq_take),
        .m_axis_tlast(rq_tlast), .m_axis_tuser(rq_tuser)
    );

    // stage M: the row's offset; stage A: the next burst of the row being requested
    logic                 m_valid, m_take;
    logic [ADDR_BITS-1:0] m_off;
    logic                 a_valid, a_last, a_take;
    logic [ADDR_BITS-1:0] a_addr;
    logic [L_W-1:0]       a_len;
    logic [B_W-1:0]       a_burst;              // the burst's number within its row
    logic [C_W-1:0]       credits;              // data FIFO beats neither stored nor outstanding
    logic [O_W-1:0]       outstanding;          // bursts issued, their last beat not yet received
    logic                 issue, f_rd_en, r_last_beat;

    assign issue   = a_valid && (!m_axi_arvalid || m_axi_arready) && credits >= C_W'(a_len)
                     && outstanding != O_W'(MAX_OUTSTANDING);
    assign a_take  = !a_valid || (issue && a_last);
    assign m_take  = !m_valid || a_take;
    assign rq_take = m_take;

    always_ff @(posedge clk) begin
        if (m_take) begin
            m_valid <= rq_valid;
            m_off   <= ADDR_BITS'(rq_idx) * ADDR_BITS'(ROW_BYTES);
        end
        if (a_take) begin
            a_valid <= m_valid;
            a_addr  <= base_addr + m_off;
            a_len   <= L_W'(FIRST_LEN);
            a_last  <= (BURSTS == 1);
            a_burst <= '0;
        end else if (issue) begin
            a_addr  <= a_addr + ADDR_BITS'(BURST_BYTES);
            a_len   <= (a_burst == B_W'(BURSTS - 2)) ? L_W'(LAST_LEN) : L_W'(MAX_BURST);
            a_last  <= (a_burst == B_W'(BURSTS - 2));
            a_burst <= a_burst + 1'b1;
        end
        if (issue) begin
            m_axi_araddr <= a_addr;
            m_axi_arlen  <= 8'(a_len - 1'b1);
        end
        if (issue) begin
            m_axi_arvalid <= 1'b1;
        end else if (m_axi_arready) begin
            m_axi_arvalid <= 1'b0;
        end
        credits     <= credits - (issue ? C_W'(a_len) : '0) + C_W'(f_rd_en);
        outstanding <= outstanding + O_W'(issue) - O_W'(r_last_beat);
        if (rst) begin
            m_valid       <= 1'b0;
            a_valid       <= 1'b0;
            m_axi_arvalid <= 1'b0;
            credits       <= C_W'(FIFO_BEATS);
            outstanding   <= '0;
        end
    end

    assign m_axi_arsize  = 3'($clog2(BEAT_BYTES));
    assign m_axi_arburst = 2'b01;               // INCR
    assign m_axi_rready  = 1'b1;                // the credits reserve room for every beat
    assign r_last_beat   = m_axi_rvalid && m_axi_rlast;

    // ------------------------------------------------------------------ data FIFO
    logic [FA_W-1:0]      f_wr, f_rd;
    logic                 f_nonempty;            // the RAM holds a beat
    logic [C_W-1:0]       f_count;
    logic [DATA_BITS-1:0] q_data;                // the RAM's output register
    logic                 q_valid, q_take;

    assign f_rd_en = f_nonempty && (!q_valid || q_take);

    // block RAM, or LUTs for at most 128 beats (fsvae_state_ram)
    fsvae_state_ram #(.DEPTH(FIFO_BEATS), .WIDTH(DATA_BITS)) u_fifo_ram (
        .clk, .we(m_axi_rvalid), .waddr(f_wr), .wdata(m_axi_rdata), .re(f_rd_en), .raddr(f_rd), .rdata(q_data)
    );

    always_ff @(posedge clk) begin
        if (m_axi_rvalid) f_wr <= f_wr + 1'b1;
        if (f_rd_en)      f_rd <= f_rd + 1'b1;
        if (m_axi_rvalid && !f_rd_en)      f_count <= f_count + 1'b1;
        else if (f_rd_en && !m_axi_rvalid) f_count <= f_count - 1'b1;
        f_nonempty <= (m_axi_rvalid || f_count > C_W'(f_rd_en));
        if (f_rd_en)     q_valid <= 1'b1;
        else if (q_take) q_valid <= 1'b0;
        if (rst) begin
            f_wr       <= '0;
            f_rd       <= '0;
            f_count    <= '0;
            f_nonempty <= 1'b0;
            q_valid    <= 1'b0;
        end
    end

    // ------------------------------------------------------------------ beats -> words
    if (WORD_BITS == DATA_BITS) begin : g_equal
        // the RAM's output register is the word register
        assign m_axis_weight_tdata  = q_data;
        assign m_axis_weight_tvalid = q_valid;
        assign q_take               = m_axis_weight_tready;
    end else if (WORD_BITS < DATA_BITS) begin : g_narrow
        // a beat of K words, shifted out low word first; the row's last beat holds LAST_K
        localparam int K      = DATA_BITS / WORD_BITS;
        localparam int LAST_K = ROW_WORDS - (ROW_BEATS - 1) * K;
        localparam int K_W    = $clog2(K);
        localparam int R_W    = (ROW_BEATS > 1) ? $clog2(ROW_BEATS) : 1;
        logic [DATA_BITS-1:0] cur;
        logic                 cur_valid, cur_lastw, w_take;
        logic [K_W-1:0]       w_left;            // words after the current one in this beat
        logic [R_W-1:0]       rbeat;             // the next beat's number within its row
        logic                 rbeat_last;        // ... it is the row's last

        assign w_take               = cur_valid && m_axis_weight_tready;
        assign q_take               = q_valid && (!cur_valid || (w_take && cur_lastw));
        assign m_axis_weight_tdata  = cur[WORD_BITS-1:0];
        assign m_axis_weight_tvalid = cur_valid;

        always_ff @(posedge clk) begin
            if (q_take) begin
                cur        <= q_data;
                w_left     <= rbeat_last ? K_W'(LAST_K - 1) : K_W'(K - 1);
                cur_lastw  <= rbeat_last ? (LAST_K == 1) : 1'b0;
                rbeat      <= rbeat_last ? '0 : rbeat + 1'b1;
                rbeat_last <= (ROW_BEATS == 1) || (!rbeat_last && rbeat == R_W'(ROW_BEATS - 2));
            end else if (w_take) begin
                cur        <= {WORD_BITS'(0), cur[DATA_BITS-1:WORD_BITS]};
                w_left     <= w_left - 1'b1;
                cur_lastw  <= (w_left == K_W'(1));
            end
            if (q_take)               cur_valid <= 1'b1;
            else if (w_take && cur_lastw) cur_valid <= 1'b0;
            if (rst) begin
                cur_valid  <= 1'b0;
                rbeat      <= '0;
                rbeat_last <= (ROW_BEATS == 1);
            end
        end
    end else begin : g_wide
        // M beats per word: M-1 gathered in `gather`, the last one joins them in the word register
        localparam int M   = WORD_BITS / DATA_BITS;
        localparam int M_W = $clog2(M);
        logic [(M-1)*DATA_BITS-1:0] gather;
        logic [M_W-1:0]             gcount;      // beats gathered
        logic [WORD_BITS-1:0]       cur;
        logic [(M-1)*DATA_BITS-1:0] gather_next; // gather with the beat shifted in at the top
        logic                       cur_valid, gather_full, w_take;

        if (M > 2) begin : g_shift
            assign gather_next = {q_data, gather[(M-1)*DATA_BITS-1:DATA_BITS]};
        end else begin : g_one
            assign gather_next = q_data;
        end
        assign w_take               = cur_valid && m_axis_weight_tready;

        assign gather_full          = (gcount == M_W'(M - 1));
        assign q_take               = q_valid && (!gather_full || !cur_valid || w_take);
        assign m_axis_weight_tdata  = cur;
        assign m_axis_weight_tvalid = cur_valid;

        always_ff @(posedge clk) begin
            if (q_take) begin
                if (gather_full) begin
                    cur    <= {q_data, gather};
                    gcount <= '0;
                end else begin
                    gather <= gather_next;
                    gcount <= gcount + 1'b1;
                end
            end
            if (q_take && gather_full) cur_valid <= 1'b1;
            else if (w_take)           cur_valid <= 1'b0;
            if (rst) begin
                gcount    <= '0;
                cur_valid <= 1'b0;
            end
        end
    end

    // ------------------------------------------------------------------ counters
    always_ff @(posedge clk) begin
        if (m_axi_rvalid) beats <= beats + 1'b1;
        if (m_axis_weight_tready && !m_axis_weight_tvalid) starve_cycles <= starve_cycles + 1'b1;
        if (m_axi_rvalid && m_axi_rresp != 2'b00) error <= 1'b1;
        if (rst || clear) begin
            beats         <= '0;
            starve_cycles <= '0;
            error         <= 1'b0;
        end
    end

endmodule

`default_nettype wire
