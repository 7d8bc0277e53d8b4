"""LaTeX tools for Stage III: templates, BibTeX from retrieved papers, tables from
metrics, citation and anti-fabrication checks, and a compile that keeps the best PDF."""
from nanoresearch.latex.bib import bib_entry, bib_key, build_bib, verify_bib, write_bib
from nanoresearch.latex.checks import (CheckReport, Finding, check_citations, check_numbers,
                                       check_section, check_textual_refs, cited_keys)
from nanoresearch.latex.compile import (CompileResult, LatexError, check_tex_installation,
                                        compile_pdf, parse_log)
from nanoresearch.latex.escape import escape_latex, escape_model_text, strip_markdown
from nanoresearch.latex.evidence import EvidenceSet, build_evidence
from nanoresearch.latex.numbers import NumberMention, find_numbers
from nanoresearch.latex.render import FORMATS, VenueFormat, render_main
from nanoresearch.latex.tables import results_table

__all__ = [
    "bib_entry", "bib_key", "build_bib", "verify_bib", "write_bib", "CheckReport", "Finding",
    "check_citations", "check_numbers", "check_section", "check_textual_refs", "cited_keys",
    "CompileResult", "LatexError", "check_tex_installation", "compile_pdf", "parse_log",
    "escape_latex", "escape_model_text", "strip_markdown", "EvidenceSet", "build_evidence",
    "NumberMention", "find_numbers", "FORMATS", "VenueFormat", "render_main", "results_table",
]
