"""Doctests (--doctest-modules, --doctest-glob) and code examples in
documentation: their code is in strings, which the recorder does not see. A
doctest depends on every edit of its file, and on the whole of each project
module its examples import or name, and of what those reach, even when that
module was imported before it ran (nothing was imported for the recorder to
see). All doctests of one file share what its examples reach."""

from __future__ import annotations

import pytest

from conftest import baseline, diff, nodes, outcomes, output, project, ran, touch_edit

FILES = {
    "pytest.ini": "[pytest]\naddopts = --doctest-modules --doctest-glob=*.txt\n",
    # Imported at start-up: a doctest's imports of it import nothing new.
    "conftest.py": "import calc.rates\n",
    "calc/__init__.py": "",
    "calc/rates.py": "RATE = 2\nOTHER = 5\n",
    "calc/unrelated.py": "LIMIT = 3\n",
    "calc/text.py": '''
        """Text.

        >>> len("ab")
        2
        """
    ''',
    "calc/fmt.py": '''
        def show(x):
            """
            >>> from calc import rates
            >>> show(rates.RATE)
            '2'
            """
            return str(x)
    ''',
    "calc/money.py": '''
        def cents(x):
            """Cents.

            >>> 1 +
            Traceback (most recent call last):
            SyntaxError: invalid syntax
            >>> import calc.rates
            >>> cents(calc.rates.OTHER)
            500
            """
            return x * 100
    ''',
    "docs/guide.txt": """
        >>> from calc import rates as r
        >>> r.RATE * 2
        4
    """,
    "tests/test_plain.py": """
        from calc import unrelated
        from calc.fmt import show

        def test_show():
            assert show(1) == "1"

        def test_limit():
            assert unrelated.LIMIT == 3
    """,
}

SHOW = nodes("calc/fmt.py", "calc.fmt.show")
TEXT = nodes("calc/text.py", "calc.text")
CENTS = nodes("calc/money.py", "calc.money.cents")
GUIDE = nodes("docs/guide.txt", "guide.txt")
PLAIN = nodes("tests/test_plain.py", "test_show", "test_limit")
DOCTESTS = SHOW | CENTS | GUIDE  # TEXT's examples read nothing of the project


@pytest.fixture
def recorded(pytester: pytest.Pytester) -> pytest.Pytester:
    project(pytester, FILES, ini=False)
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == DOCTESTS | TEXT | PLAIN, output(result)
    result = diff(pytester)
    assert ran(result) == set(), output(result)
    return pytester


@pytest.mark.parametrize(
    "rel, old, new, expected, failing",
    [
        # Read by show's doctest through "from calc import rates", and by
        # the guide through an alias: only the module's name is written.
        ("calc/rates.py", "RATE = 2", "RATE = 3", DOCTESTS, SHOW | GUIDE),
        # Read by cents' doctest as calc.rates.OTHER, after an example that
        # does not parse.
        ("calc/rates.py", "OTHER = 5", "OTHER = 6", DOCTESTS, CENTS),
        # The expected output is part of the file: editing it runs the
        # doctest, which ran no code of the file.
        ("calc/text.py", "\n2\n", "\n3\n", TEXT, TEXT),
        ("docs/guide.txt", "\n4", "\n5", GUIDE, GUIDE),
        # Nothing any doctest reaches.
        ("calc/unrelated.py", "LIMIT = 3", "LIMIT = 4", nodes("tests/test_plain.py", "test_limit"), nodes("tests/test_plain.py", "test_limit")),
    ],
    ids=["from-import", "dotted", "expected-output", "text-file", "unrelated"],
)
def test_doctest_runs_again_when_what_its_examples_read_changes(
    recorded: pytest.Pytester, rel: str, old: str, new: str, expected: set[str], failing: set[str]
) -> None:
    touch_edit(recorded, rel, old, new)
    result = diff(recorded)
    assert ran(result) == expected, output(result)
    assert {n for n, o in outcomes(result).items() if o == "FAILED"} == failing, output(result)


def test_doctest_dependencies_under_xdist(recorded: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    touch_edit(recorded, "calc/rates.py", "RATE = 2", "RATE = 3")
    result = diff(recorded, "-n", "2")
    assert ran(result) == DOCTESTS, output(result)


def test_doctest_recorded_under_xdist_selects_like_serial(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    project(pytester, FILES, ini=False)
    result = baseline(pytester, "-n", "2")
    assert ran(result) == DOCTESTS | TEXT | PLAIN, output(result)
    touch_edit(pytester, "calc/rates.py", "OTHER = 5", "OTHER = 6")
    result = diff(pytester)
    assert ran(result) == DOCTESTS, output(result)


def test_examples_in_a_documentation_file_run_by_a_library(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # A runner of Markdown examples (Sybil, pytest-markdown-docs) is code
    # outside the project: the test depends on the file it read, and on
    # the modules its code imports ("from calc import rates", then
    # rates.RATE: no dotted path names calc.rates).
    lib = pytester.path.parent / f"{pytester.path.name}-lib"
    lib.mkdir()
    (lib / "mdrunner.py").write_text(
        "import re\n\n\n"
        "def run(path):\n"
        "    ns = {}\n"
        "    for block in re.findall(r'```python\\n(.*?)```', open(path).read(), re.S):\n"
        "        exec(block, ns)\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(lib))
    files = {
        "pytest.ini": "[pytest]\n",
        "conftest.py": "import calc.rates\n",
        "calc/__init__.py": "",
        "calc/rates.py": "RATE = 2\nOTHER = 5\n",
        "docs/guide.md": "# Rates\n\n```python\nfrom calc import rates\nassert rates.RATE == 2\n```\n",
        "tests/test_guide.py": """
            import mdrunner

            def test_guide():
                mdrunner.run("docs/guide.md")

            def test_other():
                assert True
        """,
    }
    project(pytester, files, ini=False)
    guide = nodes("tests/test_guide.py", "test_guide")
    result = baseline(pytester)
    assert ran(result) == guide | nodes("tests/test_guide.py", "test_other"), output(result)
    touch_edit(pytester, "calc/rates.py", "RATE = 2", "RATE = 3")
    result = diff(pytester)
    assert ran(result) == guide, output(result)
    assert result.ret == 1, output(result)
