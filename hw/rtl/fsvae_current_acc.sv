// A layer's currents, the part the event-driven engines share (fsvae_lif_linear,
// fsvae_convt_current): the weight memory (fsvae_weight_mem; none with WEIGHT_STREAM = 1),
// the bias memory and the accumulator RAM, one word = P lanes.  The engine decides the
// addresses; this module does the scatter's read-add-write and the update's acc + bias.
//
//   I[word][p] = bias[bword][p] + sum of the weight words added to word   (modulo 2^ACC_BITS)
//
// Interface (synchronous; add_en and rd_en are never high together)
//   add_en / add_waddr / add_aaddr: scatter: add weight word add_waddr, lane by lane, to
//     accumulator word add_aaddr; read in this cycle, written at the end of the next, one
//     per cycle back to back or with any gaps between issues.
//   add_wdata (WEIGHT_STREAM = 1): the weight word itself, sampled with add_en (into the
//     register the weight memory's read would fill, so the timing is the same); add_waddr
//     and wl_* are then unused and there is no weight memory.  Unused with WEIGHT_STREAM = 0.
//   add_wdata (WEIGHT_STREAM = 2): the read data of a weight memory outside this module (one
//     that two engine copies share, fsvae_weight_mem_pair), which the engine reads at add_waddr
//     with add_en: the word is used as it arrives, one cycle after the issue, exactly as the
//     own memory's registered output would be; wl_* are then unused.
//   add_waddr2 / add_second (PAIRS = 1): a second weight word, read through the memory's second
//     port in the same cycle and added to the same accumulator word together with the first
//     when add_second is high (two events of a linear layer in one scatter: fsvae_lif_linear
//     PAIRS); unused with PAIRS = 0.
//   rd_en / rd_aaddr / rd_baddr -> cur: update: accumulator word rd_aaddr plus bias word
//     rd_baddr, valid from the next cycle and held until the next add_en or rd_en.
//   clr_en / clr_addr: write zeros to accumulator word clr_addr at the end of this cycle
//     (after reset: every word; in the update: each word once read), unless a scatter write
//     lands at the same edge (the engines never ask for both).  FUSED = 1: a write-back
//     instead (see the end of this header); the clear is counted even then.
//   wl_*: the weight memory's load port (WEIGHT_LOAD = 1; WEIGHT_STREAM = 0 only).
//   Memory files: as the engines document them (WEIGHT_FILE: ROWS words of P*W_BITS,
//   BIAS_FILE: BWORDS words of P*B_BITS).
//
// Widths: the accumulators hold the weight sum alone and the bias is added in the update,
// all modulo 2^ACC_BITS: exact when ACC_BITS holds the layer's current_range, since every
// partial sum lies in it too (hwmodel.py).  Bits of a weight or bias above ACC_BITS are
// not needed.
//
// Read-during-write: the RAM read is synchronous (issue in cycle t, data in t+1, sum written
// at the end of t+1), so an access to the word written at the same edge (the next event on
// the same word in a 1-word scatter, the last scatter write against the first update read)
// would see the old value.  The read port therefore records, at each read, whether the
// write port writes the same word at that edge, and if so takes the written value instead
// of the RAM output (read-first and write-first RAMs both work).  A scatter's pipeline is
// always issue -> write in the next cycle, whatever the gaps between issues, so the only
// read that can meet a pending write is the one in the cycle right after an issue (back to
// back); after a gap of one or more cycles the write has landed in the RAM and the flag is
// clear (no write at that edge), so stalled issues (weight stream) need nothing more.
// PAIRS = 1 (WEIGHT_STREAM = 0 only): the weight memory is fsvae_weight_mem_pair, whose two
// read ports the scatter uses together; the sum acc + w + w2 is written in the same cycle as
// acc + w would be, so the pipeline and the forwarding above are unchanged.  No second memory:
// block RAM and UltraRAM have the second port anyway.  Cost: P adders more.
//
// Cost: weight ROM ROWS x P*W_BITS (WEIGHT_STREAM = 1: a P*W_BITS register instead), bias
// ROM BWORDS x P*B_BITS, accumulator RAM WORDS x P*ACC_BITS (one read + one write port,
// synchronous read), 2P adders.
//
// FUSED = 1: the words are the neurons' membranes (fsvae_convt_current FUSED = 1; ACC_BITS =
// the membrane width MEM_BITS): one word per neuron instead of an accumulator word here plus
// a membrane word and a spike bit in fsvae_lif_update.  Golden LIF (golden.LIFState):
// u_0 = I_0, u_t = (u_{t-1} >>> 2) * (1 - s_{t-1}) + I_t, s_t = u_t > THRESHOLD, I_t = b + the
// step's weights.  Invariant: at the start of step t's scatter a word holds
//   V = b + (t == 0 ? 0 : (u_{t-1} >>> 2) * (1 - s_{t-1}))
// so the scatter, unchanged, leaves V = u_t.  What differs from FUSED = 0:
//   cur: the word itself, u_t (no bias added at the read; the bias is already in it).  The
//     bias word rd_baddr is still read, for the write-back.
//   clr_en / clr_addr: a write-back instead of a clear: writes
//       b + (last ? 0 : (cur >>> 2) * (1 - s)),   s = cur > THRESHOLD
//     into word clr_addr at the end of this cycle, with cur and b = the word and the bias word
//     of the last read (the update asks it for the word it last read, when that word leaves:
//     the same cycles as the clears of FUSED = 0).  last: the write-back belongs to step T-1 of
//     an image, so that the next image's step 0 starts at b.  It is an internal count of the
//     clears (no port: the engines' update writes every word once per step): WORDS clears per
//     step, T steps per image, and after reset the count stands at step T-1, so the reset pass
//     writes b into every word when the engine reads each word (rd_en, bias word rd_baddr) in
//     the cycle before its clear (fsvae_convt_current's fill).  The first step after a reset is
//     step 0 of an image.
//   Widths: all sums modulo 2^ACC_BITS.  Every value a word takes is a partial sum of some
//     u_t (its leak + b + some of the step's weights), and only the step's final sum is used
//     (streamed, compared, leaked): modular addition makes it exact whatever the partial sums
//     do, so ACC_BITS = MEM_BITS, which holds membrane_range (hwmodel.py; it contains
//     current_range), is enough.  The compare and the leak are fsvae_lif_datapath's (same
//     definition, written out here: this module sits below it in the source order).
//   Cost: P comparators and P multiplexers more on the write data; the bias adders add b to
//     the leak instead of to the output; the output has no adder.

