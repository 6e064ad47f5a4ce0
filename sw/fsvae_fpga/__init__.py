"""FSVAE on FPGA: a fully spiking VAE trained in fixed point, verified bit for bit down to hardware.

The subpackages follow the data flow:

    data          datasets (embedded MNIST, IDX, CIFAR-10, CelebA)
    model/        LIF, synapses, latent, losses, FSVAE, ANN VAE
    training/     the training loop and checkpoints
    evaluation/   sampling, reconstruction, Fréchet scores, PNG grids
    contract/     the hardware model (the spec), sampler, export, golden model, vectors
    codegen/      the accelerator description and its HLS / RTL / Vivado writers
    toolchain/    g++, Yosys, Vivado runners, the overlay folder, performance reports
    board/        the PYNQ driver (runs on the board)

    cli, cli_args, flows, outputs, config: the command line, the flows it runs (export ->
    codegen -> build -> run), safe outputs, configuration.
"""

__version__ = "0.1.0"
