"""Bad-input fuzzing: every kind below must raise a typed TaskddError whose message names the
problem, never an untyped exception, and leave no partial file in --out.

Kinds (one line each):
  1 values with 2 dims             13 no sources                    25 one budget too small (ipc 1)
  2 values with 4 dims             14 repeated source names         26 variables unknown to the DBN
  3 a source with 0 sequences      15 Samples rows disagree         27 sources of different T
  4 mask shape != values shape     16 Samples holding NaN           28 no noise level known
  5 mask not bool                  17 id column missing             29 negative obs_noise
  6 observed NaN                   18 time column missing           30 unknown score_on
  7 observed inf                   19 unknown variable asked for    31 intra-slice cycle
  8 names count != d               20 non-numeric column            32 parent name unknown
  9 repeated variable names        21 repeated (id, time) rows      33 budget <= 0
 10 negative source noise          22 empty table                   34 unknown method
 11 non-numeric values (strings)   23 variable hidden in every source 35 unknown task
 12 complex values                 24 a one-sequence source         36 lr <= 0
 37 steps < 0                      44 foreign checkpoint            51 structure file not JSON
 38 unknown schedule               45 unknown case (CLI)            52 unknown sweep engine
 39 zeroth-order directions < 1    46 unknown --set key (CLI)       53 negative seed (CLI)
 40 unknown device                 47 --set value of the wrong type  54 --resume with nothing there
 41 resume without a folder        48 unwritable --out (CLI)        55 budget larger than the data
 42 corrupt checkpoint             49 truncated CSV (CLI distill)   56 NaN in a synthetic set given
 43 ridge data of the wrong shape  50 missing CSV file (CLI distill)
 57 CSV budget > a source (CLI)     59 CSV float times, no --time-step 61 CSV variable seen once
 58 CSV --lr -1 / --max-slices 1    60 CSV non-numeric column         62 random CSV panels align or refuse
 63 evaluate: no model there        65 evaluate: unknown test column  67 evaluate: corrupt model file
 64 evaluate: --noise not a number  66 evaluate: test visit before a global origin
"""

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_gen.dbn import make_sources, random_dbn
from data_gen.regression import make_regression
from taskdd import Samples, Source, Sources, SyntheticSet, TaskddError, distill
from taskdd.cli import main
from taskdd.tasks.dbn import DBNStructure
from taskdd.tasks.dbn.task import DBNLikelihoodTask

FUZZ = settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
dims = st.integers(1, 4)


def _expect(fn, needle):
    with pytest.raises(TaskddError) as e:
        fn()
    assert needle.lower() in str(e.value).lower(), f"{needle!r} not in {str(e.value)!r}"


# --- 1-12: Source values, masks, names --------------------------------------------------------
@FUZZ
@given(n=dims, m=dims, extra=st.sampled_from([2, 4]))
def test_values_of_the_wrong_rank(n, m, extra):
    shape = (n, m) if extra == 2 else (n, m, 2, 2)
    _expect(lambda: Source(torch.zeros(shape)), "shape [N, T, d]")


@FUZZ
@given(T=dims, d=dims)
def test_a_source_with_no_sequences(T, d):
    _expect(lambda: Source(torch.zeros(0, T, d)), "0 sequences")


@FUZZ
@given(n=dims, T=dims, d=dims, bump=st.integers(0, 2))
def test_mask_shape_or_dtype_wrong(n, T, d, bump):
    v = torch.zeros(n, T, d)
    if bump == 0:
        _expect(lambda: Source(v, mask=torch.ones(n, T, d)), "must be bool")
    else:
        _expect(lambda: Source(v, mask=torch.ones(n, T, d + bump, dtype=torch.bool)), "does not match")


@FUZZ
@given(n=dims, T=dims, d=dims, bad=st.sampled_from([float("nan"), float("inf"), -float("inf")]), data=st.data())
def test_observed_non_finite_values(n, T, d, bad, data):
    v = torch.zeros(n, T, d)
    idx = tuple(data.draw(st.integers(0, k - 1)) for k in (n, T, d))
    v[idx] = bad
    _expect(lambda: Source(v, mask=torch.ones(n, T, d, dtype=torch.bool)), "non-finite")


@FUZZ
@given(d=st.integers(2, 5), delta=st.sampled_from([-1, 1]))
def test_names_do_not_fit(d, delta):
    _expect(lambda: Source(torch.zeros(1, 1, d), variables=[f"v{i}" for i in range(d + delta)]), "names")
    _expect(lambda: Source(torch.zeros(1, 1, d), variables=["same"] * d), "repeats")


