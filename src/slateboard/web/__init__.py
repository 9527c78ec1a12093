"""The review page: a small web app where a person answers what the controller put to them.

```python
from slateboard import Blackboard
from slateboard.web import create_app, review_token

with Blackboard.open("sqlite:///slateboard.db") as bb:
    app = create_app(bb, token=review_token())   # an ASGI app; `slateboard review` serves it with uvicorn
```

- `app`: the routes (inbox, decision, conflict, timeline, metrics) and answers through the controller's own calls.
- `auth`: the token gate (header, cookie, `?token=` once) and the forms' CSRF token.
- `screens`: what each screen shows, gathered from `slateboard.observe`.
- `charts`: the metrics view's server-side SVG bar charts.

Needs the `review` extra (`pip install 'slateboard[review]'`): Starlette, Jinja2, uvicorn, python-multipart.
"""

from slateboard.web.app import create_app
from slateboard.web.auth import review_token

__all__ = ("create_app", "review_token")
