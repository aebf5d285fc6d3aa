"""The guard of the unit suite (tests/unit/conftest.py): no unit test reaches a network."""

import socket

import pytest
from pytest_socket import SocketBlockedError


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_a_unit_test_cannot_open_a_socket():
    # Given a unit test (sockets disabled by the suite's conftest)
    # When it opens a TCP socket, or a unix one
    # Then both are refused before any connection is tried
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
