// The weight memory that two engine copies of one layer share: one memory, two synchronous
// read ports (A and B), one per copy.  Block RAM and UltraRAM have two ports each, and an
// engine copy reads one weight word a cycle, so a pair of copies needs no second copy of the
// weights: the balance plan (codegen/balance.py) counts one memory per pair.
//
// Same contents and read timing as fsvae_weight_mem on each port: either initial contents from
// a $readmemh file (LOADABLE = 0: a ROM in block RAM) or written at run time through wr_*
// (LOADABLE = 1: no initial contents, which lets it be UltraRAM).
//
//   STYLE: loadable memories 1 = UltraRAM, 2 = block RAM, 0 = tool's choice; ROMs are block
//     RAM (a LUT ROM is no cheaper shared, so pairs are not formed for LUT ROMs).
//   a_en/a_addr -> a_data, b_en/b_addr -> b_data: one cycle later (registered; each holds
//     between its own reads).
//   wr_en/wr_addr/wr_data (LOADABLE = 1 only): the write shares port A's address, as a
//     two-port memory must: weights are loaded before a run, while the engines do not read
//     (a_en together with wr_en is an error, reported in simulation).

`default_nettype none

module fsvae_weight_mem_pair #(
    parameter int DEPTH     = 16,
    parameter int WIDTH     = 8,
    parameter     INIT_FILE = "weights.hex",
    parameter int LOADABLE  = 0,
    parameter int STYLE     = 0,                // 0 auto, 1 ultra, 2 block
    parameter int A_W       = (DEPTH > 1) ? $clog2(DEPTH) : 1
) (
    input  wire logic             clk,
    input  wire logic             a_en,
    input  wire logic [A_W-1:0]   a_addr,
    output logic [WIDTH-1:0]      a_data,
    input  wire logic             b_en,
    input  wire logic [A_W-1:0]   b_addr,
    output logic [WIDTH-1:0]      b_data,
    /* verilator lint_off UNUSEDSIGNAL */   // unused in the ROM variant
    input  wire logic             wr_en,
    input  wire logic [A_W-1:0]   wr_addr,
    input  wire logic [WIDTH-1:0] wr_data
    /* verilator lint_on UNUSEDSIGNAL */
);

    if (STYLE == 3) begin : g_bad_style
        $error("fsvae_weight_mem_pair: no LUT-ROM style (STYLE 3): give each copy its own fsvae_weight_mem");
    end

    if (LOADABLE == 0) begin : g_rom
        // block RAM by attribute: left to itself, Yosys maps a shallow two-port ROM (decoder.3's,
        // 288 x 256) to about 3 k LUTs of logic, which the balance plan does not count
        (* rom_style = "block" *) logic [WIDTH-1:0] mem [DEPTH];
        initial $readmemh(INIT_FILE, mem);
        fsvae_file_check #(.FILE(INIT_FILE)) u_file_check ();
        always_ff @(posedge clk) begin
            if (a_en) a_data <= mem[a_addr];
        end
        always_ff @(posedge clk) begin
            if (b_en) b_data <= mem[b_addr];
        end
    end else begin : g_ram
        // port A reads or writes at one address (a true dual-port RAM's port), port B reads
        logic [A_W-1:0] pa;
        assign pa = wr_en ? wr_addr : a_addr;
        if (STYLE == 1) begin : g_uram
            (* ram_style = "ultra" *) logic [WIDTH-1:0] mem [DEPTH];
            always_ff @(posedge clk) begin
                if (wr_en) mem[pa] <= wr_data;
                else if (a_en) a_data <= mem[pa];
            end
            always_ff @(posedge clk) begin
                if (b_en) b_data <= mem[b_addr];
            end
        end else if (STYLE == 2) begin : g_bram
            (* ram_style = "block" *) logic [WIDTH-1:0] mem [DEPTH];
            always_ff @(posedge clk) begin
                if (wr_en) mem[pa] <= wr_data;
                else if (a_en) a_data <= mem[pa];
            end
            always_ff @(posedge clk) begin
                if (b_en) b_data <= mem[b_addr];
            end
        end else begin : g_auto
            logic [WIDTH-1:0] mem [DEPTH];
            always_ff @(posedge clk) begin
                if (wr_en) mem[pa] <= wr_data;
                else if (a_en) a_data <= mem[pa];
            end
            always_ff @(posedge clk) begin
                if (b_en) b_data <= mem[b_addr];
            end
        end
`ifndef SYNTHESIS
        always_ff @(posedge clk) begin
            if (wr_en && a_en) begin
                $error("fsvae_weight_mem_pair: port A read while weights are written");
            end
        end
`endif
    end

endmodule

`default_nettype wire
