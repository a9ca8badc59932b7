"""BloFin's public websocket (the ``books`` channel) on 127.0.0.1, for the live feed's book stream.

Built from BloFin's "WS Order Book Channel" documentation: a client sends
``{"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]}``
and gets ``{"event": "subscribe", "arg": {...}}``, then a full snapshot
(``"action": "snapshot"``, ``data`` with ``asks``/``bids`` as ``[price, size]``
numbers, ``ts``, ``prevSeqId`` and ``seqId`` as strings) and incremental
updates (``"action": "update"``: only the changed levels, size 0 deletes a
level, ``prevSeqId`` = the previous message's ``seqId``). The text ``ping``
is answered ``pong``; an unknown channel or instrument gets ``{"event":
"error", "code": "60012", ...}``.

The books follow :func:`tests.fakes.blofin_public.book` of the REST fake at
its clock. A test drives the stream: :meth:`FakeBlofinWs.push` sends every
subscription the change to the fake's current book (the simulated clock:
one push per cycle), and the faults are :meth:`drop` (close every
connection), ``refuse`` (no new connections: the stream stays down),
:meth:`gap_next` (the next update of an instrument skips a sequence number)
and :meth:`reorder_next` (its next two updates arrive in reverse order).
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from tests.fakes import blofin_public
from tests.fakes.blofin_server import FakeBlofin

DEPTH = 20


@dataclass
class FakeBlofinWs:
    """The public websocket of ``fake`` (a :class:`FakeBlofin`); use as a context manager."""

    fake: FakeBlofin
    refuse: bool = False
    port: int = 0
    connections: int = 0
    messages: int = 0
    _subs: dict = field(default_factory=dict)  # ws -> {instId: (seq, {side: {price: size}})}
    _gap: set = field(default_factory=set)
    _reorder: set = field(default_factory=set)
    _seq: int = 1_000

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/public"

    def __enter__(self) -> FakeBlofinWs:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-blofin-ws", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(10)
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws/public", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, shutdown_timeout=0.1)
        await site.start()
        self.port = self._runner.addresses[0][1]

    # ------------------------------------------------------------------ driving it

    def push(self) -> None:
        """Send every subscription the change to the fake's book at its clock (waits until sent)."""
        asyncio.run_coroutine_threadsafe(self._push(), self._loop).result(10)

    def drop(self) -> None:
        """Close every connection (the clients see the stream drop)."""
        asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(10)

    def gap_next(self, inst_id: str) -> None:
        """The next update of ``inst_id`` skips a sequence number (a lost message)."""
        self._gap.add(inst_id)

    def reorder_next(self, inst_id: str) -> None:
        """The next two updates of ``inst_id`` are sent newest first."""
        self._reorder.add(inst_id)

    # ------------------------------------------------------------------ the protocol

    def _levels(self, inst_id: str) -> dict[str, dict[float, float]]:
        bids, asks, _ = blofin_public.book(self.fake, inst_id, DEPTH)
        return {"bids": {float(p): float(s) for p, s in bids}, "asks": {float(p): float(s) for p, s in asks}}

    def _next_seq(self) -> int:
        self._seq += 7
        return self._seq

    @staticmethod
    def _rows(side: dict[float, float], best_first_desc: bool) -> list[list[float]]:
        return [[p, s] for p, s in sorted(side.items(), reverse=best_first_desc)]

    async def _send(self, ws: web.WebSocketResponse, message: dict) -> None:
        if not ws.closed:
            self.messages += 1
            await ws.send_str(json.dumps(message))

    async def _snapshot(self, ws: web.WebSocketResponse, inst_id: str) -> None:
        levels = self._levels(inst_id)
        seq = self._next_seq()
        self._subs[ws][inst_id] = (seq, levels)
        await self._send(ws, {"arg": {"channel": "books", "instId": inst_id}, "action": "snapshot",
                              "data": {"asks": self._rows(levels["asks"], False), "bids": self._rows(levels["bids"], True),
                                       "ts": str(self.fake.now_ms), "prevSeqId": "0", "seqId": str(seq)}})

    async def _push(self) -> None:
        for ws, subs in list(self._subs.items()):
            for inst_id, (seq, old) in list(subs.items()):
                new = self._levels(inst_id)
                diff = {side: {p: new[side].get(p, 0.0) for p in set(old[side]) | set(new[side])
                               if new[side].get(p, 0.0) != old[side].get(p)} for side in ("bids", "asks")}
                messages = []
                prev = seq
                if inst_id in self._gap:
                    self._gap.discard(inst_id)
                    prev = self._next_seq()  # a message the client never gets
                nxt = self._next_seq()
                messages.append({"arg": {"channel": "books", "instId": inst_id}, "action": "update",
                                 "data": {"asks": self._rows(diff["asks"], False), "bids": self._rows(diff["bids"], True),
                                          "ts": str(self.fake.now_ms), "prevSeqId": str(prev), "seqId": str(nxt)}})
                if inst_id in self._reorder:  # an empty follow-up update, sent before the one it follows
                    self._reorder.discard(inst_id)
                    last = self._next_seq()
                    messages.insert(0, {"arg": {"channel": "books", "instId": inst_id}, "action": "update",
                                        "data": {"asks": [], "bids": [], "ts": str(self.fake.now_ms),
                                                 "prevSeqId": str(nxt), "seqId": str(last)}})
                    nxt = last
                subs[inst_id] = (nxt, new)
                for m in messages:
                    await self._send(ws, m)

    async def _close_all(self) -> None:
        for ws in list(self._subs):
            await ws.close()
        self._subs.clear()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        if self.refuse:
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.connections += 1
        self._subs[ws] = {}
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                if msg.data == "ping":
                    await ws.send_str("pong")
                    continue
                try:
                    req = json.loads(msg.data)
                except ValueError:
                    await self._send(ws, {"event": "error", "code": "60012", "msg": f"Invalid request: {msg.data}"})
                    continue
                for arg in req.get("args") or []:
                    known = any(i["instId"] == arg.get("instId") for i in self.fake.instruments)
                    if req.get("op") != "subscribe" or arg.get("channel") != "books" or not known:
                        await self._send(ws, {"event": "error", "code": "60012", "msg": f"Invalid request: {msg.data}"})
                        continue
                    await self._send(ws, {"event": "subscribe", "arg": {"channel": "books", "instId": arg["instId"]}})
                    await self._snapshot(ws, arg["instId"])
        finally:
            self._subs.pop(ws, None)
        return ws
