"""aiperf: an AutoML benchmark for AI-HPC machines.

A master schedules NAS + HPO trials over Ray; every trial trains a text classifier; an analytic
FLOPs count and wall-clock timing give the machine's FLOPS and a regulated score.
"""

__version__ = "0.1.0"
