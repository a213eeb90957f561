//! Conformance suite: the same scenarios against configurable-http-proxy
//! (CHP) 5.3.0, the reference, and against `ferrohub-proxy`, asserting the
//! observable behaviour (status codes, headers, bodies, exit codes) written
//! down in `research/proxy-spec.md` §2–§8 and §11.
//!
//! Every scenario is an `async fn(Impl)` in `tests/conformance/`; the
//! `scenarios!` list below turns each into two tests,
//! `<group>::<scenario>::chp` and `<group>::<scenario>::ferrohub`. Each test
//! starts its own proxy process(es) on free 127.0.0.1 ports with the API
//! token `secret`, and its own backends, so tests run in parallel.
//!
//! Expected values are CHP's (a scenario that fails on `::chp` is a wrong
//! test). Where ferrohub-proxy deliberately differs (list at the top of
//! `src/lib.rs`: hop-by-hop request headers, `--port 0`,
//! `--no-include-prefix` slicing, ...) the detail is left out for both.
//! Header names are compared case-insensitively (CHP lower-cases them);
//! where CHP's output is a quirk with an equivalent meaning (`:443` in a
//! redirect) both forms are accepted, with a comment. Table-driven
//! scenarios collect every mismatch before failing (`harness::Checks`), so
//! a report lists all differences, not just the first.
//!
//! Needs: node with CHP in `/opt/ferrohub/chp` (or `$FERROHUB_CHP`),
//! installed by `scripts/setup.sh` — without it every `::chp` test fails
//! with that hint; `openssl` and `curl` for the TLS scenarios.
//!
//! Run:
//!
//! ```text
//! export CARGO_TARGET_DIR=/work/.cargo-target
//! cargo nextest run -p ferrohub-proxy --test chp_conformance
//! cargo nextest run -p ferrohub-proxy --test chp_conformance ferrohub   # one side
//! cargo nextest run -p ferrohub-proxy --test chp_conformance api::      # one group
//! ```

mod conformance;
mod support;

/// `group { scenario, ... }` → `mod group { mod scenario { fn chp; fn ferrohub } }`.
macro_rules! scenarios {
    ($($group:ident { $($name:ident),* $(,)? })*) => {
        $(mod $group {
            $(mod $name {
                use crate::conformance::harness::Impl;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn chp() {
                    crate::conformance::$group::$name(Impl::Chp).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn ferrohub() {
                    crate::conformance::$group::$name(Impl::Ferrohub).await;
                }
            })*
        })*
    };
}

scenarios! {
    api {
        auth,
        open_without_token,
        not_found_and_bad_method,
        table,
        post,
        post_errors,
        key_normalisation,
        delete,
        inactive_since,
    }
    routing {
        health_check,
        longest_prefix,
        empty_segments,
        percent_decoded_matching,
        dot_segments,
        undecodable_path,
        unusable_target,
    }
    forwarding {
        url_default,
        url_no_include_prefix,
        url_no_prepend_path,
        url_no_prefix_no_prepend,
        x_forwarded,
        no_x_forward,
        request_headers,
        delete_gets_content_length,
        request_body_streaming,
        response_passthrough,
        last_activity_rules,
    }
    websocket {
        echo,
        errors,
        bad_upgrades,
    }
    errors {
        builtin_pages,
        error_path,
        error_path_missing_files,
        error_target,
        error_target_unreachable,
        generated_response_headers,
    }
    flags {
        default_target,
        keep_alive_timeout,
        custom_header,
        host_routing,
        change_origin,
        location_untouched,
        auto_and_protocol_rewrite,
        auto_rewrite_only,
        proxy_timeout,
        client_timeout,
    }
    process {
        pid_file_and_sigterm,
        sigint,
        custom_header_invalid,
        storage_backend_unknown,
        redirect_needs_tls,
        both_error_flags,
    }
    tls {
        https_public,
        redirect_port,
        redirect_to,
        https_targets,
        api_tls,
    }
    unix {
        public_socket,
        socket_targets,
        all_sockets,
    }
    metrics {
        metrics,
    }
}
