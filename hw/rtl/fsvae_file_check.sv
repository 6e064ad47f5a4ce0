// Simulation guard for $readmemh: a missing memory file is an error, not a warning.
// The simulator (Verilator) only warns when $readmemh cannot open its file and the memory then reads as
// zeros, so a design run away from its files would still "work" and give wrong pixels.
// Instantiated next to every $readmemh; synthesis ignores it (Vivado's Synth 8-4445 is
// promoted to an error by the generated Tcl instead).

`default_nettype none

module fsvae_file_check #(
    /* verilator lint_off UNUSEDPARAM */   // unused in synthesis
    parameter FILE = "memory.hex"
    /* verilator lint_on UNUSEDPARAM */
) ();

`ifndef SYNTHESIS
    initial begin : open_or_fail
        int fd;
        fd = $fopen(FILE, "r");
        if (fd == 0)
            $fatal(1, "%m: cannot open memory file %0s (generated RTL moved away from its mem/ folder? regenerate it)", FILE);
        else
            $fclose(fd);
    end
`endif

endmodule

`default_nettype wire
