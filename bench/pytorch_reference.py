"""PyTorch reference figures for ``examples/bench.rs``.

Runs the same workloads as the Rust benchmark, in one process, on binarized
MNIST, so the two can be compared side by side on one machine:

* training the VAE of Rezende et al. (2014) / Kingma & Welling (2014)
  (784-200-200-50, tanh, Bernoulli likelihood, N(0, I) prior; batch 100,
  Adam 1e-3, shuffled each epoch): seconds per epoch (training steps only),
  samples/s and the mean train ELBO of each epoch;
* pseudo-Gibbs imputation of the top half of the first 1000 test images
  (1000 chains batched): chain-iterations/s and the implied seconds for
  500 iterations;
* Metropolis-within-Gibbs (Mattei & Frellsen, 2018) on the same images:
  chain-iterations/s, acceptance rate and the implied seconds for
  500 iterations;
* the IWAE bound with K = 1000 on the first test images: images/s, the mean
  L_1000 and the implied seconds for the 10000 test images.

The samplers and IWAE run on the model just trained. Every figure is a rate
over the stated work, not a projection from a warm-up. A markdown table is
printed and the figures are written as JSON to ``--out``.

Run from the repository root (needs ``pip install torch numpy``)::

    python3 bench/pytorch_reference.py
"""

import argparse
import gzip
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

LATENT = 50
HIDDEN = 200
PIXELS = 784
MISSING = 14 * 28  # the top half: pixels with row index < 14
CHAINS = 1000
BATCH = 100
LR = 1e-3
IWAE_K = 1000
LOG_2PI = math.log(2.0 * math.pi)
DEFAULT_DATA = Path(__file__).resolve().parent.parent / "data"


def parse_args():
    """Command-line options, mirroring ``examples/bench.rs``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=3,
                   help="training epochs to time")
    p.add_argument("--iterations", type=int, default=200,
                   help="sampler iterations to time (1000 chains each)")
    p.add_argument("--images", type=int, default=2000,
                   help="test images for the IWAE timing")
    p.add_argument("--chunk", type=int, default=500,
                   help="IWAE importance samples drawn per forward pass")
    p.add_argument("--threads", type=int, default=2,
                   help="torch intra-op threads")
    p.add_argument("--train-images", type=int, default=50000,
                   help="use only the first N training images (quick tests)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help="directory holding binarized_mnist_{train,test}"
                        ".npy.gz")
    p.add_argument("--out", type=Path, default=Path("out/bench/pytorch.json"),
                   help="JSON file for the figures")
    return p.parse_args()


def load_split(data_dir, split):
    """Binarized MNIST ``split`` as a float32 tensor of shape (n, 784)."""
    path = Path(data_dir) / f"binarized_mnist_{split}.npy.gz"
    with gzip.open(path, "rb") as f:
        array = np.load(f)
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


class Vae(nn.Module):
    """Gaussian encoder q(z | x) and Bernoulli decoder p(x | z)."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(PIXELS, HIDDEN), nn.Tanh(),
            nn.Linear(HIDDEN, HIDDEN), nn.Tanh())
        self.mean = nn.Linear(HIDDEN, LATENT)
        self.log_var = nn.Linear(HIDDEN, LATENT)
        self.decoder = nn.Sequential(
            nn.Linear(LATENT, HIDDEN), nn.Tanh(),
            nn.Linear(HIDDEN, HIDDEN), nn.Tanh(),
            nn.Linear(HIDDEN, PIXELS))

    def encode(self, x):
        """Mean and log-variance of q(z | x)."""
        h = self.encoder(x)
        return self.mean(h), self.log_var(h)

    def decode(self, z):
        """Bernoulli logits of p(x | z)."""
        return self.decoder(z)


def sample_q(m, v):
    """Reparameterised draw z = m + exp(v / 2) * eps."""
    return m + torch.exp(0.5 * v) * torch.randn_like(m)


def log_bernoulli(x, logits):
    """log p(x | z), summed over the pixels."""
    return -F.binary_cross_entropy_with_logits(
        logits, x, reduction="none").sum(-1)


def log_prior(z):
    """log N(z | 0, I), summed over the latent dimensions."""
    return -0.5 * (z * z + LOG_2PI).sum(-1)


def log_q(z, m, v):
    """log N(z | m, diag(exp(v))), summed over the latent dimensions."""
    return -0.5 * ((z - m) ** 2 * torch.exp(-v) + v + LOG_2PI).sum(-1)


def elbo(model, x):
    """Single-sample reparameterised ELBO of each row of ``x``."""
    m, v = model.encode(x)
    logits = model.decode(sample_q(m, v))
    kl = 0.5 * (m * m + torch.exp(v) - v - 1.0).sum(-1)
    return log_bernoulli(x, logits) - kl


