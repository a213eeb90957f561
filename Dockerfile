# The hub's image: ferrohub and ferrohub-proxy on Debian bookworm, running
# as an unprivileged user (uid 10001). Servers run elsewhere: DockerSpawner
# (mount the Docker socket and add its group: `--group-add <gid>`),
# SlurmSpawner, or any spawner that does not need root in the hub's
# container. LocalProcessSpawner and PAM need root: `--user root`.
#
#   docker build -t ferrohub .                          # builds from source
#   docker run -p 8000:8000 -v ./ferrohub.toml:/etc/ferrohub/ferrohub.toml:ro ferrohub
#
# Binaries built elsewhere (CI, a release archive) go in with the
# `prebuilt` target: PREBUILT names the directory in the build context that
# holds ferrohub and ferrohub-proxy.
#
#   docker build --target prebuilt --build-arg PREBUILT=target/release -t ferrohub .
#
# See docs/docker.md.

ARG DEBIAN_IMAGE=debian:bookworm-slim
ARG RUST_IMAGE=rust:1.94-slim-bookworm

# What both ways share: the runtime, the account, the directories.
FROM ${DEBIAN_IMAGE} AS base
# CA certificates for OAuth and LDAP over TLS (slim images lack them).
RUN if [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then \
        apt-get update && \
        apt-get install -y --no-install-recommends ca-certificates && \
        rm -rf /var/lib/apt/lists/*; \
    fi
# The working directory holds the database and the cookie secret: a volume.
RUN install -d -o 10001 -g 10001 -m 0750 /srv/ferrohub && \
    install -d -m 0755 /etc/ferrohub
WORKDIR /srv/ferrohub
VOLUME /srv/ferrohub
ENV HOME=/srv/ferrohub
EXPOSE 8000
USER 10001:10001
# The configuration is mounted at /etc/ferrohub/ferrohub.toml; arguments
# given to `docker run` replace this (`--JupyterHub.bind_url=...`, or
# `-f /other/file`).
ENTRYPOINT ["/usr/local/bin/ferrohub"]
CMD ["-f", "/etc/ferrohub/ferrohub.toml"]

# Binaries from the build context.
FROM base AS prebuilt
ARG PREBUILT=target/release
COPY ${PREBUILT}/ferrohub ${PREBUILT}/ferrohub-proxy /usr/local/bin/

# Building from source.
FROM ${RUST_IMAGE} AS build
RUN apt-get update && \
    apt-get install -y --no-install-recommends libpam0g-dev && \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ferrohub -p ferrohub-proxy

# The default image: the runtime with the binaries just built.
FROM base
COPY --from=build /src/target/release/ferrohub /src/target/release/ferrohub-proxy /usr/local/bin/
