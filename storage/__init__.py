"""Storage: skill bank, memory module, user profiles, project registry, adapter registry.

    service.py      StoreService + open_store(settings): the one entry point
    ray_store.py    the embedded store's single owner as a Ray actor; connect_store()
    skills.py       SkillBank: scoped procedural rules, usage-weighted retrieval
    memory.py       MemoryModule: per-user records with strict condition matching
    scoring.py      RetrievalWeights and THE retrieval formula (one docstring)
    bank.py         shared add/merge/cap/JSONL machinery
    reflection.py   Reflector: trajectory -> skill and memory candidates
    profiles.py     versioned user profiles and the questionnaire (QUESTIONS)
    projects.py     project_id -> owner/title/status registry
    vector_store.py backend-neutral filters and the VectorStore interface
    edge_store.py   Qdrant Edge backend (embedded default)
    client_store.py qdrant-client backend (server URL, local path, :memory:)
    adapters.py     per-user planner adapter registry

Importing this package imports no engine; backends load when a store is opened.
"""
