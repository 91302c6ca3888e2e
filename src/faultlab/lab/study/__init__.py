"""The detector study: record the monitor's observations on the real lab, replay them through every detector and a
grid of its parameters, and draw detection time against false alarms (`faultlab study detectors`)."""
