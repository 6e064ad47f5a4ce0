// Weight loader: the load_weights mode's word stream (in_r) written into N run-time weight
// memories, memory after memory (hw/interface.yaml load_weights_format, the blob
// mem/weights.bin of codegen/rtl.py write_weight_blob).  Memory i has DEPTHS[i] words of
// WIDTHS[i] bits; each of its words comes as ceil(WIDTHS[i] / 32) stream words, low bits
// first, so a whole load is sum_i DEPTHS[i] * ceil(WIDTHS[i] / 32) stream words.
//
//   active: the run controller is in its load state.  While it is low the loader takes
//     nothing and returns to the start (memory 0, word 0): a load always starts from the
//     beginning of the blob.
//   s_axis_*: 32-bit words, taken whenever active (tready = active: the loader never stalls).
//     There is no tlast: the load counts words, so the blob may come in any number of
//     transfers (a short blob leaves the loader waiting for the rest).
//   word_taken: a word is taken this cycle (the run controller's progress count).
//   done: the blob's last word is taken this cycle; the run controller then ends the load
//     (drops active), weights_loaded and the error bits of the status register are its own.
//   wl_en[i], wl_addr, wl_data: one write into memory i, the cycle after the last stream
//     word of the memory word is taken (latency 1); wl_data is the widest memory's width,
//     memory i takes its low WIDTHS[i] bits.  wl_addr and wl_data hold their last values
//     between writes.
// Memory i's DEPTHS and WIDTHS entries are bits [32*i +: 32] of the packed vectors (packed
// rather than arrays of parameters, which Yosys's read_verilog does not take).
// Synchronous active-high reset (counters only: the word buffer needs none).

`default_nettype none

module fsvae_weight_loader #(
    parameter int N      = 1,                        // memories, >= 1
    parameter int ADDR_W = 1,                        // holds DEPTHS[i] - 1 for every i
    parameter int DATA_W = 32,                       // the widest WIDTHS[i]
    parameter logic [32*N-1:0] DEPTHS = {N{32'd1}},  // words per memory, >= 1
    parameter logic [32*N-1:0] WIDTHS = {N{32'd32}}  // bits per memory word, 1 .. DATA_W
) (
    input  wire logic              clk,
    input  wire logic              rst,
    input  wire logic              active,

    input  wire logic [31:0]       s_axis_tdata,
    input  wire logic              s_axis_tvalid,
    output logic                   s_axis_tready,

    output logic                   word_taken,
    output logic                   done,

    output logic [N-1:0]           wl_en,
    output logic [ADDR_W-1:0]      wl_addr,
    output logic [DATA_W-1:0]      wl_data
);

    localparam int KMAX = (DATA_W + 31) / 32;            // stream words in the widest memory word
    localparam int K_W  = (KMAX > 1) ? $clog2(KMAX) : 1;
    localparam int M_W  = (N > 1) ? $clog2(N) : 1;

    if (N < 1) begin : g_bad_n
        $error("fsvae_weight_loader: N must be at least 1");
    end
    for (genvar i = 0; i < N; i++) begin : g_check
        if (DEPTHS[32*i +: 32] < 1 || ((DEPTHS[32*i +: 32] - 1) >> ADDR_W) != 0) begin : g_bad_depth
            $error("fsvae_weight_loader: memory %0d: depth %0d not in 1 .. 2**ADDR_W", i, DEPTHS[32*i +: 32]);
        end
        if (WIDTHS[32*i +: 32] < 1 || WIDTHS[32*i +: 32] > DATA_W) begin : g_bad_width
            $error("fsvae_weight_loader: memory %0d: width %0d not in 1 .. DATA_W", i, WIDTHS[32*i +: 32]);
        end
    end

    logic [M_W-1:0]     m;                  // memory being written
    logic [ADDR_W-1:0]  a, last_a;          // its word, its last word
    logic [K_W-1:0]     k, last_k;          // stream word within the memory word, the last one
    logic [32*KMAX-1:0] buffer, buf_next;   // the memory word being assembled
    logic               hs, word_done;
    /* verilator lint_off UNUSEDSIGNAL */   // the top bits of the widest word when not a multiple of 32
    logic [32*KMAX-1:0] data_q;
    /* verilator lint_on UNUSEDSIGNAL */

    assign s_axis_tready = active;
    assign hs            = s_axis_tvalid && s_axis_tready;
    assign word_taken    = hs;
    assign wl_data       = data_q[DATA_W-1:0];

    // the geometry of the memory after m (a constant table indexed by the register m; past the
    // last memory 0, which no word reaches), loaded into last_a / last_k when m advances, so
    // that the word and memory compares start from registers (the table behind them put 8 LUT
    // levels between m and weights_loaded)
    logic [ADDR_W-1:0]  next_last_a, first_last_a;
    logic [K_W-1:0]     next_last_k, first_last_k;
    assign first_last_a = ADDR_W'(DEPTHS[31:0] - 1);
    assign first_last_k = K_W'((WIDTHS[31:0] + 31) / 32 - 1);
    always_comb begin
        next_last_a = '0;
        next_last_k = '0;
        for (int i = 1; i < N; i++) begin
            if (m == M_W'(i - 1)) begin
                next_last_a = ADDR_W'(DEPTHS[32*i +: 32] - 1);
                next_last_k = K_W'((WIDTHS[32*i +: 32] + 31) / 32 - 1);
            end
        end
        buf_next = buffer;
        buf_next[k * 32 +: 32] = s_axis_tdata;
    end

    assign word_done = hs && (k == last_k);
    // words beyond the blob are not taken: the run controller drops active on done
    assign done = word_done && a == last_a && m == M_W'(N - 1);

    always_ff @(posedge clk) begin
        wl_en <= '0;
        if (rst || !active) begin
            m      <= '0;
            a      <= '0;
            k      <= '0;
            last_a <= first_last_a;
            last_k <= first_last_k;
        end else if (hs) begin
            buffer <= buf_next;
            if (word_done) begin
                wl_en[m] <= 1'b1;
                wl_addr  <= a;
                data_q   <= buf_next;
                k        <= '0;
                if (a == last_a) begin
                    a      <= '0;
                    m      <= m + 1'b1;
                    last_a <= next_last_a;
                    last_k <= next_last_k;
                end else begin
                    a <= a + 1'b1;
                end
            end else begin
                k <= k + 1'b1;
            end
        end
    end

endmodule

`default_nettype wire
