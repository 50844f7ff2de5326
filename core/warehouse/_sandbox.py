"""The current policy written as a rule: an SQL boolean expression, evaluated in a sandbox.

The rule runs as ``SELECT (<rule>) FROM population`` by DuckDB on an in-memory connection that
holds only the population frame, with external access disabled and the configuration locked
(DuckDB's "Securing DuckDB" settings, as :mod:`core.warehouse` uses for the SQL console). Before it
runs, DuckDB's own parser (``json_serialize_sql``) must find one statement whose only table is
the population: no other table, no table function such as ``read_csv``, no ``;`` or comments.
"""

from __future__ import annotations

import json
import threading

import duckdb
import numpy as np
import pandas as pd

from core.errors import QueryError

POLICY_TIMEOUT_S = 5.0
_SANDBOX = {"enable_external_access": False, "autoinstall_known_extensions": False,
            "autoload_known_extensions": False, "lock_configuration": True}
_POLICY_HELP = ("Write the current policy as a condition on the population's columns, e.g. "
                "age < 30 AND previous > 0.")


def sandbox_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection without file or network access, settings locked."""
    return duckdb.connect(":memory:", config=dict(_SANDBOX))


def _check_predicate(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise QueryError(f"The policy rule is empty. {_POLICY_HELP}")
    if ";" in text or "--" in text or "/*" in text:
        raise QueryError(f"The policy rule must be one condition, without ';' or comments. "
                         f"{_POLICY_HELP}")
    return text


def _refs(node, found: list) -> None:
    """Collect the tables and table functions a DuckDB parse tree (``json_serialize_sql``) reads."""
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE":
            found.append(".".join(str(node.get(k) or "") for k in
                                  ("catalog_name", "schema_name", "table_name")).strip("."))
        elif node.get("type") == "TABLE_FUNCTION":
            found.append(f"{(node.get('function') or {}).get('function_name', 'a function')}()")
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _validate_tree(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    if tree.get("error"):
        raise QueryError(f"The policy rule is not valid SQL: {tree.get('error_message', '')}. "
                         f"{_POLICY_HELP}")
    if len(tree["statements"]) != 1:
        raise QueryError(f"The policy rule must be a single condition. {_POLICY_HELP}")
    refs: list = []
    _refs(tree["statements"][0]["node"], refs)
    bad = [name for name in refs if name.lower() not in ("population", "main.population")]
    if bad:
        raise QueryError(f"The policy rule may only use the population's columns; it refers to "
                         f"{', '.join(sorted(set(bad)))}. {_POLICY_HELP}")


def policy_mask(frame: pd.DataFrame, predicate: str,
                timeout_s: float = POLICY_TIMEOUT_S) -> np.ndarray:
    """Evaluate the current policy's rule on every customer of a population.

    The rule runs as ``SELECT (<rule>) FROM population`` on an in-memory DuckDB connection that
    holds only ``frame`` (as ``population``), with external access disabled and the
    configuration locked; it must be one boolean expression (subqueries may read the population
    only), and a timer stops it after ``timeout_s``. NULL counts as false.

    Args:
        frame: The population's columns, shape (n_customers, n_columns).
        predicate: An SQL boolean expression, e.g. ``age < 30 AND previous > 0``.
        timeout_s: Seconds before the evaluation is interrupted.

    Returns:
        A bool array of shape (n_customers,): True where the policy contacts the customer.

    Raises:
        QueryError: Not a single boolean expression, refers to anything but the population's
            columns, touches files, runs too long, or fails in DuckDB.
    """
    text = _check_predicate(predicate)
    sql = f"SELECT ({text}) AS __policy FROM population"
    con = sandbox_connection()
    timer = threading.Timer(timeout_s, con.interrupt)
    try:
        _validate_tree(con, sql)
        con.register("population", frame)
        timer.start()
        cur = con.execute(sql)
        kind = str(cur.description[0][1])
        if kind.upper() != "BOOLEAN":
            raise QueryError(f"The policy rule gives {kind.lower()} values, not true/false. "
                             f"{_POLICY_HELP}")
        values = cur.fetchnumpy()["__policy"]
    except duckdb.InterruptException as err:
        raise QueryError(f"The policy rule ran longer than {timeout_s:g} s; simplify it.") from err
    except duckdb.Error as err:
        first = str(err).strip().splitlines()[0].rstrip(".")
        raise QueryError(f"The policy rule failed: {first}. {_POLICY_HELP}") from err
    finally:
        timer.cancel()
        con.close()
    return np.asarray(pd.Series(values).fillna(False).astype(bool))
