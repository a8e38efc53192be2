# DirectorDeck API / worker image. One image runs every role (the command picks it):
#   API:     uvicorn api.main:create_app --factory --host 0.0.0.0 --port 8000   (the default CMD)
#   worker:  directordeck worker --pool cpu|tts|gpu-image|gpu-video
#   one-off: directordeck migrate ; directordeck search-attributes
# Targets: `runtime` -> directordeck:latest (offline providers, FFmpeg/Piper from wheels);
#          `gpu`     -> directordeck-gpu:latest (adds the diffusers/torch extra for the GPU pools).
# Kept consistent with docker-compose.yml and infra/deploy/ by tests/deploy/test_manifests.py.
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DIRECTORDECK_DATA_DIR=/var/lib/directordeck \
    DIRECTORDECK_API_HOST=0.0.0.0 \
    DIRECTORDECK_API_PORT=8000

WORKDIR /app
COPY pyproject.toml README.md ./
COPY activities ./activities
COPY agent ./agent
COPY api ./api
COPY infra ./infra
COPY launch ./launch
COPY migrations ./migrations
COPY schema ./schema
COPY services ./services
COPY workers ./workers
COPY workflows ./workflows
RUN pip install . \
 && useradd --create-home --uid 10001 directordeck \
 && mkdir -p /var/lib/directordeck \
 && chown directordeck /var/lib/directordeck

USER directordeck
EXPOSE 8000
CMD ["uvicorn", "api.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]


FROM runtime AS gpu
USER root
RUN pip install '.[gpu]'
USER directordeck
