"""Restarting the process in place (:mod:`hotwsgi.serving.restart`).

``exec_self`` replaces the process it runs in, so those tests run a small script
in a child process that really execs; the test reads what the process printed
before and after the exec (the same pid both times).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from hotwsgi.serving.restart import LISTEN_FD_ENV, RESTARTED_ENV, inherited_socket, wait_idle, was_restarted
from tests.helpers.util import ServerProcess, wait_for, write_file

CHILD = """
import json
import os
import select
import socket
import sys

from hotwsgi.serving import restart


def report(**values):
    print("REPORT " + json.dumps(values), flush=True)


scenario = sys.argv[1]
if not restart.was_restarted():
    # The first run: set things up as serve() does, then restart.
    print(f"first run {os.getpid()}")  # no flush: exec_self must flush it
    if scenario == "environment":
        restart.remember_environment()
        os.environ["SET_AFTER_START"] = "yes"  # like --env-file: not part of a fresh start
        restart.remember_environment()  # the first call wins
    elif scenario == "no-snapshot":
        os.environ["SET_AFTER_START"] = "yes"
    elif scenario == "socket":
        sock = socket.create_server(("127.0.0.1", 0))
        restart.remember_socket(sock)
        print(f"port {sock.getsockname()[1]}", flush=True)
        select.select([sock], [], [], 30)  # a client connected (not accepted): restart now
    elif scenario == "closed-socket":
        sock = socket.create_server(("127.0.0.1", 0))
        restart.remember_socket(sock)
        sock.close()  # the server let go of it: nothing to hand on
    elif scenario == "closed-stdout":
        sys.stdout.flush()
        sys.stdout = open(os.devnull, "w")
        sys.stdout.close()  # the app closed it: flushing it fails, the restart must not
        reader, writer = os.pipe()
        os.close(reader)
        sys.stderr = open(writer, "w")
        sys.stderr.write("unflushed")  # and stderr is a pipe nobody reads any more
    elif scenario == "exec-fails":
        sys.executable = os.path.join(os.path.dirname(os.path.abspath(__file__)), "no-such-python")
    restart.exec_self(os.environ.get("REASON", "views.py changed"))
    report(returned=True, pid=os.getpid())
    sys.exit(0)

listen_fd_given = os.environ.get(restart.LISTEN_FD_ENV)
inherited = restart.inherited_socket()
values = dict(
    listen_fd_given=listen_fd_given,
    pid=os.getpid(),
    argv=sys.argv[1:],
    reason=restart.was_restarted(),
    set_after_start=os.environ.get("SET_AFTER_START"),
    listen_fd_left=os.environ.get(restart.LISTEN_FD_ENV),
    taken_twice=restart.inherited_socket() is not None,
    inherited_port=inherited.getsockname()[1] if inherited else None,
)
if inherited is not None:
    conn, _ = inherited.accept()
    conn.sendall(b"answered after the restart: " + conn.recv(100))
    conn.close()
