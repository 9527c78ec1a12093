"""The review page without a browser (Starlette's TestClient): the token gate, CSRF, escaping, the screens, and
answers reaching the board through the controller."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator

import pytest

from slateboard import Blackboard
from slateboard._internal.sync import run_sync
from slateboard.errors import ConfigurationError
from slateboard.observe import board_audit
from slateboard.web import create_app, review_token
from slateboard.web.auth import COOKIE, csrf_token
from tests.web.conftest import CONFLICT, SCRIPT, TOKEN, WAITING, Note, waiting_key

with warnings.catch_warnings():  # Starlette's TestClient warns about httpx's future; the client still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture
def client(blackboard: Blackboard) -> Iterator[TestClient]:
    with TestClient(create_app(blackboard, token=TOKEN), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def test_every_request_needs_the_token(blackboard: Blackboard) -> None:
    anonymous = TestClient(create_app(blackboard, token=TOKEN))
    for path in ("/", "/metrics", f"/boards/{WAITING}/timeline", "/boards/x/keys/y"):
        assert anonymous.get(path).status_code == 401
    assert anonymous.get("/", headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
    assert anonymous.post(f"/boards/{WAITING}/keys/k", data={"action": "approve"}).status_code == 401
    assert anonymous.get("/", headers={"Cookie": f"{COOKIE}=nope"}).status_code == 401


def test_the_token_in_the_address_becomes_a_strict_cookie_and_leaves_the_address(blackboard: Blackboard) -> None:
    client = TestClient(create_app(blackboard, token=TOKEN))
    response = client.get(f"/metrics?token={TOKEN}&x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/metrics?x=1"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert client.get("/metrics").status_code == 200  # the cookie now carries it


def test_review_token_comes_from_the_environment_or_is_random(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLATEBOARD_REVIEW_TOKEN", TOKEN)
    assert review_token() == TOKEN
    monkeypatch.delenv("SLATEBOARD_REVIEW_TOKEN")
    assert review_token() != review_token()
    with pytest.raises(ConfigurationError):
        review_token("short")


def test_inbox_lists_the_waiting_approval_and_the_escalation(client: TestClient, blackboard: Blackboard) -> None:
    page = client.get("/").text
    assert f"/boards/{WAITING}/keys/{waiting_key(blackboard)}" in page
    assert f"/boards/{CONFLICT}/conflict" in page
    assert "support-case" in client.get("/?scenario=support-case").text
    filtered = client.get("/?min_age_hours=5").text
    assert "Nothing is waiting" in filtered


def test_decision_screen_shows_the_request(client: TestClient, blackboard: Blackboard) -> None:
    page = client.get(f"/boards/{WAITING}/keys/{waiting_key(blackboard)}").text
    for text in ("send_reply", "Confidence", "kb:warranty-policy", "a customer-facing reply waits for a person"):
        assert text in page
    assert 'name="field:Subject"' in page
    assert f'value="{csrf_token(TOKEN)}"' in page


def test_accept_with_an_edit_commits_once_and_a_second_reviewer_sees_who(
    client: TestClient, blackboard: Blackboard
) -> None:
    key = waiting_key(blackboard)
    form = {"csrf": csrf_token(TOKEN), "reviewer": "ana", "note": "fine", "action": "approve"}
    response = client.post(f"/boards/{WAITING}/keys/{key}", data={**form, "field:Subject": "Edited"})
    assert response.status_code == 200  # after the redirect
    assert "Already answered by ana" in response.text
    audit = board_audit(blackboard, WAITING)
    assert key in audit.committed
    answer = next(e for e in audit.timeline if e.type == "approval")
    assert answer.payload["reviewer"] == "ana"
    assert answer.payload["edits"] == {"Subject": "Edited"}
    again = client.post(f"/boards/{WAITING}/keys/{key}", data={**form, "reviewer": "bob"})
    assert again.status_code == 409
    assert "already answered by ana" in again.text
    assert sum(e.type == "commit" for e in board_audit(blackboard, WAITING).timeline) == 2  # update + this reply


def test_reject_needs_a_reason_and_records_it(client: TestClient, blackboard: Blackboard) -> None:
    key = waiting_key(blackboard)
    form = {"csrf": csrf_token(TOKEN), "reviewer": "ana", "action": "reject"}
    assert client.post(f"/boards/{WAITING}/keys/{key}", data=form).status_code == 400
    rejected = client.post(f"/boards/{WAITING}/keys/{key}", data={**form, "note": "wrong tone"})
    assert rejected.status_code == 200, rejected.text[-2000:]  # a 409 page says what went wrong
    answer = next(e for e in board_audit(blackboard, WAITING).timeline if e.type == "approval")
    assert (answer.payload["decision"], answer.payload["reason"]) == ("rejected", "wrong tone")


def test_a_form_without_the_csrf_token_is_refused(client: TestClient, blackboard: Blackboard) -> None:
    key = waiting_key(blackboard)
    for csrf in ({}, {"csrf": "forged"}):
        response = client.post(f"/boards/{WAITING}/keys/{key}", data={"reviewer": "x", "action": "approve", **csrf})
        assert response.status_code == 403
    assert board_audit(blackboard, WAITING).waiting == (key,)


def test_unknown_boards_and_keys_are_404(client: TestClient) -> None:
    for path in ("/boards/nope/timeline", "/boards/nope/conflict", f"/boards/{WAITING}/keys/nope", "/boards/..%2f/x"):
        assert client.get(path).status_code == 404
    assert client.post(f"/boards/{WAITING}/keys/nope", data={"csrf": csrf_token(TOKEN)}).status_code == 404


def test_a_script_in_a_finding_renders_as_text(client: TestClient, blackboard: Blackboard) -> None:
    board = blackboard.board("evil")
    run_sync(board.write, Note(subject=SCRIPT, text=SCRIPT, confidence=1.0), author=SCRIPT)
    page = client.get("/boards/evil/timeline")
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script would run


def test_conflict_timeline_and_metrics_screens(client: TestClient) -> None:
    conflict = client.get(f"/boards/{CONFLICT}/conflict").text
    assert "contradiction" in conflict
    assert len(re.findall(r"<h2>v\d+ ", conflict)) == 2  # both sides of the disagreement
    assert "exception 4.2" in conflict
    timeline = client.get(f"/boards/{WAITING}/timeline").text
    assert "approval_request" in timeline
    assert "knew: v1 support.Case by input" in timeline  # what each agent read
    assert "needs_approval for send_reply Case/" in timeline  # the CLI's words (observe.words)
    assert "deciding: require_approval(irreversible) (needs_approval)" in timeline
    assert "fired contradiction(" in client.get(f"/boards/{CONFLICT}/timeline").text
    metrics = client.get("/metrics").text
    assert metrics.count("<svg") == 2
    assert "routed to a person" in metrics


def test_edited_fields_keep_their_type_and_only_the_requests_fields_are_read() -> None:
    from starlette.datastructures import FormData  # noqa: PLC0415

    from slateboard.web.app import _edits  # noqa: PLC0415
    from slateboard.web.screens import DecisionScreen, FieldChange  # noqa: PLC0415

    fields = (FieldChange("Status", None, "Working", True), FieldChange("Score", None, "0.9", False))
    screen = DecisionScreen("b", "k", {}, fields, False, None, None, ())
    form = FormData({"field:Status": "12", "field:Score": "0.5", "field:Other": "x"})
    assert _edits(screen, form) == {"Status": "12", "Score": 0.5}
    assert _edits(screen, FormData({"field:Score": "not json"})) == {"Score": "not json"}
    assert _edits(screen, FormData({"field:Status": "Working"})) == {}  # unchanged: no edit


def test_settle_a_conflict_and_the_run_goes_on_once(client: TestClient, blackboard: Blackboard) -> None:
    page = client.get(f"/boards/{CONFLICT}/conflict").text
    assert 'value="choose:11"' in page
    form = {"csrf": csrf_token(TOKEN), "reviewer": "ana", "note": "the contract rules", "choice": "choose:11"}
    assert client.post(f"/boards/{CONFLICT}/conflict", data={**form, "choice": "choose:99"}).status_code == 400
    assert client.post(f"/boards/{CONFLICT}/conflict", data={**form, "reviewer": ""}).status_code == 400
    done = client.post(f"/boards/{CONFLICT}/conflict", data=form)
    assert done.status_code == 200
    assert "Settled by ana" in done.text
    audit = board_audit(blackboard, CONFLICT)
    assert audit.status != "escalate"  # the run went on from the answer
    settlement = next(e for e in audit.timeline if e.kind == "slateboard.Settlement")
    assert (settlement.payload["reviewer"], settlement.payload["chosen"]) == ("ana", 11)
    again = client.post(f"/boards/{CONFLICT}/conflict", data={**form, "reviewer": "bob"})
    assert again.status_code == 409
    assert "already settled by ana" in again.text


def test_close_a_conflict_needs_a_reason(client: TestClient, blackboard: Blackboard) -> None:
    form = {"csrf": csrf_token(TOKEN), "reviewer": "ana", "choice": "close"}
    assert client.post(f"/boards/{CONFLICT}/conflict", data=form).status_code == 400
    assert client.post(f"/boards/{CONFLICT}/conflict", data={**form, "reason": "duplicate case"}).status_code == 200
    assert board_audit(blackboard, CONFLICT).status == "closed"
    assert client.post(f"/boards/{CONFLICT}/conflict", data={"choice": "close"}).status_code == 403  # no CSRF


def test_a_corrected_finding_settles_the_conflict_and_bad_fields_are_named(
    client: TestClient, blackboard: Blackboard
) -> None:
    page = client.get(f"/boards/{CONFLICT}/conflict").text
    assert 'name="correct:13"' in page  # the finding's own fields, ready to edit
    assert "&#34;excluded&#34;: true" in page or "&quot;excluded&quot;: true" in page
    form = {"csrf": csrf_token(TOKEN), "reviewer": "ana", "note": "kb updated", "choice": "correct:13"}
    broken = client.post(f"/boards/{CONFLICT}/conflict", data={**form, "correct:13": '{"excluded": "perhaps"}'})
    assert broken.status_code == 409
    assert "the corrected v13: not a valid support.PolicyReference" in broken.text
    assert "not JSON" in client.post(f"/boards/{CONFLICT}/conflict", data={**form, "correct:13": "{"}).text
    fields = '{"article": "exception 4.2 was withdrawn", "excluded": false}'
    done = client.post(f"/boards/{CONFLICT}/conflict", data={**form, "correct:13": fields})
    assert done.status_code == 200, done.text
    audit = board_audit(blackboard, CONFLICT)
    settlement = next(e for e in audit.timeline if e.kind == "slateboard.Settlement")
    assert (settlement.payload["action"], settlement.payload["set_aside"]) == ("correct", [13])
    corrected = next(e for e in audit.timeline if e.version == settlement.payload["chosen"])
    assert (corrected.author, corrected.payload["excluded"]) == ("ana", False)
    assert audit.waiting, "the run went on from the corrected finding to a reply waiting for approval"