@FUZZ
@given(noise=st.floats(max_value=-1e-9, allow_nan=False) | st.just(float("nan")))
def test_negative_or_nan_noise(noise):
    _expect(lambda: Source(torch.zeros(1, 1, 1), noise=noise), "noise")


def test_non_numeric_and_complex_values():
    _expect(lambda: Source(np.array([[["a"]]])), "numeric")
    _expect(lambda: Source(torch.zeros(1, 1, 1, dtype=torch.complex64)), "real numbers")


# --- 13-16: containers ---------------------------------------------------------------------------
def test_empty_or_clashing_containers():
    _expect(lambda: Sources([]), "at least one")
    s = Source(torch.zeros(1, 1, 1), name="a")
    _expect(lambda: Sources([s, s]), "unique")
    _expect(lambda: Samples(x=torch.zeros(2, 1), y=torch.zeros(3)), "rows")
    _expect(lambda: Samples(x=torch.tensor([float("nan")])), "non-finite")


# --- 17-22: tables ---------------------------------------------------------------------------------
@FUZZ
@given(kind=st.sampled_from(["no_id", "no_time", "unknown_var", "text", "dup", "empty"]))
def test_bad_tables(kind):
    df = pd.DataFrame({"id": [0, 0, 1], "t": [0, 1, 0], "a": [1.0, 2.0, 3.0]})
    call = {"no_id": (df.drop(columns="id"), {}, "id_col"),
            "no_time": (df.drop(columns="t"), {}, "time_col"),
            "unknown_var": (df, {"variables": ["a", "zz"]}, "unknown variables"),
            "text": (df.assign(a=["x", "y", "z"]), {}, "not numeric"),
            "dup": (pd.concat([df, df.iloc[:1]]), {}, "repeated"),
            "empty": (df.iloc[:0], {}, "0 rows")}[kind]
    _expect(lambda: Source.from_dataframe(call[0], "id", "t", **call[1]), call[2])


# --- 23-32: the DBN task --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def prob():
    dbn = random_dbn(4, seed=0, dtype=torch.float64)
    return make_sources(dbn, n_per_source=30, T=3, K=2, hidden_per_source=1, noise=0.3, n_test=10, seed=0)


def _dbn(prob, sources, budget=3, **task):
    return lambda: distill(DBNLikelihoodTask(prob.truth.structure, **task), sources, budget, steps=1,
                           device="cpu", quiet=True)


def test_dbn_bad_inputs(prob):
    src = prob.sources
    hide0 = Sources([Source(s.values, s.mask & torch.tensor([False, True, True, True]), s.variables, s.name, 0.3)
                     for s in src])
    _expect(_dbn(prob, hide0), "hidden in every source")
    _expect(_dbn(prob, Sources([src[0].subset(slice(0, 1)), src[1]]), budget=1), "at least 2")
    _expect(_dbn(prob, src, budget=1), "too small")
    renamed = Sources([Source(s.values, s.mask, [f"q{i}" for i in range(4)], s.name, 0.3) for s in src])
    _expect(_dbn(prob, renamed), "do not match")
    shorter = Sources([src[0], Source(src[1].values[:, :2], src[1].mask[:, :2], src[1].variables, "source1", 0.3)])
    _expect(_dbn(prob, shorter), "number of time slices T")
    _expect(_dbn(prob, Sources([Source(s.values, s.mask, s.variables, s.name) for s in src])), "noise")
    _expect(_dbn(prob, src, budget=1000), "larger than")
    _expect(lambda: DBNLikelihoodTask(prob.truth.structure, obs_noise=-0.1), "obs_noise")
    _expect(lambda: DBNLikelihoodTask(prob.truth.structure, score_on="best"), "score_on")


@FUZZ
@given(k=st.integers(2, 5))
def test_structure_cycles_and_unknown_parents(k):
    names = [f"v{i}" for i in range(k)]
    cycle = {names[i]: [names[(i + 1) % k]] for i in range(k)}
    _expect(lambda: DBNStructure(names, cycle, {}), "cycle")
    _expect(lambda: DBNStructure(names, {names[0]: ["ghost"]}, {}), "unknown")


# --- 33-44, 55, 56: the distill loop ----------------------------------------------------------------
@pytest.fixture(scope="module")
def reg():
    return make_regression(n_train=40, n_test=20, p=3, seed=0)


