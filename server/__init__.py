"""Inkstream: stream LLM answers from any OpenAI-compatible upstream into the browser."""

__version__ = "0.1.0"
