"""A free TCP port on this machine, for the tests that start process groups (importable from
every test directory: pyproject's pytest ``pythonpath``)."""
import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
