"""Mediation and rating pipeline: usage and service-quality events in, rated records, SLA credits
and invoices out, through one DuckDB/Parquet warehouse."""

import decimal
import os

__version__ = "0.1.0"

# numpy's OpenBLAS starts a pool of threads that spin while they wait for work (a replay of 1M
# events lost 0.1 CPU-s of its two cores to them); the pipeline does no linear algebra. Set
# before any module imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# Money and quantities have up to 38 digits (the warehouse's DECIMAL(38, s)); Python's default
# 28 would round a sum of them, or make `quantize` fail, silently changing an invoice. Every
# thread (the streaming worker's included) starts from DefaultContext.
decimal.DefaultContext.prec = 80
decimal.getcontext().prec = 80
