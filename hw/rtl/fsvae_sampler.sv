// Latent sampler: xorshift32-per-channel random source, spec version 1
// (sw/fsvae_fpga/contract/sampler.py is the specification; hls/fsvae/sampler.h the HLS twin).
//
// One image at a time.  C streams (one per latent channel), each drawing an index in
// [0, K) per time step:
//
//   start (1-cycle pulse, any state) latches seed/image and seeds the C stream states,
//     s0 = fmix32(fmix32(key ^ 0x9E3779B9) ^ seed), 0 -> 0x6A09E667, key = image<<16 | c,
//     into the state RAM, one channel per cycle through a 5-stage pipeline (the four
//     32x32 multiplies keep the low 32 bits, each followed by a register).  A start
//     during a step aborts that step (the index stream is flushed).  `ready` rises
//     C + 5 cycles after start.
//   step (1-cycle pulse, honoured only while ready) advances every stream once and
//     streams the C indices out in channel order on m_axis_idx_*: tdata the index, tuser
//     the channel number (sideband), tlast on channel C-1.  A channel's state is written back when it is read out of the RAM,
//     and its index is held in a 4-entry output FIFO that is only issued into while it
//     has room, so backpressure never loses or repeats a draw.  `ready` drops on the
//     step and rises again the cycle after the tlast beat is accepted.
//   Timing (cycle 0 = the cycle a pulse is high): start -> ready in cycle C + 5;
//     step -> first m_axis_idx_tvalid in cycle 3, then one index per cycle while
//     m_axis_idx_tready is high; ready again in cycle C + 3, so back-to-back steps cost C + 3 cycles each.
//   RAM reads are gated by the registered FIFO occupancy, never by m_axis_idx_tready
//   itself, so there is no combinational path from m_axis_idx_tready to the RAM.
//   `seed` and `image` are only sampled with start.
//
// Cost: a C x 32 state RAM (one read and one write port, synchronous read: BRAM or
// LUTRAM), four 32x32 multipliers (image start only), one 16x9 multiplier (per draw).
// Synchronous active-high reset; after reset `ready` is low until the next start.

