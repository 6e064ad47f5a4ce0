// An engine's weight memory: one synchronous read port for the engine, and either initial
// contents from a $readmemh file (LOADABLE = 0: a ROM, block RAM or LUTs) or a write port
// for loading the weights at run time (LOADABLE = 1: no initial contents, which is what
// lets the memory be UltraRAM: URAM288 cannot be initialised by the bitstream).
//
//   STYLE: synthesis hint: loadable memories 1 = UltraRAM, 2 = block RAM, 0 = tool's choice;
//     ROMs 3 = LUTs (small ROMs that several engine copies each hold) or 0.
//   rd_en/rd_addr -> rd_data one cycle later (registered, holds between reads).
//   wr_en/wr_addr/wr_data: LOADABLE = 1 only (ignored otherwise).

`default_nettype none

module fsvae_weight_mem #(
    parameter int DEPTH    = 16,
    parameter int WIDTH    = 8,
    parameter     INIT_FILE = "weights.hex",
    parameter int LOADABLE = 0,
    parameter int STYLE    = 0,                 // 0 auto, 1 ultra, 2 block, 3 distributed
    parameter int A_W      = (DEPTH > 1) ? $clog2(DEPTH) : 1
) (
    input  wire logic             clk,
    input  wire logic             rd_en,
    input  wire logic [A_W-1:0]   rd_addr,
    output logic [WIDTH-1:0]      rd_data,
    /* verilator lint_off UNUSEDSIGNAL */   // unused in the ROM variant
    input  wire logic             wr_en,
    input  wire logic [A_W-1:0]   wr_addr,
    input  wire logic [WIDTH-1:0] wr_data
    /* verilator lint_on UNUSEDSIGNAL */
);

    if (LOADABLE == 0 && STYLE == 3) begin : g_rom_lut
        // LUT ROM: Vivado calls it "distributed"; Yosys maps "distributed" to LUTRAM (which
        // fails for wide ROMs) and calls LUT logic "logic"
`ifdef YOSYS
        (* rom_style = "logic" *) logic [WIDTH-1:0] mem [DEPTH];
`else
        (* rom_style = "distributed" *) logic [WIDTH-1:0] mem [DEPTH];
`endif
        initial $readmemh(INIT_FILE, mem);
        fsvae_file_check #(.FILE(INIT_FILE)) u_file_check ();
        always_ff @(posedge clk) begin
            if (rd_en) rd_data <= mem[rd_addr];
        end
    end else if (LOADABLE == 0) begin : g_rom
        logic [WIDTH-1:0] mem [DEPTH];
        initial $readmemh(INIT_FILE, mem);
        fsvae_file_check #(.FILE(INIT_FILE)) u_file_check ();
        always_ff @(posedge clk) begin
            if (rd_en) rd_data <= mem[rd_addr];
        end
    end else if (STYLE == 1) begin : g_uram
        (* ram_style = "ultra" *) logic [WIDTH-1:0] mem [DEPTH];
        always_ff @(posedge clk) begin
            if (wr_en) mem[wr_addr] <= wr_data;
            if (rd_en) rd_data <= mem[rd_addr];
        end
    end else if (STYLE == 2) begin : g_bram
        (* ram_style = "block" *) logic [WIDTH-1:0] mem [DEPTH];
        always_ff @(posedge clk) begin
            if (wr_en) mem[wr_addr] <= wr_data;
            if (rd_en) rd_data <= mem[rd_addr];
        end
    end else begin : g_ram
        logic [WIDTH-1:0] mem [DEPTH];
        always_ff @(posedge clk) begin
            if (wr_en) mem[wr_addr] <= wr_data;
            if (rd_en) rd_data <= mem[rd_addr];
        end
    end

endmodule

`default_nettype wire
