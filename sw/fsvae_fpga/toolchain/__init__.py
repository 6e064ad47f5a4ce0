"""Running tools on generated designs: g++ C simulation (csim), Yosys estimates (estimate,
logic_depth), Vivado (bitstream), the overlay folder (overlay), and the performance report of a
simulated run (perf_report).  The writers are in codegen/; nothing here writes HDL or C++.
"""
