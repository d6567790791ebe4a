"""The documentation builds, and stays true to the code.

- ``mkdocs build --strict`` succeeds (broken links, anchors and pages fail it);
- the ``hotwsgi serve --help`` block in docs/cli.md is what the command prints;
- every public name, keyword and flag is documented where the docs promise it;
- the example files on the Getting started and Hooks pages run and do what the
  pages say.

After changing a flag or its help text, refresh docs/cli.md with::

    DOCS_UPDATE=1 .venv/bin/python -m pytest tests/test_docs.py -k help
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hotwsgi
from tests.helpers.util import ROOT

DOCS = ROOT / "docs"

HELP_BLOCK = re.compile(r"(<!-- serve-help:start -->\n```text\n)(.*?)(```\n<!-- serve-help:end -->)", re.DOTALL)
# ```python title="views.py"  ...  ```
TITLED_BLOCK = re.compile(r'^```python title="([^"]+)"\n(.*?)^```$', re.DOTALL | re.MULTILINE)


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without HOTWSGI_* settings, which would change defaults and output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTWSGI_") and k != "WERKZEUG_RUN_MAIN"}
    env.update(extra)
    return env


def titled_blocks(name: str) -> list[tuple[str, str]]:
    """The ``python title="file.py"`` code blocks of a page, in order, as (file name, source)."""
    return TITLED_BLOCK.findall(page(name))


# -- the examples are Python -------------------------------------------------------------
PYTHON_BLOCK = re.compile(
    r"(<!-- syntax error on purpose -->\n\n)?^```python[^\n]*\n(.*?)^```$", re.DOTALL | re.MULTILINE
)


@pytest.mark.parametrize("name", sorted(p.name for p in DOCS.glob("*.md")))
def test_python_blocks_parse(name: str) -> None:
    """Every ```python block is valid Python, except one marked as broken on purpose."""
    for match in PYTHON_BLOCK.finditer(page(name)):
        on_purpose, code = match.groups()
        line = page(name)[: match.start(2)].count("\n") + 1
        if on_purpose:
            with pytest.raises(SyntaxError):
                ast.parse(code)
        else:
            try:
                ast.parse(code)
            except SyntaxError as exc:
                pytest.fail(f"docs/{name}, the python block at line {line}: {exc}")


# -- the site builds -------------------------------------------------------------------
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip('mkdocs or mkdocs-material is not installed: pip install -e ".[test]"')
    site = tmp_path / "site"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "-d",
            str(site),
        ],
        cwd=tmp_path,
        env=clean_env(NO_MKDOCS_2_WARNING="1"),
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}{proc.stderr}"
    assert (site / "index.html").is_file()
    assert "Unreleased" in (site / "changelog" / "index.html").read_text(encoding="utf-8")


# -- the --help block --------------------------------------------------------------------
def serve_help(cwd: Path) -> str:
    """``hotwsgi serve --help`` as an 80-column terminal shows it, free of local settings."""
    # An empty pyproject.toml stops the search for a [tool.hotwsgi] table above cwd.
    (cwd / "pyproject.toml").write_text("", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "hotwsgi", "serve", "--help"],
        cwd=cwd,
        env=clean_env(COLUMNS="80"),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return proc.stdout


def test_serve_help_matches_docs(tmp_path: Path) -> None:
    actual = serve_help(tmp_path)
    text = page("cli.md")
    match = HELP_BLOCK.search(text)
    assert match, "docs/cli.md lost its <!-- serve-help:start --> ... <!-- serve-help:end --> block"
    if match.group(2) != actual and os.environ.get("DOCS_UPDATE") == "1":
        (DOCS / "cli.md").write_text(
            text[: match.start(2)] + actual + text[match.end(2) :], encoding="utf-8", newline="\n"
        )
        return
    assert match.group(2) == actual, (
        "docs/cli.md shows an outdated `hotwsgi serve --help`; refresh it with "
        "`DOCS_UPDATE=1 .venv/bin/python -m pytest tests/test_docs.py -k help`, "
        "then say what the new flag does under '## Flags' in docs/cli.md and in docs/configuration.md"
    )


# -- names, keywords and flags are documented ------------------------------------------
def test_every_public_name_is_in_the_api_page() -> None:
    api = page("api.md")
    missing = [name for name in hotwsgi.__all__ if f"`{name}`" not in api]
    assert not missing, f"docs/api.md does not document {missing}"


def test_every_keyword_and_field_is_in_the_api_page() -> None:
    api = page("api.md")
    names = set(inspect.signature(hotwsgi.HotReloadMiddleware).parameters) - {"self", "app"}
    names |= set(inspect.signature(hotwsgi.serve).parameters) - {"app", "server_options"}
    names |= {field.name for field in dataclasses.fields(hotwsgi.Config)}
    names |= {field.name for field in dataclasses.fields(hotwsgi.ReloadResult)}
    missing = sorted(name for name in names if not re.search(rf"\b{name}\b", api))
    assert not missing, f"docs/api.md does not mention {missing}"
    middleware = page("middleware.md")
    keywords = set(inspect.signature(hotwsgi.HotReloadMiddleware).parameters) - {"self", "app"}
    headings = "\n".join(line for line in middleware.splitlines() if line.startswith("### "))
    missing = sorted(name for name in keywords if f"`{name}`" not in headings)
    assert not missing, f"docs/middleware.md has no section for the keywords {missing}"


def test_every_flag_env_var_and_pyproject_key_is_documented() -> None:
    from hotwsgi._cli import serve_command
    from hotwsgi.serving.pyproject import KEYS

    cli, configuration = page("cli.md"), page("configuration.md")
    problems = []
    for param in serve_command.params:
        if param.param_type_name != "option":
            continue
        flag = max(param.opts, key=len)
        if flag in ("--help",):
            continue
        if f"`{flag}`" not in cli.split("## Flags", 1)[-1]:
            problems.append(f"{flag} has no note under '## Flags' in docs/cli.md")
        if f"`{flag}`" not in configuration:
            problems.append(f"{flag} is missing from docs/configuration.md")
        # click's auto_envvar_prefix names the variable after the parameter, not the flag.
        envvar = f"HOTWSGI_{param.name.upper()}"
        if getattr(param, "allow_from_autoenv", True) and f"`{envvar}`" not in configuration:
            problems.append(f"{envvar} is missing from docs/configuration.md")
    for keyword in set(inspect.signature(hotwsgi.HotReloadMiddleware).parameters) - {"self", "app", "config"}:
        if f"`{keyword}`" not in configuration:
            problems.append(f"middleware keyword {keyword} is missing from docs/configuration.md")
    for key in KEYS:
        if f"`{key}`" not in configuration:
            problems.append(f'[tool.hotwsgi] key "{key}" is missing from docs/configuration.md')
    assert not problems, "\n".join(problems)


# -- the examples run ----------------------------------------------------------------------
# Runs in a fresh interpreter inside the example's folder, so its modules never
# meet the test process's. argv[1] is a JSON plan: the app to wrap (as
# ``hotwsgi serve`` does) and a list of steps, each a dict of files to save
# before a reload of those files.
DRIVER = r"""
import json, os, sys
from werkzeug.test import Client
from hotwsgi import HotReloadMiddleware

plan = json.loads(sys.argv[1])
app = HotReloadMiddleware(plan["app"], watch=())
client = Client(app)


def get():
    # Close the response, as a server does: until then the request counts as running
    # and a reload would wait drain_timeout for it.
    with client.get("/") as response:
        return response.get_data(as_text=True)


seen = [{"body": get()}]
for files in plan["steps"]:
    for name, text in files.items():
        with open(name + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(name + ".tmp", name)
    result = app.reload(list(files))
    seen.append({
        "ok": result.ok,
        "modules": ", ".join(result.modules),
        "error": result.error,
        "body": get(),
    })
app.close()
print(json.dumps(seen))
"""


def run_example(folder: Path, app: str, steps: list[dict[str, str]]) -> list[dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps({"app": app, "steps": steps})],
        cwd=folder,
        env=clean_env(PYTHONDONTWRITEBYTECODE="1"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def start_example(folder: Path, blocks: list[tuple[str, str]], names: list[str]) -> list[tuple[str, str]]:
    """Save the first version of each of ``names``; return the blocks left over (later versions)."""
    folder.mkdir()
    rest = list(blocks)
    for name in names:
        index = next(i for i, (title, _) in enumerate(rest) if title == name)
        (folder / name).write_text(rest.pop(index)[1], encoding="utf-8")
    return rest


def test_getting_started_examples(tmp_path: Path) -> None:
    text = page("getting-started.md")
    blocks = titled_blocks("getting-started.md")
    # What the page promises: the curl answers in order, and the modules each log line re-ran.
    answers = re.findall(r"^\$ curl \S+\n(.+)$", text, re.MULTILINE)
    reran = set(re.findall(r"-> generation \d+ in [\d.]+ ms \(re-ran ([^)]*)\)", text))

    # The home page's 30-second example is this page's first one.
    assert all(block in blocks for block in titled_blocks("index.md")), "index.md and getting-started.md differ"

    # 1. app.py + views.py, served from an import string like `hotwsgi serve app:app`,
    # then views.py saved twice: the edit, and the half-typed version.
    rest = start_example(tmp_path / "plain", blocks, ["app.py", "views.py"])
    edits = [code for title, code in rest if title == "views.py"]
    assert len(edits) == 1, "expected one edited views.py block after the first"
    broken = re.search(
        r"Save `views.py` half-typed:\n\n<!-- syntax error on purpose -->\n\n```python\n(.*?)```", text, re.DOTALL
    )
    assert broken, "the half-typed views.py block moved"
    first, edited, failed = run_example(
        tmp_path / "plain", "app:app", [{"views.py": edits[0]}, {"views.py": broken.group(1)}]
    )
    assert first["body"] == answers[0] + "\n"
    assert edited["ok"] and edited["body"] == answers[1] + "\n"
    assert edited["modules"] in reran
    assert not failed["ok"] and failed["body"] == edited["body"], "a failed reload must keep the old code serving"
    assert str(failed["error"]).startswith("SyntaxError") and str(failed["error"]).endswith("(views.py, line 1)")
    assert f"still serving generation 1: {failed['error']}" in text

    # 2. serve.py, which wraps its own app; the page says to change "version 1" to "version 2".
    rest = start_example(tmp_path / "script", blocks, ["serve.py"])
    script = (tmp_path / "script" / "serve.py").read_text(encoding="utf-8")
    first, edited = run_example(
        tmp_path / "script", "serve:app", [{"serve.py": script.replace("version 1", "version 2")}]
    )
    assert (first["body"], edited["body"]) == ("version 1\n", "version 2\n")
    assert edited["ok"] and edited["modules"] in reran

    # 3. The Flask app, with greetings.py edited.
    rest = start_example(tmp_path / "flask", blocks, ["hello.py", "greetings.py"])
    edits = [code for title, code in rest if title == "greetings.py"]
    first, edited = run_example(tmp_path / "flask", "hello:app", [{"greetings.py": edits[0]}])
    assert first["body"] == answers[2] + "\n"
    assert edited["ok"] and edited["body"] == answers[3] + "\n"
    assert edited["modules"] in reran


HOOKS_APP = """
import counters, db, hooks_demo


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""

HOOKS_DRIVER = r"""
import json
from hotwsgi import HotReloadMiddleware
import counters, db, hooks_demo

app = HotReloadMiddleware("site_app:app", watch=())
first_conn = db.conn
counters.hits["/"] = 3
hooks_demo.cache["x"] = 1
results = [app.reload(["db.py"]), app.reload(["counters.py"]), app.reload(["hooks_demo.py"])]
import counters, db, hooks_demo  # the fresh modules
print(json.dumps({
    "ok": [r.ok for r in results],
    "same_conn": db.conn is first_conn,
    "hits": counters.hits,
    "cache": hooks_demo.cache,
}))
app.close()
"""


def test_hooks_page_example(tmp_path: Path) -> None:
    for name, code in titled_blocks("hooks.md"):
        (tmp_path / name).write_text(code, encoding="utf-8")
    (tmp_path / "site_app.py").write_text(HOOKS_APP, encoding="utf-8")
    (tmp_path / "driver.py").write_text(HOOKS_DRIVER, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "driver.py"],
        cwd=tmp_path,
        env=clean_env(PYTHONDONTWRITEBYTECODE="1"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    seen = json.loads(lines[-1])
    assert seen == {"ok": [True, True, True], "same_conn": True, "hits": {"/": 3}, "cache": {}}
    # @on_reload ran once per reload: re-running hooks_demo replaced its callback, no duplicate.
    printed = [line for line in lines if line.startswith("generation ")]
    assert [line.split(":")[0] for line in printed] == ["generation 1", "generation 2", "generation 3"], lines
