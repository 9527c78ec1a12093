"""The review page as a Starlette app: routes, form handling, and the answers sent to the controller.

`create_app(blackboard, token=...)` builds it over an open `Blackboard`; `slateboard review` serves it with uvicorn.
Reads go through `slateboard.observe` (screens.py); answers go through the board's own controller
(`scenarios.controller_for`) and its `approve` / `reject`, awaited on the server's running loop, so the page adds no
logic the command line lacks.
"""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from slateboard.blackboard import Blackboard, Finding
from slateboard.controller.settle import correction
from slateboard.errors import ApprovalError, SettlementError, SlateboardError
from slateboard.observe import board_audit
from slateboard.scenarios import controller_for
from slateboard.web import charts, screens, timeline
from slateboard.web.auth import SECURITY_HEADERS, TokenGate, csrf_matches, csrf_token

__all__ = ("create_app", "templates")

MAX_TEXT = 4000  # characters: a reviewer's name, reason or field value longer than this is refused, not stored


def templates() -> Environment:
    """The page's templates (package data), autoescaping everything they insert."""
    env = Environment(
        loader=PackageLoader("slateboard.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["tojson_text"] = lambda value: json.dumps(value, ensure_ascii=False, sort_keys=True)
    return env


class _Pages:
    """The handlers, sharing the store, the templates and the CSRF token."""

    def __init__(self, blackboard: Blackboard, token: str) -> None:
        self.blackboard = blackboard
        self.csrf = csrf_token(token)
        self.token = token
        self.env = templates()

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(csrf=self.csrf, **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def missing(self, what: str) -> HTMLResponse:
        return self.render("error.html", status=404, title="Not found", message=what)

    def board(self, request: Request) -> str | None:
        return screens.known_board(self.blackboard, str(request.path_params["board"]))

    async def inbox(self, request: Request) -> Response:
        items = screens.inbox(self.blackboard)
        scenarios = sorted({item.scenario for item in items if item.scenario})
        scenario = request.query_params.get("scenario", "")
        try:
            min_age = max(0.0, float(request.query_params.get("min_age_hours", "") or 0))
        except ValueError:
            min_age = 0.0
        shown = [i for i in items if (not scenario or i.scenario == scenario) and i.age >= min_age * 3600]
        return self.render(
            "inbox.html", items=shown, total=len(items), scenarios=scenarios, scenario=scenario, min_age=min_age
        )

    async def decision(self, request: Request) -> Response:
        board = self.board(request)
        if board is None:
            return self.missing("no such board in this store")
        screen = screens.decision_screen(self.blackboard, board, str(request.path_params["key"]))
        if screen is None:
            return self.missing("this board asked for no approval under that key")
        return self.render("decision.html", screen=screen, notice=request.query_params.get("notice", ""))

    async def answer(self, request: Request) -> Response:
        """Accept (with edited fields) or reject (with a reason) a waiting approval, as `reviewer`."""
        form = await request.form()
        if not csrf_matches(self.token, form.get("csrf")):
            return self.render("error.html", status=403, title="Refused", message="the form's CSRF token is wrong")
        board = self.board(request)
        screen = None if board is None else screens.decision_screen(self.blackboard, board, request.path_params["key"])
        if board is None or screen is None:
            return self.missing("no such approval")
        reviewer, note, action = (_text(form, name) for name in ("reviewer", "note", "action"))
        problem = _problem(reviewer, note, action)
        if problem:
            return self.render("decision.html", status=400, screen=screen, notice="", error=problem)
        if screen.answer is not None:
            return self._answered(screen)
        return await self._apply(request, board, screen, action=action, reviewer=reviewer, note=note, form=form)

    async def _apply(
        self, request: Request, board: str, screen: screens.DecisionScreen, *, action: str, reviewer: str, note: str,
        form: FormData,
    ) -> Response:  # fmt: skip
        """Send the answer to the board's controller, on this loop; a key answered meanwhile says by whom."""
        try:
            controller, target = controller_for(self.blackboard, board)
            if action == "approve":
                edits = _edits(screen, form)
                await controller.approve(target, screen.key, reviewer=reviewer, edits=edits, note=note)
            else:
                await controller.reject(target, screen.key, reviewer=reviewer, reason=note)
        except ApprovalError:
            # Answered between the page's read and this answer (another reviewer, another tab): say by whom.
            fresh = screens.decision_screen(self.blackboard, board, screen.key)
            return self._answered(fresh or screen)
        except SlateboardError as exc:  # no scenario to rebuild it, a deny rule now, a sink failing: in words
            return self.render("decision.html", status=409, screen=screen, notice="", error=str(exc))
        done = "approved" if action == "approve" else "rejected"
        return RedirectResponse(f"{request.url.path}?notice={done}", status_code=303)

    def _answered(self, screen: screens.DecisionScreen) -> HTMLResponse:
        by = (screen.answer or {}).get("reviewer", "someone")
        return self.render("decision.html", status=409, screen=screen, notice="", error=f"already answered by {by}")

    async def timeline(self, request: Request) -> Response:
        board = self.board(request)
        if board is None:
            return self.missing("no such board in this store")
        audit = board_audit(self.blackboard, board)
        return self.render("timeline.html", audit=audit, rows=timeline.timeline_rows(audit.timeline))

    async def conflict(self, request: Request) -> Response:
        board = self.board(request)
        if board is None:
            return self.missing("no such board in this store")
        screen = screens.conflict_screen(self.blackboard, board)
        return self.render("conflict.html", screen=screen, notice=request.query_params.get("notice", ""))

    async def settle(self, request: Request) -> Response:
        """Settle an escalated board (choose one finding of the conflict, or close the case), then go on with it."""
        form = await request.form()
        if not csrf_matches(self.token, form.get("csrf")):
            return self.render("error.html", status=403, title="Refused", message="the form's CSRF token is wrong")
        board = self.board(request)
        if board is None:
            return self.missing("no such board in this store")
        screen = screens.conflict_screen(self.blackboard, board)
        reviewer, note, choice, reason = (_text(form, name) for name in ("reviewer", "note", "choice", "reason"))
        choose = next((side.version for side in screen.sides if choice == f"choose:{side.version}"), None)
        corrected = next((side for side in screen.sides if choice == f"correct:{side.version}"), None)
        problem = _settle_problem(reviewer, note, reason, choice, choose if corrected is None else corrected.version)
        if problem:
            return self.render("conflict.html", status=400, screen=screen, error=problem)
        if not screen.open:
            by = (screen.settled or {}).get("reviewer")
            said = f"already settled by {by}" if by else f"this board is not escalated now ({screen.status})"
            return self.render("conflict.html", status=409, screen=screen, error=said)
        try:
            controller, target = controller_for(self.blackboard, board)
            close = reason if choice == "close" else None
            finding = _corrected(board, corrected, form) if corrected is not None else None
            await controller.settle(target, reviewer=reviewer, choose=choose, close=close, finding=finding, note=note)
            await controller.run(target)  # the run goes on from the answer, as `slateboard settle` does
        except SlateboardError as exc:
            return self.render("conflict.html", status=409, screen=screen, error=str(exc))
        return RedirectResponse(f"{request.url.path}?notice=settled", status_code=303)

    async def metrics(self, request: Request) -> Response:
        routed = charts.bar_chart(
            "Share of boards routed to a person, by day", charts.routed_share_by_day(self.blackboard), unit="%",
            scale=1.0,
        )  # fmt: skip
        latency = charts.bar_chart(
            "Mean cycle time per agent (upper bound on latency)", charts.latency_by_agent(self.blackboard), unit=" s"
        )
        return self.render("metrics.html", charts=(routed, latency))


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _problem(reviewer: str, note: str, action: str) -> str:
    """What is wrong with an answer's form, in words ("" when nothing is)."""
    if action not in ("approve", "reject"):
        return "choose accept or reject"
    if not reviewer:
        return "give your name: it is recorded with the answer"
    if action == "reject" and not note:
        return "a rejection needs a reason"
    if max(len(reviewer), len(note)) > MAX_TEXT:
        return f"keep names and reasons under {MAX_TEXT} characters"
    return ""


def _corrected(board: str, side: screens.ConflictSide, form: FormData) -> Finding:
    """The reviewer's corrected version of `side`: its kind and subject, with the fields the form sent (JSON)."""
    text = _text(form, f"correct:{side.version}")
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettlementError(board, f"the corrected v{side.version} is not JSON: {exc}") from exc
    if not isinstance(fields, dict):
        raise SettlementError(board, f"the corrected v{side.version} must be a JSON object of its fields")
    return correction(board, side.kind, fields, subject=side.subject, where=f"the corrected v{side.version}")


def _settle_problem(reviewer: str, note: str, reason: str, choice: str, choose: int | None) -> str:
    """What is wrong with a settlement's form, in words ("" when nothing is)."""
    if choice != "close" and choose is None:
        return "choose one of the findings shown, or close the case"
    if not reviewer:
        return "give your name: it is recorded with the answer"
    if choice == "close" and not reason:
        return "closing the case needs a reason"
    if max(len(reviewer), len(note), len(reason)) > MAX_TEXT:
        return f"keep names and reasons under {MAX_TEXT} characters"
    return ""


def _edits(screen: screens.DecisionScreen, form: FormData) -> dict[str, Any]:
    """The fields the reviewer changed. Only the request's own fields are read; a text field stays text, any other
    is read as JSON (as `slateboard approve --edit` does), falling back to text when it does not parse."""
    edits: dict[str, Any] = {}
    for change in screen.fields:
        sent = form.get(f"field:{change.name}")
        if not isinstance(sent, str) or sent == change.proposed or len(sent) > MAX_TEXT:
            continue
        if change.proposed_is_text:
            edits[change.name] = sent
            continue
        try:
            edits[change.name] = json.loads(sent)
        except json.JSONDecodeError:
            edits[change.name] = sent
    return edits


def create_app(blackboard: Blackboard, *, token: str) -> Starlette:
    """The review page over `blackboard`, behind `token` (slateboard.web.auth)."""
    pages = _Pages(blackboard, token)
    routes = [
        Route("/", pages.inbox),
        Route("/boards/{board}/keys/{key}", pages.decision, methods=["GET"]),
        Route("/boards/{board}/keys/{key}", pages.answer, methods=["POST"]),
        Route("/boards/{board}/timeline", pages.timeline),
        Route("/boards/{board}/conflict", pages.conflict, methods=["GET"]),
        Route("/boards/{board}/conflict", pages.settle, methods=["POST"]),
        Route("/metrics", pages.metrics),
    ]
    return Starlette(routes=routes, middleware=[Middleware(TokenGate, token=token)])
