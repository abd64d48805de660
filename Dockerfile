# The changecast worker. Build: docker build -t changecast .   Run: see docker-compose.yml / docs/example.md
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# dependencies first (cached layer); tsx (devDependency) runs the TypeScript CLI, see bin/changecast.js
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error --include=dev
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY schemas ./schemas
COPY transforms ./transforms
COPY connectors ./connectors
COPY changecast.yaml changecast.oracle.yaml ./
RUN mkdir -p .changecast && chown node:node .changecast
USER node
ENTRYPOINT ["node", "bin/changecast.js"]
CMD ["run", "--config", "changecast.yaml"]
