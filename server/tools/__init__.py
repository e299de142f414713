"""The tools a model may call: built-in ones, Python functions named in settings, MCP servers."""
