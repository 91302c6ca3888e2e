"""Systems under test, as the lab's instruments see them: faultlab's shop, or a system built to the guide's contract."""
