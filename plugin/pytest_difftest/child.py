"""The recorder of a Python subprocess that a recorded test started (SPEC
4.4h).

The installed ``pytest_difftest_child.pth`` imports this module at
interpreter start-up only when ``PYTEST_DIFFTEST_CHILD`` names a directory
(set by the recording process, children.py). The child then notes every
code object it runs (the C profiler, as the parent's recorder does; a
Python profile function on other threads) and every file it opens for
reading, and writes them to a file of its own in that directory:

    S <pid>                         when it starts
    C <first line> <0|1 module> <file>
    O <path>
    E                               when it ends normally

A child killed by a signal never writes its ``E`` line (nor its codes):
the parent then keeps the test selected. ``os._exit`` (multiprocessing's
forked workers end with it) writes first; SIGTERM with its default action
too, through a Python handler that _childterm.so (lib/childterm) keeps
from being left unrun: without it, a SIGTERM that lands just before the
main thread blocks is never handled, and ``Pool.terminate()`` waits for
the worker forever. Where that library cannot be loaded, SIGTERM keeps its
default action (no report; the test stays selected). A child forked from a
child (or from the test's process) reports on its own.

Nothing here may raise into the child's start-up: errors turn the recorder
off.
"""

from __future__ import annotations

import os
import sys
from types import CodeType, FrameType
from typing import Any, Optional

ENV = "PYTEST_DIFFTEST_CHILD"
_READ_ONLY = getattr(os, "O_ACCMODE", 3)

_state: "Optional[_Child]" = None
# Fork hooks are inherited by forked children: registered once per lineage.
_fork_hooked = False


def hook_forks() -> None:
    """Have every process forked from this one report as a child (the
    recording process calls this; a recorded child does it at start)."""
    global _fork_hooked
    if not _fork_hooked:
        _fork_hooked = True
        os.register_at_fork(after_in_child=forked)


def start() -> None:
    """Begin recording this process (the .pth hook, or after a fork)."""
    global _state
    directory = os.environ.get(ENV)
    if not directory or _state is not None:
        return
    try:
        _state = _Child(directory)
    except Exception:
        _state = None


def stop() -> None:
    """End recording here, reporting what ran so far as a normal end: the
    process became a pytest run that records on its own."""
    global _state
    child, _state = _state, None
    if child is not None:
        child.finish()
        import threading

        threading.setprofile(None)  # type: ignore[arg-type]


def forked() -> None:
    """In a child made by os.fork() in a recording process, or in a
    recorded child: report separately from the parent."""
    global _state
    child = _state
    if child is not None:
        child.restart()
    else:
        start()


