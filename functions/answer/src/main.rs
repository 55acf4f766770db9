//! Lambda function `answer`: wiring only; the handler is `shared::handlers::answer`.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let svc = shared::lambda::service().await?;
    run(service_fn(|req| shared::handlers::answer(&svc, req))).await
}
