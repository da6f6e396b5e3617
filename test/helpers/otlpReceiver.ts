// The other end of OTLP/HTTP for tests: what a collector (or Google Cloud's OTLP endpoint) would
// receive from the relay, decoded from http/protobuf or http/json into plain spans.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  links: Array<{ traceId: string; spanId: string }>;
  /** OTLP's Status: code 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  serviceName: string;
  /** The content type it arrived with. */
  encoding: "protobuf" | "json";
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

export interface OtlpReceiver {
  /** OTEL_EXPORTER_OTLP_ENDPOINT for a relay. */
  endpoint: string;
  spans: ReceivedSpan[];
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    if (req.url !== "/v1/traces") {
      res.writeHead(404).end();
      return;
    }
    const type = req.headers["content-type"] ?? "";
    spans.push(...(type.includes("json") ? fromJson(JSON.parse(body.toString("utf8"))) : fromProtobuf(body)));
    res.writeHead(200, { "content-type": type.includes("json") ? "application/json" : "application/x-protobuf" });
    res.end(type.includes("json") ? "{}" : Buffer.alloc(0));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function read(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

type Json = Record<string, unknown>;

function jsonValue(v: Json | undefined): string | number | boolean {
  if (!v) return "";
  if ("stringValue" in v) return String(v.stringValue);
  if ("boolValue" in v) return Boolean(v.boolValue);
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return Number(v.doubleValue);
  return JSON.stringify(v);
}

function fromJson(request: Json): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of (request.resourceSpans as Json[]) ?? []) {
    const resource = Object.fromEntries(
      (((rs.resource as Json)?.attributes as Json[]) ?? []).map((a) => [a.key, jsonValue(a.value as Json)]),
    );
    for (const ss of (rs.scopeSpans as Json[]) ?? []) {
      for (const s of (ss.spans as Json[]) ?? []) {
        out.push({
          traceId: String(s.traceId),
          spanId: String(s.spanId),
          parentSpanId: String(s.parentSpanId ?? ""),
          name: String(s.name),
          kind: Number(s.kind),
          attributes: Object.fromEntries(
            ((s.attributes as Json[]) ?? []).map((a) => [a.key, jsonValue(a.value as Json)]),
          ),
          links: ((s.links as Json[]) ?? []).map((l) => ({ traceId: String(l.traceId), spanId: String(l.spanId) })),
          status: {
            code: Number((s.status as Json | undefined)?.code ?? 0),
            message: String((s.status as Json | undefined)?.message ?? ""),
          },
          serviceName: String(resource["service.name"] ?? ""),
          encoding: "json",
        });
      }
    }
  }
  return out;
}

/** A protobuf message as its fields: number → values (varints as bigint, the rest as bytes). */
function fields(buf: Buffer): Map<number, Array<bigint | Buffer>> {
  const out = new Map<number, Array<bigint | Buffer>>();
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[i++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    let value: bigint | Buffer;
    if (wire === 0) value = varint();
    else if (wire === 1) {
      value = buf.subarray(i, i + 8);
      i += 8;
    } else if (wire === 2) {
      const length = Number(varint());
      value = buf.subarray(i, i + length);
      i += length;
    } else if (wire === 5) {
      value = buf.subarray(i, i + 4);
      i += 4;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

const bytes = (m: Map<number, Array<bigint | Buffer>>, f: number) =>
  (m.get(f)?.[0] as Buffer | undefined) ?? Buffer.alloc(0);
const all = (m: Map<number, Array<bigint | Buffer>>, f: number) => (m.get(f) ?? []) as Buffer[];

function anyValue(buf: Buffer): string | number | boolean {
  const v = fields(buf);
  if (v.has(1)) return bytes(v, 1).toString("utf8");
  if (v.has(2)) return (v.get(2)![0] as bigint) !== 0n;
  if (v.has(3)) return Number(BigInt.asIntN(64, v.get(3)![0] as bigint));
  if (v.has(4)) return (v.get(4)![0] as Buffer).readDoubleLE(0);
  return "";
}

function keyValues(list: Buffer[]): Record<string, string | number | boolean> {
  return Object.fromEntries(
    list.map((kv) => {
      const f = fields(kv);
      return [bytes(f, 1).toString("utf8"), anyValue(bytes(f, 2))];
    }),
  );
}

function fromProtobuf(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of all(fields(body), 1)) {
    const rsFields = fields(rs);
    const resource = keyValues(all(fields(bytes(rsFields, 1)), 1));
    for (const ss of all(rsFields, 2)) {
      for (const s of all(fields(ss), 2)) {
        const f = fields(s);
        out.push({
          traceId: bytes(f, 1).toString("hex"),
          spanId: bytes(f, 2).toString("hex"),
          parentSpanId: bytes(f, 4).toString("hex"),
          name: bytes(f, 5).toString("utf8"),
          kind: Number((f.get(6)?.[0] as bigint | undefined) ?? 0n),
          attributes: keyValues(all(f, 9)),
          links: all(f, 13).map((l) => {
            const lf = fields(l);
            return { traceId: bytes(lf, 1).toString("hex"), spanId: bytes(lf, 2).toString("hex") };
          }),
          status: statusOf(bytes(f, 15)),
          serviceName: String(resource["service.name"] ?? ""),
          encoding: "protobuf",
        });
      }
    }
  }
  return out;
}

/** A Status message: field 2 the message, field 3 the code. */
function statusOf(buf: Buffer): ReceivedSpan["status"] {
  const f = fields(buf);
  return { code: Number((f.get(3)?.[0] as bigint | undefined) ?? 0n), message: bytes(f, 2).toString("utf8") };
}
