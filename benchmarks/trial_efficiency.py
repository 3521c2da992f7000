"""How fast a trial's step runs, side by side, from one process: achieved FLOP/s of a same-run
GEMM peak, aiperf's plain step (fused attention, and with plain-matmul attention as before SDPA),
a stock ``nn.TransformerEncoder`` training loop on the same shapes (what a user would write), and
aiperf's UEGR step; and their ratios.

Every FLOP/s uses the same analytic count (``aiperf.flops``) for the same shapes, so the ratios
compare speed, not counting. UEGR overhead = UEGR step time ÷ (plain step time × UEGR's FLOPs
ratio): 1.00 means UEGR costs exactly its extra passes. Goals: plain ≥ 1.0× stock, overhead ≤ 1.10.
Steps are timed in alternating rounds (plain, stock, UEGR) and their medians compared.
Usage: python benchmarks/trial_efficiency.py [--threads 2] [--steps 9]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table
from timing import interleaved_medians

from aiperf.flops import PLAIN_STEP, cost_model, uegr_passes
from aiperf.hw.gemm import measured_gemm_peak
from aiperf.models import build_model, genome_from_dict
from aiperf.spec import TrainSpec, UegrSpec
from aiperf.train import PlainStep, UegrStep
from aiperf.train.allocator import keep_freed_memory

SHAPES = ((256, 4, 1024, 64, 64), (512, 4, 2048, 128, 32))  # d, layers, ffn, seq, batch
HEADS, VOCAB, CLASSES = 8, 1000, 2


def data(seq: int, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(1, VOCAB, (batch, seq), generator=generator)  # (B, S): full length
    return tokens, torch.ones(batch, seq, dtype=torch.bool), torch.arange(batch) % CLASSES


def aiperf_step(shape: tuple[int, ...], uegr: bool, fused: bool = True) -> Callable[[], None]:
    """One aiperf training step (plain, or UEGR with the spec's defaults), ready to call."""
    dim, layers, ffn, seq, batch = shape
    block = {"type": "transformer", "heads": HEADS, "ffn_dim": ffn}
    genome = genome_from_dict({"embed_dim": dim, "blocks": [block] * layers})
    torch.manual_seed(0)
    model = build_model(genome, VOCAB, CLASSES, seq)
    model.set_fused_attention(fused)
    settings = TrainSpec(grad_clip=1.0)
    step = (
        UegrStep(model, settings, "cpu", UegrSpec(), 0)
        if uegr
        else PlainStep(model, settings, "cpu")
    )
    optimizer = torch.optim.AdamW(model.parameters())
    batch_data = data(seq, batch)
    return lambda: step(optimizer, batch_data)


class StockModel(torch.nn.Module):
    """What a user would write: embeddings, ``nn.TransformerEncoder``, mean pooling, a head."""

    def __init__(self, dim: int, layers: int, ffn: int, seq: int) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, dim, padding_idx=0)
        self.pos = torch.nn.Embedding(seq, dim)
        layer = torch.nn.TransformerEncoderLayer(
            dim, HEADS, ffn, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = torch.nn.Linear(dim, CLASSES)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens) + self.pos(torch.arange(tokens.shape[1]))  # (B, S, D)
        x = self.encoder(x, src_key_padding_mask=~mask)  # (B, S, D)
        return self.head(x.mean(dim=1))  # (B, C)


def stock_step(shape: tuple[int, ...]) -> Callable[[], None]:
    """One training step of the stock model, ready to call."""
    dim, layers, ffn, seq, batch = shape
    torch.manual_seed(0)
    model = StockModel(dim, layers, ffn, seq)
    optimizer = torch.optim.AdamW(model.parameters())
    tokens, mask, labels = data(seq, batch)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(tokens, mask), labels).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return step


def measure(shape: tuple[int, ...], steps: int, gemm: float) -> tuple[list[str], list[str]]:
    """(achieved GFLOP/s, ratios) of one shape, as table cells."""
    dim, layers, ffn, seq, batch = shape
    block = {"type": "transformer", "heads": HEADS, "ffn_dim": ffn}
    costs = cost_model(genome_from_dict({"embed_dim": dim, "blocks": [block] * layers}), CLASSES)
    plain_flops = costs.costs(batch, seq).step_flops(PLAIN_STEP)
    uegr_flops = costs.costs(batch, seq).step_flops(uegr_passes(UegrSpec()))
    runs = {"plain": aiperf_step(shape, False), "matmul": aiperf_step(shape, False, fused=False)}
    runs |= {"stock": stock_step(shape), "uegr": aiperf_step(shape, True)}
    seconds = interleaved_medians(runs, steps)
    plain_s, stock_s, uegr_s = seconds["plain"], seconds["stock"], seconds["uegr"]
    plain, stock, uegr = plain_flops / plain_s, plain_flops / stock_s, uegr_flops / uegr_s
    matmul = plain_flops / seconds["matmul"]
    label = "/".join(map(str, shape))
    speeds = [label, *(f"{v / 1e9:.1f}" for v in (gemm, plain, matmul, stock, uegr))]
    overhead = uegr_s / (plain_s * uegr_flops / plain_flops)
    ratios = [label, f"{plain / stock:.2f}", f"{plain / matmul:.2f}", f"{plain / gemm:.0%}"]
    return speeds, [*ratios, f"{uegr / plain:.2f}", f"{overhead:.2f}"]


def table(title: str, columns: tuple[str, ...], rows: list[list[str]]) -> Table:
    result = Table(title=title)
    for column in columns:
        result.add_column(column, justify="right", no_wrap=True)
    for cells in rows:
        result.add_row(*cells)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as every trial does; plain, stock and UEGR share it
    gemm = measured_gemm_peak("cpu", "fp32", seconds=1.0) or float("nan")
    measured = [measure(shape, args.steps, gemm) for shape in SHAPES]
    shape = "d/layers/ffn/seq/batch"
    console = Console()
    title = f"achieved GFLOP/s, fp32, {args.threads} threads"
    columns = (shape, "GEMM", "plain", "plain, matmul attn", "stock", "UEGR")
    console.print(table(title, columns, [m[0] for m in measured]))
    ratios = (shape, "plain/stock", "fused/matmul", "plain/GEMM", "UEGR/plain", "overhead")
    console.print(
        table(
            "ratios (goals: plain/stock ≥ 1.0, overhead ≤ 1.10)", ratios, [m[1] for m in measured]
        )
    )


if __name__ == "__main__":
    main()
