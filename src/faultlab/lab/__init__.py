"""The lab's instruments: load, faults, experiment, checkers, reports, dashboard and study, outside the system under test."""
