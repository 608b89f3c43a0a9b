"""How a hyperparameter tuning job chooses each training job's hyperparameters: ranges and strategies.

A tuning job's ``ParameterRanges`` become :class:`Range` objects (checked as SageMaker checks them:
numbers that parse, ``MinValue`` <= ``MaxValue``, logarithmic scaling only above 0, reverse
logarithmic only for continuous ranges within [0, 1), no name twice); a strategy then suggests one
set of values per training job and learns the objective value of each finished job:

* ``Random`` - each value drawn independently on the range's scale (``RandomSeed`` makes it repeatable);
* ``Grid`` - every combination of the categorical values, each once (Grid takes categorical ranges
  only, as in AWS);
* ``Bayesian`` - a stand-in for SageMaker's own Bayesian optimiser, which is not public: optuna's
  TPE sampler (a sequential model-based optimiser), asked one suggestion per job, with the jobs still
  running counted as pending (``constant_liar``) and prior results (warm start) added as finished trials.

``ScalingType`` ``Auto`` is treated as ``Linear`` (SageMaker chooses a scale itself; the kit does not
guess).  Values reach the training job as strings, as in AWS: integers as ``"5"``, continuous values
in full precision.
"""

import itertools
import math
import random
import warnings

from ..errors import not_implemented, validation

#: the strategies local mode runs (Hyperband is refused with a clear error)
STRATEGIES = ("Bayesian", "Random", "Grid")


class Range:
    """One tunable hyperparameter: its kind (Integer/Continuous/Categorical), bounds or values, scale."""

    def __init__(self, kind, name, low=None, high=None, values=None, scaling="Auto"):
        self.kind, self.name, self.low, self.high, self.values = kind, name, low, high, values
        self.scaling = "Linear" if scaling in (None, "Auto") else scaling

    def sample(self, rng):
        """One value drawn on the range's scale, as a Python number or the categorical string."""
        if self.kind == "Categorical":
            return rng.choice(self.values)
        return self.from_unit(rng.random())

    def from_unit(self, u):
        """The value at position ``u`` in [0, 1] of the range's scale."""
        low, high = float(self.low), float(self.high)
        if self.scaling == "Logarithmic":
            value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
        elif self.scaling == "ReverseLogarithmic":
            value = 1.0 - math.exp(math.log(1.0 - low) + u * (math.log(1.0 - high) - math.log(1.0 - low)))
        else:
            value = low + u * (high - low)
        if self.kind == "Integer":
            return int(min(max(round(value), self.low), self.high))
        return min(max(value, low), high)

    def as_string(self, value):
        """The value as the training job receives it."""
        if self.kind == "Integer":
            return str(int(value))
        if self.kind == "Continuous":
            return repr(float(value))
        return str(value)

    def parse(self, text):
        """A value this range could have given (from a parent job's TunedHyperParameters), else None."""
        try:
            if self.kind == "Categorical":
                return text if text in self.values else None
            value = int(float(text)) if self.kind == "Integer" else float(text)
        except (TypeError, ValueError):
            return None
        return value if self.low <= value <= self.high else None


def _number(kind, item, field):
    text = item.get(field)
    try:
        return int(text) if kind == "Integer" else float(text)
    except (TypeError, ValueError):
        raise validation(f"The {field} '{text}' of the {kind.lower()} hyperparameter range '{item.get('Name')}' is "
                         f"not {'an integer' if kind == 'Integer' else 'a number'}.") from None


def parse_ranges(config):
    """The tuning job's ParameterRanges as a list of :class:`Range`; ValidationException for a bad range."""
    ranges_doc = config.get("ParameterRanges") or {}
    if ranges_doc.get("AutoParameters"):
        raise not_implemented("AutoParameters (Autotune) is not emulated by the kit's local mode: give "
                              "IntegerParameterRanges, ContinuousParameterRanges or CategoricalParameterRanges.")
    ranges = []
    for kind in ("Integer", "Continuous"):
        for item in ranges_doc.get(f"{kind}ParameterRanges", []):
            low, high = _number(kind, item, "MinValue"), _number(kind, item, "MaxValue")
            name, scaling = item["Name"], item.get("ScalingType", "Auto")
            if low > high:
                raise validation(f"The MinValue ({item['MinValue']}) of the hyperparameter range '{name}' is greater "
                                 f"than its MaxValue ({item['MaxValue']}).")
            if scaling == "Logarithmic" and low <= 0:
                raise validation(f"The hyperparameter range '{name}' uses Logarithmic scaling, which works only for "
                                 f"ranges whose values are all greater than 0 (MinValue is {item['MinValue']}).")
            if scaling == "ReverseLogarithmic" and (kind == "Integer" or low < 0 or high >= 1):
                raise validation(f"The hyperparameter range '{name}' uses ReverseLogarithmic scaling, which works "
                                 "only for continuous ranges entirely within 0 <= x < 1.0.")
            ranges.append(Range(kind, name, low, high, scaling=scaling))
    for item in ranges_doc.get("CategoricalParameterRanges", []):
        ranges.append(Range("Categorical", item["Name"], values=list(item["Values"])))
    names = [r.name for r in ranges]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise validation(f"Hyperparameter {', '.join(twice)} appears in more than one parameter range; give each "
                         "tunable hyperparameter one range.")
    return ranges


