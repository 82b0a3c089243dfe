"""Channel- and duration-aware fusion: fit the fused model's weights and calibration by condition,
and measure them by cross-validation over held-out speakers.

    python benchmarks/conditions.py --out benchmarks/results/conditions.json
    python benchmarks/conditions.py --out benchmarks/results/conditions.json --write weights

A clip's condition (speakerid.models.quality) is its band, telephone or wide, read from its own
features, and its seconds of speech: up to 4.24 s, up to 8.49 s or longer (the calibration's
bands). For each condition the ECAPA port's weight is chosen on a grid 0, 0.1, ..., 1 by the
minCllr of the trials whose probe is in that condition (against whole recordings of the same
band); the ECAPA port alone (weight 1) is kept unless another weight lowers it by 5 % or more.

Cross-validation: the held-out speakers (benchmarks/split.json and the 26 calibration speakers
named by weights/fast/config.json; none trained the ResNet, the ECAPA port never heard them) are
dealt into 5 folds within each corpus. For each pair of folds (and each fold with itself) the
table, and the calibration (whole recordings, and 3, 6 and 12 s probes), are fitted on the other
folds' speakers and the trials between the pair's speakers are scored: no trial is scored by a
fit that saw either of its speakers. Three systems go through the same fits: the ECAPA port alone
(with its own cohort), the fixed 0.6/0.4 fusion shipped before, and the condition-aware one.

Figures per condition (Hyke telephone and LibriSpeech studio, whole recordings and 3 s crops, all
pairs of items as in benchmark.py), pooled over the fits' calibrated likelihood ratios: EER,
minDCF, Cllr and minCllr, with 95 % intervals from bootstrap resamples of speakers, and the Cllr of
the ratios as the app states them (limited to what each calibration's trials support); open-set
identification on each pair of folds (every other speaker enrolled from one recording, each probe
judged by the threshold for its length and the gallery's size); and the gallery calibration refit
(speakerid.gallery.calibration) on galleries of 12 held-out speakers enrolled in random orders,
against the model's calibration fitted on other speakers, both judged on speakers of neither.

``--write DIR`` then fits the table and calibration on all the held-out speakers and stores them
in the fused model DIR (config.json's fusion.conditions and its provenance, calibration.json).
Member embeddings are computed once and cached (``--cache``). ``--smoke``: the same on synthetic
voices and a tiny untrained fusion, in seconds; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from smoke import HELP as SMOKE_HELP  # noqa: E402
from smoke import output, synthetic_corpus, tiny_model  # noqa: E402

from speakerid.datasets import discover  # noqa: E402
from speakerid.gallery.calibration import clip_trials, refit_from_trials, refusal  # noqa: E402
from speakerid.models.fusion import FusedEncoder, MemberWeightedNormaliser, fuse  # noqa: E402
from speakerid.models.quality import (  # noqa: E402
    NARROWBAND_BELOW_DB,
    Condition,
    ConditionTable,
    ConditionWeights,
    high_band_db,
)
from speakerid.scoring import Calibration, score_matrix  # noqa: E402
from speakerid.training.evaluate import (  # noqa: E402
    CALIBRATION_PROBES_S,
    TestItem,
    _centre_crop,
    _prepared_items,
    bands_from_probes,
    calibrate,
    same_corpus,
)
from speakerid.training.metrics import cllr, equal_error_rate, min_cllr, min_dcf, pair_scores  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CORPORA = {"hyke": "hyke-phone-india", "librispeech": "librispeech-clean-251"}
CROPS = (0.0, *CALIBRATION_PROBES_S)  # 0: the whole recording
# Seconds of speech up to which each row of a band's weights serves (None: any). One row per band:
# weights by band and length (rows up to 4.24 and 8.49 s, the calibration's bands) did worse under
# cross-validation (LibriSpeech 3 s EER 3.22 % against 1.64 % for the ECAPA port alone, README),
# because a fused cosine between clips of different weights keeps only the members both weigh: a
# 3 s probe fused with the ResNet against an enrolment weighted on the ECAPA alone loses the ResNet.
# Length is left to the calibration, which has a band for each.
LIMITS: tuple[float | None, ...] = (None,)
GRID = np.round(np.linspace(0, 1, 11), 2)  # the ECAPA port's weight
DEFAULT = (0.6, 0.4)  # the fixed fusion shipped before
MARGIN = 0.05  # the share of minCllr a fused weight must save over the ECAPA port alone
FOLDS, BOOTSTRAPS, GALLERY_DRAWS, GALLERY_SPEAKERS = 5, 1000, 24, 6  # GALLERY_SPEAKERS per corpus


@dataclass
class Clips:
    """Cached member embeddings of every recording and crop of the held-out speakers."""

    speaker: np.ndarray  # "corpus/name"
    name: np.ndarray  # the recording
    crop: np.ndarray  # seconds of the centre crop, 0 for the whole recording
    units: list[np.ndarray]  # one (clips, dim) array of unit vectors per member
    speech_s: np.ndarray
    high_db: np.ndarray  # speakerid.models.quality.high_band_db of the first member's features

    @property
    def narrow(self) -> np.ndarray:
        return self.high_db < NARROWBAND_BELOW_DB

    def where(self, mask: np.ndarray) -> Clips:
        return Clips(self.speaker[mask], self.name[mask], self.crop[mask], [u[mask] for u in self.units],
                     self.speech_s[mask], self.high_db[mask])

    def of(self, speakers) -> Clips:
        return self.where(np.isin(self.speaker, list(speakers)))

    def in_corpus(self, corpus: str) -> np.ndarray:
        return np.char.startswith(self.speaker.astype(str), corpus + "/")

    def weights(self, table: ConditionTable) -> np.ndarray:
        rows = [table.weights(Condition(bool(n), float(s))) for n, s in zip(self.narrow, self.speech_s)]
        return np.array(rows).reshape(len(self.speaker), len(self.units))

    def vectors(self, table: ConditionTable) -> np.ndarray:
        return fuse(self.units, self.weights(table))

    def items(self, table: ConditionTable) -> list[TestItem]:
        vectors = self.vectors(table)
        return [TestItem(s, n, v, t) for s, n, v, t in zip(self.speaker, self.name, vectors, self.speech_s)]


def embed_clips(model: FusedEncoder, speakers: list[str], data: Path, cache: Path) -> Clips:
    """Every recording of ``speakers`` ("corpus/name") and its centre crops, embedded by each member
    once (the fused vector's pieces, made unit), cached in ``cache`` under the members' ids."""
    key = "-".join(m.encoder_id for m in model.members)
    path = cache / f"clips-{key}.npz"
    if path.is_file():
        stored = np.load(path)
        clips = Clips(stored["speaker"], stored["name"], stored["crop"],
                      [stored[f"member{k}"] for k in range(len(model.members))], stored["speech_s"],
                      stored["high_db"])
        if set(speakers) <= set(clips.speaker.tolist()):
            return clips.of(speakers)
    rows: dict[str, list] = {k: [] for k in ("speaker", "name", "crop", "speech_s", "high_db")}
    units: list[list[np.ndarray]] = [[] for _ in model.members]
    first = model.members[0].pipeline.features
    dims = np.cumsum([0] + [m.model_config.embedding_dim for m in model.members])
    for speaker in speakers:
        corpus, bare = speaker.split("/")
        source = next(s for s in discover(data / corpus) if s.name == bare)
        for name, prepared in _prepared_items(model, source):
            for crop in CROPS:
                clip = prepared if crop == 0 else _centre_crop(prepared, crop)
                features = model.features(clip)
                vector = model.embed_features(features)
                for k, (low, high) in enumerate(zip(dims, dims[1:])):
                    units[k].append(vector[low:high] / np.linalg.norm(vector[low:high]))
                rows["speaker"].append(speaker)
                rows["name"].append(name)
                rows["crop"].append(crop)
                rows["speech_s"].append(clip.speech_s)
                rows["high_db"].append(high_band_db(features[:, :first.n_mels], first))
    arrays = {k: np.array(v) for k, v in rows.items()}
    arrays |= {f"member{k}": np.array(u) for k, u in enumerate(units)}
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return embed_clips(model, speakers, data, cache)


class Scorer:
    """AS-norm scores of fused vectors against a cohort met at each clip's weights (as the model
    scores them), or raw cosines without a cohort."""

    metric = "cosine"

    def __init__(self, cohort: np.ndarray | None, dims: np.ndarray) -> None:
        self.normaliser = None if cohort is None else MemberWeightedNormaliser(cohort, dims)

    def score_matrix(self, a, b, b_statistics=None, a_statistics=None) -> np.ndarray:
        raw = score_matrix(a, b, "cosine")
        if self.normaliser is None:
            return raw
        return self.normaliser.normalise(raw, a, b, b_statistics, a_statistics)

    def cohort_statistics(self, embeddings: np.ndarray):
        return None if self.normaliser is None else self.normaliser.statistics(embeddings)


# --- fitting -----------------------------------------------------------------------------------
def table_of(ecapa_weights: dict[tuple[bool, float | None], float]) -> ConditionTable:
    return ConditionTable([ConditionWeights(narrow, up_to, (w, round(1 - w, 2)))
                           for (narrow, up_to), w in ecapa_weights.items()])


def fixed_table(ecapa_weight: float) -> ConditionTable:
    return table_of({(narrow, None): ecapa_weight for narrow in (False, True)})


def condition_mask(clips: Clips, narrow: bool, up_to: float | None) -> np.ndarray:
    lower = ([0.0, *LIMITS[:-1]])[LIMITS.index(up_to)]
    upper = np.inf if up_to is None else up_to
    return (clips.narrow == narrow) & (clips.speech_s > lower) & (clips.speech_s <= upper)


def probe_scores(scorer: Scorer, clips: Clips, table: ConditionTable, probes: np.ndarray,
                 enrolled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores and same-speaker labels of the ``probes`` clips against the ``enrolled`` ones, leaving
    out a recording against itself and different speakers of different corpora."""
    vectors = clips.vectors(table)
    matrix = scorer.score_matrix(vectors[probes], vectors[enrolled])
    ps, es = clips.speaker[probes][:, None], clips.speaker[enrolled][None, :]
    same = ps == es
    valid = ~(same & (clips.name[probes][:, None] == clips.name[enrolled][None, :]))
    valid &= same | same_corpus(ps, es)
    return matrix[valid], np.broadcast_to(same, valid.shape)[valid]


