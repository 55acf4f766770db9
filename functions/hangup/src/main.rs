//! Lambda function `hangup`: wiring only; the handler is `shared::handlers::hangup`.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let svc = shared::lambda::service().await?;
    run(service_fn(|req| shared::handlers::hangup(&svc, req))).await
}