class _Child:
    def __init__(self, directory: str) -> None:
        import atexit
        import threading

        self.directory = directory
        self.codes: set[CodeType] = set()
        self.opened: set[str] = set()
        self.ended = False
        # finish() under way, at exit: a SIGTERM that comes meanwhile
        # lets the process end as it was ending.
        self._writing = False
        self._open_report()
        self._prof: Any = None
        try:
            import _lsprof

            self._prof = _lsprof.Profiler(subcalls=False, builtins=False)
        except ImportError:
            pass
        add = self.codes.add

        def hook(frame: FrameType, event: str, arg: Any) -> None:
            add(frame.f_code)

        self._hook = hook
        threading.setprofile(hook)
        try:
            if self._prof is not None:
                self._prof.enable()
        except ValueError:
            # Python 3.12+: a C profiler already runs here (a process forked
            # from the recording one).
            self._prof = None
        if self._prof is None:
            sys.setprofile(hook)
        sys.addaudithook(self._audit)
        atexit.register(self.finish)
        original_exit = os._exit

        def _exit(code: int) -> None:
            self.finish()
            original_exit(code)

        os._exit = _exit  # type: ignore[assignment]
        hook_forks()
        self._watch_sigterm()

    def _open_report(self) -> None:
        name = os.path.join(self.directory, f"{os.getpid()}-{os.urandom(4).hex()}.txt")
        # Unbuffered: the start line is on disk however the child ends.
        self._fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        os.write(self._fd, f"S\t{os.getpid()}\n".encode())

    def restart(self) -> None:
        """After a fork: a new report; what ran before the fork is the
        parent's to report (the child's copy is kept, a harmless repeat)."""
        try:
            os.close(self._fd)
        except OSError:
            pass
        self.ended = False
        try:
            self._open_report()
        except OSError:
            self.ended = True
        self._rewatch_sigterm()

    def _watch_sigterm(self) -> None:
        """SIGTERM with its default action ends the process without atexit:
        report first, then die of the signal as before. A handler the child
        sets itself replaces this one."""
        self._on_term: Any = None
        try:
            import signal

            if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
                return

            def on_term(signum: int, frame: Any) -> None:
                _term_handled()
                if self._writing:
                    # Die once the report is written: returning here would
                    # leave a process that was told to end running on.
                    self._term_pending = True
                    return
                self.finish()
                _die_of_sigterm()

            signal.signal(signal.SIGTERM, on_term)
            if _guard_sigterm():
                self._on_term = on_term
            else:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
        except (ImportError, ValueError, OSError, AttributeError):
            pass  # not the main thread, or no SIGTERM here

    def _rewatch_sigterm(self) -> None:
        """In a fork of a child: the handlers are inherited, the guard's
        timer is not."""
        if self._on_term is None:
            return
        try:
            import signal

            if signal.getsignal(signal.SIGTERM) is not self._on_term:
                return  # the child set its own: plain Python from then on
            if not _guard_sigterm():
                self._on_term = None
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
        except (ImportError, ValueError, OSError, AttributeError):
            pass

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        if event != "open" or self.ended:
            return
        path, mode, flags = args
        if isinstance(mode, str):
            if "r" not in mode or "+" in mode:
                return
        elif isinstance(flags, int) and flags & _READ_ONLY != os.O_RDONLY:
            return
        if isinstance(path, int):
            return
        try:
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            self.opened.add(os.path.abspath(path))
        except (TypeError, ValueError):
            pass

    def finish(self) -> None:
        if self.ended:
            return
        self.ended = True
        self._writing = True
        try:
            self._write_report()
        finally:
            self._writing = False
        if getattr(self, "_term_pending", False):
            _die_of_sigterm()

    def _write_report(self) -> None:
        try:
            codes = set(self.codes)
            if self._prof is not None:
                self._prof.disable()
                codes.update(e.code for e in self._prof.getstats() if type(e.code) is CodeType)
            lines = []
            for code in codes:
                filename = code.co_filename
                if filename.startswith("<") or "\n" in filename:
                    continue
                module = 1 if code.co_name == "<module>" else 0
                lines.append(f"C\t{code.co_firstlineno}\t{module}\t{filename}\n")
            for path in self.opened:
                if "\n" not in path:
                    lines.append(f"O\t{path}\n")
            lines.append("E\n")
            data = memoryview("".join(lines).encode("utf-8", "surrogateescape"))
            while data:
                data = data[os.write(self._fd, data):]
            os.close(self._fd)
        except Exception:
            pass


# _childterm.so's functions (include/childterm.h), looked up once per
# lineage through _ctypes: the ctypes package costs a child start-up several
# times more.
_GUARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_childterm.so")
_guard_calls: "Optional[tuple[int, int]]" = None


def _guard_sigterm() -> bool:
    """Put the C guard in front of the Python SIGTERM handler just set
    (include/childterm.h); False when it cannot be."""
    global _guard_calls
    try:
        import _ctypes

        if _guard_calls is None:
            handle = _ctypes.dlopen(_GUARD, getattr(os, "RTLD_NOW", 2))
            _guard_calls = (_ctypes.dlsym(handle, "dtt_install"), _ctypes.dlsym(handle, "dtt_handled"))
        return bool(_ctypes.call_function(_guard_calls[0], ()) == 0)
    except Exception:
        return False


def _term_handled() -> None:
    if _guard_calls is not None:
        try:
            import _ctypes

            _ctypes.call_function(_guard_calls[1], ())
        except Exception:
            pass


def _die_of_sigterm() -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
