"""The review page in a real browser (Debian's chromium through Playwright): open a waiting approval, edit a field,
accept it and find the commit in the store; reject with a reason; settle a conflict and see the run go on; no
token, no page; a `<script>` stays text.

`SLATEBOARD_SCREENSHOTS=DIR` also saves the inbox, decision and conflict screens there (docs/ holds the ones the
documentation shows).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from slateboard import Blackboard
from slateboard._internal.sync import run_sync
from slateboard.observe import board_audit
from tests.web.browser import CHROMIUM_ARGS, chromium_or_skip, serve
from tests.web.conftest import CONFLICT, SCRIPT, TOKEN, WAITING, Note, in_thread, waiting_key

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_or_skip()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - absent where the tests skip

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, blackboard: Blackboard) -> Iterator[tuple[Page, str]]:
    """A signed-in page (the token given once in the address) and the page's base address."""
    with serve(blackboard, TOKEN) as base:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        signed_in = context.new_page()
        signed_in.goto(f"{base}/?token={TOKEN}")
        yield signed_in, base
        context.close()


def shown(page: Page, text: str) -> None:
    """Wait until the page that a click led to shows `text` (failing after Playwright's timeout): right after a
    click the browser may still be loading that page, whose content is then empty."""
    from playwright.sync_api import expect  # noqa: PLC0415 - absent where the tests skip

    expect(page.locator("main")).to_contain_text(text)


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("SLATEBOARD_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_open_edit_accept_and_see_the_commit(page: tuple[Page, str], blackboard: Blackboard) -> None:
    tab, _ = page
    assert "token=" not in tab.url  # the address lost the token; a cookie keeps it
    _shot(tab, "review-inbox.png")
    key = waiting_key(blackboard)
    tab.click(f"a[href='/boards/{WAITING}/keys/{key}']")
    tab.fill("textarea[name='field:Subject']", "Your warranty claim (edited)")
    tab.fill("input[name='reviewer']", "ana")
    tab.fill("input[name='note']", "checked the contract")
    _shot(tab, "review-decision.png")
    tab.click("button[value='approve']")
    shown(tab, "Answer recorded: approved")
    assert "Already answered by ana" in tab.inner_text("main")
    audit = in_thread(board_audit, blackboard, WAITING)
    assert key in audit.committed
    commit: Any = next(e.payload for e in audit.timeline if e.type == "commit" and e.payload["key"] == key)
    assert commit["changes"]["Subject"] == "Your warranty claim (edited)"


def test_reject_with_a_reason(page: tuple[Page, str], blackboard: Blackboard) -> None:
    tab, base = page
    key = waiting_key(blackboard)
    tab.goto(f"{base}/boards/{WAITING}/keys/{key}")
    tab.fill("input[name='reviewer']", "bo")
    tab.fill("input[name='note']", "the tone is wrong")
    tab.click("button[value='reject']")
    shown(tab, "Answer recorded: rejected")
    answer: Any = next(e.payload for e in in_thread(board_audit, blackboard, WAITING).timeline if e.type == "approval")
    assert (answer["decision"], answer["reviewer"], answer["reason"]) == ("rejected", "bo", "the tone is wrong")
    assert key not in in_thread(board_audit, blackboard, WAITING).committed


def test_settle_a_conflict_and_see_the_run_go_on(page: tuple[Page, str], blackboard: Blackboard) -> None:
    tab, base = page
    tab.goto(f"{base}/boards/{CONFLICT}/conflict")
    text = tab.inner_text("main")
    assert "contradiction" in text
    assert "exception 4.2" in text
    tab.fill("input[name='reviewer']", "ana")
    tab.fill("input[name='note']", "the contract's warranty applies")
    _shot(tab, "review-conflict.png")
    tab.click("button[value='choose:11']")
    shown(tab, "Settled by ana")
    audit = in_thread(board_audit, blackboard, CONFLICT)
    assert audit.status not in (None, "escalate")  # the run went on to its outcome
    assert "status now: escalate" not in tab.inner_text("main")


def test_without_the_token_the_page_is_refused(browser: Browser, blackboard: Blackboard) -> None:
    with serve(blackboard, TOKEN) as base:
        context = browser.new_context()
        response = context.new_page().goto(f"{base}/")
        assert response is not None
        assert response.status == 401
        context.close()


def test_a_script_in_a_finding_renders_as_text(page: tuple[Page, str], blackboard: Blackboard) -> None:
    tab, base = page
    note = Note(subject="x", text=SCRIPT, confidence=1.0)
    in_thread(run_sync, blackboard.board("evil").write, note, author=SCRIPT)
    dialogs: list[str] = []

    def seen(dialog: Dialog) -> None:  # an alert() would mean the script ran
        dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", seen)
    tab.goto(f"{base}/boards/evil/timeline")
    assert SCRIPT in tab.inner_text("main")  # shown as the text it is
    assert tab.locator("main script").count() == 0
    assert dialogs == []
