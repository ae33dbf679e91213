"""Whether traces are exported, and how, from OpenTelemetry's own environment variables.

Read without importing OpenTelemetry: with tracing off, the service never loads it.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    return exporters
