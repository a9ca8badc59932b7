"""Market data: the Parquet store, snapshots, the sample market, replay, importers.

See :mod:`botcore.market.store` for the on-disk layout and the schema of every kind.
"""
