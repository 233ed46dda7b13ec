"""dldeck: verified deep-learning cards compiled to Anki decks and cheat sheets."""

__version__ = "0.1.0"