def fit_table(scorer: Scorer, clips: Clips, sweeps: int = 2) -> tuple[ConditionTable, dict]:
    """The ECAPA port's weight per condition, by coordinate descent over the conditions (longest
    first: they are the enrolment side of the shorter ones), each on the minCllr of its own probes
    against whole recordings of the same band. minCllr weighs every trial (the EER of a few hundred
    same-speaker trials moves by whole trials, and chases noise); a weight other than the ECAPA
    port's alone is taken only where it lowers minCllr by :data:`MARGIN` or more."""
    cells = [(narrow, up_to) for narrow in (False, True) for up_to in reversed(LIMITS)]
    chosen = {cell: 1.0 for cell in cells}
    eers: dict[str, dict] = {}
    for _ in range(sweeps):
        for narrow, up_to in cells:
            probes = condition_mask(clips, narrow, up_to)
            enrolled = (clips.crop == 0) & (clips.narrow == narrow)
            if not probes.any() or not enrolled.any():
                continue
            results = []
            for w in GRID:
                trial = table_of({**chosen, (narrow, up_to): float(w)})
                scores, same = probe_scores(scorer, clips, trial, probes, enrolled)
                if same.all() or not same.any():
                    break
                results.append((min_cllr(scores, same), equal_error_rate(scores, same)[0], float(w)))
            if results:
                alone = results[-1]
                best = min(results)
                if best[0] > (1 - MARGIN) * alone[0]:
                    best = alone
                chosen[(narrow, up_to)] = best[2]
                eers[f"{'narrow' if narrow else 'wide'} up to {up_to or 'any'} s"] = {
                    "ecapa_weight": best[2], "min_cllr": best[0], "eer": best[1],
                    "min_cllr_ecapa_alone": alone[0], "eer_ecapa_alone": alone[1]}
    return table_of(chosen), eers


