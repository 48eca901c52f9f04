"""The `sangsaeng` command: one module per command group, wiring settings to the stages.

The top floor of the house: it imports every stage and holds no logic of its own
(what a command does lives in the stage it names); `output` prints, `platform` opens
the settings and the database.
"""
