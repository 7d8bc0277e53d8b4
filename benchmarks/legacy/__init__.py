"""The hand-written implementations that issue 19 replaced with the field's libraries,
kept only as the "before" of the benchmarks (`benchmarks/retrieval_literature.py`,
`benchmarks/llm_engines.py --structured`) so before/after run on the same box in one
run. Nothing in the product imports them."""
