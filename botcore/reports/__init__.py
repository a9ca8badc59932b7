"""Reports over a ledger: the 7-day review, the cycle report and their formatting.

Reports stand above both :mod:`botcore.analytics` (metrics, the decision
trail, red flags) and :mod:`botcore.learning` (the learning history they
show), and below the command line and the notebooks that render them.

Modules
-------
``review``  load a ledger window and build the whole :class:`~botcore.reports.review.Review`
            (``ledger_summary`` for a whole run)
``cycle``   one decision cycle explained (the cycle report)
``format``     formatting helpers of the report notebooks (banners, ratios, tables)
``tearsheet``  benchmarks, daily and monthly returns, rolling Sharpe, drawdowns, trade distribution
"""
