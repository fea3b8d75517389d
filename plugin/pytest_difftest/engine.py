"""The ctypes binding to the Go engine (include/difftest.h).

The Go runtime starts when the library is loaded and can never be unloaded,
so the library is loaded once, lazily, and only when a ``--diff*`` option is
active. A forked child must never call into Go: every call checks the pid.

Signals: Python's C-level signal handler is installed without SA_ONSTACK,
and Go documents that such a handler running on a Go stack is likely to
crash the process. So it never runs there: Go's own threads block the
asynchronous signals for good (they inherit the mask of the thread that
loads the library), and a thread calling into Go blocks those that Python
handles for the duration of the call. A signal that arrives meanwhile is
delivered when the call returns, which is when Python would have run its
handler anyway; signals left to their default action (SIGTERM, SIGKILL)
still end the process at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import functools
import json
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Iterator, Optional

LIBRARY = Path(__file__).with_name("_difftest.so")

# Return codes (DT_* in include/difftest.h).
OK, FAILED, PANICKED, MISUSE, FORKED = 0, 1, 2, 3, 4


class EngineError(Exception):
    """An error reported by the engine, as one line."""

    def __init__(self, message: str, internal: bool = False, detail: str = "") -> None:
        super().__init__(message)
        self.internal = internal
        self.detail = detail


class ForkedChild(EngineError):
    """Raised instead of calling into Go from a forked child."""


_lib: Optional[ctypes.CDLL] = None
_pid = 0

# Asynchronous signals a program may handle (synchronous ones, SIGPIPE and
# SIGURG are Go's business; Go's threads unblock SIGCHLD and SIGPROF again,
# whatever they inherit).
_ASYNC_SIGNALS = frozenset(
    getattr(signal, name)
    for name in (
        "SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGTERM", "SIGCHLD",
        "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGTSTP", "SIGTTIN", "SIGTTOU",
    )
    if hasattr(signal, name)
)


@contextlib.contextmanager
def _signals_blocked(signals: Optional[frozenset[int]] = None) -> Iterator[None]:
    """Block `signals` (by default: those Python handles now) in the calling
    thread; pending ones are delivered on exit."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    if signals is None:
        signals = frozenset(s for s in _ASYNC_SIGNALS if callable(signal.getsignal(s)))
    if not signals:
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def library(faulthandler_on: bool = True) -> ctypes.CDLL:
    """Load the engine once per process. faulthandler_on: enable
    faulthandler first if nobody has (False when pytest's own faulthandler
    plugin will, at pytest_configure, onto the terminal's stderr)."""
    global _lib, _pid
    if _lib is not None:
        check_pid()
        return _lib
    if not LIBRARY.exists():
        raise EngineError(
            f"pytest-difftest: the engine library is missing ({LIBRARY}); "
            "reinstall the package with `pip install` on a machine with Go and a C compiler"
        )
    # A crash inside Go should at least leave a Python traceback behind.
    # Never re-targeted: whoever enabled it chose where it writes.
    if faulthandler_on and not faulthandler.is_enabled():
        faulthandler.enable()
    try:
        # The Go runtime's threads, started now, inherit this mask.
        with _signals_blocked(_ASYNC_SIGNALS):
            lib = ctypes.CDLL(str(LIBRARY))
    except OSError as exc:
        raise EngineError(f"pytest-difftest: cannot load {LIBRARY}: {exc}") from None
    out = ctypes.POINTER(ctypes.c_void_p)
    handle = ctypes.c_size_t
    lib.dt_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(handle), out]
    lib.dt_select.argtypes = [handle, out]
    lib.dt_record.argtypes = [handle, ctypes.c_char_p, ctypes.c_size_t, out]
    lib.dt_finish.argtypes = [handle, ctypes.c_char_p, out]
    lib.dt_close.argtypes = [handle, out]
    for name in ("dt_open", "dt_select", "dt_record", "dt_finish", "dt_close"):
        getattr(lib, name).restype = ctypes.c_int
    lib.dt_free.argtypes = [ctypes.c_void_p]
    lib.dt_free.restype = None
    _lib, _pid = lib, os.getpid()
    _quiet_fork_warning()
    return lib


