import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeEvent, wrapped } from "../helpers/events.ts";
import { parseScrape, type Scrape } from "../helpers/prometheusText.ts";
import { type Harness, startHarness } from "../helpers/relayHarness.ts";

// Every PromQL expression shipped in deploy/ (the alert rules and the Grafana dashboard) must name
// metrics, labels and label values a real relay serves: a renamed metric or a mistyped label
// would otherwise leave an alert that can never fire and a panel that stays empty.
const ROOT = join(import.meta.dirname, "../..");
const OPERATOR = "operator-token-0123456789abcdef";

interface Matcher {
  label: string;
  op: "=" | "!=" | "=~" | "!~";
  value: string;
}
interface Selector {
  name: string;
  matchers: Matcher[];
}

/** The `expr` values of a Prometheus rule file (plain scalars, quoted, or `|` blocks). */
function ruleExpressions(yaml: string): string[] {
  const lines = yaml.split("\n");
  const out: string[] = [];
  for (const [i, line] of lines.entries()) {
    const match = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!match) continue;
    const [, indent, value] = match as unknown as [string, string, string];
    if (/^[|>][-+]?$/.test(value)) {
      const block: string[] = [];
      for (const next of lines.slice(i + 1)) {
        if (next.trim() !== "" && next.length - next.trimStart().length <= indent.length) break;
        block.push(next.trim());
      }
      out.push(block.join("\n").trim());
    } else if (/^(['"]).*\1$/.test(value)) {
      out.push(value[0] === '"' ? JSON.parse(value) : value.slice(1, -1).replaceAll("''", "'"));
    } else out.push(value.trim());
  }
  return out;
}

/** Every query of a Grafana dashboard's panels (rows' panels included). */
function dashboardExpressions(dashboard: { panels?: unknown[] }): string[] {
  const out: string[] = [];
  const visit = (panel: { panels?: unknown[]; targets?: Array<{ expr?: string }> }) => {
    for (const target of panel.targets ?? []) if (target.expr) out.push(target.expr);
    for (const child of panel.panels ?? []) visit(child as typeof panel);
  };
  for (const panel of dashboard.panels ?? []) visit(panel as Parameters<typeof visit>[0]);
  return out;
}

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"]);
const LABEL_LISTS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);

