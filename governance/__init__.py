"""Parties and their rules: organisations, sites, lines, parts and API keys.

Below the stages: `connectors/` (onboarding, the gateway's keys), `pipelines/`
(validation reads the reference data) and later `serving/` all read and write the
parties through this package, so there is one organisation record per supplier, buyer
and operator. It imports no stage.
"""
