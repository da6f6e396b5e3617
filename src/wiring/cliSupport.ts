import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/** A flag in `--help`: its name, what it takes, and what it does. */
export interface FlagHelp {
  flag: string;
  arg?: string;
  help: string;
}

export function usage(command: string, summary: string, flags: readonly FlagHelp[]): string {
  const width = Math.max(...flags.map((f) => `--${f.flag}${f.arg ? ` ${f.arg}` : ""}`.length));
  const lines = flags.map((f) => `  ${`--${f.flag}${f.arg ? ` ${f.arg}` : ""}`.padEnd(width)}  ${f.help}`);
  return `${command}\n${summary}\n\n${lines.join("\n")}\n`;
}

/**
 * parseArgs for a CLI entry point: prints the usage and exits 0 on --help, prints one line and
 * exits 2 on a flag it does not know, so that a typo never ends in a stack trace.
 */
export function parseCli<T extends ParseArgsOptionsConfig>(options: T, help: string) {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(help);
    process.exit(0);
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    return fail(`${(error as Error).message} (see --help)`, 2);
  }
}

/** One line on stderr and the exit code: the CLIs' way to refuse, never a stack. */
export function fail(line: string, code = 1): never {
  process.stderr.write(`${line}\n`);
  process.exit(code);
}

/** The one line for a server that could not listen (a busy port, mostly). */
export function listenFailure(error: unknown, what: string, port: number): string {
  const code = (error as { code?: string }).code;
  if (code === "EADDRINUSE") return `${what}: port ${port} is already in use (pick another with --port)`;
  if (code === "EACCES") return `${what}: not allowed to listen on port ${port}`;
  return `${what}: could not listen on port ${port}: ${(error as Error).message}`;
}

/** A whole number ≥ min from a flag, or a one-line refusal. */
export function intFlag(name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) fail(`--${name} must be a whole number ≥ ${min}, not "${value}"`, 2);
  return Number(value);
}
