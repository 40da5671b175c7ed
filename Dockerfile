# One image for the worker and the API (docker-compose.yml picks the command).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts=false && npm install --no-save ts-node typescript
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY examples ./examples
ENV NODE_ENV=production HOST=0.0.0.0
EXPOSE 3000
CMD ["node", "-r", "ts-node/register/transpile-only", "src/api/main.ts"]
