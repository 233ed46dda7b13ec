"""Run one function in a child process and receive its result through a pipe.

The build keeps both cores busy by doing slow, independent work (drawing figures, compiling
formulas) in a child while worker processes verify claims. A child that dies without a word, or
raises anything but a BuildError, is reported as a crash: the caller then redoes the work in its
own process, where any error surfaces as itself.

A child is forked (it starts at once, with everything the build has loaded), or, `fresh`, started
as a new interpreter (running `dldeck.pipeline.child.main`) that is sent the function and its arguments
pickled on stdin and answers on stdout: it imports only what it uses and does not map the build's
memory, which the memory summed over the process tree would count once more. (Not multiprocessing's
"spawn": it imports the parent's `__main__` again, and a script without a main guard builds twice.)
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from dldeck.errors import BuildError
from dldeck.heap import release_free_memory
from dldeck.interpreter import python_env


class ChildProcess:
    """A running child; `result()` waits for it, `stop()` ends it early (the build was interrupted)."""

    def __init__(self, process: Any, receiver: Any) -> None:
        self._process = process
        self._receiver = receiver

    @classmethod
    def start(cls, function: Callable[..., Any], *args: Any, daemon: bool,
              fresh: bool = False) -> ChildProcess | None:
        """Start `function(*args)` in a forked child, or with `fresh` in a new interpreter (`function`
        and `args` are then pickled); None where the platform cannot fork."""
        import multiprocessing

        if "fork" not in multiprocessing.get_all_start_methods():
            return None
        if fresh:
            interpreter = _Interpreter(function, args)
            return cls(interpreter, interpreter)
        context = multiprocessing.get_context("fork")
        release_free_memory()
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_run_and_send, args=(sender, function, args), daemon=daemon)
        process.start()
        sender.close()
        return cls(process, receiver)

    def result(self) -> tuple[str, Any]:
        """("ok", value), ("error", diagnostics of a BuildError) or ("crash", why or None)."""
        try:
            message = self._receiver.recv()
        except (EOFError, OSError):
            message = ("crash", None)
        self._process.join()
        self._receiver.close()
        return message

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._receiver.close()


class _Interpreter:
    """A fresh interpreter running `main`, seen through what ChildProcess uses of a forked
    Process (join, is_alive, kill) and of its Connection (recv, close)."""

    def __init__(self, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
        payload = pickle.dumps((function, args))  # before the child starts: one that cannot be sent has none
        # not `-m dldeck.pipeline.child`: the package imports this module first, and runpy warns
        command = [sys.executable, "-c", "from dldeck.pipeline.child import main; main()"]
        self._popen = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       env=python_env())
        # written beside the build: the child reads it only once it has started
        self._writer = threading.Thread(target=self._send, args=(payload,), daemon=True)
        self._writer.start()

    def _send(self, payload: bytes) -> None:
        assert self._popen.stdin is not None
        try:
            self._popen.stdin.write(payload)
            self._popen.stdin.close()
        except OSError:  # the child died first: recv() reports it
            pass

    def recv(self) -> Any:
        assert self._popen.stdout is not None
        data = self._popen.stdout.read()
        if not data:
            raise EOFError
        return pickle.loads(data)  # written by dldeck's own child, never read from content

    def join(self) -> None:
        self._popen.wait()
        self._writer.join()

    def is_alive(self) -> bool:
        return self._popen.poll() is None

    def kill(self) -> None:
        self._popen.kill()

    def close(self) -> None:
        if self._popen.stdout is not None:
            self._popen.stdout.close()


def _outcome(function: Callable[..., Any], args: tuple[Any, ...]) -> tuple[str, Any]:
    try:
        return ("ok", function(*args))
    except BuildError as error:
        return ("error", list(error.diagnostics))
    except BaseException as error:  # noqa: BLE001 - the parent redoes the work in-process to report it
        return ("crash", f"{type(error).__name__}: {error}")


def _run_and_send(sender: Any, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        sender.send(_outcome(function, args))
    finally:
        sender.close()


def main() -> None:
    """A fresh child: (function, args) pickled on stdin, the outcome pickled on stdout."""
    function, args = pickle.loads(sys.stdin.buffer.read())  # from the parent build, see _Interpreter
    answer = sys.stdout.buffer
    sys.stdout = sys.stderr  # whatever the work prints must not mix with the answer
    answer.write(pickle.dumps(_outcome(function, args)))
    answer.flush()
