# Sluice — container image.
#   docker build -t sluice .
#   docker run -v "$PWD/conf/docker/sluice.yaml:/etc/sluice/sluice.yaml:ro" -v sluice-state:/var/lib/sluice \
#     -p 8066:8066 -p 9066:9066 -p 9067:9067 sluice
# docker-compose.yml builds and runs it next to a MySQL 8.4 primary + 2 replicas.

# ---- build: full Node 20 image (compilers for any native module), dev dependencies for tsc ----
FROM node:20 AS build
WORKDIR /app
# Dependencies first: this layer is reused as long as the lock file does not change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev

# ---- runtime: slim Node 20, production dependencies and dist/ only ----
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# dist/ reads ../../package.json (version shown by the admin port).
COPY package.json ./
# Writable state (the dnindex file: which writeHost is active). Created owned by "node", so a
# fresh named volume mounted here is writable by the unprivileged user as well.
RUN mkdir -p /var/lib/sluice /etc/sluice && chown node:node /var/lib/sluice
VOLUME ["/var/lib/sluice"]
USER node
# 8066 MySQL protocol (clients), 9066 admin SQL, 9067 HTTP (/health, /metrics, status page)
EXPOSE 8066 9066 9067
# The slim image has no curl/wget: Node's own fetch checks GET /health (200 = healthy).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9067/health').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]
# Node runs as PID 1 and stops cleanly on SIGTERM (docker stop).
ENTRYPOINT ["node", "dist/main.js"]
CMD ["start", "--config", "/etc/sluice/sluice.yaml"]
