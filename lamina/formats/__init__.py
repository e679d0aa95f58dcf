"""Pure-Python streaming parsers of the raw source formats (no Beam)."""
