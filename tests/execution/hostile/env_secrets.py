import os
from _common import escaped
for k, v in os.environ.items():
    if "sk-fake" in v or "CANARY" in v or k in ("OPENAI_API_KEY", "HF_TOKEN", "ANTHROPIC_API_KEY"):
        escaped(f"saw {k}={v}")
print("env names:", sorted(os.environ))