@FUZZ
@given(kind=st.sampled_from(["budget", "method", "task", "lr", "steps", "schedule", "directions", "device",
                             "resume", "too_big"]), junk=st.integers(-5, 0))
def test_bad_loop_settings(reg, kind, junk):
    kw = {"budget": (junk, "budget"), "method": ({"method": "sgd-ish"}, "unknown method"),
          "task": ({"task": "nope"}, "unknown task"), "lr": ({"lr": float(junk)}, "lr"),
          "steps": ({"steps": junk - 1}, "steps"), "schedule": ({"schedule": "zigzag"}, "schedule"),
          "directions": ({"method": "zeroth_order", "method_options": {"directions": junk}}, "directions"),
          "device": ({"device": "quantum"}, "device"), "resume": ({"resume": True}, "checkpoint_dir"),
          "too_big": (10_000, "larger than the data")}[kind]
    args, needle = kw
    budget = args if isinstance(args, int) else 3
    opts = args if isinstance(args, dict) else {}
    task = opts.pop("task", "ridge")
    _expect(lambda: distill(task, reg.train, budget, quiet=True, **{"device": "cpu", "steps": 1, **opts}), needle)


def test_corrupt_and_foreign_checkpoints(reg, tmp_path):
    distill("ridge", reg.train, 3, steps=1, device="cpu", quiet=True, checkpoint_dir=tmp_path, checkpoint_every=1)
    _expect(lambda: distill("ridge", reg.train, 4, device="cpu", quiet=True, checkpoint_dir=tmp_path, resume=True),
            "another run")
    (tmp_path / "checkpoint.pt").write_bytes(b"\x80\x04garbage")
    _expect(lambda: distill("ridge", reg.train, 3, device="cpu", quiet=True, checkpoint_dir=tmp_path, resume=True),
            "not a readable")


def test_wrong_shaped_data_and_a_nan_synthetic_set(reg):
    _expect(lambda: distill("ridge", Samples(x=torch.zeros(10), y=torch.zeros(10)), 3, quiet=True), "x [N, p]")
    syn = SyntheticSet([{"x": torch.full((3, 3), float("nan")), "y": torch.zeros(3)}], ["x", "y"])
    _expect(lambda: distill("ridge", reg.train, 3, synthetic=syn, steps=2, device="cpu", quiet=True), "non-finite")


# --- 45-54: the command line -----------------------------------------------------------------------
def _cli(capsys, *args):
    rc = main(list(args))
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    return err


def test_cli_bad_cases_keys_values_seeds_and_folders(capsys, tmp_path):
    assert "unknown case" in _cli(capsys, "run", "no-such-case", "--out", str(tmp_path / "a"))
    assert "unknown --set key" in _cli(capsys, "run", "ridge-demo", "--out", str(tmp_path / "b"), "--set", "zz=1")
    assert "expected int" in _cli(capsys, "run", "ridge-demo", "--out", str(tmp_path / "c"), "--set", "seeds=x")
    assert "seed" in _cli(capsys, "run", "ridge-demo", "--out", str(tmp_path / "d"), "--seed", "-3")
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert "cannot be created" in _cli(capsys, "run", "ridge-demo", "--out", str(blocker / "x"))
    assert "nothing to resume" in _cli(capsys, "run", "ridge-demo", "--out", str(tmp_path / "e"), "--resume")
    assert "known engines" in _cli(capsys, "sweep", "ridge-demo", "--engine", "dask", "--out", str(tmp_path / "f"))
    for sub in "abcdef":
        assert not (tmp_path / sub).exists() or not [p for p in (tmp_path / sub).rglob("*") if p.is_file()
                                                     and p.name != "run.started.json"]


def test_cli_distill_bad_files_leave_no_output(capsys, tmp_path, prob):
    good = tmp_path / "good.csv"
    prob.sources[0].to_dataframe("pid", "t").to_csv(good, index=False)
    trunc = tmp_path / "trunc.csv"
    trunc.write_text(good.read_text()[:-25])
    base = ["distill", "--data", str(good), "--id-col", "pid", "--time-col", "t", "--budget", "2", "--noise", "0.3"]
    out = tmp_path / "out"
    assert "truncated" in _cli(capsys, *base[:2], str(trunc), *base[3:], "--out", str(out))
    assert "does not exist" in _cli(capsys, *base[:2], str(tmp_path / "none.csv"), *base[3:], "--out", str(out))
    bad_structure = tmp_path / "s.json"
    bad_structure.write_text("{")
    assert "not valid JSON" in _cli(capsys, *base, "--structure", str(bad_structure), "--out", str(out))
    assert not out.exists() or not any(out.iterdir())


