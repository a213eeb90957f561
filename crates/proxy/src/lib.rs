//! ferrohub-proxy: a reverse proxy with configurable-http-proxy's REST API.
