"""The GPU training path, checked on CPU: fused attention, bf16 autocast, micro-batches and the
out-of-memory retry, the batch probe's search, TF32 switches, device-resident data."""

from __future__ import annotations

import pytest
import torch

from aiperf.cli import main
from aiperf.hw.tf32 import set_tf32, tf32_mode, tf32_settings
from aiperf.models import build_model, genome_from_dict
from aiperf.spec import TrainSpec, UegrSpec
from aiperf.train import PlainStep, UegrStep
from aiperf.train.fit import fit_batch, largest_fitting
from aiperf.train.saliency import kth_by_sort, kth_largest, ties_in_order, top_fraction_masks
from aiperf.workload import EncodedSplit
from aiperf.workload.batches import gather

GENOME = genome_from_dict(
    {
        "embed_dim": 16,
        "blocks": [
            {"type": "transformer", "heads": 2, "ffn_dim": 32},
            {"type": "conv", "kernel": 3, "width": 24},
            {"type": "transformer", "heads": 4, "ffn_dim": 16},
        ],
        "pooling": "mean",
        "dropout": 0.0,
    }
)
VOCAB, CLASSES, SEQ = 50, 3, 12
LENGTHS = [12, 9, 5, 12, 3, 7, 0, 10]  # one sample without a real token


def model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(GENOME, VOCAB, CLASSES, SEQ)


def batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    mask = torch.arange(SEQ)[None, :] < torch.tensor(LENGTHS)[:, None]  # (B, S)
    tokens = torch.randint(2, VOCAB, (len(LENGTHS), SEQ), generator=gen) * mask
    return tokens, mask, torch.randint(0, CLASSES, (len(LENGTHS),), generator=gen)


def outputs_and_grads(net: torch.nn.Module, fused: bool) -> tuple[torch.Tensor, list]:
    net.set_fused_attention(fused)
    net.zero_grad()
    tokens, mask, _ = batch()
    logits = net(tokens, mask)
    logits.square().sum().backward()
    return logits.detach(), [p.grad.clone() for p in net.parameters()]


def test_fused_and_matmul_attention_agree_in_outputs_and_gradients() -> None:
    net = model()
    fused_out, fused_grads = outputs_and_grads(net, fused=True)
    plain_out, plain_grads = outputs_and_grads(net, fused=False)
    assert torch.isfinite(fused_out).all()  # the sample without real tokens included
    torch.testing.assert_close(fused_out, plain_out, rtol=1e-5, atol=1e-6)
    for fused_grad, plain_grad in zip(fused_grads, plain_grads, strict=True):
        torch.testing.assert_close(fused_grad, plain_grad, rtol=1e-4, atol=1e-6)


def test_padding_keys_get_no_weight_on_either_path() -> None:
    net = model().eval()
    tokens, mask, _ = batch()
    changed = tokens.clone()
    changed[~mask] = 1  # other ids behind the padding
    for fused in (True, False):
        net.set_fused_attention(fused)
        with torch.no_grad():
            assert torch.equal(net(tokens, mask)[:6], net(changed, mask)[:6])


def test_bf16_autocast_runs_both_attention_paths_alike_on_cpu() -> None:
    net = model()
    tokens, mask, _ = batch()
    results = []
    for fused in (True, False):
        net.set_fused_attention(fused)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = net(tokens, mask)
        assert logits.dtype == torch.bfloat16
        results.append(logits.float())
    torch.testing.assert_close(results[0], results[1], rtol=0.05, atol=0.05)


def test_a_bf16_uegr_step_trains_on_cpu() -> None:
    net = model()
    before = [p.detach().clone() for p in net.parameters()]
    step = UegrStep(net, TrainSpec(precision="bf16"), "cpu", UegrSpec(k=2), seed=0)
    loss = step(torch.optim.AdamW(net.parameters(), lr=1e-2), batch())
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert any(not torch.equal(b, p) for b, p in zip(before, net.parameters(), strict=True))


# UEGR with every dropout rate at 0 and no random start is deterministic, so micro-batches must
# reproduce the whole batch's gradients: its CE, JS and δ are all per-sample.
STEPS = {
    "plain": lambda net: PlainStep(net, TrainSpec(), "cpu"),
    "uegr": lambda net: UegrStep(
        net, TrainSpec(), "cpu", UegrSpec(k=2, dropout_min=0.0, dropout_max=0.0), seed=0
    ),
}


