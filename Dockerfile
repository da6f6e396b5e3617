# syntax=docker/dockerfile:1
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
# The image has Node 24 already; the `node` devDependency is for machines that do not.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-slim
# tini as PID 1: signals reach Node, zombies are reaped (the relay also handles SIGTERM itself,
# from its first moment, for platforms that run it without an init, like Cloud Run).
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production PORT=8080
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json prisma.config.ts tsconfig.json ./
COPY prisma ./prisma
COPY schemas ./schemas
COPY examples ./examples
COPY src ./src
COPY --from=deps /app/src/generated ./src/generated
# Tests are not shipped (.dockerignore leaves out test/ and every *.test.ts).
USER node
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--"]
# Pending migrations are applied at start, under a database lock (safe with many instances).
# To migrate with a role of its own instead: run `node src/bin/migrate.ts` as a job with
# MIGRATE_DATABASE_URL, and start the service with MIGRATE_ON_START=false.
CMD ["node", "--max-semi-space-size=16", "src/bin/relay.ts"]
