"""What pages that take forms share: the parsed form, redirects after a post, form errors."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from joliba.domain.errors import JolibaError
from joliba.http.errors import status_of


async def form_data(request: Request) -> FormData:
    # Starlette caches the parsed form, so csrf_protect and the page share one parse.
    return await request.form()


#: For forms whose field names are only known at run time (connection fields).
FormDep = Annotated[FormData, Depends(form_data)]


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def texts(form: FormData, name: str) -> list[str]:
    return [v if isinstance(v, str) else "" for v in form.getlist(name)]


def see_other(url: str, flash: str = "") -> RedirectResponse:
    """The redirect after a successful post; ``flash`` is shown once on the next page."""
    if flash:
        url += ("&" if "?" in url else "?") + urlencode({"flash": flash})
    return RedirectResponse(url, status_code=303)


def problem(exc: JolibaError) -> tuple[str, int]:
    """The message and status with which a form is shown again after ``exc``."""
    return exc.message, status_of(exc)
