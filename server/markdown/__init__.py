"""The incremental markdown renderer: the answer's text so far -> typed operations on the
page's blocks (pure: no I/O, no clock, no event loop).

May import: the standard library, markdown-it-py, mdit-py-plugins, Pygments, and nothing else
of Inkstream's (not even errors or settings). Exports ``Markdown`` (the one configuration
every render goes through) and ``StreamRenderer`` (``feed``/``update``/``finish``).
"""

from .document import StreamRenderer
from .engine import Markdown

__all__ = ["Markdown", "StreamRenderer"]
