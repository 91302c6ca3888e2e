"""faultlab: a fault-tolerance lab — a replicated shop plus the instruments to break it and measure it."""

__version__ = "0.5.0"