def check_strategy(config, ranges):
    """ValidationException/NotImplemented for a strategy that cannot run with these ranges."""
    strategy = config["Strategy"]
    if strategy == "Hyperband":
        raise not_implemented("The Hyperband strategy is not emulated by the kit's local mode (it stops training "
                              "jobs between epochs through the algorithm's own reporting). Use Bayesian, Random or "
                              "Grid, or run this tuning job in remote mode.")
    if strategy == "Grid":
        numeric = [r.name for r in ranges if r.kind != "Categorical"]
        if numeric:
            raise validation(f"The Grid strategy supports only categorical hyperparameter ranges; "
                             f"{', '.join(numeric)} {'is' if len(numeric) == 1 else 'are'} integer or continuous. "
                             "Use CategoricalParameterRanges, or the Random or Bayesian strategy.")
        if not ranges:
            raise validation("The Grid strategy needs at least one categorical hyperparameter range.")


def grid_size(ranges):
    """How many training jobs a grid search runs: the number of combinations of categorical values."""
    return math.prod(len(r.values) for r in ranges) if ranges else 0


class RandomSearch:
    """Each value drawn independently on its range's scale."""

    def __init__(self, ranges, seed=None, maximize=False):
        self.ranges = ranges
        self.rng = random.Random(seed)

    def suggest(self):
        """The next training job's tuned values ``{name: value}``, or None when the strategy has no more."""
        return {r.name: r.sample(self.rng) for r in self.ranges}

    def observe(self, values, objective):
        """A training job's result (objective None: no value); random search learns nothing."""

    def tell(self, values, objective):
        """A suggestion of this strategy came back with ``objective`` (None: failed)."""


class GridSearch(RandomSearch):
    """Every combination of the categorical values, in order, each once."""

    def __init__(self, ranges, seed=None, maximize=False):
        super().__init__(ranges, seed, maximize)
        self._combinations = itertools.product(*(r.values for r in ranges))
        self._tried = set()

    def suggest(self):
        """The next combination not tried yet (here or by a warm-start parent), or None when the grid is done."""
        for combination in self._combinations:
            values = dict(zip((r.name for r in self.ranges), combination))
            if _key(values) not in self._tried:
                return values
        return None

    def observe(self, values, objective):
        """A parent's result: its combination is not run again."""
        self._tried.add(_key(values))


class BayesianSearch:
    """Optuna's TPE sampler, one ask per training job, results told back as jobs finish."""

    def __init__(self, ranges, seed=None, maximize=False, startup=10):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.ranges = ranges
        self.distributions = {r.name: self._distribution(r) for r in ranges}
        with warnings.catch_warnings():  # constant_liar is flagged experimental in some optuna versions
            warnings.simplefilter("ignore")
            sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, constant_liar=True)
        self.study = optuna.create_study(direction="maximize" if maximize else "minimize", sampler=sampler)
        self._pending = {}  # key of the suggested values -> optuna trials asked for them, oldest first

    def _distribution(self, r):
        d = self.optuna.distributions
        if r.kind == "Categorical":
            return d.CategoricalDistribution(r.values)
        if r.scaling == "ReverseLogarithmic":  # sampled as log(1 - x), uniformly
            return d.FloatDistribution(math.log(1.0 - r.high), math.log(1.0 - r.low))
        log = r.scaling == "Logarithmic"
        if r.kind == "Integer":
            return d.IntDistribution(int(r.low), int(r.high), log=log)
        return d.FloatDistribution(float(r.low), float(r.high), log=log)

    def _to_value(self, r, raw):
        if r.kind != "Categorical" and r.scaling == "ReverseLogarithmic":
            return min(max(1.0 - math.exp(raw), r.low), r.high)
        return raw

    def _to_raw(self, r, value):
        if r.kind != "Categorical" and r.scaling == "ReverseLogarithmic":
            return math.log(1.0 - value)
        return value

    def suggest(self):
        """The sampler's next suggestion ``{name: value}``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = self.study.ask(self.distributions)
        values = {r.name: self._to_value(r, trial.params[r.name]) for r in self.ranges}
        self._pending.setdefault(_key(values), []).append(trial)
        return values

    def tell(self, values, objective):
        """A suggestion came back: its objective value, or None (the job failed or reported none)."""
        waiting = self._pending.get(_key(values))
        if not waiting:
            return
        trial = waiting.pop(0)
        state = self.optuna.trial.TrialState
        if objective is None or not math.isfinite(objective):
            self.study.tell(trial, state=state.FAIL)
        else:
            self.study.tell(trial, objective)

    def observe(self, values, objective):
        """A prior result (a warm-start parent's training job) added as a finished trial."""
        if objective is None or not math.isfinite(objective):
            return
        params = {r.name: self._to_raw(r, values[r.name]) for r in self.ranges}
        trial = self.optuna.trial.create_trial(params=params, distributions=self.distributions, value=objective)
        self.study.add_trial(trial)


def _key(values):
    return tuple(sorted((k, repr(v)) for k, v in values.items()))


def make_strategy(config, ranges, max_jobs):
    """The strategy object for a tuning job's config (its Strategy, RandomSeed and objective direction)."""
    maximize = (config.get("HyperParameterTuningJobObjective") or {}).get("Type") == "Maximize"
    seed = config.get("RandomSeed")
    strategy = config["Strategy"]
    if strategy == "Grid":
        return GridSearch(ranges, seed, maximize)
    if strategy == "Bayesian":
        return BayesianSearch(ranges, seed, maximize, startup=max(1, min(10, max_jobs // 2)))
    return RandomSearch(ranges, seed, maximize)
