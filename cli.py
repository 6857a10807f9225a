"""The ``edgenas`` command line: parse arguments, call the library, report errors in one line.

No logic lives here. Every :class:`edgenas.errors.EdgeNASError` becomes
``error: <message>`` on stderr and exit code 2.
"""
from __future__ import annotations

import os
import sys

import click

from edgenas.errors import EdgeNASError

EXIT_USER_ERROR = 2

# The library's errors name API parameters; here they become the options a user types.
_API_TO_OPTION = {"max_latency_ms": "--max-latency", "max_memory_bytes": "--max-memory", "max_models": "--max-models",
                  "three_seed": "--three-seed", "other_tables": "--other-tables", "tables=[...]": "--table",
                  "target spec": "--target spec", "use another output folder": "use another --out"}


def _in_cli_words(message: str) -> str:
    for api, option in _API_TO_OPTION.items():
        message = message.replace(api, option)
    return message

REFERENCE_OPTION = click.option(
    "--reference/--no-reference", default=True, show_default=True,
    help="Time every op and network in alternating chunks with a fixed reference network and scale it to the "
         "reference's latency, which cancels the drift of a shared machine's (or a warming phone's) speed.")

# The values of edgenas.profiling.profile.OP_LATENCY_CHOICES, repeated here so that the CLI starts without torch.
OP_LATENCY_OPTION = click.option(
    "--op-latency", type=click.Choice(["auto", "in-network", "alone"]), default="auto", show_default=True,
    callback=lambda ctx, param, value: value.replace("-", "_"),
    help="in-network: also time each layer's candidates swapped into a network, and predict from those "
         "(a network runs ops in its own memory layout, which an op timed alone misses); alone: predict from "
         "the ops timed on their own (every table of schema 1); auto: in-network unless a few timings of the "
         "base network say the probes would be noise on this device ('table show' says which and why).")


class BackendChoice(click.Choice):
    """The registered profiler backends (``profilers.BACKENDS``); an unknown name is edgenas's one-line error."""

    def __init__(self):
        from profilers import BACKENDS

        super().__init__(sorted(BACKENDS))

    def get_metavar(self, *args, **kwargs) -> str:
        return "NAME"  # the help lists them below, with whether each is usable here

    def convert(self, value, param, ctx):
        if value not in self.choices:
            from edgenas.errors import UnknownNameError

            raise UnknownNameError("backend", value, self.choices)
        return value


class ListsBackends(click.Command):
    """A command whose help ends with every registered backend and whether it is usable here (a cheap look)."""

    def format_epilog(self, ctx, formatter):
        from profilers import BACKENDS, unusable

        with formatter.section("Backends (usable here, as far as installed packages and a visible NVIDIA GPU tell)"):
            formatter.write_dl([(name, unusable(name) or "usable") for name in sorted(BACKENDS)])
        super().format_epilog(ctx, formatter)


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
    from edgenas.arch.space import get_space

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
    from edgenas.arch.space import get_space

    s = get_space(name)
    for arch in s.sample(n, seed):
        click.echo(s.format(arch))


# ---- profile -------------------------------------------------------------------
@cli.command(cls=ListsBackends)
@click.option("--space", "space_name", default="fbnet-small", show_default=True, help="Preset name or JSON file.")
@click.option("--backend", type=BackendChoice(), default="onnxruntime", show_default=True,
              help="Profiler backend (listed below).")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Table file to write.")
@click.option("--min-time", default=0.5, show_default=True, type=click.FloatRange(0),
              help="Seconds of timed runs per network; an in-network table times ops in 0.2 and probes in 0.4 of it.")
@click.option("--min-runs", default=10, show_default=True, type=click.IntRange(1))
@click.option("--calibration-networks", default=24, show_default=True, type=click.IntRange(2))
@click.option("--restart", is_flag=True, help="Ignore a partial table at --out and measure everything again.")
@click.option("--prefetch/--no-prefetch", default=True, show_default=True,
              help="Export the next ops in a worker on a spare core while one is timed (faster; the worker "
                   "shares the timing core's caches).")