def fit_calibration(scorer: Scorer, clips: Clips, table: ConditionTable, description: str) -> Calibration:
    """As ``python -m speakerid calibrate``: whole recordings, then 3, 6 and 12 s probes against them."""
    whole = clips.where(clips.crop == 0).items(table)
    probes = {crop: clips.where(clips.crop == crop).items(table) for crop in CALIBRATION_PROBES_S}
    return dataclasses.replace(calibrate(whole, scorer, description),
                               bands=bands_from_probes(scorer, probes, whole, description))


@dataclass
class Fitted:
    table: ConditionTable
    calibration: Calibration  # fitted on both bands' trials
    search: dict
    by_band: dict[bool, Calibration] | None = None  # narrowband or not: each band's own

    def calibration_for(self, narrow: bool) -> Calibration:
        return self.calibration if self.by_band is None else self.by_band[narrow]


def fit(system: str, scorer: Scorer, clips: Clips, description: str = "held-out speakers") -> Fitted:
    """``ecapa``: the port alone; ``fixed``: the 0.6/0.4 fusion; ``conditions``: weights by band;
    ``conditions+band``: those, and a calibration per band."""
    if system == "ecapa":
        table, search = fixed_table(1.0), {}
    elif system == "fixed":
        table, search = fixed_table(DEFAULT[0]), {}
    else:
        table, search = fit_table(scorer, clips)
    fitted = Fitted(table, fit_calibration(scorer, clips, table, description), search)
    if system == "conditions+band" and all(len(set(clips.speaker[clips.narrow == b])) >= 2
                                           for b in (False, True)):
        fitted.by_band = {b: fit_calibration(scorer, clips.where(clips.narrow == b), table,
                                             f"{description}, {'telephone' if b else 'wide'}band clips")
                          for b in (False, True)}
    return fitted


