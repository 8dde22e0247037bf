"""Plugin discovery: broken plugins, allow/block lists, conflicts, commands, ``plugins``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mltasks import TaskSpec, get_task, hookimpl
from mltasks.cli import cli
from mltasks.errors import PluginLoadError, TaskConflictError
from mltasks.plugins import BUILTIN_PLUGINS, registry

BROKEN = "raise ImportError('no module named quux')\n"

SECOND_TOY = '''
from mltasks import TaskSpec, hookimpl

@hookimpl
def register_tasks(register):
    register(TaskSpec(name="toy", summary="another toy", task="toy_task:ToyTask", config="toy_task:ToyConfig"))
'''

COMMAND = '''
import click
from mltasks import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command()
    @click.argument("name")
    def hello(name):
        """Say hello."""
        click.echo(f"hello {name}")
'''


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def test_broken_plugin_is_reported_and_others_work(toy, make_distribution):
    make_distribution("mltasks-broken", "broken_plugin", BROKEN, entry="broken")
    result = invoke("list")
    assert result.exit_code == 0
    assert "toy" in result.output
    assert "Warning: plugin 'broken' from mltasks-broken failed to load: ImportError: no module named quux" in (
        result.output)
    rows = {r["name"]: r for r in json.loads(invoke("plugins", "--json").output)}
    assert rows["broken"]["error"].endswith("ImportError: no module named quux")
    assert rows["toy"]["tasks"] == ["toy"] and rows["toy"]["hooks"] == ["register_tasks"]
    assert rows["toy"]["distribution"] == "mltasks-toy" and rows["toy"]["version"] == "1.0"
    assert "ERROR: plugin 'broken'" in invoke("plugins").output


def test_strict_plugins_turns_failure_into_error(toy, make_distribution, monkeypatch):
    make_distribution("mltasks-broken", "broken_plugin", BROKEN, entry="broken")
    monkeypatch.setenv("MLTASKS_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="mltasks-broken"):
        registry()
    result = invoke("list")
    assert result.exit_code == 2 and "failed to load" in result.output


def test_allow_and_block_lists(toy, make_distribution, monkeypatch):
    make_distribution("mltasks-broken", "broken_plugin", BROKEN, entry="broken")
    monkeypatch.setenv("MLTASKS_LOAD_PLUGINS", "toy")  # third-party entry points; the core's built-ins stay
    assert set(registry().plugins) == {"toy", *BUILTIN_PLUGINS}
    from mltasks import plugins

    plugins.reset()
    monkeypatch.delenv("MLTASKS_LOAD_PLUGINS")
    monkeypatch.setenv("MLTASKS_DISABLE_PLUGINS", "toy, broken, mltasks.serve.hooks")
    assert "toy" not in registry().plugins and "broken" not in registry().plugins
    assert "mltasks.serve.hooks" not in registry().plugins and "mltasks.tune.hooks" in registry().plugins
    plugins.reset()
    assert "serve" not in invoke("--help").output


def test_duplicate_task_name_is_unusable_naming_both(toy, make_distribution):
    make_distribution("mltasks-other", "other_plugin", SECOND_TOY, entry="other")
    with pytest.raises(TaskConflictError, match="registered by both mltasks-other and mltasks-toy"):
        get_task("toy")
    result = invoke("run", "toy")
    assert result.exit_code == 2
    assert result.output == ("Error: task 'toy' is registered by both mltasks-other and mltasks-toy; "
                             "uninstall one of them to use it\n")
    assert "UNUSABLE" in invoke("list").output


def test_plugin_commands(make_distribution):
    make_distribution("mltasks-hello", "hello_plugin", COMMAND, entry="hello")
    assert invoke("hello", "ada").output == "hello ada\n"
    assert "hello" in invoke("--help").output


def test_plugin_registered_in_a_test_is_unregistered(mltasks_plugin):
    class Plugin:
        @hookimpl
        def register_tasks(self, register):
            register(TaskSpec(name="inline", summary="s", task="toy_task:ToyTask", config="toy_task:ToyConfig"))

    mltasks_plugin(Plugin(), name="inline")
    assert "inline" in registry().all_tasks()


def test_registry_forgets_unregistered_plugin():
    assert "inline" not in registry().all_tasks()


def test_hook_implementation_without_spec_is_rejected(make_distribution):
    make_distribution("mltasks-typo", "typo_plugin",
                      "from mltasks import hookimpl\n@hookimpl\ndef register_task(register):\n    pass\n",
                      entry="typo")
    (error,) = registry().errors()
    assert "plugin 'typo' from mltasks-typo failed to load" in error and "unknown hook 'register_task'" in error
    assert registry().pm.get_plugin("typo") is None