@REFERENCE_OPTION
@OP_LATENCY_OPTION
@click.option("--quiet", is_flag=True, help="No progress bar.")
def profile(space_name, backend, threads, out, min_time, min_runs, calibration_networks, restart, prefetch,
            reference, op_latency, quiet):
    """Measure every op of a space on BACKEND into a latency table (resumes a partial table)."""
    from edgenas.profiling.measure import TimingProtocol
    from edgenas.profiling.profile import profile_space
    from edgenas.progress import progress_bar
    from edgenas.arch.space import get_space
    from profilers import get_profiler

    s = get_space(space_name)
    prof = get_profiler(backend, threads=threads, protocol=TimingProtocol(min_runs=min_runs, min_time_s=min_time,
                                                                          reference=reference))
    before = _file_version(out)
    with progress_bar(f"profile {s.name} on {backend}", not quiet) as bar:
        table = profile_space(s, prof, out, restart=restart, calibration_networks=calibration_networks, progress=bar,
                              workers=None if prefetch else 0, op_latency=op_latency)
    st = table.stats
    if before is not None and _file_version(out) == before:  # a finished table: nothing was measured or written
        click.echo(f"{out} is complete: {len(table.entries)} entries, calibration {table.calibration.describe()}; "
                   f"nothing to measure (--restart measures it again)")
        return
    click.echo(f"wrote {out}: {st['entries']} entries ({st['unstable_entries']} unstable), "
               f"calibration {table.calibration.describe()}, {st['last_run_wall_s']:.1f} s wall, "
               f"{st['last_run_timed_s']:.1f} s in timed runs")


def _file_version(path):
    """What changes when a file is replaced or written: None when there is no file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


@cli.command("profile-many", cls=ListsBackends)
@click.option("--space", "space_name", default="fbnet-small", show_default=True, help="Preset name or JSON file.")
@click.option("--target", "targets", multiple=True,
              help="[NAME=]SPEC, repeatable: a backend (onnxruntime, executorch-xnnpack, ...), "
                   "local:RUNTIME, "
                   "ssh://[USER@]HOST[:PORT]/RUNTIME[?identity=KEY&python=PY&workdir=DIR&cooldown=S"
                   "&known_hosts=FILE&strict_host_key_checking=yes|no|accept-new] or "
                   "adb://SERIAL/RUNTIME[?python=PY&workdir=DIR&cooldown=S&adb=ADB]. A spec runs programs: "
                   "adb=PATH and python=PY name executables, so treat a spec (and a targets file) as code.")
@click.option("--targets", "targets_file", type=click.Path(dir_okay=False),
              help="JSON file: a list of specs, or an object NAME -> SPEC. It is code: its specs name the "
                   "programs to run (adb=, python=); use only targets files you trust.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="One table per target here.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1))
@click.option("--min-time", default=0.5, show_default=True, type=click.FloatRange(0),
              help="Seconds of timed runs per network; an in-network table times ops in 0.2 and probes in 0.4 of it.")
@click.option("--min-runs", default=10, show_default=True, type=click.IntRange(1))
@click.option("--calibration-networks", default=24, show_default=True, type=click.IntRange(2))
@click.option("--restart", is_flag=True, help="Ignore partial tables and measure everything again.")
@click.option("--ray", "ray", default="local", show_default=True,
              help="'local' (a local cluster, one task per device host) or HOST:PORT of a running cluster.")
@click.option("--no-ray", is_flag=True, help="Profile the hosts one after the other in this process.")
@REFERENCE_OPTION
@OP_LATENCY_OPTION
def profile_many_cmd(space_name, targets, targets_file, out_dir, threads, min_time, min_runs, calibration_networks,
                     restart, ray, no_ray, reference, op_latency):
    """Profile a space on several devices at once: a table per target; rerun to resume each one."""
    import json

    from edgenas.errors import ConfigError
    from edgenas.profiling.measure import TimingProtocol
    from edgenas.arch.space import get_space
    from edgenas.profiling.many import profile_many

    specs = list(targets)
    if targets_file:
        try:
            data = json.loads(open(targets_file).read())
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read targets file {targets_file}: {e}") from None
        if isinstance(data, dict):
            data = [f"{k}={v}" for k, v in data.items()]
        if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
            raise ConfigError(f"targets file {targets_file} must hold a JSON list of target specs (strings) "
                              f"or an object NAME -> SPEC, not {type(data).__name__}")
        specs += data
    s = get_space(space_name)
    results = profile_many(s, specs, out_dir, threads=threads, restart=restart,
                           protocol=TimingProtocol(min_runs=min_runs, min_time_s=min_time, reference=reference),
                           calibration_networks=calibration_networks, op_latency=op_latency,
                           ray=None if no_ray else ray)
    for r in results:
        click.echo(f"{r.name:<20} {'ok' if r.ok else 'FAILED':<6} {r.table}: {r.message}")
    failed = [r.name for r in results if not r.ok]
    if failed:
        raise ConfigError(f"{len(failed)} of {len(results)} targets failed ({', '.join(failed)}); "
                          f"rerun the same command to resume them")


# ---- table -------------------------------------------------------------------
@cli.group()
def table():
    """Inspect, validate and compare latency tables."""


@table.command("show")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--entries/--no-entries", default=False, help="List every entry.")
def table_show(path, entries):
    """Print the header, calibration and validation figures of the table at PATH."""
    from edgenas.profiling.report import format_table_summary
    from edgenas.tables.table import LatencyTable

    click.echo(format_table_summary(LatencyTable.load(path), entries))


@table.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("-n", default=30, show_default=True, type=click.IntRange(2), help="Held-out architectures.")
@click.option("--seed", default=0, show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False),
              help="PNG scatter plot (default: next to the table, unless --no-write).")
@click.option("--write/--no-write", default=True, show_default=True, help="Store the figures in the table.")
@click.option("--target", help="Where to measure a device table (its profile-many SPEC); default: this host.")
@click.option("--quiet", is_flag=True)
def table_validate(path, n, seed, plot, write, target, quiet):
    """Measure N held-out networks end to end and score the table's predictions."""
    from edgenas.progress import progress_bar
    from edgenas.profiling.report import format_validation, plot_validation
    from edgenas.profiling.table_profiler import table_profiler
    from edgenas.tables.table import LatencyTable
    from edgenas.profiling.validate import validate_table

    t = LatencyTable.load(path)
    s = t.space()
    prof = table_profiler(t, target=target)
    with progress_bar(f"validate {path}", not quiet) as bar:
        report = validate_table(s, t, prof, n=n, seed=seed, progress=bar)
    click.echo(format_validation(report))
    # --no-write leaves the table's files alone: the plot beside it belongs to its stored validation
    png = plot or (str(path).removesuffix(".json") + ".validation.png" if write else None)
    if png:
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
    from edgenas.profiling.report import format_table_diff
    from edgenas.tables.table import LatencyTable

    click.echo(format_table_diff(LatencyTable.load(a), LatencyTable.load(b)))


