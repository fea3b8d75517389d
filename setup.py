"""Build step: compile the Go engine into the package as _difftest.so, and
the children's SIGTERM guard as _childterm.so, and tag the wheel for the
platform (it holds native code)."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from wheel.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover
    bdist_wheel = None

HERE = Path(__file__).resolve().parent
LIBRARY = "_difftest.so"
CHILDTERM = "_childterm.so"

# Installed beside the package, at the root of site-packages, where the site
# module runs it at every interpreter start (coverage.py's technique). It
# costs one environment lookup unless a recording pytest-difftest set the
# variable for the subprocesses its tests start (pytest_difftest/child.py).
CHILD_HOOK = "pytest_difftest_child.pth"
CHILD_HOOK_LINE = (
    "import os; os.environ.get('PYTEST_DIFFTEST_CHILD') and "
    "__import__('importlib.util').util.find_spec('pytest_difftest') and "
    "__import__('pytest_difftest.child').child.start()\n"
)


def write_child_hook(target_dir: Path) -> None:
    target_dir.mkdir(parents=True, exist_ok=True)
    (target_dir / CHILD_HOOK).write_text(CHILD_HOOK_LINE)


def build_library(target_dir: Path) -> None:
    target_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        "go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w -extldflags=-s",
        "-o", str(target_dir / LIBRARY), "./lib/cabi",
    ]
    env = dict(os.environ, CGO_ENABLED="1")
    try:
        subprocess.run(cmd, cwd=HERE, env=env, check=True)
    except FileNotFoundError:
        raise SystemExit("pytest-difftest: building needs Go (https://go.dev/dl/) and a C compiler on PATH")
    # The header Go writes duplicates include/difftest.h; keep only ours.
    (target_dir / "_difftest.h").unlink(missing_ok=True)
    build_childterm(target_dir, env)


def build_childterm(target_dir: Path, env: dict) -> None:
    """The recorded children's SIGTERM guard (include/childterm.h): plain C,
    with the C compiler cgo uses ($CC, as ./build.sh wheels sets it)."""
    cc = shlex.split(env.get("CC") or "cc")
    flags = ["-O2", "-g0", "-shared", "-fPIC"]
    libs = ["-s", "-lrt"] if sys.platform.startswith("linux") else []
    cmd = [*cc, *flags, "-o", str(target_dir / CHILDTERM), "lib/childterm/childterm.c", *libs]
    try:
        subprocess.run(cmd, cwd=HERE, env=env, check=True)
    except FileNotFoundError:
        raise SystemExit("pytest-difftest: building needs a C compiler on PATH (cc, or $CC)")


class BuildPyWithGo(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            build_library(HERE / "plugin" / "pytest_difftest")
        else:
            build_library(Path(self.build_lib) / "pytest_difftest")
            write_child_hook(Path(self.build_lib))


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


cmdclass = {"build_py": BuildPyWithGo}

try:
    from setuptools.command.editable_wheel import editable_wheel
except ImportError:  # pragma: no cover
    editable_wheel = None

if editable_wheel is not None and hasattr(editable_wheel, "_run_build_commands"):

    class EditableWheelWithHook(editable_wheel):
        """An editable wheel holds a path entry, not build_py's output:
        the subprocess hook goes into the unpacked wheel's root, which
        setuptools writes into the wheel as is (a private method of
        setuptools; without it editable installs do not track
        subprocesses, and the plugin says so)."""

        def _run_build_commands(self, dist_name, unpacked_wheel, build_lib, tmp_dir):  # type: ignore[no-untyped-def]
            result = super()._run_build_commands(dist_name, unpacked_wheel, build_lib, tmp_dir)
            write_child_hook(Path(unpacked_wheel))
            return result

    cmdclass["editable_wheel"] = EditableWheelWithHook

if bdist_wheel is not None:

    class PlatformWheel(bdist_wheel):
        def finalize_options(self):
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self):
            _, _, plat = super().get_tag()
            # ./build.sh wheels cross-compiles with zig for an old glibc and
            # names the platform it targeted (e.g. manylinux_2_17_x86_64).
            return "py3", "none", os.environ.get("DIFFTEST_WHEEL_PLATFORM") or plat

    cmdclass["bdist_wheel"] = PlatformWheel

setup(cmdclass=cmdclass, distclass=BinaryDistribution)
