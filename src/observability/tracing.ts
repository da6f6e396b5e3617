import {
  type Context,
  context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "@opentelemetry/api";

/** The relay's tracer: a no-op (nearly free) unless tracing was started with an exporter. */
export const tracer = trace.getTracer("gigs-webhook-relay");

export { SpanKind, SpanStatusCode, type Span };

export interface Tracing {
  /** True when spans are exported (an OTLP endpoint is configured). */
  readonly enabled: boolean;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/**
 * OpenTelemetry tracing, configured only by the SDK's standard variables: on when an OTLP
 * endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), with
 * OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf by default, http/json), OTEL_SERVICE_NAME,
 * OTEL_TRACES_SAMPLER, OTEL_BSP_* and the rest read by the SDK itself. Off otherwise, or with
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none: the API's no-op tracer, no SDK loaded.
 * `env` decides whether to start; the SDK itself reads the process's environment.
 */
export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<Tracing> {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint || env.OTEL_SDK_DISABLED === "true" || env.OTEL_TRACES_EXPORTER === "none") {
    return { enabled: false, shutdown: async () => undefined };
  }
  // Loaded only when used: the SDK and its exporters cost memory and start-up time.
  const { NodeSDK } = await import("@opentelemetry/sdk-node");
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ? undefined : "gigs-webhook-relay",
    // Spans only: metrics are Prometheus's (GET /metrics), logs are Cloud Logging's (stdout).
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  return { enabled: true, shutdown: () => sdk.shutdown() };
}

/** Pub/Sub's client libraries write the publisher's context as these message attributes. */
const PUBSUB_TRACEPARENT = "googclient_traceparent";
const PUBSUB_TRACESTATE = "googclient_tracestate";

/**
 * The caller's trace context: W3C `traceparent`/`tracestate` from HTTP headers (a direct post),
 * or from a Pub/Sub message's attributes (wrapped push, pull), or from the headers an unwrapped
 * push turns its attributes into — the client libraries' `googclient_traceparent` first.
 */
export function callerContext(lookup: (name: string) => string | undefined): Context {
  const traceparent = lookup(PUBSUB_TRACEPARENT) ?? lookup("traceparent");
  if (!traceparent) return ROOT_CONTEXT;
  const tracestate = lookup(PUBSUB_TRACESTATE) ?? lookup("tracestate");
  return propagation.extract(ROOT_CONTEXT, { traceparent, ...(tracestate ? { tracestate } : {}) });
}

/** The W3C traceparent of a span (what the ledger keeps with a notification), or null when not recording. */
export function traceparentOf(span: Span | undefined): string | null {
  const sc = span?.spanContext();
  if (!sc || !trace.isSpanContextValid(sc)) return null;
  return `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & TraceFlags.SAMPLED).toString(16)}`;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A stored traceparent as a span context (for a parent or a link); undefined when absent or malformed. */
function spanContextOf(traceparent: string | null | undefined): SpanContext | undefined {
  const match = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!match) return undefined;
  return { traceId: match[1]!, spanId: match[2]!, traceFlags: Number.parseInt(match[3]!, 16), isRemote: true };
}

/** The trace id of a stored traceparent (shown in the audit record and on the dashboard). */
export function traceIdOf(traceparent: string | null | undefined): string | null {
  return spanContextOf(traceparent)?.traceId ?? null;
}

/** A context whose parent is the stored traceparent (the notification's own trace), or the active one. */
export function storedContext(traceparent: string | null | undefined): Context {
  const sc = spanContextOf(traceparent);
  return sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : context.active();
}

/** A link to the stored traceparent (a replay links to the notification's trace). */
export function linkTo(traceparent: string | null | undefined): Link[] {
  const sc = spanContextOf(traceparent);
  return sc ? [{ context: sc }] : [];
}

/**
 * Fields for every log line written inside a span, as Cloud Logging groups them by trace:
 * `logging.googleapis.com/trace` (projects/<GOOGLE_CLOUD_PROJECT>/traces/<id>, or the bare id
 * without a project), `logging.googleapis.com/spanId`, `logging.googleapis.com/trace_sampled`.
 */
export function traceLogFields(project: string | undefined): () => Record<string, unknown> {
  return () => {
    const span = trace.getSpan(context.active());
    const sc = span?.spanContext();
    if (!sc || !trace.isSpanContextValid(sc)) return {};
    return {
      "logging.googleapis.com/trace": project ? `projects/${project}/traces/${sc.traceId}` : sc.traceId,
      "logging.googleapis.com/spanId": sc.spanId,
      "logging.googleapis.com/trace_sampled": (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED,
    };
  };
}

/** Runs fn inside a span, ending it (with an error status when fn throws). */
export function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Record<string, string | number | boolean | undefined>; links?: Link[] },
  parent: Context,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  // Attributes left undefined are dropped by the SDK itself (cleanAttributes).
  const span = tracer.startSpan(name, options, parent);
  return endingWith(span, () => context.with(trace.setSpan(parent, span), () => fn(span)));
}

/**
 * Runs fn inside a span that has no children, as a child of the active span: the span is not
 * made the active one (entering a context costs on every call, and nothing under fn makes spans).
 */
export function inLeafSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Record<string, string | number | boolean> },
  fn: () => Promise<T>,
): Promise<T> {
  return endingWith(tracer.startSpan(name, options), fn);
}

/** Ends the span once fn has settled, with an error status (the error's code) when it threw. */
async function endingWith<T>(span: Span, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as { code?: string }).code ?? "error" });
    throw error;
  } finally {
    span.end();
  }
}
