"""`slateboard review`: serve the review page (slateboard.web) over a store, on the loopback interface by default.

The page needs the `review` extra (Starlette, Jinja2, uvicorn); without it the command says how to install it.
The token is printed once, inside the address to open; the page then keeps it in a cookie.
"""

from __future__ import annotations

from typing import Annotated

import typer

from slateboard.blackboard import Blackboard
from slateboard.cli.console import console
from slateboard.cli.options import DbOption, store_url
from slateboard.errors import ConfigurationError

__all__ = ("review",)


def review(
    db: DbOption = "",
    host: Annotated[str, typer.Option(help="Interface to listen on (default: loopback only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
) -> None:
    """Serve the review page: an inbox of approvals and escalations, the decision, conflict and timeline screens."""
    try:
        import uvicorn  # noqa: PLC0415 - an optional extra: only this command needs it

        from slateboard.web import create_app, review_token  # noqa: PLC0415 - imports Starlette and Jinja2
    except ImportError as exc:
        raise ConfigurationError(f"the review page needs its extra: pip install 'slateboard[review]' ({exc})") from exc
    token = review_token()
    with Blackboard.open(store_url(db)) as blackboard:
        app = create_app(blackboard, token=token)
        shown = f"[{host}]" if ":" in host else host
        out = console()
        out.print(f"review page: http://{shown}:{port}/?token={token}", soft_wrap=True)
        if host not in ("127.0.0.1", "localhost", "::1"):
            out.print(f"[yellow]listening on {host}: anyone who can reach it and holds the token can answer[/]")
        uvicorn.run(app, host=host, port=port, log_level="warning")
