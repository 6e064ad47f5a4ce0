// AXI4-Lite control slave (s_axi_control) with the register map and ap_ctrl_hs semantics of
// a Vitis HLS top function, so the PYNQ driver and Vitis-style host code can drive the RTL
// accelerator exactly as they would drive the HLS one.  The register offsets are parameters
// whose defaults are the ones in hw/interface.yaml (the bench reads the YAML and passes them).
//
// Register map (32-bit registers, byte enables honoured on every writable bit):
//   CTRL (OFF_CTRL, 0x00)
//     bit 0 ap_start      RW  writing 1 sets it; it stays set until the core acknowledges
//                             with ap_ready, then it reloads auto_restart (so with
//                             auto_restart = 1 the core restarts after every ap_ready).
//                             Writing 0 does not clear it (as in Vitis).
//     bit 1 ap_done       COR set by the core's ap_done pulse, cleared by a read of CTRL
//                             (a done pulse in the cycle of the read wins: it is not lost).
//     bit 2 ap_idle       R   the core's ap_idle, registered.
//     bit 3 ap_ready      COR set by the core's ap_ready pulse, cleared by a read of CTRL
//                             (Vitis 2020.2+ behaviour; lets software see a start taken).
//     bit 7 auto_restart  RW
//   GIE  (OFF_GIE, 0x04)   bit 0 global interrupt enable
//   IER  (OFF_IER, 0x08)   bit 0 ap_done, bit 1 ap_ready interrupt enables
//   ISR  (OFF_ISR, 0x0c)   bit 0 ap_done, bit 1 ap_ready status; set by the event when its
//                          IER bit is 1, a write of 1 toggles the bit (Vitis "TOW").
//   seed, n_images, mode, image_base (OFF_SEED 0x10, OFF_N_IMAGES 0x18, OFF_MODE 0x20,
//     OFF_IMAGE_BASE 0x28): 32-bit scalar arguments, RW (Vitis reads back scalar inputs
//     too), driven straight to the outputs.  The upper half of each 8-byte slot reads 0.
//   identity, status, progress, engines_busy (OFF_IDENTITY 0x30, OFF_STATUS 0x40,
//     OFF_PROGRESS 0x50, OFF_ENGINES_BUSY 0x60): read-only core outputs in the Vitis
//     output-scalar layout (16-byte slots): the data word, then a word whose bit 0 (ap_vld)
//     reads 1, since the core holds them valid at all times, then two reserved words.
//     Writes to them are ignored.
//   weights_base (OFF_WEIGHTS_BASE 0x70): a 64-bit pointer argument in the Vitis m_axi offset
//     layout (a 12-byte slot: bits 31:0 at +0, bits 63:32 at +4, +8 reserved), RW: the DDR
//     address of the weight image of the layers that stream their weights (manifest
//     weight_stream); designs without streaming ignore it.
//   Any other address: writes are ignored, reads return 0, responses are always OKAY.
//   interrupt = GIE & (ISR[0] | ISR[1]).
//
// Handshake FSMs as Vitis generates them: a write takes AW first (AWREADY high when idle),
// then W, then B; a read takes AR (ARREADY when idle) and answers with R the next cycle.  A
// master that offers AW and W together (cocotbext-axi does) completes a write in 3 cycles.
// Everything is in the ap_clk domain; `rst` is synchronous and active high (the top-level
// wrapper inverts ap_rst_n).

