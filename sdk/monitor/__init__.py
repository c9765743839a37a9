"""Monitoring: interaction events, detectors (plugins) and alerts."""
