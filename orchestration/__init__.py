"""Dagster wiring: resources, assets, checks, sensors, schedules and jobs calling pipelines/."""
