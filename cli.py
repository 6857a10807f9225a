"""The ``edgenas`` command line: parse arguments, call the library, report errors in one line.

No logic lives here. Every :class:`edgenas.errors.EdgeNASError` becomes
``error: <message>`` on stderr and exit code 2.
"""
from __future__ import annotations

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
    from edgenas.table import LatencyTable
    from edgenas.validate import validate_table
    from profilers import get_profiler

    t = LatencyTable.load(path)
    s = t.space()
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


@cli.command()
@click.argument("arch")
@click.option("--table", "table_path", required=True, type=click.Path(dir_okay=False), help="Latency table.")
@click.option("--breakdown/--no-breakdown", default=True, show_default=True)
def predict(arch, table_path, breakdown):
    """Predicted latency, memory and FLOPs of ARCH (candidate names joined by '-') from a table."""
    from edgenas.cost import CostModel
    from edgenas.table import LatencyTable

    t = LatencyTable.load(table_path)
    s = t.space()
    model = CostModel(s, t)
    a = s.parse(arch)
    p = model.predict(a)
    click.echo(f"{s.format(a)}\nlatency {p.latency_ms[0]:.4f} ms (op sum {p.op_sum_ms[0]:.4f} ms), "
               f"memory {p.memory_bytes[0]/1e6:.3f} MB (params {p.param_bytes[0]/1e6:.3f} MB + peak activations "
               f"{p.peak_activation_bytes[0]/1e6:.3f} MB), {p.flops[0]/1e6:.2f} MFLOPs")
    if breakdown:
        for row in model.breakdown(a):
            click.echo(f"  {row['latency_ms']:9.4f} ms {row['flops']/1e6:8.2f} MFLOPs  {row['name']}")


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
