"""The spiking network: LIF neurons (lif), synapses with batch norm and fixed point (quant),
the one-of-k Bernoulli latent (latent), the losses (losses), the FSVAE (fsvae) and the ANN VAE
of the same shape (ann_vae).
"""
