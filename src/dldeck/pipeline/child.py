"""Run one function in a forked process and receive its result through a pipe.

The build keeps both cores busy by doing slow, independent work (drawing figures, compiling
formulas) in a forked child while worker processes verify claims. A child that dies without a
word, or raises anything but a BuildError, is reported as a crash: the caller then redoes the work
in its own process, where any error surfaces as itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dldeck.errors import BuildError
from dldeck.heap import release_free_memory


class ForkedChild:
    """A running child; `result()` waits for it, `stop()` ends it early (the build was interrupted)."""

    def __init__(self, process: Any, receiver: Any) -> None:
        self._process = process
        self._receiver = receiver

    @classmethod
    def start(cls, function: Callable[..., Any], *args: Any, daemon: bool) -> ForkedChild | None:
        """Start `function(*args)` in a forked child; None where the platform cannot fork."""
        import multiprocessing

        if "fork" not in multiprocessing.get_all_start_methods():
            return None
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


def _run_and_send(sender: Any, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        sender.send(("ok", function(*args)))
    except BuildError as error:
        sender.send(("error", list(error.diagnostics)))
    except BaseException as error:  # noqa: BLE001 - the parent redoes the work in-process to report it
        sender.send(("crash", f"{type(error).__name__}: {error}"))
    finally:
        sender.close()
