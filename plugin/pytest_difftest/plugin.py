"""pytest entry point (``pytest11: diff``): options and the switch that turns
the plugin on. Without a ``--diff*`` option nothing else is imported and the
engine is never loaded (SPEC 1.3)."""

from __future__ import annotations

import os
import sys
import time

import pytest

from pytest_difftest import options
from pytest_difftest.stash import STARTED_NS


def pytest_addoption(parser: pytest.Parser) -> None:
    options.addoption(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # Load the engine as early as the options are known: the Go runtime
    # initialises on a thread of its own (a few milliseconds) while pytest
    # imports conftest files and configures, instead of holding up the
    # first engine call. xdist workers never use the engine.
    known = early_config.known_args_namespace
    if not options.active(known):
        return
    # A pytest run started by a recorded test: it records on its own, and
    # its parent's child recorder must not hold the profile slot.
    child = sys.modules.get("pytest_difftest.child")
    if child is not None:
        child.stop()
    early_config.stash[STARTED_NS] = time.time_ns()
    # Read before anything is watched: the plugin's own reading of the
    # configuration file is no test's dependency.
    from pytest_difftest.digest import config_digest

    config_digest(early_config, known)
    if getattr(known, "diff_baseline", False):
        # What conftest.py files (and what they import) run from now on is
        # part of the import graph (recording.py).
        from pytest_difftest import listings, watch
        from pytest_difftest.byname import warning_modules

        filters = [*early_config.getini("filterwarnings"), *(getattr(known, "pythonwarnings", None) or []), *sys.warnoptions]
        watch.watch_startup_imports(warning_modules(filters))
        listings.watch_project(str(early_config.rootpath))
    if "PYTEST_XDIST_WORKER" not in os.environ:
        from pytest_difftest import engine

        # pytest's faulthandler plugin enables faulthandler itself, onto
        # the terminal: ours would only be re-targeted.
        engine.preload(faulthandler_on=not early_config.pluginmanager.has_plugin("faulthandler"))


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if not options.active(config.option):
        return
    settings = options.resolve(config)
    from pytest_difftest.selection import Collector

    pm = config.pluginmanager
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        # A pytest-xdist worker: the controller selected and records; the
        # worker only applies the selection and reports what tests ran.
        handoff = workerinput.get("difftest") or {}
        collector = Collector(config, handoff.get("skip_files", []), handoff.get("deselect", []))
        if handoff.get("shard"):
            from pytest_difftest.shard import Shard

            collector.shard = Shard(*handoff["shard"])
            collector.durations = handoff.get("durations") or {}
        pm.register(collector, "difftest-collector")
        if handoff.get("record"):
            from pytest_difftest.recording import TestRecording

            pm.register(TestRecording(config), "difftest-recording")
        else:
            _stop_watching_imports()
        return

    from pytest_difftest.controller import Controller, XdistController

    collector = Collector(config, [], [])
    controller = Controller(config, settings, collector)
    pm.register(collector, "difftest-collector")
    pm.register(controller, "difftest-controller")
    if settings.record:
        from pytest_difftest.recording import TestRecording

        recording = TestRecording(config)
        pm.register(recording, "difftest-recording")
        controller.take_local_imports = recording.take_imports
        if settings.verbose and recording.recorder.note:
            controller.messages.append(recording.recorder.note)
    if pm.hasplugin("xdist"):
        pm.register(XdistController(controller), "difftest-xdist")


def pytest_unconfigure(config: pytest.Config) -> None:
    # Process-global state goes back as it was: a second session in this
    # process (pytester's in-process runs, a second pytest.main()) starts
    # from scratch, and nothing of ours watches code after the session.
    watch = sys.modules.get("pytest_difftest.watch")
    if watch is not None:
        watch.release()


def _stop_watching_imports() -> None:
    """Nobody records in this process: give the profile slot back."""
    watch = sys.modules.get("pytest_difftest.watch")
    if watch is not None:
        watch.startup_imports()
