"""Mapping expressions and ``@pipe`` (spec 2.8 to 2.10). PLACEHOLDER: being implemented.

Public contract (used by the compiler and the engine):

- ``UNDEFINED``: the JavaScript ``undefined`` (a missing path). Mapped keys resolving to it are dropped.
- ``resolve(value, context)``: evaluate one mapping value.
- ``map_rules(rules, context)``: resolve every key of a dict of rules; drop UNDEFINED results.
- ``scan(value)``: the references and function names a value uses (compiler, at plan time).
- ``check(value)``: raise ``PipeError`` for unknown functions or malformed pipes (plan time).
- ``FUNCTIONS``: the explicit registry ``{namespace: {name: callable}}``.
"""