# --- measuring ---------------------------------------------------------------------------------
def folds(speakers: list[str], count: int) -> list[list[str]]:
    """Speakers dealt into ``count`` folds within each corpus (seed 0)."""
    rng = np.random.default_rng(0)
    dealt: list[list[str]] = [[] for _ in range(count)]
    for corpus in sorted({s.split("/")[0] for s in speakers}):
        names = sorted(s for s in speakers if s.startswith(corpus + "/"))
        for k, name in enumerate(rng.permutation(names)):
            dealt[k % count].append(str(name))
    return dealt


def condition_trials(scorer: Scorer, clips: Clips, fitted: Fitted) -> dict[str, dict]:
    """Per condition, all pairs of the clips' items: calibrated natural-log LRs, labels, speakers;
    ``stated_llr``, the LRs the app and the evidence report state (limited to what the calibration's
    trials support, Calibration.supported_log10_lr)."""
    trials = {}
    for short, corpus in CORPORA.items():
        for crop, label in ((0.0, "full"), (3.0, "3s")):
            part = clips.where((clips.crop == crop) & clips.in_corpus(corpus))
            vectors = part.vectors(fitted.table)
            rows, cols = np.triu_indices(len(vectors), k=1)
            scores, same = pair_scores(scorer.score_matrix(vectors, vectors), part.speaker)
            llr, stated = probe_ratios(fitted, part, rows, scores)
            trials[f"{short}/{label}"] = {"llr": llr, "stated_llr": stated, "same": same,
                                          "a": part.speaker[rows], "b": part.speaker[cols]}
    return trials


