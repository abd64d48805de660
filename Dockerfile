# The changecast worker. Build: docker build -t changecast .   Run: see docker-compose.yml / docs/example.md
# Two stages: `build` installs every dependency from the lock file and compiles src/ to dist/ (npm ci runs the
# `prepare` script, which builds), then drops the dev dependencies; the runtime stage holds dist/ and the
# production dependencies only and runs as the unprivileged `node` user.
# scripts/docker-steps.sh runs these very steps without Docker (CI has no Docker engine): keep them plain.
FROM node:24-bookworm-slim AS build
WORKDIR /app
# python3, make and g++ build native addons (better-sqlite3, lz4-napi) where no prebuilt binary can be fetched
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts/ensure-ready.mjs ./scripts/
COPY bin ./bin
COPY src ./src
RUN npm ci --no-audit --no-fund --loglevel=error
RUN npm prune --omit=dev --no-audit --no-fund --loglevel=error

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY schemas ./schemas
COPY transforms ./transforms
COPY connectors ./connectors
COPY captures ./captures
COPY changecast.yaml changecast.oracle.yaml changecast.sink.yaml ./
RUN mkdir -p .changecast && chown node:node .changecast
USER node
ENTRYPOINT ["node", "bin/changecast.js"]
CMD ["run", "--config", "changecast.yaml"]
