"""`python -m tipline` is the same as the `tipline` command."""

from tipline.cli import main

main()