def probe_ratios(fitted: Fitted, part: Clips, probes: np.ndarray,
                 scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Natural-log LRs of trials whose first clips are ``part``'s items ``probes``, unlimited and as
    stated: each by the calibration a probe like that first clip gets, for its band and its seconds
    of speech (as the app and open_set pick it). Before 2026-12-07 every uncropped item got the
    full-length calibration, though an uncropped LibriSpeech item is half of one utterance of
    1.6-17 s (0.8-8.6 s of audio), and most Hyke calls hold 18 s of speech or less (median 11.5 s)."""
    llr, stated = np.empty(len(scores)), np.empty(len(scores))
    for item in np.unique(probes):
        trial = probes == item
        calibration = fitted.calibration_for(bool(part.narrow[item])).for_duration(float(part.speech_s[item]))
        llr[trial] = calibration.log10_lr(scores[trial]) * np.log(10)
        stated[trial] = calibration.supported_log10_lr(scores[trial]) * np.log(10)
    return llr, stated


def open_set(scorer: Scorer, clips: Clips, fitted: Fitted) -> dict[str, dict]:
    """As benchmark.open_set, on ``clips`` of speakers none of whom ``fitted`` was fitted on: every
    other speaker of a corpus enrolled from its first whole recording; probes, the other
    recordings (or their 3 s crops) and every recording of the speakers left out, each judged by
    the threshold for its length and the gallery's size. Counts, to be summed over runs."""
    results = {}
    for short, corpus in CORPORA.items():
        in_corpus = clips.where(clips.in_corpus(corpus))
        gallery = sorted(set(in_corpus.speaker.tolist()))[::2]
        whole = in_corpus.where(in_corpus.crop == 0)
        first = [int(np.flatnonzero(whole.speaker == n)[np.argmin(whole.name[whole.speaker == n])])
                 for n in gallery]
        enrolled = whole.vectors(fitted.table)[first]
        statistics = scorer.cohort_statistics(enrolled)
        for crop, label in ((0.0, "full"), (3.0, "3s")):
            counts = {"right": 0, "insiders": 0, "outsiders": 0, "named": 0,
                      "enrolled_speakers": len(gallery)}
            probes = in_corpus.where(in_corpus.crop == crop)
            scores = scorer.score_matrix(probes.vectors(fitted.table), enrolled, statistics)
            for row, (speaker, name) in enumerate(zip(probes.speaker, probes.name)):
                if speaker in gallery and name == whole.name[first[gallery.index(speaker)]]:
                    continue  # the enrolment recording itself
                best = int(np.argmax(scores[row]))
                calibration = fitted.calibration_for(bool(probes.narrow[row])).for_duration(
                    float(probes.speech_s[row]))
                threshold = calibration.for_gallery(len(gallery)).threshold
                answer = gallery[best] if scores[row, best] >= threshold else None
                expected = speaker if speaker in gallery else None
                counts["right"] += answer == expected
                counts["insiders"] += expected is not None
                counts["outsiders"] += expected is None
                counts["named"] += expected is None and answer is not None
            results[f"{short}/{label}"] = counts
    return results


def summed(runs: list[dict[str, dict]]) -> dict[str, dict]:
    """Open-set counts of several runs added up, as rates."""
    out = {}
    for condition in runs[0]:
        total = {k: sum(run[condition][k] for run in runs) for k in runs[0][condition]}
        out[condition] = {"accuracy": total["right"] / max(total["insiders"] + total["outsiders"], 1),
                          "outsiders_named": total["named"] / max(total["outsiders"], 1),
                          "galleries": len(runs),
                          "enrolled_speakers": sorted({r[condition]["enrolled_speakers"] for r in runs}),
                          "probes_enrolled": total["insiders"], "probes_not_enrolled": total["outsiders"]}
    return out


def weighted_eer(llr: np.ndarray, same: np.ndarray, weight: np.ndarray) -> float:
    """EER with each trial counted ``weight`` times (a bootstrap resample of speakers)."""
    order = np.argsort(llr, kind="stable")
    w_same, w_diff = np.where(same, weight, 0)[order], np.where(~same, weight, 0)[order]
    misses = np.concatenate([[0.0], np.cumsum(w_same)]) / max(w_same.sum(), 1e-12)  # rejected below
    false_alarms = 1 - np.concatenate([[0.0], np.cumsum(w_diff)]) / max(w_diff.sum(), 1e-12)
    i = int(np.argmin(np.abs(misses - false_alarms)))
    return float((misses[i] + false_alarms[i]) / 2)


def weighted_cllr(llr: np.ndarray, same: np.ndarray, weight: np.ndarray) -> float:
    costs = np.where(same, np.logaddexp(0, -llr), np.logaddexp(0, llr)) / np.log(2)
    return float(0.5 * ((costs * weight * same).sum() / max((weight * same).sum(), 1e-12)
                        + (costs * weight * ~same).sum() / max((weight * ~same).sum(), 1e-12)))


def speaker_resamples(trials: dict, count: int, seed: int) -> list[np.ndarray]:
    """Trial weights of ``count`` bootstrap resamples of the condition's speakers: a trial counts
    as often as its pair of speakers is drawn (a same-speaker trial, as often as its speaker)."""
    speakers = sorted(set(trials["a"].tolist()) | set(trials["b"].tolist()))
    index = {s: k for k, s in enumerate(speakers)}
    a, b = np.array([index[s] for s in trials["a"]]), np.array([index[s] for s in trials["b"]])
    rng = np.random.default_rng(seed)
    weights = []
    for _ in range(count):
        drawn = np.bincount(rng.integers(0, len(speakers), len(speakers)), minlength=len(speakers))
        weights.append(np.where(a == b, drawn[a], drawn[a] * drawn[b]).astype(np.float64))
    return weights


def figures(by_system: dict[str, dict], bootstraps: int, benchmark_speakers: set[str]) -> dict:
    """Per system and condition: EER, minDCF, Cllr and minCllr with 95 % speaker-bootstrap intervals,
    the interval of the EER's difference from the ECAPA port alone on the same resamples, and the
    EER on the trials between ``benchmark_speakers`` alone (benchmark.py's trials, on which the
    peers' results in benchmarks/results were measured)."""
    out: dict[str, dict] = {system: {} for system in by_system}
    for condition in by_system["ecapa"]:
        resamples = speaker_resamples(by_system["ecapa"][condition], bootstraps, seed=1)
        eers = {}
        for system, trials in by_system.items():
            llr, same = trials[condition]["llr"], trials[condition]["same"]
            eers[system] = np.array([weighted_eer(llr, same, w) for w in resamples])
            cllrs = np.array([weighted_cllr(llr, same, w) for w in resamples])
            out[system][condition] = {
                "eer": equal_error_rate(llr, same)[0], "eer_ci": _interval(eers[system]),
                "min_dcf": min_dcf(llr, same)[0], "cllr": cllr(llr, same), "cllr_ci": _interval(cllrs),
                "cllr_stated": cllr(trials[condition]["stated_llr"], same),
                "min_cllr": min_cllr(llr, same), "same_trials": int(same.sum()),
                "different_trials": int((~same).sum()),
                "speakers": len(set(trials[condition]["a"].tolist()) | set(trials[condition]["b"].tolist()))}
            subset = np.isin(trials[condition]["a"], list(benchmark_speakers)) & np.isin(
                trials[condition]["b"], list(benchmark_speakers))
            if same[subset].any() and (~same[subset]).any():
                out[system][condition] |= {
                    "benchmark_trials_eer": equal_error_rate(llr[subset], same[subset])[0],
                    "benchmark_same_trials": int(same[subset].sum()),
                    "benchmark_different_trials": int((~same[subset]).sum())}
        for system in by_system:
            out[system][condition]["eer_minus_ecapa_ci"] = _interval(eers[system] - eers["ecapa"])
    return out


def _interval(values: np.ndarray) -> list[float]:
    return [float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))]


