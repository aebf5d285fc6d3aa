"""`python -m bulkmail ...`: the command-line tool (bulkmail/cli.py)."""

from bulkmail.cli import main

if __name__ == "__main__":
    main()
