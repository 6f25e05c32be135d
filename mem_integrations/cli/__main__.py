"""`python -m mem_integrations.cli ...` = `mem-integrations ...`."""

from mem_integrations.cli import main

main()