# --- 57-62: CSV panels through `taskdd distill` (checked before any fit) ------------------------
def test_cli_distill_fails_fast_on_bad_options_and_panels(capsys, tmp_path, prob):
    good = tmp_path / "good.csv"
    prob.sources[0].to_dataframe("pid", "t").dropna(axis=1, how="all").to_csv(good, index=False)
    df = pd.read_csv(good)
    edits = {"float_t": df.assign(t=df.t * 0.5), "text": df.assign(x9="high"),
             "once": df.assign(x9=[1.0] + [np.nan] * (len(df) - 1))}
    for k, e in edits.items():
        e.to_csv(tmp_path / f"{k}.csv", index=False)
    base = ["distill", "--id-col", "pid", "--time-col", "t", "--noise", "0.3", "--out", str(tmp_path / "out")]
    assert "largest budget that fits every source is" in _cli(capsys, *base, "--data", str(good), "--budget", "9999")
    assert "--lr must be > 0" in _cli(capsys, *base, "--data", str(good), "--budget", "2", "--lr", "-1")
    assert "--max-slices" in _cli(capsys, *base, "--data", str(good), "--budget", "2", "--max-slices", "1")
    assert "--time-step" in _cli(capsys, *base, "--data", str(tmp_path / "float_t.csv"), "--budget", "2")
    assert "not numeric" in _cli(capsys, *base, "--data", str(tmp_path / "text.csv"), "--budget", "2")
    assert "fewer than 2 cells" in _cli(capsys, *base, "--data", str(tmp_path / "once.csv"), "--budget", "2")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@FUZZ
@given(data=st.data())
def test_random_csv_panels_align_or_refuse(data):
    from taskdd.tasks.dbn.panel import align_panel
    n = data.draw(st.integers(1, 12))
    ids = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    times = data.draw(st.lists(st.integers(-5, 40) | st.floats(-5, 40, allow_nan=False), min_size=n, max_size=n))
    x = data.draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False) | st.just(float("nan")), min_size=n, max_size=n))
    step = data.draw(st.none() | st.floats(0.1, 10))
    frame = pd.DataFrame({"id": ids, "t": times, "x": x})
    try:
        p = align_panel({"a": frame}, "id", "t", time_step=step)
    except TaskddError:
        return
    s = p.sources[0]
    assert len(s) == len(set(ids)) and int(s.mask.sum()) <= int(frame.x.notna().sum())
    assert set(s.values[s.mask].tolist()) <= set(frame.x.dropna().tolist())
    if step is None:  # integer times on their gcd grid: only repeated (id, time) visits share a slice
        assert p.dropped["a"] == int(frame[["id", "t"]].duplicated().sum())


# --- 63-67: `taskdd evaluate` on a model saved by `taskdd distill` ---------------------------------
def test_cli_evaluate_refuses_bad_models_noise_and_test_files(capsys, tmp_path, prob):
    good = tmp_path / "good.csv"
    prob.sources[0].to_dataframe("pid", "t").dropna(axis=1, how="all").to_csv(good, index=False)
    out = tmp_path / "run"
    assert main(["distill", "--data", str(good), "--id-col", "pid", "--time-col", "t", "--budget", "4", "--noise",
                 "0.3", "--steps", "1", "--time-origin", "global", "--out", str(out), "--quiet"]) == 0
    df = pd.read_csv(good)
    df.assign(x9=1.0).to_csv(tmp_path / "extra.csv", index=False)
    df.assign(t=df.t - 5).to_csv(tmp_path / "early.csv", index=False)
    ev = ["evaluate", "--out", str(tmp_path / "ev"), "--data"]
    assert "does not exist" in _cli(capsys, *ev, str(good), "--model", str(tmp_path / "none"))
    assert "--noise must be a number >= 0" in _cli(capsys, *ev, str(good), "--model", str(out), "--noise", "lots")
    assert "['x9'] are not variables of the model" in _cli(capsys, *ev, str(tmp_path / "extra.csv"), "--model", str(out))
    assert "before the grid's origin" in _cli(capsys, *ev, str(tmp_path / "early.csv"), "--model", str(out))
    (out / "model" / "dbn_model.json").write_text("{")
    assert "not valid JSON" in _cli(capsys, *ev, str(good), "--model", str(out))
    assert not (tmp_path / "ev").exists() or not any((tmp_path / "ev").iterdir())
