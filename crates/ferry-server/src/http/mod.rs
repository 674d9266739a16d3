//! The HTTP API: short handlers that parse parameters, call the node and map the result.

mod authorizations;
mod buckets;
mod dbrps;
mod delete;
mod export;
mod extract;
mod flux;
mod json;
mod orgs;
mod query;
mod remotes;
mod replications;
mod setup;
mod status_page;
mod system;
mod tasks;
mod worker;
mod write;

pub use status_page::StatusReport;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;

pub use crate::app::AppState;

/// The node's routes.
pub fn router(node: AppState) -> Router {
    Router::new()
        .route("/", get(status_page::page))
        .route("/ui/status.js", get(status_page::script))
        .route("/ui/status.css", get(status_page::style))
        .route("/ping", get(system::ping).head(system::ping))
        .route("/health", get(system::health))
        .route("/ready", get(system::ready))
        .route("/metrics", get(system::metrics))
        .route(
            "/write",
            post(write::write_v1).layer(from_fn_with_state(node.clone(), write::count_v1)),
        )
        .route(
            "/query",
            get(query::query)
                .post(query::query)
                .layer(from_fn_with_state(node.clone(), query::count_influxql)),
        )
        .route(
            "/api/v2/write",
            post(write::write_v2).layer(from_fn_with_state(node.clone(), write::count_v2)),
        )
        .route(
            "/api/v2/query",
            post(flux::query).layer(from_fn_with_state(node.clone(), query::count_flux)),
        )
        .route("/api/v2/delete", post(delete::delete))
        .route("/api/v2/setup", get(setup::allowed).post(setup::setup))
        .route("/api/v2/orgs", get(orgs::list).post(orgs::create))
        .route(
            "/api/v2/orgs/{id}",
            get(orgs::get_one).patch(orgs::update).delete(orgs::delete),
        )
        .route("/api/v2/buckets", get(buckets::list).post(buckets::create))
        .route(
            "/api/v2/buckets/{id}",
            get(buckets::get_one)
                .patch(buckets::update)
                .delete(buckets::delete),
        )
        .route("/api/v2/dbrps", get(dbrps::list).post(dbrps::create))
        .route(
            "/api/v2/dbrps/{id}",
            get(dbrps::get_one)
                .patch(dbrps::update)
                .delete(dbrps::delete),
        )
        .route(
            "/api/v2/authorizations",
            get(authorizations::list).post(authorizations::create),
        )
        .route(
            "/api/v2/authorizations/{id}",
            get(authorizations::get_one)
                .patch(authorizations::update)
                .delete(authorizations::delete),
        )
        .route("/api/v2/remotes", get(remotes::list).post(remotes::create))
        .route(
            "/api/v2/remotes/{id}",
            get(remotes::get_one)
                .patch(remotes::update)
                .delete(remotes::delete),
        )
        .route(
            "/api/v2/replications",
            get(replications::list).post(replications::create),
        )
        .route(
            "/api/v2/replications/{id}",
            get(replications::get_one)
                .patch(replications::update)
                .delete(replications::delete),
        )
        .route(
            "/api/v2/replications/{id}/validate",
            post(replications::validate),
        )
        .route("/api/v2/replications/{id}/pause", post(replications::pause))
        .route(
            "/api/v2/replications/{id}/resume",
            post(replications::resume),
        )
        .route("/api/v2/tasks", get(tasks::list).post(tasks::create))
        .route(
            "/api/v2/tasks/{id}",
            get(tasks::get_one)
                .patch(tasks::update)
                .delete(tasks::delete),
        )
        .route(
            "/api/v2/tasks/{id}/runs",
            get(tasks::runs).post(tasks::run_now),
        )
        .route("/api/v2/tasks/{id}/logs", get(tasks::logs))
        .route(
            "/api/v2/orgs/{id}/secrets",
            get(tasks::secret_list).patch(tasks::secret_put),
        )
        .route(
            "/api/v2/orgs/{id}/secrets/delete",
            post(tasks::secret_delete_many),
        )
        .route(
            "/api/v2/orgs/{id}/secrets/{key}",
            axum::routing::delete(tasks::secret_delete),
        )
        .route("/api/ferry/v1/export", get(export::export))
        .route(
            "/api/ferry/v1/status",
            get(status_page::status::<crate::app::App>),
        )
        .fallback(system::not_found)
        // bodies are read by `body::read_body` with the node's own limit
        .layer(DefaultBodyLimit::disable())
        .with_state(node)
}
