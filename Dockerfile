# One image for every faultlab service; the command picks the service:
#   docker run faultlab serve orders | serve inventory --replica 2 | serve monitor | serve voter | serve dashboard
# Addresses and credentials come only from FAULTLAB_* variables (docs/deploy.md); nothing is baked in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /var/lib/faultlab --create-home faultlab

USER 10001
WORKDIR /var/lib/faultlab
# In a container a service must listen on its interface, not on loopback; the lab folder is the user's home.
ENV FAULTLAB_HOST=0.0.0.0 \
    FAULTLAB_HOME=/var/lib/faultlab \
    FAULTLAB_RUNS_DIR=/var/lib/faultlab/runs

EXPOSE 5001 5002 5003 5004 5005 5006 5007
ENTRYPOINT ["faultlab"]
CMD ["--help"]
