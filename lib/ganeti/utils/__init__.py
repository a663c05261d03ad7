"""Small helpers; each submodule does one thing (process, io, text, net, x509)."""