`default_nettype none

module fsvae_axil_ctrl #(
    parameter int          ADDR_W         = 7,
    parameter int          DATA_W         = 32,
    parameter logic [31:0] OFF_CTRL       = 32'h00,
    parameter logic [31:0] OFF_GIE        = 32'h04,
    parameter logic [31:0] OFF_IER        = 32'h08,
    parameter logic [31:0] OFF_ISR        = 32'h0c,
    parameter logic [31:0] OFF_SEED       = 32'h10,
    parameter logic [31:0] OFF_N_IMAGES   = 32'h18,
    parameter logic [31:0] OFF_MODE       = 32'h20,
    parameter logic [31:0] OFF_IMAGE_BASE = 32'h28,
    parameter logic [31:0] OFF_IDENTITY   = 32'h30,
    parameter logic [31:0] OFF_STATUS     = 32'h40,
    parameter logic [31:0] OFF_PROGRESS   = 32'h50,
    parameter logic [31:0] OFF_ENGINES_BUSY = 32'h60,
    parameter logic [31:0] OFF_WEIGHTS_BASE = 32'h70
) (
    input  wire logic                  clk,
    input  wire logic                  rst,

    input  wire logic [ADDR_W-1:0]     s_axi_control_AWADDR,
    input  wire logic                  s_axi_control_AWVALID,
    output logic                       s_axi_control_AWREADY,
    input  wire logic [DATA_W-1:0]     s_axi_control_WDATA,
    input  wire logic [DATA_W/8-1:0]   s_axi_control_WSTRB,
    input  wire logic                  s_axi_control_WVALID,
    output logic                       s_axi_control_WREADY,
    output logic [1:0]                 s_axi_control_BRESP,
    output logic                       s_axi_control_BVALID,
    input  wire logic                  s_axi_control_BREADY,
    input  wire logic [ADDR_W-1:0]     s_axi_control_ARADDR,
    input  wire logic                  s_axi_control_ARVALID,
    output logic                       s_axi_control_ARREADY,
    output logic [DATA_W-1:0]          s_axi_control_RDATA,
    output logic [1:0]                 s_axi_control_RRESP,
    output logic                       s_axi_control_RVALID,
    input  wire logic                  s_axi_control_RREADY,

    /* verilator lint_off SYMRSVDWORD */   // the Vitis port name
    output logic                       interrupt,
    /* verilator lint_on SYMRSVDWORD */

    // core side (ap_ctrl_hs)
    output logic                       ap_start,
    input  wire logic                  ap_done,
    input  wire logic                  ap_idle,
    input  wire logic                  ap_ready,

    // scalar arguments
    output logic [31:0]                seed,
    output logic [31:0]                n_images,
    output logic [31:0]                mode,
    output logic [31:0]                image_base,
    output logic [63:0]                weights_base,

    // read-only outputs
    input  wire logic [31:0]           identity,
    input  wire logic [31:0]           status,
    input  wire logic [31:0]           progress,
    input  wire logic [31:0]           engines_busy
);

    if (DATA_W != 32) begin : g_bad_width
        $error("fsvae_axil_ctrl: DATA_W must be 32");
    end

    localparam logic [ADDR_W-1:0] A_CTRL  = OFF_CTRL[ADDR_W-1:0];
    localparam logic [ADDR_W-1:0] A_GIE   = OFF_GIE[ADDR_W-1:0];
    localparam logic [ADDR_W-1:0] A_IER   = OFF_IER[ADDR_W-1:0];
    localparam logic [ADDR_W-1:0] A_ISR   = OFF_ISR[ADDR_W-1:0];
    localparam logic [ADDR_W-1:0] A_SEED  = OFF_SEED[ADDR_W-1:0];
    localparam logic [ADDR_W-1:0] A_NIMG  = OFF_N_IMAGES[ADDR_W-1:0];
    localparam logic [ADDR_W-1:0] A_MODE  = OFF_MODE[ADDR_W-1:0];
    localparam logic [ADDR_W-1:0] A_IBASE = OFF_IMAGE_BASE[ADDR_W-1:0];
    localparam logic [ADDR_W-1:0] A_ID    = OFF_IDENTITY[ADDR_W-1:0];
    localparam logic [ADDR_W-1:0] A_STAT  = OFF_STATUS[ADDR_W-1:0];
    localparam logic [ADDR_W-1:0] A_PROG  = OFF_PROGRESS[ADDR_W-1:0];
    localparam logic [ADDR_W-1:0] A_BUSY  = OFF_ENGINES_BUSY[ADDR_W-1:0];
    localparam logic [ADDR_W-1:0] A_WB_LO = OFF_WEIGHTS_BASE[ADDR_W-1:0];
    localparam logic [31:0]       WB_HI   = OFF_WEIGHTS_BASE + 32'd4;
    localparam logic [ADDR_W-1:0] A_WB_HI = WB_HI[ADDR_W-1:0];
    localparam logic [31:0]       VLD_ID = OFF_IDENTITY + 32'd4, VLD_STAT = OFF_STATUS + 32'd4,
                                  VLD_PROG = OFF_PROGRESS + 32'd4, VLD_BUSY = OFF_ENGINES_BUSY + 32'd4;

    // ------------------------------------------------------------------ write channel
    localparam logic [1:0] WR_IDLE = 2'd0, WR_DATA = 2'd1, WR_RESP = 2'd2;
    logic [1:0]        wstate;
    logic [ADDR_W-3:0] waddr;      // word address (bits 1:0 of a 32-bit register ignored)
    logic              aw_hs, w_hs;

    assign s_axi_control_AWREADY = (wstate == WR_IDLE);
    assign s_axi_control_WREADY  = (wstate == WR_DATA);
    assign s_axi_control_BVALID  = (wstate == WR_RESP);
    assign s_axi_control_BRESP   = 2'b00;
    assign aw_hs = s_axi_control_AWVALID && s_axi_control_AWREADY;
    assign w_hs  = s_axi_control_WVALID && s_axi_control_WREADY;

    always_ff @(posedge clk) begin
        if (rst) begin
            wstate <= WR_IDLE;
            waddr  <= '0;
        end else begin
            case (wstate)
                WR_IDLE: if (aw_hs) begin
                    wstate <= WR_DATA;
                    waddr  <= s_axi_control_AWADDR[ADDR_W-1:2];
                end
                WR_DATA: if (w_hs) wstate <= WR_RESP;
                WR_RESP: if (s_axi_control_BREADY) wstate <= WR_IDLE;
                default: wstate <= WR_IDLE;
            endcase
        end
    end

    // Byte-enable mask of the current write; a register bit changes only under its byte.
    logic [31:0] wmask;
    always_comb begin
        for (int b = 0; b < 4; b++) wmask[b*8 +: 8] = {8{s_axi_control_WSTRB[b]}};
    end

    function automatic logic [31:0] merge(input logic [31:0] old, input logic [31:0] data,
                                          input logic [31:0] mask);
        merge = (old & ~mask) | (data & mask);   // (not `return`: Yosys 0.70 rejects it)
    endfunction

    logic [ADDR_W-1:0] waddr_w;
    assign waddr_w = {waddr, 2'b00};

    // ------------------------------------------------------------------ read channel
    logic              rvalid;
    logic [31:0]       rdata;
    logic              ar_hs;
    logic [ADDR_W-1:0] raddr_w;

    assign s_axi_control_ARREADY = !rvalid;
    assign s_axi_control_RVALID  = rvalid;
    assign s_axi_control_RDATA   = rdata;
    assign s_axi_control_RRESP   = 2'b00;
    assign ar_hs   = s_axi_control_ARVALID && s_axi_control_ARREADY;
    assign raddr_w = {s_axi_control_ARADDR[ADDR_W-1:2], 2'b00};
    /* verilator lint_off UNUSEDSIGNAL */
    logic unused_araddr;
    assign unused_araddr = &{1'b0, s_axi_control_ARADDR[1:0], s_axi_control_AWADDR[1:0]};
    /* verilator lint_on UNUSEDSIGNAL */

    // ------------------------------------------------------------------ registers
    logic       int_ap_start, int_ap_done, int_ap_idle, int_ap_ready, int_auto_restart;
    logic       int_gie;
    logic [1:0] int_ier, int_isr;
    logic       wr_ctrl, wr_gie, wr_ier, wr_isr, rd_ctrl;

    assign wr_ctrl = w_hs && waddr_w == A_CTRL;
    assign wr_gie  = w_hs && waddr_w == A_GIE;
    assign wr_ier  = w_hs && waddr_w == A_IER;
    assign wr_isr  = w_hs && waddr_w == A_ISR;
    assign rd_ctrl = ar_hs && raddr_w == A_CTRL;

    always_ff @(posedge clk) begin
        if (rst) begin
            int_ap_start     <= 1'b0;
            int_ap_done      <= 1'b0;
            int_ap_idle      <= 1'b0;
            int_ap_ready     <= 1'b0;
            int_auto_restart <= 1'b0;
            int_gie          <= 1'b0;
            int_ier          <= 2'b00;
            int_isr          <= 2'b00;
            seed             <= '0;
            n_images         <= '0;
            mode             <= '0;
            image_base       <= '0;
            weights_base     <= '0;
        end else begin
            if (wr_ctrl && s_axi_control_WSTRB[0] && s_axi_control_WDATA[0])
                int_ap_start <= 1'b1;
            else if (ap_ready)
                int_ap_start <= int_auto_restart;

            if (ap_done)      int_ap_done <= 1'b1;
            else if (rd_ctrl) int_ap_done <= 1'b0;

            if (ap_ready)     int_ap_ready <= 1'b1;
            else if (rd_ctrl) int_ap_ready <= 1'b0;

            int_ap_idle <= ap_idle;

            if (wr_ctrl && s_axi_control_WSTRB[0]) int_auto_restart <= s_axi_control_WDATA[7];
            if (wr_gie && s_axi_control_WSTRB[0])  int_gie <= s_axi_control_WDATA[0];
            if (wr_ier && s_axi_control_WSTRB[0])  int_ier <= s_axi_control_WDATA[1:0];

            // Event sets, a written 1 toggles; an event and a toggle in the same cycle: set.
            for (int i = 0; i < 2; i++) begin
                if (int_ier[i] && (i == 0 ? ap_done : ap_ready))
                    int_isr[i] <= 1'b1;
                else if (wr_isr && s_axi_control_WSTRB[0])
                    int_isr[i] <= int_isr[i] ^ s_axi_control_WDATA[i];
            end

            if (w_hs && waddr_w == A_SEED)  seed       <= merge(seed, s_axi_control_WDATA, wmask);
            if (w_hs && waddr_w == A_NIMG)  n_images   <= merge(n_images, s_axi_control_WDATA, wmask);
            if (w_hs && waddr_w == A_MODE)  mode       <= merge(mode, s_axi_control_WDATA, wmask);
            if (w_hs && waddr_w == A_IBASE) image_base <= merge(image_base, s_axi_control_WDATA, wmask);
            if (w_hs && waddr_w == A_WB_LO)
                weights_base[31:0]  <= merge(weights_base[31:0], s_axi_control_WDATA, wmask);
            if (w_hs && waddr_w == A_WB_HI)
                weights_base[63:32] <= merge(weights_base[63:32], s_axi_control_WDATA, wmask);
        end
    end

    assign ap_start  = int_ap_start;
    assign interrupt = int_gie && (|int_isr);

    // Read data is captured at the AR handshake (so a COR bit reads as it was before the clear).
    always_ff @(posedge clk) begin
        if (rst) begin
            rvalid <= 1'b0;
            rdata  <= '0;
        end else if (ar_hs) begin
            rvalid <= 1'b1;
            case (raddr_w)
                A_CTRL:  rdata <= {24'd0, int_auto_restart, 3'd0, int_ap_ready, int_ap_idle,
                                   int_ap_done, int_ap_start};
                A_GIE:   rdata <= {31'd0, int_gie};
                A_IER:   rdata <= {30'd0, int_ier};
                A_ISR:   rdata <= {30'd0, int_isr};
                A_SEED:  rdata <= seed;
                A_NIMG:  rdata <= n_images;
                A_MODE:  rdata <= mode;
                A_IBASE: rdata <= image_base;
                A_ID:    rdata <= identity;
                A_STAT:  rdata <= status;
                A_PROG:  rdata <= progress;
                A_BUSY:  rdata <= engines_busy;
                A_WB_LO: rdata <= weights_base[31:0];
                A_WB_HI: rdata <= weights_base[63:32];
                VLD_ID[ADDR_W-1:0], VLD_STAT[ADDR_W-1:0], VLD_PROG[ADDR_W-1:0], VLD_BUSY[ADDR_W-1:0]:
                         rdata <= 32'd1;                      // ap_vld of each output
                default: rdata <= '0;
            endcase
        end else if (s_axi_control_RREADY) begin
            rvalid <= 1'b0;
        end
    end

endmodule

`default_nettype wire