def gradients(kind: str, micro_batch: int | None) -> tuple[float, list[torch.Tensor]]:
    net = model()
    step = STEPS[kind](net)
    step.micro_batch = micro_batch
    loss = step.gradients(torch.optim.AdamW(net.parameters()), batch())
    return loss.item(), [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize("kind", sorted(STEPS))
@pytest.mark.parametrize("micro_batch", [1, 3, 4])
def test_micro_batches_add_up_to_the_whole_batch(kind: str, micro_batch: int) -> None:
    whole_loss, whole = gradients(kind, None)
    loss, parts = gradients(kind, micro_batch)
    assert loss == pytest.approx(whole_loss, rel=1e-5)
    for part, full in zip(parts, whole, strict=True):
        torch.testing.assert_close(part, full, rtol=1e-4, atol=1e-6)


class RunsOutAbove(PlainStep):
    """A step whose device 'runs out of memory' on more than ``limit`` rows at once."""

    limit = 3

    def loss(self, batch):
        if len(batch[2]) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return super().loss(batch)


def test_out_of_memory_retries_the_batch_in_halves() -> None:
    net = model()
    step = RunsOutAbove(net, TrainSpec(), "cpu")
    loss = step.gradients(torch.optim.AdamW(net.parameters()), batch())
    assert step.micro_batch == 2  # 8 rows → 4 → 2
    whole_loss, whole = gradients("plain", None)
    assert loss.item() == pytest.approx(whole_loss, rel=1e-5)
    for param, full in zip(net.parameters(), whole, strict=True):
        torch.testing.assert_close(param.grad, full, rtol=1e-4, atol=1e-6)


def test_one_row_out_of_memory_is_raised() -> None:
    net = model()
    step = RunsOutAbove(net, TrainSpec(), "cpu")
    step.limit = 0
    with pytest.raises(torch.cuda.OutOfMemoryError):
        step.gradients(torch.optim.AdamW(net.parameters()), batch())


def test_the_probe_keeps_the_largest_size_that_fits() -> None:
    tried: list[int] = []

    def fits(rows: int) -> bool:
        tried.append(rows)
        return rows <= 40

    assert largest_fitting(300, fits) == 38  # 300 → 150 → 75 → 38
    assert tried == [300, 150, 75, 38]
    assert largest_fitting(64, lambda rows: True) == 64
    assert largest_fitting(5, lambda rows: False) is None


def test_the_probe_is_a_no_op_on_cpu() -> None:
    tokens, mask, labels = batch()
    fit = fit_batch(
        PlainStep(model(), TrainSpec(), "cpu"), EncodedSplit(tokens, mask, labels), 4, 1
    )
    assert fit.micro_batch is None and "no probe" in fit.note


def test_tf32_is_switched_off_for_matmuls_and_convolutions_together() -> None:
    before = tf32_settings()
    with tf32_mode(True):
        assert set_tf32(False) != tf32_settings()  # it returned the TF32-on settings
        off = tf32_settings()
    assert tf32_settings() == before
    assert off in (["ieee"] * 3, [False] * 2)


def test_a_device_resident_split_is_gathered_without_reading_the_device() -> None:
    tokens, mask, labels = batch()
    host = EncodedSplit(tokens, mask, labels)
    resident = host.to("meta")  # tensors without data: any device→host read would fail
    assert resident.tokens.device.type == "meta" and torch.equal(resident.lengths, host.lengths)
    got_tokens, got_mask, got_labels = gather(resident, torch.tensor([1, 2, 4]), "meta")
    assert got_tokens.shape == got_mask.shape == (3, 9) and got_labels.shape == (3,)
    assert host.to("cpu") is host


@pytest.mark.parametrize("base", [0.0, 0.1])
def test_checkpointed_blocks_recompute_at_the_sub_models_rate(base: float) -> None:
    genome = GENOME.model_copy(update={"dropout": base})
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        net = build_model(genome, VOCAB, CLASSES, SEQ)
        net.checkpoint_blocks = checkpointing
        tokens, mask, _ = batch()
        torch.manual_seed(1)
        with net.dropout_rate(0.5):
            net(tokens, mask).square().sum().backward()
        assert net.dropout == base  # the rate before the sub-model's is back
        grads.append([p.grad for p in net.parameters()])
    for plain, recomputed in zip(*grads, strict=True):
        torch.testing.assert_close(recomputed, plain)


class UegrRunsOutAbove(UegrStep):
    """A UEGR step whose device 'runs out of memory' on more than 2 rows at once."""

    def loss(self, batch):
        if len(batch[2]) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return super().loss(batch)


def test_a_retried_step_draws_what_a_step_sized_right_away_draws() -> None:
    uegr = UegrSpec(k=2, dropout_schedule="random", dropout_min=0.1, dropout_max=0.4)
    results = []
    for step_class, micro_batch in ((UegrRunsOutAbove, None), (UegrStep, 2)):
        net = model()
        net.set_dropout(0.1)
        step = step_class(net, TrainSpec(), "cpu", uegr, seed=0)
        step.micro_batch = micro_batch
        torch.manual_seed(5)
        loss = step.gradients(torch.optim.AdamW(net.parameters()), batch())
        assert step.micro_batch == 2
        results.append((loss, step.rates, [p.grad for p in net.parameters()], step.rng.get_state()))
    (loss_a, rates_a, grads_a, rng_a), (loss_b, rates_b, grads_b, rng_b) = results
    assert rates_a == rates_b and torch.equal(rng_a, rng_b)  # one draw of K rates per step
    assert torch.equal(loss_a, loss_b)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("layout", ["uniform", "ties"])
def test_the_device_mask_path_keeps_what_the_cpu_path_keeps(layout: str) -> None:
    values = torch.rand(50_000, generator=torch.Generator().manual_seed(3))
    flat = values if layout == "uniform" else (values * 4).floor()  # four distinct values
    count = 15_001
    threshold = kth_by_sort(flat, count)
    assert threshold == kth_largest(flat, count)
    on_device = ties_in_order(flat > threshold, flat == threshold, count)
    assert int(on_device.sum()) == count
    assert torch.equal(on_device, top_fraction_masks([flat], count / flat.numel())[0])


def test_the_device_mask_path_never_reads_a_value_back() -> None:
    scores = [torch.rand(40, 30).to("meta"), torch.rand(77).to("meta")]  # no data to read
    masks = top_fraction_masks(scores, 0.3)
    assert [m.shape for m in masks] == [s.shape for s in scores]
    assert all(m.dtype == torch.bool for m in masks)


def test_a_run_with_trials_spanning_gpus_is_refused_before_it_starts(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    argv = ["run", "--spec", "tiny", "--set=resources.gpus_per_trial=2", "--out", str(out)]
    assert main(argv) == 2
    assert "resources.gpus_per_trial: 2.0" in capsys.readouterr().err
    assert not out.exists()  # refused before a run directory or Ray
