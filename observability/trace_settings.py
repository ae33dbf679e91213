"""Whether traces are exported, and how, from OpenTelemetry's own environment variables.

Read without importing OpenTelemetry: with tracing off, the service never loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

# The exporters this service can build: OTLP over HTTP/protobuf, and the SDK's console exporter (JSON on stdout).
EXPORTERS = ("otlp", "console")
# The only OTLP protocol an installed exporter speaks (opentelemetry-exporter-otlp-proto-http).
OTLP_PROTOCOL = "http/protobuf"


def trace_exporters(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The exporters traces go to: none (tracing off) unless ``OTEL_TRACES_EXPORTER`` names some or an OTLP
    endpoint is set. ``OTEL_SDK_DISABLED=true`` and ``OTEL_TRACES_EXPORTER=none`` turn it off whatever else is
    set. Raises ``ValueError``, saying what to change, for an exporter or protocol this service cannot use."""

    def setting(name: str) -> str:
        return environ.get(name, "").strip()

    if setting("OTEL_SDK_DISABLED").lower() == "true":
        return ()
    named = setting("OTEL_TRACES_EXPORTER").lower()
    if named:
        exporters = tuple(dict.fromkeys(name.strip() for name in named.split(",") if name.strip()))
        if exporters == ("none",):
            return ()
        unknown = [name for name in exporters if name not in EXPORTERS]
        if unknown:
            raise ValueError(f"OTEL_TRACES_EXPORTER is {named!r}: use otlp, console, both (otlp,console) or none")
    elif setting("OTEL_EXPORTER_OTLP_ENDPOINT") or setting("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        exporters = ("otlp",)
    else:
        return ()
    if "otlp" in exporters:
        # The traces-specific variable wins over the general one, as in every OpenTelemetry SDK.
        for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
            protocol = setting(name)
            if protocol and protocol != OTLP_PROTOCOL:
                raise ValueError(
                    f"{name} is {protocol!r}: this service exports traces over {OTLP_PROTOCOL} only; set it to"
                    f" {OTLP_PROTOCOL} (or unset it) and point the endpoint at the collector's OTLP/HTTP port"
                    " (4318 by default)"
                )
            if protocol:
                break
    span_settings(environ)  # refused now, not when the first worker starts
    return exporters


# OpenTelemetry's own samplers (OTEL_TRACES_SAMPLER); the rest need packages this service does not install.
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
DEFAULT_SAMPLER = "parentbased_always_on"
# The propagators OpenTelemetry's SDK has built in (OTEL_PROPAGATORS); baggage carries nothing a span needs.
PROPAGATORS = ("tracecontext", "baggage", "none")


class SpanSettings(NamedTuple):
    """How spans are sampled, continued and batched, from OpenTelemetry's variables and with its defaults."""

    sampler: str = DEFAULT_SAMPLER
    ratio: float = 1.0  # of traces started here that the traceidratio samplers keep
    continue_traces: bool = True  # from a request's W3C traceparent
    schedule_delay: float = 5.0  # seconds between exports, at most
    max_queue_size: int = 2048
    max_batch_size: int = 512
    export_timeout: float = 30.0  # seconds the last export may take at shutdown


def _number(environ: Mapping[str, str], name: str, default: float, *, low: float, high: float | None = None) -> float:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = low - 1
    if value < low or (high is not None and value > high):
        bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ValueError(f"{name} is {text!r}: it must be a number {bounds}")
    return value


def span_settings(environ: Mapping[str, str]) -> SpanSettings:
    """Raises ``ValueError``, saying what to change, for a sampler, propagator or batch setting the service
    cannot honour (OpenTelemetry's SDK would warn and fall back to its default)."""
    sampler = environ.get("OTEL_TRACES_SAMPLER", "").strip().lower() or DEFAULT_SAMPLER
    if sampler not in SAMPLERS:
        raise ValueError(f"OTEL_TRACES_SAMPLER is {sampler!r}: use one of {', '.join(SAMPLERS)}")
    ratio = 1.0
    if sampler.endswith("traceidratio"):
        ratio = _number(environ, "OTEL_TRACES_SAMPLER_ARG", 1.0, low=0, high=1)
    named = environ.get("OTEL_PROPAGATORS", "").strip().lower() or "tracecontext,baggage"
    propagators = {name.strip() for name in named.split(",") if name.strip()}
    if not propagators <= set(PROPAGATORS):
        raise ValueError(f"OTEL_PROPAGATORS is {named!r}: use tracecontext, baggage or none")
    milliseconds = 1000.0
    settings = SpanSettings(
        sampler,
        ratio,
        "tracecontext" in propagators,
        _number(environ, "OTEL_BSP_SCHEDULE_DELAY", 5000, low=1) / milliseconds,
        int(_number(environ, "OTEL_BSP_MAX_QUEUE_SIZE", 2048, low=1)),
        int(_number(environ, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, low=1)),
        _number(environ, "OTEL_BSP_EXPORT_TIMEOUT", 30000, low=1) / milliseconds,
    )
    if settings.max_batch_size > settings.max_queue_size:
        raise ValueError("OTEL_BSP_MAX_EXPORT_BATCH_SIZE must be at most OTEL_BSP_MAX_QUEUE_SIZE")
    return settings