`default_nettype none

module fsvae_sampler #(
    parameter int C = 16,                            // latent channels, 1..65536
    parameter int K = 20,                            // spikes per channel, 1..256
    parameter int CH_W = (C > 1) ? $clog2(C) : 1     // channel index width
) (
    input  wire logic            clk,
    input  wire logic            rst,

    input  wire logic            start,
    input  wire logic [31:0]     seed,
    input  wire logic [15:0]     image,
    output logic                 ready,

    input  wire logic            step,

    output logic                 m_axis_idx_tvalid,
    input  wire logic            m_axis_idx_tready,
    output logic [7:0]           m_axis_idx_tdata,
    output logic [CH_W-1:0]      m_axis_idx_tuser,    // the index's channel
    output logic                 m_axis_idx_tlast
);

    // ------------------------------------------------------------------ spec constants
    localparam logic [31:0] KEY_XOR   = 32'h9E3779B9;
    localparam logic [31:0] ZERO_REPL = 32'h6A09E667;
    localparam logic [31:0] FMIX_C1   = 32'h85EBCA6B;
    localparam logic [31:0] FMIX_C2   = 32'hC2B2AE35;
    localparam logic [8:0]  K9        = 9'(K);
    localparam logic [CH_W-1:0] LAST_CH = CH_W'(C - 1);

    // Index output FIFO: 4 entries, issue while occupancy + in-flight read < 4.
    localparam int FIFO_DEPTH = 4;

    if (C < 1 || C > 65536) begin : g_bad_c
        $error("fsvae_sampler: C must be in [1, 65536]");
    end
    if (K < 1 || K > 256) begin : g_bad_k
        $error("fsvae_sampler: K must be in [1, 256]");
    end
    if (CH_W < 1 || CH_W > 16 || (C > 1 && CH_W < $clog2(C))) begin : g_bad_ch_w
        $error("fsvae_sampler: CH_W must hold C-1 and be at most 16");
    end

    // ------------------------------------------------------------------ control
    typedef enum logic [1:0] {S_IDLE, S_INIT, S_READY, S_STEP} state_t;
    state_t st;

    logic [31:0] seed_r;
    logic [15:0] image_r;

    // ------------------------------------------------------------------ state RAM
    logic            rd_en;
    logic [CH_W-1:0] rd_addr;
    logic [31:0]     rd_data;
    logic            wr_en;
    logic [CH_W-1:0] wr_addr;
    logic [31:0]     wr_data;

    // one word a channel: LUTs up to 128 channels, else block RAM (fsvae_state_ram)
    fsvae_state_ram #(.DEPTH(C), .WIDTH(32)) u_ram (
        .clk, .we(wr_en), .waddr(wr_addr), .wdata(wr_data), .re(rd_en), .raddr(rd_addr), .rdata(rd_data)
    );

    // ------------------------------------------------------------------ seeding pipeline
    // Stage 0 is the channel counter; stages 1..4 each end in a register after one
    // multiply; the fifth (final xor-shift, zero replacement) feeds the RAM write port.
    logic            ini_run;
    logic [CH_W-1:0] ini_ch;
    logic [3:0]      ini_v;
    logic [CH_W-1:0] ini_ch1, ini_ch2, ini_ch3, ini_ch4;
    logic [31:0]     ini_p1, ini_p2, ini_p3, ini_p4;

    logic [31:0] key, a0, b0, f1, g2, b3, f2, s0;
    always_comb begin
        key = {image_r, 16'(ini_ch)};
        a0  = key ^ KEY_XOR;
        a0  = a0 ^ (a0 >> 16);                  // -> * C1 (stage 1)
        b0  = ini_p1 ^ (ini_p1 >> 13);          // -> * C2 (stage 2)
        f1  = ini_p2 ^ (ini_p2 >> 16);          // first fmix32 done
        g2  = f1 ^ seed_r;
        g2  = g2 ^ (g2 >> 16);                  // -> * C1 (stage 3)
        b3  = ini_p3 ^ (ini_p3 >> 13);          // -> * C2 (stage 4)
        f2  = ini_p4 ^ (ini_p4 >> 16);          // second fmix32 done
        s0  = (f2 == 32'd0) ? ZERO_REPL : f2;
    end

    always_ff @(posedge clk) begin
        ini_p1  <= a0 * FMIX_C1;                // first fmix32, first multiply
        ini_p2  <= b0 * FMIX_C2;                // first fmix32, second multiply
        ini_p3  <= g2 * FMIX_C1;                // second fmix32, first multiply
        ini_p4  <= b3 * FMIX_C2;                // second fmix32, second multiply
        ini_ch1 <= ini_ch;
        ini_ch2 <= ini_ch1;
        ini_ch3 <= ini_ch2;
        ini_ch4 <= ini_ch3;
        if (rst || start) begin
            ini_v <= '0;
        end else begin
            ini_v <= {ini_v[2:0], ini_run};
        end
    end

    // ------------------------------------------------------------------ step pipeline
    // Stage R: issue a read of channel rd_ch.  Stage D (one cycle later): rd_data is the
    // old state; advance it, write it back, compute the index, push into the FIFO.
    logic            issuing;                   // channels left to issue in this step
    logic [CH_W-1:0] rd_ch;
    logic            d_valid;
    logic [CH_W-1:0] d_ch;

    logic [31:0] x;
    logic [24:0] prod;
    logic [7:0]  d_idx;
    always_comb begin
        x = rd_data;
        x = x ^ (x << 13);
        x = x ^ (x >> 17);
        x = x ^ (x << 5);
        prod  = 25'(x[31:16]) * 25'(K9);
        d_idx = 8'(prod >> 16);                 // prod < 2**24, so bits 23:16
    end

    // Output FIFO.
    logic [7:0]      f_idx  [FIFO_DEPTH];
    logic [CH_W-1:0] f_ch   [FIFO_DEPTH];
    logic            f_last [FIFO_DEPTH];
    logic [1:0]      f_wp, f_rp;
    logic [2:0]      f_cnt;
    logic            f_push, f_pop;
    logic [2:0]      occupancy;

    assign occupancy = f_cnt + 3'(d_valid);
    assign rd_en     = (st == S_STEP) && issuing && (occupancy < 3'(FIFO_DEPTH));
    assign rd_addr   = rd_ch;
    assign f_push    = d_valid;
    assign f_pop     = m_axis_idx_tvalid && m_axis_idx_tready;

    assign m_axis_idx_tvalid = (f_cnt != 3'd0);
    assign m_axis_idx_tdata  = f_idx[f_rp];
    assign m_axis_idx_tuser  = f_ch[f_rp];
    assign m_axis_idx_tlast  = f_last[f_rp];

    // RAM write port: seeding pipeline during INIT, advanced states during a step.
    always_comb begin
        if (st == S_INIT) begin
            wr_en   = ini_v[3];
            wr_addr = ini_ch4;
            wr_data = s0;
        end else begin
            wr_en   = d_valid;
            wr_addr = d_ch;
            wr_data = x;
        end
    end

    always_ff @(posedge clk) begin
        if (f_push) begin
            f_idx[f_wp]  <= d_idx;
            f_ch[f_wp]   <= d_ch;
            f_last[f_wp] <= (d_ch == LAST_CH);
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            st      <= S_IDLE;
            seed_r  <= '0;
            image_r <= '0;
            ini_run <= 1'b0;
            ini_ch  <= '0;
            issuing <= 1'b0;
            rd_ch   <= '0;
            d_valid <= 1'b0;
            d_ch    <= '0;
            f_wp    <= '0;
            f_rp    <= '0;
            f_cnt   <= '0;
        end else if (start) begin
            st      <= S_INIT;
            seed_r  <= seed;
            image_r <= image;
            ini_run <= 1'b1;
            ini_ch  <= '0;
            issuing <= 1'b0;
            d_valid <= 1'b0;
            f_wp    <= '0;
            f_rp    <= '0;
            f_cnt   <= '0;
        end else begin
            // seeding
            if (ini_run) begin
                ini_ch <= ini_ch + 1'b1;
                if (ini_ch == LAST_CH) begin
                    ini_run <= 1'b0;
                end
            end
            if (st == S_INIT && ini_v[3] && ini_ch4 == LAST_CH) begin
                st <= S_READY;
            end

            // step issue
            if (st == S_READY && step) begin
                st      <= S_STEP;
                issuing <= 1'b1;
                rd_ch   <= '0;
            end
            if (rd_en) begin
                rd_ch <= rd_ch + 1'b1;
                if (rd_ch == LAST_CH) begin
                    issuing <= 1'b0;
                end
            end
            d_valid <= rd_en;
            d_ch    <= rd_ch;

            // FIFO pointers
            if (f_push) begin
                f_wp <= f_wp + 1'b1;
            end
            if (f_pop) begin
                f_rp <= f_rp + 1'b1;
            end
            f_cnt <= f_cnt + 3'(f_push) - 3'(f_pop);

            if (st == S_STEP && f_pop && m_axis_idx_tlast) begin
                st <= S_READY;
            end
        end
    end

    assign ready = (st == S_READY);

endmodule

`default_nettype wire
