"""HTML building blocks of the console: every value goes through :func:`markupsafe.escape`
(``Markup.format`` escapes its arguments), so that names, hyperparameters, log lines, S3 keys
and failure reasons show as text, never as markup. markupsafe is the escaping library of
werkzeug (which the runtime serves with, and which requires it) and Jinja; a template engine
would add a dependency for about twenty small pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup, escape

PREFIX = "/console"
TERMINAL = ("Completed", "Failed", "Stopped")
NAV = (("Training jobs", "training-jobs"), ("Transform jobs", "transform-jobs"), ("Models", "models"),
       ("Endpoints", "endpoints"), ("S3", "s3"))


def url(*segments: str, **query: Any) -> str:
    """``/console/<segment>/...`` with each segment percent-encoded, and a query string of the
    non-None ``query`` values."""
    path = PREFIX + "/" + "/".join(quote(str(s), safe="") for s in segments) if segments else PREFIX + "/"
    params = {k: v for k, v in query.items() if v is not None}
    return path + ("?" + urlencode(params) if params else "")


def link(href: str, text: Any, **attributes: str) -> Markup:
    extra = Markup("").join(Markup(' {}="{}"').format(k.rstrip("_").replace("_", "-"), v)
                            for k, v in attributes.items())
    return Markup('<a href="{}"{}>{}</a>').format(href, extra, text)


def s3_link(uri: str | None, prefix: bool = False) -> Markup:
    """An ``s3://bucket/key`` URI linking to its console page: the object's, or the listing of
    a prefix (``prefix``, or a URI ending with ``/``)."""
    if not uri or not uri.startswith("s3://"):
        return escape(uri or "")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        return escape(uri)
    if prefix and key and not key.endswith("/"):
        key += "/"
    if not key or key.endswith("/"):
        return link(url("s3", bucket, prefix=key or None), uri)
    return link(url("s3", bucket, "object", key=key), uri)


def badge(status: str | None) -> Markup:
    status = status or "-"
    kind = {"Completed": "ok", "InService": "ok", "Failed": "bad", "Stopped": "off", "Stopping": "warn",
            "Deleting": "warn", "RollingBack": "warn", "OutOfService": "bad"}.get(status, "run")
    return Markup('<span class="badge {}" data-status="{}">{}</span>').format(kind, status, status)


def when(epoch: float | None) -> str:
    """``2026-12-06 22:50:01 UTC`` (empty for None)."""
    if epoch is None:
        return ""
    if isinstance(epoch, dt.datetime):
        epoch = epoch.timestamp()
    return dt.datetime.fromtimestamp(float(epoch), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return ""
    seconds = max(0.0, float(end) - float(start))
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def size(count: int | None) -> str:
    if count is None:
        return ""
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(count)  # pragma: no cover


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str = "None.",
          id_: str | None = None) -> Markup:
    rows = list(rows)
    if not rows:
        return Markup('<p class="empty">{}</p>').format(empty)
    head = Markup("").join(Markup("<th>{}</th>").format(h) for h in headers)
    body = Markup("").join(
        Markup("<tr>{}</tr>").format(Markup("").join(Markup("<td>{}</td>").format(c) for c in row)) for row in rows)
    ident = Markup(' id="{}"').format(id_) if id_ else Markup("")
    return Markup("<table{}><thead><tr>{}</tr></thead><tbody>{}</tbody></table>").format(ident, head, body)


def fields(pairs: Iterable[tuple[str, Any]]) -> Markup:
    """A two-column table of the pairs whose value is not empty."""
    rows = Markup("").join(Markup("<tr><th>{}</th><td>{}</td></tr>").format(k, v)
                           for k, v in pairs if v not in (None, "", [], {}))
    return Markup('<table class="fields"><tbody>{}</tbody></table>').format(rows)


def section(title: str, content: Any) -> Markup:
    return Markup("<section><h2>{}</h2>{}</section>").format(title, content)


def page(title: str, body: Any, *, active: str | None = None, crumbs: Sequence[tuple[str, str]] = (),
         body_attributes: dict[str, str] | None = None) -> str:
    """A whole HTML document: navigation, breadcrumbs (``(text, href)``), ``body``."""
    nav = Markup("").join(
        Markup('<a href="{}"{}>{}</a>').format(url(part), Markup(' class="active"') if part == active else "", label)
        for label, part in NAV)
    trail = Markup("").join(Markup('{} <span class="sep">/</span> ').format(link(href, text)) for text, href in crumbs)
    attributes = Markup("").join(Markup(' {}="{}"').format(k, v) for k, v in (body_attributes or {}).items())
    return str(Markup(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{} - smflow local console</title>"
        '<link rel="stylesheet" href="{}"><script src="{}" defer></script></head>'
        '<body{}><header><a class="brand" href="{}">smflow local console</a><nav>{}</nav></header>'
        '<main><div class="crumbs">{}</div><h1>{}</h1>{}</main>'
        "<footer>Served by the smflow local runtime from its own state. Read-only, except Stop and Delete."
        "</footer></body></html>\n"
    ).format(title, url("static", "console.css"), url("static", "console.js"), attributes, url(), nav, trail,
             title, body))
