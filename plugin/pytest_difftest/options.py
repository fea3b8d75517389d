"""Command-line options and ini keys (SPEC 2), declared and validated in one
place."""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import pytest

from pytest_difftest.shard import Shard, parse as parse_shard

DEFAULT_BATCH_SIZE = 20
DEFAULT_CACHE_SIZE = 100_000


def addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("difftest", "pytest-difftest: run only the tests affected by a change")
    group.addoption(
        "--diff", action="store_true", default=False,
        help="run only the tests affected by changes since the baseline; records nothing",
    )
    group.addoption(
        "--diff-baseline", action="store_true", default=False,
        help="record the baseline: everything the first time, then the affected and pending tests",
    )
    group.addoption(
        "--diff-force", action="store_true", default=False,
        help="with --diff-baseline: run and record every test",
    )
    group.addoption(
        "--diff-v", action="store_true", default=False,
        help="verbose: timings, counts and changed files",
    )
    group.addoption(
        "--diff-why", action="store_true", default=False,
        help="print why each selected test was selected",
    )
    group.addoption(
        "--diff-batch-size", metavar="N", default=None,
        help=f"test records written per transaction (default {DEFAULT_BATCH_SIZE}; ini: diff_batch_size)",
    )
    group.addoption(
        "--diff-cache-size", metavar="N", default=None,
        help=f"files whose parsed blocks are kept in memory (default {DEFAULT_CACHE_SIZE}; ini: diff_cache_size)",
    )
    group.addoption(
        "--diff-remote", metavar="URL", default=None,
        help="remote baseline, s3://bucket/key.db or file:///path/key.db (ini: diff_remote_url)",
    )
    group.addoption(
        "--diff-upload", action="store_true", default=False,
        help="after a successful --diff-baseline, upload the database to the remote",
    )
    group.addoption(
        "--diff-shard", metavar="K/N", default=None,
        help="run shard K of N of the selected tests, split by the baseline's durations (CI)",
    )
    group.addoption(
        "--diff-env", metavar="NAME", default=None,
        help="the environment whose results are used and recorded, kept apart from other environments' "
        "in the same database (default: the interpreter's major.minor; ini: diff_env)",
    )
    count = _count_type()
    parser.addini("diff_batch_size", f"test records written per transaction (default {DEFAULT_BATCH_SIZE})", type=count, default=None)
    parser.addini("diff_cache_size", f"files whose parsed blocks are kept in memory (default {DEFAULT_CACHE_SIZE})", type=count, default=None)
    parser.addini("diff_remote_url", "remote baseline URL (s3://bucket/key.db or file:///path/key.db)", default=None)
    parser.addini("diff_env", "the environment whose results are used and recorded (default: the interpreter's major.minor)", default=None)


def _count_type() -> Any:
    """The ini type of a count. A TOML file (pytest 9's pytest.toml, or
    pyproject.toml's [tool.pytest]) gives an integer as TOML users write it
    (``diff_batch_size = 50``), which a "string" key rejects. pytest 9.2
    takes a union: an integer, or text that resolve() reports on in one
    line; pytest 9.0 and 9.1 read TOML but have no unions, so an integer;
    pytest 8 reads no native TOML and turns every value into text."""
    version = tuple(int(p) for p in pytest.version_tuple[:2] if isinstance(p, int))
    if version >= (9, 2):
        from typing import Union

        return Union[int, str]
    if version >= (9, 0):
        return "int"
    return "string"


# A NamedTuple, not a dataclass: this module is imported by every pytest run
# (the plugin's options), and a dataclass costs a millisecond to create.
class Settings(NamedTuple):
    record: bool
    force: bool
    verbose: bool
    why: bool
    batch_size: int
    cache_size: int
    remote: Optional[str]  # as given: checked at session start (remote.check)
    remote_source: str  # where it was given: --diff-remote or diff_remote_url
    upload: bool
    shard: Optional[Shard]
    env: str


