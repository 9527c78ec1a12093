"""`slateboard review`: serves the page on the loopback interface by default and prints the address with its token
(uvicorn.run is replaced, so nothing listens)."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn

from slateboard.cli import main
from tests.web.conftest import TOKEN


def _review(monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, Any]:
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    with pytest.raises(SystemExit) as exited:
        main(["review", *args])
    assert exited.value.code in (0, None)
    return served


def test_review_listens_on_loopback_with_the_token_from_the_environment(
    store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLATEBOARD_REVIEW_TOKEN", TOKEN)
    served = _review(monkeypatch, "--db", store_url)
    assert (served["host"], served["port"]) == ("127.0.0.1", 8765)
    assert f"http://127.0.0.1:8765/?token={TOKEN}" in capsys.readouterr().out


def test_review_generates_a_token_and_warns_off_loopback(
    store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SLATEBOARD_REVIEW_TOKEN", raising=False)
    served = _review(monkeypatch, "--db", store_url, "--host", "0.0.0.0", "--port", "9000")  # noqa: S104
    assert (served["host"], served["port"]) == ("0.0.0.0", 9000)  # noqa: S104
    out = capsys.readouterr().out
    assert "?token=" in out
    assert "anyone who can reach it" in out
