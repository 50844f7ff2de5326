"""The sandbox for user-written SQL, and rules evaluated in it.

:data:`SANDBOX_CONFIG` is the one DuckDB configuration for everything an analyst writes: the SQL
console (:mod:`._console`) and rules such as the current policy.

A rule runs as ``SELECT (<rule>) FROM population`` by DuckDB on an in-memory connection that
holds only the population frame, under that configuration. Before it
runs, DuckDB's own parser (``json_serialize_sql``) must find one statement whose only table is
the population: no other table, no table function such as ``read_csv``, no ``;`` or comments.
"""

from __future__ import annotations

import difflib
import json
import re
import threading

import duckdb
import numpy as np
import pandas as pd

from core.errors import QueryError, SchemaError

POLICY_TIMEOUT_S = 5.0
# DuckDB's "Securing DuckDB" settings, the one configuration for all user-written SQL: the SQL
# console (on the warehouse file, read-only) and policy rules (in memory, on a population)
SANDBOX_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "memory_limit": "2GB",
    "lock_configuration": True,
}
_POLICY_HELP = ("Write the current policy as a condition on the population's columns, e.g. "
                "age < 30 AND previous > 0.")


def sandbox_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection without file or network access, settings locked."""
    return duckdb.connect(":memory:", config=dict(SANDBOX_CONFIG))


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


# what a condition on a customer's columns needs: comparison, arithmetic and text operators,
# scalar functions of one value, and aggregates over the population (``age > (SELECT
# avg(age) FROM population)``); nothing that builds lists or long strings (``range``,
# ``repeat``, ``list_*``), whose memory DuckDB's limit does not cover
_OPERATORS = frozenset({"+", "-", "*", "/", "//", "%", "~~", "!~~", "~~*", "!~~*", "^", "**",
                        "||"})
RULE_FUNCTIONS = _OPERATORS | frozenset({
    "abs", "ceil", "floor", "round", "sign", "sqrt", "ln", "log", "log10", "exp", "greatest",
    "least", "lower", "upper", "length", "trim", "ltrim", "rtrim", "substring", "substr",
    "left", "right", "starts_with", "ends_with", "contains", "prefix", "suffix", "strpos",
    "regexp_matches", "coalesce", "ifnull", "nullif", "year", "month", "day", "dayofweek",
    "quarter", "date_part", "datediff", "date_diff", "current_date", "isnan", "isinf",
    "isfinite", "avg", "min", "max", "sum", "count", "count_star", "median", "quantile_cont",
    "stddev", "stddev_samp", "variance", "mode", "cast"})


# functions that build a whole list or string in one allocation, which DuckDB's memory limit does
# not cover (``len(range(300000000))`` took 15 GB): refused in the console too
MEMORY_UNSAFE = frozenset({"range", "generate_series", "repeat", "list_resize", "array_resize",
                           "lpad", "rpad", "list_value", "array_value", "list_repeat"})


def unsafe_functions(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """The :data:`MEMORY_UNSAFE` scalar functions a SELECT calls (empty when it parses to
    none, or is not a SELECT DuckDB can serialise, e.g. ``SHOW``)."""
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    if tree.get("error"):
        return []
    found: set[str] = set()
    _functions(tree.get("statements", []), found)
    return sorted(f for f in found if f.lower() in MEMORY_UNSAFE)


def _functions(node, found: set) -> None:
    """The scalar functions a parse tree calls (``FUNCTION`` nodes, operators included; a
    table function such as ``FROM range(5)`` streams its rows and is not counted, its
    arguments are)."""
    if isinstance(node, dict):
        if node.get("type") == "TABLE_FUNCTION":
            _functions((node.get("function") or {}).get("arguments", []), found)
            return
        if node.get("class") == "FUNCTION":
            found.add(str(node.get("function_name") or ""))
        for value in node.values():
            _functions(value, found)
    elif isinstance(node, list):
        for value in node:
            _functions(value, found)


def _validate_tree(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    if tree.get("error"):
        raise QueryError(f"The policy rule is not valid SQL: {tree.get('error_message', '')}. "
                         f"{_POLICY_HELP}")
    if len(tree["statements"]) != 1:
        raise QueryError(f"The policy rule must be a single condition. {_POLICY_HELP}")
    node = tree["statements"][0]["node"]
    if len(node.get("select_list") or []) != 1:
        raise QueryError(f"The policy rule must be one condition; it closes its brackets and "
                         f"adds more ({len(node.get('select_list') or [])} expressions). "
                         f"{_POLICY_HELP}")
    refs: list = []
    _refs(node, refs)
    bad = [name for name in refs if name.lower() not in ("population", "main.population")]
    if bad:
        raise QueryError(f"The policy rule may only use the population's columns; it refers to "
                         f"{', '.join(sorted(set(bad)))}. {_POLICY_HELP}")
    functions: set[str] = set()
    _functions(node, functions)
    unknown = sorted(f for f in functions if f.lower() not in RULE_FUNCTIONS)
    if unknown:
        raise QueryError(f"The policy rule uses {', '.join(unknown)}, which a condition on "
                         f"columns does not need (functions that build lists or long texts can "
                         f"exhaust memory). Allowed functions: "
                         f"{', '.join(sorted(RULE_FUNCTIONS - _OPERATORS))}. {_POLICY_HELP}")


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


def sql_column_names(columns, original_names: dict | None = None, limit: int = 80) -> str:
    """Columns as an SQL rule must spell them, with the file's header where it differs.

    Args:
        columns: The population's column names (clean SQL names).
        original_names: Clean name → the header of the analyst's file.
        limit: Names listed before "and N more".

    Returns:
        E.g. ``"age, emp_var_rate (file header: emp.var.rate)"``.
    """
    names = [f"{c} (file header: {original_names[c]})"
             if (original_names or {}).get(c, c) != c else str(c) for c in columns]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


class PolicyRuleError(SchemaError):
    """The current-policy rule has a mistake (syntax, an unknown column, not true/false)."""

    default_title = "The current-policy rule has a mistake"


_MISTAKES = (duckdb.BinderException, duckdb.CatalogException, duckdb.ParserException,
             duckdb.ConversionException, duckdb.InvalidInputException,
             duckdb.OutOfRangeException)


def policy_rule_mask(frame: pd.DataFrame, rule: str,
                     original_names: dict | None = None) -> np.ndarray:
    """Evaluate the current-policy rule on a population, telling mistakes from refusals.

    Args:
        frame: The population's columns, shape (n_customers, n_columns).
        rule: An SQL boolean expression over them, e.g. ``age < 30 AND previous > 0``.
        original_names: Clean column name → the file's header, for hints such as "write
            emp_var_rate for the file's header emp.var.rate".

    Returns:
        A bool array of shape (n_customers,), as :func:`policy_mask`.

    Raises:
        PolicyRuleError: Invalid SQL, an unknown column or function, or values that are not
            true/false; the message lists the columns in their SQL spelling.
        QueryError: A refusal: the rule reads anything but the population's columns (files,
            other tables), holds ``;`` or comments, or runs too long.
    """
    try:
        return policy_mask(frame, rule)
    except QueryError as err:
        text = str(err)
        mistake = isinstance(err.__cause__, _MISTAKES) or text.startswith(
            "The policy rule is not valid SQL") or "not true/false" in text
        if not mistake:  # anything not known to be a slip stays a refusal
            raise
        raise PolicyRuleError(_mistake_text(list(frame.columns), rule, err,
                                            original_names or {})) from err


def _mistake_text(columns: list, rule: str, err: QueryError, originals: dict) -> str:
    cause = err.__cause__
    if cause is not None:
        what = f"could not be evaluated: {str(cause).strip().splitlines()[0].rstrip('.!')}"
    else:  # core.warehouse's own checks: "is not valid SQL: …", "gives … values, not true/false"
        what = str(err).split(". Write the current policy")[0].removeprefix("The policy rule ")
    hints = [f"write {clean} for the file's header {orig}" for clean, orig in originals.items()
             if orig != clean and clean in columns and orig in rule]
    unknown = re.search(r'Referenced (?:column|table) "([^"]+)" not found', what)
    if unknown and not hints:
        by_name = {str(c).lower(): str(c) for c in columns}
        by_name.update({o.lower(): c for c, o in originals.items() if c in columns})
        close = list(dict.fromkeys(by_name[c] for c in difflib.get_close_matches(
            unknown.group(1).lower(), list(by_name), 3, 0.6)))
        if close:
            hints.append(f"the closest column name{'s are' if len(close) > 1 else ' is'} "
                         f"{', '.join(close)}")
    hint = f" Hint: {'; '.join(dict.fromkeys(hints))}." if hints else ""
    return (f"The rule `{rule}` {what.rstrip('.')}.{hint} Write a condition on the "
            f"population's columns, e.g. age < 30 AND previous > 0. Their SQL names: "
            f"{sql_column_names(columns, originals)}.")
