"""The dashboard's data store: the current :class:`~botcore.dashboard.data.Snapshot` as a Panel parameter.

Views watch :attr:`DataStore.snapshot`; the store replaces it when the shared
cache (:data:`botcore.dashboard.data.CACHE`, a few seconds' TTL) yields a newer
one, on a periodic callback. Reading is read-only; :meth:`DataStore.engage_kill_switch`
is the one write, through its own short-lived writable connection.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import panel as pn
import param
from panel.viewable import Viewer

from botcore.dashboard.data import CACHE, Snapshot, SnapshotCache
from botcore.errors import LedgerError
from botcore.ops import killswitch, paths

logger = logging.getLogger(__name__)

#: where the ledger is when neither ``--ledger`` nor ``BOTCORE_LEDGER`` says: the same for every command
DEFAULT_LEDGER = paths.DEFAULT_LEDGER


def default_ledger_path() -> Path:
    """Return ``$BOTCORE_LEDGER`` or :data:`DEFAULT_LEDGER` (:func:`botcore.ops.paths.default_ledger_path`)."""
    return paths.default_ledger_path()


class DataStore(Viewer):
    """The ledger's latest snapshot for the views, refreshed every ``refresh_s`` seconds.

    Parameters
    ----------
    ledger_path : str
        The ledger's SQLite file (it may not exist yet: the views say so).
    config_dir : str or None
        Configuration directory (None: the default ``config/``).
    refresh_s : float
        Period of the refresh callback; 0 disables it (tests, static exports).
    """

    ledger_path = param.String(default=str(DEFAULT_LEDGER), doc="The ledger's SQLite file.")
    config_dir = param.String(default=None, allow_None=True, doc="Configuration directory; None for the default.")
    refresh_s = param.Number(default=5.0, bounds=(0, None), doc="Refresh period in seconds; 0: never.")
    snapshot = param.ClassSelector(class_=Snapshot, doc="The current snapshot (replaced, never mutated).")
    kill_switch_error = param.String(default="", doc="Why the last attempt to engage the kill switch failed.")

    def __init__(self, cache: SnapshotCache = CACHE, **params) -> None:
        self._cache = cache
        super().__init__(**params)
        if self.snapshot is None:
            self.snapshot = self._cache.get(self.ledger_path, self.config_dir)
        self._callback = None
        if self.refresh_s > 0:
            self._callback = pn.state.add_periodic_callback(
                self._refresh_in_thread,  # type: ignore[arg-type]  # panel runs coroutine functions; its annotation omits them
                period=int(self.refresh_s * 1000))

    def refresh(self, force: bool = False) -> Snapshot:
        """Fetch the latest snapshot (from the cache unless ``force``) and publish it if it changed."""
        return self._publish(self._cache.get(self.ledger_path, self.config_dir, force=force))

    async def _refresh_in_thread(self) -> None:
        """The periodic refresh: read the ledger in a worker thread so the server's event loop stays free."""
        loop = asyncio.get_running_loop()
        self._publish(await loop.run_in_executor(None, self._cache.get, self.ledger_path, self.config_dir))

    def _publish(self, snap: Snapshot) -> Snapshot:
        if snap is not self.snapshot:
            self.snapshot = snap
        return snap

    def stop(self) -> None:
        """Stop the periodic refresh."""
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    def engage_kill_switch(self, why: str = "engaged from the dashboard") -> bool:
        """Engage the kill switch (freeze) as ``botcore kill`` does: :func:`botcore.ops.killswitch.engage_and_alert`.

        Who (the dashboard and its user), why, since and the history go to the
        ledger, the kill file ``<ledger>.KILL`` is written too (it alone engages
        the switch when the ledger is locked), and the alert is raised.
        Returns True on success; on failure logs it, sets :attr:`kill_switch_error`
        and returns False. The bot obeys the switch within one cycle; releasing it
        is explicit and not done here.
        """
        try:
            if not Path(self.ledger_path).exists():
                raise LedgerError(f"ledger {self.ledger_path} does not exist")
            killswitch.engage_and_alert(self.ledger_path, "freeze", who=f"dashboard, {killswitch.default_who()}",
                                        why=why)
        except Exception as exc:  # noqa: BLE001 - shown to the operator
            self.kill_switch_error = f"could not engage the kill switch: {exc}"
            logger.error("dashboard: %s", self.kill_switch_error)
            return False
        self.kill_switch_error = ""
        logger.warning("dashboard: kill switch ENGAGED by the operator (ledger %s)", self.ledger_path)
        self.refresh(force=True)
        return True

    @param.depends("snapshot")
    def _status(self) -> str:
        snap = self.snapshot
        if snap is None:
            raise LedgerError(f"dashboard: no snapshot of {self.ledger_path} loaded")
        when = _clock(snap.generated_ms)
        every = f", every {self.refresh_s:g} s" if self.refresh_s else ""
        return f"<span class='bc-muted'>ledger <code>{snap.ledger_path}</code> · read {when} UTC{every}</span>"

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.pane.HTML(self._status, margin=(0, 10))


def _clock(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
