"""The ``edgenas`` command line: parse arguments, call the library, report errors in one line.

No logic lives here. Every :class:`edgenas.errors.EdgeNASError` becomes
``error: <message>`` on stderr and exit code 2.
"""
from __future__ import annotations

import json
import os
import sys

import click

from edgenas.errors import EdgeNASError

EXIT_USER_ERROR = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edgenas")
def cli():
    """Hardware-aware neural architecture search for edge models."""


# ---- space -------------------------------------------------------------------
@cli.group()
def space():
    """Inspect search spaces."""


@space.command("show")
@click.argument("name")
def space_show(name):
    """Print the layers and candidates of space NAME (a preset or a JSON file)."""
    from edgenas.space import get_space

    s = get_space(name)
    click.echo(f"space {s.name}: input {s.input_shape}, {s.num_classes} classes, {s.num_layers} searchable layers "
               f"x {s.num_candidates} candidates = {s.size:.3g} architectures, {len(s.op_keys())} distinct ops")
    click.echo(f"candidates: {', '.join(s.candidate_names)}")
    click.echo(f"{'layer':>5} {'stage':>5} {'in':>5} {'out':>5} {'stride':>6} {'input':>7}")
    for i, stage, cin, cout, stride, hw in s.describe():
        click.echo(f"{i:>5} {stage:>5} {cin:>5} {cout:>5} {stride:>6} {hw:>4}x{hw:<3}")


@space.command("sample")
@click.argument("name")
@click.option("-n", default=5, show_default=True, help="How many architectures.")
@click.option("--seed", default=0, show_default=True)
def space_sample(name, n, seed):
    """Print N seeded random architectures of space NAME, one string a line."""
    from edgenas.space import get_space

    s = get_space(name)
    for arch in s.sample(n, seed):
        click.echo(s.format(arch))


# ---- profile -------------------------------------------------------------------
@cli.command()
@click.option("--space", "space_name", default="fbnet-small", show_default=True, help="Preset name or JSON file.")
@click.option("--backend", default="onnxruntime", show_default=True, help="Profiler backend.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Table file to write.")
@click.option("--min-time", default=0.5, show_default=True, type=click.FloatRange(0), help="Seconds of timed runs per op.")
@click.option("--min-runs", default=10, show_default=True, type=click.IntRange(1))
@click.option("--calibration-networks", default=24, show_default=True, type=click.IntRange(2))
@click.option("--restart", is_flag=True, help="Ignore a partial table at --out and measure everything again.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def profile(space_name, backend, threads, out, min_time, min_runs, calibration_networks, restart, quiet):
    """Measure every op of a space on BACKEND into a latency table (resumes a partial table)."""
    from edgenas.measure import TimingProtocol
    from edgenas.profile import profile_space
    from edgenas.progress import progress_bar
    from edgenas.space import get_space
    from profilers import get_profiler

    s = get_space(space_name)
    prof = get_profiler(backend, threads=threads, protocol=TimingProtocol(min_runs=min_runs, min_time_s=min_time))
    with progress_bar(f"profile {s.name} on {backend}", not quiet) as bar:
        table = profile_space(s, prof, out, restart=restart, calibration_networks=calibration_networks, progress=bar)
    st = table.stats
    click.echo(f"wrote {out}: {st['entries']} entries ({st['unstable_entries']} unstable), "
               f"calibration {table.calibration.coef}, {st['last_run_wall_s']:.1f} s wall, "
               f"{st['last_run_timed_s']:.1f} s in timed runs")


# ---- table -------------------------------------------------------------------
@cli.group()
def table():
    """Inspect, validate and compare latency tables."""


@table.command("show")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--entries/--no-entries", default=False, help="List every entry.")
def table_show(path, entries):
    """Print the header, calibration and validation figures of the table at PATH."""
    from edgenas.report import format_table_summary
    from edgenas.table import LatencyTable

    click.echo(format_table_summary(LatencyTable.load(path), entries))


@table.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("-n", default=30, show_default=True, type=click.IntRange(2), help="Held-out architectures.")
@click.option("--seed", default=0, show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False), help="PNG scatter plot (default: next to the table).")
@click.option("--write/--no-write", default=True, show_default=True, help="Store the figures in the table.")
@click.option("--quiet", is_flag=True)
def table_validate(path, n, seed, plot, write, quiet):
    """Measure N held-out networks end to end and score the table's predictions."""
    from edgenas.measure import TimingProtocol
    from edgenas.progress import progress_bar
    from edgenas.report import format_validation, plot_validation
    from edgenas.space import SearchSpace
    from edgenas.table import LatencyTable
    from edgenas.validate import validate_table
    from profilers import get_profiler

    t = LatencyTable.load(path)
    s = SearchSpace.from_dict(t.space_name, t.header["space"]["declaration"])
    prof = get_profiler(t.backend, threads=t.header["runtime"]["threads"],
                        protocol=TimingProtocol.from_json(t.header["protocol"]))
    with progress_bar(f"validate {path}", not quiet) as bar:
        report = validate_table(s, t, prof, n=n, seed=seed, progress=bar)
    click.echo(format_validation(report))
    png = plot or str(path).removesuffix(".json") + ".validation.png"
    plot_validation(report, png, title=f"{t.space_name} on {t.backend}")
    click.echo(f"plot: {png}")
    if write:
        t.validation = report.to_json()
        t.save(path)


