"""Literature search: the offline arXiv library, the user's own library and the
OpenAlex / arXiv / Semantic Scholar APIs behind one fallback-chain facade."""
from nanoresearch.literature.http_base import CircuitBreaker, MalformedResponse, ResponseCache
from nanoresearch.literature.http_sources import (ArxivSource, OpenAlexSource,
                                                  SemanticScholarSource)
from nanoresearch.literature.local import LocalLibrary
from nanoresearch.literature.search import LiteratureSearch, make_literature, run_sync
from nanoresearch.literature.userlib import UserLibrary, load_user_library

__all__ = ["ArxivSource", "CircuitBreaker", "LiteratureSearch", "LocalLibrary",
           "MalformedResponse", "OpenAlexSource", "ResponseCache", "SemanticScholarSource",
           "UserLibrary", "load_user_library", "make_literature", "run_sync"]
