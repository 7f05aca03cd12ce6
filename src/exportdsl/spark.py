"""Screening on Apache Spark: the SQL backend's query, rendered for Spark SQL, over a DataFrame.

``exportdsl.spark.evaluate(policy, dataframe)`` returns the DataFrame's valid rows with ``decision``
and ``rules``, and a DataFrame of rejected facts (row, fact, value, code). pyspark is the ``spark``
extra; it and a Java runtime are needed only when this module is used.
"""

from __future__ import annotations

from .errors import Diagnostic, UsageError


def _pyspark():
    try:
        import pyspark.sql
    except ImportError:
        raise UsageError(Diagnostic("E413", "the Spark engine needs pyspark",
                                    help="pip install 'exportdsl[spark]' (and a Java 17 runtime)")) from None
    return pyspark.sql


def screen_file(policy, source, output, errors, *, keep=None, rules=True, as_of=None):
    """Screen a ledger file on a local Spark session (see :func:`evaluate`)."""
    _pyspark()
    raise UsageError(Diagnostic("E413", "the Spark engine is not available in this build yet"))
