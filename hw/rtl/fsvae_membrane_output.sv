// Membrane-output stage: the decayed sum of the output currents over the T time steps, then
// the pixel table; bit-exact with the tail of golden.decode (sw/fsvae_fpga/contract/golden.py) and the
// RTL twin of hls/fsvae/membrane_output.h.
//
//   m[n]     = sum_t coef[t] * I_t[n]                      (modulo 2^SUM_BITS, never wraps)
//   pixel[n] = #{k : thr[k] <= m[n]}  = np.searchsorted(thr, m, side='right')   (0..255)
//
// Interface
//   s_axis_cur_*: the currents of one time step after the other, LANES signed CUR_BITS
//     values per beat (lane l in bits l*CUR_BITS +: CUR_BITS, position beat*LANES + l),
//     positions ascending, tlast on the step's final beat (beat NPOS/LANES - 1).  The step
//     index is an internal counter: step 0 after reset and after each image's last pixel
//     word; tlast advances it.  Step 0 writes m = coef[0]*I (no clearing pass), later steps
//     add.  tready is high while steps are being accumulated (one beat per cycle) and low
//     from the last beat of step T-1 until the image's pixels have all been sent.
//   m_axis_pix_*: the NPOS pixels as uint8, 4 per 32-bit word, pixel 4w + k in bits
//     8k +: 8 (interface.yaml out_r format), tlast on the last word; done pulses in the cycle
//     after that word's handshake, when busy is already low and tready high again.
//   busy: high from the first accepted beat of an image until its last word is accepted.
//
// Memory files ($readmemh, one value per line, hex):
//   COEF_FILE:   T lines, coef[t] unsigned COEF_BITS (round(0.8^(T-1-t) * 2^D) for the model)
//   THRESH_FILE: 255 lines, thresholds non-decreasing, signed THR_BITS two's complement
//
// Microarchitecture
//   m RAM: NPOS/LANES words of LANES*SUM_BITS, one synchronous read port, one write port.
//   Accumulate: a beat's word is read at the handshake (cycle c), the LANES products
//     coef[t]*I are added and written back in cycle c+1, so one beat per cycle.  With one
//     word (NPOS == LANES) the next beat re-reads the word at the edge that writes it: the
//     read port records that case and takes the written value (read-first/write-first RAMs
//     both work), as in fsvae_lif_linear.
//   Pixels: one pixel per cycle through an 8-stage pipelined binary search (stage j sets bit
//     7-j of the count when thr[pos + 2^(7-j) - 1] <= m; stage j reads among 2^j table
//     entries only, so the table becomes comparators behind small muxes).  A pixel's m is
//     read from the RAM (one cycle), searched (8 registered stages), packed 4 to a word; the
//     whole pipeline moves only when the output register is free or being taken
//     (adv = !tvalid || tready), so backpressure stalls it without loss.  tready reaches the
//     RAM read enable combinationally; add a register slice on the output if that path
//     limits the clock.
//   Cycles per image (no input idle, no backpressure): busy is high for
//     T * NPOS/LANES + NPOS + 10 cycles: one per beat, then the last write-back (S_WAIT),
//     NPOS pixel issues, RAM read + 8 search stages + packer/output register.
//
// Cost: m RAM (NPOS/LANES) x LANES*SUM_BITS, LANES multipliers (COEF_BITS+1) x CUR_BITS and
// adders, 8 comparators of max(SUM_BITS, THR_BITS) bits with their table muxes.