def gallery_refits(scorer: Scorer, clips: Clips, table: ConditionTable, draws: int,
                   per_corpus: int) -> dict:
    """Refit a gallery's calibration as ``gallery calibrate`` does, on ``per_corpus`` speakers of
    each corpus (two whole recordings each) enrolled in a random order, against the model's own
    calibration fitted on half the other speakers; both judged on the other half's recordings
    (each against every speaker's centroid, as the refit's trials)."""
    whole = clips.where(clips.crop == 0)
    vectors = whole.vectors(table)
    rows = []
    for draw in range(draws):
        rng = np.random.default_rng(draw)
        gallery, model_side, judge = [], [], []
        for corpus in CORPORA.values():
            names = [str(n) for n in rng.permutation(sorted(set(whole.speaker[whole.in_corpus(corpus)])))]
            gallery += names[:per_corpus]
            model_side += names[per_corpus::2]
            judge += names[per_corpus + 1::2]
        enrolled = np.concatenate([rng.choice(np.flatnonzero(whole.speaker == s), 2, replace=False)
                                   for s in gallery])
        enrolled = enrolled[rng.permutation(len(enrolled))]  # the enrolment order
        model = calibrate(whole.of(model_side).items(table), scorer, "the model's held-out speakers")
        scores, same, repeated = clip_trials(whole.speaker[enrolled].tolist(), vectors[enrolled], scorer)
        refit = refit_from_trials(scores, same, repeated, model)
        judged = np.isin(whole.speaker, judge)
        scores, same, _ = clip_trials(whole.speaker[judged].tolist(), vectors[judged], scorer)
        (model_miss, model_fa), (refit_miss, refit_fa) = (
            (float((scores[same] < t).mean()), float((scores[~same] >= t).mean()))
            for t in (model.threshold, refit.threshold))
        rows.append({"model_threshold": model.threshold, "refit_threshold": refit.threshold,
                     "model_misses": model_miss, "model_false_accepts": model_fa,
                     "refit_misses": refit_miss, "refit_false_accepts": refit_fa,
                     "refused": refusal(model, refit, float((scores[same] < model.threshold).mean()))})
    missed, let_in = (np.array([r[f"refit_{k}"] - r[f"model_{k}"] for r in rows])
                      for k in ("misses", "false_accepts"))
    return {"draws": rows, "gallery_speakers": 2 * per_corpus,
            "within_2_points": int(((abs(missed) <= 0.02) & (abs(let_in) <= 0.02)).sum()),
            "worse_by_over_2_points": int(((missed > 0.02) | (let_in > 0.02)).sum())}


# --- the run -----------------------------------------------------------------------------------
def held_out_speakers(split: dict, model_dir: Path) -> list[str]:
    donor = json.loads((model_dir / "fast" / "config.json").read_text())
    return sorted({f"{corpus}/{name}" for corpus, names in split.items() for name in names}
                  | set(donor["calibrated_on"]))


def run(model: FusedEncoder, ecapa_cohort: np.ndarray | None, clips: Clips,
        benchmark_speakers: set[str], fold_count: int, bootstraps: int, draws: int,
        per_corpus: int) -> tuple[dict, Fitted, Scorer]:
    dims = np.cumsum([0] + [m.model_config.embedding_dim for m in model.members])
    cohort = None if model.normaliser is None else model.normaliser.cohort
    scorers = {"ecapa": Scorer(ecapa_cohort, dims), "fixed": Scorer(cohort, dims),
               "conditions": Scorer(cohort, dims), "conditions+band": Scorer(cohort, dims)}
    speakers = sorted(set(clips.speaker.tolist()))
    dealt = folds(speakers, fold_count)
    trials: dict[str, dict] = {s: {} for s in scorers}
    open_sets: dict[str, list[dict]] = {s: [] for s in scorers}
    tables = []
    for i, j in [(a, b) for a in range(len(dealt)) for b in range(a, len(dealt))]:
        # fitted without either fold's speakers, then scored on the trials between them
        scored = dealt[i] + (dealt[j] if j != i else [])
        train, test = clips.where(~np.isin(clips.speaker, scored)), clips.of(scored)
        for system, scorer in scorers.items():
            fitted = fit(system, scorer, train)
            tables += [fitted.table.to_list()] if system == "conditions" else []
            for condition, part in condition_trials(scorer, test, fitted).items():
                keep = np.isin(part["a"], dealt[i]) & np.isin(part["b"], dealt[j]) | (
                    np.isin(part["a"], dealt[j]) & np.isin(part["b"], dealt[i]))
                pooled = trials[system].setdefault(condition, {k: [] for k in part})
                for key, value in part.items():
                    pooled[key].append(value[keep])
            if j != i:
                open_sets[system].append(open_set(scorer, test, fitted))
    trials = {s: {c: {k: np.concatenate(v) for k, v in parts.items()} for c, parts in by.items()}
              for s, by in trials.items()}
    result = {"folds": fold_count, "speakers": len(speakers),
              "figures": figures(trials, bootstraps, benchmark_speakers),
              "open_set": {s: summed(runs) for s, runs in open_sets.items()}, "tables_by_fit": tables}
    final = fit("conditions", scorers["conditions"], clips, f"held-out speakers, {norm_words(model)}")
    result["gallery_calibration"] = gallery_refits(scorers["conditions"], clips, final.table, draws,
                                                   per_corpus)
    result["table"], result["search"] = final.table.to_list(), final.search
    return result, final, scorers["conditions"]


