//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tributary API",
        description = "Markets × COVID statistics, the mobile clusters, and the pipeline's state. Errors are application/problem+json."
    ),
    paths(
        crate::routes::ops::healthz,
        crate::routes::ops::readyz,
        crate::routes::ops::metrics,
        crate::routes::ops::openapi,
        crate::routes::events::events,
        crate::routes::ingest::records,
        crate::routes::import::import,
        crate::routes::status::pipeline,
        crate::routes::pipeline::views,
        crate::routes::pipeline::dead_letters,
        crate::routes::mobile::latest,
        crate::routes::mobile::history,
        crate::routes::mobile::recent,
        crate::routes::suggest_k::suggest,
        crate::routes::regions::assign,
        crate::routes::regions::counts,
        crate::routes::markets::catalogue,
        crate::routes::markets::series,
        crate::routes::markets::aligned,
        crate::routes::markets::correlations,
        crate::routes::markets::strongest,
        crate::routes::markets::rolling,
    ),
    components(schemas(crate::Problem))
)]
struct Document;

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    Document::openapi()
}
