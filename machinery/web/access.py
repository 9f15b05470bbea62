"""Who uses the console: with API keys configured, a key entered once on the login page is kept
(as its digest) in a signed, HTTP-only session cookie, and grants what it grants in the API.
Every form that changes anything carries the session's CSRF token."""

import hmac
import secrets
from urllib.parse import urlsplit

from flask import (
    Flask,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface

from machinery.auth import CONSUMER, MANAGEMENT, ApiKeys, digest_of, required_scope
from machinery.errors import Forbidden
from machinery.web.blueprint import blp, takes

# The paths served with a session, and the name of the secret signing it when none is configured.
CONSOLE_PATHS = ("/ui", "/docs")
SESSION_SECRET = "console-sessions"
# Pages anyone may open, key or not.
OPEN_PAGES = frozenset({"web.login", "web.docs", "web.static"})
CSRF_FIELD = "csrf_token"


class ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, for the console's pages alone (the API keeps none), signed
    with the console secrets or, with none configured, the one Machinery keeps in its database
    for every process to share (read once per process, on the first console request)."""

    def open_session(self, app: Flask, request):
        if not request.path.startswith(CONSOLE_PATHS):
            return None  # a null session: API requests neither read nor write one
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask):
        if not app.secret_key:
            app.secret_key = app.extensions["machinery.store"].secrets.get(SESSION_SECRET)
        return super().get_signing_serializer(app)


def init_app(app: Flask) -> None:
    """Sign sessions with the console secrets (the last signs), or with the stored one."""
    configured = list(app.config.get("CONSOLE_SECRETS") or [])
    if configured and not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = configured[-1]
        app.config["SECRET_KEY_FALLBACKS"] = configured[:-1]
    app.session_interface = ConsoleSessions()
    app.config["SESSION_COOKIE_NAME"] = "machinery_console"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.jinja_env.globals.update(csrf_token=csrf_token, may=may, scope=current_scope)


def keys() -> ApiKeys:
    return current_app.extensions["machinery.keys"]


def current_scope() -> str | None:
    """The scope of the session's key: management when no key is configured, None when the
    session holds no key (or one no longer configured)."""
    if keys().open:
        return MANAGEMENT
    digest = session.get("key")
    if not isinstance(digest, str):
        return None
    try:
        return keys().scope_of_digest(bytes.fromhex(digest))
    except ValueError:
        return None


def may(api_endpoint: str, method: str = "GET") -> bool:
    """Whether the session's key may do what the API's endpoint does."""
    scope = current_scope()
    needed = required_scope(api_endpoint, method)
    return needed is None or scope == MANAGEMENT or (scope == CONSUMER and needed == CONSUMER)


def require(api_endpoint: str, method: str = "GET") -> None:
    if not may(api_endpoint, method):
        raise Forbidden("Your API key may not do this; log in with a management key.")


def csrf_token() -> str:
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


@blp.before_request
def guard():
    """Send a visitor without a valid key to the login page; refuse a form without the token."""
    if request.endpoint in OPEN_PAGES:
        if request.method == "POST":
            check_csrf()
        return None
    if current_scope() is None:
        session.pop("key", None)
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
    if request.method == "POST":
        check_csrf()
    return None


def check_csrf() -> None:
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("The form has expired or did not come from this console; try again.")


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a console page of this site, never another site."""
    if not target:
        return url_for("web.workflows")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui") or "\\" in target:
        return url_for("web.workflows")
    return target


@blp.route("/ui/login", methods=["GET", "POST"])
@takes("next")
def login():
    """Log in with an API key."""
    target = safe_next(request.args.get("next"))
    if request.method == "GET":
        if keys().open:
            return redirect(target)
        return render_template("login.html", target=target)
    key = request.form.get("key", "").strip()
    scope = keys().scope_of(key) if key else None
    if scope is None:
        message = "This API key is not valid." if key else "Enter an API key."
        return render_template("login.html", target=target, error=message), 401
    session.clear()
    session["key"] = digest_of(key).hex()
    return redirect(target)


@blp.route("/ui/logout", methods=["POST"])
@takes()
def logout():
    """Forget the session's key."""
    session.clear()
    return redirect(url_for("web.login"))
