# syntax=docker/dockerfile:1
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
# The image has Node 24 already; the `node` devDependency is for machines that do not.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production PORT=8080
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json prisma.config.ts tsconfig.json ./
COPY prisma ./prisma
COPY schemas ./schemas
COPY src ./src
COPY --from=deps /app/src/generated ./src/generated
USER node
EXPOSE 8080
# Pending migrations are applied at start, under a database lock (safe with many instances).
CMD ["node", "src/main.ts"]
