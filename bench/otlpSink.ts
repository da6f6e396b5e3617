// The far end of the traced relay's OTLP/HTTP exporter in `--scenario tracing`: answers 200 (an
// empty ExportTraceServiceResponse) to every POST /v1/traces without decoding it, and counts the
// requests and bytes it took (GET /stats). A process of its own, so that its work lands neither
// on the relay nor on the load generator.
//   PORT=0 node bench/otlpSink.ts
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

let requests = 0;
let bytes = 0;

const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ requests, bytes }));
    return;
  }
  req.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
  });
  req.on("end", () => {
    if (req.url !== "/v1/traces") return void res.writeHead(404).end();
    requests += 1;
    const json = (req.headers["content-type"] ?? "").includes("json");
    res.writeHead(200, { "content-type": json ? "application/json" : "application/x-protobuf" });
    res.end(json ? "{}" : "");
  });
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(`otlp sink on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
