"""One "ok NAME" or "FAIL NAME  [detail]" line per check, for the shell
scripts that run a Python client and count its lines (metrics.sh,
sign_in.sh); failed() says how many failed."""

_failed = 0


def check(name, cond, detail=""):
    global _failed
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f"  [{detail}]"), flush=True)
    _failed += 0 if cond else 1


def failed():
    return _failed
