"""Mediation and rating pipeline: usage and service-quality events in, rated records, SLA credits
and invoices out, through one DuckDB/Parquet warehouse."""

import decimal

__version__ = "0.1.0"

# Money and quantities have up to 38 digits (the warehouse's DECIMAL(38, s)); Python's default
# 28 would round a sum of them, or make `quantize` fail, silently changing an invoice. Every
# thread (the streaming worker's included) starts from DefaultContext.
decimal.DefaultContext.prec = 80
decimal.getcontext().prec = 80
