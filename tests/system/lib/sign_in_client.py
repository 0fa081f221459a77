"""The client side of tests/system/sign_in.sh: a browser's part in the
vault's sign-in (authorization code + PKCE), done by hand with urllib so
that every cookie, header and redirect can be checked.  Prints one
"ok NAME" or "FAIL NAME" line per check.

argv: vault bootstrap.json, then NAME=VALUE pairs: alice_pw, bob_pw,
bob_totp_uri, carol_pw.
"""
import base64
import hashlib
import hmac
import html.parser
import json
import re
import secrets
import ssl
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from checks import check, failed

vault = json.load(open(sys.argv[1]))
args = dict(a.split("=", 1) for a in sys.argv[2:])
url = vault["vault_url"].rstrip("/")
tenant = vault["tenant_id"]
ctx = ssl.create_default_context(cafile=vault["ca_cert"])
AUTHZ = f"/{tenant}/oauth2/v2.0/authorize"
TOKEN = f"/{tenant}/oauth2/v2.0/token"
LOGOUT = f"/{tenant}/oauth2/v2.0/logout"
CONSOLE = url + "/console/"
VAULT_SCOPE = "https://vault.azure.net/.default"
STORAGE_SCOPE = "https://storage.azure.com/.default"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=ctx))


def http(method, path, form=None, cookies=None, token=None):
    headers = {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    if data is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        r = opener.open(req)
    except urllib.error.HTTPError as e:
        r = e
    return r.status, r.headers, r.read().decode("utf-8", "replace")


def set_cookies(headers):
    """name -> (value, attributes) of every Set-Cookie."""
    out = {}
    for line in headers.get_all("Set-Cookie") or []:
        first, *attrs = [p.strip() for p in line.split(";")]
        name, value = first.split("=", 1)
        out[name] = (value, [a.lower() for a in attrs])
    return out


class Fields(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields, self.scripts, self.inline_styles = {}, 0, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and "name" in a:
            self.fields[a["name"]] = a.get("value", "")
        self.scripts += tag == "script"
        self.inline_styles += tag == "style" or "style" in a


def page_fields(text):
    p = Fields()
    p.feed(text)
    return p


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def authz_query(challenge, state="st-1", **extra):
    q = {"client_id": "coffer-console", "response_type": "code", "redirect_uri": CONSOLE,
         "code_challenge": challenge, "code_challenge_method": "S256", "state": state,
         "scope": VAULT_SCOPE + " offline_access"}
    q.update(extra)
    return AUTHZ + "?" + urllib.parse.urlencode(q)


def sign_in_form(challenge):
    """GET the page: (its fields, the login cookie value)."""
    status, headers, text = http("GET", authz_query(challenge))
    return status, headers, text, page_fields(text), set_cookies(headers).get(
        "__Host-coffer-login", ("", []))[0]


def post_form(fields, login_cookie, name, password, otp=""):
    form = dict(fields)
    form.update({"username": name, "password": password, "otp": otp})
    return http("POST", AUTHZ, form, {"__Host-coffer-login": login_cookie} if login_cookie else None)


def code_of(headers):
    loc = headers.get("Location", "")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    return loc, q.get("code", [""])[0], q.get("state", [""])[0]


def exchange(code, verifier, redirect=CONSOLE):
    status, _, text = http("POST", TOKEN, {"grant_type": "authorization_code",
                                           "client_id": "coffer-console", "code": code,
                                           "code_verifier": verifier, "redirect_uri": redirect})
    return status, json.loads(text) if text.startswith("{") else {}


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def totp(uri, at=None):
    secret = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)["secret"][0]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    step = int((at or time.time()) // 30)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def keys_with(token):
    return http("GET", "/keys?api-version=7.5", token=token)[0]


# ---- the page itself ----
verifier, challenge = pkce()
status, headers, text = http("GET", authz_query(challenge, client_id="someone-else"))
check("an unknown client gets an error page, no redirect",
      status == 400 and "Location" not in headers, status)
status, headers, text = http("GET", authz_query(challenge, redirect_uri="https://evil.example/"))
check("a foreign redirect URI gets an error page, no redirect",
      status == 400 and "Location" not in headers and "evil.example" not in text, status)
status, _, _ = http("GET", authz_query(challenge, code_challenge_method="plain"))
check("PKCE plain is refused (S256 only)", status == 400, status)
status, headers, text, page, login_cookie = sign_in_form(challenge)
check("the sign-in page: 200 HTML", status == 200 and headers.get_content_type() == "text/html",
      status)
csp = headers.get("Content-Security-Policy", "")
check("CSP: default-src 'none', no unsafe-inline or unsafe-eval",
      "default-src 'none'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp)
check("the page has no script and no inline style", page.scripts == 0 and page.inline_styles == 0)
check("not framable (frame-ancestors 'none', X-Frame-Options DENY)",
      "frame-ancestors 'none'" in csp and headers.get("X-Frame-Options") == "DENY")
login_attrs = set_cookies(headers).get("__Host-coffer-login", ("", []))[1]
check("the form's cookie: Secure, HttpOnly, SameSite=Strict, Path=/",
      {"secure", "httponly", "samesite=strict", "path=/"} <= set(login_attrs), login_attrs)
check("the form carries a CSRF token equal to its cookie",
      len(page.fields.get("csrf", "")) >= 32 and page.fields["csrf"] == login_cookie)
check("the request's parameters ride along, escaped",
      page.fields.get("state") == "st-1" and page.fields.get("redirect_uri") == CONSOLE)

# ---- CSRF ----
status, _, text = post_form(page.fields, None, "alice", args["alice_pw"])
check("the form without its cookie: 400", status == 400 and "expired" in text, status)
bad = dict(page.fields, csrf="A" * 43)
status, _, _ = post_form(bad, login_cookie, "alice", args["alice_pw"])
check("the form with another token: 400", status == 400, status)

# ---- wrong, then right ----
status, headers, text = post_form(page.fields, login_cookie, "alice", "not the password!")
check("a wrong password: 401, the form again with a message",
      status == 401 and "Wrong user name, password or one-time code." in text and
      "not the password!" not in text, status)
check("no session for a failure", "__Host-coffer-session" not in set_cookies(headers))
status, headers, text = post_form(page.fields, login_cookie, "nobody-here", "whatever-password")
check("an unknown user: the same answer", status == 401 and "Wrong user name" in text, status)
status, headers, _ = post_form(page.fields, login_cookie, "alice", args["alice_pw"])
loc, code, state = code_of(headers)
check("the right password: 302 to the console with a code and the state",
      status == 302 and loc.startswith(CONSOLE + "?code=") and state == "st-1" and code, loc)
cookies = set_cookies(headers)
session, attrs = cookies.get("__Host-coffer-session", ("", []))
check("a session cookie: Secure, HttpOnly, SameSite=Strict",
      len(session) >= 43 and {"secure", "httponly", "samesite=strict"} <= set(attrs), attrs)
check("the form's cookie is cleared", cookies.get("__Host-coffer-login", ("x", []))[0] == "")

# ---- the code ----
status, reply = exchange(code, pkce()[0])
check("a wrong PKCE verifier: 400 invalid_grant",
      status == 400 and reply.get("error") == "invalid_grant", reply)
status, reply = exchange(code, verifier)
check("the code was spent by the failed try (single use)", status == 400, reply)
verifier, challenge = pkce()
status, headers, _ = http("GET", authz_query(challenge, state="st-2"),
                          cookies={"__Host-coffer-session": session})
loc, code, state = code_of(headers)
check("with the session cookie: straight back with a new code (no form)",
      status == 302 and code and state == "st-2", status)
status, reply = exchange(code, verifier, redirect=url + "/other/")
check("another redirect URI at the exchange: 400", status == 400, reply)
status, headers, _ = http("GET", authz_query(challenge, state="st-3"),
                          cookies={"__Host-coffer-session": session})
code = code_of(headers)[1]
status, reply = exchange(code, verifier)
check("the code and its verifier: 200 with an access and a refresh token",
      status == 200 and reply.get("access_token") and reply.get("refresh_token"), reply)
access, refresh = reply.get("access_token", "x.e30.x"), reply.get("refresh_token", "")
c = claims(access)
check("the token names the user and its session, and lives 10 minutes",
      c.get("sid") and c["exp"] - c["iat"] == 600 and c.get("aud") == "https://vault.azure.net", c)
status, reply = exchange(code, verifier)
check("a code used twice: 400", status == 400, reply)
check("the user's token works with the user's role (list keys: 200)", keys_with(access) == 200)

# ---- refresh: rotated, and a reuse ends the session ----
status, _, text = http("POST", TOKEN, {"grant_type": "refresh_token", "client_id": "coffer-console",
                                       "refresh_token": refresh, "scope": STORAGE_SCOPE})
reply = json.loads(text)
check("refresh for the storage audience: 200, a new refresh token",
      status == 200 and reply.get("refresh_token") not in ("", None, refresh) and
      claims(reply["access_token"])["aud"] == "https://storage.azure.com", reply)
status, _, text = http("POST", TOKEN, {"grant_type": "refresh_token", "client_id": "coffer-console",
                                       "refresh_token": refresh, "scope": VAULT_SCOPE})
check("the old refresh token again: 400 (used already)", status == 400, text)
check("... and the session is over: its access token is refused (401)", keys_with(access) == 401)
status, headers, _ = http("GET", authz_query(challenge), cookies={"__Host-coffer-session": session})
check("... and its cookie signs in no more (the form again)", status == 200, status)

# ---- sign out ----
verifier, challenge = pkce()
status, headers, text, page, login_cookie = sign_in_form(challenge)
status, headers, _ = post_form(page.fields, login_cookie, "alice", args["alice_pw"])
session = set_cookies(headers).get("__Host-coffer-session", ("", []))[0]
status, reply = exchange(code_of(headers)[1], verifier)
access, refresh = reply.get("access_token", "x.e30.x"), reply.get("refresh_token", "")
check("signed in again", status == 200 and keys_with(access) == 200)
status, headers, text = http("POST", LOGOUT, {"refresh_token": "A" * 43})
check("sign-out with a wrong refresh token: 400", status == 400, status)
status, headers, text = http("POST", LOGOUT, {"refresh_token": refresh},
                             cookies={"__Host-coffer-session": session})
check("sign-out: 200, the session cookie cleared",
      status == 200 and set_cookies(headers).get("__Host-coffer-session", ("x", []))[0] == "",
      status)
check("after sign-out the access token is refused at once (401)", keys_with(access) == 401)
status, _, _ = http("POST", TOKEN, {"grant_type": "refresh_token", "client_id": "coffer-console",
                                    "refresh_token": refresh, "scope": VAULT_SCOPE})
check("after sign-out the refresh token is refused", status == 400, status)

# ---- one-time codes ----
verifier, challenge = pkce()
status, headers, text, page, login_cookie = sign_in_form(challenge)
status, _, text = post_form(page.fields, login_cookie, "bob", args["bob_pw"])
check("a user with a second factor and no code: 401", status == 401, status)
code_now = totp(args["bob_totp_uri"])
status, headers, _ = post_form(page.fields, login_cookie, "bob", args["bob_pw"], code_now)
check("with the right one-time code: 302", status == 302, status)
status, _, _ = post_form(page.fields, login_cookie, "bob", args["bob_pw"], code_now)
check("the same code again (replay): 401", status == 401, status)

# ---- lockout ----
verifier, challenge = pkce()
status, headers, text, page, login_cookie = sign_in_form(challenge)
for _ in range(5):
    post_form(page.fields, login_cookie, "carol", "a wrong password")
status, _, text = post_form(page.fields, login_cookie, "carol", args["carol_pw"])
check("five failures lock the user: the right password is refused (403)",
      status == 403 and "locked" in text, status)
status, _, text = http("POST", TOKEN, {"grant_type": "client_credentials",
                                       "client_id": vault["client_id"],
                                       "client_secret": vault["client_secret"],
                                       "scope": VAULT_SCOPE})
admin = json.loads(text)["access_token"]
users = json.loads(http("GET", "/coffer/users?api-version=7.5", token=admin)[2])["value"]
carol = [u for u in users if u["name"] == "carol"][0]
check("the listing shows carol locked", carol["locked_until"] > time.time())
req = urllib.request.Request(url + f"/coffer/users/{carol['object_id']}/password?api-version=7.5",
                             data=json.dumps({"password": "carol's new password"}).encode(),
                             method="POST", headers={"Authorization": f"Bearer {admin}",
                                                     "Content-Type": "application/json"})
check("an administrator resets carol's password (204)", opener.open(req).status == 204)
status, _, _ = post_form(page.fields, login_cookie, "carol", "carol's new password")
check("after an administrator's reset the user signs in", status == 302, status)

# ---- a token endpoint that is not the console's ----
status, _, text = http("POST", TOKEN, {"grant_type": "authorization_code", "client_id": "x",
                                       "code": "a", "code_verifier": "b" * 43,
                                       "redirect_uri": CONSOLE})
check("another client id cannot use the code grant (400 unauthorized_client)",
      status == 400 and "unauthorized_client" in text, text)
sys.exit(1 if failed() else 0)
