"""The hardware contract: what the trained model becomes for hardware and how the hardware must
behave.  hwmodel (format, bound analysis, loader; its docstring is the spec), sampler (the
latent random source), export (checkpoint -> hardware model), golden (the numpy integer model),
vectors (test vectors), stats (event statistics).

hwmodel, sampler and golden are numpy-only: the overlay copies them to the board.
"""
