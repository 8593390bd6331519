import socket

from carseg_model.ports import port_problem


def test_a_taken_port_is_named_and_a_free_one_passes():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert port_problem("127.0.0.1", port) == f"port {port} is in use; pass --port N to use another port"
    assert port_problem("127.0.0.1", port) is None
    assert "check --host" in port_problem("203.0.113.7", 8000)  # an address this machine does not have