@cli.command()
@click.argument("arch")
@click.option("--table", "table_path", required=True, type=click.Path(dir_okay=False), help="Latency table.")
@click.option("--breakdown/--no-breakdown", default=True, show_default=True)
def predict(arch, table_path, breakdown):
    """Predicted latency, memory and FLOPs of ARCH (candidate names joined by '-') from a table."""
    from edgenas.tables.cost import CostModel
    from edgenas.tables.table import LatencyTable

    t = LatencyTable.load(table_path)
    s = t.space()
    model = CostModel(s, t)
    a = s.parse(arch)
    p = model.predict(a)
    click.echo(f"{s.format(a)}\nlatency {p.latency_ms[0]:.4f} ms (op sum {p.op_sum_ms[0]:.4f} ms), "
               f"memory {p.memory_bytes[0]/1e6:.3f} MB (params {p.param_bytes[0]/1e6:.3f} MB + peak activations "
               f"{p.peak_activation_bytes[0]/1e6:.3f} MB), {p.flops[0]/1e6:.2f} MFLOPs")
    uncounted = model.flops_uncounted(a)
    if uncounted:
        click.echo(f"FLOPs exclude: {', '.join(uncounted)} (ops fvcore could not count)")
    if breakdown:
        for row in model.breakdown(a):
            excluded = f"  (FLOPs exclude {', '.join(row['flops_uncounted'])})" if row["flops_uncounted"] else ""
            click.echo(f"  {row['latency_ms']:9.4f} ms {row['flops']/1e6:8.2f} MFLOPs  {row['name']}{excluded}")


# ---- supernet ------------------------------------------------------------------
@cli.group()
def supernet():
    """Train weight-sharing supernets."""


@supernet.command("train")
@click.option("--mode", type=click.Choice(["spos"]), default="spos", show_default=True,
              help="spos: uniform single-path sampling (DNAS supernets come from 'search dnas').")