`default_nettype none

module fsvae_current_acc #(
    parameter int P            = 4,
    parameter int W_BITS       = 8,
    parameter int B_BITS       = 32,
    parameter int ACC_BITS     = 24,
    parameter int ROWS         = 16,           // weight words
    parameter int WORDS        = 4,            // accumulator words
    parameter int BWORDS       = 4,            // bias words
    parameter     WEIGHT_FILE  = "weights.hex",
    parameter int WEIGHT_LOAD  = 0,
    parameter int WEIGHT_STYLE = 0,
    parameter int WEIGHT_STREAM = 0,           // 1: weight words on add_wdata, no weight memory;
                                               // 2: an external memory's read data (header)
    parameter     BIAS_FILE    = "bias.hex",
    parameter int FUSED        = 0,            // 1: membrane words, write-back instead of clear (header)
    parameter int T            = 4,            // FUSED = 1: steps per image
    parameter int THRESHOLD    = 0,            // FUSED = 1: spike when u > THRESHOLD
    parameter int STATE_LUTRAM = 0,            // 1: the accumulator RAM in LUTs whatever its depth
    parameter int PAIRS        = 0,            // 1: two weight words a scatter (add_waddr2, header)
    parameter int WA_W = (ROWS > 1) ? $clog2(ROWS) : 1,
    parameter int AA_W = (WORDS > 1) ? $clog2(WORDS) : 1,
    parameter int BA_W = (BWORDS > 1) ? $clog2(BWORDS) : 1
) (
    input  wire logic                  clk,
    input  wire logic                  rst,

    input  wire logic                  add_en,
    input  wire logic [WA_W-1:0]       add_waddr,
    input  wire logic [AA_W-1:0]       add_aaddr,
    input  wire logic [P*W_BITS-1:0]   add_wdata,
    input  wire logic [WA_W-1:0]       add_waddr2,
    input  wire logic                  add_second,

    input  wire logic                  rd_en,
    input  wire logic [AA_W-1:0]       rd_aaddr,
    input  wire logic [BA_W-1:0]       rd_baddr,
    output logic      [P*ACC_BITS-1:0] cur,

    input  wire logic                  clr_en,
    input  wire logic [AA_W-1:0]       clr_addr,

    input  wire logic                  wl_en,
    input  wire logic [WA_W-1:0]       wl_addr,
    input  wire logic [P*W_BITS-1:0]   wl_data
);

    logic [P*B_BITS-1:0]   b_mem   [BWORDS];

    initial begin
        $readmemh(BIAS_FILE, b_mem);
    end
    fsvae_file_check #(.FILE(BIAS_FILE)) u_bias_file_check ();

    logic                  addb_v;     // stage B of a scatter add: its sum is written now
    logic [AA_W-1:0]       addb_a;
    logic                  acc_re, acc_we, fwd_sel;
    logic [AA_W-1:0]       acc_ra, acc_wa;
    logic [P*ACC_BITS-1:0] acc_wd, acc_q, acc_sum, fwd_data, clr_wd;
    logic                  wb_last;    // FUSED = 1: the clears are step T-1's (write b alone)
    logic [P*W_BITS-1:0]   w_q, w2_q;
    logic                  w2_use;     // PAIRS = 1: the issue read a second word
    logic [P*B_BITS-1:0]   b_q;

    assign acc_re = add_en || rd_en;
    assign acc_ra = add_en ? add_aaddr : rd_aaddr;
    assign acc_we = addb_v || clr_en;
    assign acc_wa = addb_v ? addb_a : clr_addr;
    assign acc_wd = addb_v ? acc_sum : clr_wd;     // clr_wd = 0 unless FUSED

    if (PAIRS != 0 && WEIGHT_STREAM != 0) begin : g_bad_pairs
        $error("fsvae_current_acc: PAIRS needs the module's own weight memory (WEIGHT_STREAM = 0)");
    end
    if (PAIRS == 0) begin : g_no_pair
        assign w2_q = '0;
        wire unused_pair = ^{add_waddr2, add_second};
    end
    always_ff @(posedge clk) begin
        if (add_en) begin
            w2_use <= (PAIRS != 0) && add_second;
        end
        if (rst) begin
            w2_use <= 1'b0;
        end
    end

    if (WEIGHT_STREAM == 2) begin : g_wext
        if (WEIGHT_LOAD != 0) begin : g_bad_mode
            $error("fsvae_current_acc: an external weight memory is loaded outside (WEIGHT_LOAD = 0)");
        end
        assign w_q = add_wdata;         // the memory's registered read of the previous cycle's issue
        wire unused_wmem = ^{add_waddr, wl_en, wl_addr, wl_data};
    end else if (WEIGHT_STREAM != 0) begin : g_wstream
        if (WEIGHT_LOAD != 0) begin : g_bad_mode
            $error("fsvae_current_acc: WEIGHT_STREAM and WEIGHT_LOAD exclude each other");
        end
        // the word arrives with its issue: the same register, the same timing as a read
        always_ff @(posedge clk) begin
            if (add_en) begin
                w_q <= add_wdata;
            end
        end
        wire unused_wmem = ^{add_waddr, wl_en, wl_addr, wl_data};
    end else if (PAIRS != 0) begin : g_wpair
        // both read ports of one memory: the first word on A (which also takes the load), the second on B
        fsvae_weight_mem_pair #(.DEPTH(ROWS), .WIDTH(P * W_BITS), .INIT_FILE(WEIGHT_FILE), .LOADABLE(WEIGHT_LOAD),
                                .STYLE(WEIGHT_STYLE)) u_weights (
            .clk, .a_en(add_en), .a_addr(add_waddr), .a_data(w_q),
            .b_en(add_en && add_second), .b_addr(add_waddr2), .b_data(w2_q),
            .wr_en(wl_en), .wr_addr(wl_addr), .wr_data(wl_data)
        );
        wire unused_wdata = ^add_wdata;
    end else begin : g_wmem
        fsvae_weight_mem #(.DEPTH(ROWS), .WIDTH(P * W_BITS), .INIT_FILE(WEIGHT_FILE), .LOADABLE(WEIGHT_LOAD),
                           .STYLE(WEIGHT_STYLE)) u_weights (
            .clk, .rd_en(add_en), .rd_addr(add_waddr), .rd_data(w_q),
            .wr_en(wl_en), .wr_addr(wl_addr), .wr_data(wl_data)
        );
        wire unused_wdata = ^add_wdata;
    end

    always_ff @(posedge clk) begin
        if (rd_en) begin
            b_q <= b_mem[rd_baddr];
        end
    end

    // STATE_LUTRAM: an engine copy whose currents the block RAM has no room for (the balance
    // plan's lutram_copies) keeps them in distributed RAM; otherwise fsvae_state_ram decides by depth
    fsvae_state_ram #(.DEPTH(WORDS), .WIDTH(P * ACC_BITS),
                      .LUTRAM_DEPTH((STATE_LUTRAM != 0) ? WORDS : 128)) u_acc (
        .clk, .we(acc_we), .waddr(acc_wa), .wdata(acc_wd), .re(acc_re), .raddr(acc_ra), .rdata(acc_q)
    );

    // Read-during-write forwarding (see header): held together with acc_q between reads.
    always_ff @(posedge clk) begin
        if (acc_re) begin
            fwd_sel  <= acc_we && (acc_wa == acc_ra);
            fwd_data <= acc_wd;
        end
    end

    always_ff @(posedge clk) begin
        addb_v <= add_en;
        addb_a <= add_aaddr;
        if (rst) begin
            addb_v <= 1'b0;
        end
    end

    for (genvar p = 0; p < P; p++) begin : g_lane
        logic signed [ACC_BITS-1:0] acc_op, w_ext, w2_ext, b_ext;
        // Bits above ACC_BITS of a wider weight or bias are not needed (modular sum).
        /* verilator lint_off UNUSEDSIGNAL */
        logic signed [W_BITS-1:0]   w, w2;
        logic signed [B_BITS-1:0]   b;
        /* verilator lint_on UNUSEDSIGNAL */

        assign acc_op = fwd_sel ? fwd_data[p*ACC_BITS +: ACC_BITS] : acc_q[p*ACC_BITS +: ACC_BITS];
        assign w      = w_q[p*W_BITS +: W_BITS];
        assign w_ext  = ACC_BITS'(w);          // sign-extend (or wrap: exact modulo 2^ACC_BITS)
        assign w2     = w2_q[p*W_BITS +: W_BITS];
        assign w2_ext = w2_use ? ACC_BITS'(w2) : '0;
        assign acc_sum[p*ACC_BITS +: ACC_BITS] = acc_op + w_ext + w2_ext;

        assign b      = b_q[p*B_BITS +: B_BITS];
        assign b_ext  = ACC_BITS'(b);

        if (FUSED != 0) begin : g_fused
            // fsvae_lif_datapath's compare and leak (THRESHOLD compared at >= 32 bits)
            localparam int CMP_BITS = (ACC_BITS > 32) ? ACC_BITS : 32;
            localparam logic signed [CMP_BITS-1:0] THR = CMP_BITS'(THRESHOLD);
            logic signed [ACC_BITS-1:0] shifted, leaked;
            logic                       s;
            assign s       = CMP_BITS'(acc_op) > THR;
            assign shifted = acc_op >>> 2;      // its own signal: see fsvae_lif_datapath
            assign leaked  = (wb_last || s) ? '0 : shifted;
            assign cur[p*ACC_BITS +: ACC_BITS]    = acc_op;
            assign clr_wd[p*ACC_BITS +: ACC_BITS] = b_ext + leaked;
        end else begin : g_plain
            assign cur[p*ACC_BITS +: ACC_BITS]    = acc_op + b_ext;
            assign clr_wd[p*ACC_BITS +: ACC_BITS] = '0;
        end
    end

    // FUSED = 1: the count of the clears (write-backs) that tells step T-1's (see header).
    if (FUSED != 0) begin : g_count
        localparam int T_W = (T > 1) ? $clog2(T) : 1;
        localparam logic [T_W-1:0]  LAST_T = T_W'(T - 1);
        localparam logic [AA_W-1:0] LAST_A = AA_W'(WORDS - 1);
        logic [AA_W-1:0] wb_w;                  // clears so far in this step
        logic [T_W-1:0]  wb_t;                  // the step

        if (T < 1) begin : g_bad_steps
            $error("fsvae_current_acc: T (%0d) must be at least 1", T);
        end
        assign wb_last = wb_t == LAST_T;
        always_ff @(posedge clk) begin
            if (clr_en) begin
                if (wb_w == LAST_A) begin
                    wb_w <= '0;
                    wb_t <= wb_last ? '0 : wb_t + 1'b1;
                end else begin
                    wb_w <= wb_w + 1'b1;
                end
            end
            if (rst) begin
                wb_w <= '0;
                wb_t <= LAST_T;                 // the reset pass writes b
            end
        end
    end else begin : g_no_count
        assign wb_last = 1'b0;
        wire unused_last = wb_last;
    end

endmodule

`default_nettype wire
