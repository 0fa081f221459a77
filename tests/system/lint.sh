#!/usr/bin/env bash
# scripts/lint fails on each kind of violation and passes a clean tree: run
# on a throw-away git repository holding the project's .clang-format and
# one C file at a time.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/scripts"
cp "$root/scripts/lint" "$dir/scripts/"
cp "$root/.clang-format" "$dir/"
git -C "$dir" init -q
failures=0
# expect pass|fail NAME: lints $dir with the file `one.c` as given on stdin.
expect() {
    cat >"$dir/one.c"
    git -C "$dir" add -A >/dev/null
    local got=pass
    "$dir/scripts/lint" >"$dir/out" 2>&1 || got=fail
    if [ "$got" = "$1" ]; then
        echo "ok: $2"
    else
        echo "FAILED: $2 (expected $1, got $got)"; sed 's/^/    /' "$dir/out"
        failures=$((failures + 1))
    fi
}
expect pass "a formatted file" <<'C'
#include <stdio.h>

int main(void)
{
    char text[16];
    return snprintf(text, sizeof text, "%d", 1) < 0;
}
C
expect fail "unformatted code" <<'C'
int main(void) { return 0; }
C
expect fail "a banned function (sprintf)" <<'C'
#include <stdio.h>

int main(void)
{
    char text[16];
    return sprintf(text, "%d", 1) < 0;
}
C
expect fail "a banned function (atoi)" <<'C'
#include <stdlib.h>

int main(int argc, char **argv)
{
    return argc > 1 ? atoi(argv[1]) : 0;
}
C
expect fail "a line over 100 columns" <<'C'
/* clang-format off */
static const char *long_text = "................................................................................";
/* clang-format on */
C
[ "$failures" -eq 0 ] || exit 1
echo "lint: all cases as expected"
