#!/usr/bin/env python3
"""Deterministic synthetic project for the benchmark suite.

    python bench/generate.py OUTDIR --tests 1000 [--modules M] [--functions F] [--seed S]

The project is a package ``pkg`` of M source modules and a ``tests`` folder of
test files, one per module (``tests_per_file`` tests each, the last file takes
the rest). Every source module has:

- module-level constants (``SCALE``, ``OFFSET``, ``TABLE``) that functions read;
- F functions: some call the previous function of the same module, some call a
  function of another module (imported with ``from pkg import mod_XXXX``);
- two classes with three methods each, methods calling module functions.

Every test calls one to three callables, mostly of its own module and
sometimes of another one (cross-module imports in the test file), and asserts
a property that holds whatever the constants are, so the suite passes before
and after the edits the benchmark makes.

Two edits are described in ``bench_manifest.json`` at the root of the project:

- ``body_change``: one function body of a module in the middle of the package
  (a literal changes: the function's block changes, nothing else does), which
  affects a small subset of the tests;
- ``module_change``: the value of the module-level constant ``OFFSET`` of the
  same module, which (for block-level tools) affects every test that executed
  anything in that module: more tests.

The exact affected tests are not computed here: the runner measures them with
a tracer, the same way for synthetic and real projects (bench/affected.py).
Everything depends only on the parameters and the seed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

N_CLASSES = 2
N_METHODS = 3


def default_modules(tests: int) -> int:
    return max(5, tests // 20)


def mod_name(i: int) -> str:
    return f"mod_{i:04d}"


def func_name(i: int, j: int) -> str:
    return f"f_{i:04d}_{j:03d}"


def class_name(i: int, k: int) -> str:
    return f"Thing{k}_{i:04d}"


def generate(out: Path, tests: int, modules: int, functions: int, seed: int,
             tests_per_file: int = 20) -> dict:
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    pkg = out / "pkg"
    tdir = out / "tests"
    pkg.mkdir(parents=True)
    tdir.mkdir()
    (pkg / "__init__.py").write_text('"""Synthetic package for the pytest-difftest benchmark."""\n')
    (out / "pyproject.toml").write_text(
        '[project]\nname = "bench-synthetic"\nversion = "0"\n\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    )
    (out / "conftest.py").write_text('"""Root conftest: puts the project root on sys.path."""\n')

    target_mod = modules // 2
    target_func = 2  # j % 3 != 1 and j % 5 != 4: a leaf-ish function
    body_change = module_change = None

    for i in range(modules):
        name = mod_name(i)
        lines = [f'"""Synthetic source module {i}."""', ""]
        cross: dict[int, int] = {}
        for j in range(functions):
            if j % 5 == 4 and j % 3 != 1 and modules > 1:
                other = rng.randrange(modules - 1)
                if other >= i:
                    other += 1
                cross[j] = other
        for other in sorted(set(cross.values())):
            lines.append(f"from pkg import {mod_name(other)}")
        if cross:
            lines.append("")
        scale = rng.randint(2, 9)
        offset = rng.randint(0, 9)
        lines += [
            f"SCALE = {scale}",
            f"OFFSET = {offset}",
            f"TABLE = {tuple(rng.randint(0, 99) for _ in range(5))!r}",
            "",
            "",
        ]
        for j in range(functions):
            fname = func_name(i, j)
            body = [f"def {fname}(x):", f'    """Function {j} of module {i}."""']
            lit = rng.randint(1, 9)
            if j % 3 == 1 and j > 0:
                body.append(f"    acc = {func_name(i, j - 1)}(x) + {lit}")
            elif j in cross:
                other = cross[j]
                body.append(f"    acc = {mod_name(other)}.{func_name(other, rng.randrange(functions))}(x) + {lit}")
            else:
                body.append(f"    acc = x * SCALE + OFFSET + {lit}")
            body += [
                "    for v in TABLE[: (x % 3) + 1]:",
                "        acc += v % 7",
                "    if acc % 2:",
                "        acc -= 1",
                "    return acc",
            ]
            if i == target_mod and j == target_func:
                old = f"    acc = x * SCALE + OFFSET + {lit}\n"
                new = f"    acc = x * SCALE + OFFSET + {lit + 1}\n"
                body_change = {
                    "file": f"pkg/{name}.py",
                    "block": fname,
                    "old": old,
                    "new": new,
                }
            lines += body + ["", ""]
        for k in range(N_CLASSES):
            cname = class_name(i, k)
            lines += [
                f"class {cname}:",
                f'    """Class {k} of module {i}."""',
                "",
                f"    kind = {k}",
                "",
                "    def __init__(self, value):",
                "        self.value = value",
                "",
            ]
            for m in range(N_METHODS):
                callee = func_name(i, (k * N_METHODS + m) % functions)
                lines += [
                    f"    def method_{m}(self):",
                    f"        return {callee}(self.value + {m}) + self.kind",
                    "",
                ]
            lines.append("")
        if i == target_mod:
            module_change = {
                "file": f"pkg/{name}.py",
                "block": "<module>",
                "old": f"OFFSET = {offset}\n",
                "new": f"OFFSET = {offset + 1}\n",
            }
        (pkg / f"{name}.py").write_text("\n".join(lines).rstrip() + "\n")

    # Test files: file t belongs to module t % modules.
    n_files = max(1, (tests + tests_per_file - 1) // tests_per_file)
    made = 0
    for t in range(n_files):
        count = min(tests_per_file, tests - made)
        if count <= 0:
            break
        home = t % modules
        used = {home}
        bodies = []
        for n in range(count):
            calls = []
            for _ in range(rng.randint(1, 3)):
                m = home if rng.random() < 0.8 or modules == 1 else rng.randrange(modules)
                used.add(m)
                if rng.random() < 0.75:
                    calls.append(f"{mod_name(m)}.{func_name(m, rng.randrange(functions))}({rng.randint(0, 50)})")
                else:
                    calls.append(
                        f"{mod_name(m)}.{class_name(m, rng.randrange(N_CLASSES))}({rng.randint(0, 50)})"
                        f".method_{rng.randrange(N_METHODS)}()"
                    )
            body = [f"def test_{t:04d}_{n:03d}():"]
            for c_i, call in enumerate(calls):
                body.append(f"    r{c_i} = {call}")
            body.append("    assert " + " and ".join(f"isinstance(r{c_i}, int)" for c_i in range(len(calls))))
            bodies.append("\n".join(body))
            made += 1
        header = [f'"""Tests, file {t}."""', ""]
        header += [f"from pkg import {mod_name(m)}" for m in sorted(used)]
        text = "\n".join(header) + "\n\n\n" + "\n\n\n".join(bodies) + "\n"
        (tdir / f"test_{t:04d}.py").write_text(text)

    manifest = {
        "kind": "synthetic",
        "tests": made,
        "modules": modules,
        "functions": functions,
        "classes_per_module": N_CLASSES,
        "test_files": n_files,
        "seed": seed,
        "body_change": body_change,
        "module_change": module_change,
    }
    (out / "bench_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--tests", type=int, default=1000)
    ap.add_argument("--modules", type=int, default=None, help="default: tests / 20")
    ap.add_argument("--functions", type=int, default=10, help="functions per module (at least 5)")
    ap.add_argument("--tests-per-file", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.functions < 5:
        ap.error("--functions must be at least 5")
    modules = args.modules or default_modules(args.tests)
    m = generate(args.out, args.tests, modules, args.functions, args.seed, args.tests_per_file)
    print(json.dumps(m, indent=2))


if __name__ == "__main__":
    main()
