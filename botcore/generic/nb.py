"""Generic Numba primitives under the signal kernels (after vectorbt's ``generic/nb.py``).

Streaming blocks kept in one row ``j`` of a float64 state matrix at a column
offset ``o`` (each ``*_len`` gives its width, each ``*_init_nb`` resets it):

- the rolling block (``roll_*``): a ring buffer of the last ``window`` values
  with their count, sum and sum of squares, relative to an anchor, rebuilt
  from the buffer each time it wraps so that they do not drift;
- the plain ring (``ring_*``): the last ``window`` values, for lags;
- the monotone deque (``deque_*``): a sliding maximum of (bar index, value).

Then the same building blocks as stand-alone 2-D/1-D kernels (rolling mean and
std, EMA, rolling maximum), the as-of alignment of an irregular series onto a
bar grid (``asof_nb``), and a borrowed (not reference-counted) view of an
array for the 2-D loops. NaN is a missing value everywhere: it occupies its
slot in a window and is left out of the sums; an EMA carries over it.

This module imports nothing of botcore. :func:`guard_stale_cache` keeps the
Numba cache of a kernel module that compiles these primitives in from
outliving an edit of them.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

# --------------------------------------------------------------------------- state without reference counting
# The 2-D kernels pass their state matrix to an inlined step per value; Numba
# counts a reference to it on every call (two atomic operations per value that
# its reference-count pruning does not remove across the steps' branches). The
# loops use a borrowed view instead: the same data with no owner to count, the
# owning array kept alive until the loops are done.


@intrinsic
def borrowed_nb(typingctx, array):
    """Return a view of ``array`` that is not reference-counted (the caller keeps ``array`` alive)."""

    def codegen(context, builder, sig, args):
        src = context.make_array(sig.args[0])(context, builder, value=args[0])
        view = context.make_array(sig.return_type)(context, builder)
        for name in ("data", "shape", "strides", "itemsize", "parent", "nitems"):
            setattr(view, name, getattr(src, name))
        view.meminfo = context.get_constant_null(types.MemInfoPointer(types.voidptr))
        return view._getvalue()

    return array(array), codegen


@intrinsic
def keep_alive_nb(typingctx, array):
    """Use ``array`` here, so that it lives at least until this point (the owner of a borrowed view)."""

    def codegen(context, builder, sig, args):
        return context.get_dummy_value()

    return types.none(array), codegen


# --------------------------------------------------------------------------- rolling block
# Layout at offset o: [pos, count, sum, sumsq, anchor, nonzero, buf_0 .. buf_{w-1}];
# sums are of d = x - anchor over the non-NaN values in the ring buffer and
# ``nonzero`` counts the values with d != 0, so a window of equal values has
# exactly zero sums (no rounding residue of earlier pushes).

ROLL_POS = 0  # next slot of the ring buffer to write
ROLL_COUNT = 1  # non-NaN values in the window
ROLL_SUM = 2  # sum of d = x - anchor
ROLL_SUMSQ = 3  # sum of d * d
ROLL_ANCHOR = 4  # the anchor (NaN until the first value of an anchored block; 0 unanchored)
ROLL_NONZERO = 5  # values with d != 0
ROLL_HEADER = 6  # the ring buffer starts here


@njit(cache=True)
def roll_len(window: int) -> int:
    """Width of a rolling block of ``window`` values."""
    return ROLL_HEADER + window


@njit(cache=True, inline="always")
def roll_init_nb(st, j, o, window, anchored):
    """Reset the rolling block at offset ``o`` of row ``j`` (empty window; anchor unset when ``anchored``)."""
    st[j, o + ROLL_POS] = 0.0
    st[j, o + ROLL_COUNT] = 0.0
    st[j, o + ROLL_SUM] = 0.0
    st[j, o + ROLL_SUMSQ] = 0.0
    st[j, o + ROLL_ANCHOR] = np.nan if anchored else 0.0
    st[j, o + ROLL_NONZERO] = 0.0
    for k in range(window):
        st[j, o + ROLL_HEADER + k] = np.nan


@njit(cache=True, inline="always")
def roll_push_nb(st, j, o, window, x, anchored):
    """Push ``x`` (NaN allowed) into the ring buffer, dropping the value ``window`` bars old."""
    pos = int(st[j, o + ROLL_POS])
    i = o + ROLL_HEADER + pos
    old = st[j, i]
    a = st[j, o + ROLL_ANCHOR]
    if not math.isnan(old):
        d = old - a
        st[j, o + ROLL_COUNT] -= 1.0
        st[j, o + ROLL_SUM] -= d
        st[j, o + ROLL_SUMSQ] -= d * d
        if d != 0.0:
            st[j, o + ROLL_NONZERO] -= 1.0
    if not math.isnan(x):
        if anchored and math.isnan(a):
            a = x
            st[j, o + ROLL_ANCHOR] = a
        d = x - a
        st[j, o + ROLL_COUNT] += 1.0
        st[j, o + ROLL_SUM] += d
        st[j, o + ROLL_SUMSQ] += d * d
        if d != 0.0:
            st[j, o + ROLL_NONZERO] += 1.0
    if st[j, o + ROLL_NONZERO] == 0.0:
        st[j, o + ROLL_SUM] = 0.0
        st[j, o + ROLL_SUMSQ] = 0.0
    st[j, i] = x
    pos += 1
    if pos == window:
        pos = 0
        if anchored and not math.isnan(x):
            a = x
            st[j, o + ROLL_ANCHOR] = a
        c = 0.0
        s = 0.0
        ss = 0.0
        nz = 0.0
        for k in range(window):
            v = st[j, o + ROLL_HEADER + k]
            if not math.isnan(v):
                d = v - a
                c += 1.0
                s += d
                ss += d * d
                if d != 0.0:
                    nz += 1.0
        st[j, o + ROLL_COUNT] = c
        st[j, o + ROLL_SUM] = s
        st[j, o + ROLL_SUMSQ] = ss
        st[j, o + ROLL_NONZERO] = nz
    st[j, o + ROLL_POS] = float(pos)


@njit(cache=True, inline="always")
def roll_count_nb(st, j, o):
    """Number of valid values in the window."""
    return st[j, o + ROLL_COUNT]


@njit(cache=True, inline="always")
def roll_sum_nb(st, j, o):
    """Sum of the valid values in the window (0 when none)."""
    return st[j, o + ROLL_SUM] + st[j, o + ROLL_COUNT] * st[j, o + ROLL_ANCHOR] if st[j, o + ROLL_COUNT] > 0 else 0.0


@njit(cache=True, inline="always")
def roll_mean_nb(st, j, o):
    """Mean of the valid values in the window (NaN when none)."""
    c = st[j, o + ROLL_COUNT]
    return st[j, o + ROLL_ANCHOR] + st[j, o + ROLL_SUM] / c if c > 0 else np.nan


@njit(cache=True, inline="always")
def roll_std_nb(st, j, o):
    """Population standard deviation (ddof=0) of the valid values in the window."""
    c = st[j, o + ROLL_COUNT]
    if c <= 0:
        return np.nan
    m = st[j, o + ROLL_SUM] / c
    v = st[j, o + ROLL_SUMSQ] / c - m * m
    return math.sqrt(v) if v > 0.0 else 0.0


@njit(cache=True, inline="always")
def roll_rms_nb(st, j, o):
    """Root mean square of the valid values (the block must be unanchored)."""
    c = st[j, o + ROLL_COUNT]
    if c <= 0:
        return np.nan
    v = st[j, o + ROLL_SUMSQ] / c
    return math.sqrt(v) if v > 0.0 else 0.0


@njit(cache=True, inline="always")
def roll_lag_nb(st, j, o, window, lag):
    """Return the value pushed ``lag`` pushes ago (0 = the last one); ``lag < window``."""
    k = int(st[j, o + ROLL_POS]) - 1 - lag
    if k < 0:  # (k % window) without an integer division: k >= -window
        k += window
    return st[j, o + ROLL_HEADER + k]


# --------------------------------------------------------------------------- plain ring (lags only)
# Layout at offset o: [pos, buf_0 .. buf_{w-1}].

RING_POS = 0  # next slot to write
RING_BUF = 1  # the buffer starts here


@njit(cache=True)
def ring_len(window: int) -> int:
    """Width of a plain ring of ``window`` values."""
    return RING_BUF + window


@njit(cache=True, inline="always")
def ring_init_nb(st, j, o, window):
    """Reset the ring at offset ``o`` of row ``j`` (all NaN)."""
    st[j, o + RING_POS] = 0.0
    for k in range(window):
        st[j, o + RING_BUF + k] = np.nan


@njit(cache=True, inline="always")
def ring_push_nb(st, j, o, window, x):
    """Push ``x`` (NaN allowed), overwriting the value ``window`` pushes old."""
    pos = int(st[j, o + RING_POS])
    st[j, o + RING_BUF + pos] = x
    pos += 1
    st[j, o + RING_POS] = 0.0 if pos == window else float(pos)


@njit(cache=True, inline="always")
def ring_lag_nb(st, j, o, window, lag):
    """Return the value pushed ``lag`` pushes ago (0 = the last one); ``lag < window``."""
    k = int(st[j, o + RING_POS]) - 1 - lag
    if k < 0:  # (k % window) without an integer division: k >= -window
        k += window
    return st[j, o + RING_BUF + k]


# --------------------------------------------------------------------------- monotone deque
# Sliding maximum of (bar index, value) pairs; capacity cap.
# Layout at offset o: [head, size, idx_0 .. idx_{cap-1}, val_0 .. val_{cap-1}].

DEQUE_HEAD = 0  # slot of the front entry
DEQUE_SIZE = 1  # entries held
DEQUE_IDX = 2  # bar indices start here, values ``cap`` slots later


@njit(cache=True)
def deque_len(cap: int) -> int:
    """Width of a monotone deque of capacity ``cap``."""
    return DEQUE_IDX + 2 * cap


@njit(cache=True, inline="always")
def _wrap(k, cap):
    """``k % cap`` for ``0 <= k < 2 * cap``, without an integer division."""
    return k - cap if k >= cap else k


@njit(cache=True, inline="always")
def deque_init_nb(st, j, o, cap):
    """Reset the deque at offset ``o`` of row ``j`` (empty)."""
    st[j, o + DEQUE_HEAD] = 0.0
    st[j, o + DEQUE_SIZE] = 0.0
    for k in range(2 * cap):
        st[j, o + DEQUE_IDX + k] = np.nan


@njit(cache=True, inline="always")
def deque_evict_nb(st, j, o, cap, oldest_idx):
    """Drop entries with bar index below ``oldest_idx``."""
    head = int(st[j, o + DEQUE_HEAD])
    size = int(st[j, o + DEQUE_SIZE])
    while size > 0 and st[j, o + DEQUE_IDX + head] < oldest_idx:
        head += 1
        if head == cap:
            head = 0
        size -= 1
    st[j, o + DEQUE_HEAD] = float(head)
    st[j, o + DEQUE_SIZE] = float(size)


@njit(cache=True, inline="always")
def deque_push_max_nb(st, j, o, cap, idx, x):
    """Push ``(idx, x)``, dropping the entries at the back whose value is ``<= x``."""
    head = int(st[j, o + DEQUE_HEAD])
    size = int(st[j, o + DEQUE_SIZE])
    while size > 0 and st[j, o + DEQUE_IDX + cap + _wrap(head + size - 1, cap)] <= x:
        size -= 1
    k = _wrap(head + size, cap)
    st[j, o + DEQUE_IDX + k] = idx
    st[j, o + DEQUE_IDX + cap + k] = x
    st[j, o + DEQUE_SIZE] = float(size + 1)


@njit(cache=True, inline="always")
def deque_front_nb(st, j, o, cap):
    """Maximum over the entries held (the front value); NaN when empty."""
    if st[j, o + DEQUE_SIZE] <= 0:
        return np.nan
    return st[j, o + DEQUE_IDX + cap + int(st[j, o + DEQUE_HEAD])]


# --------------------------------------------------------------------------- rolling primitives
# The building blocks of the signals as stand-alone kernels (research,
# benchmarks against pandas and vectorbt). Same NaN rules as the signals.


@njit(cache=True, nogil=True)
def rolling_mean_std_nb(x, window, min_periods):
    """Rolling mean and population std (ddof=0) over the last ``window`` bars; NaN below ``min_periods`` values.

    ``(n, m)`` -> two ``(n, m)``; bars outside, symbols inside.
    """
    n, m = x.shape
    mean = np.empty((n, m))
    std = np.empty((n, m))
    st = np.empty((m, roll_len(window)))
    for j in range(m):
        roll_init_nb(st, j, 0, window, True)
    for t in range(n):
        for j in range(m):
            roll_push_nb(st, j, 0, window, x[t, j], True)
            if roll_count_nb(st, j, 0) >= min_periods:
                mean[t, j] = roll_mean_nb(st, j, 0)
                std[t, j] = roll_std_nb(st, j, 0)
            else:
                mean[t, j] = np.nan
                std[t, j] = np.nan
    return mean, std


@njit(cache=True)
def rolling_mean_std_1d_nb(x, window, min_periods):
    """1-D form of :func:`rolling_mean_std_nb`."""
    mean, std = rolling_mean_std_nb(x.reshape(-1, 1), window, min_periods)
    return mean[:, 0].copy(), std[:, 0].copy()


@njit(cache=True, nogil=True)
def ema_nb(x, span):
    """EMA with ``alpha = 2 / (span + 1)``, seeded with the first valid value, carried over NaN (pandas ``adjust=False, ignore_na=True``)."""
    n, m = x.shape
    out = np.empty((n, m))
    alpha = 2.0 / (span + 1.0)
    value = np.full(m, np.nan)
    for t in range(n):
        for j in range(m):
            v = x[t, j]
            if not math.isnan(v):
                value[j] = v if math.isnan(value[j]) else value[j] + alpha * (v - value[j])
            out[t, j] = value[j]
    return out


@njit(cache=True)
def ema_1d_nb(x, span):
    """1-D form of :func:`ema_nb`."""
    return ema_nb(x.reshape(-1, 1), span)[:, 0].copy()


@njit(cache=True, nogil=True)
def rolling_max_nb(x, window):
    """Rolling maximum of the valid values among the last ``window`` bars; NaN if none.

    Batch form by van Herk / Gil-Werman: block prefix and suffix maxima,
    three comparisons per value whatever the window (the breakout signal's
    streaming form uses the monotone deque instead).
    """
    n, m = x.shape
    prefix = np.empty((n, m))
    suffix = np.empty((n, m))
    out = np.empty((n, m))
    for t in range(n):
        start = t % window == 0
        for j in range(m):
            v = x[t, j]
            v = -np.inf if math.isnan(v) else v
            prefix[t, j] = v if start else max(prefix[t - 1, j], v)
    for t in range(n - 1, -1, -1):
        end = (t + 1) % window == 0 or t == n - 1
        for j in range(m):
            v = x[t, j]
            v = -np.inf if math.isnan(v) else v
            suffix[t, j] = v if end else max(suffix[t + 1, j], v)
    for t in range(n):
        for j in range(m):
            value = prefix[t, j] if t < window - 1 else max(suffix[t - window + 1, j], prefix[t, j])
            out[t, j] = np.nan if value == -np.inf else value
    return out


@njit(cache=True)
def rolling_max_1d_nb(x, window):
    """1-D form of :func:`rolling_max_nb`."""
    return rolling_max_nb(x.reshape(-1, 1), window)[:, 0].copy()



# --------------------------------------------------------------------------- small helpers


@njit(cache=True, inline="always")
def ema_alpha_nb(span):
    """EMA weight ``2 / (span + 1)``."""
    return 2.0 / (span + 1.0)


@njit(cache=True, inline="always")
def tanh_nb(x):
    """tanh via one exp: ``(1 - e) / (1 + e)`` with ``e = exp(-2|x|)``; absolute error below 3e-16, twice as fast as libm."""
    e = math.exp(-2.0 * abs(x))
    t = (1.0 - e) / (1.0 + e)
    return t if x >= 0.0 else -t


@njit(cache=True, inline="always")
def clip01_nb(x):
    """``x`` clipped to [0, 1]."""
    return 0.0 if x < 0.0 else (1.0 if x > 1.0 else x)


@njit(cache=True, inline="always")
def sign_nb(x):
    """Sign of ``x`` as float (0 at 0)."""
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


# =========================================================================== alignment


@njit(cache=True)
def asof_1d_nb(src_ts, src_values, grid_ts, max_age_ms):
    """Last non-NaN value with ``ts <= grid`` and age ``<= max_age_ms`` at each grid time, else NaN.

    ``src_ts`` (k,) int64 ascending, ``src_values`` (k,) float64, ``grid_ts`` (n,)
    int64 ascending -> (n,) float64. Never looks ahead.
    """
    n = grid_ts.shape[0]
    out = np.empty(n, dtype=np.float64)
    i = 0
    last_ts = 0
    last_value = np.nan
    k = src_ts.shape[0]
    for t in range(n):
        g = grid_ts[t]
        while i < k and src_ts[i] <= g:
            if not math.isnan(src_values[i]):
                last_ts = src_ts[i]
                last_value = src_values[i]
            i += 1
        out[t] = last_value if (not math.isnan(last_value) and g - last_ts <= max_age_ms) else np.nan
    return out


@njit(cache=True, nogil=True)
def asof_nb(src_ts, src_values, grid_ts, max_age_ms):
    """2-D form of :func:`asof_1d_nb`: ``(k, m)`` values -> ``(n, m)``."""
    n = grid_ts.shape[0]
    m = src_values.shape[1]
    out = np.empty((n, m), dtype=np.float64)
    for j in range(m):
        col = asof_1d_nb(src_ts, np.ascontiguousarray(src_values[:, j]), grid_ts, max_age_ms)
        for t in range(n):
            out[t, j] = col[t]
    return out


# =========================================================================== stale-cache guard


def guard_stale_cache(kernel, dependencies: tuple[str, ...]) -> None:
    """Drop the Numba cache of ``kernel``'s module when one of ``dependencies`` has changed.

    Numba keys a cached function on its own file only, but the machine code it
    stores includes the callees it was compiled with (these primitives, inlined).
    A stamp of the ``dependencies`` (paths from the repository root) next to the
    cache makes an edit of any of them recompile the module instead of running
    the old code. Call it at the end of the kernel module, with one of its
    ``cache=True`` kernels.
    """
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha1()
    for rel in dependencies:
        p = root / rel
        digest.update(p.read_bytes() if p.is_file() else rel.encode())
    try:
        cache_dir = Path(kernel._cache._cache_path)
    except AttributeError:  # no cache locator (e.g. NUMBA_DISABLE_JIT)
        return
    stem = Path(kernel.py_func.__code__.co_filename).stem
    stamp = cache_dir / f"{stem}.dependencies.sha1"
    try:
        if stamp.is_file() and stamp.read_text() == digest.hexdigest():
            return
        for f in list(cache_dir.glob(f"{stem}.*.nbi")) + list(cache_dir.glob(f"{stem}.*.nbc")):
            f.unlink(missing_ok=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:  # a read-only cache: Numba will not write either
        pass
