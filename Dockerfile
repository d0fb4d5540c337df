# LLM Provider Service: one image for `serve` (API), `worker` and `db upgrade`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LLM_PROVIDER_HOST=0.0.0.0 \
    LLM_PROVIDER_PORT=8000 \
    LLM_PROVIDER_DATA_DIR=/var/lib/llm-provider

RUN groupadd --system --gid 10001 llm \
    && useradd --system --uid 10001 --gid llm --home-dir /app --shell /usr/sbin/nologin llm

WORKDIR /app

# Pinned, hash-checked runtime dependencies first (a layer that changes only with the lock file): the dev group
# (test, lint, type and load tools) is not in requirements-runtime.lock (`make lock` writes both).
COPY requirements-runtime.lock ./
RUN pip install --require-hashes -r requirements-runtime.lock

# Then the package itself, without resolving anything again.
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-deps . \
    && mkdir -p /var/lib/llm-provider \
    && chown llm:llm /var/lib/llm-provider

USER llm
EXPOSE 8000

# No HEALTHCHECK here: `worker` serves no HTTP. compose.yaml checks the API on /readyz.
ENTRYPOINT ["llm-provider"]
CMD ["serve"]
