# the server's token file: writing it would mint an admin token
import json
from _common import PARAMS, attempt
path = PARAMS["api_tokens"]
attempt("read api_tokens.json", lambda: open(path).read())
attempt("overwrite api_tokens.json",
        lambda: open(path, "w").write(json.dumps({"attacker": {"admin": True}})))