def preload(faulthandler_on: bool = True) -> None:
    """Load the library now if it can be; a failure is reported by the
    first real use."""
    try:
        library(faulthandler_on)
    except EngineError:
        pass


# Python 3.12+ warns in the parent after os.fork() when the process has more
# than one OS thread (a DeprecationWarning; under filterwarnings = error it
# surfaces as an unraisable-exception warning that fails the test). The Go
# runtime's threads, started when the library loads, make every fork warn.
# The child is safe from them: it has only the forking thread, and it never
# enters Go (check_pid guards every call). So, while the engine is loaded,
# exactly that message is silenced inside os.fork() and os.forkpty(), and
# only when Go's threads are the reason for it: with a second Python thread
# the program's own threads may deadlock the child, and the warning is left
# as Python gives it.
_FORK_WARNING = r"This process \(pid=\d+\) is multi-threaded, use of (fork|forkpty)\(\) may lead to deadlocks in the child\."


def _quiet_fork_warning() -> None:
    if sys.version_info < (3, 12):
        return
    for name in ("fork", "forkpty"):
        real = getattr(os, name, None)
        if real is None or getattr(real, "difftest_quiet", False):
            continue
        setattr(os, name, _quiet(real))


def _quiet(real: Any) -> Any:
    @functools.wraps(real)
    def fork() -> Any:
        if threading.active_count() > 1:
            return real()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_FORK_WARNING, category=DeprecationWarning)
            return real()

    fork.difftest_quiet = True  # type: ignore[attr-defined]
    return fork


def check_pid() -> None:
    if _pid and os.getpid() != _pid:
        raise ForkedChild("pytest-difftest: not calling the engine from a forked child")


def _take(lib: ctypes.CDLL, ptr: Optional[int]) -> str:
    if not ptr:
        return ""
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        lib.dt_free(ptr)


def call_json(name: str, request: Any) -> Any:
    """Call an engine function of the form ``int name(const char *json,
    char **out)`` (the CLI and remote functions): JSON in, JSON out."""
    lib = library()
    fn = getattr(lib, name)
    if fn.argtypes is None:
        fn.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        fn.restype = ctypes.c_int
    return call(name, json.dumps(request).encode())


def _error(name: str, code: int, text: str) -> EngineError:
    first, _, rest = text.partition("\n")
    kind = ForkedChild if code == FORKED else EngineError
    return kind(first or f"{name} failed", internal=code == PANICKED, detail=rest)


def call(name: str, *args: Any) -> Any:
    """Call an engine function whose last parameter is ``char **out``;
    return its decoded JSON result or raise EngineError."""
    lib = library()
    out = ctypes.c_void_p()
    with _signals_blocked():
        code = getattr(lib, name)(*args, ctypes.byref(out))
        text = _take(lib, out.value)
    if code == OK:
        return json.loads(text) if text else None
    raise _error(name, code, text)


class Session:
    """One pytest session's handle on the engine."""

    def __init__(self, config: dict[str, Any]) -> None:
        lib = library()
        handle = ctypes.c_size_t()
        out = ctypes.c_void_p()
        with _signals_blocked():
            code = lib.dt_open(json.dumps(config).encode(), ctypes.byref(handle), ctypes.byref(out))
            text = _take(lib, out.value)
        if code != OK:
            raise _error("dt_open", code, text)
        self._handle = handle.value

    def select(self) -> dict[str, Any]:
        return call("dt_select", self._handle)  # type: ignore[no-any-return]

    def record(self, batch: bytes) -> None:
        call("dt_record", self._handle, batch, len(batch))

    def finish(self, info: dict[str, Any]) -> dict[str, Any]:
        return call("dt_finish", self._handle, json.dumps(info).encode())  # type: ignore[no-any-return]

    def close(self) -> None:
        # A close that fails leaves the handle valid (include/difftest.h):
        # keep it, so that a later close can release the database.
        if self._handle:
            call("dt_close", self._handle)
            self._handle = 0
