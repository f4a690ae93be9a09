"""Feature extraction: MicroLIA 2.8.1's 168 lightcurve statistics as numba kernels."""
