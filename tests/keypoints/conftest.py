"""Fixtures of the keypoint tests."""
import pytest
import torch


@pytest.fixture
def one_thread():
    """Small convolutions run faster on one thread, and far faster on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
