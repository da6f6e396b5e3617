import { defineConfig } from "prisma/config";

// DATABASE_URL is only read by Prisma's own CLI (`prisma migrate deploy`); the relay builds its
// client from src/config/config.ts.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost:5432/relay" },
});