def active(o: Any) -> bool:
    """Whether any --diff* command-line option was given (SPEC 1.3), in
    config.option or in the early config's known_args_namespace."""
    return bool(
        o.diff or o.diff_baseline or o.diff_force or o.diff_v or o.diff_why or o.diff_upload
        or o.diff_batch_size is not None or o.diff_cache_size is not None or o.diff_remote is not None
        or o.diff_shard is not None
        or o.diff_env is not None
    )


def _positive_int(name: str, value: object) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        raise pytest.UsageError(f"{name}: expected a positive whole number, got {value!r}") from None
    if n <= 0:
        raise pytest.UsageError(f"{name}: expected a positive whole number, got {value!r}")
    return n


# An environment name must read the same on a command line, in an ini file
# and in a one-line message; the engine checks the same rule.
MAX_ENV_NAME = 100


def _env_name(name: str, value: object) -> str:
    text = str(value)
    if not text:
        raise pytest.UsageError(f"{name}: expected an environment name, got an empty value")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_ENV_NAME:
        raise pytest.UsageError(f"{name}: an environment name is at most {MAX_ENV_NAME} bytes, got {size}")
    if any(c.isspace() or not c.isprintable() for c in text):
        raise pytest.UsageError(
            f"{name}: an environment name cannot hold whitespace or invisible characters, got {text!r}"
        )
    return text


def _setting(config: pytest.Config, option: str, flag: str, ini: str, default: object) -> tuple[str, object]:
    value = getattr(config.option, option)
    if value is not None:
        return flag, value
    try:
        value = config.getini(ini)
    except (TypeError, ValueError) as exc:
        # A value of the wrong kind in the configuration file (pytest's
        # own check, or its conversion of the text).
        raise pytest.UsageError(f"{ini}: {exc}") from None
    if value not in (None, ""):
        return ini, value
    return flag, default


def resolve(config: pytest.Config) -> Settings:
    """Read and validate the options; raise pytest.UsageError (exit 4).
    Pure: the remote URL is checked by the engine at session start, so that
    configuring pytest never loads it."""
    o = config.option
    if not (o.diff or o.diff_baseline):
        raise pytest.UsageError(
            "pytest-difftest: --diff-force, --diff-v, --diff-why, --diff-upload, --diff-shard and the "
            "--diff-* settings need --diff or --diff-baseline"
        )
    if o.diff_force and not o.diff_baseline:
        raise pytest.UsageError("pytest-difftest: --diff-force needs --diff-baseline")
    batch_size = _positive_int(*_setting(config, "diff_batch_size", "--diff-batch-size", "diff_batch_size", DEFAULT_BATCH_SIZE))
    cache_size = _positive_int(*_setting(config, "diff_cache_size", "--diff-cache-size", "diff_cache_size", DEFAULT_CACHE_SIZE))
    remote_source, remote = _setting(config, "diff_remote", "--diff-remote", "diff_remote_url", None)
    remote_url = str(remote).strip() if remote not in (None, "") else None
    from pytest_difftest.environment import python_version

    env = _env_name(*_setting(config, "diff_env", "--diff-env", "diff_env", python_version()))
    if o.diff_upload and not o.diff_baseline:
        raise pytest.UsageError("pytest-difftest: --diff-upload needs --diff-baseline")
    if o.diff_upload and not remote_url:
        raise pytest.UsageError("pytest-difftest: --diff-upload needs --diff-remote or diff_remote_url")
    shard = parse_shard(o.diff_shard) if o.diff_shard is not None else None
    return Settings(
        record=bool(o.diff_baseline),
        force=bool(o.diff_force),
        verbose=bool(o.diff_v),
        why=bool(o.diff_why),
        batch_size=batch_size,
        cache_size=cache_size,
        remote=remote_url,
        remote_source=remote_source,
        upload=bool(o.diff_upload),
        shard=shard,
        env=env,
    )
