"""Code generators: hardware model + board description -> HLS C++ (hls.py), RTL (later)."""
