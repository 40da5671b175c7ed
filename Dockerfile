# One image for the worker and the API (docker-compose.yml picks the command).
FROM node:24-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts=false && npm install --no-save ts-node typescript
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY examples ./examples
# Workflow code bundled once at build time: workers start polling without running webpack.
RUN node bin/erasure.js bundle-workflows --out /app/.build/workflow-bundle.js
ENV NODE_ENV=production HOST=0.0.0.0 WORKFLOW_BUNDLE=/app/.build/workflow-bundle.js
EXPOSE 3000
CMD ["node", "-r", "ts-node/register/transpile-only", "src/api/main.ts"]
