"""Prometheus metrics: per-process counters merged across processes, and gauges read from
the catalogue at scrape time (``GET /metrics``).

The package's modules are imported on their own (services import only ``counters``), so
this file stays empty of imports.
"""
