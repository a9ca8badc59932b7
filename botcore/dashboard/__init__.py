"""The operator's dashboard: a Panel app over the ledger (read-only but for the kill switch).

Three parts, as in Panel's "structure a data store" guide:

- :mod:`botcore.dashboard.data`: :func:`load_snapshot` reads the ledger read-only
  in one snapshot and computes every figure (no Panel); :func:`health_payload`
  is the ``/health`` JSON; :data:`CACHE` shares snapshots between sessions.
- :mod:`botcore.dashboard.store`: :class:`DataStore`, a ``pn.viewable.Viewer``
  holding the current snapshot, refreshing itself with a periodic callback, and
  engaging the kill switch through a separate writable connection.
- :mod:`botcore.dashboard.views`: one ``Viewer`` per section taking the store
  as a parameter (they render in a notebook too), and :mod:`botcore.dashboard.app`:
  the template, the ``/health`` handler and :func:`serve` (``botcore dashboard``).

Panel is imported only by ``store``, ``views`` and ``app``.
"""

from botcore.dashboard.data import CACHE, PnL, Snapshot, SnapshotCache, health_payload, load_snapshot

__all__ = ["CACHE", "PnL", "Snapshot", "SnapshotCache", "health_payload", "load_snapshot"]
