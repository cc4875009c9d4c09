"""Shared fixtures: one torch thread, and the real HDv3 network loaded once per session."""

import pytest
import torch

from flickerd.routes.rife.midpoint import RifeMidpoint
from flickerd.routes.rife.weights import load_network

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def network():
    net, info = load_network()
    return net, info


@pytest.fixture(scope="session")
def rife(network):
    return RifeMidpoint(network[0], device=torch.device("cpu"), fp16=False, scale=1.0)
