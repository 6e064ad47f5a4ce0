"""Code generation: hardware model + board (hw/boards.yaml, hw/interface.yaml via boards) ->
the description of the accelerator (design), rendered by sibling writers: HLS C++ (hls), RTL (rtl),
Vivado wrapper and Tcl (vivado); the cycle model (latency) reads the same description.
"""