report(**values)
"""


def run_child(tmp_path: Path, scenario: str, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
    script = tmp_path / "child.py"
    write_file(script, CHILD)
    # No PYTHONUNBUFFERED: output written before the exec must be flushed by exec_self itself.
    child_env = {"PYTHONUNBUFFERED": "", "SET_AFTER_START": "", **(env or {})}
    return ServerProcess([scenario, *args], tmp_path, child_env, command=[sys.executable, str(script)])


def report(child: ServerProcess) -> dict[str, Any]:
    try:
        code = child.wait_exit()
    finally:
        child.stop()  # a child that hangs is not left behind
    assert 0 == code, child.log
    line = next(line for line in child.log.splitlines() if line.startswith("REPORT "))
    return json.loads(line[len("REPORT ") :])  # type: ignore[no-any-return]


def first_pid(child: ServerProcess) -> int:
    line = next(line for line in child.log.splitlines() if line.startswith("first run "))
    return int(line.split()[-1])


def test_exec_self_restarts_the_same_command_in_the_same_process(tmp_path: Path) -> None:
    child = run_child(tmp_path, "plain", "--port", "0", env={"REASON": "views.py changed\nand more"})
    values = report(child)
    assert first_pid(child) == values["pid"]  # exec, not a new process: the output before it was flushed
    assert ["plain", "--port", "0"] == values["argv"]
    assert "views.py changed and more" == values["reason"]
    assert None is values["inherited_port"]
    assert None is values["listen_fd_given"]


def test_the_reason_is_one_line_of_at_most_500_characters(tmp_path: Path) -> None:
    values = report(run_child(tmp_path, "plain", env={"REASON": "x" * 1000}))
    assert "x" * 500 == values["reason"]


def test_restart_starts_from_the_environment_remembered_at_start(tmp_path: Path) -> None:
    values = report(run_child(tmp_path, "environment"))
    assert "" == values["set_after_start"]  # the value from the start, not the one set later


def test_without_a_remembered_environment_the_current_one_is_used(tmp_path: Path) -> None:
    values = report(run_child(tmp_path, "no-snapshot"))
    assert "yes" == values["set_after_start"]


def test_a_stale_listen_fd_from_the_start_is_not_handed_on(tmp_path: Path) -> None:
    values = report(run_child(tmp_path, "environment", env={LISTEN_FD_ENV: "987"}))
    assert None is values["listen_fd_given"]
    assert None is values["inherited_port"]


def test_the_listening_socket_survives_the_exec_with_its_waiting_client(tmp_path: Path) -> None:
    child = run_child(tmp_path, "socket")
    try:
        wait_for(lambda: "port " in child.log, what="the child to listen")
        port = int(next(line for line in child.log.splitlines() if line.startswith("port ")).split()[1])
        with socket.create_connection(("127.0.0.1", port), timeout=15) as client:
            client.sendall(b"hello")  # sent before the restart, read after it
            client.shutdown(socket.SHUT_WR)
            answer = b"".join(iter(lambda: client.recv(100), b""))
        values = report(child)
    finally:
        child.stop()
    assert b"answered after the restart: hello" == answer
    assert port == values["inherited_port"]
    assert first_pid(child) == values["pid"]
    assert values["listen_fd_given"] is not None and None is values["listen_fd_left"]  # taken once
    assert False is values["taken_twice"]


def test_a_socket_closed_before_the_restart_is_not_handed_on(tmp_path: Path) -> None:
    values = report(run_child(tmp_path, "closed-socket"))
    assert None is values["listen_fd_given"]
    assert None is values["inherited_port"]


def test_a_closed_stdout_or_a_broken_pipe_does_not_stop_the_restart(tmp_path: Path) -> None:
    child = run_child(tmp_path, "closed-stdout")
    values = report(child)
    assert first_pid(child) == values["pid"]
    assert "views.py changed" == values["reason"]


def test_a_failed_exec_returns_to_the_caller(tmp_path: Path) -> None:
    child = run_child(tmp_path, "exec-fails")
    values = report(child)
    assert {"returned": True, "pid": first_pid(child)} == values


# -- in this process ---------------------------------------------------------------------


def test_was_restarted_reads_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RESTARTED_ENV, raising=False)
    assert None is was_restarted()
    monkeypatch.setenv(RESTARTED_ENV, "settings.py changed")
    assert "settings.py changed" == was_restarted()


@pytest.mark.parametrize("value", ["not-a-number", "", "999999"])
def test_an_inherited_fd_that_is_not_an_open_socket_is_ignored(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LISTEN_FD_ENV, value)
    assert None is inherited_socket()
    assert LISTEN_FD_ENV not in os.environ


def test_an_inherited_fd_of_a_file_is_not_a_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open(tmp_path / "f", "w") as f:
        monkeypatch.setenv(LISTEN_FD_ENV, str(f.fileno()))
        assert None is inherited_socket()
        f.write("still open")  # the file's descriptor was not taken over


def test_an_inherited_socket_is_adopted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        fd = os.dup(server.fileno())
        monkeypatch.setenv(LISTEN_FD_ENV, str(fd))
        adopted = inherited_socket()
        assert adopted is not None
        with adopted:
            assert server.getsockname() == adopted.getsockname()
            assert None is inherited_socket()


def test_wait_idle_returns_when_the_last_request_is_done() -> None:
    left = [3]

    def finish() -> None:
        while left[0]:
            left[0] -= 1

    threading.Timer(0.05, finish).start()
    assert 0 == wait_idle(lambda: left[0], timeout=30)


def test_wait_idle_gives_up_after_the_timeout_and_says_how_many_are_left() -> None:
    assert 2 == wait_idle(lambda: 2, timeout=0.05)


def test_wait_idle_with_nothing_in_flight() -> None:
    assert 0 == wait_idle(lambda: 0, timeout=0)


def test_wait_idle_waits_for_the_last_request_with_a_timeout_under_a_second() -> None:
    left = [1]
    threading.Timer(0.05, lambda: left.clear()).start()
    assert 0 == wait_idle(lambda: len(left), timeout=0.9)


def test_the_adopted_socket_is_not_inherited_by_what_the_app_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    # The exec hands the socket over inheritable; once adopted, a process the app starts
    # (os.system, subprocess with close_fds=False) must not hold the server's port open.
    import subprocess

    from hotwsgi.serving.servers._socket import bind_socket

    handed = socket.socket()
    handed.bind(("127.0.0.1", 0))
    handed.listen()
    handed.set_inheritable(True)
    fd = handed.detach()
    monkeypatch.setenv(LISTEN_FD_ENV, str(fd))
    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.fileno() == fd  # adopted, not bound again
        probe = f"import os, sys\ntry:\n    os.fstat({fd})\nexcept OSError:\n    sys.exit(3)\n"
        child = subprocess.run([sys.executable, "-c", probe], close_fds=False, check=False)
        assert child.returncode == 3, "the child process inherited the listening socket"
    finally:
        sock.close()
