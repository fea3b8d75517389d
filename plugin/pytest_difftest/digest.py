"""The digest of the pytest configuration (environment.pytest_config), kept
for the session: a leaf module, so that the plugin and the controller share
it without importing each other."""

from __future__ import annotations

from typing import Optional

import pytest

from pytest_difftest.environment import pytest_config

_CONFIG_DIGEST = pytest.StashKey[str]()


def config_digest(config: pytest.Config, option: Optional[object] = None) -> str:
    """The digest of `config`'s pytest configuration, computed on the first
    call and kept in its stash. `option` is the namespace holding -o and -W
    (by default config.option; the early namespace at start-up, before the
    plugin watches what is read)."""
    digest = config.stash.get(_CONFIG_DIGEST, None)
    if digest is None:
        digest = pytest_config(config.inipath, config.option if option is None else option, config.rootpath)
        config.stash[_CONFIG_DIGEST] = digest
    return digest
