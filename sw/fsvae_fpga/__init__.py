"""FSVAE on FPGA: a fully spiking VAE trained in fixed point, verified bit for bit down to hardware.

Data flow (one module per step): data -> model (lif, quant, fsvae, losses) -> train
-> checkpoint -> evaluate/sample/reconstruct (cli).  Later steps: export, golden model,
code generation, simulation, board driver.
"""

__version__ = "0.1.0"
