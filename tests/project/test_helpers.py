"""The waiting helper itself: an error on the way to an answer is never hidden."""

from __future__ import annotations

import itertools

import pytest

from tests.helpers.util import wait_for


def test_an_answer_that_comes_is_returned() -> None:
    calls = itertools.count()
    assert wait_for(lambda: next(calls) >= 3 and "done") == "done"


def test_an_assertion_error_is_never_retried() -> None:
    calls: list[int] = []

    def check() -> bool:
        calls.append(1)
        raise AssertionError("bad answer")

    with pytest.raises(AssertionError, match="bad answer"):
        wait_for(check, timeout=5)
    assert len(calls) == 1
    with pytest.raises(AssertionError, match="never retried"):
        wait_for(check, tolerate=(AssertionError,))


def test_a_refused_request_on_the_way_fails_the_wait() -> None:
    answers = iter([False, ConnectionRefusedError(111, "refused"), True])

    def check() -> bool:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with pytest.raises(AssertionError, match=r"ConnectionRefusedError.*while waiting for the new answer"):
        wait_for(check, what="the new answer")


def test_until_up_tolerates_not_up_yet_only_before_the_first_answer() -> None:
    errors: list[str] = []
    answers = iter([ConnectionRefusedError(111, "refused"), FileNotFoundError(2, "no socket"), False, True])

    def check() -> bool:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait_for(check, until_up=True, errors=errors) is True
    assert len(errors) == 2 and "ConnectionRefusedError" in errors[0]

    after_up = iter([False, ConnectionRefusedError(111, "refused"), True])

    def flaky() -> bool:
        answer = next(after_up)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with pytest.raises(AssertionError, match="ConnectionRefusedError"):
        wait_for(flaky, until_up=True)


def test_until_up_does_not_tolerate_other_errors() -> None:
    def check() -> bool:
        raise ConnectionResetError(104, "reset")

    with pytest.raises(AssertionError, match="ConnectionResetError"):
        wait_for(check, until_up=True)


def test_tolerated_errors_are_recorded_and_named_on_timeout() -> None:
    errors: list[str] = []

    def check() -> bool:
        raise FileNotFoundError(2, "not yet")

    with pytest.raises(AssertionError, match=r"timed out.*tolerated error\(s\)"):
        wait_for(check, timeout=0.1, tolerate=(FileNotFoundError,), errors=errors)
    assert errors and all("FileNotFoundError" in e for e in errors)
