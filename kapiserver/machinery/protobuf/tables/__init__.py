"""Message tables of the generated.proto files, one module per proto package (written by _generate.py)."""
