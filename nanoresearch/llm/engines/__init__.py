"""Embedded model engines, one `LLM` subclass each, imported lazily by
`nanoresearch.llm.embedded` so a missing optional engine costs nothing:

- `llama_cpp_engine.LlamaCppLLM`    llama-cpp-python on a GGUF (fast CPU default; extra `llama`)
- `transformers_engine.TransformersLLM`  transformers on an HF dir (the planner/LoRA base)
- `vllm_engine.VLLMEngineLLM`       vLLM offline engine (extra `gpu`, or `cpu-serving`)
- `hf_convert.ensure_hf_model`      one-time GGUF -> HF conversion with a checksum
"""
