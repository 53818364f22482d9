"""Mediation and rating pipeline: usage and service-quality events in, rated records, SLA credits
and invoices out, through one DuckDB/Parquet warehouse."""

__version__ = "0.1.0"