@click.option("--space", "space_name", default="fbnet-small", show_default=True, help="Preset name or JSON file.")
@click.option("--dataset", default="mnist5k", show_default=True, help="mnist5k, digits, or a dataset folder.")
@click.option("--epochs", default=10, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1))
@click.option("--lr", default=0.1, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option("--anchor-warmup", default=0.2, show_default=True, type=click.FloatRange(0, 1, min_open=True),
              help="First epoch's chance of a uniform draw in shape-changing layers (else the layer's largest "
                   "candidate); rises to 1 by the last epoch. 1: plain uniform SPOS.")
@click.option("--sandwich", type=click.Choice(["none", "largest", "distill"]), default="distill", show_default=True,
              help="Each step also trains the path of every layer's largest candidate (largest); distill: and the "
                   "sampled path learns from its predictions. ~2.8x the training time; ranks the accurate end.")
@click.option("--max-batches", type=click.IntRange(1), help="Cap batches per epoch (quick runs).")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (resumes a partial one).")
@click.option("--quiet", is_flag=True)
def supernet_train(mode, space_name, dataset, epochs, batch_size, lr, anchor_warmup, sandwich, max_batches, seed, out,
                   quiet):
    """Train a supernet into OUT (checkpoint.pt + config.json), for 'edgenas search --supernet OUT'."""
    from edgenas.arch.space import get_space
    from edgenas.progress import progress_bar
    from edgenas.train.spos import train_spos
    from edgenas.train.loop import TrainConfig

    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    with progress_bar("supernet train", not quiet) as bar:
        history = train_spos(get_space(space_name), dataset, out, cfg, max_batches=max_batches, progress=bar,
                             anchor_warmup=anchor_warmup, sandwich=sandwich)
    last = history[-1]
    click.echo(f"epoch {last['epoch']}/{epochs}: loss {last['train_loss']:.4f}, "
               f"sampled-path accuracy {100 * last['train_acc']:.2f}%")
    click.echo(f"wrote {out}/checkpoint.pt and {out}/config.json")


# ---- search --------------------------------------------------------------------
_SCALARS = {"int": int, "float": float, "str": str, "bool": bool}


def _strategy_option(f) -> click.Option:
    """A click option for one field of a strategy's Config: its type, allowed values and help from the field."""
    name = "--" + f.name.replace("_", "-")
    kind = str(f.type).replace("Optional[", "").rstrip("]")
    help_text = f.metadata.get("help", "")
    if kind == "bool":
        return click.Option([f"{name}/--no-{name[2:]}"], default=None, help=f"{help_text} [default: {f.default}]")
    choices = f.metadata.get("choices")
    return click.Option([name], type=click.Choice(choices) if choices else _SCALARS.get(kind, str), default=None,
                        help=f"{help_text} [default: {f.default}]")


def _common_search_options(uses_estimator: bool, trains_on_ray: bool = False):
    opts = [
        click.Option(["--table", "tables"], multiple=True, required=True, type=click.Path(dir_okay=False),
                     help="Latency table of the space (see 'edgenas profile'); repeat for several targets."),
        click.Option(["--max-latency", "max_latency_ms"], multiple=True,
                     callback=lambda c, p, v: [parse_latency(x) for x in v],
                     help="Latency budget (5ms, 0.5s, 800us): one for all tables, or one per --table."),
        click.Option(["--max-memory", "max_memory_bytes"], callback=lambda c, p, v: parse_memory(v) if v else None,
                     help="Memory budget: parameters + peak activations (2MB, 512KiB)."),
        click.Option(["--objective", "objectives"], multiple=True, type=click.Choice(["memory", "params", "flops"]),
                     help="Also minimise this (repeatable). Error and latency always are."),
        click.Option(["--other-tables"], type=click.Choice(["objective", "constraint"]), default="objective",
                     show_default=True, help="Latency of tables after the first: an objective each, or budget only."),
        click.Option(["--dataset"], help="mnist5k, digits, or a folder (default: the estimator's, else mnist5k)."),
        click.Option(["--seed"], default=0, show_default=True, type=int),
        click.Option(["--out"], required=True, type=click.Path(file_okay=False),
                     help="Run folder; rerunning the same command resumes it."),
        click.Option(["--plot/--no-plot"], default=True, show_default=True, help="Write result.png."),
        click.Option(["--quiet"], is_flag=True, help="No progress bar."),
    ]
    if uses_estimator:
        opts += [
            click.Option(["--estimator"], required=True,
                         help="Accuracy estimator: bench[:PATH] (the benchmark of trained architectures), "
                              "supernet:PATH (a trained supernet), oracle (synthetic, for benchmarking search)."),
            click.Option(["--estimator-option", "estimator_options"], multiple=True, metavar="KEY=VALUE",
                         callback=lambda c, p, v: _key_values(v),
                         help="An option of the estimator (supernet: bn_batches, eval_batches, batch_size, threads)."),
            click.Option(["--ray"], is_flag=False, flag_value="local", default=None,
                         help="Evaluate with Ray: a local cluster, or --ray HOST:PORT for an existing one."),
        ]
    elif trains_on_ray:
        opts.append(click.Option(["--ray"], is_flag=False, flag_value="local", default=None,
                                 help="Train the networks as Ray tasks (--workers at a time; without it as many as "
                                      "the cluster's CPUs hold): a local cluster, or --ray HOST:PORT for an existing "
                                      "one."))
    return opts


def _key_values(items):
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _strategy_command(name: str) -> click.Command:
    from dataclasses import fields

    from edgenas.search.strategies import get_strategy

    strategy = get_strategy(name)
    config_fields = [f for f in fields(strategy.Config)]

    def callback(tables, out, quiet, plot, **values):
        from edgenas.progress import progress_bar
        from edgenas.search.report import format_result
        from edgenas.search.setup import search

        config = {f.name: values.pop(f.name) for f in config_fields}
        main_process = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
        with progress_bar(f"search {name}", not quiet and main_process) as bar:
            doc = search(name, list(tables), out, config=config, plot=plot, progress=bar, **values)
        if main_process:
            click.echo(format_result(doc))
            click.echo(f"run folder: {out}")

    import inspect

    doc = (inspect.getdoc(strategy) or "").split("\n\n")[0]
    return click.Command(name, callback=callback, help=f"{strategy.summary}.\n\n{doc}",
                         params=_common_search_options(strategy.uses_estimator, strategy.trains_on_ray)
                         + [_strategy_option(f) for f in config_fields])


class _StrategyGroup(click.Group):
    """One subcommand per registered strategy, built from its Config when asked for (no import to list them)."""

    def list_commands(self, ctx):
        from edgenas.search.strategies import names

        return names()

    def get_command(self, ctx, name):
        from edgenas.search.strategies import STRATEGIES

        return _strategy_command(name) if name in STRATEGIES else None

    def format_commands(self, ctx, formatter):
        from edgenas.search.strategies import names, summary

        with formatter.section("Strategies"):
            formatter.write_dl([(n, summary(n)) for n in names()])


@cli.group(cls=_StrategyGroup)
def search():
    """Search for architectures under the costs of the latency table(s): edgenas search STRATEGY --help.

    Every strategy writes the run folder --out: its settings, its journal or checkpoint, result.json (the
    Pareto set, or the one architecture it selects, with its sources) and result.png. Rerunning the same
    command resumes the run; a rerun with other settings is refused, naming them.
    """


def parse_latency(text):
    from edgenas.units import parse_latency_ms

    return parse_latency_ms(text)


def parse_memory(text):
    from edgenas.units import parse_bytes

    return parse_bytes(text)


# ---- train -------------------------------------------------------------------
@cli.command()
@click.argument("arch")
@click.option("--space", "space_name", default="fbnet-small", show_default=True, help="Preset name or JSON file.")
@click.option("--dataset", default="mnist5k", show_default=True, help="mnist5k, digits, or a folder.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (rerun to resume).")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=128, show_default=True, type=click.IntRange(2))
@click.option("--lr", default=0.05, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--seed", default=0, show_default=True, help="Initialisation and shuffling.")
@click.option("--split-seed", default=0, show_default=True, help="Data split; the search's --seed holds out the same test images.")
@click.option("--threads", type=click.IntRange(1), help="Torch threads.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(arch, space_name, dataset, out, epochs, batch_size, lr, seed, split_seed, threads, quiet):
    """Train ARCH from scratch and report its test accuracy.

    ARCH is an architecture string (candidates joined by '-') or a search run folder / result.json,
    whose selected architecture is taken (with a budget: the most likely one within it).
    """
    from pathlib import Path

    from edgenas.progress import progress_bar
    from edgenas.search.result import selected_architecture
    from edgenas.train.final import train_architecture
    from edgenas.train.loop import TrainConfig

    if Path(arch).exists() or arch.endswith(".json"):  # a search run (or its result.json): the architecture it chose
        arch, space_name = selected_architecture(arch)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    with progress_bar(enabled=not quiet) as bar:
        r = train_architecture(arch, out, space=space_name, dataset=dataset, cfg=cfg, split_seed=split_seed,
                               threads=threads, progress=bar)
    click.echo(f"{r['arch']}: test accuracy {r['test_acc']:.4f} on {r['test_images']} held-out images "
               f"({r['epochs']} epochs, {r['params']} parameters); run folder: {out}")


# ---- bench -------------------------------------------------------------------
@cli.group()
def bench():
    """The benchmark of trained architectures: build it, query it, see what it can tell apart."""


def _recipe_options(f):
    """One option per field of the benchmark recipe (a benchmark of another recipe is another benchmark)."""
    from dataclasses import fields

    from edgenas.bench.recipe import Recipe

    for field_ in reversed(fields(Recipe)):
        f = click.option("--" + field_.name.replace("_", "-"), field_.name, type=type(field_.default),
                         default=field_.default, show_default=True, help="Recipe: " + field_.name.replace("_", " ") + ".")(f)
    return f


@bench.command("build")
@click.option("--space", "space_name", default="fbnet-small", show_default=True, help="Preset name or JSON file.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Benchmark file; it is the journal: rerun the same command to continue.")
@click.option("--archs", default=500, show_default=True, type=click.IntRange(1), help="Architectures in the sample.")
@click.option("--three-seed", default=100, show_default=True, type=click.IntRange(0),
              help="Of which the first N are trained with seeds 0, 1 and 2 (the others with seed 0).")
@click.option("--slow", default=100, show_default=True, type=click.IntRange(0),
              help="Then N more spread toward the first table's slow end, one seed each (an existing file of "
                   "fewer grows by them).")
@click.option("--seeds", "min_seeds", default=1, show_default=True, type=click.IntRange(1, 3),
              help="Every architecture trained with at least N seeds (0, 1, 2; an existing file of fewer grows).")
@click.option("--sample-seed", default=0, show_default=True)
@click.option("--tables", "tables_dir", default="latency_tables", show_default=True, type=click.Path(file_okay=False),
              help="Folder whose tables of the space give each architecture's predicted latency.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1),
              help="Trainings at a time, in worker processes of one thread each.")
@click.option("--ray", "use_ray", is_flag=True, help="Train on Ray (RAY_ADDRESS, or a local cluster).")
@click.option("--limit", type=click.IntRange(0), help="Stop after this many trainings (continue later).")
@_recipe_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
def bench_build(space_name, out, archs, three_seed, slow, min_seeds, sample_seed, tables_dir, workers, use_ray, limit,
                quiet, **recipe):
    """Train a stratified sample of a space's architectures from scratch with one fixed recipe."""
    from edgenas.arch.space import get_space
    from edgenas.bench.build import build
    from edgenas.bench.recipe import Recipe
    from edgenas.bench.report import summary
    from edgenas.progress import progress_bar

    with progress_bar("bench", not quiet) as bar:
        b = build(out, get_space(space_name), Recipe(**recipe), archs=archs, three_seed=three_seed, slow=slow,
                  min_seeds=min_seeds, sample_seed=sample_seed, tables_dir=tables_dir, workers=workers,
                  use_ray=use_ray, limit=limit, progress=bar)
    click.echo("\n".join(summary(b, with_surrogate=False)))


@bench.command("measure")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--space", "space_name", default="fbnet-small", show_default=True, help="Space of the shipped benchmark.")
@click.option("--table", "tables", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="A table of the benchmark's space; its own profiler times each network (repeatable).")
@click.option("--limit", type=click.IntRange(0), help="Stop after this many networks per table (continue later).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def bench_measure(path, space_name, tables, limit, quiet):
    """Time each architecture's whole network with a table's own profiler (on a quiet machine); resumes."""
    from edgenas.bench.measure import measure, measured_vs_predicted
    from edgenas.progress import progress_bar

    path = _bench_path(path, space_name)
    for table in tables:
        with progress_bar(f"measure {os.path.basename(table)}", not quiet) as bar:
            b = measure(path, table, limit=limit, progress=bar)
        m = measured_vs_predicted(b, os.path.basename(table))
        if m:
            click.echo(f"{m['table']}: {m['networks']} networks measured; prediction within ±10 % for "
                       f"{100 * m['within_10pct']:.0f} %, MAPE {100 * m['mape']:.1f} %")


def _bench_path(path, space_name):
    from edgenas.arch.space import get_space
    from edgenas.bench.query import shipped

    return path or shipped(get_space(space_name))


@bench.command("query")
@click.argument("arch")
@click.option("--bench", "path", type=click.Path(dir_okay=False), help="Benchmark file (default: the shipped one).")
@click.option("--space", "space_name", default="fbnet-small", show_default=True, help="Space of the shipped benchmark.")
@click.option("--tables", "tables_dir", type=click.Path(file_okay=False),
              help="Folder whose tables of the space give the latency of the architecture (default: the project's "
                   "latency_tables/).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_query(arch, path, space_name, tables_dir, as_json):
    """Accuracy (trained, or the surrogate's estimate), latency per table, memory and parameters of ARCH."""
    import json

    from edgenas.bench.build import space_tables
    from edgenas.bench.benchfile import Benchmark
    from edgenas.bench.query import TABLES, BenchmarkOracle

    path = _bench_path(path, space_name)
    space = Benchmark.load(path).space
    r = BenchmarkOracle(path, space_tables(space, tables_dir or TABLES)).query(arch)
    if as_json:
        click.echo(json.dumps(r, indent=1))
        return
    for metric in ("val_acc", "test_acc"):
        m = r[metric]
        spread = f" ± {100 * m['std']:.2f}" if m["std"] is not None else ""
        click.echo(f"{metric:>8}: {100 * m['value']:.2f}{spread} %  ({m['source']})")
    f = r["features"]
    for table, ms in f["latency_ms"].items():
        click.echo(f"{'latency':>8}: {ms:.4g} ms  ({table})")
    click.echo(f"{'params':>8}: {f['params']}   FLOPs {f.get('flops', 'n/a')}   memory {f.get('memory_bytes', 'n/a')} bytes")


@bench.command("show")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--space", "space_name", default="fbnet-small", show_default=True, help="Space of the shipped benchmark.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write accuracy against latency as a PNG.")
@click.option("--trees", default=400, show_default=True, type=click.IntRange(1),
              help="Trees of each of the 5 boosted models of the surrogate scored by 5-fold cross-validation.")
def bench_show(path, space_name, plot, trees):
    """Progress, seed noise against the spread between architectures, the surrogate's held-out ranking."""
    from edgenas.bench.benchfile import Benchmark
    from edgenas.bench.report import plot as plot_bench, summary

    b = Benchmark.load(_bench_path(path, space_name))
    click.echo("\n".join(summary(b, trees=trees)))
    if plot:
        click.echo(f"plot: {plot_bench(b, plot)}")


# ---- export and quickstart ---------------------------------------------------------
@cli.command("export")
@click.argument("run", type=click.Path())
@click.option("--models", "models", multiple=True, default=("pareto",), show_default=True,
              help="'pareto' (every Pareto member, at most --max-models spread along the front), a Pareto index, "
                   "or an architecture string; repeatable or comma-separated (--models 0,3).")
@click.option("--format", "formats", multiple=True, default=("onnx",), show_default=True,
              help="onnx, executorch (.pte, XNNPACK) or tensorrt (FP32/FP16/INT8 engines); repeatable. "
                   "ONNX is always written. Models are measured by the table's own backend; a format it cannot "
                   "run is reported as not timed.")
@click.option("--out", required=True, type=click.Path(), help="Output folder (rerun to resume).")
@click.option("--init", type=click.Choice(["scratch", "supernet", "inherited"]), default="scratch", show_default=True,
              help="Train from scratch, fine-tune the weights inherited from the search's supernet, or fine-tune "
                   "the networks a nash or lemonade search trained (their members' weights).")
@click.option("--epochs", default=10, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=128, show_default=True, type=click.IntRange(2))
@click.option("--lr", default=0.05, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--seed", default=0, show_default=True)
@click.option("--max-models", default=5, show_default=True, type=click.IntRange(1), help="Cap of --models pareto.")
@click.option("--table", "table_path", type=click.Path(dir_okay=False), help="Latency table (default: the search's).")
@click.option("--dataset", help="Dataset (default: the one the search used).")
@click.option("--baseline", "baselines", multiple=True, type=click.FloatRange(min=0, min_open=True),
              help="Also train and measure MobileNetV2 at this width multiplier (repeatable).")
@click.option("--threads", type=click.IntRange(1), help="Torch threads for training.")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1),
              help="Trainings at a time, in worker processes, before any model is exported and measured.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def export_cmd(run, models, formats, out, init, epochs, batch_size, lr, seed, max_models, table_path, dataset,
               baselines, threads, jobs, quiet):
    """Train, export, verify and measure the architectures of the search run folder RUN; write a report.

    Each model lands in OUT/models/<id>/ (model.onnx, model.pte, model.<precision>.engine, export.json);
    OUT/deploy.json, OUT/report.md and OUT/report.png compare measured with predicted latency.
    """
    from edgenas.deploy.pipeline import ExportOptions, deploy_models
    from edgenas.progress import progress_bar

    opts = ExportOptions(run=run, out=out, models=models, formats=formats, init=init, epochs=epochs,
                         batch_size=batch_size, lr=lr, seed=seed, max_models=max_models, table=table_path,
                         dataset=dataset, baselines=baselines, threads=threads, jobs=jobs)
    with progress_bar("export", not quiet) as bar:
        doc = deploy_models(opts, progress=bar)
    click.echo(_deploy_summary(doc, out))


def _deploy_summary(doc, out) -> str:
    lines = []
    for m in doc["models"] + doc["baselines"]:
        pred = (m.get("predicted") or {}).get("latency_ms")
        err = f"{m['error_pct']:+.1f}%" if m.get("error_pct") is not None else "-"
        ms = m["measured"].get("latency_ms")
        lines.append(f"{m['id']:>10}  acc {100 * m['accuracy']:6.2f}%  measured {'%.4f ms' % ms if ms else '-':>9}  "
                     f"predicted {'%.4f ms' % pred if pred else '-':>10}  error {err:>7}  "
                     f"{m.get('arch', 'MobileNetV2 x%g' % m.get('width', 0))}")
    st = doc["prediction"]
    if st["n"]:
        lines.append(f"prediction after export: {100 * st['within_10pct']:.0f}% of {st['n']} within ±10% "
                     f"(MAPE {st['mape_pct']:.1f}%)")
        adj = st.get("control_adjusted") or {}
        if adj.get("n"):
            lines[-1] += (f"; adjusted for the machine's move since the profile (control networks): "
                          f"{100 * adj['within_10pct']:.0f}% (MAPE {adj['mape_pct']:.1f}%)")
    elif doc.get("not_measured"):
        lines.append(f"not measured: the table's backend {doc.get('table_backend')!r} cannot run here "
                     f"({doc['not_measured']})")
    for name, why in (doc.get("formats_not_timed") or {}).items():
        lines.append(f"{name} not timed: {why}")
    for r in doc["versus_baselines"]:
        if not r["match"]:
            lines.append(f"{r['baseline']}: no searched model reaches its accuracy")
        elif r["speedup"] >= 1:
            lines.append(f"{r['baseline']}: {r['match']} is {r['speedup']:.2f}x faster at >= its accuracy")
        else:  # the fastest model at least as accurate is slower than the baseline
            lines.append(f"{r['baseline']}: {r['match']} is {1 / r['speedup']:.2f}x slower at >= its accuracy")
    lines.append(f"report: {out}/report.md, {out}/report.png")
    return "\n".join(lines)


@cli.command()
@click.option("--out", default="runs/quickstart", show_default=True, type=click.Path(), help="Run folder (resumes).")
@click.option("--fast", is_flag=True, help="Tiny sizes on the digits dataset: every stage in about a minute.")
@click.option("--table", "table_path", type=click.Path(dir_okay=False), help="Use this table instead of profiling.")
@click.option("--dataset", help="Dataset (default mnist5k; digits with --fast).")
@click.option("--epochs", type=click.IntRange(1), help="Final-training epochs per exported model.")
@click.option("--models", type=click.IntRange(1), help="How many Pareto models to export.")
@click.option("--baseline", "baselines", multiple=True, type=click.FloatRange(min=0, min_open=True),
              help="MobileNetV2 width multipliers to compare with (repeatable; default 0.25 and 0.5).")
@click.option("--no-baselines", is_flag=True, help="Skip the MobileNetV2 baselines.")
@click.option("--estimator", type=click.Choice(["auto", "bench", "supernet"]),
              help="Accuracy estimate of the search: the benchmark of trained architectures edgenas ships for the "
                   "space and dataset, or a SPOS supernet trained here (default auto: the benchmark where one ships).")
@click.option("--seed", type=click.IntRange(0), help="Seed of the supernet, the search and the final trainings (0).")
@click.option("--threads", type=click.IntRange(1), help="Torch threads for training (default 1).")
@click.option("--jobs", type=click.IntRange(1),
              help="Final trainings at a time in the export stage (default: 2 on two or more cores).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def quickstart(out, fast, table_path, dataset, epochs, models, baselines, no_baselines, estimator, seed, threads, jobs,
               quiet):
    """Profile this CPU, estimate accuracy (shipped benchmark or a supernet), search with NSGA-II, export the Pareto
    set and report, in one go."""
    from edgenas.progress import progress_bar
    from edgenas.quickstart import QuickstartConfig, fast_config, run_quickstart

    over = {k: v for k, v in {"table": table_path, "dataset": dataset, "epochs": epochs, "models": models,
                              "estimator": estimator, "seed": seed, "threads": threads,
                              "train_jobs": jobs}.items() if v is not None}
    if baselines or no_baselines:
        over["baselines"] = () if no_baselines else tuple(baselines)
    cfg = fast_config(out, **over) if fast else QuickstartConfig(out=out, **over)
    with progress_bar("quickstart", not quiet) as bar:
        doc = run_quickstart(cfg, progress=bar, log=click.echo)
    click.echo(_deploy_summary(doc, f"{out}/deploy"))
    click.echo(f"done in {doc['quickstart_wall_s_this_session']:.0f} s; run folder: {out}")


def main(argv=None):
    """Console entry point: run the CLI and turn user errors into one line and exit code 2."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except EdgeNASError as e:
        click.echo(f"error: {_in_cli_words(str(e))}", err=True)
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
