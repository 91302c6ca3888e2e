"""The instruments: load generator, experiment runner, checkers and reports."""
