"""UEGR's properties (JS bounds, exact masks, frozen masked parameters, ‖δ‖ = ε, reduction to
plain training) and that its declared passes are exactly what it runs (FlopCounterMode)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from aiperf.flops import cost_model
from aiperf.models import build_model, genome_from_dict
from aiperf.spec import TrainSpec, UegrSpec
from aiperf.train import PlainStep, UegrStep, uegr_passes
from aiperf.train.adversarial import perturbation
from aiperf.train.divergence import js_divergence
from aiperf.train.flops_check import flop_counter
from aiperf.train.saliency import SelectiveUpdate, kth_largest, top_fraction_masks
from aiperf.train.uegr import maskable_parameters

GENOME = genome_from_dict(
    {
        "embed_dim": 16,
        "blocks": [
            {"type": "transformer", "heads": 2, "ffn_dim": 32},
            {"type": "conv", "kernel": 3, "width": 24},
        ],
        "pooling": "mean",
        "dropout": 0.1,
    }
)
VOCAB, CLASSES, SEQ, BATCH = 50, 3, 12, 6


def model(seed: int = 0):
    torch.manual_seed(seed)
    return build_model(GENOME, VOCAB, CLASSES, SEQ)


def batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([12, 9, 5, 12, 3, 7])
    mask = torch.arange(SEQ).unsqueeze(0) < lengths.unsqueeze(1)  # (B, S)
    tokens = torch.randint(2, VOCAB, (BATCH, SEQ), generator=gen) * mask
    return tokens, mask, torch.randint(0, CLASSES, (BATCH,), generator=gen)


# --- JS divergence -------------------------------------------------------------------------


def test_js_is_zero_for_identical_members() -> None:
    z = torch.randn(5, 4)
    assert js_divergence([z, z.clone(), z.clone()]).item() == pytest.approx(0.0, abs=1e-6)


def test_js_with_one_member_is_zero() -> None:
    assert js_divergence([torch.randn(5, 4)]).item() == pytest.approx(0.0, abs=1e-7)


def test_js_is_symmetric_in_its_members() -> None:
    a, b, c = torch.randn(3, 7, 5).unbind(0)
    assert js_divergence([a, b, c]).item() == pytest.approx(js_divergence([c, a, b]).item())


@pytest.mark.parametrize("k", [2, 3, 5])
def test_js_lies_in_zero_to_log_k(k: int) -> None:
    torch.manual_seed(k)
    value = js_divergence([5 * torch.randn(64, 6) for _ in range(k)]).item()
    assert 0.0 <= value <= math.log(k)


@pytest.mark.parametrize("k", [2, 3])
def test_js_of_disjoint_one_hots_is_log_k(k: int) -> None:
    members = [100.0 * F.one_hot(torch.tensor([i]), k).float() for i in range(k)]
    assert js_divergence(members).item() == pytest.approx(math.log(k), rel=1e-5)


def test_js_is_computed_in_float32() -> None:
    members = [torch.randn(4, 3, dtype=torch.bfloat16) for _ in range(2)]
    assert js_divergence(members).dtype == torch.float32


# --- masks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rho", [0.01, 0.3, 0.77, 1.0])
def test_global_mask_keeps_exactly_ceil_rho_n(rho: float) -> None:
    torch.manual_seed(0)
    scores = [torch.rand(7, 5), torch.rand(13), torch.rand(2, 3, 4)]
    masks = top_fraction_masks(scores, rho)
    total = sum(s.numel() for s in scores)
    assert sum(int(m.sum()) for m in masks) == math.ceil(rho * total)
    kept = torch.cat([s[m] for s, m in zip(scores, masks, strict=True)])
    dropped = torch.cat([s[~m] for s, m in zip(scores, masks, strict=True)])
    if len(dropped):
        assert kept.min() >= dropped.max()


def test_per_tensor_mask_keeps_ceil_rho_of_each() -> None:
    torch.manual_seed(0)
    scores = [torch.rand(7, 5), torch.rand(13), torch.rand(2, 3, 4)]
    for s, m in zip(scores, top_fraction_masks(scores, 0.3, "per_tensor"), strict=True):
        assert int(m.sum()) == math.ceil(0.3 * s.numel())
        assert s[m].min() >= s[~m].max()


@pytest.mark.parametrize("layout", ["uniform", "sorted", "ties", "heavy_tail"])
@pytest.mark.parametrize("k", [1, 4321, 100_000, 199_999, 200_000])
def test_kth_largest_is_exact_on_large_tensors(layout: str, k: int) -> None:
    generator = torch.Generator().manual_seed(k)
    values = torch.rand(200_000, generator=generator)
    flat = {
        "uniform": values,
        "sorted": values.sort().values,  # the strided sample sees a skewed picture
        "ties": (values * 5).floor(),  # five distinct values
        "heavy_tail": values.pow(40),
    }[layout]
    assert kth_largest(flat, k) == flat.sort(descending=True).values[k - 1]


def test_global_mask_with_ties_keeps_exactly_ceil_rho_n() -> None:
    scores = [torch.zeros(300_000), torch.ones(10)]
    masks = top_fraction_masks(scores, 0.3)
    assert masks[1].all() and int(masks[0].sum()) == math.ceil(0.3 * 300_010) - 10


def test_rho_one_keeps_everything() -> None:
    scores = [torch.rand(4, 4), torch.rand(3)]
    assert all(m.all() for m in top_fraction_masks(scores, 1.0))


def _masks_after_backward(loss_scale: float, saliency: str) -> list[torch.Tensor]:
    net = model()
    tokens, mask, labels = batch()
    (loss_scale * F.cross_entropy(net(tokens, mask), labels)).backward()
    selective = SelectiveUpdate(maskable_parameters(net), UegrSpec(saliency=saliency))
    selective.before_step(torch.optim.AdamW(net.parameters()))
    return selective.masks


@pytest.mark.parametrize("saliency", ["theta_grad", "grad_squared", "grad"])
def test_scaling_the_loss_leaves_the_mask_unchanged(saliency: str) -> None:
    torch.manual_seed(0)  # same dropout masks in both backward passes
    base = _masks_after_backward(1.0, saliency)
    torch.manual_seed(0)
    scaled = _masks_after_backward(4.0, saliency)
    assert all(torch.equal(a, b) for a, b in zip(base, scaled, strict=True))


@pytest.mark.parametrize("scope", ["global", "per_tensor"])
def test_masked_parameters_never_move_under_adamw(scope: str) -> None:
    net = model()
    uegr = UegrSpec(rho=0.25, mask_scope=scope, epsilon=0.3)
    step = UegrStep(net, TrainSpec(grad_clip=1.0), "cpu", uegr, seed=0)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=0.1)
    for i in range(4):  # momentum builds up, and the mask changes between steps
        before = [p.detach().clone() for p in maskable_parameters(net)]
        step(optimizer, batch(seed=i))
        after = maskable_parameters(net)
        for old, new, keep in zip(before, after, step.selective.masks, strict=True):
            assert torch.equal(old[~keep], new.detach()[~keep])
        assert any(not torch.equal(o, n) for o, n in zip(before, after, strict=True))


def test_embeddings_and_head_always_update() -> None:
    net = model()
    step = UegrStep(net, TrainSpec(), "cpu", UegrSpec(rho=0.01), seed=0)
    before = copy.deepcopy(net.state_dict())
    step(torch.optim.AdamW(net.parameters(), lr=1e-2), batch())
    for name in ("word_embed.weight", "pos_embed.weight"):
        assert not torch.equal(before[name], net.state_dict()[name])
    head = [n for n in before if n.startswith("classifier")]
    assert head and all(not torch.equal(before[n], net.state_dict()[n]) for n in head)


# --- perturbation --------------------------------------------------------------------------


def _delta(epsilon: float, steps: int = 1, random_start: bool = False):
    net = model().eval()
    tokens, mask, labels = batch()
    e = net.embed_words(tokens)

    def loss_of(x):
        return F.cross_entropy(net.encode(x, mask), labels)

    return net, e, mask, labels, perturbation(loss_of, e, mask, epsilon, steps, random_start)


def test_fgm_delta_has_norm_epsilon_and_spares_padding() -> None:
    _, _, mask, _, delta = _delta(0.7)
    norms = delta.flatten(1).norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, 0.7), rtol=1e-5)
    assert torch.all(delta[~mask] == 0)


def test_pgd_delta_stays_inside_the_ball() -> None:
    _, _, mask, _, delta = _delta(0.7, steps=4, random_start=True)
    assert torch.all(delta.flatten(1).norm(dim=1) <= 0.7 * (1 + 1e-5))
    assert torch.all(delta[~mask] == 0)


def test_perturbation_raises_the_loss_with_dropout_off() -> None:
    net, e, mask, labels, delta = _delta(0.5)
    with torch.no_grad():
        clean = F.cross_entropy(net.encode(e, mask), labels, reduction="none")
        attacked = F.cross_entropy(net.encode(e + delta, mask), labels, reduction="none")
    assert torch.all(attacked > clean)


def test_delta_is_detached_so_embeddings_keep_their_graph() -> None:
    _, e, _, _, delta = _delta(0.5)
    assert not delta.requires_grad and (e + delta).requires_grad


# --- reduction, dropout rates, passes ------------------------------------------------------


def test_reduces_bit_for_bit_to_plain_training() -> None:
    uegr = UegrSpec(alpha=0.0, beta=0.0, epsilon=0.0, rho=1.0)
    results = []
    for make in (
        lambda m: PlainStep(m, TrainSpec(), "cpu"),
        lambda m: UegrStep(m, TrainSpec(), "cpu", uegr, seed=0),
    ):
        net = model()
        step = make(net)
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=0.01)
        torch.manual_seed(123)  # the dropout masks
        for i in range(3):
            step(optimizer, batch(seed=i))
        results.append([p.detach().clone() for p in net.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*results, strict=True))


def test_full_uegr_moves_parameters_differently_from_plain() -> None:
    nets = [model(), model()]
    PlainStep(nets[0], TrainSpec(), "cpu")(torch.optim.AdamW(nets[0].parameters()), batch())
    UegrStep(nets[1], TrainSpec(), "cpu", UegrSpec(), 0)(
        torch.optim.AdamW(nets[1].parameters()), batch()
    )
    assert not torch.equal(nets[0].word_embed.weight, nets[1].word_embed.weight)


def test_dropout_rates_even_and_random() -> None:
    even = UegrStep(model(), TrainSpec(), "cpu", UegrSpec(k=3, dropout_min=0.1, dropout_max=0.3), 0)
    assert even.dropout_rates() == pytest.approx([0.1, 0.2, 0.3])
    spec = UegrSpec(k=4, dropout_schedule="random", dropout_min=0.1, dropout_max=0.3)
    drawn = UegrStep(model(), TrainSpec(), "cpu", spec, 0)
    first, second = drawn.dropout_rates(), drawn.dropout_rates()
    assert first != second and all(0.1 <= r <= 0.3 for r in first + second)


@pytest.mark.parametrize(
    ("uegr", "passes"),
    [
        (UegrSpec(), (4, 3, 1)),
        (UegrSpec(k=3, adv_steps=2), (6, 4, 2)),
        (UegrSpec(epsilon=0.0), (3, 3, 0)),
        (UegrSpec(alpha=0.0, beta=0.0), (1, 1, 0)),
        (UegrSpec(alpha=0.0, beta=1.0, k=1), (1, 1, 0)),  # JS of one member is 0: not run
        (UegrSpec(alpha=0.0, beta=1.0, k=1, js_include_clean=True), (3, 2, 1)),  # two members
    ],
)
def test_declared_passes(uegr: UegrSpec, passes: tuple[int, int, int]) -> None:
    declared = uegr_passes(uegr)
    assert (declared.forward, declared.backward_full, declared.backward_input) == passes


@pytest.mark.parametrize(
    "uegr",
    [
        UegrSpec(),
        UegrSpec(k=3, adv_steps=2, adv_init="random", js_include_clean=True),
        UegrSpec(alpha=0.0, beta=1.0, k=1),  # a JS term that is zero by construction
    ],
)
def test_counted_flops_equal_what_a_real_step_runs(uegr: UegrSpec) -> None:
    net = model()
    step = UegrStep(net, TrainSpec(grad_clip=0.0), "cpu", uegr, seed=0)
    optimizer = torch.optim.AdamW(net.parameters())
    with flop_counter() as counter:
        step(optimizer, batch())
    expected = cost_model(GENOME, CLASSES).costs(BATCH, SEQ).step_flops(step.passes)
    assert counter.get_total_flops() == pytest.approx(expected, rel=0.01)
