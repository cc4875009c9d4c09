"""RIFE HDv3 route: frame interpolation and motion-compensated temporal smoothing.

``network`` is our own PyTorch IFNet (HDv3), ``weights`` finds and checks the checkpoint,
``smooth`` and ``interpolate`` are the streaming frame loops, ``dis_fallback`` stands in for
the network when no weights exist, and ``route`` ties them to the route protocol.
"""
