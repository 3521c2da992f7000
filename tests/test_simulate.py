"""aiperf simulate: the clock, the slot figures, the cost model, the landscape, the refusals,
and (slow) the whole simulation on two fake nodes as the issue's acceptance runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ledgers import GENOME, HPARAMS, T0, example_report
from runner import aiperf_env

from aiperf.cli import main
from aiperf.errors import UserError
from aiperf.flops import cost_model, step_passes
from aiperf.models import genome_from_dict
from aiperf.score.ledger import LedgerWriter, RunEnd, RunStart, TrialEnd, TrialStart, read_ledger
from aiperf.score.occupancy import idle_gaps, percentile, ramp, slot_use
from aiperf.search.proposal import Proposal
from aiperf.simulate.clock import SimClock
from aiperf.simulate.costs import calibrate, trial_costs
from aiperf.simulate.landscape import accuracy_at, plateau
from aiperf.simulate.master import simulation_spec

CANDIDATE = {"genome": GENOME, "hparams": HPARAMS, "uegr": {}}


def test_sim_clock_runs_scale_times_faster(monkeypatch: pytest.MonkeyPatch) -> None:
    wall = {"now": 100.0}
    monkeypatch.setattr("aiperf.simulate.clock.time.time", lambda: wall["now"])
    clock = SimClock(origin=100.0, scale=60.0)
    assert clock() == 100.0
    wall["now"] = 110.0
    assert clock() == 100.0 + 600.0
    assert clock.wall_seconds(600.0) == 10.0


def _ledger(path: Path, slots: int, spans: list[tuple[float, float]], end: float) -> None:
    writer = LedgerWriter(path)
    writer.append(RunStart(run_id="r", t0=T0, seed=1, duration_s=end, slots=slots))
    for index, (begin, _) in enumerate(spans):
        writer.append(TrialStart(f"t{index}", index, T0 + begin, GENOME, HPARAMS, {}))
    for index, (_, finish) in enumerate(spans):
        writer.append(TrialEnd(f"t{index}", T0 + finish, "completed"))
    writer.append(RunEnd(time=T0 + end, reason="deadline"))
    writer.close()


def test_slot_use_of_a_full_run_and_of_one_with_gaps(tmp_path: Path) -> None:
    full = tmp_path / "full.jsonl"
    _ledger(full, 2, [(0, 10), (0, 5), (5, 10)], 10)
    use = slot_use(read_ledger(full))
    assert (use.occupancy, use.ramp_s, use.idle_gaps_s) == (1.0, 0.0, [0.0])
    assert use.steady_occupancy == 1.0
    gappy = tmp_path / "gappy.jsonl"
    _ledger(gappy, 2, [(1, 10), (2, 4), (7, 10)], 10)  # slot 2 idle 0-2 and 4-7
    use = slot_use(read_ledger(gappy))
    assert use.occupancy == pytest.approx((9 + 2 + 3) / 20)
    assert use.ramp_s == 2.0 and use.idle_gaps_s == [3.0]
    assert use.steady_occupancy == pytest.approx((8 + 2 + 3) / 16)  # from the ramp on


def test_ramp_is_none_when_slots_never_fill_and_percentiles() -> None:
    assert ramp([(0, 5), (6, 9)], 2) is None
    assert idle_gaps([(0, 5)], 2) == []
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile([float(i) for i in range(100)], 0.99) == 99.0


def test_landscape_is_deterministic_bounded_and_learns() -> None:
    curve = [accuracy_at(CANDIDATE, epoch, seed=7, ceiling=0.95) for epoch in range(1, 20)]
    assert curve == [accuracy_at(CANDIDATE, e, seed=7, ceiling=0.95) for e in range(1, 20)]
    assert all(0.0 <= v <= 0.95 and 0.0 <= t <= 0.95 for v, t in curve)
    assert curve[-1][0] > curve[0][0] + 0.05  # it learns
    bad_lr = {**CANDIDATE, "hparams": {**HPARAMS, "lr": 1e-5}}
    assert plateau(bad_lr) < plateau(CANDIDATE)


def test_costs_price_an_epoch_as_the_counter_does() -> None:
    spec = simulation_spec("tiny", [])
    costs = trial_costs(spec, throughput=1e9, startup_s=5.0)
    proposal = Proposal.from_draw(CANDIDATE | {"hparams": {**HPARAMS, "batch_size": 32}}, 0, 1)
    work, steps = costs.epoch_work[32]
    assert work.samples == spec.workload.train_size and steps == -(-work.samples // 32)
    model = cost_model(genome_from_dict(GENOME), costs.num_classes)
    epoch = costs.epoch(proposal)
    assert epoch.train_flops == model.step_flops(work, step_passes(spec.uegr))
    assert epoch.eval_flops == model.eval_flops(costs.eval_forward, costs.eval_input_grad)
    assert epoch.seconds == pytest.approx((epoch.train_flops + epoch.eval_flops) / 1e9)
    attacked = costs.sizes[2]
    assert costs.eval_input_grad.samples == spec.robustness.steps * attacked
    val_test = spec.workload.val_size + spec.workload.test_size
    assert costs.eval_forward.samples == val_test + (spec.robustness.steps + 1) * attacked


def test_calibrate_from_a_real_ledger_and_refusals(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    writer = LedgerWriter(real / "ledger.jsonl")
    writer.append(RunStart(run_id="r", t0=T0, seed=1, duration_s=60.0))
    writer.append(TrialStart("a", 0, T0, GENOME, HPARAMS, {}))
    first = example_report("a", 0, T0 + 12, 0.6, 0.6)  # 5 s long: starts 7 s after the trial
    writer.append(first)
    writer.close()
    throughput, startup = calibrate(real)
    assert throughput == pytest.approx(first.flops / 5.0) and startup == pytest.approx(7.0)
    empty = tmp_path / "empty"
    empty.mkdir()
    LedgerWriter(empty / "ledger.jsonl").append(RunStart(run_id="e", t0=T0, seed=1, duration_s=1))
    with pytest.raises(UserError, match="no report"):
        calibrate(empty)
    simulated = tmp_path / "simulated"
    simulated.mkdir()
    start = RunStart(run_id="s", t0=T0, seed=1, duration_s=1, simulated=True)
    LedgerWriter(simulated / "ledger.jsonl").append(start)
    with pytest.raises(UserError, match="simulated run cannot calibrate"):
        calibrate(simulated)


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        (["--nodes", "0"], "--nodes"),
        (["--nodes", "4", "--raylets", "3"], "--raylets"),
        (["--time-scale", "0"], "--time-scale"),
        (["--startup", "soon"], "--startup"),
        (["--throughput", "1"], "--throughput"),
        (["--nodes", "200"], "--gpus-per-node"),
        (["--nodes", "65", "--gpus-per-node", "1"], "--nodes"),
        (["--startup", "2h"], "--startup"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    flags: list[str], names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert names in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_simulate_two_nodes_of_eight_gpus(tmp_path: Path) -> None:
    """The acceptance command: 2 fake nodes × 8 GPUs, 10 simulated minutes at 60×."""
    out = tmp_path / "sim"
    argv = [sys.executable, "-m", "aiperf.cli", "simulate", "--nodes", "2", "--gpus-per-node",
            "8", "--duration", "10m", "--time-scale", "60", "--out", str(out)]  # fmt: skip
    env = aiperf_env(tmp_path / "ray")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Slot occupancy" in done.stdout and "never submittable" in done.stdout
    figures = json.loads((out / "simulation.json").read_text())
    # 10 simulated minutes are 10 wall seconds: how many trials start in them depends on the
    # machine's load (Ray Tune's own start-up is real time), so only the first is certain.
    assert figures["slots"] == 16 and 0.0 < figures["slot_occupancy"] <= 1.0
    ledger = read_ledger(out / "ledger.jsonl")
    assert ledger.start.simulated and ledger.start.slots == 16 and len(ledger.trials) >= 1
    assert figures["trials"] == len(ledger.trials) and figures["reports"] == len(ledger.reports)
    assert {r.node for r in ledger.reports} <= {"127.0.0.2", "127.0.0.3"}
    summary = json.loads((out / "summary.json").read_text())
    assert not summary["valid"] and "simulated" in summary["invalid_reasons"][0]
    assert summary["slot_occupancy"] == pytest.approx(figures["slot_occupancy"])
    # the ledger's figures re-derive and the audit finds the simulated reports honest
    assert not [r for r in summary["invalid_reasons"] if "report " in r]
    refused = subprocess.run(
        [sys.executable, "-m", "aiperf.cli", "submit", str(out), "--out", str(tmp_path / "b"),
         "--submitter", "tests", "--system-name", "fake nodes"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2 and "never submittable" in refused.stderr
    assert not (tmp_path / "b").exists()


def test_old_ledgers_read_as_not_simulated(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    old = {"run_id": "r", "t0": T0, "seed": 1, "duration_s": 1.0, "kind": "run_start", "schema": 1}
    path.write_text(json.dumps(old) + "\n")  # a run_start written before the field existed
    assert read_ledger(path).start.simulated is False
