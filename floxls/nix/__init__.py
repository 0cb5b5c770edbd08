"""Pure Nix formats: nix-base32, NAR, store paths, narinfo, signing keys, compression.

Nothing here touches the network, runs a subprocess or knows about LSP.
"""
