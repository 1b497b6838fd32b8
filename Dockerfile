# syntax=docker/dockerfile:1
# Portcullis container image: Node.js 26 (the current LTS) on Debian trixie, slim.
#   docker build -t portcullis .
#   docker run --read-only -v /path/to/config:/etc/portcullis:ro -p 8080:8080 portcullis
# The config is read from /etc/portcullis/portcullis.yaml (policies_dir resolves next to it).

ARG NODE_IMAGE=node:26-trixie-slim

# 1. build: dev dependencies + TypeScript → dist/
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `prepare` would run tsc before the sources are here; the build step below runs it instead
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npx tsc -p .

# 2. production dependencies only (no dev tools, no oidc-provider, no tsc)
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. runtime
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    PORTCULLIS_CONFIG=/etc/portcullis/portcullis.yaml
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
# nothing is written at run time outside /tmp: the image works with a read-only root filesystem
# (mount an emptyDir/tmpfs on /tmp). Numeric ids so Kubernetes' runAsNonRoot can verify them.
USER 1000:1000
EXPOSE 8080 9090
# the admin port answers /healthz while the process is alive (admin_listen must be on port 9090,
# any address; the default 127.0.0.1:9090 works); slim images have no curl
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node is PID 1 (no npm, no shell): SIGTERM reaches the gateway, which drains and exits 0
# --no-memory-reducer: V8's idle-time heap shrinking left the request path ~12 % slower for as
# long as we measured after each idle spell (docs/operations.md, "Runtime flags"); the memory it
# handed back early (~16 MB a minute after load, in that measurement) was not worth that
ENTRYPOINT ["node", "--no-memory-reducer", "dist/src/main.js"]
CMD ["serve"]
