"""The documentation site (mkdocs.yml, docs/) builds with --strict: a
broken link, a missing anchor or a page left out of the navigation fails
the suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytest.importorskip("mkdocs")


def build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(root / "mkdocs.yml"), "-d", str(site)],
        cwd=root, env=env, capture_output=True, text=True,
    )


def test_docs_build_strictly(tmp_path: Path) -> None:
    p = build(REPO, tmp_path / "site")
    assert p.returncode == 0, p.stdout + p.stderr
    assert (tmp_path / "site" / "ci" / "index.html").exists()


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    root = tmp_path / "copy"
    root.mkdir()
    shutil.copy(REPO / "mkdocs.yml", root)
    shutil.copytree(REPO / "docs", root / "docs")
    page = root / "docs" / "ci.md"
    page.write_text(page.read_text() + "\nSee [the missing page](missing.md).\n")
    p = build(root, tmp_path / "site")
    assert p.returncode != 0
    assert "missing.md" in p.stdout + p.stderr