def norm_words(model: FusedEncoder) -> str:
    if model.normaliser is None:
        return "raw scores"
    return (f"AS-norm scores (top {model.normaliser.top_k} of a cohort of {len(model.normaliser.cohort)} "
            "training-speaker embeddings, each clip met at its own weights)")


def write_model(model_dir: Path, model: FusedEncoder, final: Fitted, speakers: list[str], result: dict,
                command: str) -> None:
    """Store the table and calibration fitted on all the held-out speakers in the fused model."""
    meta = json.loads((model_dir / "config.json").read_text())
    extra = {k: v for k, v in meta.items() if k not in ("format", "pipeline", "model", "fusion")}
    extra["calibrated_on"] = speakers
    extra["fusion_condition_fit"] = {
        "command": command, "date": time.strftime("%Y-%m-%d"),
        "data": [f"../shared/data/{c}" for c in CORPORA.values()],
        "speakers": f"{len(speakers)} held-out speakers (calibrated_on): benchmarks/split.json and the "
                    "26 calibration speakers of fast/; none trained fast/",
        "conditions": "band (telephone when the mel bands from 4.5 kHz up lie more than "
                      f"{-NARROWBAND_BELOW_DB:g} dB under 300-3400 Hz) x seconds of speech (up to "
                      "4.24, up to 8.49, longer)",
        "grid": GRID.tolist(),
        "criterion": "minCllr of each condition's probes (whole recordings and 3, 6, 12 s crops) against "
                     f"whole recordings of its band; the ECAPA port alone unless another weight lowers it "
                     f"by {MARGIN:.0%} or more",
        "search": final.search,
        "cross_validated": f"{result['folds']} folds over speakers: benchmarks/results/conditions.json"}
    model.conditions, model.calibration = final.table, final.calibration
    model.save(model_dir, extra)


def markdown(result: dict) -> str:
    names = {"ecapa": "ECAPA port alone", "fixed": "fixed fusion 0.6/0.4 (before)",
             "conditions": "condition-aware fusion",
             "conditions+band": "condition-aware fusion, calibrated by band"}
    conditions = list(result["figures"]["ecapa"])
    lines = ["| system | " + " | ".join(f"{c} EER % [95 % CI]" for c in conditions) + " |",
             "|---|" + "---|" * len(conditions)]
    for system, by in result["figures"].items():
        lines.append(f"| {names[system]} | " + " | ".join(
            f"{100 * f['eer']:.2f} [{100 * f['eer_ci'][0]:.2f}, {100 * f['eer_ci'][1]:.2f}]"
            for f in by.values()) + " |")
    lines += ["", "| system | " + " | ".join(f"{c} Cllr / of the stated LRs / minCllr" for c in conditions)
              + " |", "|---|" + "---|" * len(conditions)]
    for system, by in result["figures"].items():
        lines.append(f"| {names[system]} | " + " | ".join(
            f"{f['cllr']:.3f} / {f['cllr_stated']:.3f} / {f['min_cllr']:.3f}" for f in by.values()) + " |")
    header = " | ".join(f"{c} open-set right % / outsiders named %" for c in conditions)
    lines += ["", f"| system | {header} |", "|---|" + "---|" * len(conditions)]
    for system, by in result["open_set"].items():
        lines.append(f"| {names[system]} | " + " | ".join(
            f"{100 * o['accuracy']:.1f} / {100 * o['outsiders_named']:.1f}" for o in by.values()) + " |")
    lines += ["", "| system | " + " | ".join(f"{c} EER %, benchmark.py's trials" for c in conditions) + " |",
              "|---|" + "---|" * len(conditions)]
    for system, by in result["figures"].items():
        lines.append(f"| {names[system]} (cross-validated) | " + " | ".join(
            f"{100 * f['benchmark_trials_eer']:.2f}" if "benchmark_trials_eer" in f else "n/a"
            for f in by.values()) + " |")
    for peer in ("speechbrain", "resemblyzer"):
        path = Path(__file__).resolve().parent / "results" / f"{peer}.json"
        if path.is_file():
            stored = json.loads(path.read_text())
            lines.append(f"| {stored['system']} (benchmarks/results/{peer}.json) | " + " | ".join(
                f"{100 * stored['accuracy'][c]['eer']:.2f}" for c in conditions) + " |")
    g = result["gallery_calibration"]
    lines += ["", f"Gallery calibration: {g['within_2_points']} of {len(g['draws'])} random enrolment "
              f"orders of {g['gallery_speakers']}-speaker galleries within 2 points of the model's misses "
              f"and false accepts; {g['worse_by_over_2_points']} worse than it by more than 2 points"]
    return "\n".join(lines)


