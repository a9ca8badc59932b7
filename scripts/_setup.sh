# Shared set-up for scripts/*.sh (sourced, not run).

setup_venv() {
    local py="${PYTHON:-python3}"
    if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "botcore needs Python 3.11 or newer; $py is $("$py" --version 2>&1)" >&2
        exit 1
    fi
    if [ ! -x .venv/bin/python ]; then
        "$py" -m venv .venv
    fi
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[dev]"
    # A named Jupyter kernel so notebooks import the installed botcore (no sys.path hacks).
    .venv/bin/python -m ipykernel install --sys-prefix --name botcore --display-name "Python (botcore)" >/dev/null
    warm_numba_cache
}

warm_numba_cache() {
    # Compile the Numba kernels once now (cached in __pycache__ next to the sources): a few minutes here,
    # so that the first `botcore demo` and `botcore backtest` load them instead of compiling.
    local tmp
    tmp="$(mktemp -d)"
    echo "compiling the Numba kernels once (cached for every later run) ..." >&2
    if ! { .venv/bin/python -m botcore demo --days 0.01 --out "$tmp/demo" &&
           .venv/bin/python -m botcore backtest --data "$tmp/demo/market" --out "$tmp/backtest" --trail none; } \
           >/dev/null 2>"$tmp/warm.log"; then
        echo "warm-up of the Numba cache failed (the first run will compile instead):" >&2
        tail -n 5 "$tmp/warm.log" >&2
    fi
    rm -rf "$tmp"
}

install_chromium() {
    if command -v chromium >/dev/null 2>&1; then
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    echo "installing Debian's chromium for the browser tests..." >&2
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}