def train_epoch(model, optimizer, train):
    """One shuffled epoch; returns (seconds, mean train ELBO)."""
    start = time.perf_counter()
    order = torch.randperm(train.shape[0])
    total = torch.zeros(())
    for i in range(0, train.shape[0], BATCH):
        batch = train[order[i:i + BATCH]]
        bound = elbo(model, batch)
        loss = -bound.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += bound.detach().sum()
    seconds = time.perf_counter() - start
    return seconds, total.item() / train.shape[0]


def bench_training(model, train, epochs):
    """Train for ``epochs`` epochs; returns the mean seconds per epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    n = train.shape[0]
    times = []
    for epoch in range(1, epochs + 1):
        seconds, mean_elbo = train_epoch(model, optimizer, train)
        times.append(seconds)
        print(f"epoch {epoch}: {seconds:.2f} s, {n / seconds:.0f} samples/s, "
              f"mean train ELBO {mean_elbo:.2f}")
    mean = sum(times) / len(times)
    print(f"training: mean {mean:.2f} s per epoch of {n} images")
    return mean


def missing_mask(n):
    """Boolean (n, 784) mask, True at the top-half (missing) pixels."""
    mask = torch.zeros(n, PIXELS, dtype=torch.bool)
    mask[:, :MISSING] = True
    return mask


def draw_missing(x, logits, mask):
    """x_miss ~ Bernoulli(sigmoid(logits)) at the missing pixels only."""
    draw = torch.bernoulli(torch.sigmoid(logits))
    return torch.where(mask, draw, x)


def initial_chains(images):
    """The images with the missing pixels set to 0, and the mask."""
    mask = missing_mask(images.shape[0])
    return images.masked_fill(mask, 0.0), mask


@torch.no_grad()
def pseudo_gibbs(model, images, iterations):
    """Pseudo-Gibbs sampling; returns (seconds, final per-chain log p(x|z))."""
    start = time.perf_counter()
    x, mask = initial_chains(images)
    loglik = None
    for _ in range(iterations):
        z = sample_q(*model.encode(x))
        logits = model.decode(z)
        x = draw_missing(x, logits, mask)
        loglik = log_bernoulli(x, logits)
    return time.perf_counter() - start, loglik


@torch.no_grad()
def metropolis_within_gibbs(model, images, iterations):
    """Metropolis-within-Gibbs; returns (seconds, acceptance rate)."""
    start = time.perf_counter()
    x, mask = initial_chains(images)
    z = sample_q(*model.encode(x))
    logits = model.decode(z)
    loglik = log_bernoulli(x, logits)
    accepted = 0
    for _ in range(iterations):
        m, v = model.encode(x)
        proposal = sample_q(m, v)
        proposal_logits = model.decode(proposal)
        log_rho = (log_bernoulli(x, proposal_logits) + log_prior(proposal)
                   + log_q(z, m, v) - loglik - log_prior(z)
                   - log_q(proposal, m, v))
        accept = torch.log(torch.rand_like(log_rho)) < log_rho
        accepted += int(accept.sum())
        z = torch.where(accept[:, None], proposal, z)
        logits = torch.where(accept[:, None], proposal_logits, logits)
        x = draw_missing(x, logits, mask)
        loglik = log_bernoulli(x, logits)
    seconds = time.perf_counter() - start
    return seconds, accepted / (images.shape[0] * iterations)


@torch.no_grad()
def iwae_bound(model, x, k, chunk):
    """L_K = logsumexp(log w) - log K for one image ``x`` of shape (784,)."""
    m, v = model.encode(x[None, :])
    log_w = []
    for done in range(0, k, chunk):
        n = min(chunk, k - done)
        z = sample_q(m.expand(n, -1), v.expand(n, -1))
        logits = model.decode(z)
        log_w.append(log_bernoulli(x.expand(n, -1), logits) + log_prior(z)
                     - log_q(z, m, v))
    return (torch.logsumexp(torch.cat(log_w), 0) - math.log(k)).item()


def bench_iwae(model, images, chunk):
    """IWAE-1000 on each image; returns (seconds, mean L_1000)."""
    start = time.perf_counter()
    bounds = [iwae_bound(model, x, IWAE_K, chunk) for x in images]
    return time.perf_counter() - start, sum(bounds) / len(bounds)


def sampler_figures(name, seconds, iterations):
    """Chain-iterations/s and the implied seconds for 500 iterations."""
    rate = CHAINS * iterations / seconds
    seconds_500 = CHAINS * 500 / rate
    print(f"{name}: {iterations} iterations in {seconds:.2f} s, "
          f"{rate:.0f} chain-iterations/s, "
          f"implied {seconds_500:.2f} s for 500 iterations")
    return rate, seconds_500


def render(rows, results):
    """The markdown table of (workload, PyTorch figures, seconds) rows."""
    lines = [f"PyTorch {results['torch_version']}, {results['threads']} "
             f"threads, cpu capability {results['cpu_capability']}",
             "",
             "| workload | PyTorch | seconds |",
             "| --- | --- | --- |"]
    lines += [f"| {name} | {text} | {seconds:.2f} |"
              for name, text, seconds in rows]
    return "\n".join(lines)


def training_figures(model, train, epochs):
    """Time training; returns (JSON fields, table row)."""
    n = train.shape[0]
    print(f"training {epochs} epochs on {n} images ...")
    seconds = bench_training(model, train, epochs)
    per_50000 = seconds * 50000 / n
    scaled = n != 50000
    if scaled:
        print(f"training: {per_50000:.2f} s per epoch of 50000 images "
              f"(SCALED linearly from {n} images)")
    fields = {
        "epoch_seconds": per_50000,
        "epoch_seconds_measured": seconds,
        "epoch_seconds_scaled": scaled,
        "train_images": n,
        "epochs": epochs,
        "train_samples_per_second": n / seconds,
    }
    label = "training, s per epoch of 50000 images"
    if scaled:
        label += f" (scaled from {n} images)"
    return fields, (label, f"{n / seconds:.0f} samples/s", per_50000)


def sampler_rows(model, images, iterations):
    """Time both samplers; returns (JSON fields, table rows)."""
    print(f"samplers: {iterations} iterations on {CHAINS} chains ...")
    pg_seconds, pg_loglik = pseudo_gibbs(model, images, iterations)
    pg_rate, pg_500 = sampler_figures("pseudo-Gibbs", pg_seconds, iterations)
    print(f"pseudo-Gibbs: final mean log p(x|z) {pg_loglik.mean():.2f}")
    mwg_seconds, acceptance = metropolis_within_gibbs(model, images,
                                                      iterations)
    mwg_rate, mwg_500 = sampler_figures("Metropolis-within-Gibbs",
                                        mwg_seconds, iterations)
    print(f"Metropolis-within-Gibbs: acceptance rate {acceptance:.3f}")
    fields = {
        "pg_500_seconds": pg_500,
        "mwg_500_seconds": mwg_500,
        "iterations": iterations,
        "pg_chain_iterations_per_second": pg_rate,
        "mwg_chain_iterations_per_second": mwg_rate,
        "mwg_acceptance_rate": acceptance,
    }
    rows = [
        ("pseudo-Gibbs, 1000 images x 500 iterations",
         f"{pg_rate:.0f} chain-iterations/s", pg_500),
        ("Metropolis-within-Gibbs, 1000 images x 500 iterations",
         f"{mwg_rate:.0f} chain-iterations/s (acceptance {acceptance:.3f})",
         mwg_500),
    ]
    return fields, rows


def iwae_figures(model, images, chunk):
    """Time IWAE-1000; returns (JSON fields, table row)."""
    n = images.shape[0]
    print(f"IWAE-{IWAE_K} on {n} images (chunks of {chunk}) ...")
    seconds, bound = bench_iwae(model, images, chunk)
    rate = n / seconds
    per_10000 = 10000 / rate
    print(f"IWAE: {n} images in {seconds:.2f} s, {rate:.1f} images/s, "
          f"mean L_{IWAE_K} {bound:.2f}, "
          f"implied {per_10000:.2f} s for 10000 images")
    fields = {
        "iwae_10000_seconds": per_10000,
        "iwae_images": n,
        "iwae_images_per_second": rate,
        "iwae_mean_bound": bound,
    }
    row = (f"IWAE K = {IWAE_K}, 10000 test images",
           f"{rate:.1f} images/s (L_{IWAE_K} = {bound:.2f})", per_10000)
    return fields, row


def main():
    args = parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    results = {
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    print(f"torch {results['torch_version']}, {results['threads']} threads, "
          f"cpu capability {results['cpu_capability']}")

    train = load_split(args.data, "train")[:args.train_images]
    test = load_split(args.data, "test")
    model = Vae()

    fields, row = training_figures(model, train, args.epochs)
    results.update(fields)
    fields, rows = sampler_rows(model, test[:CHAINS], args.iterations)
    results.update(fields)
    rows.insert(0, row)
    fields, row = iwae_figures(model, test[:args.images], args.chunk)
    results.update(fields)
    rows.append(row)

    print()
    print(render(rows, results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
