#!/bin/sh
# Shared by both Dockerfiles: the base image's Python 3 in a venv at /opt/aiperf, and Open MPI
# (mpirun and the library mpi4py loads, for `aiperf netbench`). Works on Debian and Ubuntu bases.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3 python3-venv openmpi-bin >/dev/null
rm -rf /var/lib/apt/lists/*
python3 -m venv /opt/aiperf
