"""Presentation only: what ``aiperf.score`` computed, shown to people and written as files.

``format`` (the one set of number formatters and headline numbers), ``console`` (the live line,
the result table, sysinfo/flops/netbench tables), ``tables`` (trials.csv, timeline.csv),
``plots``, ``html`` (report.html), ``markdown`` (summary.md), ``mllog`` (mllog.txt through
mlperf-logging), ``compare`` (the comparison's table, CSV and plot), ``outputs`` and ``build``
(writing a run directory's derived files). Nothing below this layer imports it.
"""
