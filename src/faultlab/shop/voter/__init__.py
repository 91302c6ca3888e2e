"""Voter: majority vote by value at equal log positions."""
