"""Stage II for capable models, as pure Python: the coding mode a model's capability
allows (`capability`), the harness contract its code is held to (`contract`), the
failure classes of the debug loop (`contract.failure_class`) and the best-first tree
search over code drafts (`search`). Ray appears only in `actors/ray_code_search.py`."""