@table.command("diff")
@click.argument("a", type=click.Path(dir_okay=False))
@click.argument("b", type=click.Path(dir_okay=False))
def table_diff(a, b):
    """Compare two tables: header fields that differ and per-entry latency ratios."""
    from edgenas.report import format_table_diff
    from edgenas.table import LatencyTable

    click.echo(format_table_diff(LatencyTable.load(a), LatencyTable.load(b)))


# ---- search -------------------------------------------------------------------
@cli.command()
@click.option("--strategy", default="dnas", show_default=True, help="Search strategy, looked up by name.")
@click.option("--space", "space_name", default="fbnet-small", show_default=True, help="Preset name or JSON file.")
@click.option("--table", type=click.Path(dir_okay=False), help="Latency table of the space.")
@click.option("--dataset", default="mnist5k", show_default=True, help="mnist5k, digits, or a folder.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (rerun to resume).")
@click.option("--seed", default=0, show_default=True)
@click.option("--epochs", type=click.IntRange(1), help="Epochs in total, warm-up included.")
@click.option("--alpha", type=float, help="[dnas] loss scale α of CE·α·log(LAT)^β (FBNet 0.2).")
@click.option("--beta", type=float, help="[dnas] latency exponent β (FBNet 0.6).")
@click.option("--target-ms", type=click.FloatRange(min=0, min_open=True),
              help="[dnas] latency budget; β adapts so the found architecture lands on it.")
@click.option("--memory-beta", type=float, help="[dnas] add a log(memory KiB)^β factor to the loss.")
@click.option("--memory-target-bytes", type=click.FloatRange(min=0, min_open=True), help="[dnas] memory budget.")
@click.option("--warmup-epochs", type=click.IntRange(0), help="[dnas] weight-only epochs first.")
@click.option("--batch-size", type=click.IntRange(2), help="[dnas] batch size.")
@click.option("--lr", type=float, help="[dnas] weight learning rate (SGD, cosine).")
@click.option("--theta-lr", type=float, help="[dnas] architecture learning rate (Adam).")
@click.option("--tau0", type=float, help="[dnas] initial Gumbel-softmax temperature (FBNet 5).")
@click.option("--tau-decay", type=float, help="[dnas] τ is multiplied by e^-decay per search epoch (FBNet 0.045).")
@click.option("--samples", type=click.IntRange(0), help="[dnas] architectures sampled from θ (FBNet 6).")
@click.option("--weight-sampling", type=click.Choice(["soft", "hard"]), help="[dnas] mixture or one path per weight step.")
@click.option("--max-batches", type=click.IntRange(1), help="Batches per epoch and split (smoke runs).")
@click.option("--threads", type=click.IntRange(1), help="Torch threads per process.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def search(strategy, space_name, table, dataset, out, seed, epochs, quiet, **options):
    """Search SPACE for architectures under the costs of TABLE, writing the run folder OUT."""
    from pathlib import Path

    from edgenas.progress import epoch_progress
    from edgenas.strategies import SearchRequest, get_strategy

    runner = get_strategy(strategy)
    main_process = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    with epoch_progress(f"search {strategy}", not quiet and main_process) as bar:
        result = runner(SearchRequest(strategy=strategy, out=Path(out), space=space_name, table=table,
                                      dataset=dataset, seed=seed, epochs=epochs, options=options, progress=bar))
    if not main_process:
        return
    best = result.get("most_likely")
    if best:
        click.echo(f"most likely: {best['arch']}  latency {best['latency_ms']:.4g} ms  "
                   f"memory {best['memory_bytes'] / 1024:.1f} KiB  {best['flops'] / 1e6:.3g} MFLOPs")
    for s in result.get("samples", []):
        click.echo(f"sample:      {s['arch']}  latency {s['latency_ms']:.4g} ms  p={s['probability']:.3g}")
    click.echo(f"run folder: {out}")


# ---- train -------------------------------------------------------------------
@cli.command()
@click.argument("arch")
@click.option("--space", "space_name", default="fbnet-small", show_default=True, help="Preset name or JSON file.")
@click.option("--dataset", default="mnist5k", show_default=True, help="mnist5k, digits, or a folder.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (rerun to resume).")
@click.option("--epochs", default=15, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=128, show_default=True, type=click.IntRange(2))
@click.option("--lr", default=0.05, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--seed", default=0, show_default=True, help="Initialisation and shuffling.")
@click.option("--split-seed", default=0, show_default=True, help="Data split; the search's --seed holds out the same test images.")
@click.option("--threads", type=click.IntRange(1), help="Torch threads.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(arch, space_name, dataset, out, epochs, batch_size, lr, seed, split_seed, threads, quiet):
    """Train ARCH from scratch and report its test accuracy.

    ARCH is an architecture string (candidates joined by '-') or a search run folder / result.json,
    whose most likely architecture is taken.
    """
    from edgenas.final import train_architecture
    from edgenas.progress import epoch_progress
    from edgenas.train import TrainConfig

    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    with epoch_progress("train", not quiet) as bar:
        r = train_architecture(arch, out, space=space_name, dataset=dataset, cfg=cfg, split_seed=split_seed,
                               threads=threads, on_epoch=bar)
    click.echo(f"{r['arch']}: test accuracy {r['test_acc']:.4f} on {r['test_images']} held-out images "
               f"({r['epochs']} epochs, {r['params']} parameters); run folder: {out}")


def main(argv=None):
    """Console entry point: run the CLI and turn user errors into one line and exit code 2."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except EdgeNASError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_USER_ERROR)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        click.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
