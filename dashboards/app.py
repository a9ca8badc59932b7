"""The botcore dashboard for ``panel serve`` (``botcore dashboard`` serves the same app).

    panel serve dashboards/app.py --port 5000 --plugins botcore.dashboard.app --args --ledger var/ledger.sqlite

The ledger comes from ``--args --ledger PATH`` (optionally ``--config DIR``), else
``$BOTCORE_LEDGER``, else ``var/ledger.sqlite``; ``--plugins botcore.dashboard.app``
adds the ``/health`` JSON endpoint. ``panel serve`` binds where it is told: a
browser that is not on localhost gets a refusal unless Panel authentication
(``--basic-auth`` or OAuth) is configured.
"""

import panel as pn

from botcore.dashboard.app import app_from_args, is_loopback, refusal_page

pn.extension("tabulator", notifications=False)

_request = pn.state.curdoc.session_context.request if pn.state.curdoc and pn.state.curdoc.session_context else None
_remote = getattr(_request, "remote_ip", None) if _request is not None else None
if _remote is not None and not is_loopback(_remote) and pn.state.user is None:
    refusal_page(_remote).servable(title="botcore dashboard")
else:
    app_from_args().servable(title="botcore dashboard")