def smoke_setup(folder: Path) -> tuple[Path, Path, list[str]]:
    """(data, fused model, speakers): 15 synthetic speakers a corpus (a gallery of 5 and the ten
    others that gallery_refits needs), two 3 s clips each, and a fusion of two tiny untrained
    encoders."""
    speakers = []
    for short, corpus in CORPORA.items():
        names = [f"{short}_{k}" for k in range(15)]
        synthetic_corpus(folder / "data" / corpus, names, clips=2, seconds=3.0)
        speakers += [f"{corpus}/{n}" for n in names]
    model_dir = folder / "fused"
    tiny_model(model_dir / "ecapa")
    tiny_model(model_dir / "fast")
    from speakerid import Encoder

    members = [Encoder.load(model_dir / name) for name in ("ecapa", "fast")]
    FusedEncoder(members, list(DEFAULT), ["ecapa", "fast"]).save(model_dir)
    return folder / "data", model_dir, speakers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=ROOT / "weights",
                        help="the fused model (default weights/)")
    parser.add_argument("--out", type=Path, help="the JSON result (required, except with --smoke)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "speakerid" / "conditions",
                        help="where member embeddings are kept between runs")
    parser.add_argument("--write", action="store_true", help="store the table and calibration in --weights")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args(argv)
    if not args.smoke and args.out is None:
        parser.error("--out is required (or --smoke)")
    started = time.perf_counter()
    from speakerid import load_model

    with (tempfile.TemporaryDirectory(prefix="speakerid-smoke-") as scratch,
          output(args.out or Path("conditions.json"), args.smoke) as out):
        if args.smoke:
            data, model_dir, speakers = smoke_setup(Path(scratch))
            benchmark = set(speakers[::2])
            cache, sizes = Path(scratch) / "cache", (3, 50, 2, 5)
        else:
            if not DATA.is_dir():
                sys.exit(f"the benchmark needs the real speech in {DATA}")
            data, model_dir, cache = DATA, args.weights, args.cache
            sizes = (FOLDS, BOOTSTRAPS, GALLERY_DRAWS, GALLERY_SPEAKERS)
            split = json.loads((ROOT / "benchmarks" / "split.json").read_text())
            speakers = held_out_speakers(split, model_dir)
            benchmark = {f"{corpus}/{name}" for corpus, names in split.items() for name in names}
        model = load_model(model_dir)
        if not isinstance(model, FusedEncoder):
            sys.exit(f"{model_dir} is not a fused model")
        clips = embed_clips(model, speakers, data, cache)
        embedded = time.perf_counter()
        result, final, _ = run(model, first_member_cohort(model_dir, model), clips, benchmark, *sizes)
        result["seconds"] = {"embedding": embedded - started,
                             "fitting_and_measuring": time.perf_counter() - embedded}
        result["narrowband_clips"] = {c: float(clips.narrow[clips.in_corpus(c)].mean())
                                      for c in CORPORA.values()}
        if args.write or args.smoke:  # a smoke run writes into its own temporary model
            given = argv if argv is not None else sys.argv[1:]
            command = "python benchmarks/conditions.py " + " ".join(given)
            write_model(model_dir, model, final, speakers, result, command)
            stored = load_model(model_dir)
            print(f"stored in {model_dir}: {stored.conditions.to_list()}, threshold "
                  f"{stored.calibration.threshold:.3f}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=_plain))
    print(markdown(result))


def first_member_cohort(model_dir: Path, model: FusedEncoder) -> np.ndarray | None:
    """The ECAPA port's own cohort as fused vectors with nothing in the other members' places, so
    that the port alone is scored as it is shipped alone."""
    path = model_dir / model.names[0] / "cohort.npy"
    if not path.is_file():
        return None
    own = np.load(path)
    rest = np.zeros((len(own), model.model_config.embedding_dim - own.shape[1]), np.float32)
    return np.concatenate([own, rest], axis=1)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


if __name__ == "__main__":
    main()
