"""Build step: compile the Go engine into the package as _difftest.so and
tag the wheel for the platform (it holds native code)."""

import os
import subprocess
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


def build_library(target_dir: Path) -> None:
    target_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        "go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w",
        "-o", str(target_dir / LIBRARY), "./lib/cabi",
    ]
    env = dict(os.environ, CGO_ENABLED="1")
    try:
        subprocess.run(cmd, cwd=HERE, env=env, check=True)
    except FileNotFoundError:
        raise SystemExit("pytest-difftest: building needs Go (https://go.dev/dl/) and a C compiler on PATH")
    # The header Go writes duplicates include/difftest.h; keep only ours.
    (target_dir / "_difftest.h").unlink(missing_ok=True)


class BuildPyWithGo(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            build_library(HERE / "plugin" / "pytest_difftest")
        else:
            build_library(Path(self.build_lib) / "pytest_difftest")


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


cmdclass = {"build_py": BuildPyWithGo}

if bdist_wheel is not None:

    class PlatformWheel(bdist_wheel):
        def finalize_options(self):
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self):
            _, _, plat = super().get_tag()
            return "py3", "none", plat

    cmdclass["bdist_wheel"] = PlatformWheel

setup(cmdclass=cmdclass, distclass=BinaryDistribution)
