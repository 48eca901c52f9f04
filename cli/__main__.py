"""`python -m cli ...` runs the `sangsaeng` command (how tests and the stack start it)."""

from cli.main import main

main()