/** The series selectors of a PromQL expression: metric names with their label matchers. */
function selectors(expr: string): Selector[] {
  const text = expr.replaceAll("$__rate_interval", "5m");
  const out: Selector[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i += 1;
  };
  const skipString = () => {
    const quote = text[i]!;
    i += 1;
    while (i < text.length && text[i] !== quote) i += text[i] === "\\" ? 2 : 1;
    i += 1;
  };
  const skipParenthesized = () => {
    let depth = 0;
    do {
      if (text[i] === "(") depth += 1;
      else if (text[i] === ")") depth -= 1;
      i += 1;
    } while (depth > 0 && i < text.length);
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' || c === "'" || c === "`") skipString();
    else if (c === "[") i = text.indexOf("]", i) + 1;
    else if (/[0-9.]/.test(c)) while (i < text.length && /[\w.]/.test(text[i]!)) i += 1;
    else if (/[a-zA-Z_:]/.test(c)) {
      const word = /^[a-zA-Z_:][\w:]*/.exec(text.slice(i))![0];
      i += word.length;
      skipSpace();
      const next = /^[a-zA-Z_]\w*/.exec(text.slice(i))?.[0];
      if (LABEL_LISTS.has(word)) {
        if (text[i] === "(") skipParenthesized();
      } else if (text[i] === "(" || next === "by" || next === "without" || KEYWORDS.has(word.toLowerCase())) {
        // A function, an aggregation (`sum by (job) (…)`), or an operator.
      } else {
        const matchers: Matcher[] = [];
        if (text[i] === "{") {
          const end = text.indexOf("}", i);
          for (const [, label, op, value] of text
            .slice(i + 1, end)
            .matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g))
            matchers.push({ label: label!, op: op as Matcher["op"], value: JSON.parse(`"${value}"`) });
          i = end + 1;
        }
        out.push({ name: word, matchers });
      }
    } else i += 1;
  }
  return out;
}

/** The family a sample name belongs to in this scrape (a histogram's _bucket, _sum and _count are its own). */
function familyOf(scrape: Scrape, name: string): string | undefined {
  if (scrape.types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  return base !== name && scrape.types.get(base) === "histogram" ? base : undefined;
}

let h: Harness;
let scrape: Scrape;
let now = Date.now();
beforeAll(async () => {
  h = await startHarness({ API_TOKENS: OPERATOR }, { clock: { now: () => now } });
  const post = (body: unknown) =>
    h.http
      .post("/notifications")
      .set("authorization", `Bearer ${OPERATOR}`)
      .send(body as object);
  // Traffic that makes the labelled series the queries read: delivered posts and pushes…
  await post(makeEvent()).expect(200);
  await post(wrapped(makeEvent())).expect(200);
  // …a push that can never be delivered (quarantined)…
  await post(wrapped({ ...makeEvent(), time: "yesterday" })).expect(200);
  // …a 429 from Svix (the event queued), then an event queued at once during its Retry-After…
  h.emulator.faults.add({ kind: "status", status: 429, retryAfter: "1", times: 1, operation: "message.create" });
  const throttled = makeEvent();
  await post(throttled).expect(202);
  await post(makeEvent()).expect(202);
  // …an operator's replay refused without a Svix call (shed) while the Retry-After lasts…
  await h.http.post(`/notifications/${throttled.id}/replay`).set("authorization", `Bearer ${OPERATOR}`);
  // …a post the relay could not record (503: the ledger is gone)…
  await h.container.db.sql.query("ALTER TABLE notifications RENAME TO notifications_away", []);
  await post(makeEvent()).expect(503);
  await h.container.db.sql.query("ALTER TABLE notifications_away RENAME TO notifications", []);
  // …and the dispatcher delivering what was queued once the Retry-After has passed.
  now += 2_000;
  expect((await h.container.dispatcher.pass()).delivered).toBe(2);
  const res = await h.http.get("/metrics").set("authorization", `Bearer ${OPERATOR}`).expect(200);
  scrape = parseScrape(res.text);
});
afterAll(() => h.close());

const alerts = ruleExpressions(readFileSync(join(ROOT, "deploy/prometheus/alerts.yml"), "utf8"));
const panels = dashboardExpressions(JSON.parse(readFileSync(join(ROOT, "deploy/grafana/relay.json"), "utf8")));

describe("the queries shipped in deploy/", () => {
  it("are found: one per alert rule, every panel's", () => {
    expect(alerts).toHaveLength(8);
    expect(panels.length).toBeGreaterThanOrEqual(20);
    expect(selectors('sum by (job) (rate(a_total{x="1", y=~"p|q"}[5m])) / on (job) b > bool 0 and c')).toEqual([
      {
        name: "a_total",
        matchers: [
          { label: "x", op: "=", value: "1" },
          { label: "y", op: "=~", value: "p|q" },
        ],
      },
      { name: "b", matchers: [] },
      { name: "c", matchers: [] },
    ]);
  });

  for (const [where, expressions] of [
    ["alerts.yml", alerts],
    ["relay.json", panels],
  ] as const) {
    it(`read only metrics, labels and label values a relay serves (${where})`, () => {
      const problems: string[] = [];
      for (const expr of expressions) {
        const found = selectors(expr).filter((s) => s.name !== "up");
        if (found.length === 0 && !/\bup\b/.test(expr)) problems.push(`${expr}: names no metric`);
        for (const { name, matchers } of found) {
          const family = familyOf(scrape, name);
          const samples = scrape.samples.filter((s) => s.name === name);
          if (!family || samples.length === 0) {
            problems.push(`${name}: not in the relay's /metrics (${expr})`);
            continue;
          }
          // job and instance are Prometheus's own; every other matcher must select a series.
          for (const m of matchers.filter((x) => x.label !== "job" && x.label !== "instance")) {
            const values = samples.map((s) => s.labels[m.label]).filter((v) => v !== undefined);
            const matches = (v: string) =>
              m.op === "=" ? v === m.value : m.op === "=~" ? new RegExp(`^(?:${m.value})$`).test(v) : true;
            if (values.length === 0) problems.push(`${name} has no label ${m.label} (${expr})`);
            else if (!values.some(matches))
              problems.push(`${name}{${m.label}${m.op}"${m.value}"} selects no series (${expr})`);
          }
        }
      }
      expect(problems).toEqual([]);
    });
  }
});
