"""Judging an edit of a models module: methods patch in, anything else names its restart reason."""

from __future__ import annotations

import ast
import textwrap
import types

import pytest

from hotwsgi.integrations.django_models import compare

BEFORE = """
import datetime

from django.db import models


class Question(models.Model):
    question_text = models.CharField(max_length=200)
    pub_date = models.DateTimeField("date published")

    class Meta:
        ordering = ["-pub_date"]

    def __str__(self):
        return self.question_text

    def headline(self):
        return "Q: " + self.question_text


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE)
"""


class _Meta:
    pass


def _module() -> types.ModuleType:
    module = types.ModuleType("polls.models")
    for name in ("Question", "Choice"):
        setattr(module, name, type(name, (), {"_meta": _Meta()}))
    return module


def judge(after: str) -> tuple[str | None, bool, dict[str, tuple[list[str], list[str]]], int]:
    diff = compare(ast.parse(textwrap.dedent(BEFORE)), ast.parse(textwrap.dedent(after)), _module())
    return diff.reason, diff.migrations, diff.methods, len(diff.imports)


def test_unchanged_source_changes_nothing() -> None:
    assert judge(BEFORE) == (None, False, {}, 0)


def test_a_method_body_patches_in() -> None:
    reason, _, methods, _ = judge(BEFORE.replace('"Q: "', '"Question: "'))
    assert reason is None and methods == {"Question": (["headline"], [])}


def test_lines_moving_down_is_no_change() -> None:
    assert judge(BEFORE.replace("import datetime\n", "import datetime\n\n\n")) == (None, False, {}, 0)


def test_new_and_removed_methods_and_a_new_import() -> None:
    after = BEFORE.replace("import datetime\n", "import datetime\nimport textwrap\n")
    after = after.replace(
        '    def headline(self):\n        return "Q: " + self.question_text\n',
        "    @property\n    def short(self):\n        return textwrap.shorten(self.question_text, 10)\n",
    )
    reason, _, methods, imports = judge(after)
    assert reason is None and methods == {"Question": (["short"], ["headline"])} and imports == 1


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            (
                '    pub_date = models.DateTimeField("date published")\n',
                '    pub_date = models.DateTimeField("published")\n',
            ),
            "fields of Question changed",
        ),
        (('        ordering = ["-pub_date"]\n', '        ordering = ["pub_date"]\n'), "Meta of Question changed"),
        (("class Choice(models.Model):", "class Choice(Question):"), "bases or decorators of Choice changed"),
        (("\nclass Choice(", "\nclass Vote(models.Model):\n    pass\n\n\nclass Choice("), "new model Vote"),
    ],
)
def test_model_structure_restarts_with_makemigrations(edit: tuple[str, str], expected: str) -> None:
    reason, migrations, _, _ = judge(BEFORE.replace(*edit))
    assert reason == expected and migrations


def test_a_removed_model_restarts() -> None:
    after = BEFORE[: BEFORE.index("\nclass Choice")]
    reason, migrations, _, _ = judge(after)
    assert reason == "model Choice removed" and migrations


def test_code_outside_the_classes_restarts_without_makemigrations() -> None:
    reason, migrations, _, _ = judge(BEFORE + "\nLIMIT = 5\n")
    assert reason == "code outside the model classes changed" and not migrations
