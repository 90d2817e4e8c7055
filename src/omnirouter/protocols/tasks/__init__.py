"""Wire formats of asynchronous task APIs (video vendors, Suno and Midjourney's proxy): pure codecs,
one module per vendor or client dialect, each used both ways where both sides exist.  ``base.py`` holds
the contracts the task engine (``tasks/``) calls."""
