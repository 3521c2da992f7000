"""``aiperf simulate``: the real master (Ray Tune, the spec's searcher, the ledger, the scorer)
against a cluster of fake nodes whose trials sleep instead of training.

Each fake node is a raylet on its own loopback address holding logical GPUs; a trial sleeps for
what a cost model gives its proposal (analytic FLOPs ÷ a per-device throughput, plus a start-up
cost), compressed by the time scale, and reports as a real trial would, with an accuracy from a
synthetic landscape. The run directory is a normal one, marked simulated: never submittable.
"""
