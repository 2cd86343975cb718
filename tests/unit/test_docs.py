"""Docs are checked: every setting and every CLI command is documented, and the README's two
opening commands are the ones CI runs."""

import argparse
import re
from pathlib import Path

import pytest

from app.cli import build_parser
from retrieval.settings import iter_setting_names

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def docs_text() -> str:
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    return "\n".join(f.read_text(encoding="utf-8") for f in files if f.exists())


def command_paths(parser: argparse.ArgumentParser, prefix: str = "lore") -> list[str]:
    paths = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                inner = command_paths(sub, f"{prefix} {name}")
                paths.extend(inner or [f"{prefix} {name}"])
    return paths


@pytest.mark.parametrize("name", iter_setting_names())
def test_every_setting_is_documented(name):
    assert f"`{name}`" in docs_text() or re.search(rf"\b{re.escape(name)}\b", docs_text()), (
        f"setting {name} is not documented in README.md or docs/*.md"
    )


@pytest.mark.parametrize("command", command_paths(build_parser()))
def test_every_command_is_in_the_readme(command):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert command in readme, f"`{command}` is missing from README.md"


def test_readme_opens_with_setup_and_test_commands():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci, re.M), ".ci/run must run the README's test command"


def test_makefile_targets_exist_for_readme_commands():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for target in ("run", "test", "app"):
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile lacks the `{target}` target"
