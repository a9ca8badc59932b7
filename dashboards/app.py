"""The botcore dashboard for ``panel serve`` (``botcore dashboard`` serves the same app).

    panel serve dashboards/app.py --port 5000 --plugins botcore.dashboard.app --args --ledger var/ledger.sqlite

The ledger comes from ``--args --ledger PATH`` (optionally ``--config DIR``), else
``$BOTCORE_LEDGER``, else ``var/ledger.sqlite``; ``--plugins botcore.dashboard.app``
adds the ``/health`` JSON endpoint. ``panel serve`` binds where it is told: a
browser that is not on localhost gets a refusal unless Panel authentication
(``--basic-auth`` or OAuth) is configured.
"""

import panel as pn

from botcore.dashboard.app import servable_app

pn.extension("tabulator")

servable_app().servable(title="botcore dashboard")