`default_nettype none

module fsvae_membrane_output #(
    parameter int T         = 16,             // time steps
    parameter int NPOS      = 64,             // positions * channels; NPOS % LANES == 0, NPOS % 4 == 0
    parameter int LANES     = 4,              // currents per input beat
    parameter int CUR_BITS  = 16,             // signed currents
    parameter int SUM_BITS  = 28,             // signed, holds the output's sum_range
    parameter int COEF_BITS = 9,              // unsigned decay coefficients
    parameter int THR_BITS  = SUM_BITS,       // signed thresholds
    parameter     COEF_FILE   = "coef.hex",
    parameter     THRESH_FILE = "thresh.hex"
) (
    input  wire logic                      clk,
    input  wire logic                      rst,

    input  wire logic [LANES*CUR_BITS-1:0] s_axis_cur_tdata,
    input  wire logic                      s_axis_cur_tvalid,
    output logic                           s_axis_cur_tready,
    input  wire logic                      s_axis_cur_tlast,

    output logic [31:0]                    m_axis_pix_tdata,
    output logic                           m_axis_pix_tvalid,
    input  wire logic                      m_axis_pix_tready,
    output logic                           m_axis_pix_tlast,

    output logic                           busy,
    output logic                           done
);

    localparam int G        = NPOS / LANES;                       // RAM words
    localparam int G_W      = (G > 1) ? $clog2(G) : 1;
    localparam int L_W      = (LANES > 1) ? $clog2(LANES) : 1;
    localparam int T_W      = (T > 1) ? $clog2(T) : 1;
    localparam int NW       = NPOS / 4;                           // output words
    localparam int NW_W     = (NW > 1) ? $clog2(NW) : 1;
    localparam int PROD_BITS = COEF_BITS + 1 + CUR_BITS;
    localparam int CMP_BITS = (SUM_BITS > THR_BITS) ? SUM_BITS : THR_BITS;
    localparam logic [G_W-1:0]  LAST_G    = G_W'(G - 1);
    localparam logic [L_W-1:0]  LAST_L    = L_W'(LANES - 1);
    localparam logic [T_W-1:0]  LAST_T    = T_W'(T - 1);
    localparam logic [NW_W-1:0] LAST_W    = NW_W'(NW - 1);

    if (T < 1 || LANES < 1 || NPOS % LANES != 0 || NPOS % 4 != 0) begin : g_bad_shape
        $error("fsvae_membrane_output: need NPOS (%0d) %% LANES (%0d) == 0 and NPOS %% 4 == 0",
               NPOS, LANES);
    end

    // ------------------------------------------------------------------ memories
    logic [COEF_BITS-1:0]       coef_mem [T];
    logic signed [THR_BITS-1:0] thr_mem  [255];
    logic [LANES*SUM_BITS-1:0]  m_mem    [G];

    initial begin
        $readmemh(COEF_FILE, coef_mem);
        $readmemh(THRESH_FILE, thr_mem);
    end
    fsvae_file_check #(.FILE(COEF_FILE)) u_coef_file_check ();
    fsvae_file_check #(.FILE(THRESH_FILE)) u_thresh_file_check ();

    localparam logic [1:0] S_ACC = 2'd0, S_WAIT = 2'd1, S_OUT = 2'd2;
    logic [1:0]     state;
    logic [T_W-1:0] step;
    logic [G_W-1:0] in_g;

    // ------------------------------------------------------------------ accumulate
    logic                      in_hs;
    logic                      acc_v, acc_first;       // stage 2 (write-back) of a beat
    logic [G_W-1:0]            acc_g;
    logic [LANES*CUR_BITS-1:0] acc_cur;
    logic [COEF_BITS-1:0]      acc_coef;
    logic [LANES*SUM_BITS-1:0] acc_sum;

    assign s_axis_cur_tready = (state == S_ACC);
    assign in_hs = s_axis_cur_tvalid && s_axis_cur_tready;

    // RAM read port: the accumulator's read at the handshake, the pixel pipeline's read in
    // S_OUT; the two never overlap (S_WAIT separates them).
    logic                      rd_en;
    logic [G_W-1:0]            rd_addr;
    logic [LANES*SUM_BITS-1:0] rd_q, wr_q, rd_data;
    logic                      fwd_q;

    always_ff @(posedge clk) begin
        if (rd_en) begin
            rd_q  <= m_mem[rd_addr];
            fwd_q <= acc_v && acc_g == rd_addr;
            wr_q  <= acc_sum;
        end
        if (acc_v) m_mem[acc_g] <= acc_sum;
    end
    assign rd_data = fwd_q ? wr_q : rd_q;

    always_comb begin
        for (int l = 0; l < LANES; l++) begin
            logic signed [PROD_BITS-1:0] prod;
            logic signed [SUM_BITS-1:0]  prev;
            prod = PROD_BITS'(signed'({1'b0, acc_coef})) * PROD_BITS'(signed'(acc_cur[l*CUR_BITS +: CUR_BITS]));
            prev = acc_first ? '0 : signed'(rd_data[l*SUM_BITS +: SUM_BITS]);
            acc_sum[l*SUM_BITS +: SUM_BITS] = prev + SUM_BITS'(prod);
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            acc_v <= 1'b0;
        end else begin
            acc_v <= in_hs;
        end
        if (in_hs) begin
            acc_g     <= in_g;
            acc_cur   <= s_axis_cur_tdata;
            acc_coef  <= coef_mem[step];
            acc_first <= (step == '0);
        end
    end

    // ------------------------------------------------------------------ pixel pipeline
    logic            adv;                        // the whole pixel pipeline moves
    logic            iss_active;                 // pixels left to issue
    logic [G_W-1:0]  iss_g;
    logic [L_W-1:0]  iss_l, rd_l;
    logic            rd_v;                       // rd_q holds a pixel's word
    logic            s_v   [8];
    logic signed [CMP_BITS-1:0] s_m [8];
    logic [7:0]      s_pos [8];
    logic [1:0]      pk_n;                       // pixels in the packer
    logic [23:0]     pk_data;
    logic [NW_W-1:0] out_w;                      // words sent

    assign adv     = !m_axis_pix_tvalid || m_axis_pix_tready;
    assign rd_en   = (state == S_OUT) ? adv : in_hs;
    assign rd_addr = (state == S_OUT) ? iss_g : in_g;

    // Search stage j: input from the RAM (j = 0) or stage j - 1.
    logic                       st_v   [8];
    logic signed [CMP_BITS-1:0] st_m   [8];
    logic [7:0]                 st_pos [8];
    always_comb begin
        st_v[0]   = rd_v;
        st_m[0]   = CMP_BITS'(signed'(rd_data[rd_l*SUM_BITS +: SUM_BITS]));
        st_pos[0] = 8'd0;
        for (int j = 1; j < 8; j++) begin
            st_v[j]   = s_v[j-1];
            st_m[j]   = s_m[j-1];
            st_pos[j] = s_pos[j-1];
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            for (int j = 0; j < 8; j++) s_v[j] <= 1'b0;
            rd_v <= 1'b0;
        end else if (adv) begin
            rd_v <= (state == S_OUT) && iss_active;
            for (int j = 0; j < 8; j++) s_v[j] <= st_v[j];
        end
        if (adv) begin
            rd_l <= iss_l;
            for (int j = 0; j < 8; j++) begin
                logic [7:0] probe;
                probe = st_pos[j] | (8'd1 << (7 - j));
                s_m[j]   <= st_m[j];
                s_pos[j] <= (CMP_BITS'(thr_mem[probe - 8'd1]) <= st_m[j]) ? probe : st_pos[j];
            end
        end
    end

    // ------------------------------------------------------------------ control, packer
    logic out_hs;
    assign out_hs = m_axis_pix_tvalid && m_axis_pix_tready;

    always_ff @(posedge clk) begin
        if (rst) begin
            state             <= S_ACC;
            step              <= '0;
            in_g              <= '0;
            busy              <= 1'b0;
            done              <= 1'b0;
            iss_active        <= 1'b0;
            iss_g             <= '0;
            iss_l             <= '0;
            pk_n              <= '0;
            out_w             <= '0;
            m_axis_pix_tvalid <= 1'b0;
            m_axis_pix_tlast  <= 1'b0;
        end else begin
            done <= 1'b0;
            case (state)
                S_ACC: if (in_hs) begin
                    busy <= 1'b1;
                    in_g <= s_axis_cur_tlast ? '0 : in_g + 1'b1;
                    if (s_axis_cur_tlast) begin
                        step <= (step == LAST_T) ? '0 : step + 1'b1;
                        if (step == LAST_T) state <= S_WAIT;
                    end
                end
                S_WAIT: begin                          // the last beat's write-back
                    state      <= S_OUT;
                    iss_active <= 1'b1;
                    iss_g      <= '0;
                    iss_l      <= '0;
                end
                default: begin                         // S_OUT
                    if (adv && iss_active) begin
                        iss_l <= (iss_l == LAST_L) ? '0 : iss_l + 1'b1;
                        if (iss_l == LAST_L) begin
                            iss_g <= iss_g + 1'b1;
                            if (iss_g == LAST_G) iss_active <= 1'b0;
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
                    m_axis_pix_tlast <= (out_w == LAST_W);
                    out_w            <= out_w + 1'b1;
                end
            end
        end
    end

endmodule

`default_nettype wire
