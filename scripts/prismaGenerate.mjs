// Runs `prisma generate` after install. Prisma 7 only needs its schema engine for migrations,
// but the CLI still checks for the native binary; where that binary cannot be downloaded
// (air-gapped builds, CI without Prisma's binaries host) any executable satisfies the check.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
  const fallback = ["/usr/bin/true", "/bin/true"].find((p) => existsSync(p));
  if (fallback) env.PRISMA_SCHEMA_ENGINE_BINARY = fallback;
}
const result = spawnSync("prisma", ["generate"], { stdio: "inherit", env, shell: process.platform === "win32" });
process.exit(result.status ?? 1);
