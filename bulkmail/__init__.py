"""The command-line tool and the local runner (python -m bulkmail ...)."""
