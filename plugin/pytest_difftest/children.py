"""What Python subprocesses of the tests ran (SPEC 4.4h), on the side of the
process that runs the tests: it names a directory in the environment that
children inherit, reads the reports they write there (child.py), and hands
what they ran to the capture being closed (a test's, or a wider fixture's).
"""

from __future__ import annotations

import os
import shutil
import site
import sysconfig
import tempfile
from typing import NamedTuple, Optional

from pytest_difftest import child

HOOK = "pytest_difftest_child.pth"


class ChildCode(NamedTuple):
    """A code object a child ran, as far as records.PathMapper reads one."""

    co_filename: str
    co_firstlineno: int
    co_name: str


class _Report:
    __slots__ = ("offset", "pid", "ended")

    def __init__(self) -> None:
        self.offset = 0
        self.pid = 0
        self.ended = False


def hook_installed() -> bool:
    """Whether the .pth hook sits in one of this interpreter's site
    directories (a wheel install puts it there; setup.py)."""
    dirs = {sysconfig.get_paths().get(k, "") for k in ("purelib", "platlib")}
    try:
        dirs.update(site.getsitepackages())
    except AttributeError:  # an old virtualenv's site.py
        pass
    return any(d and os.path.exists(os.path.join(d, HOOK)) for d in dirs)


class Children:
    """The reports of this process's Python children."""

    def __init__(self) -> None:
        self.directory: Optional[str] = None
        self._pid = 0  # the process that made the directory
        self._reports: dict[str, _Report] = {}

    def begin(self) -> None:
        """From the first test on, children report (the variable is
        inherited by subprocess, multiprocessing and console scripts that
        keep the environment)."""
        if self.directory is not None:
            return
        self.directory = tempfile.mkdtemp(prefix="difftest-children-")
        self._pid = os.getpid()
        os.environ[child.ENV] = self.directory
        # multiprocessing's fork (and os.fork in a test) copies this
        # process, hooks and all: the copy reports as a child.
        child.hook_forks()

    def end(self) -> None:
        directory, self.directory = self.directory, None
        if directory is None or os.getpid() != self._pid:
            return  # a forked copy of the session: the directory is not its own
        if os.environ.get(child.ENV) == directory:
            del os.environ[child.ENV]
        shutil.rmtree(directory, ignore_errors=True)

    def drain(self, codes: set, opened: set[str]) -> bool:  # type: ignore[type-arg]
        """Add what children reported since the last call; True when a
        child died without ending (killed by a signal): what it ran is not
        all known."""
        directory = self.directory
        if directory is None or os.getpid() != self._pid:
            return False
        try:
            names = os.listdir(directory)
        except OSError:
            return False
        killed = False
        for name in names:
            report = self._reports.get(name)
            if report is None:
                report = self._reports[name] = _Report()
            elif report.ended:
                continue
            path = os.path.join(directory, name)
            _read_report(path, report, codes, opened)
            if not report.ended and report.pid and not _alive(report.pid):
                # It may have written its end between the read and now.
                _read_report(path, report, codes, opened)
                if not report.ended:
                    killed = True
                    report.ended = True
            if report.ended:
                _unlink(path)
        return killed


def _read_report(path: str, report: _Report, codes: set, opened: set[str]) -> None:  # type: ignore[type-arg]
    try:
        with open(path, "rb") as f:
            f.seek(report.offset)
            data = f.read()
    except OSError:
        return
    end = data.rfind(b"\n") + 1  # complete lines only
    report.offset += end
    for line in data[:end].decode("utf-8", "surrogateescape").splitlines():
        kind, _, rest = line.partition("\t")
        if kind == "C":
            first, module, filename = rest.split("\t", 2)
            codes.add(ChildCode(filename, int(first), "<module>" if module == "1" else ""))
        elif kind == "O":
            opened.add(rest)
        elif kind == "S":
            report.pid = int(rest)
        elif kind == "E":
            report.ended = True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    # A child that ended but was not waited for yet is a zombie: gone, for
    # this purpose.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
