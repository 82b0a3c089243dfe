"""How a calibration was fitted, in words. ``Calibration.method`` is a sentence stored with the
model or the gallery, always in English (it is the record, and checksummed with the weights); the
code that fits a calibration writes it from the clauses here, and :func:`say_method` reads a stored
sentence back clause by clause and says it in the reader's language, numbers in its digits.

One copy of each wording: the writers call :meth:`Clause.write`; the patterns that recognise a
stored clause are derived from the same templates, so a changed wording is still read back."""

from __future__ import annotations

import re
from string import Formatter

from .i18n import N_, _
from .numerals import number


class Clause:
    """One English template (``str.format`` fields) and the pattern that reads it back.

    Args:
        template: the English words, as the catalog holds them.
        nested: fields that hold another clause (said in turn).
        names: fields that hold a name kept as written (a corpus); the others hold numbers.
    """

    def __init__(self, template: str, nested: tuple[str, ...] = (), names: tuple[str, ...] = ()) -> None:
        self.template, self.nested, self.names = template, nested, names
        self.specs: dict[str, str] = {}
        pattern = []
        for literal, field, spec, _conversion in Formatter().parse(template):
            pattern.append(re.escape(literal))
            if field is None:
                continue
            if field in nested:
                pattern.append(f"(?P<{field}>.+)")
            elif field in names:
                pattern.append(f"(?P<{field}>[^;()]+)")
            else:
                self.specs[field] = spec or ""
                pattern.append(f"(?P<{field}>\\d+(?:\\.\\d+)?)" + ("%" if spec.endswith("%") else ""))
        self.pattern = re.compile("".join(pattern), re.DOTALL)

    def write(self, **values: object) -> str:
        """The English clause, as stored."""
        return self.template.format(**values)

    def read(self, text: str) -> dict[str, str | float | int] | None:
        """The values of ``text`` if it is this clause (numbers as numbers), else None."""
        match = self.pattern.fullmatch(text)
        if match is None:
            return None
        values: dict[str, str | float | int] = {}
        for field, found in match.groupdict().items():
            if field not in self.specs:
                values[field] = found
            elif self.specs[field].endswith("%"):
                values[field] = float(found) / 100
            else:
                values[field] = float(found) if "." in found or self.specs[field] else int(found)
        return values


# What the trials were (evaluate.fit_scoring and gallery.calibration) ...
RAW_SCORES = Clause(N_("raw scores"))
AS_NORM_SCORES = Clause(N_("AS-norm scores (top {top_k} of a cohort of {cohort} training-speaker "
                           "embeddings)"))
HELD_OUT = Clause(N_("held-out speakers, {norm}"), nested=("norm",))
SHORT_PROBES = Clause(N_("{description}, {probe_s:g} s probes against whole enrolment recordings"),
                      nested=("description",))
GALLERY_TRIALS = Clause(N_("this gallery's enrolled clips, each against every speaker's centroid "
                           "(its own without it)"))
GALLERY_TRIALS_POOLED = Clause(N_("this gallery's enrolled clips, each against every speaker's centroid "
                                  "(its own without it), pooled with the model's different-speaker score "
                                  "tail counted as {trials} trials"))
# ... the threshold (evaluate.calibration_from_trials). Its first part, up to the first ";", is
# a clause of its own: a gallery's refit quotes the model's calibration by that part alone.
THRESHOLD_SET_BY = Clause(N_("{description}: threshold where at most {false_accepts:.1%} of "
                             "different-speaker trials are accepted in every corpus (set by {strictest}"),
                          nested=("description",), names=("strictest",))
THRESHOLD = Clause(N_("{set_by}; {false_accept_rate:.1%} of all; it misses {miss_rate:.1%} of same-speaker "
                      "trials; EER {eer:.1%}), probability by logistic regression on {same} same / "
                      "{different} different trials from {speakers} speakers"), nested=("set_by",))
ALL_TRIALS = N_("all trials")  # what sets the threshold where no corpus is named
UNNAMED_CORPUS = N_("unnamed corpus")
# ... the probabilities (scoring.fit_calibration), larger galleries (calibration_from_trials) ...
PRIOR = Clause(N_("{method}; probabilities for a prior of {prior:.1%}, at which the threshold is even odds"),
               nested=("method",))
IMPOSTOR_TAIL = Clause(N_("{method}; in a gallery of N speakers each comparison may pass only 1/N of that "
                          "share, read off an exponential fitted to the top {share:.0%} of different-speaker "
                          "scores"), nested=("method",))
# ... a gallery's refit (gallery.calibration.fit_gallery_calibration), and none at all.
GALLERY_REFIT = Clause(N_("full-length clips: {refit}; shorter clips: the model's calibration ({model})"),
                       nested=("refit", "model"))
UNCALIBRATED = Clause(N_("uncalibrated default"))

# In the order they are tried: a clause that ends another's text comes first.
CLAUSES = (GALLERY_REFIT, IMPOSTOR_TAIL, PRIOR, THRESHOLD, THRESHOLD_SET_BY, SHORT_PROBES, HELD_OUT,
           AS_NORM_SCORES, RAW_SCORES, GALLERY_TRIALS_POOLED, GALLERY_TRIALS, UNCALIBRATED)
KEPT_WORDS = (ALL_TRIALS, UNNAMED_CORPUS)

Reading = str | tuple[Clause, dict]  # text not recognised, or a clause and its values


def first_clause(method: str) -> str:
    """The part of a stored sentence before its first ";" (how a refit quotes the model's)."""
    return method.split(";")[0]


def read_method(text: str) -> Reading:
    """``text`` as clauses within clauses; a part no clause reads stays as it is."""
    for clause in CLAUSES:
        values = clause.read(text)
        if values is not None:
            return clause, {field: read_method(value) if field in clause.nested else value
                            for field, value in values.items()}
    return text


def _say(reading: Reading, translate: bool) -> str:
    if isinstance(reading, str):
        return reading
    clause, values = reading
    said = {}
    for field, value in values.items():
        if field in clause.nested:
            said[field] = _say(value, translate)
        elif field in clause.names:
            said[field] = _(value) if translate and value in KEPT_WORDS else value
        else:
            spec = clause.specs[field]
            said[field] = number(value, spec) if translate else format(value, spec)
    template = _(clause.template) if translate else clause.template
    return "".join(literal + ("" if field is None else said[field])
                   for literal, field, _spec, _conversion in Formatter().parse(template))


def say_method(method: str) -> str:
    """A stored ``Calibration.method`` in the current language, its numbers in the language's
    digits and its corpus names as written; a sentence not written from these clauses (another
    program's), or one that would not read back word for word, is shown as stored."""
    reading = read_method(method)
    if isinstance(reading, str) or _say(reading, translate=False) != method:
        return method
    return _say(reading, translate=True)
