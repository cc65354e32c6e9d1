"""joliba dhis2 …: the DHIS2 emulator."""

from __future__ import annotations

import typer

app = typer.Typer(help="DHIS2 tools.", no_args_is_help=True)


@app.command("emulator")
def emulator(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    seed: int = typer.Option(1, "--seed", help="The synthetic country's seed."),
    scale: float = typer.Option(1.0, "--scale", help="Facilities: about 1 500 x scale."),
    version: str = typer.Option("2.39", "--version", help="DHIS2 version to emulate."),
    token: list[str] = typer.Option(
        [], "--token", help="A personal access token (d2pat_…) to accept; repeatable."
    ),
    latency_ms: float = typer.Option(0.0, "--latency-ms", help="Delay added to every answer."),
    error_rate: float = typer.Option(0.0, "--error-rate", help="Share of 500/502/503 answers."),
    timeout_rate: float = typer.Option(
        0.0, "--timeout-rate", help="Share of requests that hang, then answer 504."
    ),
    conflict_rate: float = typer.Option(
        0.0,
        "--conflict-rate",
        help="Share of valid imported values refused with a conflict (E7642), by seed.",
    ),
) -> None:
    """Serve a DHIS2 emulator: a synthetic country with DHIS2's Web API (user admin/district)."""
    import uvicorn

    from joliba.dhis2.emulator import Faults, create_app
    from joliba.dhis2.emulator.system import SUPPORTED

    if version not in SUPPORTED:
        raise typer.BadParameter(f"one of {', '.join(SUPPORTED)}", param_hint="--version")
    try:
        faults = Faults(
            latency_ms=latency_ms,
            error_rate=error_rate,
            timeout_rate=timeout_rate,
            seed=seed,  # the same command gives the same faults
            conflict_rate=conflict_rate,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    app = create_app(seed=seed, scale=scale, version=version, faults=faults, tokens=token)
    units = len(app.state.emulator.country.collections["organisationUnits"])
    typer.echo(
        f"DHIS2 {version} emulator on http://{host}:{port}/api (seed {seed}, {units} "
        "organisation units; user admin, password district)"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
