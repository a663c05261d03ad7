"""The gnt-* command line tools, one module per tool."""
